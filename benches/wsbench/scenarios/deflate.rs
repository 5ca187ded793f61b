//! `/broadcast` with permessage-deflate (RFC 7692): one sender, 250 receivers that offer
//! `permessage-deflate`, messages shaped like the chat page's `message` events (JSON of about
//! 400 bytes, over the 256-byte `--deflate-threshold`). The same load runs twice: on the
//! server the bench started (compression on, wsmith's default) and on a second wsmith with
//! `--deflate off`. Figures: deliveries/s, bytes on the wire per delivered message (frame header
//! included) and the server's CPU per delivery.
//!
//! Every receiver checks every message: in order, none missing, and (RSV1 frames inflated with
//! a fresh raw-DEFLATE state each, as `server_no_context_takeover` allows, after appending the
//! `00 00 ff ff` tail of RFC 7692 §7.2.2) byte for byte what the sender sent. The sender's frames
//! are uncompressed, which RFC 7692 §6 allows a client; what is measured is the server's side.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use flate2::{Decompress, FlushDecompress, Status};

use super::Sample;
use crate::client::{self, wrong, Socket, CLOSE, TEXT};
use crate::procfs::{CpuMeter, CpuUse};
use crate::servers::{Kind, Server};

/// Receivers (the broadcast-250 figure).
pub const RECEIVERS: u32 = 250;
/// Messages in flight beyond those every receiver has.
const WINDOW: u64 = 32;
/// How long anything may wait without progress.
const STALL: Duration = Duration::from_secs(10);
/// What the receivers offer (Firefox's bare offer).
const OFFER: &str = "permessage-deflate";

/// Words of the chat text, varied per message so that no two messages are alike.
const WORDS: &[&str] = &[
    "the",
    "deploy",
    "went",
    "fine",
    "but",
    "latency",
    "on",
    "eu-west",
    "rose",
    "after",
    "midnight",
    "안녕하세요",
    "can",
    "someone",
    "check",
    "grafana",
    "dashboard",
    "for",
    "broadcast",
    "queue",
    "depth",
    "and",
    "reply",
    "here",
    "thanks",
    "모두",
    "수고하셨습니다",
];

/// Message `seq` (from 1) as the chat page receives it: a `message` event of about 400 bytes.
pub fn message(seq: u64) -> String {
    let mut text = String::new();
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while text.len() < 300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
    }
    format!(
        r#"{{"type":"message","channel":"general","seq":{seq},"from":"alice-{}","text":"{text}","ts":{}}}"#,
        seq % 17,
        1_764_000_000_000u64 + seq * 37
    )
}

/// The probe the sender repeats until every receiver has heard it (small: never compressed).
const PROBE: &str = r#"{"type":"probe"}"#;

struct Shared {
    /// Real messages delivered, summed over receivers.
    deliveries: AtomicU64,
    /// Bytes of those messages' frames on the wire, summed over receivers.
    wire_bytes: AtomicU64,
    /// Receivers that heard a probe.
    probed: AtomicU32,
    lock: Mutex<()>,
    progress: Condvar,
}

impl Shared {
    fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.progress.notify_all();
    }

    /// Waits until `done()` or nothing moved for [`STALL`]; false if it gave up.
    fn wait(&self, done: impl Fn() -> bool) -> bool {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut last = self.deliveries.load(Ordering::SeqCst);
        let mut since = Instant::now();
        while !done() {
            let (next, _) = self
                .progress
                .wait_timeout(guard, Duration::from_millis(20))
                .unwrap_or_else(PoisonError::into_inner);
            guard = next;
            let now = self.deliveries.load(Ordering::SeqCst);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > STALL {
                return false;
            }
        }
        true
    }
}

/// What one half (compression on or off) measured.
struct Half {
    rate: f64,
    wire_per_message: f64,
    cpu_ns: f64,
    cpu: CpuUse,
}

/// Both halves: on `server` (compression on), then on a fresh wsmith with `--deflate off`.
pub fn run(server: &Server, messages: u64) -> io::Result<Sample> {
    let on = half(server, messages, true)?;
    let off_server = Server::start_with(Kind::Wsmith, 20_000, &["--deflate", "off"])?;
    let off = half(&off_server, messages, false)?;
    drop(off_server);
    Ok(Sample {
        figures: vec![
            ("deflate_rate", on.rate),
            ("deflate_off_rate", off.rate),
            ("deflate_wire", on.wire_per_message),
            ("deflate_off_wire", off.wire_per_message),
            ("deflate_cpu_ns", on.cpu_ns),
            ("deflate_off_cpu_ns", off.cpu_ns),
        ],
        cpu: vec![
            ("deflate-broadcast on", on.cpu),
            ("deflate-broadcast off", off.cpu),
        ],
    })
}

