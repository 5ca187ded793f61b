//! `--listen-backlog`: the queue of connections the kernel completes before `accept` takes
//! them (`listen(2)`). A server that is bound but not accepting shows it exactly: Linux
//! completes `backlog + 1` handshakes, then drops further SYNs (the client would retry after
//! 1 s). Without the flag honoured, std's fixed 128 would queue every connect below.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use wsmith::config::Config;
use wsmith::server::Server;

/// Connects attempted against the idle listener, one after another.
const ATTEMPTS: usize = 8;
/// Long enough for a loopback handshake on a loaded machine, shorter than the 1 s SYN retry
/// that a dropped SYN waits for.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);

/// A bound server that never runs its accept loop.
fn bound_but_not_accepting(listen_backlog: u32) -> Server {
    let config = Config {
        addr: "127.0.0.1:0".parse().expect("address"),
        www: concat!(env!("CARGO_MANIFEST_DIR"), "/www").into(),
        listen_backlog,
        ..Config::default()
    };
    Server::bind(config).expect("bind")
}

/// How many of [`ATTEMPTS`] sequential connects the kernel completes; the streams are kept
/// open so that each one stays in the queue.
fn completed_connects(addr: SocketAddr) -> usize {
    let mut held = Vec::new();
    for _ in 0..ATTEMPTS {
        if let Ok(stream) = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            held.push(stream);
        }
    }
    held.len()
}

#[test]
fn a_backlog_of_2_queues_3_connects_and_drops_the_rest() {
    let server = bound_but_not_accepting(2);
    let completed = completed_connects(server.local_addr().expect("address"));
    assert_eq!(completed, 3, "Linux queues backlog + 1 connections");
}

#[test]
fn the_default_backlog_queues_every_connect() {
    let server = bound_but_not_accepting(Config::default().listen_backlog);
    let completed = completed_connects(server.local_addr().expect("address"));
    assert_eq!(completed, ATTEMPTS);
}
