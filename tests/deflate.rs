//! permessage-deflate (RFC 7692) against the real server over real sockets: what the 101
//! answers to each offer, `--deflate off`, compressed echo and broadcast (the same bytes to
//! every recipient), and the zip bomb closed with 1009.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use support::{upgrade_request, TestServer, KEY, TIMEOUT};
use wsmith::protocol::deflate::{Deflater, Params};
use wsmith::protocol::frame::{encode_frame_with, parse_header, FrameHeader};
use wsmith::protocol::handshake::check_response_with;
use wsmith::protocol::{Connection, Event, Limits, Message, Opcode};

/// Opens `path` offering `extensions` (a whole header line, or none); returns the socket, the
/// response head, the agreed parameters and the bytes read past the head.
fn open(
    addr: SocketAddr,
    path: &str,
    extensions: &str,
) -> (TcpStream, String, Option<Params>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let request = upgrade_request(path, extensions);
    stream.write_all(request.as_bytes()).expect("handshake");
    let mut received = Vec::new();
    loop {
        let checked = check_response_with(&received, "dGhlIHNhbXBsZSBub25jZQ==", &[], true);
        if let Some(accepted) = checked.expect("a valid 101") {
            let rest = received.split_off(accepted.len);
            let head = String::from_utf8_lossy(&received).into_owned();
            return (stream, head, accepted.deflate, rest);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).expect("read the 101");
        assert!(n > 0, "closed during the handshake");
        received.extend_from_slice(&chunk[..n]);
    }
}

/// The server's next whole frame, raw: header fields and payload as on the wire.
fn read_raw_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> (u8, Vec<u8>) {
    loop {
        if let Some(raw) = parse_header(buf) {
            let end = raw.header_len + raw.payload_len as usize;
            if buf.len() >= end {
                let frame: Vec<u8> = buf.drain(..end).collect();
                return (frame[0], frame[raw.header_len..].to_vec());
            }
        }
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).expect("read a frame");
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn compressed_text_frame(text: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        rsv1: true,
        masking_key: Some(KEY),
        ..FrameHeader::new(Opcode::Text, 0)
    };
    encode_frame_with(header, &Deflater::new(15, false).compress(text))
}

#[test]
fn each_offer_gets_its_exact_answer_in_the_101() {
    let server = TestServer::start();
    let cases = [
        // Chrome, Firefox.
        (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        (
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        // Two lines, the first offer malformed: the second is taken.
        (
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n",
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
        ),
        // Only malformed offers, or bad syntax: no extension, and the upgrade still succeeds.
        (
            "Sec-WebSocket-Extensions: permessage-deflate; bogus_parameter\r\n",
            None,
        ),
        (
            "Sec-WebSocket-Extensions: permessage-deflate; x=\"a b\"\r\n",
            None,
        ),
        ("", None),
    ];
    for (offer, answer) in cases {
        let (_, head, agreed, _) = open(server.addr, "/echo", offer);
        let line = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "));
        assert_eq!(line, answer, "{offer:?}");
        assert_eq!(agreed.is_some(), answer.is_some(), "{offer:?}");
    }
}

#[test]
fn deflate_off_declines_every_offer_and_rsv1_then_fails_with_1002() {
    let server = TestServer::with(|config| config.deflate = false);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let (mut stream, head, agreed, mut buf) = open(server.addr, "/echo", offer);
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    assert_eq!(agreed, None);
    stream
        .write_all(&compressed_text_frame(b"Hello"))
        .expect("write");
    let (byte0, payload) = read_raw_frame(&mut stream, &mut buf);
    assert_eq!(byte0, 0x88);
    assert_eq!(&payload[..2], &1002u16.to_be_bytes());
}

#[test]
fn echo_inflates_what_the_client_compressed_and_compresses_the_reply() {
    let server = TestServer::start();
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (mut stream, _, agreed, mut buf) = open(server.addr, "/echo", offer);
    let params = agreed.expect("agreed");
    let text = "chat message {\"type\":\"message\",\"text\":\"hello\"} ".repeat(20);
    // The client keeps its context across messages (RFC 7692 §7.2.3.2): one compressor.
    let mut client =
        Connection::client(Limits::default(), Box::new(|| KEY)).with_deflate(params, 0);
    for _ in 0..3 {
        client.send_message(&Message::Text(text.clone()));
        stream.write_all(&client.take_output()).expect("write");
        let (byte0, payload) = read_raw_frame(&mut stream, &mut buf);
        assert_eq!(byte0, 0xc1, "FIN, RSV1, Text");
        assert!(payload.len() < text.len() / 4, "{} bytes", payload.len());
        let mut frame = vec![byte0, payload.len() as u8];
        if payload.len() >= 126 {
            frame = vec![byte0, 126];
            frame.extend((payload.len() as u16).to_be_bytes());
        }
        frame.extend(&payload);
        client.receive_data(&frame);
        assert_eq!(
            client.next_event(),
            Some(Event::Message(Message::Text(text.clone())))
        );
    }
}

#[test]
fn a_broadcast_is_compressed_once_and_every_recipient_gets_the_same_bytes() {
    let server = TestServer::start();
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let (mut a, _, _, mut a_buf) = open(server.addr, "/broadcast", offer);
    let (mut b, _, _, mut b_buf) = open(server.addr, "/broadcast", offer);
    server.wait_for_hub_clients(2);
    let text = "the same news for everyone; ".repeat(40);
    a.write_all(&compressed_text_frame(text.as_bytes()))
        .expect("write");
    let (a_byte0, a_payload) = read_raw_frame(&mut a, &mut a_buf);
    let (b_byte0, b_payload) = read_raw_frame(&mut b, &mut b_buf);
    assert_eq!((a_byte0, b_byte0), (0xc1, 0xc1));
    assert_eq!(a_payload, b_payload, "one compressed copy for both");
    let mut inflater = wsmith::protocol::deflate::Inflater::new(true);
    let mut out = Vec::new();
    inflater
        .inflate(&a_payload, &mut out, 1 << 20, &mut |_| Ok(()))
        .expect("inflate");
    inflater
        .finish_message(&mut out, 1 << 20, &mut |_| Ok(()))
        .expect("tail");
    assert_eq!(out, text.as_bytes());
}

#[test]
fn a_zip_bomb_is_closed_with_1009_and_the_server_keeps_serving() {
    let server = TestServer::with(|config| config.limits.max_message_size = 1 << 20);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let (mut stream, _, _, mut buf) = open(server.addr, "/echo", offer);
    // 16 MiB of zeros in about 16 KiB: 16 times the message limit once inflated.
    let bomb = Deflater::new(15, true).compress(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 1 << 15);
    let header = FrameHeader {
        rsv1: true,
        masking_key: Some(KEY),
        ..FrameHeader::new(Opcode::Binary, 0)
    };
    stream
        .write_all(&encode_frame_with(header, &bomb))
        .expect("write");
    let (byte0, payload) = read_raw_frame(&mut stream, &mut buf);
    assert_eq!(byte0, 0x88, "a Close frame");
    assert_eq!(&payload[..2], &1009u16.to_be_bytes());
    // Someone else is served as before.
    let (mut other, _, _, mut other_buf) = open(server.addr, "/echo", offer);
    other
        .write_all(&compressed_text_frame(b"still here"))
        .expect("write");
    let (byte0, payload) = read_raw_frame(&mut other, &mut other_buf);
    assert_eq!((byte0, payload), (0x81, b"still here".to_vec()));
}
