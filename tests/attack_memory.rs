//! The attack suite's memory rows, against the real binary while the probe (an innocent `/echo`
//! and `/chat` client) runs: what one client can make the server hold, in user space and in the
//! kernel, stays bounded, and the attacker, not the others, is refused.
//!
//! - Row 7: two compressed messages to `/broadcast` that inflate to MiBs each: their sender is
//!   closed 1009, and the receivers, reading as fast as they can, are not slow consumers.
//! - Row 1: compressed first fragments that inflate to MiBs each, never finished: the
//!   incomplete messages together stay within `--max-buffered-bytes`; the connection whose
//!   message would go over is closed 1013; the ones already held are untouched.
//! - Row 11: `/lab` fed a compressed frame that inflates far past the lab's message limit.
//! - Row 13: slow consumers dropped with 1008 behind full sockets are reset, not left as
//!   `FIN-WAIT-1` orphans holding their send queues.
//!
//! Sizes are bounded so that `cargo test` stays fast. `WSMITH_ATTACK_HEAVY=1` scales them up to
//! the issue's own figures (120 connections × 60 MiB at the default 1 GiB budget; two 60 MiB
//! relays to 20 receivers; 30 `/lab` zip bombs of 120 MiB; 200 slow consumers): a bench-like
//! run, not part of CI.

mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use support::probe::Probe;
use support::process::Wsmith;
use support::{http_exchange, masked_frame, wait_until, RawClient};
use wsmith::protocol::deflate::Deflater;

const DEFLATE: &str = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

fn heavy() -> bool {
    std::env::var_os("WSMITH_ATTACK_HEAVY").is_some()
}

/// The child's resident memory, from `/proc/PID/status`.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS")
        * 1024
}

/// One sample of `GET /metrics`: the first line named `name` (labels included, if given).
fn metric(addr: SocketAddr, name: &str) -> i64 {
    let answer = http_exchange(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    answer
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// The kernel's TCP line of `/proc/net/sockstat` (sockets, orphans, pages of memory).
fn sockstat() -> String {
    std::fs::read_to_string("/proc/net/sockstat")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("TCP:"))
        .unwrap_or_default()
        .to_owned()
}

/// Sockets on the server's port in `FIN-WAIT-1` (state 04 in `/proc/net/tcp`).
fn fin_wait_1(port: u16) -> usize {
    let local = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1).is_some_and(|l| l.ends_with(&local)) && fields.get(3) == Some(&"04")
        })
        .count()
}

/// The first fragment of a compressed Binary message (RSV1, FIN clear) whose payload inflates
/// to `inflated` zeros.
fn compressed_first_fragment(inflated: usize) -> Vec<u8> {
    let deflated = Deflater::new(15, true).compress(&vec![0u8; inflated]);
    let mut frame = masked_frame(false, 0x2, &deflated);
    frame[0] |= 0x40;
    frame
}

/// What became of an attacker after its fragment: a Pong to the Ping sent behind it means
/// the fragment was read and is held; a Close carries the refusal.
enum Fate {
    Held(RawClient),
    Closed(u16),
}

fn attack_with_a_partial_message(addr: SocketAddr, fragment: &[u8]) -> Fate {
    let mut attacker = RawClient::connect_with(addr, "/echo", DEFLATE);
    attacker.send_raw(fragment);
    attacker.send_frame(true, 0x9, b"still here");
    let frame = attacker.read_frame();
    match frame.opcode {
        0xA => Fate::Held(attacker),
        0x8 => Fate::Closed(frame.close_code().unwrap_or(0)),
        other => panic!("unexpected opcode {other:#x}"),
    }
}

#[test]
fn row_1_partial_compressed_messages_stay_within_the_server_wide_budget() {
    // Light: 20 × 6 MiB (8 MiB of buffer each, as it doubles) against 64 MiB.
    // Heavy: the 120 × 60 MiB against the default 1 GiB.
    let (attackers, inflated, budget): (usize, usize, u64) = if heavy() {
        (120, 60 << 20, 1 << 30)
    } else {
        (20, 6 << 20, 64 << 20)
    };
    let budget_flag = budget.to_string();
    let server = Wsmith::start(&["--max-buffered-bytes", &budget_flag]);
    let fragment = compressed_first_fragment(inflated);
    let before = rss_bytes(server.pid());
    let probe = Probe::start(server.addr);
    let started = std::time::Instant::now();
    let mut held = Vec::new();
    let mut refused = 0;
    let mut peak = before;
    for _ in 0..attackers {
        match attack_with_a_partial_message(server.addr, &fragment) {
            Fate::Held(client) => held.push(client),
            Fate::Closed(code) => {
                assert_eq!(code, 1013, "refused with Try Again Later");
                refused += 1;
            }
        }
        peak = peak.max(rss_bytes(server.pid()));
    }
    let elapsed = started.elapsed();
    let buffered = metric(server.addr, "wsmith_buffered_message_bytes");
    let refusals = metric(server.addr, "wsmith_buffered_budget_refusals_total");
    let report = probe.finish();
    eprintln!(
        "row 1: {attackers} attackers × {} MiB inflated ({} bytes each uploaded) in {elapsed:?}: \
         {} held, {refused} closed 1013; buffered {buffered} bytes of {budget}; \
         RSS {} MiB before, peak {} MiB",
        inflated >> 20,
        fragment.len(),
        held.len(),
        before >> 20,
        peak >> 20
    );
    report.print("row 1");
    report.assert_nothing_lost(3);
    assert!(refused > 0, "the budget tripped");
    assert_eq!(refusals, refused as i64);
    assert!(!held.is_empty(), "the first attackers kept their share");
    assert!(
        buffered as u64 <= budget,
        "buffered {buffered} over {budget}"
    );
    let margin = 48 << 20;
    assert!(
        peak.saturating_sub(before) <= budget + margin,
        "RSS grew {} MiB, over the budget + {} MiB",
        peak.saturating_sub(before) >> 20,
        margin >> 20
    );
    // The attackers that held a share are still served; once they leave, the budget is free.
    for client in &mut held {
        client.send_frame(true, 0x9, b"again");
        assert_eq!(client.read_frame().opcode, 0xA);
    }
    drop(held);
    wait_until("the budget is given back", Duration::from_secs(10), || {
        metric(server.addr, "wsmith_buffered_message_bytes") == 0
    });
}

