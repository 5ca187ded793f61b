//! The opening handshake (RFC 6455 §4.2) over raw TCP: the §1.3 example, a head that trickles
//! in, every refusal with its status and one-line reason, the head limits at their edges, the
//! handshake timeout and the origin policy.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{http_exchange, status_of, upgrade_request, TestServer, TIMEOUT};

/// `Sec-WebSocket-Accept` for §1.3's key `dGhlIHNhbXBsZSBub25jZQ==`.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The header fields of a valid upgrade request, in the order [`upgrade_request`] sends them.
const FIELDS: [(&str, &str); 5] = [
    ("Host", "localhost"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
];

/// A request head: `line`, then the valid fields with `field` replaced by `value` (or dropped
/// when `value` is `None`; `field` may also be new, then `value` is added at the end).
fn request_with(line: &str, field: &str, value: Option<&str>) -> String {
    let mut head = format!("{line}\r\n");
    for (name, default) in FIELDS {
        if !name.eq_ignore_ascii_case(field) {
            head.push_str(&format!("{name}: {default}\r\n"));
        }
    }
    if let Some(value) = value {
        head.push_str(&format!("{field}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Connects, sends `request` and reads the answer's head (up to the blank line) within
/// [`TIMEOUT`]. The connection is dropped afterwards.
fn answer_head(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(request).expect("write request");
    read_head(&mut stream)
}

/// Reads until `\r\n\r\n` (or EOF); panics if the server stays silent for [`TIMEOUT`].
fn read_head(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => answer.push(byte[0]),
            Err(e) => panic!("no answer head within {TIMEOUT:?}: {e}; got {answer:?}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The value of header field `name` in an answer head (case-insensitive name).
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .eq_ignore_ascii_case(name)
            .then_some(value.trim_matches([' ', '\t']))
    })
}

/// The body of an answer: everything after the blank line.
fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// Asserts `answer` is a switching-protocols answer carrying §1.3's accept key.
fn assert_upgraded(answer: &str, what: &str) {
    assert!(
        answer.starts_with("HTTP/1.1 101 "),
        "{what}: expected 101, got {answer:?}"
    );
    assert_eq!(
        header(answer, "Sec-WebSocket-Accept"),
        Some(ACCEPT),
        "{what}"
    );
    assert!(
        header(answer, "Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
        "{what}: {answer:?}"
    );
    assert!(
        header(answer, "Connection").is_some_and(|v| v.eq_ignore_ascii_case("upgrade")),
        "{what}: {answer:?}"
    );
}

/// Asserts `answer` refuses with `status`, a body of one non-empty line mentioning `keyword`
/// (case-insensitively), a matching `Content-Length`, and that the server closed afterwards
/// (the answer is whole: [`http_exchange`] read to EOF).
fn assert_refused(answer: &str, status: u16, keyword: &str, what: &str) {
    assert_eq!(status_of(answer), status, "{what}: {answer:?}");
    let body = body(answer);
    let line = body.strip_suffix('\n').unwrap_or(body);
    assert!(
        !line.trim().is_empty() && !line.contains('\n'),
        "{what}: body is not one line: {body:?}"
    );
    assert!(
        line.to_lowercase().contains(&keyword.to_lowercase()),
        "{what}: reason {line:?} does not mention {keyword:?}"
    );
    assert_eq!(
        header(answer, "Content-Length").and_then(|v| v.parse::<usize>().ok()),
        Some(body.len()),
        "{what}: {answer:?}"
    );
}

/// A valid upgrade request to `/echo` padded with an `X-Pad` field to exactly `len` bytes.
fn upgrade_of_len(len: usize) -> String {
    let base = upgrade_request("/echo", "X-Pad: \r\n").len();
    let padding = "a".repeat(len - base);
    let request = upgrade_request("/echo", &format!("X-Pad: {padding}\r\n"));
    assert_eq!(request.len(), len);
    request
}

/// A valid upgrade request to `/echo` with exactly `count` header fields.
fn upgrade_with_fields(count: usize) -> String {
    let extra: String = (FIELDS.len()..count)
        .map(|i| format!("X-Field-{i}: {i}\r\n"))
        .collect();
    upgrade_request("/echo", &extra)
}

#[test]
fn rfc_section_1_3_example_is_answered_101_with_its_accept_key() {
    // The request of §1.3 byte for byte, Origin included (so that origin is allowed here).
    // Its Host is not a name of a loopback server, so it is listed too (no DNS rebinding).
    let server = TestServer::with(|c| {
        c.allowed_origins = vec!["http://example.com".into()];
        c.allowed_hosts = vec!["server.example.com".into()];
    });
    let request = "GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\
        \r\n";
    let answer = answer_head(server.addr, request.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{answer:?}"
    );
    assert!(
        answer.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{answer:?}"
    );
    assert_upgraded(&answer, "§1.3");
    assert_eq!(header(&answer, "Content-Length"), None, "a 101 has no body");
}

#[test]
fn request_head_arriving_one_byte_at_a_time_still_upgrades() {
    let server = TestServer::start();
    let request = upgrade_request("/echo", "");
    let (last, most) = request.as_bytes().split_last().expect("non-empty");
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    for byte in most {
        stream.write_all(&[*byte]).expect("write one byte");
        stream.flush().expect("flush");
    }
    // All but the last byte: the head is not whole, so there must be no answer yet.
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut probe = [0u8; 1];
    match stream.read(&mut probe) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("server answered an unfinished head: {other:?} {probe:?}"),
    }
    stream.write_all(&[*last]).expect("write the last byte");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    assert_upgraded(&read_head(&mut stream), "byte by byte");
}

/// (what, request line, field to replace, its new value or `None` to drop it, status, a word
/// the reason must hold).
type Refusal = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    u16,
    &'static str,
);

#[test]
fn each_broken_handshake_rule_is_refused_with_its_status_and_a_one_line_reason() {
    let server = TestServer::start();
    let get = "GET /echo HTTP/1.1";
    let cases: &[Refusal] = &[
        ("POST", "POST /echo HTTP/1.1", "", None, 405, "GET"),
        ("HTTP/1.0", "GET /echo HTTP/1.0", "", None, 505, "HTTP/1.1"),
        ("no Host", get, "Host", None, 400, "Host"),
        ("Upgrade h2c", get, "Upgrade", Some("h2c"), 400, "Upgrade"),
        (
            "Connection keep-alive",
            get,
            "Connection",
            Some("keep-alive"),
            400,
            "Connection",
        ),
        (
            "version 8",
            get,
            "Sec-WebSocket-Version",
            Some("8"),
            426,
            "13",
        ),
        (
            "key of 15 bytes",
            get,
            "Sec-WebSocket-Key",
            Some("AAAAAAAAAAAAAAAAAAAA"),
            400,
            "Sec-WebSocket-Key",
        ),
        (
            "unknown path",
            "GET /nope HTTP/1.1",
            "",
            None,
            404,
            "endpoint",
        ),
    ];
    for (what, line, field, value, status, keyword) in cases {
        let request = request_with(line, field, *value);
        let answer = http_exchange(server.addr, request.as_bytes());
        assert_refused(&answer, *status, keyword, what);
    }
}

#[test]
fn method_not_allowed_names_get_in_allow() {
    let server = TestServer::start();
    let request = request_with("POST /echo HTTP/1.1", "", None);
    let answer = http_exchange(server.addr, request.as_bytes());
    assert_eq!(status_of(&answer), 405, "{answer:?}");
    assert_eq!(header(&answer, "Allow"), Some("GET"), "{answer:?}");
}

#[test]
fn version_8_is_answered_426_with_sec_websocket_version_13() {
    let server = TestServer::start();
    let request = request_with("GET /echo HTTP/1.1", "Sec-WebSocket-Version", Some("8"));
    let answer = http_exchange(server.addr, request.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{answer:?}"
    );
    assert_eq!(header(&answer, "Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn connection_lists_and_mixed_case_upgrade_tokens_are_accepted() {
    let server = TestServer::start();
    let get = "GET /echo HTTP/1.1";
    let cases = [
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "WebSocket"),
    ];
    for (field, value) in cases {
        let request = request_with(get, field, Some(value));
        let answer = answer_head(server.addr, request.as_bytes());
        assert_upgraded(&answer, &format!("{field}: {value}"));
    }
}

#[test]
fn head_over_8_kib_is_refused_431_and_one_at_the_limit_upgrades() {
    let server = TestServer::start();
    let at_limit = upgrade_of_len(8192);
    assert_upgraded(&answer_head(server.addr, at_limit.as_bytes()), "8192 bytes");
    for len in [8193, 9000] {
        let answer = http_exchange(server.addr, upgrade_of_len(len).as_bytes());
        assert_refused(&answer, 431, "8192", &format!("{len} bytes"));
    }
}

#[test]
fn configured_head_limit_passes_a_head_at_it_and_refuses_one_byte_over() {
    let server = TestServer::with(|c| c.head_limits.max_head_bytes = 1024);
    for len in [1000, 1024] {
        let answer = answer_head(server.addr, upgrade_of_len(len).as_bytes());
        assert_upgraded(&answer, &format!("{len} bytes"));
    }
    for len in [1025, 1100] {
        let answer = http_exchange(server.addr, upgrade_of_len(len).as_bytes());
        assert_refused(&answer, 431, "1024", &format!("{len} bytes"));
    }
}

#[test]
fn more_than_64_header_fields_are_refused_431_and_64_upgrade() {
    let server = TestServer::start();
    let answer = answer_head(server.addr, upgrade_with_fields(64).as_bytes());
    assert_upgraded(&answer, "64 fields");
    let answer = http_exchange(server.addr, upgrade_with_fields(65).as_bytes());
    assert_refused(&answer, 431, "64", "65 fields");
}

#[test]
fn half_a_head_is_answered_408_after_the_handshake_timeout_and_then_closed() {
    let timeout = Duration::from_millis(300);
    let server = TestServer::with(|c| c.handshake_timeout = timeout);
    let request = upgrade_request("/echo", "");
    let half = &request.as_bytes()[..request.len() / 2];
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(half).expect("write half a head");
    let mut answer = Vec::new();
    // `read_to_end` ends with Ok only at EOF; a read timeout is an error.
    stream
        .read_to_end(&mut answer)
        .expect("server closes the connection after its 408 (EOF within 5 s)");
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert_refused(&answer, 408, "time", "half a head");
    assert!(
        elapsed >= timeout,
        "408 came after {elapsed:?}, before the {timeout:?} timeout"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "408 came only after {elapsed:?}"
    );
}

#[test]
fn forged_origin_is_refused_403() {
    let server = TestServer::start();
    let request = upgrade_request("/echo", "Origin: http://evil.example\r\n");
    let answer = http_exchange(server.addr, request.as_bytes());
    assert_refused(&answer, 403, "origin", "evil origin");
}

#[test]
fn same_origin_no_origin_and_allowed_origins_upgrade() {
    let server = TestServer::with(|c| c.allowed_origins = vec!["http://app.example".into()]);
    let cases = [
        ("same origin", "Origin: http://localhost\r\n"),
        ("no origin", ""),
        ("allowed origin", "Origin: http://app.example\r\n"),
    ];
    for (what, extra) in cases {
        let answer = answer_head(server.addr, upgrade_request("/echo", extra).as_bytes());
        assert_upgraded(&answer, what);
    }
    // The list allows its entries, not everyone.
    let evil = upgrade_request("/echo", "Origin: http://evil.example\r\n");
    let answer = http_exchange(server.addr, evil.as_bytes());
    assert_refused(&answer, 403, "origin", "evil origin beside an allowed one");
}
