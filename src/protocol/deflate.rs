//! Compression, by the book: the `permessage-deflate` extension (RFC 7692).
//!
//! Three parts, in the RFC's order:
//!
//! - **Negotiation (§5, §7.1).** The client offers `permessage-deflate` with parameters in its
//!   `Sec-WebSocket-Extensions`; the server accepts the first offer it can honour and answers
//!   with the *agreed parameters* ([`Params`]), or declines them all. [`negotiate`] is the
//!   server's side, [`client_offer`] and [`accept_response`] the client's.
//! - **Framing (§6).** A compressed message has RSV1 ("Per-Message Compressed") set on its
//!   first frame only. The sender compresses the whole payload with DEFLATE, ends it with an
//!   empty stored block and removes that block's `00 00 ff ff` (§6.1); the receiver appends
//!   the four bytes again and inflates (§6.2).
//! - **Context takeover (§7.1.1).** By default both DEFLATE streams run across messages, so a
//!   message can refer back to the previous ones. `server_no_context_takeover` makes the server
//!   start every message afresh; wsmith always asks for it, so a broadcast is compressed once and
//!   the same bytes suit every recipient. The client's own context takeover is kept (browsers
//!   use it): one [`Inflater`] per connection.
//!
//! DEFLATE itself (RFC 1951) comes from `flate2` (the pure-Rust `zlib-rs` backend), behind
//! [`Deflater`] and [`Inflater`]; everything RFC 7692 specifies is here.
//!
//! The §7.2.3.1 example: "Hello" compressed is `f2 48 cd c9 c9 07 00`, sent as the frame
//! `c1 07 f2 48 cd c9 c9 07 00` (FIN, RSV1, Text).
//!
//! ```
//! use wsmith::protocol::deflate::Deflater;
//!
//! let mut deflater = Deflater::new(15, true);
//! assert_eq!(deflater.compress(b"Hello"), [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
//! ```

use std::fmt;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::budget::Account;
use super::error::ProtocolError;
use super::extensions::Extension;
use super::frame::{encode_frame_with, parse_header, FrameHeader, Opcode, Role};

/// The extension's registered name (§7, §9).
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// What the sender removes from the end of a compressed message and the receiver appends
/// again: the empty stored block a DEFLATE sync flush ends with (§6.1, §6.2).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The largest LZ77 window, 2^15 = 32 KiB: the default of both `*_max_window_bits` (§7.1.2).
pub const MAX_WINDOW_BITS: u8 = 15;

/// The smallest window a peer may ask for, 2^8 = 256 bytes (§7.1.2.1).
pub const MIN_WINDOW_BITS: u8 = 8;

/// Messages shorter than this many bytes are sent uncompressed by default
/// (`--deflate-threshold`): for a few dozen bytes DEFLATE saves little and costs a compressor.
pub const DEFAULT_THRESHOLD: usize = 256;

/// The four parameters of §7.1, as agreed in the server's response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Params {
    /// §7.1.1.1: the server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// §7.1.1.2: the client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// §7.1.2.1: the server's LZ77 window is at most 2^n bytes (`None`: 2^15).
    pub server_max_window_bits: Option<u8>,
    /// §7.1.2.2: the client's LZ77 window is at most 2^n bytes (`None`: 2^15).
    pub client_max_window_bits: Option<u8>,
}

impl Params {
    /// The response element that states these parameters (§7.1), e.g.
    /// `permessage-deflate; server_no_context_takeover`.
    pub fn to_extension(&self) -> Extension {
        let mut params = Vec::new();
        let mut flag = |on: bool, name: &str| {
            if on {
                params.push((name.to_owned(), None));
            }
        };
        flag(self.server_no_context_takeover, SERVER_NO_CONTEXT_TAKEOVER);
        flag(self.client_no_context_takeover, CLIENT_NO_CONTEXT_TAKEOVER);
        for (name, bits) in [
            (SERVER_MAX_WINDOW_BITS, self.server_max_window_bits),
            (CLIENT_MAX_WINDOW_BITS, self.client_max_window_bits),
        ] {
            if let Some(bits) = bits {
                params.push((name.to_owned(), Some(bits.to_string())));
            }
        }
        Extension {
            name: EXTENSION_NAME.to_owned(),
            params,
        }
    }

    /// Whether the sender of `role` starts each message with an empty LZ77 window.
    pub fn no_context_takeover(&self, sender: Role) -> bool {
        match sender {
            Role::Server => self.server_no_context_takeover,
            Role::Client => self.client_no_context_takeover,
        }
    }

