//! The hub under fire, against the real `wsmith` binary over real sockets: no group of clients
//! can kill it, stall it, or make it hold unbounded memory.
//!
//! - Hundreds of `/chat` clients stop reading at once while others talk: the slow-consumer
//!   worklist drops them all (no recursion: the process stays up), the talkers lose nothing.
//! - A `/broadcast` reader at a trickle is dropped by `--max-backlog-bytes`; the server's memory
//!   stays bounded.
//! - Heavy JSON at `/chat` is refused from the frame header (1009) or answered with an error,
//!   while another chat client's round trip stays short.
//! - A policy close is queued and logged once.
//! - stderr that nobody reads stalls nobody: lines are dropped and counted, not waited for.
//!
//! The tests run one at a time (they load the machine on purpose), each in a few seconds.

mod support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::process::Wsmith;
use support::{masked_frame, parse_server_frame, wait_until, RawClient, RawFrame, TIMEOUT};

/// One heavy test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// A chat client named `name`, read up to its own presence `join`.
fn chat_client(server: &Wsmith, name: &str) -> RawClient {
    let mut client = RawClient::connect(server.addr, &format!("/chat?name={name}"));
    for _ in 0..1000 {
        let event = parse(&client.read_text());
        if event["type"] == "presence" && event["name"] == name {
            return client;
        }
    }
    panic!("{name} never saw its own join");
}

