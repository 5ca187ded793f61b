//! The Inspector over real sockets: the frames it explains (text, binary, fragmented, ping,
//! close, 16- and 64-bit lengths), the handshake steps, close records for each cause, and who
//! may watch what.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{masked_frame, RawClient, TestServer};

/// An inspector watching the connection opened at `path` with `tap=tok`.
fn watched(server: &TestServer, path: &str) -> (RawClient, RawClient) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let client = RawClient::connect(server.addr, &format!("{path}{sep}tap=tok"));
    let mut inspector = RawClient::connect(server.addr, "/inspect");
    inspector.send_text(r#"{"type":"watch","tap":"tok"}"#);
    let attached = next_event(&mut inspector);
    assert_eq!(attached["type"], "attached", "{attached}");
    (client, inspector)
}

fn next_event(inspector: &mut RawClient) -> Value {
    serde_json::from_str(&inspector.read_text()).expect("inspector events are JSON")
}

/// The next event of `kind` (skipping others).
fn next_of(inspector: &mut RawClient, kind: &str) -> Value {
    loop {
        let event = next_event(inspector);
        if event["type"] == kind {
            return event;
        }
    }
}

fn next_frame(inspector: &mut RawClient, dir: &str) -> Value {
    loop {
        let frame = next_of(inspector, "frame");
        if frame["dir"] == dir {
            return frame;
        }
    }
}