    /// The window bits the compressor of `sender` uses.
    ///
    /// A limit of 8 is honoured with zlib's window of 9: zlib never refers further back than
    /// its window minus 262 bytes (`MAX_DIST`), 250 bytes for a 512-byte window, so every
    /// back-reference also fits the 256-byte window the peer allows (flate2 refuses 8).
    pub fn compressor_window_bits(&self, sender: Role) -> u8 {
        let limit = match sender {
            Role::Server => self.server_max_window_bits,
            Role::Client => self.client_max_window_bits,
        };
        limit.unwrap_or(MAX_WINDOW_BITS).max(9)
    }
}

impl Params {
    /// What the agreed parameters mean, one line per direction (RFC 7692 §7.1), for the
    /// handshake steps of `wsmith connect --trace` and the Inspector.
    pub fn explain(&self) -> Vec<String> {
        let direction = |name: &str, reset: bool, bits: Option<u8>| {
            let context = if reset {
                "a fresh LZ77 window for every message (no context takeover, §7.1.1)"
            } else {
                "one LZ77 window across messages (context takeover)"
            };
            let bits = bits.unwrap_or(MAX_WINDOW_BITS);
            format!("{name}: {context}, window 2^{bits} bytes (§7.1.2)")
        };
        vec![
            format!("agreed: {self} (RFC 7692 §5: RSV1 marks a compressed message, §6)"),
            direction(
                "server → client",
                self.server_no_context_takeover,
                self.server_max_window_bits,
            ),
            direction(
                "client → server",
                self.client_no_context_takeover,
                self.client_max_window_bits,
            ),
        ]
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_extension().fmt(f)
    }
}

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// Why an offer is declined (server) or a response refused (client), §7: "A server MUST decline
/// an extension negotiation offer for this extension if any of the following conditions are
/// met", and "A client MUST _Fail the WebSocket Connection_ if the peer server accepted an
/// extension negotiation offer for this extension with an extension negotiation response
/// meeting any of the following conditions" — the same four conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationError {
    /// "The negotiation offer contains an extension parameter not defined for use in an offer"
    /// (or a response).
    UnknownParameter(String),
    /// "... an extension parameter with an invalid value."
    InvalidValue {
        /// The parameter.
        name: String,
        /// Its value as sent (`None`: it had none but needs one).
        value: Option<String>,
    },
    /// "... multiple extension parameters with the same name."
    DuplicateParameter(String),
    /// "The client does not support the configuration that the response represents": a
    /// `client_max_window_bits` we did not offer (§7.1.2.2).
    Unsupported(String),
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownParameter(name) => write!(f, "unknown parameter {name}"),
            Self::InvalidValue { name, value: None } => write!(f, "{name} needs a value"),
            Self::InvalidValue {
                name,
                value: Some(value),
            } => write!(f, "invalid value {value:?} for {name}"),
            Self::DuplicateParameter(name) => write!(f, "parameter {name} given twice"),
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
        }
    }
}

impl std::error::Error for NegotiationError {}

/// What the server made of the client's offers: the agreed parameters, if any offer was
/// acceptable, and why each offer before it was declined (for the handshake trace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiation {
    /// The parameters of the accepted offer, as the 101 states them.
    pub agreed: Option<Params>,
    /// Each declined `permessage-deflate` offer, with the reason.
    pub declined: Vec<(Extension, NegotiationError)>,
}

/// The server's side of §5: accepts the first `permessage-deflate` offer it can honour.
///
/// "A server MUST decline ... if ... the negotiation offer contains an extension parameter not
/// defined for use in an offer", has an invalid value, or a parameter twice (§7). Offers of
/// other extensions are skipped: wsmith knows none.
///
/// The answer always includes `server_no_context_takeover` ("A server MAY include the
/// "server_no_context_takeover" extension parameter in an extension negotiation response even
/// if the extension negotiation offer being accepted by the response didn't include" it,
/// §7.1.1.1), echoes `client_no_context_takeover` if offered (§7.1.1.2), and repeats an offered
/// `server_max_window_bits` (§7.1.2.1: "with the same or smaller value as the offer"). It
/// leaves out `client_max_window_bits`: our inflater takes any window up to 2^15, so the
/// server may "ignore this value" (§7.1.2.2).
pub fn negotiate(offers: &[Extension]) -> Negotiation {
    let mut negotiation = Negotiation::default();
    for offer in offers.iter().filter(|e| e.name == EXTENSION_NAME) {
        match read_params(offer, Side::Offer) {
            Ok(offered) => {
                negotiation.agreed = Some(Params {
                    server_no_context_takeover: true,
                    client_no_context_takeover: offered.client_no_context_takeover,
                    server_max_window_bits: offered.server_max_window_bits,
                    client_max_window_bits: None,
                });
                break;
            }
            Err(error) => negotiation.declined.push((offer.clone(), error)),
        }
    }
    negotiation
}

