//! Graceful shutdown of the real binary: SIGTERM or SIGINT sends every client Close 1001 with a
//! reason, waits for their Close replies (up to `--shutdown-timeout`), and exits with status 0.
//!
//! The binary runs as a child process (`CARGO_BIN_EXE_wsmith`) on `127.0.0.1:0`; the test reads
//! the address from its `wsmith listening on http://ADDR` line. A guard kills the child on
//! every failure path.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::process::Wsmith;
use support::RawClient;

/// `--shutdown-timeout` given to the binary, in seconds.
const SHUTDOWN_TIMEOUT: &str = "3";
/// How long the test waits for the process to exit after the signal.
const EXIT_BOUND: Duration = Duration::from_secs(5);

/// The three kinds of client, each checked to work before the shutdown.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Echo,
    Chat,
    Broadcast,
}

/// Connects client `k` of `kind` and proves its connection works.
fn connect_working(addr: SocketAddr, kind: Kind, k: usize) -> RawClient {
    match kind {
        Kind::Echo => {
            let mut client = RawClient::connect(addr, "/echo");
            client.send_text(&format!("echo {k}"));
            assert_eq!(client.read_text(), format!("echo {k}"));
            client
        }
        Kind::Chat => {
            let mut client = RawClient::connect(addr, &format!("/chat?name=user{k}"));
            let welcome: Value = serde_json::from_str(&client.read_text()).expect("JSON");
            assert_eq!(welcome["type"], "welcome", "{welcome}");
            client.send_text(r#"{"type":"ping"}"#);
            for _ in 0..1000 {
                let event: Value = serde_json::from_str(&client.read_text()).expect("JSON");
                if event["type"] == "pong" {
                    return client;
                }
            }
            panic!("chat client {k}: no pong");
        }
        Kind::Broadcast => {
            let mut client = RawClient::connect(addr, "/broadcast");
            let hello = format!("broadcast {k}");
            client.send_text(&hello);
            for _ in 0..1000 {
                if client.read_text() == hello {
                    return client;
                }
            }
            panic!("broadcast client {k}: its own message never came back");
        }
    }
}

/// Starts the binary, connects `count` working clients (echo, chat, broadcast in turn), sends
/// `signal`, and checks the whole graceful shutdown. Returns how long the exit took.
fn graceful_shutdown(signal: &str, count: usize) -> Duration {
    let mut server = Wsmith::start(&["--shutdown-timeout", SHUTDOWN_TIMEOUT]);
    let kinds = [Kind::Echo, Kind::Chat, Kind::Broadcast];
    let mut clients: Vec<(Kind, RawClient)> = (0..count)
        .map(|k| {
            let kind = kinds[k % kinds.len()];
            (kind, connect_working(server.addr, kind, k))
        })
        .collect();

    server.signal(signal);
    let signalled = Instant::now();
    for (k, (kind, client)) in clients.iter_mut().enumerate() {
        let close = client.expect_close();
        assert_eq!(
            close.close_code(),
            Some(1001),
            "{kind:?} client {k}: {close:?}"
        );
        assert!(
            !close.close_reason().is_empty(),
            "{kind:?} client {k}: 1001 without a reason"
        );
        client.send_frame(true, 0x8, &1001u16.to_be_bytes());
    }
    let closes_in = signalled.elapsed();
    for (_, client) in &mut clients {
        client.expect_eof();
    }
    let (status, _) = server.wait_for_exit(EXIT_BOUND);
    let exited_in = signalled.elapsed();
    let output = server.output();
    eprintln!(
        "shutdown by SIG{signal} with {count} clients: every Close 1001 read {closes_in:?} \
         after the signal, process exited {exited_in:?} after it"
    );
    assert!(status.success(), "exit status {status}; output: {output}");
    // Every client's Close reply was seen: the server did not give up at its timeout.
    assert!(
        output.contains("shutdown: every connection closed"),
        "the server did not see every Close reply; output: {output}"
    );
    exited_in
}

#[test]
fn sigterm_closes_a_hundred_clients_with_1001_and_exits_0() {
    graceful_shutdown("TERM", 100);
}

#[test]
fn sigint_closes_every_client_with_1001_and_exits_0() {
    graceful_shutdown("INT", 5);
}

#[test]
fn sigterm_with_no_clients_exits_0_at_once() {
    let mut server = Wsmith::start(&["--shutdown-timeout", SHUTDOWN_TIMEOUT]);
    server.signal("TERM");
    let (status, took) = server.wait_for_exit(EXIT_BOUND);
    eprintln!("shutdown with no clients: exited {took:?} after SIGTERM");
    assert!(status.success(), "exit status {status}");
}
