//! Pooled connection threads start every connection clean: a thread that served a
//! rate-limited, named, tapped connection, or one that vanished mid-frame, serves the next one
//! with none of that (see `server::pool`).

mod support;

use std::net::Shutdown;
use std::time::Duration;

use serde_json::Value;
use support::{masked_frame, wait_until, RawClient, TestServer};

/// Long enough on a loaded machine, short next to `pool::PARK_IDLE` plus test time.
const BOUND: Duration = Duration::from_secs(10);

fn event(client: &mut RawClient) -> Value {
    serde_json::from_str(&client.read_text()).expect("JSON event")
}

/// Reads chat events until `done` says stop (bounded).
fn events_until(client: &mut RawClient, mut done: impl FnMut(&Value) -> bool) {
    for _ in 0..1000 {
        if done(&event(client)) {
            return;
        }
    }
    panic!("no expected event within 1000 events");
}

/// Waits until every thread of the pool is parked again: the connections before are over.
fn all_parked(server: &TestServer, hub_clients: usize) {
    server.wait_for_hub_clients(hub_clients);
    let pool = &server.shared.pool;
    wait_until("the pool's threads parked", BOUND, || {
        pool.parked() >= 1 && pool.parked() == pool.threads().saturating_sub(busy(server))
    });
}

/// Pool threads busy with connections still open (one reader per open connection; writers
/// come and go, so they are not waited for).
fn busy(server: &TestServer) -> usize {
    server.shared.active_connections()
}

/// The lines of one write: `n` chat messages, masked.
fn burst(prefix: &str, n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| masked_frame(true, 0x1, format!("{prefix} {i}").as_bytes()))
        .collect()
}

#[test]
fn a_reused_thread_carries_no_name_rate_counter_or_tap_into_the_next_connection() {
    let server = TestServer::with(|c| c.rate_limit = 5);
    let pool = &server.shared.pool;

    // The first connection: named, tapped, watched, and over its rate.
    let mut first = RawClient::connect(server.addr, "/chat?name=alice&tap=tok");
    let mut inspector = RawClient::connect(server.addr, "/inspect");
    inspector.send_text(r#"{"type":"watch","tap":"tok"}"#);
    assert_eq!(event(&mut inspector)["type"], "attached");
    let welcome = event(&mut first);
    assert_eq!(welcome["name"], "alice", "{welcome}");
    events_until(&mut first, |e| e["type"] == "presence");
    // The bucket holds twice the rate (10): 13 at once overflow it.
    first.send_raw(&burst("first", 13));
    let mut refused = 0;
    let mut seen = 0;
    events_until(&mut first, |e| {
        if e["error"] == "rate_limited" {
            refused += 1;
        }
        seen += 1;
        seen == 13
    });
    assert!(refused >= 1, "the first connection was never rate limited");
    first.send_frame(true, 0x8, &1000u16.to_be_bytes());
    assert_eq!(first.expect_close().close_code(), Some(1000));
    first.expect_eof();
    all_parked(&server, 1); // the inspector stays

    // The next connection runs on a thread the first one left.
    let reused = pool.reused();
    let mut next = RawClient::connect(server.addr, "/chat");
    let welcome = event(&mut next);
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_ne!(welcome["name"], "alice", "the name carried over: {welcome}");
    assert!(
        pool.reused() > reused,
        "the next connection did not run on a parked thread"
    );
    events_until(&mut next, |e| e["type"] == "presence");
    // A fresh bucket: a whole burst allowance (10) is relayed, nothing refused.
    next.send_raw(&burst("next", 10));
    let mut relayed = 0;
    events_until(&mut next, |e| {
        assert_ne!(
            e["error"], "rate_limited",
            "the rate counter carried over: {e}"
        );
        if e["type"] == "message" {
            relayed += 1;
        }
        relayed == 10
    });
    // No tap: the token watches nothing now, and the inspector saw none of `next`'s frames.
    inspector.send_text(r#"{"type":"watch","tap":"tok"}"#);
    loop {
        let seen = event(&mut inspector);
        assert_ne!(seen["type"], "attached", "the tap carried over: {seen}");
        if seen["type"] == "frame" {
            assert!(
                !seen.to_string().contains("next 0"),
                "the inspector saw the next connection's frames: {seen}"
            );
        }
        if seen["type"] == "error" {
            break;
        }
    }
}

#[test]
fn a_reused_thread_does_not_keep_the_bytes_of_a_connection_that_vanished_mid_frame() {
    let server = TestServer::start();
    let pool = &server.shared.pool;
    // Half a frame (header, key and part of the payload), then TCP goes away.
    let mut first = RawClient::connect(server.addr, "/echo");
    let frame = masked_frame(true, 0x1, &[b'x'; 300]);
    first.send_raw(&frame[..100]);
    first.stream.shutdown(Shutdown::Both).expect("shutdown");
    drop(first);
    all_parked(&server, 0);

    let reused = pool.reused();
    let mut next = RawClient::connect(server.addr, "/echo");
    next.send_text("hello");
    let echoed = next.read_frame();
    assert_eq!((echoed.opcode, echoed.text()), (0x1, "hello".to_owned()));
    // And a message larger than the quiet read, in pieces, arrives whole.
    let large = vec![b'y'; 70_000];
    next.send_raw(&masked_frame(true, 0x2, &large));
    let echoed = next.read_frame();
    assert_eq!((echoed.opcode, echoed.payload.len()), (0x2, large.len()));
    assert!(echoed.payload == large, "the large echo differs");
    assert!(
        pool.reused() > reused,
        "the next connection did not run on a parked thread"
    );
    next.send_frame(true, 0x8, &1000u16.to_be_bytes());
    assert_eq!(next.expect_close().close_code(), Some(1000));
}