/// The client's offer, what Chrome sends: `permessage-deflate; client_max_window_bits`
/// ("the client supports this parameter", §7.1.2.2, so the server may limit our window).
pub fn client_offer() -> Extension {
    Extension {
        name: EXTENSION_NAME.to_owned(),
        params: vec![(CLIENT_MAX_WINDOW_BITS.to_owned(), None)],
    }
}

/// The client's side of §5: checks the server's response to [`client_offer`].
///
/// # Errors
///
/// A [`NegotiationError`] for an unknown, duplicated or malformed parameter (§7); the client
/// then fails the connection.
pub fn accept_response(response: &Extension) -> Result<Params, NegotiationError> {
    let read = read_params(response, Side::Response)?;
    Ok(Params {
        server_no_context_takeover: read.server_no_context_takeover,
        client_no_context_takeover: read.client_no_context_takeover,
        server_max_window_bits: read.server_max_window_bits,
        client_max_window_bits: read.client_max_window_bits.flatten(),
    })
}

/// Whether the parameters are read from an offer or from a response: they differ only in
/// `client_max_window_bits`, which an offer may send without a value (§7.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// The parameters of one element, checked against §7.1.
#[derive(Debug, Default)]
struct Read {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

fn read_params(element: &Extension, side: Side) -> Result<Read, NegotiationError> {
    let mut read = Read::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &element.params {
        if seen.contains(&name.as_str()) {
            return Err(NegotiationError::DuplicateParameter(name.clone()));
        }
        seen.push(name);
        let invalid = || NegotiationError::InvalidValue {
            name: name.clone(),
            value: value.clone(),
        };
        match name.as_str() {
            // §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
            SERVER_NO_CONTEXT_TAKEOVER | CLIENT_NO_CONTEXT_TAKEOVER if value.is_some() => {
                return Err(invalid())
            }
            SERVER_NO_CONTEXT_TAKEOVER => read.server_no_context_takeover = true,
            CLIENT_NO_CONTEXT_TAKEOVER => read.client_no_context_takeover = true,
            // §7.1.2.1: it always has a value, in an offer and in a response.
            SERVER_MAX_WINDOW_BITS => {
                let bits = value.as_deref().and_then(window_bits).ok_or_else(invalid)?;
                read.server_max_window_bits = Some(bits);
            }
            // §7.1.2.2: an offer "may include ... with no value"; a response MUST give one.
            CLIENT_MAX_WINDOW_BITS => match (value.as_deref(), side) {
                (None, Side::Offer) => read.client_max_window_bits = Some(None),
                (None, Side::Response) => return Err(invalid()),
                (Some(text), _) => {
                    let bits = window_bits(text).ok_or_else(invalid)?;
                    read.client_max_window_bits = Some(Some(bits));
                }
            },
            _ => return Err(NegotiationError::UnknownParameter(name.clone())),
        }
    }
    Ok(read)
}

/// A `*_max_window_bits` value: "a decimal integer value without leading zeroes between 8 to
/// 15, inclusive" (§7.1.2.1, §7.1.2.2).
fn window_bits(text: &str) -> Option<u8> {
    if text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = text.parse().ok()?;
    (MIN_WINDOW_BITS..=MAX_WINDOW_BITS)
        .contains(&bits)
        .then_some(bits)
}

/// The sending half (§6.1): compresses whole messages.
pub struct Deflater {
    compress: Compress,
    no_context_takeover: bool,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

/// The DEFLATE level: zlib's default, a balance of speed and size.
const LEVEL: u32 = 6;

impl Deflater {
    /// A compressor with a window of 2^`window_bits` bytes (9 to 15) that, with
    /// `no_context_takeover`, forgets each message after compressing it (§7.1.1).
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        let bits = window_bits.clamp(9, MAX_WINDOW_BITS);
        Self {
            compress: Compress::new_with_window_bits(Compression::new(LEVEL), false, bits),
            no_context_takeover,
        }
    }

