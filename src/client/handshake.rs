//! The client's side of the opening handshake (RFC 6455 §4.1), over a socket: the request with
//! any `-H` header fields, the server's answer checked by [`handshake::check_response_with`],
//! and, with `--trace`, both heads printed and the `Sec-WebSocket-Accept` check spelled out.
//!
//! ```text
//! >> Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
//! << Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//!    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ✓ matches base64(SHA-1(key + GUID)) (§1.3)
//! ```
//!
//! "If the |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of the
//! concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded) with the string
//! "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" but ignoring any leading and trailing whitespace, the
//! client MUST _Fail the WebSocket Connection_" (§4.1): a mismatch is [`Error::WrongAccept`],
//! with or without `--trace`.
//!
//! A refusal (any status but 101) is reported with its status line and the first line of its
//! body, where a server says why: wsmith's 404 lists the paths that have an endpoint.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::output::Output;
use super::{Error, WsUrl};
use crate::protocol::deflate::Params;
use crate::protocol::handshake::{self, ClientHandshakeError, KEY_NONCE_LEN};

/// How long opening TCP and the opening handshake may take, each.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a refused handshake's response that is read, to find its first body line.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;

/// How many characters of a refusal's body line are kept.
const MAX_REASON_CHARS: usize = 200;

/// Header fields the client writes itself, and why `-H` may not add them.
const OWN_FIELDS: &[(&str, &str)] = &[
    ("host", "it is taken from the URL (§4.1 item 4)"),
    ("upgrade", "it is always 'websocket' (§4.1 item 5)"),
    ("connection", "it is always 'Upgrade' (§4.1 item 6)"),
    (
        "sec-websocket-key",
        "it is a fresh nonce on every connection (§4.1 item 7)",
    ),
    ("sec-websocket-version", "it is always 13 (§4.1 item 9)"),
    (
        "sec-websocket-extensions",
        "use --deflate to offer permessage-deflate",
    ),
];

/// A header field given with `-H 'Name: value'`: "The request MAY include any other header
/// fields, for example, cookies \[RFC6265\] and/or authentication-related header fields such as
/// the |Authorization| header field" (§4.1 item 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name, an RFC 7230 token.
    pub name: String,
    /// The value, without surrounding whitespace.
    pub value: String,
}

impl HeaderField {
    /// Reads `Name: value`.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong: no colon, a name that is not a token, a value with a
    /// line break (it would end the field, or the head), or a field the client writes itself.
    pub fn parse(field: &str) -> Result<Self, String> {
        let Some((name, value)) = field.split_once(':') else {
            return Err(format!("-H {field:?}: expected 'Name: value'"));
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(format!(
                "-H {field:?}: {name:?} is not a header field name (RFC 7230 §3.2.6 token)"
            ));
        }
        if value.contains(['\r', '\n', '\0']) {
            return Err(format!("-H {field:?}: a value cannot hold a line break"));
        }
        if let Some((_, why)) = OWN_FIELDS
            .iter()
            .find(|(own, _)| name.eq_ignore_ascii_case(own))
        {
            return Err(format!("-H {name}: wsmith connect writes it itself; {why}"));
        }
        Ok(Self {
            name: name.to_owned(),
            value: value.trim_matches([' ', '\t']).to_owned(),
        })
    }

    /// Whether this is `Sec-WebSocket-Protocol`, the subprotocols we offer (§4.1 item 10).
    pub fn is_protocol(&self) -> bool {
        self.name.eq_ignore_ascii_case("sec-websocket-protocol")
    }
}

/// RFC 7230 §3.2.6: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
/// "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The subprotocols offered with `-H 'Sec-WebSocket-Protocol: a, b'` (each field's list, in
/// order): the server may choose one of them and no other (§4.1, response item 6).
pub fn offered_protocols(headers: &[HeaderField]) -> Vec<&str> {
    headers
        .iter()
        .filter(|field| field.is_protocol())
        .flat_map(|field| field.value.split(','))
        .map(|protocol| protocol.trim_matches([' ', '\t']))
        .filter(|protocol| !protocol.is_empty())
        .collect()
}

