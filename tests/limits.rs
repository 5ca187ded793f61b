//! The limits that keep one client from hurting the others, each pushed to its edge over real
//! sockets: the connection cap (503), the handshake timeout against a slowloris crowd (408),
//! fragment floods (1008, 1009), a control-frame flood (1008), the chat rate limit (error
//! events, then 1008), the chat endpoints' own message limit (1009 one byte over), and a header
//! announcing 2^63−1 bytes (1009, no memory spent).
//!
//! Each test would fail without its limit: the 4th client would get a 101, the slow requests
//! would hold their threads forever, the floods would be echoed, and so on.

mod support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    http_exchange, masked_frame, status_of, upgrade_request, wait_until, RawClient, RawFrame,
    TestServer, KEY,
};

/// The memory test measures this process's RSS: it runs alone (write lock) while every other
/// test of this file holds a read lock.
static RSS_QUIET: RwLock<()> = RwLock::new(());

fn shared_run() -> RwLockReadGuard<'static, ()> {
    RSS_QUIET.read().unwrap_or_else(PoisonError::into_inner)
}

/// Masked frames `(fin, opcode, payload)`, concatenated into one write.
fn frames<'a>(list: impl IntoIterator<Item = (bool, u8, &'a [u8])>) -> Vec<u8> {
    list.into_iter()
        .flat_map(|(fin, opcode, payload)| masked_frame(fin, opcode, payload))
        .collect()
}

/// One message split into `count` fragments of `each` payload: Text, Continuations, FIN last
/// if `finished`.
fn fragmented(count: usize, each: &[u8], finished: bool) -> Vec<u8> {
    frames((0..count).map(|i| {
        let opcode = if i == 0 { 0x1 } else { 0x0 };
        let fin = finished && i + 1 == count;
        (fin, opcode, each)
    }))
}

/// Sends a Close 1000 and expects the echo and the end of TCP.
fn close_cleanly(client: &mut RawClient) {
    client.send_frame(true, 0x8, &1000u16.to_be_bytes());
    assert_eq!(client.expect_close().close_code(), Some(1000));
    client.expect_eof();
}

/// Answers the server's Close with the same code, then expects TCP to end.
fn reply_to_close(client: &mut RawClient, close: &RawFrame) {
    let code = close.close_code().expect("a close code");
    client.send_frame(true, 0x8, &code.to_be_bytes());
    client.expect_eof();
}

fn assert_close(close: &RawFrame, code: u16, reason_holds: &str) {
    assert_eq!(close.opcode, 0x8, "{close:?}");
    assert_eq!(close.close_code(), Some(code), "{close:?}");
    let reason = close.close_reason();
    assert!(
        reason.to_lowercase().contains(reason_holds),
        "close {code} reason {reason:?} does not mention {reason_holds:?}"
    );
}

#[test]
fn connection_over_the_cap_is_answered_503_and_a_freed_slot_lets_the_next_one_in() {
    let _run = shared_run();
    let server = TestServer::with(|c| c.max_connections = 3);
    let mut clients: Vec<RawClient> = (0..3)
        .map(|_| RawClient::connect(server.addr, "/echo"))
        .collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send_text(&format!("client {i}"));
        assert_eq!(client.read_text(), format!("client {i}"));
    }

    let answer = http_exchange(server.addr, upgrade_request("/echo", "").as_bytes());
    assert_eq!(status_of(&answer), 503, "4th upgrade: {answer:?}");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    assert!(
        body.contains("connection limit"),
        "503 without a reason body: {answer:?}"
    );

    for (i, client) in clients.iter_mut().enumerate() {
        client.send_text(&format!("still here {i}"));
        assert_eq!(client.read_text(), format!("still here {i}"));
    }

    let mut leaving = clients.remove(0);
    close_cleanly(&mut leaving);
    wait_until(
        "active connections drop to 2",
        Duration::from_secs(5),
        || server.shared.active_connections() == 2,
    );
    let mut newcomer = RawClient::connect(server.addr, "/echo");
    newcomer.send_text("in the freed slot");
    assert_eq!(newcomer.read_text(), "in the freed slot");
}

/// Slowloris connections in the handshake-timeout test.
const SLOWLORIS: usize = 1000;
/// Slow connections opened before waiting for the server to accept them.
const CONNECT_BATCH: usize = 50;
/// Client threads that trickle bytes into them, round-robin.
const TRICKLERS: usize = 4;
/// Each slow connection sends one more byte this often.
const TRICKLE_EVERY: Duration = Duration::from_millis(500);

