//! The HTTP/1.1 around the opening handshake (RFC 6455 §4.1, §4.2): reading a request head and
//! writing a response.
//!
//! "The opening handshake is intended to be compatible with HTTP-based server-side software and
//! intermediaries" (§1.3), so a WebSocket connection starts life as an HTTP/1.1 request. This
//! file knows HTTP: [`parse_request_head`] turns bytes into a [`RequestHead`] (with [httparse]
//! doing the parsing), and [`response`] turns a status, headers and a body into bytes. The
//! WebSocket rules live in [`super::handshake`]; of them, this file knows only which header a
//! refused handshake needs ([`error_response`]).
//!
//! Parsing is incremental and sans-I/O: call [`parse_request_head`] with everything received so
//! far; `Ok(None)` means "read more and call again". Both the size of the head and the number of
//! header fields are limited ([`HeadLimits`]), because a peer that never ends its head would
//! otherwise make the server buffer without end (the same care §10.4 asks for frames and
//! messages).

use super::error::HandshakeError;

/// The only protocol version wsmith speaks, the one RFC 6455 defines (§4.1 item 9, §4.4): the
/// `Sec-WebSocket-Version` a handshake must carry, and the one a 426 names.
pub const VERSION: &str = "13";

/// Limits on a request head, checked before the head is accepted (in the spirit of §10.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// The longest head in bytes, request line and final blank line included
    /// ([`HandshakeError::HeadTooLarge`] over it, answered 431). Default 8192.
    pub max_head_bytes: usize,
    /// The most header fields in one head ([`HandshakeError::TooManyHeaders`] over it,
    /// answered 431). Default 64.
    pub max_headers: usize,
}

impl HeadLimits {
    /// The default [`HeadLimits::max_head_bytes`]: 8 KiB, the common limit of HTTP servers.
    pub const DEFAULT_MAX_HEAD_BYTES: usize = 8192;
    /// The default [`HeadLimits::max_headers`].
    pub const DEFAULT_MAX_HEADERS: usize = 64;
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_head_bytes: Self::DEFAULT_MAX_HEAD_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
        }
    }
}

/// An HTTP/1.x request line and its header fields, owned (the client's handshake, §4.1).
///
/// The head is kept as it arrived, in one buffer, and every part of it is a range of that
/// buffer: reading a handshake allocates twice (the bytes and the table of fields), not once
/// per name and value. A connection thread that then waits for its client keeps what it freed
/// in its allocator's per-thread cache, so fewer, larger allocations leave less behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The head's bytes, from the request line to the blank line that ends it.
    bytes: Box<[u8]>,
    method: Span,
    target: Span,
    /// The minor version: `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// Each field's name and value (as sent, without the surrounding whitespace httparse
    /// strips), in the order received.
    fields: Box<[(Span, Span)]>,
}