/// What the client asks for in its opening handshake, and whether to trace it.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// Where: the `Host` field and the request target (§4.1 items 3, 4).
    pub url: &'a WsUrl,
    /// `-H` fields, `Sec-WebSocket-Protocol` among them.
    pub headers: &'a [HeaderField],
    /// `--deflate`: offer `permessage-deflate` (RFC 7692 §5).
    pub deflate: bool,
    /// `--trace`: print both heads and the `Sec-WebSocket-Accept` check.
    pub trace: bool,
}

/// The client's request (§4.1): [`handshake::client_request_with`], then the `-H` fields.
pub fn request(offer: &Offer<'_>, key: &str) -> Vec<u8> {
    let url = offer.url;
    let protocols = offered_protocols(offer.headers);
    let mut request = handshake::client_request_with(
        &url.authority,
        &url.resource_name,
        key,
        &protocols,
        offer.deflate,
    );
    let extra = offer.headers.iter().filter(|field| !field.is_protocol());
    // The head ends with an empty line; the fields go before it.
    let head_end = request.len().saturating_sub(2);
    request.truncate(head_end);
    for field in extra {
        request.extend_from_slice(format!("{}: {}\r\n", field.name, field.value).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

/// What a successful opening handshake leaves.
#[derive(Debug)]
pub struct Opened {
    /// The bytes after the 101's head: the server's first frames, if it sent some at once.
    pub first_frames: Vec<u8>,
    /// The `permessage-deflate` parameters, if we offered it and the server agreed (RFC 7692).
    pub deflate: Option<Params>,
    /// The subprotocol the server chose among those we offered.
    pub protocol: Option<String>,
}

/// Sends the client's opening handshake (§4.1) and reads the server's answer.
///
/// # Errors
///
/// [`Error::Refused`] for a status other than 101, [`Error::WrongAccept`] or
/// [`Error::Handshake`] for a 101 that breaks a rule of §4.1, [`Error::Io`] for a timeout or a
/// connection closed mid-handshake.
pub fn open(
    socket: &mut TcpStream,
    offer: &Offer<'_>,
    nonce: &[u8; KEY_NONCE_LEN],
    output: &Output,
) -> Result<Opened, Error> {
    let trace = |direction: &str, head: &[u8]| {
        if offer.trace {
            output.trace(direction, String::from_utf8_lossy(head).lines());
        }
    };
    let key = handshake::client_key(nonce);
    let request = request(offer, &key);
    trace(">>", &request);
    socket.write_all(&request)?;
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let protocols = offered_protocols(offer.headers);
    let mut received = Vec::new();
    loop {
        match handshake::check_response_with(&received, &key, &protocols, offer.deflate) {
            Ok(Some(accepted)) => {
                let first_frames = received.split_off(accepted.len);
                if offer.trace {
                    trace("<<", &received);
                    output.trace("  ", [accept_line(&received, &key, true).as_str()]);
                    trace_negotiation(output, offer.deflate, &accepted);
                }
                return Ok(Opened {
                    first_frames,
                    deflate: accepted.deflate,
                    protocol: accepted.protocol,
                });
            }
            Ok(None) => {}
            Err(ClientHandshakeError::NotSwitchingProtocols(status)) => {
                let error = refusal(socket, &mut received, status, deadline);
                trace("<<", &received);
                return Err(error);
            }
            Err(ClientHandshakeError::WrongAccept) => {
                trace("<<", &received);
                if offer.trace {
                    output.trace("  ", [accept_line(&received, &key, false).as_str()]);
                }
                return Err(Error::WrongAccept {
                    received: field_value(&received, "sec-websocket-accept"),
                    expected: handshake::accept_key(&key),
                });
            }
            Err(error) => {
                trace("<<", &received);
                return Err(Error::Handshake(error));
            }
        }
        if read_more(socket, &mut received, deadline)? == 0 {
            trace("<<", &received);
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before answering the handshake",
            )));
        }
    }
}

