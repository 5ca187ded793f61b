//! The attack suite, hub part: one client (or a few) trying to make the hub work for everyone,
//! against the real `wsmith` binary over loopback, while the probe ([`support::probe`]) keeps
//! making its `/echo` and `/chat` round trips. Each test asserts the functional outcome (the
//! probe lost nothing, the attacker and not the others was refused, the answer stayed within
//! its budget) and prints the probe's latencies and the attack's own figures; none asserts a
//! latency.
//!
//! | row | attack | what holds |
//! |---|---|---|
//! | 2 | connects with `resume=` of 31 channels full of history, churned | each replay ≤ `--max-replay-bytes` |
//! | 12 | `subscribe` to a big history, again and again | each replay ≤ `--max-replay-bytes` |
//! | 2 | a Join the hub's queue cannot take (a stalled hub, a small queue) | 503 with its reason; echo goes on |
//! | 4 | hundreds of chat clients join at once, then leave | one count a second, not a line per user |
//! | 5 | pipelined `/inspect` `list` | the Inspector is rate limited, then closed 1008 |
//! | 6 | dozens of watchers on one tap | `--max-watchers` attach, the rest get `too_many_watchers` |
//! | 9 | idle connections fill the thread budget | a broadcast's receivers still get writer threads |
//! | 10 | publishes to new names; subscribes to throwaway channels | 404; the channels expire |
//! | 16 | renames to a taken name among many `alice-N` | every rename answered |
//! | 17 | `server` + ZWSP, Cyrillic `а`lice, a bidi override | refused: `guest-N` and `bad_name` |
//!
//! Sizes are small so `cargo test` stays fast; `WSMITH_ATTACK_HEAVY=1` scales them up (a
//! bench-like run, not for CI). `WSMITH_BIN=/path/to/wsmith` runs the attacks against another
//! build, for before/after figures (the "what holds" assertions then say what that build
//! lets through).

mod support;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::probe::Probe;
use support::process::Wsmith;
use support::{http_exchange, status_of, upgrade_request, RawClient, TestServer, TIMEOUT};

/// The probe pings the chat every 20 ms, past the default `--rate-limit` of 20 a second in a
/// test of a few seconds: the servers here allow it (the attacks that flood the chat say so).
const PROBE_RATE: [&str; 2] = ["--rate-limit", "1000"];

