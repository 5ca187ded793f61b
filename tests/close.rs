//! Every protocol rule a client can break after the handshake, over real sockets with
//! hand-built frames: the server answers with a Close frame carrying the rule's code (§7.4.1)
//! and a reason naming it, then closes TCP (§7.1.7), and goes on serving everyone else.

mod support;

use support::{masked_frame, RawClient, RawFrame, TestServer, KEY};

/// Bit 6 of the first header byte: RSV1 (§5.2).
const RSV1: u8 = 0x40;

/// A Close frame payload: `code`, then `reason`.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// Bytes of a masked frame `(fin, opcode, payload)`, concatenated.
fn frames(list: &[(bool, u8, &[u8])]) -> Vec<u8> {
    list.iter()
        .flat_map(|(fin, opcode, payload)| masked_frame(*fin, *opcode, payload))
        .collect()
}

/// The header of a masked frame (everything before its payload), for sending a frame in part.
fn header_of(fin: bool, opcode: u8, payload_len: usize) -> Vec<u8> {
    let whole = masked_frame(fin, opcode, &vec![0; payload_len]);
    whole[..whole.len() - payload_len].to_vec()
}

/// Asserts `close` is a Close frame with `code` whose reason is a short UTF-8 sentence naming
/// the rule: it holds `section` (such as `§5.1`) or `keyword` (case-insensitively).
fn assert_close_names_rule(close: &RawFrame, code: u16, section: &str, keyword: &str, what: &str) {
    assert_eq!(close.opcode, 0x8, "{what}: {close:?}");
    assert_eq!(close.close_code(), Some(code), "{what}: {close:?}");
    let reason = std::str::from_utf8(&close.payload[2..])
        .unwrap_or_else(|_| panic!("{what}: close reason is not UTF-8: {close:?}"));
    assert!(!reason.is_empty(), "{what}: empty close reason");
    assert!(
        reason.len() <= 123,
        "{what}: reason of {} bytes",
        reason.len()
    );
    assert!(
        reason.contains(section) || reason.to_lowercase().contains(keyword),
        "{what}: reason {reason:?} names neither {section:?} nor {keyword:?}"
    );
}

/// Connects to `/echo`, sends `bytes`, and asserts the answer is a Close frame with `code`
/// naming the rule, followed by the server closing TCP.
fn assert_failed_with(
    server: &TestServer,
    bytes: &[u8],
    code: u16,
    section: &str,
    keyword: &str,
    what: &str,
) {
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_raw(bytes);
    let close = client.expect_close();
    assert_close_names_rule(&close, code, section, keyword, what);
    client.expect_eof();
}

#[test]
fn framing_violations_are_answered_1002_naming_the_rule_then_tcp_closes() {
    let server = TestServer::start();
    let unmasked = b"\x81\x05Hello".to_vec();
    let mut rsv1 = masked_frame(true, 0x1, b"Hello");
    rsv1[0] |= RSV1;
    let cases: &[(&str, Vec<u8>, &str, &str)] = &[
        ("unmasked frame", unmasked, "§5.1", "mask"),
        ("RSV1 set", rsv1, "§5.2", "reserved bits"),
        (
            "reserved opcode 0x3",
            masked_frame(true, 0x3, b"x"),
            "§5.2",
            "reserved opcode",
        ),
        (
            "reserved opcode 0xB",
            masked_frame(true, 0xB, b"x"),
            "§5.2",
            "reserved opcode",
        ),
        (
            "fragmented ping",
            masked_frame(false, 0x9, b"ping"),
            "§5.5",
            "fragmented",
        ),
        (
            "ping of 126 bytes",
            masked_frame(true, 0x9, &[b'p'; 126]),
            "§5.5",
            "125",
        ),
        (
            "continuation without a start",
            masked_frame(true, 0x0, b"lo"),
            "§5.4",
            "continuation",
        ),
        (
            "text frame inside a fragmented message",
            frames(&[(false, 0x1, b"Hel"), (true, 0x1, b"lo")]),
            "§5.4",
            "fragmented message",
        ),
        (
            "close payload of one byte",
            masked_frame(true, 0x8, b"\x03"),
            "§5.5.1",
            "one byte",
        ),
    ];
    for (what, bytes, section, keyword) in cases {
        assert_failed_with(&server, bytes, 1002, section, keyword, what);
    }
}

#[test]
fn close_codes_that_must_not_be_sent_are_answered_1002() {
    let server = TestServer::start();
    for code in [1005, 1006, 1015, 999, 1016, 2999, 5000] {
        let bytes = masked_frame(true, 0x8, &close_payload(code, b""));
        let what = format!("close code {code}");
        assert_failed_with(&server, &bytes, 1002, "§7.4", &code.to_string(), &what);
    }
}

#[test]
fn valid_close_codes_are_echoed_and_tcp_closes() {
    let server = TestServer::start();
    for code in [1000, 3000, 4999] {
        let mut client = RawClient::connect(server.addr, "/echo");
        client.send_frame(true, 0x8, &close_payload(code, b"done"));
        let close = client.expect_close();
        assert_eq!(
            close.close_code(),
            Some(code),
            "close code {code}: {close:?}"
        );
        client.expect_eof();
    }
}

#[test]
fn close_reason_that_is_not_utf8_is_answered_1007() {
    let server = TestServer::start();
    let bytes = masked_frame(true, 0x8, &close_payload(1000, b"bad \xff reason"));
    assert_failed_with(&server, &bytes, 1007, "§8.1", "utf-8", "close reason");
}