/// The `--trace` line on the server's `Sec-WebSocket-Accept` (§1.3, §4.1).
fn accept_line(head: &[u8], key: &str, matches: bool) -> String {
    let expected = handshake::accept_key(key);
    match (field_value(head, "sec-websocket-accept"), matches) {
        (Some(received), true) => {
            format!("Sec-WebSocket-Accept: {received} ✓ matches base64(SHA-1(key + GUID)) (§1.3)")
        }
        (Some(received), false) => format!(
            "Sec-WebSocket-Accept: {received} ✗ does not match base64(SHA-1(key + GUID)) = \
             {expected}; the client fails the connection (§4.1)"
        ),
        (None, _) => format!(
            "Sec-WebSocket-Accept: missing ✗ base64(SHA-1(key + GUID)) = {expected}; the client \
             fails the connection (§4.1)"
        ),
    }
}

/// The value of the first field called `name` in an HTTP head, trimmed; `None` if absent.
fn field_value(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head)
        .split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(field, _)| field.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim_matches([' ', '\t']).to_owned())
}

/// The handshake's outcome for compression and subprotocol, in words (RFC 7692 §5, §7.1;
/// RFC 6455 §4.1).
fn trace_negotiation(output: &Output, offered_deflate: bool, accepted: &handshake::Accepted) {
    let mut lines = Vec::new();
    match &accepted.deflate {
        Some(params) => lines.extend(
            params
                .explain()
                .into_iter()
                .map(|line| format!("permessage-deflate {line}")),
        ),
        None if offered_deflate => {
            lines.push("extensions: the server declined permessage-deflate".to_owned());
        }
        None => {}
    }
    if let Some(protocol) = &accepted.protocol {
        lines.push(format!("subprotocol: the server chose {protocol:?}"));
    }
    output.trace("  ", lines.iter().map(String::as_str));
}

/// Reads once into `received`, waiting no later than `deadline`; returns the bytes read.
fn read_more(
    socket: &mut TcpStream,
    received: &mut Vec<u8>,
    deadline: Instant,
) -> io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no handshake answer within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            ),
        ));
    }
    socket.set_read_timeout(Some(left))?;
    let mut buf = [0; 4096];
    let n = socket.read(&mut buf)?;
    received.extend_from_slice(buf.get(..n).unwrap_or_default());
    Ok(n)
}

/// The error for a refused handshake: its status line and the first line of its body (the
/// server may still be sending it; read until a line ends, the connection closes, or time's up).
fn refusal(
    socket: &mut TcpStream,
    received: &mut Vec<u8>,
    status: u16,
    deadline: Instant,
) -> Error {
    while received.len() < MAX_REFUSAL_BYTES {
        let body = body_start(received).and_then(|start| received.get(start..));
        if body.is_some_and(|body| body.contains(&b'\n')) {
            break;
        }
        if !matches!(read_more(socket, received, deadline), Ok(n) if n > 0) {
            break;
        }
    }
    let (status_line, body_line) = reason(received);
    Error::Refused {
        status,
        status_line,
        body_line,
    }
}

