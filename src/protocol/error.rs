//! The errors of the protocol core, one variant per rule, each knowing its answer on the wire.
//!
//! - [`ProtocolError`]: something a peer sent after the opening handshake broke a rule of
//!   RFC 6455 §5–§8. Its answer is a Close frame with [`ProtocolError::close_code`] (§7.4.1),
//!   after which the connection is failed (§7.1.7).
//! - [`HandshakeError`]: the client's opening handshake (§4.2.1) broke a rule. Its answer is
//!   an HTTP status ([`HandshakeError::status`]) with the error's `Display` as a one-line body
//!   ([`super::http::error_response`]).

use std::borrow::Cow;
use std::fmt;

use super::close_code::CloseCode;

/// A rule of RFC 6455 that the peer broke after the opening handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// §5.1: "a client MUST mask all frames that it sends to the server"; the server "MUST close
    /// the connection upon receiving a frame that is not masked".
    UnmaskedFrame,
    /// §5.1: "A client MUST close a connection if it detects a masked frame" from the server.
    MaskedFrame,
    /// §5.2: RSV1–3 "MUST be 0 unless an extension is negotiated that defines meanings".
    ReservedBitsSet,
    /// §5.2: opcodes 0x3–0x7 and 0xB–0xF are reserved; receiving one fails the connection.
    ReservedOpcode(u8),
    /// §5.2: "the most significant bit MUST be 0" of a 64-bit payload length.
    InvalidLength,
    /// §5.5: "All control frames MUST NOT be fragmented."
    FragmentedControlFrame,
    /// §5.5: "All control frames MUST have a payload length of 125 bytes or less."
    ControlFrameTooLong(u64),
    /// §5.4: a continuation frame arrived while no fragmented message was in progress.
    UnexpectedContinuation,
    /// §5.4: a new Text or Binary frame arrived before the fragmented message before it ended.
    ExpectedContinuation,
    /// §5.5.1: a Close payload of exactly one byte (a code needs two).
    CloseCodeTruncated,
    /// §7.4: a close code that must never appear on the wire (1004–1006, 1015, below 1000,
    /// 1016–2999 unassigned, 5000 and up).
    InvalidCloseCode(u16),
    /// §8.1: a Text message that is not valid UTF-8; answered with 1007.
    InvalidUtf8,
    /// §5.5.1: a Close frame's reason that is not valid UTF-8; answered with 1007.
    InvalidCloseReason,
    /// §10.4: a single frame announced a payload over the configured frame limit.
    FrameTooBig {
        /// The payload length the frame header announced.
        size: u64,
        /// The configured limit (`--max-frame-size`).
        limit: u64,
    },
    /// §10.4: a message (all its fragments together) grew over the configured message limit.
    MessageTooBig {
        /// The size the message would have reached.
        size: u64,
        /// The configured limit (`--max-message-size`).
        limit: u64,
    },
    /// §10.4: a fragmented message used more fragments than the configured limit.
    TooManyFragments {
        /// The configured limit (`--max-fragments`).
        limit: usize,
    },
    /// RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
    /// frames and non-first fragments of a data message. An endpoint receiving such a frame
    /// MUST _Fail the WebSocket Connection_."
    CompressedBitMisplaced,
    /// RFC 7692 §6.2: a compressed message whose payload is not a valid DEFLATE stream.
    InvalidCompressedData,
    /// §10.4: the incomplete messages of every connection together would hold more than the
    /// server-wide budget. Not this message's fault alone, and temporary: answered with 1013
    /// Try Again Later, where 1009 would say that the message itself is too big.
    BufferBudgetExhausted {
        /// What the budget would have held with this growth.
        size: u64,
        /// The configured budget (`--max-buffered-bytes`).
        limit: u64,
    },
}

