//! The attack suite's HTTP and trust rows, against the real `wsmith` binary over loopback,
//! each with the innocent [`Probe`] running: the test asserts the functional outcome (the
//! probe lost nothing, the attacker and not the others was refused, the answer was honest)
//! and prints the probe's latencies; it never asserts a latency.
//!
//! | row | attack | outcome asserted |
//! |---|---|---|
//! | 3 | forged `Forwarded` / `X-Forwarded-For`, with and without a trusted proxy | no Inspector list, no token-less publish |
//! | 8 | hundreds of half-sent request heads from one address (slowloris) | other addresses connect, `/healthz` answers, the attacker gets 503 |
//! | 15 | SIGTERM with a client connected (no probe: a shutdown closes it too) | the client gets 1001 while `/readyz` answers 503 and `/healthz` 200 |
//! | 18 | a `POST /publish` body a byte at a time | 408 at the deadline, not a timeout per byte |
//! | 19 | stderr a pipe whose reader left | the `log` thread lives on; the server serves |
//! | 20 | two `Host`s, a bad `Host` port, `Content-Length: 2, 2`, two `Origin`s, bare LF | 400 with the rule |
//!
//! | 14 | `POST /publish` while the hub is stalled past the publish deadline (no probe: its chat ping goes through the stalled hub) | 503, and the message is never delivered once the hub catches up |
//!
//! Row 9 (the writers' thread reserve) needs the kernel's thread limit to be reached; its rule
//! is unit-tested where it lives (`server::capacity`).
//!
//! Sizes are small so `cargo test` stays fast. `WSMITH_ATTACK_HEAVY=1` scales them up (a
//! bench-like run, not for CI), and `WSMITH_BIN=path/to/wsmith` runs the same attacks against
//! another build, to compare before and after.

mod support;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::probe::Probe;
use support::process::Wsmith;
use support::{
    inspector_may_list, masked_frame, status_of, upgrade_request, RawClient, TestServer, TIMEOUT,
};

/// Whether to run the heavier sizes (`WSMITH_ATTACK_HEAVY=1`).
fn heavy() -> bool {
    std::env::var_os("WSMITH_ATTACK_HEAVY").is_some_and(|v| v == "1")
}

/// Flags every server of this file gets: the probe pings the chat every 20 ms or so, faster
/// than chat's default `--rate-limit` of 20 a second, which would answer it `rate_limited`.
const PROBE_ROOM: [&str; 2] = ["--rate-limit", "1000"];

/// Starts the binary with [`PROBE_ROOM`] and `flags`.
fn start(flags: &[&str]) -> Wsmith {
    Wsmith::start(&[&PROBE_ROOM[..], flags].concat())
}

/// How long an attack runs while the probe measures.
fn attack_time() -> Duration {
    if heavy() {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(1500)
    }
}

/// Sends `request` on a fresh connection and reads the whole answer (the server closes).
fn ask(addr: SocketAddr, request: &[u8]) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// A connection from the loopback address `from` (127.0.0.x): another client address on the
/// same machine.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((from, 0)).into())?;
    socket.connect(&to.into())?;
    Ok(socket.into())
}

#[test]
fn row_3_forwarding_fields_forge_no_loopback_privilege() {
    // Behind a proxy nobody listed (nginx without --trusted-proxy): the loopback peer is the
    // proxy, so a forwarded request is nobody's loopback client.
    let unlisted = start(&[]);
    // Behind nginx that overwrote X-Forwarded-For and passed the client's Forwarded through.
    let proxied = start(&["--trusted-proxy", "127.0.0.1"]);
    let probe = Probe::start(unlisted.addr);
    let forged = [
        (unlisted.addr, "X-Forwarded-For: 203.0.113.7\r\n"),
        (
            unlisted.addr,
            "Forwarded: for=127.0.0.1\r\nVia: 1.1 nginx\r\n",
        ),
        (
            proxied.addr,
            "Forwarded: for=127.0.0.1\r\nX-Forwarded-For: 203.0.113.7\r\n",
        ),
    ];
    let started = Instant::now();
    let mut tries = 0;
    while started.elapsed() < attack_time() {
        for (addr, fields) in forged {
            assert!(!inspector_may_list(addr, fields), "listed with {fields:?}");
            let publish = format!(
                "POST /publish/notifications HTTP/1.1\r\nHost: localhost\r\n{fields}\
                 Content-Length: 1\r\n\r\nx"
            );
            let answer = ask(addr, publish.as_bytes()).expect("publish answered");
            assert_eq!(status_of(&answer), 403, "{fields:?}: {answer}");
            tries += 1;
        }
    }
    // The same server still gives a direct loopback client what it should.
    assert!(inspector_may_list(unlisted.addr, ""));
    let report = probe.finish();
    report.print(&format!("row 3, {tries} forged requests"));
    report.assert_nothing_lost(5);
}