/// Where the body starts: after the empty line that ends the head.
fn body_start(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// A refusal's status line and its body's first non-empty line (wsmith writes the reason
/// there, and a 404 lists the endpoints).
fn reason(response: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(response);
    let status_line = text.lines().next().unwrap_or_default().trim().to_owned();
    let body_line = body_start(response)
        .and_then(|start| text.get(start..))
        .and_then(|body| body.lines().map(str::trim).find(|line| !line.is_empty()))
        .unwrap_or_default()
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    (status_line, body_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_field_is_a_token_a_colon_and_a_value() {
        let field = HeaderField::parse("Origin:  http://example.com ").expect("valid");
        assert_eq!(
            (field.name.as_str(), field.value.as_str()),
            ("Origin", "http://example.com")
        );
        let field = HeaderField::parse("X-Empty:").expect("valid");
        assert_eq!(field.value, "");
        for bad in [
            "no colon",
            ": value",
            "Bad Name: x",
            "X: a\r\nHost: evil",
            "X: \n",
        ] {
            assert!(HeaderField::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_the_client_writes_itself_are_refused_with_the_reason() {
        for name in [
            "Host",
            "upgrade",
            "CONNECTION",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Version",
            "Sec-WebSocket-Extensions",
        ] {
            let error = HeaderField::parse(&format!("{name}: x")).expect_err(name);
            assert!(error.contains("writes it itself"), "{error}");
        }
        let error = HeaderField::parse("sec-websocket-extensions: x").expect_err("refused");
        assert!(error.contains("--deflate"), "{error}");
    }

    #[test]
    fn h_fields_go_into_the_head_before_its_empty_line() {
        let url = WsUrl::parse("ws://h:9/echo").expect("valid");
        let headers = [
            HeaderField::parse("Origin: http://h:9").expect("valid"),
            HeaderField::parse("Sec-WebSocket-Protocol: chat").expect("valid"),
        ];
        let offer = Offer {
            url: &url,
            headers: &headers,
            deflate: false,
            trace: false,
        };
        let request = request(&offer, "dGhlIHNhbXBsZSBub25jZQ==");
        let text = String::from_utf8(request).expect("ascii");
        assert!(
            text.starts_with("GET /echo HTTP/1.1\r\nHost: h:9\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\nOrigin: http://h:9\r\n\r\n"), "{text}");
        // The subprotocol goes out once, from the core's own request.
        assert_eq!(
            text.matches("Sec-WebSocket-Protocol: chat\r\n").count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("\r\n\r\n").count(), 1, "{text}");
    }

    #[test]
    fn subprotocols_are_gathered_from_every_protocol_field() {
        let headers = [
            HeaderField::parse("Sec-WebSocket-Protocol: chat, superchat").expect("valid"),
            HeaderField::parse("Origin: http://a").expect("valid"),
            HeaderField::parse("sec-websocket-protocol: v2").expect("valid"),
        ];
        assert_eq!(offered_protocols(&headers), ["chat", "superchat", "v2"]);
    }

    #[test]
    fn field_values_are_found_by_name_in_the_head_only() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept:  abc= \r\n\r\n\
                     Sec-WebSocket-Accept: body";
        assert_eq!(
            field_value(head, "Sec-WebSocket-Accept").as_deref(),
            Some("abc=")
        );
        assert_eq!(field_value(head, "Upgrade"), None);
    }

    #[test]
    fn the_accept_line_says_match_or_mismatch_with_the_expected_value() {
        // §1.3's example key and its accept value.
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good = b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(accept_line(good, key, true).contains("✓ matches base64(SHA-1(key + GUID))"));
        let bad = b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: AAAA\r\n\r\n";
        let line = accept_line(bad, key, false);
        assert!(
            line.contains(
                "AAAA ✗ does not match base64(SHA-1(key + GUID)) = s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
            ),
            "{line}"
        );
        let line = accept_line(b"HTTP/1.1 101 OK\r\n\r\n", key, false);
        assert!(line.contains("missing ✗"), "{line}");
    }

    #[test]
    fn a_refusal_reason_is_the_first_line_of_the_body() {
        let response = b"HTTP/1.1 404 Not Found\r\nContent-Length: 60\r\n\r\n\n\
                         no WebSocket endpoint at this path; the endpoints are /echo /chat\n";
        let (status, body) = reason(response);
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        assert_eq!(
            body,
            "no WebSocket endpoint at this path; the endpoints are /echo /chat"
        );
        assert_eq!(reason(b"HTTP/1.1 503 Busy\r\n\r\n").1, "");
    }
}