#[test]
fn attached_event_shows_the_handshake_step_by_step() {
    let server = TestServer::start();
    let _client = RawClient::connect(server.addr, "/echo?tap=tok");
    let mut inspector = RawClient::connect(server.addr, "/inspect");
    inspector.send_text(r#"{"type":"watch","tap":"tok"}"#);
    let attached = next_event(&mut inspector);
    let handshake = &attached["handshake"];
    // RFC 6455 §1.3, the key the raw client sends.
    assert_eq!(handshake["key"], "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        handshake["concatenated"],
        "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    );
    assert_eq!(
        handshake["sha1_hex"],
        "b37a4f2cc0624f1690f64606cf385945b2bec4ea"
    );
    assert_eq!(handshake["accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert!(handshake["request"]
        .as_str()
        .unwrap()
        .starts_with("GET /echo?tap=tok HTTP/1.1\r\n"));
    assert!(handshake["response"]
        .as_str()
        .unwrap()
        .starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert_eq!(attached["endpoint"], "echo");
}

#[test]
fn a_text_frame_is_explained_in_both_directions() {
    let server = TestServer::start();
    let (mut client, mut inspector) = watched(&server, "/echo");
    client.send_text("Hello");
    let incoming = next_frame(&mut inspector, "in");
    // §5.7: the masked "Hello".
    assert_eq!(incoming["header_hex"], "81 85 37 fa 21 3d");
    assert_eq!(
        (
            incoming["fin"].clone(),
            incoming["opcode_name"].clone(),
            incoming["mask"].clone()
        ),
        (json!(true), json!("Text"), json!(true))
    );
    assert_eq!(incoming["masking_key_hex"], "37 fa 21 3d");
    assert_eq!(incoming["wire_payload_hex"], "7f 9f 4d 51 58");
    assert_eq!(incoming["payload_hex"], "48 65 6c 6c 6f");
    assert_eq!(incoming["payload_text"], "Hello");
    assert_eq!(
        (incoming["message"].clone(), incoming["fragment"].clone()),
        (json!(1), json!(1))
    );
    let outgoing = next_frame(&mut inspector, "out");
    assert_eq!(outgoing["header_hex"], "81 05");
    assert_eq!(outgoing["mask"], false);
    assert_eq!(outgoing["masking_key_hex"], Value::Null);
    assert_eq!(outgoing["payload_text"], "Hello");
}

#[test]
fn fragments_and_an_interleaved_ping_are_numbered() {
    let server = TestServer::start();
    let (mut client, mut inspector) = watched(&server, "/echo");
    client.send_frame(false, 0x2, b"ab");
    client.send_frame(true, 0x9, b"p");
    client.send_frame(true, 0x0, b"cd");
    let frames: Vec<Value> = (0..3).map(|_| next_frame(&mut inspector, "in")).collect();
    let places: Vec<(Value, Value, Value, Value)> = frames
        .iter()
        .map(|f| {
            (
                f["opcode_name"].clone(),
                f["fragment"].clone(),
                f["control"].clone(),
                f["between_fragments"].clone(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (json!("Binary"), json!(1), json!(false), json!(false)),
            (json!("Ping"), json!(0), json!(true), json!(true)),
            (json!("Continuation"), json!(2), json!(false), json!(false)),
        ]
    );
}

#[test]
fn extended_lengths_of_16_and_64_bits_are_shown() {
    let server = TestServer::start();
    let (mut client, mut inspector) = watched(&server, "/echo");
    client.send_frame(true, 0x2, &[7u8; 200]);
    let frame = next_frame(&mut inspector, "in");
    assert_eq!(
        (frame["len7"].clone(), frame["extended_len"].clone()),
        (json!(126), json!({"bits": 16, "value": 200}))
    );
    client.send_frame(true, 0x2, &[7u8; 70_000]);
    let frame = next_frame(&mut inspector, "in");
    assert_eq!(
        (frame["len7"].clone(), frame["extended_len"].clone()),
        (json!(127), json!({"bits": 64, "value": 70000}))
    );
    assert_eq!(frame["truncated"], true);
}

#[test]
fn a_client_close_is_recorded_as_the_clients() {
    let server = TestServer::start();
    let (mut client, mut inspector) = watched(&server, "/echo");
    client.send_frame(true, 0x8, b"\x03\xe8done");
    let record = &next_of(&mut inspector, "close")["record"];
    assert_eq!(
        (
            record["by"].clone(),
            record["code"].clone(),
            record["reason"].clone()
        ),
        (json!("client"), json!(1000), json!("done"))
    );
    // The server's Close reply was shown before the record, and then the watch ends.
    assert_eq!(next_event(&mut inspector)["type"], "detached");
}

#[test]
fn a_protocol_error_is_recorded_with_its_rule_and_offset() {
    let server = TestServer::start();
    let (mut client, mut inspector) = watched(&server, "/echo");
    client.send_text("ok"); // 8 bytes on the wire
    client.send_raw(&[0x81, 0x00]); // unmasked
    let record = &next_of(&mut inspector, "close")["record"];
    assert_eq!(
        (
            record["by"].clone(),
            record["code"].clone(),
            record["offset"].clone()
        ),
        (json!("server"), json!(1002), json!(8))
    );
    assert!(
        record["rule"].as_str().unwrap().starts_with("§5.1"),
        "{record}"
    );
    let close = client.expect_close();
    assert!(
        close.close_reason().starts_with("§5.1"),
        "{:?}",
        close.close_reason()
    );
}

#[test]
fn a_limit_close_records_the_limit_and_the_value() {
    let server = TestServer::with(|c| c.limits.max_message_size = 100);
    let (mut client, mut inspector) = watched(&server, "/echo");
    client.send_raw(&masked_frame(true, 0x2, &[0; 101])[..6]); // the header alone
    let record = &next_of(&mut inspector, "close")["record"];
    assert_eq!(record["code"], 1009);
    assert_eq!(record["limit"], json!({"limit": 100, "value": 101}));
}

#[test]
fn a_vanished_client_is_a_1006_with_its_explanation() {
    let server = TestServer::start();
    let (client, mut inspector) = watched(&server, "/echo");
    client
        .stream
        .shutdown(std::net::Shutdown::Both)
        .expect("shutdown");
    let record = &next_of(&mut inspector, "close")["record"];
    assert_eq!(
        (record["by"].clone(), record["code"].clone()),
        (json!("network"), json!(1006))
    );
    assert_eq!(record["explanation"], "TCP closed before a close frame");
}

#[test]
fn a_ping_timeout_is_explained() {
    let server = TestServer::with(|c| c.ping_interval = Duration::from_millis(200));
    let (_client, mut inspector) = watched(&server, "/echo");
    // The client never answers the server's ping.
    let record = &next_of(&mut inspector, "close")["record"];
    assert_eq!(record["code"], 1006);
    assert!(
        record["explanation"]
            .as_str()
            .unwrap()
            .starts_with("ping timeout"),
        "{record}"
    );
}

#[test]
fn loopback_inspectors_can_list_and_watch_by_id_but_not_themselves() {
    let server = TestServer::start();
    let _client = RawClient::connect(server.addr, "/chat?name=ann");
    let mut inspector = RawClient::connect(server.addr, "/inspect");
    inspector.send_text(r#"{"type":"list"}"#);
    let list = next_of(&mut inspector, "connections");
    let connections = list["connections"].as_array().unwrap();
    assert_eq!(
        connections.len(),
        1,
        "the inspector itself is not listed: {list}"
    );
    assert_eq!(connections[0]["endpoint"], "chat");
    let chat_id = connections[0]["conn"].as_u64().unwrap();
    inspector.send_text(&format!(r#"{{"type":"watch","conn":{chat_id}}}"#));
    let attached = next_of(&mut inspector, "attached");
    assert_eq!(
        (attached["conn"].as_u64(), attached["handshake"].clone()),
        (Some(chat_id), Value::Null)
    );
    inspector.send_text(&format!(r#"{{"type":"watch","conn":{}}}"#, chat_id + 1));
    assert!(next_of(&mut inspector, "error")["message"]
        .as_str()
        .unwrap()
        .contains("inspector"));
}

#[test]
fn an_unknown_token_or_command_is_an_error_event() {
    let server = TestServer::start();
    let mut inspector = RawClient::connect(server.addr, "/inspect");
    inspector.send_text(r#"{"type":"watch","tap":"nobody"}"#);
    assert!(next_of(&mut inspector, "error")["message"]
        .as_str()
        .unwrap()
        .contains("token"));
    inspector.send_text("not json");
    assert_eq!(next_event(&mut inspector)["type"], "error");
}