#[test]
fn row_8_slowloris_from_one_address_cannot_starve_others() {
    let (cap, heads) = if heavy() { (2000, 5000) } else { (300, 400) };
    let server = start(&[
        "--max-connections",
        &cap.to_string(),
        "--handshake-timeout",
        "3",
    ]);
    let probe = Probe::start(server.addr);
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let partial = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    let open = |held: &mut Vec<TcpStream>| {
        if let Ok(mut stream) = connect_from(attacker, server.addr) {
            let _ = stream.write_all(partial);
            held.push(stream);
        }
    };
    let mut held = Vec::new();
    for _ in 0..heads {
        open(&mut held);
    }
    let started = Instant::now();
    let mut health = 0;
    let mut refused = 0;
    while started.elapsed() < attack_time() {
        let answer = ask(server.addr, &get("/healthz")).expect("/healthz answered");
        assert_eq!(status_of(&answer), 200, "{answer}");
        health += 1;
        // Reopen what the server answered (503 now, 408 at the handshake timeout).
        let before = held.len();
        held.retain_mut(|stream| {
            let _ = stream.set_nonblocking(true);
            let mut buf = [0; 64];
            match stream.read(&mut buf) {
                Ok(n) if buf.get(..n).is_some_and(|b| b.starts_with(b"HTTP/1.1 503")) => {
                    refused += 1;
                    false
                }
                Ok(_) => false,
                Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            }
        });
        for _ in held.len()..before {
            open(&mut held);
        }
    }
    let report = probe.finish();
    report.print(&format!(
        "row 8, {heads} heads from {attacker}: {refused} refused, {health} /healthz 200"
    ));
    report.assert_nothing_lost(5);
    assert!(refused > 0, "the attacker was never refused");
}

