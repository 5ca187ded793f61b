//! `/broadcast`: one sender, 1,000 receivers. Every message carries its sequence number and
//! send time; every receiver checks that it gets every message, in order, byte for byte, and
//! notes the latency. Nothing is allowed to go missing: the figure "lost" is the exact count
//! of (message, receiver) pairs that were never delivered, and must be 0.
//!
//! Flow control: the sender keeps at most [`WINDOW`] messages not yet delivered to *every*
//! receiver, so the load is the servers' best pace without piling up queues (a server that
//! cut slow consumers would lose messages otherwise, and that is not what this measures).

use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::{Sample, Timing};
use crate::client::{self, wrong, Socket, BINARY, CLOSE, MASKING_KEY};
use crate::procfs::CpuMeter;
use crate::servers::Server;
use crate::stats::Histogram;

/// Messages in flight: sent, but not yet delivered to every receiver.
const WINDOW: u64 = 32;
/// Delivery counters, reused round-robin (more than [`WINDOW`]).
const RING: usize = 1024;
/// Bytes per message: sequence number, send time, and 48 bytes that depend on both.
const SIZE: usize = 64;
/// The sequence number of a probe: sent until every receiver has heard one, before the
/// measured messages, so that none starts measuring before it is registered.
const PROBE: u64 = u64::MAX;
/// The sequence number of the last message, which carries the count sent.
const END: u64 = u64::MAX - 1;
/// How long the sender waits without progress before it calls messages lost.
const STALL: Duration = Duration::from_secs(5);

