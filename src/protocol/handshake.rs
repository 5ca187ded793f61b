//! The opening handshake (RFC 6455 §4): the server checks the client's upgrade request
//! (§4.2.1), answers `101 Switching Protocols` (§4.2.2) with the accept key of §1.3, and refuses
//! any version but 13 (§4.4). The client side (§4.1) is here too, for `wsmith connect`.
//!
//! The §1.3 example, which the tests below replay byte for byte. The client asks:
//!
//! ```text
//! GET /chat HTTP/1.1
//! Host: server.example.com
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
//! Origin: http://example.com
//! Sec-WebSocket-Protocol: chat, superchat
//! Sec-WebSocket-Version: 13
//! ```
//!
//! and the server, which speaks `chat`, answers:
//!
//! ```text
//! HTTP/1.1 101 Switching Protocols
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//! Sec-WebSocket-Protocol: chat
//! ```
//!
//! Everything here is sans-I/O: a [`RequestHead`] in, an [`Upgrade`] or a [`HandshakeError`]
//! out, bytes to write back. [`super::http`] reads the head and writes the error responses.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::deflate::{self, Negotiation, NegotiationError, Params};
use super::error::HandshakeError;
use super::extensions::{self, ExtensionSyntaxError};
pub use super::http::VERSION;
use super::http::{describe, response_head_of, split_list, RequestHead};

/// The GUID appended to the client's key before hashing: a "Globally Unique Identifier (GUID,
/// \[RFC4122\]) ... in string form, which is unlikely to be used by network endpoints that do
/// not understand the WebSocket Protocol" (§1.3).
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The length of the nonce a client's `Sec-WebSocket-Key` encodes: "a randomly selected 16-byte
/// value" (§4.1 item 7).
pub const KEY_NONCE_LEN: usize = 16;

/// The longest response head [`check_response`] waits for, in bytes.
pub const MAX_RESPONSE_HEAD_BYTES: usize = 8192;

/// The most header fields [`check_response`] accepts in a response head.
const MAX_RESPONSE_HEADERS: usize = 64;

/// Computes `Sec-WebSocket-Accept` from a client's `Sec-WebSocket-Key` (§1.3, §4.2.2 item 5.4).
///
/// "the server has to take the value (as present in the header field, e.g., the
/// base64-encoded \[RFC4648\] version minus any leading and trailing whitespace) and
/// concatenate this with the Globally Unique Identifier ... A SHA-1 hash (160 bits)
/// \[FIPS.180-3\], base64-encoded (see Section 4 of \[RFC4648\]), of this concatenation is
/// then returned in the server's handshake" (§1.3).
///
/// ```
/// use wsmith::protocol::handshake::accept_key;
///
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(ACCEPT_GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// Whether a request asks to switch protocols at all: it has an `Upgrade` header field, whatever
/// its value.
///
/// This decides whether a request is a WebSocket attempt (answered by [`check_request`] and,
/// on failure, an error response) or plain HTTP (static files).
pub fn is_upgrade_request(head: &RequestHead) -> bool {
    head.fields()
        .any(|(name, _)| name.eq_ignore_ascii_case("upgrade"))
}

/// A client's upgrade request that passed [`check_request`]: what the server needs to answer it.
/// Its fields are read from the request's head, which it borrows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade<'h> {
    /// The client's `Sec-WebSocket-Key`, as sent minus surrounding whitespace (§4.2.1 item 5).
    pub key: &'h str,
    /// [`accept_key`] of `key`, for `Sec-WebSocket-Accept` (§4.2.2 item 5.4).
    pub accept: String,
    /// The subprotocol the server chose from the client's list (§4.2.2 item 4, /subprotocol/).
    pub protocol: Option<&'h str>,
    /// The `Origin` header field: sent by browsers, usually absent otherwise (§4.2.1 item 7).
    pub origin: Option<&'h str>,
    /// The `Host` header field: "the server's authority" (§4.2.1 item 2).
    pub host: &'h str,
    /// The `permessage-deflate` parameters agreed by [`negotiate_extensions`], if any
    /// (§4.2.2 item 5.6, /extensions/; RFC 7692 §5).
    pub deflate: Option<Params>,
}