/// One slowloris connection, as its trickler thread sees it.
struct Slow {
    stream: TcpStream,
    last_write: Instant,
    answer: Vec<u8>,
    /// When the first byte of the answer arrived (since the test started).
    answered_at: Option<Duration>,
    /// When the server closed TCP (since the test started).
    closed_at: Option<Duration>,
}

/// Round-robin over `slow`: read what the server answered, else write one more byte of the
/// never-ending request head every [`TRICKLE_EVERY`]. Ends when every socket is closed by the
/// server or at `deadline`.
fn trickle(
    mut slow: Vec<Slow>,
    started: Instant,
    deadline: Instant,
    answered: &AtomicUsize,
) -> Vec<Slow> {
    let mut chunk = [0u8; 1024];
    while Instant::now() < deadline && slow.iter().any(|s| s.closed_at.is_none()) {
        for s in slow.iter_mut().filter(|s| s.closed_at.is_none()) {
            match s.stream.read(&mut chunk) {
                Ok(0) => s.closed_at = Some(started.elapsed()),
                Ok(n) => {
                    if s.answered_at.is_none() {
                        s.answered_at = Some(started.elapsed());
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    s.answer.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if s.answered_at.is_none() && s.last_write.elapsed() >= TRICKLE_EVERY {
                        // A header value that never ends: the head is never whole.
                        let _ = s.stream.write(b"a");
                        s.last_write = Instant::now();
                    }
                }
                Err(_) => s.closed_at = Some(started.elapsed()), // a reset ends it too
            }
        }
        // Pacing of the trickle, not a wait for readiness.
        thread::sleep(Duration::from_millis(20));
    }
    slow
}

#[test]
fn slowloris_crowd_is_answered_408_while_a_normal_client_gets_in_quickly() {
    let _run = shared_run();
    let handshake_timeout = Duration::from_secs(2);
    // The crowd and the normal client share 127.0.0.1: no per-address cap here, this test is
    // about the handshake timeout (tests/attack_http.rs has the per-address one).
    let server = TestServer::with(|c| {
        c.handshake_timeout = handshake_timeout;
        c.max_heads_per_address = 0;
    });
    let baseline = server.shared.active_connections();

    let started = Instant::now();
    let mut groups: Vec<Vec<Slow>> = (0..TRICKLERS).map(|_| Vec::new()).collect();
    for i in 0..SLOWLORIS {
        if i % CONNECT_BATCH == 0 {
            // Let the accept loop catch up: a full listen backlog drops SYNs, and the kernel
            // retries them only after a second.
            wait_until("the server accepts a batch", Duration::from_secs(5), || {
                server.shared.active_connections() == baseline + i
            });
        }
        let mut stream = TcpStream::connect(server.addr).expect("connect a slow client");
        stream
            .write_all(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .expect("first bytes of the head");
        stream.set_nonblocking(true).expect("non-blocking");
        groups[i % TRICKLERS].push(Slow {
            stream,
            last_write: Instant::now(),
            answer: Vec::new(),
            answered_at: None,
            closed_at: None,
        });
    }
    let connected_in = started.elapsed();
    let answered = Arc::new(AtomicUsize::new(0));
    let deadline = started + handshake_timeout + Duration::from_secs(10);
    let tricklers: Vec<_> = groups
        .into_iter()
        .map(|group| {
            let answered = Arc::clone(&answered);
            thread::spawn(move || trickle(group, started, deadline, &answered))
        })
        .collect();
    wait_until(
        "the server holds every slow connection",
        Duration::from_secs(10),
        || server.shared.active_connections() == baseline + SLOWLORIS,
    );

    // A normal client, while all of them trickle.
    let clock = Instant::now();
    let mut normal = RawClient::connect(server.addr, "/echo");
    let handshake = clock.elapsed();
    normal.send_text("through the crowd");
    assert_eq!(normal.read_text(), "through the crowd");
    let with_echo = clock.elapsed();
    let answered_meanwhile = answered.load(Ordering::SeqCst);
    eprintln!(
        "slowloris: {SLOWLORIS} connections opened in {connected_in:?}; normal client \
         handshake {handshake:?}, handshake + echo {with_echo:?} (at {:?}; {answered_meanwhile} \
         slow ones answered by then)",
        started.elapsed()
    );
    assert!(
        handshake < Duration::from_secs(1),
        "the normal handshake took {handshake:?} behind {SLOWLORIS} slow connections"
    );
    assert!(
        answered_meanwhile < SLOWLORIS,
        "the normal client was measured after the crowd was gone"
    );
    close_cleanly(&mut normal);

    let slow: Vec<Slow> = tricklers
        .into_iter()
        .flat_map(|t| t.join().expect("trickler thread"))
        .collect();
    let answered_408 = slow
        .iter()
        .filter(|s| s.answer.starts_with(b"HTTP/1.1 408"))
        .count();
    let closed = slow.iter().filter(|s| s.closed_at.is_some()).count();
    let times: Vec<Duration> = slow.iter().filter_map(|s| s.answered_at).collect();
    let first = times.iter().min().copied().unwrap_or_default();
    let last = times.iter().max().copied().unwrap_or_default();
    eprintln!(
        "slowloris: {answered_408}/{SLOWLORIS} answered 408, {closed} closed by the server; \
         answers arrived {first:?}..{last:?} after the first connect (handshake timeout \
         {handshake_timeout:?})"
    );
    if let Some(odd) = slow.iter().find(|s| !s.answer.starts_with(b"HTTP/1.1 408")) {
        panic!(
            "a slow connection was not answered 408: {:?} (closed at {:?})",
            String::from_utf8_lossy(&odd.answer),
            odd.closed_at
        );
    }
    assert_eq!(closed, SLOWLORIS, "every slow connection is closed");
    assert!(
        first >= handshake_timeout,
        "a slow connection was answered at {first:?}, before the {handshake_timeout:?} timeout"
    );
    let drained = wait_until(
        "active connections back to the baseline",
        Duration::from_secs(10),
        || server.shared.active_connections() == baseline,
    );
    eprintln!("slowloris: active connections at the baseline {baseline} ({drained:?} after the tricklers ended)");
}

#[test]
fn a_thousand_empty_fragments_are_one_message_and_one_more_is_answered_1008() {
    let _run = shared_run();
    let server = TestServer::with(|c| c.limits.max_fragments = 1000);
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_raw(&fragmented(1000, b"", true));
    let echo = client.read_frame();
    assert_eq!((echo.fin, echo.opcode, echo.payload.len()), (true, 0x1, 0));

    client.send_raw(&fragmented(1001, b"", true));
    let close = client.expect_close();
    assert_close(&close, 1008, "1000 fragments");
    client.expect_eof();
}

#[test]
fn one_byte_fragments_fill_the_message_limit_and_one_byte_more_is_answered_1009() {
    let _run = shared_run();
    let server = TestServer::with(|c| c.limits.max_message_size = 10_000);
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_raw(&fragmented(10_000, b"x", true));
    assert_eq!(client.read_text(), "x".repeat(10_000));

    // The same flood, unfinished, then one more byte: the message would be 10,001 bytes.
    client.send_raw(&fragmented(10_000, b"x", false));
    client.send_frame(true, 0x0, b"x");
    let close = client.expect_close();
    assert_close(&close, 1009, "10000");
    client.expect_eof();
}

#[test]
fn a_chat_message_at_the_chat_limit_is_read_and_one_byte_more_is_answered_1009() {
    const LIMIT: usize = 64 * 1024; // --max-chat-message-size's default
    let _run = shared_run();
    let server = TestServer::start();
    // At the limit: read and refused by the chat as too long, and the connection stays open.
    let mut chat = RawClient::connect(server.addr, "/chat?name=edge");
    chat.send_text(&"x".repeat(LIMIT));
    let refused = chat_events_until(&mut chat, |event| event["type"] == "error");
    assert_eq!(
        refused.last().map(|e| e["error"].clone()),
        Some("text_too_long".into())
    );
    // One byte more is refused from the frame header.
    chat.send_raw(&masked_frame(true, 0x1, "x".repeat(LIMIT + 1).as_bytes()));
    let close = chat.expect_close();
    assert_close(&close, 1009, "65536");
    // /echo keeps the large --max-message-size.
    let mut echo = RawClient::connect(server.addr, "/echo");
    echo.send_text(&"y".repeat(LIMIT + 1));
    assert_eq!(echo.read_text().len(), LIMIT + 1);
    close_cleanly(&mut echo);
}

#[test]
fn ping_flood_over_the_control_rate_is_closed_1008_after_the_pongs() {
    let _run = shared_run();
    let server = TestServer::with(|c| c.max_control_rate = 50);
    let mut client = RawClient::connect(server.addr, "/echo");
    let pings: Vec<Vec<u8>> = (0..200).map(|i| format!("ping {i}").into_bytes()).collect();
    client.send_raw(&frames(pings.iter().map(|p| (true, 0x9, p.as_slice()))));
    // How many Pongs precede the Close depends on how the burst was read; it is reported.
    let mut pongs = 0;
    let close = loop {
        let frame = client.read_frame();
        match frame.opcode {
            0xA => {
                assert_eq!(frame.payload, pings[pongs], "pong {pongs}");
                pongs += 1;
            }
            0x8 => break frame,
            other => panic!("expected pongs then a close, got opcode {other:#x}: {frame:?}"),
        }
    };
    eprintln!("control flood: {pongs} pongs before the close");
    assert_close(&close, 1008, "control frame");
    reply_to_close(&mut client, &close);
}

#[test]
fn pings_at_the_control_rate_are_all_answered() {
    let _run = shared_run();
    let server = TestServer::with(|c| c.max_control_rate = 50);
    let mut client = RawClient::connect(server.addr, "/echo");
    let pings: Vec<Vec<u8>> = (0..50).map(|i| format!("ping {i}").into_bytes()).collect();
    client.send_raw(&frames(pings.iter().map(|p| (true, 0x9, p.as_slice()))));
    for (i, ping) in pings.iter().enumerate() {
        let pong = client.read_frame();
        assert_eq!((pong.opcode, &pong.payload), (0xA, ping), "pong {i}");
    }
    client.send_text("still open");
    assert_eq!(client.read_text(), "still open");
}

/// Reads chat events (JSON Text frames) until `done` says so; returns them all.
fn chat_events_until(client: &mut RawClient, mut done: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    for _ in 0..1000 {
        let event: Value = serde_json::from_str(&client.read_text()).expect("JSON event");
        let stop = done(&event);
        events.push(event);
        if stop {
            return events;
        }
    }
    panic!("no expected chat event within 1000 events: {events:?}");
}

#[test]
fn chat_client_over_the_rate_limit_gets_error_events_then_close_1008() {
    let _run = shared_run();
    let server = TestServer::with(|c| c.rate_limit = 5);
    let mut client = RawClient::connect(server.addr, "/chat");
    chat_events_until(&mut client, |e| e["type"] == "presence");

    // The bucket holds twice the rate (10); 13 lines in one write overflow it.
    let lines: Vec<String> = (0..13).map(|i| format!("line {i}")).collect();
    client.send_raw(&frames(lines.iter().map(|l| (true, 0x1, l.as_bytes()))));
    let (mut relayed, mut refused) = (0, 0);
    chat_events_until(&mut client, |event| {
        match (event["type"].as_str(), event["error"].as_str()) {
            (Some("message"), _) => relayed += 1,
            (Some("error"), Some("rate_limited")) => refused += 1,
            _ => panic!("unexpected event during the burst: {event}"),
        }
        relayed + refused == lines.len()
    });
    eprintln!("chat rate limit 5/s: burst of 13 → {relayed} relayed, {refused} rate_limited");
    assert!(
        refused >= 1,
        "13 lines at once with a burst of 10: none refused"
    );
    assert!(
        relayed >= 10,
        "the burst allowance was not honoured: {relayed} relayed"
    );

    // Keep going: a client that ignores the errors is closed.
    let more: Vec<String> = (0..40).map(|i| format!("more {i}")).collect();
    client.send_raw(&frames(more.iter().map(|l| (true, 0x1, l.as_bytes()))));
    let close = client.expect_close();
    assert_close(&close, 1008, "rate limit");
    reply_to_close(&mut client, &close);
}

/// This process's resident set size, in bytes (`VmRSS` in `/proc/self/status`).
fn vm_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

#[test]
fn header_announcing_2_pow_63_minus_1_bytes_is_answered_1009_without_memory_growth() {
    let _alone = RSS_QUIET.write().unwrap_or_else(PoisonError::into_inner);
    let server = TestServer::start();
    let mut client = RawClient::connect(server.addr, "/echo");
    client.send_text("warm up");
    assert_eq!(client.read_text(), "warm up");
    let before = vm_rss();
    let mut header = vec![0x82, 0x80 | 127];
    header.extend((i64::MAX as u64).to_be_bytes());
    header.extend(KEY);
    client.send_raw(&header);
    let close = client.expect_close();
    assert_close(&close, 1009, "limit");
    client.expect_eof();
    let after = vm_rss();
    let growth = after.saturating_sub(before);
    eprintln!(
        "2^63-1 header: VmRSS {} KiB before, {} KiB after (+{} KiB)",
        before / 1024,
        after / 1024,
        growth / 1024
    );
    assert!(growth < 10 << 20, "RSS grew by {growth} bytes");
}