/// State the sender and the receiver threads share.
struct Shared {
    epoch: Instant,
    receivers: u32,
    /// Receivers that got message `seq`, at `seq % RING`.
    counts: Vec<AtomicU32>,
    /// Messages delivered to every receiver; always a prefix, as each receiver gets them in
    /// order.
    delivered: Mutex<u64>,
    progress: Condvar,
    /// Receivers that have heard a probe.
    probed: AtomicU32,
    /// When (ns after `epoch`) the last message was delivered to its last receiver.
    last_delivery: AtomicU64,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn delivered(&self) -> std::sync::MutexGuard<'_, u64> {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What one receiver saw.
struct Received {
    got: u64,
    /// Reads that returned bytes (a diagnostic: how many messages one wake-up of a receiver
    /// finds, which is most of a receiver's cost).
    reads: u64,
    latency: Histogram,
}

/// The 64-byte payload of message `seq` sent at `time` (ns).
fn payload(seq: u64, time: u64) -> [u8; SIZE] {
    let mut bytes = [0; SIZE];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes[8..16].copy_from_slice(&time.to_le_bytes());
    for (i, byte) in bytes[16..].iter_mut().enumerate() {
        *byte = filler(seq, time, i);
    }
    bytes
}

fn filler(seq: u64, time: u64, i: usize) -> u8 {
    (seq as u8).wrapping_mul(31) ^ (time as u8) ^ (i as u8).wrapping_mul(7)
}

/// Appends the masked frame of message `seq` to `out`.
fn push_frame(out: &mut Vec<u8>, seq: u64, time: u64) {
    out.extend_from_slice(&[0x80 | BINARY, 0x80 | SIZE as u8]);
    out.extend_from_slice(&MASKING_KEY);
    let start = out.len();
    out.extend_from_slice(&payload(seq, time));
    client::mask(&mut out[start..]);
}

/// The figures of one variant of the scenario (see `report::ROWS`).
#[derive(Debug)]
pub struct Keys {
    /// CPU label.
    pub label: &'static str,
    rate: &'static str,
    p50: &'static str,
    p99: &'static str,
    max: &'static str,
    lost: &'static str,
    cpu_ns: &'static str,
    per_read: &'static str,
}

/// 1,000 receivers (the figure).
pub const KEYS_1000: Keys = Keys {
    label: "broadcast 1000",
    rate: "broadcast_rate",
    p50: "broadcast_p50",
    p99: "broadcast_p99",
    max: "broadcast_max",
    lost: "broadcast_lost",
    cpu_ns: "broadcast_cpu_ns",
    per_read: "broadcast_per_read",
};

/// 250 receivers.
pub const KEYS_250: Keys = Keys {
    label: "broadcast 250",
    rate: "broadcast250_rate",
    p50: "broadcast250_p50",
    p99: "broadcast250_p99",
    max: "broadcast250_max",
    lost: "broadcast250_lost",
    cpu_ns: "broadcast250_cpu_ns",
    per_read: "broadcast250_per_read",
};

/// `receivers` receivers, one sender, for the measured interval.
pub fn run(server: &Server, timing: &Timing, receivers: u32, keys: &Keys) -> io::Result<Sample> {
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        receivers,
        counts: (0..RING).map(|_| AtomicU32::new(0)).collect(),
        delivered: Mutex::new(0),
        progress: Condvar::new(),
        probed: AtomicU32::new(0),
        last_delivery: AtomicU64::new(0),
    });
    let mut threads = Vec::with_capacity(receivers as usize);
    for i in 0..receivers {
        let socket = client::open(server.addr, "/broadcast", 16 * 1024)?;
        let shared = Arc::clone(&shared);
        threads.push(
            thread::Builder::new()
                .name(format!("receiver-{i}"))
                .stack_size(128 * 1024)
                .spawn(move || receive(socket, &shared))?,
        );
    }
    let mut sender = client::open(server.addr, "/broadcast?self=false", 1024)?;
    probe_until_everyone_listens(&mut sender, &shared)?;

    let meter = CpuMeter::start(server.pid());
    let first_send = shared.now();
    let sent = send_for(&mut sender, &shared, timing.measure)?;
    let mut end = Vec::new();
    push_frame(&mut end, END, sent);
    sender.stream.write_all(&end)?;
    wait_for_delivery(&shared, sent);
    let cpu = meter.stop();

    let mut total = Received {
        got: 0,
        reads: 0,
        latency: Histogram::default(),
    };
    let mut lost = 0;
    for thread in threads {
        let received = thread
            .join()
            .map_err(|_| wrong("a receiver thread panicked"))??;
        lost += sent.saturating_sub(received.got);
        total.got += received.got;
        total.reads += received.reads;
        total.latency.merge(&received.latency);
    }
    client::close(&mut sender)?;
    let span = shared
        .last_delivery
        .load(Ordering::SeqCst)
        .saturating_sub(first_send);
    Ok(Sample {
        figures: vec![
            (keys.rate, total.got as f64 / (span as f64 / 1e9)),
            (keys.p50, total.latency.quantile_micros(0.5)),
            (keys.p99, total.latency.quantile_micros(0.99)),
            (keys.max, total.latency.max_micros()),
            (keys.lost, lost as f64),
            // The server's CPU seconds over the metered interval, per delivery in it.
            (keys.cpu_ns, cpu.server * 1e9 / total.got.max(1) as f64),
            (keys.per_read, total.got as f64 / total.reads.max(1) as f64),
        ],
        cpu: vec![(keys.label, cpu)],
    })
}