/// Checks a client's opening handshake against §4.2.1 and chooses a subprotocol.
///
/// The checks run in this order, and the first failure is the answer:
///
/// 1. the method is `GET` ([`HandshakeError::MethodNotGet`], 405) and
/// 2. the version HTTP/1.1 or higher ([`HandshakeError::HttpVersionTooOld`], 505): "An
///    HTTP/1.1 or higher GET request" (item 1);
/// 3. a `Host` ([`HandshakeError::MissingHost`], 400; item 2);
/// 4. `Upgrade` includes the token `websocket`, in any case ([`HandshakeError::MissingUpgrade`],
///    400; item 3);
/// 5. `Connection` includes the token `Upgrade`, in any case, on any of its lines
///    ([`HandshakeError::MissingConnectionUpgrade`], 400; item 4);
/// 6. exactly one `Sec-WebSocket-Version`, and it is `13` ([`HandshakeError::UnsupportedVersion`],
///    426; item 6, §4.4); an absent version counts as one wsmith doesn't speak;
/// 7. exactly one `Sec-WebSocket-Key` (§11.3.1: it "MUST NOT appear more than once"), which
///    base64-decodes to 16 bytes ([`HandshakeError::InvalidKey`], 400; item 5).
///
/// Checks 1–5 say whether this is a WebSocket upgrade at all; only then does the version matter,
/// and only once the version is known to be 13 does the key's format. So a client of another
/// version whose request is otherwise sound always hears 426 and `Sec-WebSocket-Version: 13`,
/// which lets it retry with a version the server speaks (§4.4).
///
/// The subprotocol (§4.2.2 item 4, /subprotocol/) is the first entry of the client's
/// `Sec-WebSocket-Protocol` list (comma-separated, possibly over several lines) that appears in
/// `supported`, compared exactly; `None` if there is none, and then the 101 names none: "if the
/// server does not wish to agree to one of the suggested subprotocols, it MUST NOT send back a
/// |Sec-WebSocket-Protocol| header field in its response".
///
/// # Errors
///
/// The [`HandshakeError`] of the first failed check above; [`super::http::error_response`]
/// turns it into the answer.
pub fn check_request<'h>(
    head: &'h RequestHead,
    supported_protocols: &[&str],
) -> Result<Upgrade<'h>, HandshakeError> {
    if head.method() != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    if head.minor_version < 1 {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    let host = head.header("host").filter(|host| !host.is_empty());
    let host = host.ok_or(HandshakeError::MissingHost)?;
    if !has_token(head.header_tokens("upgrade"), "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !has_token(head.header_tokens("connection"), "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    match only_one(head.header_values("sec-websocket-version")) {
        Some(version) if version == VERSION => {}
        _ => return Err(HandshakeError::UnsupportedVersion),
    }
    let key =
        only_one(head.header_values("sec-websocket-key")).ok_or(HandshakeError::InvalidKey)?;
    if !is_valid_key(key) {
        return Err(HandshakeError::InvalidKey);
    }
    let protocol = head
        .header_tokens("sec-websocket-protocol")
        .find(|offered| supported_protocols.contains(offered));
    Ok(Upgrade {
        key,
        accept: accept_key(key),
        protocol,
        origin: head.header("origin"),
        host,
        deflate: None,
    })
}

/// Reads the client's `Sec-WebSocket-Extensions`, all its lines, and picks the extension to
/// use (§4.2.2 item 5.6: "/extensions/ ... a list of extensions the server is ready to use");
/// wsmith knows one, `permessage-deflate` (RFC 7692 §5, [`deflate::negotiate`]).
///
/// A field that breaks §9.1's grammar is declined as a whole: no extension is used, and the
/// handshake goes on (RFC 6455 names no error status for it; declining is always allowed).
pub fn negotiate_extensions(head: &RequestHead) -> (Negotiation, Option<ExtensionSyntaxError>) {
    match extensions::parse_lines(head.header_values("sec-websocket-extensions")) {
        Ok(offers) => (deflate::negotiate(&offers), None),
        Err(error) => (Negotiation::default(), Some(error)),
    }
}

/// Whether `tokens` holds `wanted`, compared ASCII case-insensitively (§4.2.1 items 3 and 4).
fn has_token<'a>(mut tokens: impl Iterator<Item = &'a str>, wanted: &str) -> bool {
    tokens.any(|token| token.eq_ignore_ascii_case(wanted))
}

/// The single item of `items`, or `None` if there are none or several.
fn only_one<T>(mut items: impl Iterator<Item = T>) -> Option<T> {
    let first = items.next()?;
    items.next().is_none().then_some(first)
}

