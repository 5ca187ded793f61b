//! [`Shared`]: what every thread of one server holds an `Arc` of — the configuration, the
//! hub's queue, the thread budget and pool, and the counters the listener keeps.
//!
//! Its counters are `pub(super)`: the [`listener`](super::listener) counts connections and
//! hands out ids, and [`ShutdownHandle`](super::ShutdownHandle) begins the shutdown; every
//! other thread reads them through the methods below.

use std::net::SocketAddr;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use log::warn;

use super::capacity::ThreadBudget;
use super::hub::Command;
use super::per_address::PerAddress;
use super::pool::ThreadPool;
use super::spawner::Spawner;
use crate::config::{Config, Www};
use crate::protocol::MemoryBudget;

/// State shared by every thread of one server.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub(crate) config: Config,
    /// The page's files: built in, or the canonical path of `--www`.
    pub(crate) www_root: Www,
    /// `Config::www_fallback`, if it exists.
    pub(crate) www_fallback: Option<Www>,
    /// Where the page port (`--page-addr`) listens, if there is one.
    pub(crate) page_addr: Option<SocketAddr>,
    /// The hub's queue of commands.
    pub(super) hub: Sender<Command>,
    /// Every connection and writer thread is started through this.
    pub(crate) threads: ThreadBudget,
    /// Connection and writer threads come from here: parked ones are reused.
    pub pool: ThreadPool,
    /// Writer threads are started on this thread (never on the hub's).
    pub(crate) spawner: Spawner,
    /// The id the next accepted connection gets.
    pub(super) next_id: AtomicU64,
    /// Connections open right now (`--max-connections` caps it).
    pub(super) active: AtomicUsize,
    /// Request heads still arriving, per peer address (`--max-heads-per-address`).
    pub(super) heads: Arc<PerAddress>,
    /// Open connections per peer address (`--max-connections-per-address`).
    pub(super) connections: Arc<PerAddress>,
    /// What every connection's incomplete messages hold together (`--max-buffered-bytes`).
    pub(crate) buffered: Arc<MemoryBudget>,
    /// Set once a graceful shutdown has begun.
    pub(super) shutting_down: AtomicBool,
}

impl Shared {
    /// Sends a command to the hub, waiting if its queue is full (back-pressure on readers).
    pub(crate) fn hub_send(&self, command: Command) {
        if self.hub.send(command).is_err() {
            warn!("hub is gone; command dropped");
        }
    }

    /// Sends a command to the hub, waiting for room in its queue until `deadline` at most.
    ///
    /// Returns `false` if the queue stayed full until `deadline`, or the hub is gone: the
    /// command was not sent.
    pub(crate) fn hub_send_before(&self, command: Command, deadline: Instant) -> bool {
        self.hub.send_deadline(command, deadline).is_ok()
    }

    /// Queues a command for the hub without waiting: `Err` gives it back when the hub's queue
    /// is full (or the hub is gone), so the caller can refuse instead of blocking.
    pub(crate) fn hub_try_send(&self, command: Command) -> Result<(), Command> {
        self.hub.try_send(command).map_err(|e| e.into_inner())
    }

    /// How many clients the hub has registered now, once it gets to the question; `None` if
    /// it did not answer within `timeout`. A question for tests (`test-hooks` builds only).
    #[cfg(feature = "test-hooks")]
    pub fn hub_client_count(&self, timeout: std::time::Duration) -> Option<usize> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.hub_send(Command::Count { reply });
        answer.recv_timeout(timeout).ok()
    }

    /// Stalls the hub on purpose, for tests of what happens while it is behind
    /// (`test-hooks` builds only): it stays blocked until the returned receiver takes its
    /// answer or is dropped. Returns once the hub has taken the stall off its queue (the
    /// queue is empty, at most a few seconds on), so every place in the queue is the test's
    /// to fill.
    #[cfg(feature = "test-hooks")]
    pub fn stall_hub(&self) -> crossbeam_channel::Receiver<usize> {
        let (reply, release) = crossbeam_channel::bounded(0);
        self.hub_send(Command::Count { reply });
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while !self.hub.is_empty() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        release
    }

    /// Whether a graceful shutdown has begun.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Open connections right now.
    pub fn active_connections(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Commands waiting for the hub right now (its queue depth, for `/metrics`).
    pub(crate) fn hub_queue_len(&self) -> usize {
        self.hub.len()
    }
}
