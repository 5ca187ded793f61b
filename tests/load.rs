//! Load with abrupt kills, against the real binary: 500 `/broadcast` clients, 100 of which die
//! mid-frame (half a masked frame, then the socket is shut down and dropped) while a sender
//! publishes 200 numbered messages at a steady pace. The 400 survivors receive every message,
//! in order, exactly once; after they close, the server's threads and file descriptors return
//! to their baseline and its memory stays near it. Three rounds on one server show that nothing
//! accumulates from one round to the next.
//!
//! The binary runs as a child so that `/proc/<pid>/status` (Threads, VmRSS) and
//! `/proc/<pid>/fd` describe the server alone. Figures are printed; only loose bounds are
//! asserted.

mod support;

use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::process::Wsmith;
use support::{masked_frame, RawClient};

/// Clients on `/broadcast`.
const CLIENTS: usize = 500;
/// Clients killed mid-frame while messages flow (20 %).
const VICTIMS: usize = 100;
/// Messages the sender publishes.
const MESSAGES: usize = 200;
/// The sender's pace.
const PACE: Duration = Duration::from_millis(5);
/// Messages sent before the first kill.
const FIRST_KILL_AT: usize = 20;
/// Stack of each client thread (the raw client reads into a 64 KiB buffer on its stack).
const CLIENT_STACK: usize = 256 * 1024;
/// How long the server may take to release what the closed clients held.
const SETTLE_BOUND: Duration = Duration::from_secs(10);

/// Threads and resident memory (bytes) from `/proc/<pid>/status`, open file descriptors
/// from `/proc/<pid>/fd`.
fn usage(server: &Wsmith) -> Usage {
    let pid = server.pid();
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's /proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's /proc fd")
        .count();
    Usage {
        threads: field("Threads:"),
        rss: field("VmRSS:") * 1024,
        fds,
    }
}

/// What the server process holds at one moment.
#[derive(Debug, Clone, Copy)]
struct Usage {
    threads: u64,
    rss: u64,
    fds: usize,
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} threads, {:.1} MiB RSS, {} fds",
            self.threads,
            self.rss as f64 / (1024.0 * 1024.0),
            self.fds
        )
    }
}

/// Reads Text frames until the sender's `sync` (the client is surely registered with the
/// hub), then counts itself ready.
fn await_sync(client: &mut RawClient, ready: &AtomicUsize) {
    while client.read_text() != "sync" {}
    ready.fetch_add(1, Ordering::SeqCst);
}

/// A survivor: everything after the syncs must be `msg-0` … `msg-199`, in order.
fn survive(mut client: RawClient, ready: &AtomicUsize) -> (RawClient, Vec<usize>) {
    await_sync(&mut client, ready);
    let mut received = Vec::with_capacity(MESSAGES);
    while received.len() < MESSAGES {
        let text = client.read_text();
        if text == "sync" {
            continue;
        }
        let index = text
            .strip_prefix("msg-")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected message {text:?}"));
        received.push(index);
    }
    (client, received)
}

/// A victim: once told, it sends the first half of a masked frame and vanishes.
fn die_mid_frame(mut client: RawClient, ready: &AtomicUsize, kill: &mpsc::Receiver<()>) {
    await_sync(&mut client, ready);
    kill.recv_timeout(Duration::from_secs(60))
        .expect("the kill order");
    let frame = masked_frame(true, 0x1, b"this frame is cut in half by a dying client");
    client.send_raw(&frame[..frame.len() / 2]);
    let _ = client.stream.shutdown(Shutdown::Both);
}

fn spawn_client<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    thread::Builder::new()
        .name(name)
        .stack_size(CLIENT_STACK)
        .spawn(f)
        .expect("a client thread")
}