    /// Compresses one message's payload (§6.1): "Compress all the octets of the payload of the
    /// message using DEFLATE", flush so that it ends with an empty stored block, and "Remove 4
    /// octets (that are 0x00 0x00 0xff 0xff) from the tail end".
    pub fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let start_in = self.compress.total_in();
        loop {
            let used = usize::try_from(self.compress.total_in() - start_in).unwrap_or(usize::MAX);
            let rest = payload.get(used..).unwrap_or_default();
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            // An error here would be a bug in the engine (the input is ours and the output has
            // room); the message then goes out as whatever was produced, which the peer rejects.
            if self
                .compress
                .compress_vec(rest, &mut out, FlushCompress::Sync)
                .is_err()
            {
                break;
            }
            // Done when every byte went in and the flush fit: zlib left room unused.
            let all_in = self.compress.total_in() - start_in == payload.len() as u64;
            if all_in && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.no_context_takeover {
            self.compress.reset();
        }
        out
    }
}

/// Encodes one outgoing message as one final frame: the one encoder of the protocol core, for
/// [`Connection::send_message`](super::Connection::send_message), the server's fan-out (one
/// encoding shared by every recipient) and the reader's replies.
///
/// With a `deflater`, the payload is compressed (RFC 7692 §6.1: "Compress all the octets of the
/// payload of the message using DEFLATE" and drop the trailing `00 00 ff ff`) and the frame has
/// RSV1 set: "the "Per-Message Compressed" bit ... set on the first frame of the message"
/// (§6); whether a message is worth compressing (a threshold) is the caller's choice. With a
/// `masking_key` the payload is masked, as a client sends it (RFC 6455 §5.3); a server passes
/// `None` (§5.1: "A server MUST NOT mask any frames that it sends to the client").
///
/// ```
/// use wsmith::protocol::deflate::{encode_message, Deflater};
/// use wsmith::protocol::Opcode;
///
/// // RFC 6455 §5.7: an unmasked Text frame "Hello".
/// let plain = encode_message(Opcode::Text, b"Hello", None, None);
/// assert_eq!(plain, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
/// // RFC 7692 §7.2.3.1: the same message compressed, RSV1 set.
/// let mut deflater = Deflater::new(15, true);
/// let compressed = encode_message(Opcode::Text, b"Hello", Some(&mut deflater), None);
/// assert_eq!(compressed, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
/// ```
pub fn encode_message(
    opcode: Opcode,
    payload: &[u8],
    deflater: Option<&mut Deflater>,
    masking_key: Option<[u8; 4]>,
) -> Vec<u8> {
    let compressed = deflater.map(|deflater| deflater.compress(payload));
    let header = message_header(opcode, compressed.is_some(), masking_key);
    encode_frame_with(header, compressed.as_deref().unwrap_or(payload))
}

/// [`encode_message`] as a header and a payload kept apart, for a sender that writes them with
/// one vectored write: an uncompressed payload is handed back as it came, never copied.
pub fn message_frame(
    opcode: Opcode,
    payload: Vec<u8>,
    deflater: Option<&mut Deflater>,
) -> (FrameHeader, Vec<u8>) {
    let (compressed, payload) = match deflater {
        Some(deflater) => (true, deflater.compress(&payload)),
        None => (false, payload),
    };
    let header = FrameHeader {
        payload_len: payload.len() as u64,
        ..message_header(opcode, compressed, None)
    };
    (header, payload)
}

/// The header of an outgoing message's one frame: FIN set, RSV1 set when its payload is
/// compressed (RFC 7692 §6.1), masked with `masking_key` when a client sends it (§5.3). The
/// payload length is filled in by the frame's encoder.
fn message_header(opcode: Opcode, compressed: bool, masking_key: Option<[u8; 4]>) -> FrameHeader {
    FrameHeader {
        rsv1: compressed,
        masking_key,
        ..FrameHeader::new(opcode, 0)
    }
}

/// How a server that agreed `server_no_context_takeover` compresses: every message with a
/// fresh window, so the result depends only on the payload, the window bits and the threshold,
/// and one compressed copy serves every recipient with the same window bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatelessCompressor {
    /// The compressor's window bits (9 to 15, see [`Params::compressor_window_bits`]).
    pub window_bits: u8,
    /// Messages shorter than this many bytes stay uncompressed.
    pub threshold: usize,
}

impl StatelessCompressor {
    /// The server's compressor for `params`; `None` unless the server resets its context
    /// after every message (then compressing needs no state of the connection).
    pub fn for_server(params: &Params, threshold: usize) -> Option<Self> {
        params.server_no_context_takeover.then(|| Self {
            window_bits: params.compressor_window_bits(Role::Server),
            threshold,
        })
    }

    /// One message's payload compressed (§6.1), or `None` if it is under the threshold.
    ///
    /// `deflater` must have this compressor's window bits and no context takeover (a fresh
    /// one, or one lent by a pool: a compressor costs about 270 KiB, so the server keeps a few
    /// and lends them instead of making one per message).
    pub fn compress(&self, deflater: &mut Deflater, payload: &[u8]) -> Option<Vec<u8>> {
        self.compresses(payload.len())
            .then(|| deflater.compress(payload))
    }