impl ProtocolError {
    /// The status code of the Close frame that answers this error (§7.4.1).
    ///
    /// 1002 for framing rules, 1007 for data inconsistent with its type (bad UTF-8), 1009 for
    /// anything too big to process, 1008 for a policy limit that is not about size, 1013 when
    /// the server-wide budget of incomplete messages is spent.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::InvalidCompressedData => {
                CloseCode::INVALID_DATA
            }
            Self::FrameTooBig { .. } | Self::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::TooManyFragments { .. } => CloseCode::POLICY_VIOLATION,
            Self::BufferBudgetExhausted { .. } => CloseCode::TRY_AGAIN_LATER,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The rule this error enforces, quoted from RFC 6455 with its section (`§5.1: a client
    /// MUST mask all frames that it sends to the server`), for close records, the Lab and the
    /// Inspector.
    pub fn rule(&self) -> String {
        format!("{}: {}", self.section(), self.requirement())
    }

    /// [`ProtocolError::rule`] without its section: the requirement in the RFC's words, with
    /// the value that broke it where there is one (`reserved opcode 0x3: ...`).
    pub fn requirement(&self) -> Cow<'static, str> {
        let text = match self {
            Self::UnmaskedFrame => "a client MUST mask all frames that it sends to the server",
            Self::MaskedFrame => "a server MUST NOT mask any frames that it sends to the client",
            Self::ReservedBitsSet => {
                "RSV bits set without a negotiated extension that defines them MUST \
                 _Fail the WebSocket Connection_"
            }
            Self::ReservedOpcode(opcode) => {
                return Cow::Owned(format!(
                    "reserved opcode {opcode:#x}: an unknown opcode MUST _Fail the WebSocket \
                     Connection_"
                ))
            }
            Self::InvalidLength => "the most significant bit of a 64-bit length MUST be 0",
            Self::FragmentedControlFrame => "control frames MUST NOT be fragmented",
            Self::ControlFrameTooLong(_) => {
                "control frames MUST have a payload length of 125 bytes or less"
            }
            Self::UnexpectedContinuation => {
                "a continuation frame MUST follow a first fragment whose FIN bit is clear"
            }
            Self::ExpectedContinuation => {
                "fragments of one message MUST NOT be interleaved with another message"
            }
            Self::CloseCodeTruncated => "a Close body MUST start with a 2-byte status code",
            Self::InvalidCloseCode(_) => "only defined or registered status codes may be sent",
            Self::InvalidUtf8 => {
                "text that is not valid UTF-8 MUST _Fail the WebSocket Connection_"
            }
            Self::InvalidCloseReason => "the close reason MUST be UTF-8",
            Self::FrameTooBig { .. } => "frames are limited in size (--max-frame-size)",
            Self::MessageTooBig { .. } => "messages are limited in size (--max-message-size)",
            Self::TooManyFragments { .. } => "messages are limited in fragments (--max-fragments)",
            Self::CompressedBitMisplaced => {
                "RSV1 MUST NOT be set on control frames or non-first fragments"
            }
            Self::InvalidCompressedData => "a compressed message MUST be a valid DEFLATE stream",
            Self::BufferBudgetExhausted { .. } => {
                "incomplete messages together are limited in size (--max-buffered-bytes)"
            }
        };
        Cow::Borrowed(text)
    }

    /// For a limit error: the limit and the value that went over it.
    pub fn limit(&self) -> Option<(u64, u64)> {
        match *self {
            Self::FrameTooBig { size, limit }
            | Self::MessageTooBig { size, limit }
            | Self::BufferBudgetExhausted { size, limit } => Some((limit, size)),
            Self::TooManyFragments { limit } => Some((limit as u64, limit as u64 + 1)),
            _ => None,
        }
    }

    /// The section of RFC 6455 whose rule this error enforces, for logs and close records.
    pub fn section(&self) -> &'static str {
        match self {
            Self::UnmaskedFrame | Self::MaskedFrame => "§5.1",
            Self::ReservedBitsSet | Self::ReservedOpcode(_) | Self::InvalidLength => "§5.2",
            Self::FragmentedControlFrame | Self::ControlFrameTooLong(_) => "§5.5",
            Self::UnexpectedContinuation | Self::ExpectedContinuation => "§5.4",
            Self::CloseCodeTruncated | Self::InvalidCloseReason => "§5.5.1",
            Self::InvalidCloseCode(_) => "§7.4",
            Self::InvalidUtf8 => "§8.1",
            Self::FrameTooBig { .. }
            | Self::MessageTooBig { .. }
            | Self::TooManyFragments { .. }
            | Self::BufferBudgetExhausted { .. } => "§10.4",
            Self::CompressedBitMisplaced => "RFC 7692 §6",
            Self::InvalidCompressedData => "RFC 7692 §6.2",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnmaskedFrame => f.write_str("a client must mask every frame"),
            Self::MaskedFrame => f.write_str("a server must not mask any frame"),
            Self::ReservedBitsSet => f.write_str("reserved bits set without an extension"),
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::InvalidLength => f.write_str("64-bit payload length with the top bit set"),
            Self::FragmentedControlFrame => f.write_str("control frames must not be fragmented"),
            Self::ControlFrameTooLong(len) => {
                write!(f, "control frame payload of {len} bytes is over 125")
            }
            Self::UnexpectedContinuation => {
                f.write_str("continuation frame without a message to continue")
            }
            Self::ExpectedContinuation => {
                f.write_str("new data frame before the fragmented message ended")
            }
            Self::CloseCodeTruncated => f.write_str("close payload of one byte"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} is not allowed"),
            Self::InvalidUtf8 => f.write_str("invalid utf-8 in a text message"),
            Self::InvalidCloseReason => f.write_str("close reason is not valid utf-8"),
            Self::FrameTooBig { size, limit } => {
                write!(f, "frame of {size} bytes is over the limit of {limit}")
            }
            Self::MessageTooBig { size, limit } => {
                write!(f, "message of {size} bytes is over the limit of {limit}")
            }
            Self::TooManyFragments { limit } => {
                write!(f, "message has more than {limit} fragments")
            }
            Self::CompressedBitMisplaced => {
                f.write_str("rsv1 set on a control frame or a continuation frame")
            }
            Self::InvalidCompressedData => f.write_str("compressed payload is not valid deflate"),
            Self::BufferBudgetExhausted { size, limit } => write!(
                f,
                "incomplete messages would hold {size} bytes, over the server's {limit}"
            ),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A rule of the opening handshake (§4.2.1, §4.2.2) or of the HTTP/1.1 request head around it
/// that the client's request broke, each with its HTTP status.
///
/// Only the request's own faults are here. The server's policy (a connection limit, shutting
/// down, which paths have endpoints, how long a head may take) is the server's to say, in its
/// own refusal type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The bytes are not an HTTP/1.1 request head (httparse said so).
    MalformedRequest(&'static str),
    /// §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    MethodNotGet,
    /// §4.2.1 item 1: the request must be HTTP/1.1 or higher.
    HttpVersionTooOld,
    /// §4.2.1 item 2: "A |Host| header field containing the server's authority."
    MissingHost,
    /// §4.2.1 item 3: "An |Upgrade| header field containing the value "websocket"".
    MissingUpgrade,
    /// §4.2.1 item 4: "A |Connection| header field that includes the token "Upgrade"".
    MissingConnectionUpgrade,
    /// §4.2.1 item 5: a `Sec-WebSocket-Key` that base64-decodes to 16 bytes.
    InvalidKey,
    /// §4.2.1 item 6 and §4.4: only version 13 is spoken; answered `426 Upgrade Required`.
    UnsupportedVersion,
    /// §4.2.2 (10.2): the `Origin` is not one this server accepts.
    ForbiddenOrigin,
    /// The request head is larger than the configured limit.
    HeadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The request head has more header fields than the configured limit.
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// RFC 9112 §6.1: both `Content-Length` and `Transfer-Encoding`. "A server MAY reject a
    /// request that contains both [...] Regardless, the server MUST close the connection after
    /// responding to such a request", since a proxy in front may have read the body's end
    /// differently (request smuggling).
    ContentLengthWithTransferEncoding,
    /// RFC 9112 §6.3 item 5: a `Content-Length` that is not one decimal number (several
    /// differing values, or not digits) is "an unrecoverable error"; the server "MUST respond
    /// with a 400 (Bad Request) status code and then close the connection".
    InvalidContentLength,
}

impl HandshakeError {
    /// The HTTP status code that answers this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedRequest(_)
            | Self::MissingHost
            | Self::MissingUpgrade
            | Self::MissingConnectionUpgrade
            | Self::InvalidKey
            | Self::ContentLengthWithTransferEncoding
            | Self::InvalidContentLength => 400,
            Self::ForbiddenOrigin => 403,
            Self::MethodNotGet => 405,
            Self::UnsupportedVersion => 426,
            Self::TooManyHeaders { .. } | Self::HeadTooLarge { .. } => 431,
            Self::HttpVersionTooOld => 505,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedRequest(why) => write!(f, "malformed HTTP request: {why}"),
            Self::MethodNotGet => f.write_str("a WebSocket handshake must be a GET request"),
            Self::HttpVersionTooOld => f.write_str("a WebSocket handshake needs HTTP/1.1"),
            Self::MissingHost => f.write_str("missing Host header"),
            Self::MissingUpgrade => f.write_str("missing or wrong Upgrade header (want websocket)"),
            Self::MissingConnectionUpgrade => {
                f.write_str("Connection header does not include the upgrade token")
            }
            Self::InvalidKey => f.write_str("Sec-WebSocket-Key must be base64 of exactly 16 bytes"),
            Self::UnsupportedVersion => f.write_str("only Sec-WebSocket-Version 13 is supported"),
            Self::ForbiddenOrigin => f.write_str("origin not allowed"),
            Self::HeadTooLarge { limit } => {
                write!(f, "request head is larger than {limit} bytes")
            }
            Self::TooManyHeaders { limit } => {
                write!(f, "request has more than {limit} header fields")
            }
            Self::ContentLengthWithTransferEncoding => f.write_str(
                "a request must not have both Content-Length and Transfer-Encoding (RFC 9112 §6.1)",
            ),
            Self::InvalidContentLength => {
                f.write_str("Content-Length must be one decimal number (RFC 9112 §6.3)")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}