/// Where a part of the head is in its buffer: `start..end` as `u32`, half a `Range<usize>`
/// (the head limit is far below 4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span of `part`, a slice of `head` (as httparse returns them), or `None` if it is
    /// not inside it: then the head is refused rather than misread.
    fn of(part: &[u8], head: &[u8]) -> Option<Self> {
        let start = (part.as_ptr() as usize).checked_sub(head.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        (end <= head.len()).then_some(Self {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }
}

impl RequestHead {
    fn bytes_of(&self, span: Span) -> &[u8] {
        self.bytes
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    /// httparse checked these to be tokens or visible ASCII, so they are UTF-8; a part that
    /// were not would read as empty.
    fn str_of(&self, span: Span) -> &str {
        std::str::from_utf8(self.bytes_of(span)).unwrap_or_default()
    }

    /// The head as received, request line and fields, up to and with the blank line.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The method, such as `GET`; case-sensitive (RFC 9110 §9.1).
    pub fn method(&self) -> &str {
        self.str_of(self.method)
    }

    /// The raw request-target as sent, such as `/chat?room=a` (still percent-encoded).
    pub fn target(&self) -> &str {
        self.str_of(self.target)
    }

    /// The header fields in the order received: name as sent, value as raw bytes.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields
            .iter()
            .map(|&(name, value)| (self.str_of(name), self.bytes_of(value)))
    }

    /// The same head without its fields called `name` (compared case-insensitively) whose
    /// value is `value`: for tests that take one field away from an example.
    #[cfg(test)]
    pub(crate) fn without(mut self, name: &str, value: &[u8]) -> Self {
        let kept: Vec<(Span, Span)> = self
            .fields
            .iter()
            .copied()
            .filter(|&(n, v)| {
                !(self.str_of(n).eq_ignore_ascii_case(name) && self.bytes_of(v) == value)
            })
            .collect();
        self.fields = kept.into_boxed_slice();
        self
    }

    /// The value of the first header field called `name` (compared case-insensitively, as
    /// "field names are case-insensitive", RFC 9110 §5.1), trimmed of spaces and tabs.
    ///
    /// Returns `None` if there is no such field or the first one's value is not valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        let (_, value) = self
            .fields()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))?;
        std::str::from_utf8(value).ok().map(trim_whitespace)
    }

    /// The values of every header field called `name`, in order; values that are not valid
    /// UTF-8 are skipped. A field may be sent on several lines (RFC 9110 §5.3), so callers that
    /// read a list, like `Connection` or `Sec-WebSocket-Protocol` (§4.1), must read them all.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.fields()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .filter_map(|(_, value)| std::str::from_utf8(value).ok())
            .map(trim_whitespace)
    }

    /// The elements of the comma-separated list in every `name` field, across all its lines,
    /// trimmed, empty elements dropped (the `#rule` of RFC 9110 §5.6.1).
    ///
    /// `Connection: keep-alive, Upgrade` gives `keep-alive` then `Upgrade`.
    pub fn header_tokens<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.header_values(name).flat_map(split_list)
    }

    /// The path of the request-target: everything before the first `?`.
    pub fn path(&self) -> &str {
        let target = self.target();
        match target.split_once('?') {
            Some((path, _)) => path,
            None => target,
        }
    }

    /// The query of the request-target: everything after the first `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, query)| query)
    }
}

/// Splits a comma-separated header value into its trimmed, non-empty elements (RFC 9110
/// §5.6.1.2: "a recipient MUST parse and ignore a reasonable number of empty list elements").
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(trim_whitespace)
        .filter(|element| !element.is_empty())
}

/// Trims the optional whitespace (spaces and tabs, RFC 9110 §5.6.3) around a value.
fn trim_whitespace(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}

/// Reads a request head from the front of `buf` (the client's handshake, §4.1, §4.2.1).
///
/// Returns `Ok(None)` while `buf` holds less than a whole head: nothing is consumed, so call
/// again with the same bytes plus whatever arrived since. Returns `Ok(Some((head, len)))` once
/// the head is whole; `len` is the length of the head, so `buf[len..]` is whatever the client
/// sent after it. Each call parses from the start, which costs little for a head of a few
/// kilobytes.
///
/// # Errors
///
/// - [`HandshakeError::HeadTooLarge`] if the head is longer than `limits.max_head_bytes`, or
///   if `buf` already holds more than that many bytes without the head having ended.
/// - [`HandshakeError::TooManyHeaders`] if it has more than `limits.max_headers` fields.
/// - [`HandshakeError::MalformedRequest`] if the bytes are not an HTTP/1.x request head, end a
///   line with a bare LF, or carry two `Host` or `Origin` fields or a `Host` port that is not a
///   port (RFC 9112 §3.2, RFC 6454 §7.3).
/// - [`HandshakeError::InvalidContentLength`] and
///   [`HandshakeError::ContentLengthWithTransferEncoding`] for a body whose end is ambiguous.
pub fn parse_request_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(RequestHead, usize)>, HandshakeError> {
    let too_large = HandshakeError::HeadTooLarge {
        limit: limits.max_head_bytes,
    };
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() > limits.max_head_bytes => Err(too_large),
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) if len > limits.max_head_bytes => Err(too_large),
        Ok(httparse::Status::Complete(len)) => {
            let bytes = buf.get(..len).unwrap_or_default();
            check_line_ends(bytes)?;
            let head = to_owned_head(&request, bytes)?;
            check_message_length(&head)?;
            check_single_fields(&head)?;
            Ok(Some((head, len)))
        }
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders {
            limit: limits.max_headers,
        }),
        Err(err) => Err(HandshakeError::MalformedRequest(describe(err))),
    }
}