/// Whether `key` is "a base64-encoded value that, when decoded, is 16 bytes in length"
/// (§4.2.1 item 5).
fn is_valid_key(key: &str) -> bool {
    // Room for one byte more than a nonce: a longer key fails to decode into it.
    let mut nonce = [0u8; KEY_NONCE_LEN + 1];
    BASE64
        .decode_slice(key, &mut nonce)
        .is_ok_and(|len| len == KEY_NONCE_LEN)
}

/// The server's answer to an accepted upgrade (§4.2.2 item 5).
///
/// "The handshake from the server is much simpler than the client handshake. The first line is
/// an HTTP Status-Line, with the status code 101" (§1.3), then `Upgrade: websocket`,
/// `Connection: Upgrade`, `Sec-WebSocket-Accept` and, if one was chosen,
/// `Sec-WebSocket-Protocol`. There is no body: the next byte on the wire is a WebSocket frame.
pub fn response_101(upgrade: &Upgrade<'_>) -> Vec<u8> {
    let extensions = upgrade.deflate.map(|params| params.to_string());
    let fields = [
        Some(("Upgrade", "websocket")),
        Some(("Connection", "Upgrade")),
        Some(("Sec-WebSocket-Accept", upgrade.accept.as_str())),
        upgrade
            .protocol
            .map(|protocol| ("Sec-WebSocket-Protocol", protocol)),
        extensions
            .as_deref()
            .map(|extensions| ("Sec-WebSocket-Extensions", extensions)),
    ];
    response_head_of(101, fields.into_iter().flatten(), 0)
}

/// Applies the origin policy (§10.2, §4.2.2 item 4).
///
/// "Servers that are not intended to process input from any web page but only for certain
/// sites SHOULD verify the |Origin| field is an origin they expect" (§10.2). The `Origin` is
/// "sent by all browser clients" (§4.2.1 item 7); a request without one comes from a program,
/// which could forge any origin anyway, so it is allowed. A browser's origin is allowed if it
/// is the server's own page (`http://` or `https://` plus the `Host` header, compared
/// case-insensitively) or if it is listed in `allowed` (compared case-insensitively; `*`
/// allows every origin).
///
/// # Errors
///
/// [`HandshakeError::ForbiddenOrigin`] (403) for any other origin: "If the server does not wish
/// to accept this connection, it MUST return an appropriate HTTP error code (e.g., 403
/// Forbidden)" (§4.2.2 item 4).
pub fn check_origin(upgrade: &Upgrade<'_>, allowed: &[String]) -> Result<(), HandshakeError> {
    match upgrade.origin {
        Some(origin) if !is_allowed_origin(origin, upgrade.host, allowed) => {
            Err(HandshakeError::ForbiddenOrigin)
        }
        _ => Ok(()),
    }
}

/// Whether a browser's `origin` is the server's own page (`http://` or `https://` plus `host`,
/// the `Host` header) or listed in `allowed` (`*` allows every origin); case-insensitive.
/// The rule of [`check_origin`], also applied to `POST /publish`.
pub fn is_allowed_origin(origin: &str, host: &str, allowed: &[String]) -> bool {
    let same_host = ["http://", "https://"]
        .iter()
        .any(|scheme| format!("{scheme}{host}").eq_ignore_ascii_case(origin));
    same_host
        || allowed
            .iter()
            .any(|entry| entry == "*" || entry.eq_ignore_ascii_case(origin))
}

/// Encodes a client's 16-byte nonce as its `Sec-WebSocket-Key` (§4.1 item 7).
///
/// "The nonce MUST be selected randomly for each connection"; this core has no randomness, so
/// the caller picks the bytes.
pub fn client_key(nonce: &[u8; KEY_NONCE_LEN]) -> String {
    BASE64.encode(nonce)
}

/// The client's opening handshake (§4.1), asking for the given subprotocols in order.
///
/// `host` is the authority (`host` or `host:port`, §4.1 item 4) and `path_and_query` the
/// resource name (item 3); both are written as given, so the caller must take them from a
/// parsed URL. `key` comes from [`client_key`].
pub fn client_request(host: &str, path_and_query: &str, key: &str, protocols: &[&str]) -> Vec<u8> {
    client_request_with(host, path_and_query, key, protocols, false)
}

