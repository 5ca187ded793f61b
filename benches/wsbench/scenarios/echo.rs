//! `/echo` under load: many small pipelined messages, and a few very large ones.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use super::{measured_window, Phase, Sample, Timing};
use crate::client::{self, wrong, Socket, BINARY, TEXT};
use crate::procfs::{CpuMeter, CpuUse};
use crate::servers::Server;
use crate::stats::Histogram;

/// Connections of echo-small.
const CONNECTIONS: usize = 64;
/// Messages in flight per connection.
const WINDOW: usize = 16;
/// Bytes per echo-small message.
const SMALL: usize = 32;
/// Distinct messages per connection, cycled, so that a reply out of order is noticed.
const SLOTS: usize = 64;
/// Length of one masked echo-small frame: 2 header bytes, the key, the payload.
const SMALL_FRAME: usize = 2 + 4 + SMALL;

/// What one echo-small connection counted.
#[derive(Default)]
struct Counted {
    measured: u64,
    latency: Histogram,
}

/// echo-small: 64 connections, 32-byte Text messages, 16 in flight on each.
pub fn small(server: &Server, timing: &Timing) -> io::Result<Sample> {
    let run = small_load(server, timing, None, &Arc::new(Phase::default()), || Ok(()))?;
    Ok(Sample {
        figures: vec![
            ("echo_small_rate", run.rate),
            ("echo_small_p50", run.latency.quantile_micros(0.5)),
            ("echo_small_p99", run.latency.quantile_micros(0.99)),
        ],
        cpu: vec![("echo-small", run.cpu)],
    })
}

/// What one run of the echo-small load measured.
#[derive(Debug)]
pub struct SmallRun {
    /// Messages echoed per second, all connections, over the measured interval.
    pub rate: f64,
    /// Messages echoed per second on connection 0 alone (the tapped one, if any).
    pub first_rate: f64,
    /// Round trips measured, all connections.
    pub latency: Histogram,
    /// CPU over the measured interval.
    pub cpu: CpuUse,
}

/// The echo-small load. With `tap`, connection 0 opens `/echo?tap=TOKEN` (the Inspector may
/// watch it by that token). `ready` runs once every connection is open, before the warm-up;
/// `phase` tells whoever else holds it when the measured interval starts and ends.
pub fn small_load(
    server: &Server,
    timing: &Timing,
    tap: Option<&str>,
    phase: &Arc<Phase>,
    ready: impl FnOnce() -> io::Result<()>,
) -> io::Result<SmallRun> {
    let mut threads = Vec::with_capacity(CONNECTIONS);
    for conn in 0..CONNECTIONS {
        let path = match tap {
            Some(token) if conn == 0 => format!("/echo?tap={token}"),
            _ => "/echo".to_owned(),
        };
        let socket = client::open(server.addr, &path, 4096)?;
        let phase = Arc::clone(phase);
        threads.push(
            thread::Builder::new()
                .name(format!("echo-small-{conn}"))
                .stack_size(256 * 1024)
                .spawn(move || small_connection(socket, conn, &phase))?,
        );
    }
    if let Err(e) = ready() {
        phase.set(Phase::STOP);
        for thread in threads {
            let _ = thread.join();
        }
        return Err(e);
    }
    let cpu = measured_window(phase, timing, server.pid());
    let mut total = Counted::default();
    let mut first = 0;
    for (conn, thread) in threads.into_iter().enumerate() {
        let counted = thread
            .join()
            .map_err(|_| wrong("an echo-small thread panicked"))??;
        if conn == 0 {
            first = counted.measured;
        }
        total.measured += counted.measured;
        total.latency.merge(&counted.latency);
    }
    Ok(SmallRun {
        rate: total.measured as f64 / cpu.wall,
        first_rate: first as f64 / cpu.wall,
        latency: total.latency,
        cpu,
    })
}

/// The 32 ASCII bytes of message `slot` of connection `conn`.
fn small_payload(conn: usize, slot: usize) -> Vec<u8> {
    let text = format!("echo-small c{conn:04} m{slot:04} .......");
    let mut bytes = text.into_bytes();
    bytes.resize(SMALL, b'.');
    bytes
}

/// One echo-small connection: keep [`WINDOW`] messages in flight; every read's replies are
/// checked, then as many new messages go out, in one write, straight from the pre-masked
/// frames.
fn small_connection(mut socket: Socket, conn: usize, phase: &Phase) -> io::Result<Counted> {
    let payloads: Vec<Vec<u8>> = (0..SLOTS).map(|slot| small_payload(conn, slot)).collect();
    // Twice over, so that any run of up to SLOTS frames from any slot is one slice.
    let frames: Vec<u8> = (0..2 * SLOTS)
        .flat_map(|i| client::masked_frame(TEXT, &payloads[i % SLOTS]))
        .collect();
    let mut sent_at = [Instant::now(); WINDOW];
    let (mut sent, mut received) = (0usize, 0usize);
    let mut counted = Counted::default();
    // Sends `count` more messages in one write; notes when they left.
    let send = |socket: &mut Socket, sent_at: &mut [Instant; WINDOW], sent: &mut usize, count| {
        let first = *sent % SLOTS;
        let bytes = &frames[first * SMALL_FRAME..(first + count) * SMALL_FRAME];
        socket.stream.write_all(bytes)?;
        let now = Instant::now();
        for seq in *sent..*sent + count {
            sent_at[seq % WINDOW] = now;
        }
        *sent += count;
        io::Result::Ok(())
    };
    send(&mut socket, &mut sent_at, &mut sent, WINDOW)?;
    loop {
        if socket.reader.fill(&socket.stream)? == 0 {
            return Err(wrong("echo-small: the server closed the connection"));
        }
        let now = Instant::now();
        let measuring = phase.get() == Phase::MEASURE;
        while let Some(frame) = socket.reader.next_frame()? {
            if !frame.fin || frame.opcode != TEXT {
                return Err(wrong(format!("echo-small: opcode {}", frame.opcode)));
            }
            if socket.reader.payload(&frame) != payloads[received % SLOTS] {
                return Err(wrong(format!("echo-small: reply {received} differs")));
            }
            if measuring {
                counted.latency.record(now - sent_at[received % WINDOW]);
                counted.measured += 1;
            }
            received += 1;
        }
        if phase.get() == Phase::STOP {
            if received == sent {
                break;
            }
        } else if sent - received < WINDOW {
            let room = WINDOW - (sent - received);
            send(&mut socket, &mut sent_at, &mut sent, room)?;
        }
    }
    client::close(&mut socket)?;
    Ok(counted)
}