#[test]
fn row_15_readyz_answers_503_through_the_graceful_window() {
    // No probe here: a shutdown closes every client, the probe's too.
    let mut server = start(&["--shutdown-timeout", "5"]);
    let mut client = RawClient::connect(server.addr, "/echo");
    server.signal("TERM");
    let close = client.expect_close();
    assert_eq!(close.close_code(), Some(1001));
    // The client has not answered its Close: the window is open, and the listener with it.
    let ready = ask(server.addr, &get("/readyz")).expect("/readyz answered during the window");
    assert_eq!(status_of(&ready), 503, "{ready}");
    let health = ask(server.addr, &get("/healthz")).expect("/healthz answered");
    assert_eq!(status_of(&health), 200, "{health}");
    let upgrade = ask(server.addr, upgrade_request("/echo", "").as_bytes()).expect("answered");
    assert_eq!(status_of(&upgrade), 503, "{upgrade}");
    client.send_raw(&masked_frame(true, 0x8, &1001u16.to_be_bytes()));
    let (status, _) = server.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[test]
fn row_18_a_publish_body_has_a_deadline_not_a_timeout_per_read() {
    let server = start(&["--handshake-timeout", "1"]);
    let probe = Probe::start(server.addr);
    let length = if heavy() { 100 } else { 20 };
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    let head = format!(
        "POST /publish/notifications HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // One byte every 200 ms (under the 1 s per read), until the server answers.
    let started = Instant::now();
    let mut answer = Vec::new();
    for _ in 0..length {
        if stream.write_all(b"x").is_err() {
            break;
        }
        let mut buf = [0; 512];
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => {
                answer.extend_from_slice(buf.get(..n).unwrap_or_default());
                break;
            }
            Ok(_) => break,
            Err(_) => {}
        }
    }
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let report = probe.finish();
    report.print(&format!("row 18, answered after {took:?}"));
    report.assert_nothing_lost(5);
    assert_eq!(status_of(&answer), 408, "{answer}");
}

/// The names of the process's threads (Linux).
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[test]
fn row_19_the_log_thread_survives_a_stderr_whose_reader_left() {
    let mut server =
        Wsmith::start_with_stderr_unread(&["--log-level", "info", "--rate-limit", "1000"]);
    assert!(thread_names(server.pid()).contains(&"log".to_owned()));
    server.close_stderr();
    let probe = Probe::start(server.addr);
    // Every connection logs its upgrade: lines for a stderr nobody reads any more.
    let started = Instant::now();
    let mut lines = 0;
    while started.elapsed() < attack_time() {
        let mut client = RawClient::connect(server.addr, "/echo");
        client.send_text("x");
        let _ = client.read_text();
        lines += 1;
        thread::yield_now();
    }
    let report = probe.finish();
    report.print(&format!(
        "row 19, {lines} connections logged to a closed pipe"
    ));
    report.assert_nothing_lost(5);
    assert!(server.is_running());
    let names = thread_names(server.pid());
    assert!(names.contains(&"log".to_owned()), "threads: {names:?}");
}

#[test]
fn row_20_ambiguous_http_heads_are_400_with_a_reason() {
    let server = start(&[]);
    let probe = Probe::start(server.addr);
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "two Hosts",
            b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.test\r\n\r\n",
            "Host",
        ),
        (
            "a Host port that is not one",
            b"GET / HTTP/1.1\r\nHost: localhost:80x\r\n\r\n",
            "Host",
        ),
        (
            "Content-Length: 2, 2",
            b"POST /publish/notifications HTTP/1.1\r\nHost: localhost\r\n\
              Content-Length: 2, 2\r\n\r\nhi",
            "Content-Length",
        ),
        (
            "two Origins",
            b"GET / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\n\
              Origin: http://evil.test\r\n\r\n",
            "Origin",
        ),
        ("bare LF", b"GET / HTTP/1.1\nHost: localhost\n\n", "bare LF"),
    ];
    let rounds = if heavy() { 200 } else { 10 };
    for _ in 0..rounds {
        for (name, request, reason) in cases {
            let answer = ask(server.addr, request).expect("answered");
            assert_eq!(status_of(&answer), 400, "{name}: {answer}");
            assert!(answer.contains(reason), "{name}: {answer}");
        }
    }
    let report = probe.finish();
    report.print("row 20");
    report.assert_nothing_lost(1);
}

#[test]
fn row_14_a_publish_answered_503_is_never_delivered() {
    // In process: the hub is stalled on purpose, by a test command whose answer nobody takes
    // until the publish has been given up (a rendezvous channel: the hub waits on it).
    let server = TestServer::start();
    let mut listener = RawClient::connect(server.addr, "/notifications");
    server.wait_for_hub_clients(1);
    let release = server.shared.stall_hub();
    let publish = |text: &str| {
        let request = format!(
            "POST /publish/notifications HTTP/1.1\r\nHost: localhost\r\n\
             Content-Length: {}\r\n\r\n{text}",
            text.len()
        );
        ask(server.addr, request.as_bytes()).expect("publish answered")
    };
    let late = publish("late");
    assert_eq!(status_of(&late), 503, "{late}");
    assert!(late.contains("not published"), "{late}");
    // The hub catches up: it reaches the abandoned publish, and must drop it.
    assert_eq!(release.recv_timeout(TIMEOUT).ok(), Some(1));
    let after = publish("after");
    assert_eq!(status_of(&after), 202, "{after}");
    let event: Value = serde_json::from_str(&listener.read_text()).expect("JSON");
    assert_eq!(
        event["text"], "after",
        "the 503'd publish was delivered: {event}"
    );
}
