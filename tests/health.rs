//! `GET /healthz` and `GET /readyz` over real sockets: 200 while serving, and `/readyz` 503
//! once a graceful shutdown has begun.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{http_exchange, status_of, wait_until, TestServer};

fn get(path: &str, host: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[test]
fn healthz_and_readyz_answer_200_in_plain_text() {
    let server = TestServer::start();
    for (path, body) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let answer = http_exchange(server.addr, get(path, "localhost").as_bytes());
        assert_eq!(status_of(&answer), 200, "{path}: {answer}");
        assert!(answer.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(
            answer.ends_with(&format!("\r\n\r\n{body}")),
            "{path}: {answer}"
        );
        // A probe addresses the server by whatever name it has: still answered.
        let probe = http_exchange(server.addr, get(path, "10.1.2.3:8080").as_bytes());
        assert_eq!(status_of(&probe), 200, "{path}: {probe}");
    }
}

/// A connection the server has accepted (so a shutdown cannot drop it unserved).
fn accepted(server: &TestServer) -> TcpStream {
    let before = server.shared.active_connections();
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    wait_until("the server accepts", Duration::from_secs(10), || {
        server.shared.active_connections() > before
    });
    stream
}

fn ask(mut stream: TcpStream, path: &str) -> String {
    stream
        .write_all(get(path, "localhost").as_bytes())
        .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn readyz_is_503_once_shutting_down_while_healthz_stays_200() {
    let server = TestServer::start();
    let ready = accepted(&server);
    let healthy = accepted(&server);
    server.begin_shutdown();
    let answer = ask(ready, "/readyz");
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert!(answer.ends_with("\r\n\r\nshutting down\n"), "{answer}");
    let answer = ask(healthy, "/healthz");
    assert_eq!(status_of(&answer), 200, "{answer}");
}
