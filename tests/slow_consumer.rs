//! The slow-consumer rule over real sockets: a client that stops reading is closed with 1008
//! once `--max-backlog` frames wait for it, and everyone else keeps receiving every message in
//! order (the hub never waits on a peer).
//!
//! The slow client simply never reads: the kernel's socket buffers absorb some data first, then
//! its writer blocks, its outbox fills, and the hub drops it. The well-behaved clients are read
//! in lockstep with the sender (at most [`WINDOW`] messages unread each), so that on a busy
//! two-core machine a merely descheduled reader never looks like a slow consumer: only the
//! client that really stopped reading can reach the tiny backlog limit.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{RawClient, RawFrame, TestServer, TIMEOUT};

/// `--max-backlog` in these tests.
const MAX_BACKLOG: usize = 16;
/// Messages a sender may have in flight before it reads its own relays back.
const WINDOW: usize = 4;

/// Payload `index` of the broadcast test: its number, then bytes that depend on it.
fn payload(index: usize, size: usize) -> Vec<u8> {
    let mut bytes = (index as u64).to_be_bytes().to_vec();
    bytes.extend((8..size).map(|i| (i * 31 + index) as u8));
    bytes
}

/// The number a broadcast payload carries, after checking its bytes.
fn index_of(frame: &RawFrame, size: usize) -> usize {
    assert_eq!(
        (frame.opcode, frame.payload.len()),
        (0x2, size),
        "{:?}",
        frame.opcode
    );
    let number = frame.payload.first_chunk::<8>().expect("8-byte number");
    let index = u64::from_be_bytes(*number) as usize;
    assert!(
        frame.payload == payload(index, size),
        "payload {index} corrupted"
    );
    index
}

/// The slow client finally reads: data frames (a gapless prefix, checked by `check`) until
/// the Close. Returns how many data frames came first, and the Close.
fn read_until_close(
    client: &mut RawClient,
    limit: usize,
    mut check: impl FnMut(&RawFrame),
) -> (usize, RawFrame) {
    for received in 0..=limit {
        let frame = client.read_frame();
        match frame.opcode {
            0x8 => return (received, frame),
            0x9 | 0xA => {}
            _ => check(&frame),
        }
    }
    panic!("no Close within {limit} frames");
}

/// Sends `messages` binary payloads of `size` bytes from `good[0]` to `/broadcast`, reading
/// every good client (the sender included) in lockstep: after message `i` is sent, each one has
/// read everything up to `i - WINDOW`. Each must receive every payload, in order.
fn flood_in_lockstep(good: &mut [RawClient], messages: usize, size: usize) {
    let mut received = vec![0; good.len()];
    for index in 0..messages {
        good[0].send_frame(true, 0x2, &payload(index, size));
        let caught_up = (index + 1).saturating_sub(WINDOW);
        for (client, count) in good.iter_mut().zip(&mut received) {
            while *count < caught_up {
                assert_eq!(
                    index_of(&client.read_frame(), size),
                    *count,
                    "lost or reordered"
                );
                *count += 1;
            }
        }
    }
    for (client, count) in good.iter_mut().zip(&mut received) {
        while *count < messages {
            assert_eq!(
                index_of(&client.read_frame(), size),
                *count,
                "lost or reordered"
            );
            *count += 1;
        }
    }
}

#[test]
fn a_client_that_never_reads_is_closed_with_1008_and_the_others_lose_nothing() {
    const MESSAGES: usize = 2000;
    const SIZE: usize = 4096;
    let started = Instant::now();
    let server = TestServer::with(|c| c.max_backlog = MAX_BACKLOG);
    let mut slow = RawClient::connect(server.addr, "/broadcast");
    let mut good: Vec<RawClient> = (0..3)
        .map(|_| RawClient::connect(server.addr, "/broadcast"))
        .collect();
    server.wait_for_hub_clients(4);
    flood_in_lockstep(&mut good, MESSAGES, SIZE);
    // The slow client is gone from the hub; the three others are still there.
    server.wait_for_hub_clients(3);

    let mut next = 0;
    let (before_close, close) = read_until_close(&mut slow, MESSAGES, |frame| {
        assert_eq!(
            index_of(frame, SIZE),
            next,
            "the slow client's prefix has a gap"
        );
        next += 1;
    });
    println!(
        "slow broadcast client: {before_close} of {MESSAGES} messages ({} KiB) before the Close; \
         close reason {:?}; whole test {:?}",
        before_close * SIZE / 1024,
        close.close_reason(),
        started.elapsed()
    );
    assert!(before_close < MESSAGES, "the slow client got everything");
    assert_eq!(close.close_code(), Some(1008));
    assert!(
        close.close_reason().contains("slow consumer"),
        "{:?}",
        close.close_reason()
    );
    // Completing the handshake ends the connection.
    slow.send_frame(true, 0x8, &close.payload[..2]);
    slow.expect_eof();
}