/// Checks that the end of the request's body is unambiguous (RFC 9112 §6.1, §6.3).
///
/// A front proxy and wsmith must agree where a body ends, or the rest of one request is read as
/// the start of another ("request smuggling", RFC 9112 §11.2). wsmith reads bodies by
/// `Content-Length` only, so it refuses every head that could be read another way.
///
/// # Errors
///
/// - [`HandshakeError::ContentLengthWithTransferEncoding`] if both are present (§6.1).
/// - [`HandshakeError::InvalidContentLength`] unless there is exactly one `Content-Length`
///   line and its value is one `1*DIGIT` (§6.3 item 5). RFC 9110 §8.6 lets a recipient either
///   reject `Content-Length: 5, 5` or fold it to `5`; wsmith rejects it, so that no list,
///   repeated or not, reaches the code that reads the body.
fn check_message_length(head: &RequestHead) -> Result<(), HandshakeError> {
    let has = |name: &str| {
        head.fields()
            .any(|(field, _)| field.eq_ignore_ascii_case(name))
    };
    let has_length = has("Content-Length");
    if has_length && has("Transfer-Encoding") {
        return Err(HandshakeError::ContentLengthWithTransferEncoding);
    }
    if !has_length {
        return Ok(());
    }
    let mut lines = head
        .fields()
        .filter(|(field, _)| field.eq_ignore_ascii_case("Content-Length"));
    let is_digits = |v: &[u8]| !v.is_empty() && v.iter().all(u8::is_ascii_digit);
    match (lines.next(), lines.next()) {
        (Some((_, value)), None) if is_digits(value) => Ok(()),
        _ => Err(HandshakeError::InvalidContentLength),
    }
}

/// Refuses a head whose lines end in a bare LF (RFC 9112 §2.2).
///
/// "A recipient MAY recognize a single LF as a line terminator": wsmith does not, since a
/// proxy in front that reads the lines otherwise would see another request than wsmith does.
///
/// # Errors
///
/// [`HandshakeError::MalformedRequest`] for the first LF not preceded by CR.
fn check_line_ends(head: &[u8]) -> Result<(), HandshakeError> {
    let mut previous = None;
    for &byte in head {
        if byte == b'\n' && previous != Some(b'\r') {
            return Err(HandshakeError::MalformedRequest(
                "a line ends in a bare LF, not CRLF (RFC 9112 §2.2)",
            ));
        }
        previous = Some(byte);
    }
    Ok(())
}

/// Refuses a head with two `Host` or two `Origin` fields, or a `Host` whose port is not one.
///
/// "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message
/// that lacks a Host header field and to any request message that contains more than one Host
/// header field line or a Host header field with an invalid field value" (RFC 9112 §3.2);
/// `port = *DIGIT` (RFC 3986 §3.2.3), at most 65535. A user agent "MUST NOT include more than
/// one Origin header field" (RFC 6454 §7.3): two of them are two claims, and reading either one
/// would be a guess. A head without `Host` is left to the caller (a program, not a browser).
///
/// # Errors
///
/// [`HandshakeError::MalformedRequest`] naming the rule.
fn check_single_fields(head: &RequestHead) -> Result<(), HandshakeError> {
    let count = |name: &str| {
        head.fields()
            .filter(|(field, _)| field.eq_ignore_ascii_case(name))
            .count()
    };
    if count("Host") > 1 {
        return Err(HandshakeError::MalformedRequest(
            "more than one Host field (RFC 9112 §3.2)",
        ));
    }
    if count("Origin") > 1 {
        return Err(HandshakeError::MalformedRequest(
            "more than one Origin field (RFC 6454 §7.3)",
        ));
    }
    if let Some(host) = head.header("Host") {
        let (_, port) = split_host_port(host);
        let valid = match port {
            None | Some("") => true,
            Some(port) => port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok(),
        };
        if !valid || host.contains([' ', '\t', ',']) {
            return Err(HandshakeError::MalformedRequest(
                "the Host field is not a host and port (RFC 9112 §3.2)",
            ));
        }
    }
    Ok(())
}

/// Splits a `Host` value (`uri-host [ ":" port ]`, RFC 9110 §7.2) into its host and port.
///
/// An IPv6 literal keeps its brackets (`[::1]:8080` → `[::1]`, `8080`), as in a URI (RFC 3986
/// §3.2.2). A trailing `:` with no digits is an empty port, which RFC 3986 §3.2.3 allows.
pub fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    let split_at = match authority.strip_prefix('[') {
        Some(rest) => rest.find(']').map(|end| end + 2),
        None => authority.find(':'),
    };
    match split_at.map(|at| authority.split_at(at)) {
        Some((host, port)) => match port.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None => (authority, None),
        },
        None => (authority, None),
    }
}

