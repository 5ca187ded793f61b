//! Fault isolation over real sockets: a panic in one connection's thread (injected with
//! `Config::panic_on_text`) ends that connection with Close 1011 and nothing else. Other
//! connections keep working, the hub keeps running the apps, and the connection count returns
//! to the number of live clients.

mod support;

use std::io::{self, Read};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{wait_until, RawClient, TestServer};

/// The Text message that makes an `/echo` connection's thread panic.
const TRIGGER: &str = "boom";

fn server() -> TestServer {
    TestServer::with(|c| c.panic_on_text = Some(TRIGGER.into()))
}

/// Asserts the server closes TCP within `bound` (a read returns 0 or a reset); returns when.
fn assert_tcp_closed_within(client: &mut RawClient, bound: Duration) -> Duration {
    let start = Instant::now();
    client
        .stream
        .set_read_timeout(Some(bound))
        .expect("timeout");
    let mut chunk = [0u8; 1024];
    loop {
        match client.stream.read(&mut chunk) {
            Ok(0) => return start.elapsed(),
            Ok(_) if start.elapsed() < bound => continue,
            Ok(_) => panic!("still receiving after {bound:?}"),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the server did not close TCP within {bound:?}")
            }
            Err(_) => return start.elapsed(), // a reset is a close too
        }
    }
}

/// Sends `text` to an `/echo` client and expects it back.
fn assert_echoes(client: &mut RawClient, text: &str) {
    client.send_text(text);
    assert_eq!(client.read_text(), text);
}

/// Sends the trigger; expects Close 1011, answers it, and expects TCP to end soon after.
fn panic_connection(server: &TestServer) -> Duration {
    let mut victim = RawClient::connect(server.addr, "/echo");
    assert_echoes(&mut victim, "before the fault");
    victim.send_text(TRIGGER);
    let close = victim.expect_close();
    assert_eq!(close.close_code(), Some(1011), "{close:?}");
    assert!(!close.close_reason().is_empty(), "1011 without a reason");
    // A well-behaved client answers the Close (§5.5.1); the server then closes TCP (§7.1.1).
    victim.send_frame(true, 0x8, &1011u16.to_be_bytes());
    assert_tcp_closed_within(&mut victim, Duration::from_secs(2))
}

/// A chat client's next event.
fn chat_event(client: &mut RawClient) -> Value {
    serde_json::from_str(&client.read_text()).expect("JSON event")
}

#[test]
fn panicking_echo_connection_is_closed_1011_and_tcp_ends() {
    let server = server();
    let closed_after = panic_connection(&server);
    eprintln!("fault: TCP closed {closed_after:?} after the client's Close reply");
    wait_until(
        "the connection is no longer counted",
        Duration::from_secs(2),
        || server.shared.active_connections() == 0,
    );
}

#[test]
fn panic_in_one_connection_spares_the_other_connections_and_the_hub() {
    let server = server();
    let mut bystander = RawClient::connect(server.addr, "/echo");
    assert_echoes(&mut bystander, "before");
    let mut alice = RawClient::connect(server.addr, "/chat?name=alice");
    assert_eq!(alice.next_event_of_type("presence")["users"], 1);
    let mut bob = RawClient::connect(server.addr, "/chat?name=bob");
    assert_eq!(bob.next_event_of_type("presence")["users"], 2);
    assert_eq!(alice.next_event_of_type("presence")["name"], "bob");

    // Three faults in a row, each while the others are connected.
    for i in 0..3 {
        panic_connection(&server);
        assert_echoes(&mut bystander, &format!("after fault {i}"));
    }

    // The hub survived: Bob leaving reaches Alice with the new count.
    bob.send_frame(true, 0x8, &1000u16.to_be_bytes());
    assert_eq!(bob.expect_close().close_code(), Some(1000));
    bob.expect_eof();
    let left = alice.next_event_of_type("presence");
    assert_eq!(
        (&left["event"], &left["name"], &left["users"]),
        (&"leave".into(), &"bob".into(), &1.into()),
        "{left}"
    );
    assert_eq!(left["text"], "유저 연결 해제 [현재: 1명]");
    // Chat itself still relays.
    alice.send_text("still chatting");
    let message = chat_event(&mut alice);
    assert_eq!(
        (&message["type"], &message["text"]),
        (&"message".into(), &"still chatting".into()),
        "{message}"
    );

    // Only the bystander and Alice are counted; a newcomer still gets in.
    wait_until("two live connections", Duration::from_secs(2), || {
        server.shared.active_connections() == 2
    });
    let mut newcomer = RawClient::connect(server.addr, "/echo");
    assert_echoes(&mut newcomer, "after all that");
    assert_echoes(&mut bystander, "still here");
}
