//! `/echo` over real sockets: the independent client (tungstenite) and the raw client.

mod support;

use support::{RawClient, TestServer};
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