/// Copies a complete request head, `bytes`, out of the receive buffer, with where httparse
/// found each of its parts.
fn to_owned_head(
    request: &httparse::Request<'_, '_>,
    bytes: &[u8],
) -> Result<RequestHead, HandshakeError> {
    // httparse fills all three on `Complete`, with slices of `bytes`; otherwise it would be its
    // bug, not the peer's, but a malformed-request answer is still better than a panic.
    let missing = HandshakeError::MalformedRequest("incomplete request line");
    let span = |part: &[u8]| Span::of(part, bytes).ok_or(missing.clone());
    let method = span(request.method.ok_or(missing.clone())?.as_bytes())?;
    let target = span(request.path.ok_or(missing.clone())?.as_bytes())?;
    let mut fields = Vec::with_capacity(request.headers.len());
    for header in request.headers.iter() {
        fields.push((span(header.name.as_bytes())?, span(header.value)?));
    }
    Ok(RequestHead {
        bytes: bytes.into(),
        method,
        target,
        minor_version: request.version.ok_or(missing)?,
        fields: fields.into_boxed_slice(),
    })
}

/// A one-line description of an httparse error, lowercase, for [`HandshakeError`].
pub(crate) fn describe(err: httparse::Error) -> &'static str {
    match err {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid new line",
        httparse::Error::Status => "invalid response status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// The reason phrase of the statuses wsmith sends (RFC 9110 §15).
///
/// The phrase is for humans only ("a client SHOULD ignore the reason-phrase content", RFC 9112
/// §4), so an unknown status gets an empty one, which the status line allows.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Writes an HTTP/1.1 status line and header fields, then `Content-Length` and the blank line
/// that ends the head: everything but the body.
///
/// `Content-Length` is left out for 1xx and 204 responses: "A server MUST NOT send a
/// Content-Length header field in any response with a status code of 1xx (Informational) or
/// 204 (No Content)" (RFC 9110 §8.6). That is why the 101 of §4.2.2 has none.
pub fn response_head(status: u16, headers: &[(&str, &str)], content_length: usize) -> Vec<u8> {
    response_head_of(status, headers.iter().copied(), content_length)
}

/// [`response_head`] of fields from an iterator (walked twice: to size, then to write).
pub(crate) fn response_head_of<'a>(
    status: u16,
    headers: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    content_length: usize,
) -> Vec<u8> {
    use std::fmt::Write as _;
    // One allocation, sized up front: the status line and `Content-Length` take at most 64
    // bytes besides the reason phrase, each field its name, value and 4 more.
    let reason = reason_phrase(status);
    let fields: usize = headers
        .clone()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    let mut head = String::with_capacity(64 + reason.len() + fields);
    // Writing to a String cannot fail.
    let _ = write!(head, "HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !(100..200).contains(&status) && status != 204 {
        let _ = write!(head, "Content-Length: {content_length}\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Writes a whole HTTP/1.1 response: [`response_head`] with `Content-Length` set to the length
/// of `body`, then `body`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut bytes = response_head(status, headers, body.len());
    bytes.extend_from_slice(body);
    bytes
}

/// The response that refuses a request: `status`, and `reason` as a one-line plain-text body
/// (§4.2.1: "the server MUST stop processing the client's handshake and return an HTTP response
/// with an appropriate error code"). For a broken handshake rule the status is
/// [`HandshakeError::status`] and the reason its `Display`; the server's own refusals (at
/// capacity, shutting down, no endpoint at the path) use it too.
///
/// The connection is closed after it. Two statuses carry a header the HTTP or WebSocket RFC asks
/// for: 426 gets `Sec-WebSocket-Version: 13`, "indicating the version(s) the server is capable
/// of understanding" (§4.2.2 item 4 /version/, §4.4), and 405 gets `Allow: GET` (RFC 9110
/// §15.5.6: the server "MUST generate an Allow header field in a 405 response").
pub fn error_response(status: u16, reason: &str) -> Vec<u8> {
    let mut headers = vec![
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Connection", "close"),
    ];
    match status {
        426 => headers.push(("Sec-WebSocket-Version", VERSION)),
        405 => headers.push(("Allow", "GET")),
        _ => {}
    }
    response(status, &headers, format!("{reason}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response refusing a handshake that broke `err`'s rule.
    fn refusal(err: &HandshakeError) -> Vec<u8> {
        error_response(err.status(), &err.to_string())
    }

    const EXAMPLE: &[u8] = b"GET /chat?room=a HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        \r\n";

    fn parse(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HandshakeError> {
        parse_request_head(buf, &HeadLimits::default())
    }

    /// A head of exactly `len` bytes: a request line, one `X-Pad` field, the blank line.
    fn head_of_len(len: usize) -> Vec<u8> {
        let frame = "GET / HTTP/1.1\r\nX-Pad: \r\n\r\n".len();
        let padding = "a".repeat(len - frame);
        format!("GET / HTTP/1.1\r\nX-Pad: {padding}\r\n\r\n").into_bytes()
    }

    #[test]
    fn whole_head_is_parsed_with_its_length() {
        let (head, len) = parse(EXAMPLE).expect("valid").expect("complete");
        assert_eq!(len, EXAMPLE.len());
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), "/chat?room=a");
        assert_eq!(head.minor_version, 1);
        assert_eq!(head.fields().count(), 5);
        assert_eq!(head.as_bytes(), EXAMPLE);
        assert_eq!(
            head.fields().nth(1),
            Some(("Upgrade", &b"websocket"[..])),
            "names as sent, values without the whitespace around them"
        );
        assert_eq!(head.path(), "/chat");
        assert_eq!(head.query(), Some("room=a"));
    }

    #[test]
    fn head_split_at_every_byte_gives_the_same_result() {
        let whole = parse(EXAMPLE).expect("valid").expect("complete");
        for i in 0..EXAMPLE.len() {
            let (first, second) = EXAMPLE.split_at(i);
            let mut received = first.to_vec();
            assert_eq!(parse(&received), Ok(None), "first {i} bytes");
            received.extend_from_slice(second);
            assert_eq!(
                parse(&received).as_ref(),
                Ok(&Some(whole.clone())),
                "split at {i}"
            );
        }
    }

    #[test]
    fn head_arriving_one_byte_at_a_time_is_parsed_once_whole() {
        let mut received = Vec::new();
        let mut result = None;
        for &byte in EXAMPLE {
            assert!(result.is_none(), "parsed before the last byte");
            received.push(byte);
            result = parse(&received).expect("valid so far");
        }
        let (head, len) = result.expect("complete at the last byte");
        assert_eq!(len, EXAMPLE.len());
        assert_eq!(head.header("host"), Some("server.example.com"));
    }

    #[test]
    fn bytes_after_the_head_are_not_consumed() {
        let mut buf = EXAMPLE.to_vec();
        buf.extend_from_slice(b"\x81\x85");
        let (_, len) = parse(&buf).expect("valid").expect("complete");
        assert_eq!(buf.get(len..), Some(&b"\x81\x85"[..]));
    }

    #[test]
    fn header_lookup_is_case_insensitive_trimmed_and_first_wins() {
        let buf = b"GET / HTTP/1.1\r\nX-A: one\r\nx-a:  two \t\r\nX-B: \xff\r\n\r\n";
        let (head, _) = parse(buf).expect("valid").expect("complete");
        assert_eq!(head.header("X-A"), Some("one"));
        assert_eq!(
            head.header_values("x-A").collect::<Vec<_>>(),
            ["one", "two"]
        );
        assert_eq!(head.header("x-b"), None, "not UTF-8");
        assert_eq!(head.header("x-c"), None, "absent");
    }

    #[test]
    fn header_tokens_span_commas_and_lines() {
        let buf = b"GET / HTTP/1.1\r\nConnection: keep-alive, ,Upgrade\r\nConnection: te\r\n\r\n";
        let (head, _) = parse(buf).expect("valid").expect("complete");
        let tokens: Vec<_> = head.header_tokens("connection").collect();
        assert_eq!(tokens, ["keep-alive", "Upgrade", "te"]);
    }

    #[test]
    fn target_without_query_has_no_query() {
        let buf = b"GET /a/b HTTP/1.1\r\n\r\n";
        let (head, _) = parse(buf).expect("valid").expect("complete");
        assert_eq!((head.path(), head.query()), ("/a/b", None));
    }

    #[test]
    fn head_at_the_size_limit_passes_and_one_byte_over_fails() {
        let limits = HeadLimits {
            max_head_bytes: 100,
            max_headers: 4,
        };
        let at_limit = head_of_len(100);
        assert_eq!(at_limit.len(), 100);
        assert!(matches!(
            parse_request_head(&at_limit, &limits),
            Ok(Some((_, 100)))
        ));
        let over = head_of_len(101);
        let too_large = Err(HandshakeError::HeadTooLarge { limit: 100 });
        assert_eq!(parse_request_head(&over, &limits), too_large);
    }

    #[test]
    fn unfinished_head_over_the_size_limit_is_too_large() {
        let limits = HeadLimits {
            max_head_bytes: 100,
            max_headers: 4,
        };
        let unfinished = head_of_len(200);
        assert_eq!(parse_request_head(&unfinished[..100], &limits), Ok(None));
        assert_eq!(
            parse_request_head(&unfinished[..101], &limits),
            Err(HandshakeError::HeadTooLarge { limit: 100 })
        );
    }

    #[test]
    fn head_over_the_header_count_limit_is_refused() {
        let limits = HeadLimits {
            max_head_bytes: 8192,
            max_headers: 2,
        };
        let two = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(matches!(parse_request_head(two, &limits), Ok(Some(_))));
        let three = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let err = parse_request_head(three, &limits).expect_err("three fields");
        assert_eq!(err, HandshakeError::TooManyHeaders { limit: 2 });
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn malformed_heads_are_refused_with_400() {
        let cases: &[(&str, &[u8])] = &[
            (
                "space in header name",
                b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            ),
            ("unknown version", b"GET / HTTP/2.0\r\n\r\n"),
            (
                "not HTTP at all",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            ),
            (
                "control byte in value",
                b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
            ),
        ];
        for (name, bytes) in cases {
            let err = parse(bytes).expect_err(name);
            assert!(
                matches!(err, HandshakeError::MalformedRequest(_)),
                "{name}: {err:?}"
            );
            assert_eq!(err.status(), 400, "{name}");
        }
    }

    #[test]
    fn response_has_status_line_headers_length_and_body() {
        let bytes = response(200, &[("Content-Type", "text/plain")], b"hi");
        let expected = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(String::from_utf8_lossy(&bytes), expected);
    }

    #[test]
    fn informational_and_no_content_responses_have_no_content_length() {
        assert_eq!(
            response_head(101, &[], 0),
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
        );
        assert_eq!(
            response_head(204, &[], 0),
            b"HTTP/1.1 204 No Content\r\n\r\n"
        );
    }

    #[test]
    fn unknown_status_has_an_empty_reason_phrase() {
        assert_eq!(reason_phrase(299), "");
        assert!(response(299, &[], b"").starts_with(b"HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn error_response_carries_status_reason_and_close() {
        let bytes = refusal(&HandshakeError::MissingHost);
        let text = String::from_utf8(bytes).expect("ascii");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(text.ends_with("\r\n\r\nmissing Host header\n"));
        assert!(!text.contains("Sec-WebSocket-Version"));
    }

    #[test]
    fn version_error_response_names_the_supported_version() {
        let text = String::from_utf8(refusal(&HandshakeError::UnsupportedVersion)).expect("ascii");
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn method_error_response_names_the_allowed_method() {
        let text = String::from_utf8(refusal(&HandshakeError::MethodNotGet)).expect("ascii");
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nAllow: GET\r\n"));
    }

    #[test]
    fn error_response_parses_back_with_its_content_length() {
        let bytes = refusal(&HandshakeError::HeadTooLarge { limit: 8192 });
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut parsed = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(len)) = parsed.parse(&bytes) else {
            panic!("unparsable response");
        };
        assert_eq!(parsed.code, Some(431));
        let body = bytes.get(len..).expect("body");
        assert_eq!(body, b"request head is larger than 8192 bytes\n");
        let length = parsed
            .headers
            .iter()
            .find(|h| h.name == "Content-Length")
            .expect("length");
        assert_eq!(length.value, body.len().to_string().as_bytes());
    }

    #[test]
    fn body_length_must_be_unambiguous_rfc_9112_section_6() {
        let cases: &[(&str, &str, Result<(), HandshakeError>)] = &[
            ("no body", "", Ok(())),
            ("one length", "Content-Length: 5\r\n", Ok(())),
            ("zero", "Content-Length: 0\r\n", Ok(())),
            (
                "the same twice",
                "Content-Length: 5\r\ncontent-length: 5\r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
            (
                "the same as a list",
                "Content-Length: 2, 2\r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
            (
                "both",
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                Err(HandshakeError::ContentLengthWithTransferEncoding),
            ),
            (
                "both, other case and order",
                "transfer-encoding: chunked\r\nCONTENT-LENGTH: 5\r\n",
                Err(HandshakeError::ContentLengthWithTransferEncoding),
            ),
            (
                "two lengths",
                "Content-Length: 5\r\nContent-Length: 6\r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
            (
                "a list of two",
                "Content-Length: 5, 6\r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
            (
                "a sign",
                "Content-Length: +5\r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
            (
                "negative",
                "Content-Length: -1\r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
            (
                "empty",
                "Content-Length: \r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
            (
                "hex",
                "Content-Length: 0x5\r\n",
                Err(HandshakeError::InvalidContentLength),
            ),
        ];
        for (what, fields, expected) in cases {
            let request = format!("POST /publish/x HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n");
            let result = parse(request.as_bytes()).map(|_| ());
            assert_eq!(&result, expected, "{what}");
        }
        let refused = refusal(&HandshakeError::ContentLengthWithTransferEncoding);
        let text = String::from_utf8(refused).expect("ascii");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    }

    #[test]
    fn ambiguous_heads_are_refused_with_400_and_a_reason_rfc_9112() {
        let cases: &[(&str, &[u8], &str)] = &[
            (
                "two Host fields",
                b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.test\r\n\r\n",
                "Host",
            ),
            (
                "two Host fields, other case",
                b"GET / HTTP/1.1\r\nHost: a\r\nhOST: a\r\n\r\n",
                "Host",
            ),
            (
                "a Host port of letters",
                b"GET / HTTP/1.1\r\nHost: localhost:http\r\n\r\n",
                "Host",
            ),
            (
                "a Host port over 65535",
                b"GET / HTTP/1.1\r\nHost: localhost:65536\r\n\r\n",
                "Host",
            ),
            (
                "a Host port with a sign",
                b"GET / HTTP/1.1\r\nHost: [::1]:+80\r\n\r\n",
                "Host",
            ),
            (
                "a Host list",
                b"GET / HTTP/1.1\r\nHost: localhost, evil.test\r\n\r\n",
                "Host",
            ),
            (
                "two Origin fields",
                b"GET / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\n\
                  Origin: http://evil.test\r\n\r\n",
                "Origin",
            ),
            (
                "a bare LF after the request line",
                b"GET / HTTP/1.1\nHost: localhost\r\n\r\n",
                "bare LF",
            ),
            (
                "bare LFs throughout",
                b"GET / HTTP/1.1\nHost: localhost\n\n",
                "bare LF",
            ),
        ];
        for (name, bytes, reason) in cases {
            let err = parse(bytes).expect_err(name);
            assert!(
                matches!(err, HandshakeError::MalformedRequest(_)),
                "{name}: {err:?}"
            );
            assert_eq!(err.status(), 400, "{name}");
            assert!(err.to_string().contains(reason), "{name}: {err}");
        }
        let fine: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: localhost:65535\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\nOrigin: http://[::1]:8080\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
        ];
        for bytes in fine {
            assert!(
                matches!(parse(bytes), Ok(Some(_))),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn host_splits_into_name_and_port_rfc_9110_section_7_2() {
        let cases = [
            ("localhost", ("localhost", None)),
            ("localhost:8080", ("localhost", Some("8080"))),
            ("127.0.0.1:80", ("127.0.0.1", Some("80"))),
            ("[::1]", ("[::1]", None)),
            ("[::1]:8080", ("[::1]", Some("8080"))),
            ("example.com:", ("example.com", Some(""))),
            ("[::1", ("[::1", None)),
            ("", ("", None)),
        ];
        for (authority, expected) in cases {
            assert_eq!(split_host_port(authority), expected, "{authority:?}");
        }
    }
}