    /// Whether a message of `len` bytes is sent compressed: at or over the threshold.
    pub fn compresses(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// One message as its frame ([`encode_message`]): compressed with RSV1 set if it is at or
    /// over the threshold, as it is.
    ///
    /// `deflater` is as for [`StatelessCompressor::compress`].
    pub fn encode_message(
        &self,
        deflater: &mut Deflater,
        opcode: Opcode,
        payload: &[u8],
    ) -> Vec<u8> {
        let deflater = self.compresses(payload.len()).then_some(deflater);
        encode_message(opcode, payload, deflater, None)
    }

    /// A compressor for [`StatelessCompressor::compress`]: this window, no context takeover.
    pub fn new_deflater(&self) -> Deflater {
        Deflater::new(self.window_bits, true)
    }

    /// Re-encodes whole unmasked frames, back to back, compressing each final Text or Binary
    /// frame at or over the threshold (RSV1 set, §6.1); other frames are copied as they are.
    pub fn compress_frames(&self, deflater: &mut Deflater, frames: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(frames.len());
        let mut rest = frames;
        while let Some(raw) = parse_header(rest) {
            let end = usize::try_from(raw.payload_len)
                .ok()
                .and_then(|len| raw.header_len.checked_add(len))
                .filter(|&end| end <= rest.len());
            let (Some(end), Ok(opcode)) = (end, Opcode::try_from(raw.opcode)) else {
                break;
            };
            let (frame, next) = rest.split_at(end);
            let payload = frame.get(raw.header_len..).unwrap_or_default();
            let data = matches!(opcode, Opcode::Text | Opcode::Binary);
            let plain = raw.fin && raw.rsv == 0 && raw.masking_key.is_none();
            if data && plain && self.compresses(payload.len()) {
                out.extend_from_slice(&encode_message(opcode, payload, Some(deflater), None));
            } else {
                out.extend_from_slice(frame);
            }
            rest = next;
        }
        // Not whole frames (never from the hub): the rest goes as it came.
        out.extend_from_slice(rest);
        out
    }
}

/// The receiving half (§6.2): inflates messages as their frames arrive, never holding more
/// than the message limit.
pub struct Inflater {
    decompress: Decompress,
    no_context_takeover: bool,
    /// The peer ended its DEFLATE stream (a block with BFINAL, §7.2.3.4): ignore the rest of
    /// the message, and start a new stream with the next.
    stream_ended: bool,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

/// How much output the inflater makes room for at a time, in bytes.
const INFLATE_STEP: usize = 32 * 1024;

impl Inflater {
    /// An inflater with the largest window (it reads any stream the peer may send) that, with
    /// `no_context_takeover` (the peer resets its compressor), forgets each message.
    pub fn new(no_context_takeover: bool) -> Self {
        Self {
            decompress: Decompress::new_with_window_bits(false, MAX_WINDOW_BITS),
            no_context_takeover,
            stream_ended: false,
        }
    }

    /// Inflates `input`, compressed bytes of the current message, appending to `out`.
    ///
    /// `check` sees each new piece of output as it is made (UTF-8 is validated there, fail
    /// fast). `out` never grows past `limit` bytes plus one step of `INFLATE_STEP`:
    ///
    /// # Errors
    ///
    /// - [`ProtocolError::MessageTooBig`] as soon as the inflated message is over `limit`: a
    ///   small message that inflates to gigabytes stops here, with 1009.
    /// - [`ProtocolError::InvalidCompressedData`] if the bytes are not DEFLATE.
    /// - whatever `check` returns.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
        check: &mut dyn FnMut(&[u8]) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        self.inflate_within(input, out, &mut Account::default(), limit, check)
    }

    /// [`Inflater::inflate`], with `out`'s growth reserved from `account`'s budget before it
    /// happens (one step of `INFLATE_STEP` at most, doubled as a `Vec` grows).
    ///
    /// # Errors
    ///
    /// As [`Inflater::inflate`], and [`ProtocolError::BufferBudgetExhausted`] when the budget
    /// cannot cover the next step.
    pub fn inflate_within(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        account: &mut Account,
        limit: u64,
        check: &mut dyn FnMut(&[u8]) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        let mut input = input;
        while !self.stream_ended {
            let room = usize::try_from(limit.saturating_add(1))
                .unwrap_or(usize::MAX)
                .saturating_sub(out.len())
                .clamp(1, INFLATE_STEP);
            let start = out.len();
            // Only `room` bytes are offered to the inflater (the rest of a doubled capacity is
            // never written), so the message never holds more than the limit and a byte.
            account.grow(out, room)?;
            out.resize(start + room, 0);
            let before_in = self.decompress.total_in();
            let before_out = self.decompress.total_out();
            let status = self.decompress.decompress(
                input,
                out.get_mut(start..).unwrap_or_default(),
                FlushDecompress::Sync,
            );
            let used = usize::try_from(self.decompress.total_in() - before_in).unwrap_or(0);
            let made = usize::try_from(self.decompress.total_out() - before_out).unwrap_or(0);
            out.truncate(start + made);
            // What was inflated before a corrupt byte comes first in the message: it is checked
            // first, so the error does not depend on where the frames or the reads were cut.
            check(out.get(start..).unwrap_or_default())?;
            let status = status.map_err(|_| ProtocolError::InvalidCompressedData)?;
            input = input.get(used..).unwrap_or_default();
            if out.len() as u64 > limit {
                return Err(ProtocolError::MessageTooBig {
                    size: out.len() as u64,
                    limit,
                });
            }
            if status == Status::StreamEnd {
                self.stream_ended = true;
            }
            // Finished when every byte went in and the output did not fill the room it had
            // (so nothing is pending inside the inflater), or when nothing moved at all.
            if (input.is_empty() && made < room) || (used == 0 && made == 0) {
                break;
            }
        }
        Ok(())
    }