/// Polls until the server's usage satisfies `done`; fails after [`SETTLE_BOUND`].
fn settle(server: &Wsmith, what: &str, done: impl Fn(&Usage) -> bool) -> (Usage, Duration) {
    let start = Instant::now();
    loop {
        let usage = usage(server);
        if done(&usage) {
            return (usage, start.elapsed());
        }
        assert!(
            start.elapsed() < SETTLE_BOUND,
            "{what}: not within {SETTLE_BOUND:?}, now {usage}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// What one round of the load measured.
struct Round {
    peak: Usage,
    after: Usage,
    settled_in: Duration,
}

/// Connects [`CLIENTS`] clients and a sender, kills [`VICTIMS`] of them mid-frame while
/// [`MESSAGES`] messages flow, checks every survivor's messages, closes everyone, and waits for
/// the server to return to `baseline` threads and file descriptors.
fn round(server: &Wsmith, baseline: Usage) -> Round {
    let ready = Arc::new(AtomicUsize::new(0));
    let mut survivors = Vec::new();
    let mut kills = Vec::new();
    let mut victims = Vec::new();
    for k in 0..CLIENTS {
        let client = RawClient::connect(server.addr, "/broadcast");
        let ready = Arc::clone(&ready);
        if k % (CLIENTS / VICTIMS) == 0 {
            let (kill, order) = mpsc::channel();
            kills.push(kill);
            victims.push(spawn_client(format!("victim-{k}"), move || {
                die_mid_frame(client, &ready, &order)
            }));
        } else {
            survivors.push(spawn_client(format!("survivor-{k}"), move || {
                survive(client, &ready)
            }));
        }
    }
    assert_eq!((survivors.len(), kills.len()), (CLIENTS - VICTIMS, VICTIMS));
    let mut sender = RawClient::connect(server.addr, "/broadcast?self=false");

    // Sync until every client has seen one: from then on each is registered with the hub.
    let start = Instant::now();
    while ready.load(Ordering::SeqCst) < CLIENTS {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "only {} of {CLIENTS} clients saw a sync",
            ready.load(Ordering::SeqCst)
        );
        sender.send_text("sync");
        thread::sleep(Duration::from_millis(20));
    }
    let peak = usage(server);

    let sending = Instant::now();
    let mut kills = kills.into_iter();
    for i in 0..MESSAGES {
        sender.send_text(&format!("msg-{i}"));
        if i >= FIRST_KILL_AT {
            if let Some(kill) = kills.next() {
                kill.send(()).expect("victim waiting");
            }
        }
        thread::sleep(PACE); // the sender's steady pace
    }
    let sent_in = sending.elapsed();
    for victim in victims {
        victim.join().expect("victim thread");
    }

    let expected: Vec<usize> = (0..MESSAGES).collect();
    let mut clients = Vec::new();
    for survivor in survivors {
        let (client, received) = survivor.join().expect("survivor thread");
        assert_eq!(received, expected, "a survivor's messages");
        clients.push(client);
    }
    eprintln!(
        "load: {} survivors got all {MESSAGES} messages in order ({sent_in:?} of sending) while \
         {VICTIMS} clients died mid-frame",
        clients.len()
    );

    clients.push(sender);
    for client in &mut clients {
        client.send_frame(true, 0x8, &1000u16.to_be_bytes());
    }
    for client in &mut clients {
        assert_eq!(client.expect_close().close_code(), Some(1000));
        client.expect_eof();
    }
    let (after, settled_in) = settle(server, "threads and fds back to the baseline", |u| {
        u.threads == baseline.threads && u.fds == baseline.fds
    });
    Round {
        peak,
        after,
        settled_in,
    }
}

#[test]
fn four_hundred_survivors_get_every_message_in_order_while_a_hundred_die_mid_frame() {
    let mut server = Wsmith::start(&[]);
    let baseline = usage(&server);
    eprintln!("load: baseline {baseline}");
    // Three identical rounds. glibc keeps freed memory in its per-thread arenas, so RSS after
    // the first rounds reflects the allocator; by the third it must have stopped growing, or
    // something accumulates per connection.
    let rounds: Vec<Round> = (0..3).map(|_| round(&server, baseline)).collect();
    for (n, r) in rounds.iter().enumerate() {
        eprintln!(
            "load: round {}: peak {} (all {} connected); after {} ({:?} after the last close)",
            n + 1,
            r.peak,
            CLIENTS + 1,
            r.after,
            r.settled_in
        );
        assert!(
            r.peak.threads >= baseline.threads + CLIENTS as u64,
            "the peak {} does not show one thread per connection",
            r.peak
        );
    }
    let growth = rounds[0].after.rss.saturating_sub(baseline.rss);
    assert!(
        growth < 64 << 20,
        "RSS grew by {} MiB in one round: {baseline} → {}",
        growth >> 20,
        rounds[0].after
    );
    let creep = rounds[2].after.rss.saturating_sub(rounds[1].after.rss);
    assert!(
        creep < 8 << 20,
        "RSS still grew by {} MiB in the third round: {} → {}",
        creep >> 20,
        rounds[1].after,
        rounds[2].after
    );
    let output = server.output();
    assert!(
        !output.contains("panicked"),
        "the server panicked: {output}"
    );
}