/// [`client_request`], offering `permessage-deflate` when `deflate` is set
/// ([`deflate::client_offer`]: `permessage-deflate; client_max_window_bits`).
pub fn client_request_with(
    host: &str,
    path_and_query: &str,
    key: &str,
    protocols: &[&str],
    deflate: bool,
) -> Vec<u8> {
    let mut request = format!(
        "GET {path_and_query} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Version: {VERSION}\r\n"
    );
    if !protocols.is_empty() {
        request.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            protocols.join(", ")
        ));
    }
    if deflate {
        let offer = deflate::client_offer();
        request.push_str(&format!("Sec-WebSocket-Extensions: {offer}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// Why a client refuses the server's handshake response (§4.1, the list after "If the server's
/// response does not conform ..."): each is "_Fail the WebSocket Connection_".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHandshakeError {
    /// The bytes are not an HTTP/1.x response head (httparse said so).
    MalformedResponse(&'static str),
    /// The response head grew over [`MAX_RESPONSE_HEAD_BYTES`] without ending.
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The status is not 101: "If the status code received from the server is not 101, the
    /// client handles the response per HTTP \[RFC2616\] procedures" (§4.1 item 1).
    NotSwitchingProtocols(u16),
    /// `Upgrade` is missing or not `websocket` (§4.1 item 2).
    MissingUpgrade,
    /// `Connection` lacks the token `Upgrade` (§4.1 item 3).
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or is not [`accept_key`] of our key (§4.1 item 4).
    WrongAccept,
    /// The server chose an extension we never asked for (§4.1 item 5), or more than one.
    UnrequestedExtension,
    /// The server's `Sec-WebSocket-Extensions` breaks §9.1's grammar.
    MalformedExtensions(ExtensionSyntaxError),
    /// The server's `permessage-deflate` parameters break RFC 7692 §7 ("A client MUST _Fail the
    /// WebSocket Connection_ if the peer server accepted an extension negotiation offer for
    /// this extension with an extension negotiation response meeting any of the following
    /// conditions").
    BadDeflateResponse(NegotiationError),
    /// The server chose a subprotocol we never asked for (§4.1 item 6).
    UnrequestedProtocol(String),
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedResponse(why) => write!(f, "malformed HTTP response: {why}"),
            Self::HeadTooLarge { limit } => write!(f, "response head is larger than {limit} bytes"),
            Self::NotSwitchingProtocols(status) => {
                write!(
                    f,
                    "server answered {status} instead of 101 switching protocols"
                )
            }
            Self::MissingUpgrade => f.write_str("missing or wrong Upgrade header (want websocket)"),
            Self::MissingConnectionUpgrade => {
                f.write_str("Connection header does not include the upgrade token")
            }
            Self::WrongAccept => f.write_str("Sec-WebSocket-Accept does not match our key"),
            Self::UnrequestedExtension => f.write_str("server chose an extension we did not offer"),
            Self::MalformedExtensions(error) => {
                write!(f, "malformed Sec-WebSocket-Extensions: {error}")
            }
            Self::BadDeflateResponse(error) => {
                write!(
                    f,
                    "permessage-deflate response refused (RFC 7692 §7): {error}"
                )
            }
            Self::UnrequestedProtocol(protocol) => {
                write!(
                    f,
                    "server chose subprotocol {protocol:?}, which we did not offer"
                )
            }
        }
    }
}

impl std::error::Error for ClientHandshakeError {}

/// Checks the server's answer to [`client_request`] (§4.1, from "The client MUST validate the
/// server's response as follows").
///
/// Returns `Ok(None)` while `buf` holds less than a whole response head; nothing is consumed.
/// Once it is whole, returns its length (the frames start at `buf[len..]`) and the subprotocol
/// the server chose, if any. `key` is the `Sec-WebSocket-Key` we sent and `protocols` the
/// subprotocols we offered.
///
/// # Errors
///
/// A [`ClientHandshakeError`] naming the first rule of §4.1 the response breaks, checked in the
/// RFC's order: status 101, `Upgrade`, `Connection`, `Sec-WebSocket-Accept`, extensions,
/// subprotocol.
pub fn check_response(
    buf: &[u8],
    key: &str,
    protocols: &[&str],
) -> Result<Option<(usize, Option<String>)>, ClientHandshakeError> {
    let checked = check_response_with(buf, key, protocols, false)?;
    Ok(checked.map(|response| (response.len, response.protocol)))
}

/// A server's handshake response that passed [`check_response_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The response head's length: the frames start at `buf[len..]`.
    pub len: usize,
    /// The subprotocol the server chose.
    pub protocol: Option<String>,
    /// The `permessage-deflate` parameters the server agreed, if we offered it and it did.
    pub deflate: Option<Params>,
}