#[test]
fn text_that_is_not_utf8_is_answered_1007() {
    let server = TestServer::start();
    let cases: &[(&str, Vec<u8>)] = &[
        ("one frame", masked_frame(true, 0x1, b"Hello \xff")),
        (
            "ends inside a character",
            masked_frame(true, 0x1, b"caf\xc3"),
        ),
        (
            "bad byte in the second fragment",
            frames(&[(false, 0x1, b"Hello"), (true, 0x0, b"\xc0\xaf")]),
        ),
    ];
    for (what, bytes) in cases {
        assert_failed_with(&server, bytes, 1007, "§8.1", "utf-8", what);
    }
}

#[test]
fn invalid_utf8_is_answered_1007_before_the_rest_of_its_frame_arrives() {
    let server = TestServer::start();
    let mut payload = b"ab\xffcdefghij".to_vec();
    payload.extend(vec![b'k'; 100]);
    let frame = masked_frame(true, 0x1, &payload);
    let header_len = frame.len() - payload.len();
    let mut client = RawClient::connect(server.addr, "/echo");
    // The header and the first three payload bytes (the third is 0xFF); the rest is held back,
    // so the server can only answer if it validates as bytes arrive (§8.1, fail fast).
    client.send_raw(&frame[..header_len + 3]);
    let close = client.expect_close();
    assert_close_names_rule(&close, 1007, "§8.1", "utf-8", "partial frame");
    client.expect_eof();
}

#[test]
fn message_over_the_size_limit_is_answered_1009_from_its_header_alone() {
    let server = TestServer::with(|c| c.limits.max_message_size = 1000);
    let mut client = RawClient::connect(server.addr, "/echo");
    // Only the header announcing 1001 bytes: no payload follows.
    client.send_raw(&header_of(true, 0x1, 1001));
    let close = client.expect_close();
    assert_close_names_rule(&close, 1009, "§10.4", "1000", "header of 1001 bytes");
    client.expect_eof();
}

#[test]
fn fragmented_message_growing_over_the_size_limit_is_answered_1009() {
    let server = TestServer::with(|c| c.limits.max_message_size = 1000);
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_frame(false, 0x1, &[b'a'; 600]);
    // The second fragment's header alone takes the message to 1200 bytes.
    client.send_raw(&header_of(true, 0x0, 600));
    let close = client.expect_close();
    assert_close_names_rule(&close, 1009, "§10.4", "1000", "600 + 600 bytes");
    client.expect_eof();
}

#[test]
fn message_of_exactly_the_size_limit_is_echoed() {
    let server = TestServer::with(|c| c.limits.max_message_size = 1000);
    let mut client = RawClient::connect(server.addr, "/echo");
    let text = "a".repeat(1000);
    client.send_text(&text);
    assert_eq!(client.read_text(), text);
    let halves = "b".repeat(500);
    client.send_frame(false, 0x1, halves.as_bytes());
    client.send_frame(true, 0x0, halves.as_bytes());
    assert_eq!(client.read_text(), halves.repeat(2));
}

#[test]
fn frame_over_the_frame_limit_is_answered_1009_and_one_at_it_is_echoed() {
    let server = TestServer::with(|c| c.limits.max_frame_size = 1000);
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_frame(true, 0x2, &[7; 1000]);
    let echo = client.read_frame();
    assert_eq!((echo.opcode, echo.payload.len()), (0x2, 1000), "{echo:?}");
    client.send_raw(&header_of(true, 0x2, 1001));
    let close = client.expect_close();
    assert_close_names_rule(&close, 1009, "§10.4", "1000", "frame of 1001 bytes");
    client.expect_eof();
}

#[test]
fn header_announcing_2_pow_63_minus_1_bytes_is_answered_1009_at_once() {
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");
    let mut header = vec![0x82, 0x80 | 127];
    header.extend((i64::MAX as u64).to_be_bytes());
    header.extend(KEY);
    client.send_raw(&header);
    let close = client.expect_close();
    assert_close_names_rule(&close, 1009, "§10.4", "limit", "2^63-1 bytes");
    client.expect_eof();
}

#[test]
fn more_fragments_than_the_limit_are_answered_1008_and_the_limit_passes() {
    let server = TestServer::with(|c| c.limits.max_fragments = 4);
    let mut client = RawClient::connect(server.addr, "/echo");
    let four = frames(&[
        (false, 0x1, b"a"),
        (false, 0x0, b"b"),
        (false, 0x0, b"c"),
        (true, 0x0, b"d"),
    ]);
    client.send_raw(&four);
    assert_eq!(client.read_text(), "abcd");
    let five = frames(&[
        (false, 0x1, b"a"),
        (false, 0x0, b"b"),
        (false, 0x0, b"c"),
        (false, 0x0, b"d"),
        (true, 0x0, b"e"),
    ]);
    client.send_raw(&five);
    let close = client.expect_close();
    assert_close_names_rule(&close, 1008, "§10.4", "fragments", "five fragments");
    client.expect_eof();
}

#[test]
fn ping_is_answered_with_a_pong_of_the_same_payload() {
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");
    for payload in [&b""[..], b"ping!", &[0xA5; 125]] {
        client.send_frame(true, 0x9, payload);
        let pong = client.read_frame();
        assert_eq!((pong.fin, pong.opcode), (true, 0xA), "{pong:?}");
        assert_eq!(pong.payload, payload);
    }
}

#[test]
fn server_keeps_serving_others_after_failing_a_connection() {
    let server = TestServer::start();
    let mut bad = RawClient::connect(server.addr, "/echo");
    bad.send_raw(b"\x81\x05Hello");
    assert_eq!(bad.expect_close().close_code(), Some(1002));
    bad.expect_eof();
    let mut good = RawClient::connect(server.addr, "/echo");
    good.send_text("still here");
    assert_eq!(good.read_text(), "still here");
}