#[test]
fn row_1_an_uncompressed_frame_the_budget_cannot_hold_is_refused_as_its_payload_arrives() {
    let server = Wsmith::start(&["--max-buffered-bytes", "1048576"]);
    let mut attacker = RawClient::connect(server.addr, "/echo");
    // A 2 MiB frame, of which only the header and the first 200 KiB come: the payload is read
    // straight into the message (the lent-buffer path), whose room must be reserved first.
    let frame = masked_frame(true, 0x2, &vec![7u8; 2 << 20]);
    attacker.send_raw(&frame[..14 + (200 << 10)]);
    let close = attacker.read_frame();
    assert_eq!((close.opcode, close.close_code()), (0x8, Some(1013)));
    assert_eq!(metric(server.addr, "wsmith_buffered_message_bytes"), 0);
    // A client sending an ordinary message is not refused.
    let mut innocent = RawClient::connect(server.addr, "/echo");
    innocent.send_text("hello");
    assert_eq!(innocent.read_text(), "hello");
}

#[test]
fn row_7_a_relay_too_large_for_a_receivers_backlog_refuses_its_sender() {
    // Light: two messages of 8 MiB inflated (about 8 KiB each on the wire), 10 receivers.
    // Heavy: the two of 60 MiB (61 KB each), 20 receivers.
    let (inflated, receivers): (usize, usize) = if heavy() {
        (60 << 20, 20)
    } else {
        (8 << 20, 10)
    };
    let server = Wsmith::start(&[]);
    let probe = Probe::start(server.addr);
    // Receivers that read as fast as they can, until the innocent sender's "after".
    let readers: Vec<_> = (0..receivers)
        .map(|_| {
            let mut client = RawClient::connect(server.addr, "/broadcast?self=false");
            std::thread::spawn(move || {
                let mut bytes = 0;
                loop {
                    let frame = client.read_frame();
                    match frame.opcode {
                        0x8 => return Err(frame.close_code()),
                        0x1 if frame.payload == b"after" => return Ok(bytes),
                        _ => bytes += frame.payload.len(),
                    }
                }
            })
        })
        .collect();
    let mut attacker = RawClient::connect_with(server.addr, "/broadcast?self=false", DEFLATE);
    let deflated = Deflater::new(15, true).compress(&vec![0u8; inflated]);
    let mut message = masked_frame(true, 0x2, &deflated);
    message[0] |= 0x40;
    attacker.send_raw(&message);
    // The second may find the connection closed already.
    let _ = std::io::Write::write_all(&mut attacker.stream, &message);
    let refused = attacker.read_frame();
    let mut innocent = RawClient::connect(server.addr, "/broadcast?self=false");
    innocent.send_text("after");
    let outcomes: Vec<_> = readers
        .into_iter()
        .map(|reader| reader.join().expect("the reader thread"))
        .collect();
    let drops = metric(
        server.addr,
        "wsmith_slow_consumer_drops_total{limit=\"max_backlog_bytes\"}",
    );
    let report = probe.finish();
    eprintln!(
        "row 7: two {}-byte messages ({} MiB inflated each) to {receivers} receivers: \
         sender closed {:?} ({}); receivers {:?}; slow consumers dropped {drops}",
        message.len(),
        inflated >> 20,
        refused.close_code(),
        refused.close_reason(),
        outcomes
    );
    report.print("row 7");
    report.assert_nothing_lost(1);
    assert_eq!(refused.close_code(), Some(1009), "the sender is refused");
    assert!(
        outcomes.iter().all(|outcome| *outcome == Ok(0)),
        "every receiver is still served and got nothing of the relay: {outcomes:?}"
    );
    assert_eq!(drops, 0);
    assert_eq!(metric(server.addr, "wsmith_relays_refused_total"), 1);
}