/// Messages in flight on the echo-large connection.
const LARGE_WINDOW: usize = 2;

/// echo-large: 1 MiB, then 16 MiB Binary messages on one connection.
pub fn large(server: &Server, timing: &Timing) -> io::Result<Sample> {
    let mut sample = Sample::default();
    for (key, label, size) in [
        ("echo_large_1m", "echo-large 1 MiB", 1 << 20),
        ("echo_large_16m", "echo-large 16 MiB", 16 << 20),
    ] {
        let (rate, cpu) = large_one_size(server, size, timing)?;
        sample.figures.push((key, rate));
        sample.cpu.push((label, cpu));
    }
    Ok(sample)
}

/// Pseudo-random bytes (xorshift), different for each `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// One size of echo-large; returns MB/s (10^6 bytes of payload echoed per second) and CPU.
///
/// A writer thread sends two alternating pre-masked messages, at most [`LARGE_WINDOW`] ahead
/// of the replies; this thread reads and compares every reply. The rate is taken between the
/// first and the last reply completed in the measured interval.
fn large_one_size(server: &Server, size: usize, timing: &Timing) -> io::Result<(f64, CpuUse)> {
    let payloads = [noise(size, size as u64), noise(size, size as u64 + 1)];
    let frames: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| client::masked_frame(BINARY, p))
        .collect();
    let mut socket = client::open(server.addr, "/echo", size + 64)?;
    socket
        .stream
        .set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut write_half = socket.stream.try_clone()?;
    let phase = Arc::new(Phase::default());
    let sent = Arc::new(AtomicU64::new(0));
    let writer_done = Arc::new(AtomicBool::new(false));
    let (permits, permit) = mpsc::sync_channel::<()>(LARGE_WINDOW);
    for _ in 0..LARGE_WINDOW {
        let _ = permits.send(());
    }
    let writer = {
        let (phase, sent, writer_done) = (phase.clone(), sent.clone(), writer_done.clone());
        thread::spawn(move || -> io::Result<()> {
            let mut i = 0;
            while permit.recv().is_ok() && phase.get() != Phase::STOP {
                write_half.write_all(&frames[i % 2])?;
                sent.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
            writer_done.store(true, Ordering::SeqCst);
            Ok(())
        })
    };
    let start = Instant::now();
    let (measure_from, measure_until) = (
        start + timing.warmup,
        start + timing.warmup + timing.measure,
    );
    let mut meter = None;
    let mut cpu = CpuUse::default();
    let mut received = 0u64;
    let (mut first, mut last, mut completed) = (None, None, 0u64);
    loop {
        let now = Instant::now();
        match phase.get() {
            Phase::WARMUP if now >= measure_from => {
                phase.set(Phase::MEASURE);
                meter = Some(CpuMeter::start(server.pid()));
            }
            Phase::MEASURE if now >= measure_until => {
                phase.set(Phase::STOP);
                cpu = meter.as_ref().map(CpuMeter::stop).unwrap_or_default();
            }
            Phase::STOP
                if writer_done.load(Ordering::SeqCst)
                    && received == sent.load(Ordering::SeqCst) =>
            {
                break;
            }
            _ => {}
        }
        match client::fill_unless_timed_out(&mut socket)? {
            Some(0) => return Err(wrong("echo-large: the server closed the connection")),
            Some(_) => {}
            None => continue,
        }
        while let Some(frame) = socket.reader.next_frame()? {
            if !frame.fin || frame.opcode != BINARY {
                return Err(wrong(format!("echo-large: opcode {}", frame.opcode)));
            }
            if socket.reader.payload(&frame) != payloads[(received % 2) as usize] {
                return Err(wrong(format!("echo-large: reply {received} differs")));
            }
            received += 1;
            let _ = permits.try_send(());
            if phase.get() == Phase::MEASURE {
                let now = Instant::now();
                if first.is_none() {
                    first = Some(now);
                } else {
                    completed += 1;
                }
                last = Some(now);
            }
        }
    }
    writer
        .join()
        .map_err(|_| wrong("echo-large writer panicked"))??;
    socket.stream.set_read_timeout(Some(client::READ_TIMEOUT))?;
    client::close(&mut socket)?;
    let rate = match (first, last) {
        (Some(first), Some(last)) if completed > 0 => {
            (completed as f64 * size as f64) / 1e6 / (last - first).as_secs_f64()
        }
        _ => f64::NAN, // fewer than two replies in the measured interval
    };
    Ok((rate, cpu))
}
