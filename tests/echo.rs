//! `/echo` over real sockets: the independent client (tungstenite) and the raw client.

mod support;

use std::io::Write;

use support::{masked_frame, RawClient, TestServer};
use tungstenite::Message;

#[test]
fn tungstenite_client_gets_text_and_binary_echoed_verbatim() {
    let server = TestServer::start();
    let (mut ws, response) = tungstenite::connect(server.ws_url("/echo")).expect("handshake");
    assert_eq!(response.status(), 101);
    for message in [
        Message::text("Hello"),
        Message::text("κόσμε 𝄞"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(vec![7u8; 70_000]),
        Message::text(""),
    ] {
        ws.send(message.clone()).expect("send");
        assert_eq!(ws.read().expect("echo"), message);
    }
    ws.close(None).expect("close");
}

#[test]
fn fragmented_message_with_a_ping_inside_is_echoed_whole_after_the_pong() {
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_frame(false, 0x1, b"Hel");
    client.send_frame(true, 0x9, b"ping!");
    client.send_frame(true, 0x0, b"lo");
    let pong = client.read_frame();
    assert_eq!((pong.opcode, pong.payload.as_slice()), (0xA, &b"ping!"[..]));
    let echo = client.read_frame();
    assert_eq!(
        (echo.fin, echo.opcode, echo.text()),
        (true, 0x1, "Hello".to_string())
    );
}

#[test]
fn close_handshake_echoes_the_code_and_closes_tcp() {
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_frame(true, 0x8, b"\x03\xe8bye");
    let close = client.expect_close();
    assert_eq!(close.close_code(), Some(1000));
    client.expect_eof();
}

/// Bytes that differ from one position to the next, so a misplaced or unmasked byte shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Payloads past 64 KiB are read straight into their message (no read buffer in between):
/// a Binary one over several reads, a Text one, a fragmented one with a Ping between its
/// fragments, each followed in the same write by a small message, come back verbatim.
#[test]
fn large_messages_read_straight_into_the_message_are_echoed_verbatim() {
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");

    let binary = pattern(3 * 1024 * 1024 + 5);
    let mut bytes = masked_frame(true, 0x2, &binary);
    bytes.extend(masked_frame(true, 0x1, b"small after"));
    client.send_raw(&bytes);
    let echo = client.read_frame();
    assert_eq!(
        (echo.fin, echo.opcode, echo.payload.len()),
        (true, 0x2, binary.len())
    );
    assert!(echo.payload == binary, "the binary echo differs");
    assert_eq!(client.read_text(), "small after");

    let text = "κόσμε 𝄞 ".repeat(20_000);
    let mut bytes = masked_frame(true, 0x1, text.as_bytes());
    bytes.extend(masked_frame(true, 0x2, &[9, 8, 7]));
    client.send_raw(&bytes);
    assert_eq!(client.read_text(), text);
    let small = client.read_frame();
    assert_eq!((small.opcode, small.payload), (0x2, vec![9, 8, 7]));

    let fragments = pattern(300_001);
    let (first, second) = fragments.split_at(100_003);
    let mut bytes = masked_frame(false, 0x2, first);
    bytes.extend(masked_frame(true, 0x9, b"in between"));
    bytes.extend(masked_frame(true, 0x0, second));
    client.send_raw(&bytes);
    let pong = client.read_frame();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (0xA, &b"in between"[..])
    );
    let echo = client.read_frame();
    assert_eq!((echo.fin, echo.opcode), (true, 0x2));
    assert!(echo.payload == fragments, "the reassembled echo differs");
}

/// Replies larger than the socket's buffers, while the client is still sending: three 6 MiB
/// messages back to back, with a Ping and a small message after the first, all come back
/// whole and in order (the Pong may come anywhere between frames, §5.5.3).
#[test]
fn replies_larger_than_the_send_buffer_come_back_in_order_while_the_client_sends() {
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");
    let messages: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let mut payload = pattern(6 * 1024 * 1024 + i);
            payload[0] = i as u8;
            payload
        })
        .collect();
    let mut bytes = masked_frame(true, 0x2, &messages[0]);
    bytes.extend(masked_frame(true, 0x9, b"after the first"));
    bytes.extend(masked_frame(true, 0x1, b"small"));
    for payload in &messages[1..] {
        bytes.extend(masked_frame(true, 0x2, payload));
    }
    let mut sender = client.stream.try_clone().expect("clone");
    std::thread::scope(|scope| {
        // Sends while this thread reads, so neither side's buffers need to hold it all.
        scope.spawn(move || sender.write_all(&bytes).expect("send"));
        let mut data = Vec::new();
        let mut pongs = 0;
        while data.len() < 4 {
            let frame = client.read_frame();
            match frame.opcode {
                0xA => {
                    assert_eq!(frame.payload, b"after the first");
                    pongs += 1;
                }
                _ => data.push(frame),
            }
        }
        assert_eq!(pongs, 1);
        assert!(
            data[0].opcode == 0x2 && data[0].payload == messages[0],
            "first"
        );
        assert_eq!(
            (data[1].opcode, data[1].payload.as_slice()),
            (0x1, &b"small"[..])
        );
        for (echo, payload) in data[2..].iter().zip(&messages[1..]) {
            assert!(echo.fin && echo.opcode == 0x2, "{}", echo.opcode);
            assert!(echo.payload == *payload, "a later echo differs");
        }
    });
}

/// Invalid UTF-8 deep inside a large Text frame read straight into its message: Close 1007
/// (§8.1), and the server goes on serving others.
#[test]
fn invalid_utf8_deep_in_a_large_text_frame_closes_with_1007() {
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");
    let mut payload = "é".repeat(300_000).into_bytes();
    payload[500_001] = 0xff;
    client.send_raw(&masked_frame(true, 0x1, &payload));
    let close = client.expect_close();
    assert_eq!(close.close_code(), Some(1007));
    let mut other = RawClient::connect(server.addr, "/echo");
    other.send_text("still here");
    assert_eq!(other.read_text(), "still here");
}