    /// Ends the current message: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of
    /// the payload of the message" and inflate them (§6.2), then forget the message if the
    /// peer does not take its context over.
    ///
    /// # Errors
    ///
    /// As [`Inflater::inflate`].
    pub fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        limit: u64,
        check: &mut dyn FnMut(&[u8]) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        self.finish_message_within(out, &mut Account::default(), limit, check)
    }

    /// [`Inflater::finish_message`] with `out`'s growth reserved from `account`
    /// ([`Inflater::inflate_within`]).
    ///
    /// # Errors
    ///
    /// As [`Inflater::inflate_within`].
    pub fn finish_message_within(
        &mut self,
        out: &mut Vec<u8>,
        account: &mut Account,
        limit: u64,
        check: &mut dyn FnMut(&[u8]) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        self.inflate_within(&TAIL, out, account, limit, check)?;
        if self.no_context_takeover || self.stream_ended {
            self.decompress.reset(false);
            self.stream_ended = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::extensions::parse;

    fn inflate_message(inflater: &mut Inflater, payload: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::new();
        inflater.inflate(payload, &mut out, 1 << 20, &mut |_| Ok(()))?;
        inflater.finish_message(&mut out, 1 << 20, &mut |_| Ok(()))?;
        Ok(out)
    }

    fn negotiated(header: &str) -> Negotiation {
        negotiate(&parse(header).expect("valid syntax"))
    }

    fn agreed(header: &str) -> Option<String> {
        negotiated(header).agreed.map(|p| p.to_string())
    }

    #[test]
    fn rfc_7_2_3_1_hello_compresses_byte_for_byte() {
        let mut deflater = Deflater::new(15, true);
        assert_eq!(
            deflater.compress(b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
    }

    #[test]
    fn encode_message_writes_the_rfc_frames_plain_masked_and_compressed() {
        let hello = [0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(
            encode_message(Opcode::Text, b"Hello", None, None),
            [[0x81, 0x05].as_slice(), &hello].concat()
        );
        // RFC 6455 §5.7: the masked "Hello" a client sends.
        assert_eq!(
            encode_message(Opcode::Text, b"Hello", None, Some([0x37, 0xfa, 0x21, 0x3d])),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        // RFC 7692 §7.2.3.1 with RSV1 set, and a long message's 16-bit length.
        let mut deflater = Deflater::new(15, true);
        let frame = encode_message(Opcode::Text, b"Hello", Some(&mut deflater), None);
        assert_eq!(
            frame,
            [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        let long = encode_message(Opcode::Binary, &[7; 300], None, None);
        assert_eq!(long.get(..4), Some([0x82, 0x7e, 0x01, 0x2c].as_slice()));
    }

    #[test]
    fn a_stateless_compressor_leaves_messages_under_its_threshold_plain() {
        let compressor = StatelessCompressor {
            window_bits: 15,
            threshold: 6,
        };
        let mut deflater = compressor.new_deflater();
        let short = compressor.encode_message(&mut deflater, Opcode::Text, b"Hello");
        assert_eq!(short, encode_message(Opcode::Text, b"Hello", None, None));
        let long = compressor.encode_message(&mut deflater, Opcode::Text, b"Hello!");
        assert_eq!(long.first(), Some(&0xc1), "RSV1 marks it compressed");
    }

    #[test]
    fn rfc_7_2_3_2_context_takeover_shares_the_window() {
        // "the second message ... compressed using the LZ77 sliding window of the first".
        let mut deflater = Deflater::new(15, false);
        assert_eq!(
            deflater.compress(b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        assert_eq!(deflater.compress(b"Hello"), [0xf2, 0x00, 0x11, 0x00, 0x00]);
        let mut inflater = Inflater::new(false);
        assert_eq!(
            inflate_message(&mut inflater, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            Ok(b"Hello".to_vec())
        );
        assert_eq!(
            inflate_message(&mut inflater, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
            Ok(b"Hello".to_vec())
        );
    }

    #[test]
    fn without_context_takeover_each_message_compresses_alike() {
        let mut deflater = Deflater::new(15, true);
        let first = deflater.compress(b"Hello");
        assert_eq!(deflater.compress(b"Hello"), first);
    }

    #[test]
    fn rfc_7_2_3_examples_inflate_to_hello() {
        let cases: &[(&str, &[u8])] = &[
            // §7.2.3.1, and its two fragments joined.
            ("7.2.3.1", &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            // §7.2.3.3: "DEFLATE Block with No Compression".
            (
                "7.2.3.3",
                &[
                    0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
                ],
            ),
            // §7.2.3.4: "DEFLATE Block with "BFINAL" Set to 1".
            ("7.2.3.4", &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]),
            // §7.2.3.5: "Two DEFLATE Blocks in One Message".
            (
                "7.2.3.5",
                &[
                    0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
                ],
            ),
        ];
        for (name, payload) in cases {
            let mut inflater = Inflater::new(false);
            assert_eq!(
                inflate_message(&mut inflater, payload),
                Ok(b"Hello".to_vec()),
                "{name}"
            );
            // The inflater is usable for the next message, BFINAL or not.
            assert_eq!(
                inflate_message(&mut inflater, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
                Ok(b"Hello".to_vec()),
                "{name}, next message"
            );
        }
    }

    #[test]
    fn an_empty_message_is_one_zero_byte() {
        let mut deflater = Deflater::new(15, true);
        let compressed = deflater.compress(b"");
        assert_eq!(compressed, [0x00]);
        assert_eq!(
            inflate_message(&mut Inflater::new(true), &compressed),
            Ok(vec![])
        );
    }

    #[test]
    fn large_messages_round_trip_with_every_window() {
        let text: Vec<u8> = (0..300_000u32)
            .map(|i| b"abcdefghij"[(i * 7 % 10) as usize] ^ (i % 251) as u8)
            .collect();
        for bits in 8..=15 {
            let mut deflater = Deflater::new(bits, true);
            let compressed = deflater.compress(&text);
            assert!(!compressed.ends_with(&TAIL));
            let mut inflater = Inflater::new(true);
            assert_eq!(
                inflate_message(&mut inflater, &compressed).as_deref(),
                Ok(&text[..]),
                "bits {bits}"
            );
        }
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limit() {
        // 16 MiB of zeros compress to about 16 KiB; the limit is 1 MiB.
        let mut deflater = Deflater::new(15, true);
        let bomb = deflater.compress(&vec![0u8; 16 << 20]);
        assert!(bomb.len() < 32 * 1024, "{}", bomb.len());
        let mut inflater = Inflater::new(true);
        let mut out = Vec::new();
        let error = inflater.inflate(&bomb, &mut out, 1 << 20, &mut |_| Ok(()));
        assert_eq!(
            error,
            Err(ProtocolError::MessageTooBig {
                size: out.len() as u64,
                limit: 1 << 20
            })
        );
        assert_eq!(out.len(), (1 << 20) + 1, "one byte over the limit, no more");
    }

    #[test]
    fn inflated_exactly_at_the_limit_passes() {
        let mut deflater = Deflater::new(15, true);
        let compressed = deflater.compress(&[b'a'; 1000]);
        let mut inflater = Inflater::new(true);
        let mut out = Vec::new();
        inflater
            .inflate(&compressed, &mut out, 1000, &mut |_| Ok(()))
            .expect("at the limit");
        inflater
            .finish_message(&mut out, 1000, &mut |_| Ok(()))
            .expect("at the limit");
        assert_eq!(out.len(), 1000);
        let mut inflater = Inflater::new(true);
        let mut out = Vec::new();
        assert!(matches!(
            inflater.inflate(&compressed, &mut out, 999, &mut |_| Ok(())),
            Err(ProtocolError::MessageTooBig { .. })
        ));
    }

    #[test]
    fn garbage_is_invalid_compressed_data() {
        let mut inflater = Inflater::new(true);
        assert_eq!(
            inflate_message(&mut inflater, &[0xff, 0xff, 0xff, 0xff]),
            Err(ProtocolError::InvalidCompressedData)
        );
    }

    #[test]
    fn split_input_gives_the_same_output() {
        let mut deflater = Deflater::new(15, true);
        let text = "the quick brown fox jumps over the lazy dog ".repeat(100);
        let compressed = deflater.compress(text.as_bytes());
        for cut in 0..compressed.len() {
            let mut inflater = Inflater::new(true);
            let mut out = Vec::new();
            let mut no_check = |_: &[u8]| Ok(());
            inflater
                .inflate(&compressed[..cut], &mut out, 1 << 20, &mut no_check)
                .expect("first part");
            inflater
                .inflate(&compressed[cut..], &mut out, 1 << 20, &mut no_check)
                .expect("second part");
            inflater
                .finish_message(&mut out, 1 << 20, &mut no_check)
                .expect("tail");
            assert_eq!(out, text.as_bytes(), "cut {cut}");
        }
    }

    #[test]
    fn server_accepts_each_parameter_and_answers_exactly() {
        let cases = [
            (
                "permessage-deflate",
                "permessage-deflate; server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; server_no_context_takeover",
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate; server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_no_context_takeover",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            ),
            (
                "permessage-deflate; server_max_window_bits=8",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=8",
            ),
            (
                "permessage-deflate; server_max_window_bits=\"15\"",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=15",
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=9; client_max_window_bits=9",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=9",
            ),
        ];
        for (offer, answer) in cases {
            assert_eq!(agreed(offer).as_deref(), Some(answer), "{offer}");
        }
    }

    #[test]
    fn server_declines_each_malformed_offer_for_its_reason() {
        let invalid = |name: &str, value: Option<&str>| NegotiationError::InvalidValue {
            name: name.into(),
            value: value.map(str::to_owned),
        };
        let cases = [
            (
                "permessage-deflate; x_unknown",
                NegotiationError::UnknownParameter("x_unknown".into()),
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                invalid("server_no_context_takeover", Some("1")),
            ),
            (
                "permessage-deflate; client_no_context_takeover=\"x\"",
                invalid("client_no_context_takeover", Some("x")),
            ),
            (
                "permessage-deflate; server_max_window_bits",
                invalid("server_max_window_bits", None),
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                invalid("server_max_window_bits", Some("7")),
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                invalid("server_max_window_bits", Some("16")),
            ),
            (
                "permessage-deflate; server_max_window_bits=010",
                invalid("server_max_window_bits", Some("010")),
            ),
            (
                "permessage-deflate; client_max_window_bits=abc",
                invalid("client_max_window_bits", Some("abc")),
            ),
            (
                "permessage-deflate; client_max_window_bits=+9",
                invalid("client_max_window_bits", Some("+9")),
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                NegotiationError::DuplicateParameter("server_no_context_takeover".into()),
            ),
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
                NegotiationError::DuplicateParameter("client_max_window_bits".into()),
            ),
        ];
        for (offer, reason) in cases {
            let negotiation = negotiated(offer);
            assert_eq!(negotiation.agreed, None, "{offer}");
            assert_eq!(
                negotiation.declined.first().map(|(_, e)| e),
                Some(&reason),
                "{offer}"
            );
        }
    }

    #[test]
    fn server_takes_the_first_offer_it_can_honour() {
        let negotiation = negotiated(
            "x-webkit-deflate-frame, permessage-deflate; bogus, \
             permessage-deflate; server_max_window_bits=10, permessage-deflate",
        );
        assert_eq!(negotiation.declined.len(), 1);
        assert_eq!(
            negotiation.agreed.map(|p| p.server_max_window_bits),
            Some(Some(10))
        );
        assert_eq!(negotiated("x-webkit-deflate-frame").agreed, None);
    }

    #[test]
    fn client_accepts_every_valid_response_and_refuses_malformed_ones() {
        let response = |text: &str| accept_response(&parse(text).expect("syntax")[0]);
        assert_eq!(
            response("permessage-deflate; server_no_context_takeover; client_max_window_bits=8"),
            Ok(Params {
                server_no_context_takeover: true,
                client_max_window_bits: Some(8),
                ..Params::default()
            })
        );
        assert_eq!(
            response("permessage-deflate; client_no_context_takeover; server_max_window_bits=12"),
            Ok(Params {
                client_no_context_takeover: true,
                server_max_window_bits: Some(12),
                ..Params::default()
            })
        );
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=20",
            "permessage-deflate; server_no_context_takeover=yes",
            "permessage-deflate; mystery",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        ] {
            assert!(response(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_bits_pick_the_compressor_window() {
        let params = Params {
            server_max_window_bits: Some(8),
            client_max_window_bits: Some(12),
            ..Params::default()
        };
        assert_eq!(params.compressor_window_bits(Role::Server), 9);
        assert_eq!(params.compressor_window_bits(Role::Client), 12);
        assert_eq!(Params::default().compressor_window_bits(Role::Server), 15);
    }

    #[test]
    fn shared_frames_are_compressed_from_the_threshold_on() {
        use crate::protocol::frame::encode_frame;
        let compressor = StatelessCompressor {
            window_bits: 15,
            threshold: 5,
        };
        let mut frames = encode_frame(Opcode::Text, b"Hi");
        frames.extend(encode_frame(Opcode::Text, b"Hello"));
        frames.extend(encode_frame(Opcode::Ping, b"Hello"));
        frames.extend(encode_frame(Opcode::Binary, b"Hello"));
        let out = compressor.compress_frames(&mut compressor.new_deflater(), &frames);
        let mut expected = vec![0x81, 0x02, b'H', b'i'];
        expected.extend([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        expected.extend([0x89, 0x05, b'H', b'e', b'l', b'l', b'o']);
        expected.extend([0xc2, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(out, expected);
        assert_eq!(
            compressor.compress(&mut compressor.new_deflater(), b"Hi"),
            None
        );
    }
}