/// A chat client named `name`, read through its own presence `join`.
fn chat_client(server: &TestServer, name: &str) -> RawClient {
    let mut client = RawClient::connect(server.addr, &format!("/chat?name={name}"));
    for _ in 0..100 {
        let event = parse(&client.read_text());
        if event["type"] == "presence" && event["name"] == name {
            return client;
        }
    }
    panic!("{name} never saw its own join");
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

fn is_leave_of(event: &Value, name: &str) -> bool {
    event["type"] == "presence" && event["event"] == "leave" && event["name"] == name
}

#[test]
fn a_slow_chat_client_is_dropped_and_the_others_see_it_leave() {
    const MAX_MESSAGES: u64 = 5000;
    const TEXT_BYTES: usize = 4000;
    let server = TestServer::with(|c| {
        c.max_backlog = MAX_BACKLOG;
        c.rate_limit = 1_000_000; // this test floods on purpose
    });
    let mut slow = chat_client(&server, "slow");
    // (client, messages it has read, the leave line once seen); [0] sends.
    let mut good = [
        (chat_client(&server, "sender"), 0u64, None),
        (chat_client(&server, "watcher"), 0u64, None),
    ];
    let filler = "x".repeat(TEXT_BYTES - 12);
    let mut sent = 0u64;
    while good.iter().any(|(_, _, leave)| leave.is_none()) {
        assert!(sent < MAX_MESSAGES, "the slow client was never dropped");
        sent += 1;
        good[0].0.send_text(&format!("{sent:>10}: {filler}"));
        let caught_up = sent.saturating_sub(WINDOW as u64);
        for (client, read, leave) in &mut good {
            // Every seq once and in order, right up to the leave line.
            while leave.is_none() && *read < caught_up {
                let event = parse(&client.read_text());
                if is_leave_of(&event, "slow") {
                    *leave = Some(event);
                } else if event["type"] == "message" {
                    *read += 1;
                    assert_eq!(
                        event["seq"], *read,
                        "a well-behaved client missed a message"
                    );
                }
            }
        }
    }
    let expected = json!({"type": "presence", "event": "leave", "name": "slow", "old_name": null,
                          "users": 2, "text": "유저 연결 해제 [현재: 2명]"});
    for (_, _, leave) in &good {
        assert_eq!(leave.as_ref(), Some(&expected));
    }
    let watcher_messages = good[1].1;

    let (before_close, close) = read_until_close(&mut slow, MAX_MESSAGES as usize, |_| {});
    println!(
        "slow chat client: dropped after {sent} messages were sent ({watcher_messages} reached \
         the watcher before the leave line); it read {before_close} frames before the Close {:?}",
        close.close_reason()
    );
    assert_eq!(close.close_code(), Some(1008));
    assert!(
        close.close_reason().contains("slow consumer"),
        "{:?}",
        close.close_reason()
    );
}

#[test]
fn a_dropped_client_that_never_reads_is_disconnected_within_the_close_timeout() {
    const MESSAGES: usize = 2000;
    const SIZE: usize = 4096;
    let close_timeout = Duration::from_secs(1);
    let server = TestServer::with(|c| {
        c.max_backlog = MAX_BACKLOG;
        c.close_timeout = close_timeout;
        // Its socket buffers are full: the writer's stalled write gives up after this.
        c.write_timeout = close_timeout;
    });
    let mut slow = RawClient::connect(server.addr, "/broadcast");
    let mut sender = [RawClient::connect(server.addr, "/broadcast")];
    server.wait_for_hub_clients(2);
    flood_in_lockstep(&mut sender, MESSAGES, SIZE);
    server.wait_for_hub_clients(1);

    // The hub has dropped it, but its writer may be stuck on a full socket. The server must
    // not wait forever for a peer that never reads: --close-timeout bounds the close.
    let deadline = Instant::now() + close_timeout + TIMEOUT;
    while server.shared.active_connections() > 1 {
        assert!(
            Instant::now() < deadline,
            "the dropped client's connection is still open {:?} after the drop \
             (its writer is blocked writing to a peer that does not read)",
            close_timeout + TIMEOUT
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Whatever was still buffered, the connection ends.
    slow.expect_eof();
}