/// One attack at a time: they load the machine on purpose.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `small`, or `heavy` under `WSMITH_ATTACK_HEAVY=1`.
fn size(small: usize, heavy: usize) -> usize {
    if std::env::var_os("WSMITH_ATTACK_HEAVY").is_some() {
        heavy
    } else {
        small
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// Reads events until one of `kind`, returning it and the bytes of every text read.
fn until(client: &mut RawClient, kind: &str) -> (Value, usize) {
    let mut bytes = 0;
    loop {
        let text = client.read_text();
        bytes += text.len();
        let event = parse(&text);
        if event["type"] == kind {
            return (event, bytes);
        }
    }
}

/// `POST /publish/<channel>` from loopback; the status.
fn publish(server: &Wsmith, channel: &str, text: &str) -> u16 {
    let request = format!(
        "POST /publish/{channel} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    );
    status_of(&http_exchange(server.addr, request.as_bytes()))
}

/// A chat client that has read its welcome.
fn chatter(server: &Wsmith, name: &str) -> RawClient {
    let mut client = RawClient::connect(server.addr, &format!("/chat?name={name}"));
    client.next_event_of_type("welcome");
    client
}

/// Fills `channels` with `per_channel` messages of ~4 KB each, through one chat client.
fn fill_history(server: &Wsmith, channels: &[String], per_channel: usize) {
    let mut writer = chatter(server, "writer");
    let text = "h".repeat(3900);
    for channel in channels {
        writer.send_text(&format!(r#"{{"type":"subscribe","channel":"{channel}"}}"#));
        until(&mut writer, "history");
        for _ in 0..per_channel {
            writer.send_text(&format!(
                r#"{{"type":"message","channel":"{channel}","text":"{text}"}}"#
            ));
        }
        // Its own messages come back: the last one says they are all kept.
        let mut seen = 0;
        while seen < per_channel {
            if until(&mut writer, "message").0["channel"] == channel.as_str() {
                seen += 1;
            }
        }
    }
}

/// Rows 2 and 12: replays are capped in bytes per request, whatever the history holds.
#[test]
fn resume_and_subscribe_replays_stay_within_their_byte_budget() {
    let _serial = serial();
    let server = Wsmith::start(&["--rate-limit", "100000"]);
    let channels: Vec<String> = (0..31).map(|i| format!("c{i}")).collect();
    fill_history(&server, &channels, 50);
    let resume: Vec<String> = channels.iter().map(|c| format!("{c}:0")).collect();
    let resume = resume.join(",");

    let probe = Probe::start(server.addr);
    let connects = size(30, 300);
    let started = Instant::now();
    let mut largest = 0;
    for i in 0..connects {
        let mut client =
            RawClient::connect(server.addr, &format!("/chat?name=r{i}&resume={resume}"));
        let mut bytes = 0;
        // general and the 31 resumed channels (the most one client may have), each one
        // `history`.
        for _ in 0..32 {
            bytes += until(&mut client, "history").1;
        }
        largest = largest.max(bytes);
    }
    let churn = started.elapsed();
    let subscribes = size(50, 500);
    let mut subscriber = chatter(&server, "again");
    let started = Instant::now();
    let mut largest_subscribe = 0;
    for _ in 0..subscribes {
        subscriber.send_text(r#"{"type":"subscribe","channel":"c0"}"#);
        let (history, bytes) = until(&mut subscriber, "history");
        assert!(history["messages"].as_array().is_some());
        largest_subscribe = largest_subscribe.max(bytes);
    }
    let resubscribing = started.elapsed();
    let report = probe.finish();
    report.print("rows 2 and 12");
    eprintln!(
        "row 2: {connects} resume connects of 31 full channels in {churn:?}, \
         largest {largest} bytes read before the last history"
    );
    eprintln!(
        "row 12: {subscribes} subscribes to a full channel in {resubscribing:?}, \
         largest {largest_subscribe} bytes read"
    );
    report.assert_nothing_lost(1);
    // 64 KiB of messages per request, plus the events' own fields and the welcome.
    assert!(largest < 96 * 1024, "a resume replayed {largest} bytes");
    assert!(
        largest_subscribe < 96 * 1024,
        "a subscribe replayed {largest_subscribe} bytes"
    );
}

/// Row 2, the refusal: a Join the hub's queue cannot take answers the upgrade 503 at once
/// instead of blocking its reader behind the hub. In process, with a queue of a few commands
/// (a `test-hooks` setting) and the hub stalled on purpose; the probe's chat ping would go
/// through the stalled hub, so what is checked is that an open `/echo` still echoes and that
/// a new connection is accepted once the hub is released.
#[test]
fn a_join_the_full_hub_queue_cannot_take_is_refused_with_503() {
    const QUEUE: usize = 4;
    let _serial = serial();
    let server = TestServer::with(|c| c.hub_queue = Some(QUEUE));
    let mut echo = RawClient::connect(server.addr, "/echo");
    server.wait_for_hub_clients(1);
    let release = server.shared.stall_hub();
    // The hub takes nothing now: each accepted upgrade leaves its Join in the queue.
    let mut queued = Vec::new();
    let refused = loop {
        match RawClient::try_connect(server.addr, "/echo") {
            Ok(client) => queued.push(client),
            Err(refused) => break refused,
        }
        assert!(
            queued.len() <= QUEUE,
            "{} upgrades accepted behind a stalled hub with a queue of {QUEUE}",
            queued.len()
        );
    };
    assert!(refused.to_string().contains("503"), "{refused}");
    // The queue is still full: the refusal's whole answer, read to its end.
    let answer = http_exchange(server.addr, upgrade_request("/echo", "").as_bytes());
    eprintln!(
        "row 2: {} joins queued behind the stalled hub, then: {refused}; answer: {:?}",
        queued.len(),
        answer.lines().last()
    );
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert!(
        answer
            .trim_end()
            .ends_with("server is too busy to take a new connection; retry later"),
        "{answer}"
    );
    // An open echo is answered on its own thread, hub or no hub.
    echo.send_text("still here");
    assert_eq!(echo.read_text(), "still here");
    drop(release);
    // Once the hub answers, it has taken every queued Join.
    assert_eq!(
        server.shared.hub_client_count(TIMEOUT),
        Some(1 + queued.len())
    );
    let mut after = RawClient::connect(server.addr, "/echo");
    after.send_text("accepted");
    assert_eq!(after.read_text(), "accepted");
}

/// Row 9: idle connections that fill the connection threads still leave the writers their
/// eighth of the thread budget, so a broadcast receiver sent more than its socket takes at
/// once gets a writer thread, not a "cannot start a writer" reset. In process, with a budget
/// of 64 threads (a `test-hooks` setting; 8 kept for writers) and a small `SO_SNDBUF` so a
/// 1 MiB message needs a writer. No probe: its new connections would be refused while the
/// attacker holds every place, which is the cap doing its work.
#[test]
fn idle_connections_at_the_cap_leave_writer_threads_for_a_broadcast() {
    const THREADS: usize = 64;
    let _serial = serial();
    let server = TestServer::with(|c| {
        c.thread_budget = Some(THREADS);
        c.socket_send_buffer = Some(4096);
    });
    let mut receivers: Vec<RawClient> = (0..4)
        .map(|_| RawClient::connect(server.addr, "/broadcast"))
        .collect();
    let mut sender = RawClient::connect(server.addr, "/broadcast");
    // The attacker: idle connections until the server refuses one.
    let mut idle = Vec::new();
    let refused = loop {
        match RawClient::try_connect(server.addr, "/echo") {
            Ok(client) => idle.push(client),
            Err(refused) => break refused,
        }
        assert!(
            idle.len() < THREADS,
            "{} idle connections accepted",
            idle.len()
        );
    };
    let payload = vec![0x5a; 1 << 20];
    sender.send_frame(true, 0x2, &payload);
    // Nobody read while the hub fanned it out: each socket took a part, a writer sends the
    // rest. The sender gets it too.
    let mut delivered = 0;
    for receiver in receivers.iter_mut().chain([&mut sender]) {
        let frame = receiver.read_frame();
        assert_eq!(
            (frame.opcode, frame.payload.len()),
            (0x2, payload.len()),
            "{:?} {}",
            frame.close_code(),
            frame.close_reason()
        );
        delivered += 1;
    }
    eprintln!(
        "row 9: {} idle connections held, then {refused}; the 1 MiB broadcast reached {delivered} of 5",
        idle.len()
    );
}

/// Row 4: a crowd joining and leaving costs one presence fan-out a second, not one per user.
#[test]
fn a_crowd_joining_at_once_gets_coalesced_presence() {
    let _serial = serial();
    let server = Wsmith::start(&[PROBE_RATE[0], PROBE_RATE[1]]);
    let mut watcher = chatter(&server, "watcher");
    // A room already past the size where presence is coalesced (100), as after a restart
    // when the first reconnects are in: the storm is the rest.
    let regulars: Vec<RawClient> = (0..100)
        .map(|i| RawClient::connect(server.addr, &format!("/chat?name=regular{i}")))
        .collect();
    while until(&mut watcher, "presence").0["users"] != regulars.len() + 1 {}
    let probe = Probe::start(server.addr);
    let crowd = size(300, 4000);
    let started = Instant::now();
    let joined: Vec<RawClient> = (0..crowd)
        .map(|i| RawClient::connect(server.addr, &format!("/chat?name=crowd{i}")))
        .collect();
    // The watcher's count reaches everyone (itself, the regulars, the probe and the crowd).
    let everyone = crowd + regulars.len() + 2;
    let mut presence_events = 0;
    loop {
        let (event, _) = until(&mut watcher, "presence");
        presence_events += 1;
        if event["users"] == everyone {
            break;
        }
    }
    let storm = started.elapsed();
    drop(joined);
    drop(regulars);
    let report = probe.finish();
    report.print("row 4");
    eprintln!(
        "row 4: {crowd} joined in {storm:?}; the watcher got {presence_events} presence events"
    );
    report.assert_nothing_lost(1);
    assert!(
        presence_events < crowd / 2,
        "{presence_events} presence events for {crowd} joins"
    );
}

/// Row 5: an Inspector pipelining `list` is rate limited on its own thread, then closed.
#[test]
fn a_pipelined_inspector_is_rate_limited_and_closed() {
    let _serial = serial();
    let server = Wsmith::start(&[PROBE_RATE[0], PROBE_RATE[1]]);
    let others: Vec<RawClient> = (0..size(200, 2000))
        .map(|_| RawClient::connect(server.addr, "/echo"))
        .collect();
    let probe = Probe::start(server.addr);
    let mut inspector = RawClient::connect(server.addr, "/inspect");
    let commands = size(500, 5000);
    let list = br#"{"type":"list"}"#;
    for _ in 0..commands {
        inspector.send_frame(true, 0x1, list);
    }
    let (mut lists, mut refused) = (0, 0);
    let close = loop {
        let frame = inspector.read_frame();
        match frame.opcode {
            0x1 => {
                let event = parse(&frame.text());
                if event["error"] == "rate_limited" {
                    refused += 1;
                } else if event["type"] == "connections" {
                    lists += 1;
                }
            }
            0x8 => break frame,
            _ => {}
        }
    };
    let report = probe.finish();
    report.print("row 5");
    eprintln!(
        "row 5: {commands} lists sent, {lists} answered, {refused} refused, then {:?}",
        close.close_code()
    );
    drop(others);
    report.assert_nothing_lost(1);
    assert_eq!(close.close_code(), Some(1008), "{}", close.close_reason());
    assert!(lists <= 20, "{lists} lists answered");
}

/// Row 6: watchers of one connection are capped; the rest are told why.
#[test]
fn watchers_of_one_connection_are_capped() {
    let _serial = serial();
    let server = Wsmith::start(&[PROBE_RATE[0], PROBE_RATE[1], "--max-watchers", "16"]);
    let _tapped = RawClient::connect(server.addr, "/chat?name=tapped&tap=T");
    let probe = Probe::start(server.addr);
    let watchers = size(40, 2000);
    let (mut attached, mut refused) = (0, 0);
    let mut held = Vec::new();
    for _ in 0..watchers {
        let mut inspector = RawClient::connect(server.addr, "/inspect");
        inspector.send_text(r#"{"type":"watch","tap":"T"}"#);
        let event = parse(&inspector.read_text());
        match (event["type"].as_str(), event["error"].as_str()) {
            (Some("attached"), _) => attached += 1,
            (_, Some("too_many_watchers")) => refused += 1,
            _ => panic!("unexpected answer to watch: {event}"),
        }
        held.push(inspector);
    }
    let report = probe.finish();
    report.print("row 6");
    eprintln!("row 6: {watchers} watchers asked, {attached} attached, {refused} refused");
    report.assert_nothing_lost(1);
    assert_eq!((attached, refused), (16, watchers - 16));
}

/// Row 10: publishing to names nobody made is refused; throwaway channels expire.
#[test]
fn channels_nobody_uses_cannot_fill_the_cap() {
    let _serial = serial();
    // A room this small coalesces its channel list like a large one.
    let server = Wsmith::start(&["--rate-limit", "100000", "--presence-lines-below", "2"]);
    let probe = Probe::start(server.addr);
    let names = size(200, 999);
    let refused = (0..names)
        .filter(|i| publish(&server, &format!("spam{i}"), "x") == 404)
        .count();
    let clients = size(10, 50);
    for i in 0..clients {
        let mut client = chatter(&server, &format!("churn{i}"));
        for j in 0..20 {
            client.send_text(&format!(r#"{{"type":"subscribe","channel":"t{i}-{j}"}}"#));
            until(&mut client, "subscribed");
        }
    }
    // The churners' leaves reach the hub after their sockets close: look until they have.
    let deadline = Instant::now() + Duration::from_secs(10);
    let welcome = loop {
        let mut fresh = RawClient::connect(server.addr, "/chat?name=fresh");
        let welcome = fresh.next_event_of_type("welcome");
        if welcome["channels"] == serde_json::json!(["general"]) || Instant::now() > deadline {
            break welcome;
        }
        std::thread::yield_now();
    };
    let report = probe.finish();
    report.print("row 10");
    eprintln!(
        "row 10: {refused} of {names} publishes to new names refused; channels after the churn: {}",
        welcome["channels"]
    );
    report.assert_nothing_lost(1);
    assert_eq!(refused, names);
    assert_eq!(welcome["channels"], serde_json::json!(["general"]));
}

/// Row 16: renames to a taken name among many numbered ones.
#[test]
fn renames_among_many_numbered_names_are_all_answered() {
    let _serial = serial();
    let server = Wsmith::start(&[PROBE_RATE[0], PROBE_RATE[1]]);
    let holders: Vec<RawClient> = (0..size(200, 3000))
        .map(|_| RawClient::connect(server.addr, "/chat?name=alice"))
        .collect();
    let probe = Probe::start(server.addr);
    let mut renamer = chatter(&server, "bob");
    let renames = size(200, 2000);
    let started = Instant::now();
    for i in 0..renames {
        let name = if i % 2 == 0 { "alice" } else { "bob" };
        renamer.send_text(&format!(r#"{{"type":"join","name":"{name}"}}"#));
    }
    renamer.send_text(r#"{"type":"ping"}"#);
    until(&mut renamer, "pong");
    let took = started.elapsed();
    let report = probe.finish();
    report.print("row 16");
    eprintln!(
        "row 16: {renames} renames among {} alice-N in {took:?} ({:?} each)",
        holders.len(),
        took / renames as u32
    );
    report.assert_nothing_lost(1);
}

/// Row 17: names that pass for another are refused.
#[test]
fn look_alike_names_are_refused() {
    let _serial = serial();
    let server = Wsmith::start(&[PROBE_RATE[0], PROBE_RATE[1]]);
    let probe = Probe::start(server.addr);
    // `server` + ZERO WIDTH SPACE, Cyrillic `а` + `lice`, `bob` + RIGHT-TO-LEFT OVERRIDE + `ecila`.
    let cases = [
        "server%E2%80%8B",
        "%D0%B0lice",
        "bob%E2%80%AEecila",
        "%EF%BD%93erver",
    ];
    let mut names = Vec::new();
    for case in cases {
        let mut client = RawClient::connect(server.addr, &format!("/chat?name={case}"));
        let welcome = client.next_event_of_type("welcome");
        let error = client.next_event_of_type("error");
        names.push((welcome["name"].clone(), error["error"].clone()));
    }
    let report = probe.finish();
    report.print("row 17");
    eprintln!("row 17: {names:?}");
    report.assert_nothing_lost(1);
    for (name, error) in names {
        assert!(
            name.as_str().is_some_and(|n| n.starts_with("guest-")),
            "{name}"
        );
        assert_eq!(error, "bad_name");
    }
}
