//! Keepalive (`--ping-interval`) over real sockets: an idle client is pinged after one interval,
//! a client that answers stays connected for as long as it likes, and one that does not answer
//! is dropped after another interval, with chat presence updated for everyone else.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{wait_until, RawClient, TestServer};

/// `--ping-interval` in these tests.
const INTERVAL: Duration = Duration::from_millis(300);

fn server() -> TestServer {
    TestServer::with(|c| c.ping_interval = INTERVAL)
}

/// Reads the next frame, which must be the server's Ping, and answers it with a Pong of the
/// same payload (§5.5.3).
fn answer_ping(client: &mut RawClient) -> Vec<u8> {
    let ping = client.read_frame();
    assert_eq!(
        (ping.fin, ping.opcode),
        (true, 0x9),
        "expected a keepalive Ping: {ping:?}"
    );
    client.send_frame(true, 0xA, &ping.payload);
    ping.payload
}

/// The next chat event, answering any keepalive Ping on the way.
fn next_chat_event(client: &mut RawClient) -> Value {
    loop {
        let frame = client.read_frame();
        match frame.opcode {
            0x9 => client.send_frame(true, 0xA, &frame.payload),
            0x1 => return serde_json::from_str(&frame.text()).expect("JSON event"),
            other => panic!("expected a chat event, got opcode {other:#x}: {frame:?}"),
        }
    }
}

#[test]
fn silent_client_is_pinged_after_one_interval() {
    let server = server();
    let mut client = RawClient::connect(server.addr, "/echo");
    let start = Instant::now();
    let payload = answer_ping(&mut client);
    let after = start.elapsed();
    eprintln!("keepalive: first Ping {after:?} after the handshake (interval {INTERVAL:?})");
    assert!(!payload.is_empty() && payload.len() <= 125, "{payload:?}");
    assert!(
        after < Duration::from_secs(1),
        "no Ping within {after:?} for an interval of {INTERVAL:?}"
    );
}

#[test]
fn client_that_answers_every_ping_stays_connected_for_many_intervals() {
    let server = server();
    let mut client = RawClient::connect(server.addr, "/echo");
    let start = Instant::now();
    for _ in 0..8 {
        answer_ping(&mut client);
    }
    let lived = start.elapsed();
    eprintln!("keepalive: 8 Pings answered over {lived:?}");
    assert!(lived >= INTERVAL * 6, "8 Pings came within {lived:?}");
    client.send_text("still here");
    assert_eq!(client.read_text(), "still here");
    assert_eq!(server.shared.active_connections(), 1);
}

#[test]
fn client_that_never_answers_is_dropped_within_two_intervals() {
    let server = server();
    let mut client = RawClient::connect(server.addr, "/echo");
    // The client neither reads nor writes; only the server's own count is watched.
    let dropped = wait_until(
        "the silent client is dropped",
        Duration::from_secs(2),
        || server.shared.active_connections() == 0,
    );
    eprintln!("keepalive: silent client dropped {dropped:?} after the handshake");
    assert!(
        dropped >= INTERVAL,
        "dropped after {dropped:?}, before a Ping could be answered"
    );
    // What it would have read: the unanswered Ping, then the end of TCP.
    let ping = client.read_frame();
    assert_eq!(ping.opcode, 0x9, "{ping:?}");
    client.expect_eof();
}

#[test]
fn silent_chat_client_is_dropped_and_the_others_see_it_leave() {
    let server = server();
    let mut alice = RawClient::connect(server.addr, "/chat?name=alice");
    let welcome = next_chat_event(&mut alice);
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let joined = alice.next_event_of_type("presence");
    assert_eq!(
        (&joined["event"], &joined["users"]),
        (&"join".into(), &1.into())
    );

    let _silent_bob = RawClient::connect(server.addr, "/chat?name=bob");
    let start = Instant::now();
    let bob_joined = alice.next_event_of_type("presence");
    assert_eq!(
        (
            &bob_joined["event"],
            &bob_joined["name"],
            &bob_joined["users"]
        ),
        (&"join".into(), &"bob".into(), &2.into()),
        "{bob_joined}"
    );
    // Alice answers every Ping while she waits; Bob says nothing at all.
    let left = alice.next_event_of_type("presence");
    let after = start.elapsed();
    eprintln!("keepalive: silent chat client's leave seen {after:?} after it joined");
    assert_eq!(
        (&left["event"], &left["name"]),
        (&"leave".into(), &"bob".into()),
        "{left}"
    );
    assert_eq!(left["users"], 1, "{left}");
    assert_eq!(left["text"], "유저 연결 해제 [현재: 1명]", "{left}");
    assert!(
        after < INTERVAL * 2 + Duration::from_secs(1),
        "leave after {after:?}"
    );
    // Bob's thread ends just after the hub hears he left; Alice stays.
    wait_until("only alice is left", Duration::from_secs(2), || {
        server.shared.active_connections() == 1
    });
    alice.send_frame(true, 0x8, &1000u16.to_be_bytes());
    assert_eq!(alice.expect_close().close_code(), Some(1000));
}

/// A client that pauses inside a large payload (read straight into its message) for longer
/// than the interval is pinged; it cannot answer before its frame ends (§5.4: control frames
/// go between frames), and the rest of the payload counts as an answer: the message is
/// echoed.
#[test]
fn client_pausing_inside_a_large_payload_is_pinged_and_its_message_still_echoed() {
    let server = server();
    let mut client = RawClient::connect(server.addr, "/echo");
    let payload: Vec<u8> = (0..200_000).map(|i| (i % 253) as u8).collect();
    let frame = support::masked_frame(true, 0x2, &payload);
    let (first, rest) = frame.split_at(100_000);
    client.send_raw(first);
    let ping = client.read_frame();
    assert_eq!(ping.opcode, 0x9, "expected a keepalive Ping: {ping:?}");
    client.send_raw(rest);
    let echo = client.read_frame();
    assert_eq!(echo.opcode, 0x2);
    assert!(echo.payload == payload, "the echo differs");
    client.send_frame(true, 0xA, &ping.payload);
}