/// [`check_response`] for a client that may have offered `permessage-deflate`
/// (`offered_deflate`): the server's answer must then name it at most once, with parameters
/// RFC 7692 §7 allows in a response ([`deflate::accept_response`]).
///
/// # Errors
///
/// As [`check_response`], plus [`ClientHandshakeError::MalformedExtensions`] and
/// [`ClientHandshakeError::BadDeflateResponse`].
pub fn check_response_with(
    buf: &[u8],
    key: &str,
    protocols: &[&str],
    offered_deflate: bool,
) -> Result<Option<Accepted>, ClientHandshakeError> {
    let mut headers = vec![httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_RESPONSE_HEAD_BYTES => {
            return Err(ClientHandshakeError::HeadTooLarge {
                limit: MAX_RESPONSE_HEAD_BYTES,
            })
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(ClientHandshakeError::MalformedResponse(describe(err))),
    };
    let headers = &*response.headers;
    let status = response.code.unwrap_or_default();
    if status != 101 {
        return Err(ClientHandshakeError::NotSwitchingProtocols(status));
    }
    // §4.1 item 2: an Upgrade "that is not an ASCII case-insensitive match for ... websocket".
    if !values(headers, "upgrade")
        .next()
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    {
        return Err(ClientHandshakeError::MissingUpgrade);
    }
    if !has_token(
        values(headers, "connection").flat_map(split_list),
        "upgrade",
    ) {
        return Err(ClientHandshakeError::MissingConnectionUpgrade);
    }
    if values(headers, "sec-websocket-accept").next() != Some(accept_key(key).as_str()) {
        return Err(ClientHandshakeError::WrongAccept);
    }
    let chosen = extensions::parse_lines(values(headers, "sec-websocket-extensions"))
        .map_err(ClientHandshakeError::MalformedExtensions)?;
    let deflate = match chosen.as_slice() {
        [] => None,
        [only] if offered_deflate && only.name == deflate::EXTENSION_NAME => {
            Some(deflate::accept_response(only).map_err(ClientHandshakeError::BadDeflateResponse)?)
        }
        _ => return Err(ClientHandshakeError::UnrequestedExtension),
    };
    let protocol = values(headers, "sec-websocket-protocol")
        .next()
        .map(str::to_owned);
    match protocol {
        Some(chosen) if !protocols.contains(&chosen.as_str()) => {
            Err(ClientHandshakeError::UnrequestedProtocol(chosen))
        }
        protocol => Ok(Some(Accepted {
            len,
            protocol,
            deflate,
        })),
    }
}

/// The trimmed UTF-8 values of every response header field called `name`.
fn values<'h, 'b>(
    headers: &'h [httparse::Header<'b>],
    name: &'h str,
) -> impl Iterator<Item = &'b str> + 'h {
    headers
        .iter()
        .filter(move |header| header.name.eq_ignore_ascii_case(name))
        .filter_map(|header| std::str::from_utf8(header.value).ok())
        .map(|value| value.trim_matches([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::super::http::{error_response, parse_request_head, HeadLimits};
    use super::*;

    /// The client's handshake of §1.3, line by line.
    const EXAMPLE: &[&str] = &[
        "GET /chat HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Origin: http://example.com",
        "Sec-WebSocket-Protocol: chat, superchat",
        "Sec-WebSocket-Version: 13",
    ];

    /// The server's handshake of §1.3, byte for byte.
    const EXAMPLE_101: &str = "HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\
        \r\n";

    fn parse(bytes: &[u8]) -> RequestHead {
        let parsed = parse_request_head(bytes, &HeadLimits::default()).expect("valid head");
        parsed.expect("complete head").0
    }

    /// The §1.3 request with the line starting `prefix` replaced by `lines` (`\n`-separated;
    /// empty removes it), or with `lines` appended when `prefix` is empty.
    fn example_with(prefix: &str, lines: &str) -> RequestHead {
        let mut head: Vec<&str> = Vec::new();
        for line in EXAMPLE {
            if !prefix.is_empty() && line.starts_with(prefix) {
                head.extend(lines.split('\n').filter(|l| !l.is_empty()));
            } else {
                head.push(line);
            }
        }
        if prefix.is_empty() {
            head.extend(lines.split('\n').filter(|l| !l.is_empty()));
        }
        parse(format!("{}\r\n\r\n", head.join("\r\n")).as_bytes())
    }

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn rfc_example_request_is_answered_with_the_rfc_example_101() {
        let head = example_with("", "");
        let upgrade = check_request(&head, &["chat"]).expect("valid upgrade");
        assert_eq!(upgrade.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(upgrade.host, "server.example.com");
        assert_eq!(upgrade.origin, Some("http://example.com"));
        assert_eq!(upgrade.protocol, Some("chat"));
        assert_eq!(
            String::from_utf8(response_101(&upgrade)).expect("ascii"),
            EXAMPLE_101
        );
    }

    #[test]
    fn response_without_a_chosen_protocol_names_none() {
        let head = example_with("", "");
        let upgrade = check_request(&head, &[]).expect("valid upgrade");
        assert_eq!(upgrade.protocol, None);
        let text = String::from_utf8(response_101(&upgrade)).expect("ascii");
        assert!(!text.contains("Sec-WebSocket-Protocol"), "{text}");
        assert!(!text.contains("Content-Length"), "{text}");
    }

    #[test]
    fn each_broken_rule_is_refused_with_its_error() {
        use HandshakeError::*;
        let cases: &[(&str, &str, &str, HandshakeError)] = &[
            ("POST", "GET", "POST /chat HTTP/1.1", MethodNotGet),
            ("HTTP/1.0", "GET", "GET /chat HTTP/1.0", HttpVersionTooOld),
            ("no Host", "Host", "", MissingHost),
            ("empty Host", "Host", "Host: ", MissingHost),
            ("no Upgrade", "Upgrade", "", MissingUpgrade),
            ("Upgrade to h2c", "Upgrade", "Upgrade: h2c", MissingUpgrade),
            (
                "Upgrade websocket/13",
                "Upgrade",
                "Upgrade: websocket/13",
                MissingUpgrade,
            ),
            ("no Connection", "Connection", "", MissingConnectionUpgrade),
            (
                "Connection keep-alive",
                "Connection",
                "Connection: keep-alive",
                MissingConnectionUpgrade,
            ),
            (
                "Connection upgraded",
                "Connection",
                "Connection: upgraded",
                MissingConnectionUpgrade,
            ),
            (
                "version 8",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Version: 8",
                UnsupportedVersion,
            ),
            (
                "no version",
                "Sec-WebSocket-Version",
                "",
                UnsupportedVersion,
            ),
            (
                "version list",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Version: 13, 8",
                UnsupportedVersion,
            ),
            (
                "version twice",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Version: 13\nSec-WebSocket-Version: 13",
                UnsupportedVersion,
            ),
            ("no key", "Sec-WebSocket-Key", "", InvalidKey),
            (
                "key of 15 bytes",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA",
                InvalidKey,
            ),
            (
                "key of 17 bytes",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=",
                InvalidKey,
            ),
            (
                "key not base64",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: not a key, not at all!!",
                InvalidKey,
            ),
            (
                "key unpadded",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ",
                InvalidKey,
            ),
            (
                "key twice",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                InvalidKey,
            ),
        ];
        for (name, prefix, lines, expected) in cases {
            let head = example_with(prefix, lines);
            let result = check_request(&head, &["chat"]);
            assert_eq!(result.as_ref(), Err(expected), "{name}");
        }
    }

    #[test]
    fn refusals_have_the_status_the_rfc_asks_for() {
        let cases = [
            ("POST", "GET", "POST /chat HTTP/1.1", 405),
            (
                "version 8",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Version: 8",
                426,
            ),
            (
                "key of 15 bytes",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA",
                400,
            ),
            (
                "key not base64",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: %%%",
                400,
            ),
            ("no Upgrade", "Upgrade", "", 400),
        ];
        for (name, prefix, lines, status) in cases {
            let head = example_with(prefix, lines);
            let err = check_request(&head, &[]).expect_err(name);
            assert_eq!(err.status(), status, "{name}");
        }
    }

    #[test]
    fn version_8_is_answered_426_with_the_supported_version() {
        let head = example_with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8");
        let err = check_request(&head, &[]).expect_err("version 8");
        let text =
            String::from_utf8(error_response(err.status(), &err.to_string())).expect("ascii");
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    }

    #[test]
    fn version_mismatch_is_answered_426_even_with_a_key_of_another_format() {
        let head = example_with(
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Key: 4 @1  46546xW%0l 1 5\nSec-WebSocket-Version: 8",
        );
        let head = head.without("Sec-WebSocket-Version", b"13");
        assert_eq!(
            check_request(&head, &[]),
            Err(HandshakeError::UnsupportedVersion)
        );
    }

    #[test]
    fn tokens_are_matched_case_insensitively_in_lists_and_across_lines() {
        let cases = [
            ("Connection", "Connection: keep-alive, Upgrade"),
            ("Connection", "Connection: keep-alive\nConnection: upgrade"),
            ("Connection", "connection: UPGRADE"),
            ("Upgrade", "upgrade: WebSocket"),
            ("Upgrade", "Upgrade: h2c, websocket"),
        ];
        for (prefix, lines) in cases {
            let head = example_with(prefix, lines);
            let result = check_request(&head, &[]);
            assert!(result.is_ok(), "{lines:?}: {result:?}");
        }
    }

    #[test]
    fn subprotocol_is_the_clients_first_that_the_server_supports() {
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            (
                "Sec-WebSocket-Protocol: chat, superchat",
                &["superchat", "chat"],
                Some("chat"),
            ),
            (
                "Sec-WebSocket-Protocol: chat, superchat",
                &["superchat"],
                Some("superchat"),
            ),
            (
                "Sec-WebSocket-Protocol: a\nSec-WebSocket-Protocol: b, c",
                &["c", "b"],
                Some("b"),
            ),
            ("Sec-WebSocket-Protocol: ,a ,, b", &["b"], Some("b")),
            ("Sec-WebSocket-Protocol: chat, superchat", &["other"], None),
            ("Sec-WebSocket-Protocol: Chat", &["chat"], None),
            ("", &["chat"], None),
        ];
        for (lines, supported, expected) in cases {
            let head = example_with("Sec-WebSocket-Protocol", lines);
            let upgrade = check_request(&head, supported).expect("valid upgrade");
            assert_eq!(upgrade.protocol, *expected, "{lines:?} with {supported:?}");
        }
    }

    #[test]
    fn only_requests_with_an_upgrade_field_are_upgrade_requests() {
        assert!(is_upgrade_request(&example_with("", "")));
        assert!(is_upgrade_request(&example_with("Upgrade", "upgrade: h2c")));
        assert!(!is_upgrade_request(&example_with("Upgrade", "")));
    }

    #[test]
    fn origin_policy_allows_programs_the_own_host_and_the_list() {
        let upgrade = |origin| Upgrade {
            key: "",
            accept: String::new(),
            protocol: None,
            origin,
            host: "localhost:8080",
            deflate: None,
        };
        let listed = vec!["https://Example.com".to_owned()];
        let anyone = vec!["*".to_owned()];
        let cases: &[(Option<&str>, &[String], bool)] = &[
            (None, &[], true),
            (Some("http://localhost:8080"), &[], true),
            (Some("HTTPS://LOCALHOST:8080"), &[], true),
            (Some("http://localhost:8081"), &[], false),
            (Some("http://localhost"), &[], false),
            (Some("http://evil.example"), &[], false),
            (Some("null"), &[], false),
            (Some("https://example.com"), &listed, true),
            (Some("http://example.com"), &listed, false),
            (Some("http://evil.example"), &anyone, true),
        ];
        for (origin, allowed, ok) in cases {
            let result = check_origin(&upgrade(*origin), allowed);
            let expected = if *ok {
                Ok(())
            } else {
                Err(HandshakeError::ForbiddenOrigin)
            };
            assert_eq!(result, expected, "{origin:?} with {allowed:?}");
        }
    }

    #[test]
    fn rfc_example_origin_is_forbidden_unless_listed() {
        let head = example_with("", "");
        let upgrade = check_request(&head, &[]).expect("valid upgrade");
        assert_eq!(
            check_origin(&upgrade, &[]),
            Err(HandshakeError::ForbiddenOrigin)
        );
        assert_eq!(
            check_origin(&upgrade, &["http://example.com".to_owned()]),
            Ok(())
        );
    }

    #[test]
    fn client_key_is_the_base64_of_the_nonce() {
        assert_eq!(client_key(b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn client_request_passes_the_server_checks() {
        let key = client_key(&[7; KEY_NONCE_LEN]);
        let bytes = client_request(
            "localhost:8080",
            "/chat?room=a",
            &key,
            &["chat", "superchat"],
        );
        let head = parse(&bytes);
        assert_eq!(head.target(), "/chat?room=a");
        let upgrade = check_request(&head, &["superchat"]).expect("valid upgrade");
        assert_eq!(upgrade.key, key);
        assert_eq!(upgrade.host, "localhost:8080");
        assert_eq!(upgrade.protocol, Some("superchat"));
        assert_eq!(upgrade.origin, None);
    }

    #[test]
    fn client_request_without_protocols_asks_for_none() {
        let bytes = client_request("h", "/", "dGhlIHNhbXBsZSBub25jZQ==", &[]);
        let text = String::from_utf8(bytes).expect("ascii");
        assert!(!text.contains("Sec-WebSocket-Protocol"), "{text}");
        assert!(
            text.ends_with("Sec-WebSocket-Version: 13\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn client_accepts_the_rfc_example_101_and_stops_at_its_end() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let mut buf = EXAMPLE_101.as_bytes().to_vec();
        buf.extend_from_slice(b"\x81\x05Hello");
        let checked = check_response(&buf, key, &["chat", "superchat"]);
        assert_eq!(
            checked,
            Ok(Some((EXAMPLE_101.len(), Some("chat".to_owned()))))
        );
    }

    #[test]
    fn client_waits_for_the_whole_response_head() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let bytes = EXAMPLE_101.as_bytes();
        for i in 0..bytes.len() {
            assert_eq!(
                check_response(&bytes[..i], key, &["chat"]),
                Ok(None),
                "{i} bytes"
            );
        }
    }

    #[test]
    fn client_refuses_a_response_that_breaks_section_4_1() {
        use ClientHandshakeError::*;
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let upgrade = "Upgrade: websocket\r\n";
        let connection = "Connection: Upgrade\r\n";
        let accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
        let wrong = "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n";
        let good = format!("{upgrade}{connection}{accept}");
        let switching = |fields: &str| format!("HTTP/1.1 101 Switching Protocols\r\n{fields}\r\n");
        let cases: &[(&str, String, ClientHandshakeError)] = &[
            (
                "not 101",
                format!("HTTP/1.1 403 Forbidden\r\n{good}Content-Length: 0\r\n\r\n"),
                NotSwitchingProtocols(403),
            ),
            (
                "wrong accept",
                switching(&format!("{upgrade}{connection}{wrong}")),
                WrongAccept,
            ),
            (
                "no accept",
                switching(&format!("{upgrade}{connection}")),
                WrongAccept,
            ),
            (
                "no upgrade",
                switching(&format!("{connection}{accept}")),
                MissingUpgrade,
            ),
            (
                "upgrade h2c",
                switching(&format!("Upgrade: h2c\r\n{connection}{accept}")),
                MissingUpgrade,
            ),
            (
                "no connection",
                switching(&format!("{upgrade}{accept}")),
                MissingConnectionUpgrade,
            ),
            (
                "extension",
                switching(&format!(
                    "{good}Sec-WebSocket-Extensions: permessage-deflate\r\n"
                )),
                UnrequestedExtension,
            ),
            (
                "protocol",
                switching(&format!("{good}Sec-WebSocket-Protocol: mqtt\r\n")),
                UnrequestedProtocol("mqtt".to_owned()),
            ),
            (
                "garbage",
                "HTTP/1.1 1O1 x\r\n\r\n".to_owned(),
                MalformedResponse("invalid response status"),
            ),
        ];
        for (name, response, expected) in cases {
            let checked = check_response(response.as_bytes(), key, &["chat"]);
            assert_eq!(checked.as_ref(), Err(expected), "{name}");
        }
        let accepted = check_response(switching(&good).as_bytes(), key, &["chat"]);
        assert_eq!(accepted, Ok(Some((switching(&good).len(), None))));
    }

    #[test]
    fn client_gives_up_on_a_response_head_that_never_ends() {
        let endless = format!(
            "HTTP/1.1 101 Switching Protocols\r\nX: {}",
            "a".repeat(9000)
        );
        let limit = MAX_RESPONSE_HEAD_BYTES;
        let checked = check_response(endless.as_bytes(), "k", &[]);
        assert_eq!(checked, Err(ClientHandshakeError::HeadTooLarge { limit }));
    }

    #[test]
    fn server_response_passes_the_client_checks() {
        let key = client_key(b"0123456789abcdef");
        let head = parse(&client_request("example.com", "/", &key, &["chat"]));
        let upgrade = check_request(&head, &["chat"]).expect("valid upgrade");
        let bytes = response_101(&upgrade);
        let checked = check_response(&bytes, &key, &["chat"]);
        assert_eq!(checked, Ok(Some((bytes.len(), Some("chat".to_owned())))));
    }
}