fn half(server: &Server, messages: u64, compressed: bool) -> io::Result<Half> {
    let shared = Arc::new(Shared {
        deliveries: AtomicU64::new(0),
        wire_bytes: AtomicU64::new(0),
        probed: AtomicU32::new(0),
        lock: Mutex::new(()),
        progress: Condvar::new(),
    });
    let mut threads = Vec::with_capacity(RECEIVERS as usize);
    for i in 0..RECEIVERS {
        let (mut socket, agreed) =
            client::open_offering(server.addr, "/broadcast", OFFER, 16 * 1024)?;
        match (compressed, agreed.starts_with("permessage-deflate")) {
            (true, true) => socket.reader.allow_rsv1(),
            (false, false) => {}
            (_, _) => {
                return Err(wrong(format!(
                "deflate-broadcast: compression {compressed}, yet the server answered {agreed:?}"
            )))
            }
        }
        let shared = Arc::clone(&shared);
        threads.push(
            thread::Builder::new()
                .name(format!("deflate-receiver-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || receive(socket, &shared, messages))?,
        );
    }
    let mut sender = client::open(server.addr, "/broadcast?self=false", 1024)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.probed.load(Ordering::SeqCst) < RECEIVERS {
        if Instant::now() > deadline {
            return Err(wrong("deflate-broadcast: not every receiver heard a probe"));
        }
        sender
            .stream
            .write_all(&client::masked_frame(TEXT, PROBE.as_bytes()))?;
        thread::sleep(Duration::from_millis(20));
    }
    let frames: Vec<Vec<u8>> = (1..=messages)
        .map(|seq| client::masked_frame(TEXT, message(seq).as_bytes()))
        .collect();
    let receivers = u64::from(RECEIVERS);
    let meter = CpuMeter::start(server.pid());
    let started = Instant::now();
    let mut sent = 0u64;
    let mut batch = Vec::new();
    while sent < messages {
        let floor = sent.saturating_sub(WINDOW) * receivers;
        if !shared.wait(|| shared.deliveries.load(Ordering::SeqCst) >= floor) {
            break;
        }
        batch.clear();
        let next = (sent + WINDOW).min(messages);
        for frame in &frames[sent as usize..next as usize] {
            batch.extend_from_slice(frame);
        }
        sender.stream.write_all(&batch)?;
        sent = next;
    }
    let all = messages * receivers;
    shared.wait(|| shared.deliveries.load(Ordering::SeqCst) >= all);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = meter.stop();
    for thread in threads {
        thread
            .join()
            .map_err(|_| wrong("a receiver thread panicked"))??;
    }
    client::close(&mut sender)?;
    let delivered = shared.deliveries.load(Ordering::SeqCst);
    if delivered != all {
        return Err(wrong(format!(
            "deflate-broadcast: {delivered} of {all} deliveries"
        )));
    }
    Ok(Half {
        rate: delivered as f64 / elapsed,
        wire_per_message: shared.wire_bytes.load(Ordering::SeqCst) as f64 / delivered as f64,
        cpu_ns: cpu.server * 1e9 / delivered as f64,
        cpu,
    })
}

/// Inflates one compressed message (RFC 7692 §7.2.2: append `00 00 ff ff`, raw DEFLATE), with
/// a fresh state: the server agreed to `server_no_context_takeover`.
fn inflate(inflater: &mut Decompress, payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    inflater.reset(false);
    out.clear();
    let mut input = Vec::with_capacity(payload.len() + 4);
    input.extend_from_slice(payload);
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut at = 0;
    loop {
        out.reserve(4096);
        let before = inflater.total_in();
        let status = inflater
            .decompress_vec(&input[at..], out, FlushDecompress::Sync)
            .map_err(|e| wrong(format!("deflate-broadcast: inflate failed: {e}")))?;
        at += (inflater.total_in() - before) as usize;
        if at >= input.len() || status == Status::StreamEnd {
            return Ok(());
        }
        if out.len() > 1 << 20 {
            return Err(wrong("deflate-broadcast: a message inflated past 1 MiB"));
        }
    }
}

/// One receiver: every message in order, byte for byte, then Close.
fn receive(mut socket: Socket, shared: &Shared, messages: u64) -> io::Result<()> {
    let mut inflater = Decompress::new(false);
    let mut inflated = Vec::new();
    let mut heard_probe = false;
    let mut got = 0u64;
    while got < messages {
        if socket.reader.fill(&socket.stream)? == 0 {
            return Err(wrong(format!(
                "deflate-broadcast: dropped after {got} messages"
            )));
        }
        while let Some(frame) = socket.reader.next_frame()? {
            if frame.opcode == CLOSE {
                return Err(wrong(format!(
                    "deflate-broadcast: closed after {got} messages"
                )));
            }
            if !frame.fin || frame.opcode != TEXT {
                return Err(wrong(format!("deflate-broadcast: opcode {}", frame.opcode)));
            }
            let payload = socket.reader.payload(&frame);
            let text: &[u8] = if frame.rsv1 {
                inflate(&mut inflater, payload, &mut inflated)?;
                &inflated
            } else {
                payload
            };
            if text == PROBE.as_bytes() {
                if !heard_probe {
                    heard_probe = true;
                    shared.probed.fetch_add(1, Ordering::SeqCst);
                }
                continue;
            }
            got += 1;
            if text != message(got).as_bytes() {
                return Err(wrong(format!(
                    "deflate-broadcast: message {got} differs (compressed: {})",
                    frame.rsv1
                )));
            }
            shared
                .wire_bytes
                .fetch_add(frame.wire_len as u64, Ordering::SeqCst);
            shared.deliveries.fetch_add(1, Ordering::SeqCst);
            if got % 8 == 0 || got == messages {
                shared.notify();
            }
        }
    }
    shared.notify();
    client::close(&mut socket)
}