/// Lines of the server's log that contain `needle`.
fn log_lines(server: &mut Wsmith, needle: &str) -> Vec<String> {
    server
        .output()
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// A talking chat client and what it has seen.
struct Talker {
    client: RawClient,
    /// The `seq` of the last message it read: every one arrives once, in order.
    seq: u64,
    /// Names whose presence `leave` it has seen.
    leaves: HashSet<String>,
    /// `users` of the last `leave`.
    users_after_last_leave: Option<u64>,
}

impl Talker {
    fn read_one(&mut self) {
        let text = self.client.read_text();
        // The fast path for the many chat messages: their `seq` without a whole JSON parse.
        if let Some(rest) = text.strip_prefix(r#"{"type":"message","channel":"general","seq":"#) {
            let digits = rest.split(',').next().unwrap_or_default();
            assert_eq!(
                digits.parse(),
                Ok(self.seq + 1),
                "a talker missed a message"
            );
            self.seq += 1;
            return;
        }
        let event = parse(&text);
        match event["type"].as_str() {
            Some("message") => {
                assert_eq!(event["seq"], self.seq + 1, "a talker missed a message");
                self.seq += 1;
            }
            Some("presence") if event["event"] == "leave" => {
                let name = event["name"].as_str().unwrap_or_default().to_owned();
                assert!(name.starts_with("silent"), "a talker left: {event}");
                assert!(self.leaves.insert(name), "two leaves for one client");
                self.users_after_last_leave = event["users"].as_u64();
            }
            _ => {}
        }
    }

    fn read_until(&mut self, seq: u64) {
        while self.seq < seq {
            self.read_one();
        }
    }
}

#[test]
fn hundreds_of_chat_clients_that_stop_reading_at_once_are_all_dropped_and_the_talkers_lose_nothing()
{
    const SILENT: usize = 300;
    const TALKERS: usize = 50;
    const TEXT_BYTES: usize = 3900;
    const MAX_ROUNDS: u64 = 150;
    // Each talker sends one message a round: the first rounds within the default
    // --rate-limit's burst (40), then 20 a second.
    const BURST_ROUNDS: u64 = 30;
    const ROUND: Duration = Duration::from_millis(50);
    let _serial = serial();
    let started = Instant::now();
    let mut server = Wsmith::start(&[
        "--max-backlog-bytes",
        "1048576",
        // The silent clients' writers block on full sockets: give them time to deliver the
        // Close once the sampled clients finally read.
        "--write-timeout",
        "60",
        "--close-timeout",
        "60",
        // Every leave is told by itself (the room of 350 is past the default size at which
        // presence is coalesced into counts).
        "--presence-lines-below",
        "1000",
    ]);
    let mut talkers: Vec<Talker> = (0..TALKERS)
        .map(|i| Talker {
            client: chat_client(&server, &format!("talker{i}")),
            seq: 0,
            leaves: HashSet::new(),
            users_after_last_leave: None,
        })
        .collect();
    // They never read anything, not even their welcome.
    let mut silent: Vec<RawClient> = (0..SILENT)
        .map(|i| RawClient::connect(server.addr, &format!("/chat?name=silent{i}")))
        .collect();
    let everyone = (TALKERS + SILENT) as u64;
    for talker in &mut talkers {
        loop {
            let event = parse(&talker.client.read_text());
            if event["type"] == "presence" && event["users"] == everyone {
                break;
            }
        }
    }
    let connected = started.elapsed();

    let filler = "x".repeat(TEXT_BYTES);
    let flood = Instant::now();
    let mut rounds = 0;
    while talkers.iter().any(|t| t.leaves.len() < SILENT) {
        assert!(
            rounds < MAX_ROUNDS,
            "after {rounds} rounds the talkers saw {:?} leaves of {SILENT}",
            talkers.iter().map(|t| t.leaves.len()).collect::<Vec<_>>()
        );
        let due = flood + ROUND * rounds.saturating_sub(BURST_ROUNDS) as u32;
        thread::sleep(due.saturating_duration_since(Instant::now()));
        for (i, talker) in talkers.iter_mut().enumerate() {
            talker
                .client
                .send_text(&format!("{rounds:>3} {i:>2} {filler}"));
        }
        // Lockstep: everyone has read every earlier round before the next one is sent.
        for talker in &mut talkers {
            talker.read_until(rounds * TALKERS as u64);
        }
        rounds += 1;
    }
    let sent = rounds * TALKERS as u64;
    for talker in &mut talkers {
        talker.read_until(sent);
        assert_eq!(talker.users_after_last_leave, Some(TALKERS as u64));
    }
    let flood_time = flood.elapsed();

    assert!(server.is_running(), "the server died: {}", server.output());
    let closes = log_lines(&mut server, "with 1008: slow consumer");
    assert_eq!(closes.len(), SILENT, "{closes:#?}");
    assert!(
        closes
            .iter()
            .all(|l| l.contains("bytes queued, limit 1048576")),
        "{closes:#?}"
    );
    // A newcomer is served and counted right.
    let mut newcomer = RawClient::connect(server.addr, "/chat?name=newcomer");
    let welcome = newcomer.next_event_of_type("welcome");
    assert_eq!(welcome["users"], TALKERS as u64 + 1);

    // The silent clients read at last: behind what their sockets held, the Close.
    let mut reasons = HashSet::new();
    let mut frames_before_close = Vec::new();
    for client in silent.iter_mut().step_by(SILENT / 10) {
        let mut frames = 0;
        let close = loop {
            let frame = client.read_frame();
            if frame.opcode == 0x8 {
                break frame;
            }
            frames += 1;
        };
        assert_eq!(close.close_code(), Some(1008));
        assert!(close.close_reason().contains("limit 1048576"), "{close:?}");
        reasons.insert(close.close_reason());
        frames_before_close.push(frames);
    }
    println!(
        "{SILENT} silent + {TALKERS} talkers: connected in {connected:?}; all silent dropped \
         after {rounds} rounds ({sent} messages of {TEXT_BYTES} B, {flood_time:?}); frames the \
         sampled silent clients got before their Close: {frames_before_close:?}; e.g. close \
         reasons {:?}; whole test {:?}",
        reasons.iter().take(3).collect::<Vec<_>>(),
        started.elapsed()
    );
}

/// `VmHWM` (peak resident memory) and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Reads frames from bytes already read plus the stream, until a Close.
fn read_until_close(stream: &mut TcpStream, mut buf: Vec<u8>) -> (usize, RawFrame) {
    let mut frames = 0;
    let mut at = 0;
    loop {
        while let Some((frame, used)) = parse_server_frame(buf.get(at..).unwrap_or_default()) {
            at += used;
            if frame.opcode == 0x8 {
                return (frames, frame);
            }
            frames += 1;
        }
        buf.drain(..at);
        at = 0;
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).expect("read (timed out?)");
        assert!(n > 0, "TCP closed before a Close frame");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn a_broadcast_reader_at_a_trickle_is_dropped_and_memory_stays_bounded() {
    const MESSAGES: usize = 600;
    const SIZE: usize = 32 * 1024;
    const LIMIT: usize = 4 << 20; // the default --max-backlog-bytes
    const WINDOW: usize = 4;
    let _serial = serial();
    let mut server = Wsmith::start(&[]);
    let mut sender = RawClient::connect(server.addr, "/broadcast?self=false");
    let mut reader = RawClient::connect(server.addr, "/broadcast?self=false");
    let trickle = RawClient::connect(server.addr, "/broadcast?self=false");
    let (peak_before, rss_before) = memory_kib(server.pid());

    // The trickle reader takes 4 KiB every 10 ms: always a little progress, so the write
    // timeout never fires.
    let stop = Arc::new(AtomicBool::new(false));
    let trickling = {
        let stop = Arc::clone(&stop);
        let mut stream = trickle.stream;
        thread::spawn(move || {
            let mut taken = Vec::new();
            let mut chunk = [0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                let n = stream.read(&mut chunk).expect("trickle read");
                taken.extend_from_slice(&chunk[..n]);
                thread::sleep(Duration::from_millis(10));
            }
            (stream, taken)
        })
    };
    let payload = |i: usize| {
        let mut bytes = vec![(i % 251) as u8; SIZE];
        bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
        bytes
    };
    let flood = Instant::now();
    let mut read = 0;
    for i in 0..MESSAGES {
        sender.send_frame(true, 0x2, &payload(i));
        while read + WINDOW <= i {
            assert_eq!(
                reader.read_frame().payload,
                payload(read),
                "lost or reordered"
            );
            read += 1;
        }
    }
    while read < MESSAGES {
        assert_eq!(
            reader.read_frame().payload,
            payload(read),
            "lost or reordered"
        );
        read += 1;
    }
    let flood_time = flood.elapsed();
    wait_until("the trickle reader is dropped", TIMEOUT, || {
        !log_lines(&mut server, "with 1008: slow consumer").is_empty()
    });
    let (peak_after, rss_after) = memory_kib(server.pid());
    stop.store(true, Ordering::SeqCst);
    let (mut stream, taken) = trickling.join().expect("trickle thread");
    let trickled = taken.len();
    let (frames, close) = read_until_close(&mut stream, taken);

    let closes = log_lines(&mut server, "with 1008: slow consumer");
    println!(
        "trickle reader: {MESSAGES} × {SIZE} B flowed in {flood_time:?}; it took {trickled} B \
         at a trickle and {frames} frames in all before the Close {:?}; server VmHWM {peak_before} \
         → {peak_after} KiB (+{} KiB), VmRSS {rss_before} → {rss_after} KiB; log: {closes:?}",
        close.close_reason(),
        peak_after - peak_before
    );
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(close.close_code(), Some(1008));
    let reason = close.close_reason();
    assert!(
        reason.starts_with("slow consumer: ") && reason.ends_with(" bytes queued, limit 4194304"),
        "{reason:?}"
    );
    assert!(frames < MESSAGES, "the trickle reader got everything");
    // Without the byte limit the trickle reader pins all ~19 MiB; with it, at most the limit
    // (plus what was in flight elsewhere: the reader's, the hub's and the writers' buffers).
    let growth_kib = peak_after.saturating_sub(peak_before);
    assert!(
        growth_kib < (LIMIT as u64 / 1024) * 5 / 2,
        "the server's peak RSS grew by {growth_kib} KiB (limit {} KiB)",
        LIMIT / 1024
    );
}

/// The round trip of one chat message from `probe` back to itself.
fn round_trip(probe: &mut RawClient, n: usize) -> Duration {
    let text = format!("probe {n}");
    let sent = Instant::now();
    probe.send_text(&text);
    loop {
        let event = parse(&probe.read_text());
        if event["type"] == "message" && event["text"] == text.as_str() {
            return sent.elapsed();
        }
    }
}

#[test]
fn heavy_json_at_chat_is_refused_early_and_another_clients_round_trip_stays_short() {
    const PROBES: usize = 300;
    const HUGE: u64 = 24 << 20; // what the issue's clients sent
    let _serial = serial();
    let mut server = Wsmith::start(&["--rate-limit", "1000"]);
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    // Three clients announce 24 MiB JSON texts, over and over: refused from the header.
    let over: Vec<_> = (0..3)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut refused = 0;
                let mut reasons = HashSet::new();
                while !stop.load(Ordering::SeqCst) {
                    let mut client = RawClient::connect(addr, "/chat");
                    let mut header = vec![0x81, 0x80 | 127];
                    header.extend(HUGE.to_be_bytes());
                    header.extend(support::KEY);
                    client.send_raw(&header);
                    let _ = client.stream.write_all(&[b'{'; 16 * 1024]);
                    let close = client.expect_close();
                    assert_eq!(close.close_code(), Some(1009), "{close:?}");
                    reasons.insert(close.close_reason());
                    refused += 1;
                    // A hundred 24 MiB texts a second each: heavy JSON, not a connection
                    // flood (every /chat connection is a join and a leave for the hub).
                    thread::sleep(Duration::from_millis(10));
                }
                (refused, reasons)
            })
        })
        .collect();
    // Two send JSON just under the chat limit (64 KiB): parsed, and refused as too long.
    let under: Vec<_> = (0..2)
        .map(|i| {
            let stop = Arc::clone(&stop);
            let mut client = chat_client(&server, &format!("heavy{i}"));
            thread::spawn(move || {
                let text = "y".repeat(60 * 1024);
                let json = format!(r#"{{"type":"message","text":"{text}"}}"#);
                let mut answered = 0;
                while !stop.load(Ordering::SeqCst) {
                    client.send_frame(true, 0x1, json.as_bytes());
                    loop {
                        let event = parse(&client.read_text());
                        if event["type"] == "error" {
                            assert_eq!(event["error"], "text_too_long", "{event}");
                            break;
                        }
                    }
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let mut probe = chat_client(&server, "probe");
    // Warm up: the heavy clients are busy before the measurement starts.
    for n in 0..20 {
        round_trip(&mut probe, n);
    }
    let mut times: Vec<Duration> = (0..PROBES).map(|n| round_trip(&mut probe, n)).collect();
    stop.store(true, Ordering::SeqCst);
    let over: Vec<_> = over.into_iter().map(|t| t.join().expect("over")).collect();
    let under: Vec<usize> = under
        .into_iter()
        .map(|t| t.join().expect("under"))
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let (p50, p99, max) = (at(0.5), at(0.99), times[times.len() - 1]);
    println!(
        "chat round trip under heavy JSON ({PROBES} probes): p50 {p50:?}, p99 {p99:?}, max \
         {max:?}; 24 MiB texts refused with 1009: {:?}; 60 KiB JSON answered text_too_long: \
         {under:?}; close reasons {:?}",
        over.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        over.iter().flat_map(|(_, r)| r).collect::<HashSet<_>>()
    );
    assert!(over.iter().all(|(n, _)| *n > 0) && under.iter().all(|n| *n > 0));
    assert!(server.is_running());
    // Generous, so a loaded machine cannot make it flake: before, it was over 300 ms.
    assert!(p99 < Duration::from_millis(100), "p99 round trip {p99:?}");
    let refused = log_lines(&mut server, "1009");
    assert!(!refused.is_empty(), "no 1009 in the log");
}

#[test]
fn a_policy_close_is_queued_and_logged_once() {
    let _serial = serial();
    let mut server = Wsmith::start(&["--rate-limit", "5", "--max-control-rate", "10"]);
    // A chat client far over the rate limit, and a client flooding Pings.
    let mut chatty = RawClient::connect(server.addr, "/chat?name=chatty");
    let mut flood = Vec::new();
    for n in 0..200 {
        flood.extend(masked_frame(true, 0x1, format!("message {n}").as_bytes()));
    }
    let mut pinger = RawClient::connect(server.addr, "/echo");
    let mut pings = Vec::new();
    for _ in 0..200 {
        pings.extend(masked_frame(true, 0x9, b"ping"));
    }
    chatty.send_raw(&flood);
    pinger.send_raw(&pings);
    for (client, why) in [(&mut chatty, "rate limit"), (&mut pinger, "flood")] {
        let close = client.expect_close();
        assert_eq!(close.close_code(), Some(1008));
        assert!(close.close_reason().contains(why), "{close:?}");
        // Answer it: the server has then read every frame sent before, and records the close.
        client.send_frame(true, 0x8, &close.payload[..2]);
        let mut closes = 0;
        let mut rest = Vec::new();
        let _ = client.stream.read_to_end(&mut rest);
        let mut at = 0;
        while let Some((frame, used)) = parse_server_frame(&rest[at..]) {
            at += used;
            closes += usize::from(frame.opcode == 0x8);
        }
        assert_eq!(closes, 0, "a second Close followed the first");
    }
    wait_until("both closes are recorded", TIMEOUT, || {
        log_lines(&mut server, "closed by").len() >= 2
    });
    let rate = log_lines(&mut server, "closing with 1008: rate limit");
    let control = log_lines(&mut server, "closing with 1008: §10.4 control frame flood");
    println!("policy closes logged: {rate:?} {control:?}");
    assert_eq!(rate.len(), 1, "{rate:#?}");
    assert_eq!(control.len(), 1, "{control:#?}");
}

/// stderr that nobody reads (a full pipe: a log collector that stopped, a terminal on hold).
/// With every frame logged (`--log-level trace`), an echo client makes far more lines than
/// the pipe and the log queue hold. Every round trip is still answered, the hub still relays
/// a broadcast and welcomes a chat client, and once stderr is read again its next lines say how
/// many were dropped; SIGTERM still ends the process.
#[test]
fn a_stderr_nobody_reads_stalls_nobody() {
    let _serial = serial();
    let mut server = Wsmith::start_with_stderr_unread(&["--log-level", "trace"]);
    let mut echo = RawClient::connect(server.addr, "/echo");
    // 12,000 messages: at least one trace line each, beside 8,192 queued and a 64 KiB pipe.
    for batch in 0..120 {
        for n in 0..100 {
            echo.send_text(&format!("{batch}.{n}"));
        }
        for n in 0..100 {
            assert_eq!(echo.read_text(), format!("{batch}.{n}"));
        }
    }
    let mut sender = RawClient::connect(server.addr, "/broadcast");
    let mut listener = RawClient::connect(server.addr, "/broadcast?self=false");
    server_relays(&mut sender, &mut listener);
    let mut chat = RawClient::connect(server.addr, "/chat?name=late");
    assert_eq!(chat.next_event_of_type("welcome")["name"], "late");
    server.read_stderr_from_now();
    wait_until("the dropped-lines report", TIMEOUT, || {
        server
            .output()
            .contains("log lines dropped: stderr did not keep up")
    });
    server.signal("TERM");
    server.wait_for_exit(Duration::from_secs(10));
}

/// A broadcast from `sender` reaches `listener` (both on `/broadcast`), retried while the
/// listener may still be joining.
fn server_relays(sender: &mut RawClient, listener: &mut RawClient) {
    for attempt in 0..50 {
        sender.send_text(&format!("through the hub {attempt}"));
        listener
            .stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut buf = [0u8; 256];
        if let Ok(n) = listener.stream.peek(&mut buf) {
            if n > 0 {
                listener
                    .stream
                    .set_read_timeout(Some(TIMEOUT))
                    .expect("timeout");
                assert!(listener.read_text().starts_with("through the hub"));
                return;
            }
        }
    }
    panic!("no broadcast reached the listener");
}