#[test]
fn row_11_the_lab_inflates_a_zip_bomb_only_to_its_own_limit() {
    // Light: 8 MiB in one compressed frame of about 8 KiB, 5 learners.
    // Heavy: the frame of about 120 KiB (120 MiB inflated), 30 learners.
    let (inflated, learners): (usize, usize) = if heavy() {
        (120 << 20, 30)
    } else {
        (8 << 20, 5)
    };
    let server = Wsmith::start(&[]);
    let deflated = Deflater::new(15, true).compress(&vec![0u8; inflated]);
    let mut frame = vec![0xc2, 0xff];
    frame.extend((deflated.len() as u64).to_be_bytes());
    frame.extend([0, 0, 0, 0]);
    frame.extend(&deflated);
    let hex: Vec<String> = frame.iter().map(|b| format!("{b:02x}")).collect();
    let command = serde_json::json!({"type": "feed", "hex": hex.join(" "), "deflate": true});
    let before = rss_bytes(server.pid());
    let probe = Probe::start(server.addr);
    let started = std::time::Instant::now();
    let mut labs: Vec<RawClient> = (0..learners)
        .map(|_| RawClient::connect(server.addr, "/lab"))
        .collect();
    for lab in &mut labs {
        lab.send_text(&command.to_string());
    }
    let mut peak = before;
    for lab in &mut labs {
        let report: serde_json::Value =
            serde_json::from_str(&lab.read_text()).expect("the lab answers JSON");
        peak = peak.max(rss_bytes(server.pid()));
        assert_eq!(report["type"], "report", "{report}");
        assert_eq!(report["verdict"]["code"], 1009, "{}", report["verdict"]);
        assert_eq!(report["limits"]["max_message_size"], 1 << 20);
    }
    let elapsed = started.elapsed();
    let report = probe.finish();
    eprintln!(
        "row 11: {learners} /lab feeds of a {}-byte frame ({} MiB inflated) in {elapsed:?}; \
         RSS {} MiB before, peak {} MiB",
        frame.len(),
        inflated >> 20,
        before >> 20,
        peak >> 20
    );
    report.print("row 11");
    report.assert_nothing_lost(1);
    // Each learner's core holds at most the lab's 1 MiB message; the explainer inflates into
    // a scratch buffer it empties as it goes. Before, each held 64 MiB.
    let grown = peak.saturating_sub(before);
    let bound = learners as u64 * (1 << 20) + (16 << 20);
    assert!(grown <= bound, "RSS grew {} MiB", grown >> 20);
}

#[test]
fn row_13_slow_consumers_behind_full_sockets_are_reset_not_orphaned() {
    let receivers = if heavy() { 200 } else { 8 };
    let server = Wsmith::start(&[
        "--max-backlog-bytes",
        "262144",
        "--write-timeout",
        "1",
        "--close-timeout",
        "1",
    ]);
    let probe = Probe::start(server.addr);
    let before = sockstat();
    // Receivers that never read: their sockets fill, then their outboxes.
    let stalled: Vec<RawClient> = (0..receivers)
        .map(|_| RawClient::connect(server.addr, "/broadcast?self=false"))
        .collect();
    let mut sender = RawClient::connect(server.addr, "/broadcast?self=false");
    let message = vec![0x5a; 64 * 1024];
    let drops = |addr| {
        metric(
            addr,
            "wsmith_slow_consumer_drops_total{limit=\"max_backlog_bytes\"}",
        )
    };
    let mut sent = 0;
    while drops(server.addr) < receivers as i64 {
        for _ in 0..16 {
            sender.send_frame(true, 0x2, &message);
        }
        sent += 16;
        assert!(sent < 100_000, "the receivers were never dropped");
    }
    let during = sockstat();
    let port = server.addr.port();
    let waited = wait_until(
        "the dropped receivers' sockets are gone (no FIN-WAIT-1 orphan)",
        Duration::from_secs(15),
        || {
            fin_wait_1(port) == 0
                && metric(server.addr, "wsmith_connection_resets_total") >= receivers as i64
        },
    );
    let after = sockstat();
    let report = probe.finish();
    eprintln!(
        "row 13: {receivers} slow consumers after {sent} messages of 64 KiB; \
         sockstat before: {before}; while dropping: {during}; \
         {waited:?} later: {after}"
    );
    report.print("row 13");
    report.assert_nothing_lost(3);
    // The stalled clients see their connection end once they read what the kernel had
    // delivered: by the RST, or by the FIN where everything queued had reached them before
    // the reset (nothing was orphaned then either).
    let mut resets = 0;
    for mut client in stalled {
        client
            .stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut sink = vec![0; 1 << 16];
        let ended = loop {
            match client.stream.read(&mut sink) {
                Ok(0) => break "eof",
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
                Err(e) => panic!("read: {e}"),
            }
        };
        resets += usize::from(ended == "reset");
    }
    eprintln!("row 13: {resets} of {receivers} stalled clients saw the RST");
    drop(sender);
}