/// Sends probes every 20 ms until every receiver has heard one.
fn probe_until_everyone_listens(sender: &mut Socket, shared: &Shared) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.probed.load(Ordering::SeqCst) < shared.receivers {
        if Instant::now() > deadline {
            return Err(wrong(format!(
                "broadcast: only {} of {} receivers heard a probe",
                shared.probed.load(Ordering::SeqCst),
                shared.receivers
            )));
        }
        let mut probe = Vec::new();
        push_frame(&mut probe, PROBE, 0);
        sender.stream.write_all(&probe)?;
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Sends messages for `duration`, never more than [`WINDOW`] undelivered; returns how many.
fn send_for(sender: &mut Socket, shared: &Shared, duration: Duration) -> io::Result<u64> {
    let until = Instant::now() + duration;
    let mut sent = 0u64;
    let mut batch = Vec::with_capacity(WINDOW as usize * (SIZE + 6));
    while Instant::now() < until {
        let delivered = {
            let delivered = shared.delivered();
            let (delivered, wait) = shared
                .progress
                .wait_timeout_while(delivered, STALL, |delivered| sent - *delivered >= WINDOW)
                .unwrap_or_else(PoisonError::into_inner);
            if wait.timed_out() {
                eprintln!("  broadcast: no progress for {STALL:?}; stopping the sender");
                break;
            }
            *delivered
        };
        batch.clear();
        let time = shared.now();
        for seq in sent..delivered + WINDOW {
            shared.counts[seq as usize % RING].store(0, Ordering::SeqCst);
            push_frame(&mut batch, seq, time);
        }
        sender.stream.write_all(&batch)?;
        sent = delivered + WINDOW;
    }
    Ok(sent)
}

/// Waits until all `sent` messages reached every receiver, or nothing moves for [`STALL`].
fn wait_for_delivery(shared: &Shared, sent: u64) {
    let mut delivered = shared.delivered();
    while *delivered < sent {
        let before = *delivered;
        let (guard, wait) = shared
            .progress
            .wait_timeout(delivered, STALL)
            .unwrap_or_else(PoisonError::into_inner);
        delivered = guard;
        if wait.timed_out() && *delivered == before {
            return;
        }
    }
}

/// One receiver: checks each message (order, bytes) and counts it; stops at `END`.
fn receive(mut socket: Socket, shared: &Shared) -> io::Result<Received> {
    let mut received = Received {
        got: 0,
        reads: 0,
        latency: Histogram::default(),
    };
    let mut heard_probe = false;
    loop {
        if socket.reader.fill(&socket.stream)? == 0 {
            return Ok(received); // dropped by the server: what is missing counts as lost
        }
        received.reads += 1;
        let now = shared.now();
        while let Some(frame) = socket.reader.next_frame()? {
            if frame.opcode == CLOSE {
                return Ok(received); // closed by the server (slow consumer?): the rest is lost
            }
            let bytes = socket.reader.payload(&frame);
            if !frame.fin || frame.opcode != BINARY || bytes.len() != SIZE {
                return Err(wrong(format!(
                    "broadcast: opcode {} with {} bytes",
                    frame.opcode,
                    bytes.len()
                )));
            }
            let word = |at: usize| {
                let mut word = [0; 8];
                word.copy_from_slice(&bytes[at..at + 8]);
                u64::from_le_bytes(word)
            };
            let (seq, time) = (word(0), word(8));
            if bytes[16..]
                .iter()
                .enumerate()
                .any(|(i, &byte)| byte != filler(seq, time, i))
            {
                return Err(wrong(format!("broadcast: message {seq} differs")));
            }
            match seq {
                PROBE => {
                    if !heard_probe {
                        heard_probe = true;
                        shared.probed.fetch_add(1, Ordering::SeqCst);
                    }
                }
                END => {
                    if time != received.got {
                        return Err(wrong(format!(
                            "broadcast: {} of {time} messages, yet the end marker came",
                            received.got
                        )));
                    }
                    client::close(&mut socket)?;
                    return Ok(received);
                }
                seq if seq != received.got => {
                    return Err(wrong(format!(
                        "broadcast: message {seq} where {} was due",
                        received.got
                    )));
                }
                seq => {
                    received.latency.record_nanos(now.saturating_sub(time));
                    received.got += 1;
                    let count = &shared.counts[seq as usize % RING];
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == shared.receivers {
                        shared.last_delivery.fetch_max(now, Ordering::SeqCst);
                        *shared.delivered() += 1;
                        shared.progress.notify_all();
                    }
                }
            }
        }
    }
}
