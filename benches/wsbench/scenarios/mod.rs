//! The scenarios. Each one runs against one server process, checks everything it receives
//! (payloads byte for byte, order, exact counts) and returns its figures with the CPU that the
//! server and the client used while it was measured.
//!
//! | scenario | what | figures |
//! |---|---|---|
//! | [`echo::small`] | 64 connections × a window of 16 pipelined 32-byte Text messages | msgs/s, p50/p99 round trip |
//! | [`echo::large`] | 1 MiB and 16 MiB Binary messages, a window of 2 | MB/s |
//! | [`broadcast::run`] | 1,000 (and 250) receivers, one sender, a window of 32 messages | deliveries/s, p50/p99/max latency, CPU per delivery, lost |
//! | [`handshakes::run`] | connect, 101, Close, Close, TCP close; 1 and 4 client threads | cycles/s |
//! | [`idle::run`] | 10,000 (and 50,000, or as many as the machine allows) open `/echo` connections, each echoing once more at the end | server RSS and kernel memory per connection, silent connections |
//! | [`burst::run`] | 2,000 nonblocking connects at the same instant, all upgraded | slowest and median connect → 101, clients that waited for a SYN retry, kernel drop counters |
//! | [`unmask::run`] | `apply_mask` against `memcpy` of the same buffer | GB/s |
//! | [`deflate::run`] | 250 receivers offering permessage-deflate, ~400-byte chat JSON, once with compression and once on a second wsmith with `--deflate off` | deliveries/s, wire bytes per message, CPU per delivery |
//! | [`tap::run`] | the Inspector's tap (wsmith only): `Tap::is_active()` against the same loop without it; echo-small with 1 of 64 connections watched, against nobody watching | ns per check, msgs/s, events/s |

pub mod broadcast;
pub mod burst;
pub mod deflate;
pub mod echo;
pub mod handshakes;
pub mod idle;
pub mod tap;
pub mod unmask;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::procfs::{CpuMeter, CpuUse};

/// What one run of a scenario measured.
#[derive(Debug, Default)]
pub struct Sample {
    /// Figures by key (see `report::ROWS`).
    pub figures: Vec<(&'static str, f64)>,
    /// CPU used, by part of the scenario ("echo-small", "handshakes ×4"…).
    pub cpu: Vec<(&'static str, CpuUse)>,
}

/// How long things take, from the environment (see `main`).
#[derive(Debug, Clone)]
pub struct Timing {
    /// Load before measuring starts.
    pub warmup: Duration,
    /// The measured interval.
    pub measure: Duration,
}

/// Where a timed scenario is: all client threads read it, the coordinator moves it on.
#[derive(Debug, Default)]
pub struct Phase(AtomicU8);

impl Phase {
    /// Load runs, nothing is counted.
    pub const WARMUP: u8 = 0;
    /// Load runs and is counted.
    pub const MEASURE: u8 = 1;
    /// No new messages; drain and close.
    pub const STOP: u8 = 2;

    /// The current phase.
    pub fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    /// Moves to `phase`.
    pub fn set(&self, phase: u8) {
        self.0.store(phase, Ordering::Relaxed);
    }
}

/// Runs the timed window while the client threads load the server: warm up, then count for
/// `timing.measure`, then stop. Returns the server's CPU use during the counted part.
pub fn measured_window(phase: &Phase, timing: &Timing, server_pid: u32) -> CpuUse {
    std::thread::sleep(timing.warmup);
    phase.set(Phase::MEASURE);
    let meter = CpuMeter::start(server_pid);
    std::thread::sleep(timing.measure);
    phase.set(Phase::STOP);
    meter.stop()
}
