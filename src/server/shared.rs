//! [`Shared`]: what every thread of one server holds an `Arc` of — the configuration, the
//! hub's queue, the thread budget and pool, and the counters the listener keeps.
//!
//! Its counters are `pub(super)`: the [`listener`](super::listener) counts connections and
//! hands out ids, and [`ShutdownHandle`](super::ShutdownHandle) begins the shutdown; every
//! other thread reads them through the methods below.

use std::net::SocketAddr;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use log::warn;

use super::capacity::ThreadBudget;
use super::hub::Command;
use super::pool::ThreadPool;
use super::spawner::Spawner;
use crate::config::{Config, Www};
use crate::protocol::MemoryBudget;

/// State shared by every thread of one server.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub config: Config,
    /// The page's files: built in, or the canonical path of `--www`.
    pub www_root: Www,
    /// `Config::www_fallback`, if it exists.
    pub www_fallback: Option<Www>,
    /// Where the page port (`--page-addr`) listens, if there is one.
    pub page_addr: Option<SocketAddr>,
    /// The hub's queue of commands.
    pub(super) hub: Sender<Command>,
    /// Every connection and writer thread is started through this.
    pub threads: ThreadBudget,
    /// Connection and writer threads come from here: parked ones are reused.
    pub pool: ThreadPool,
    /// Writer threads are started on this thread (never on the hub's).
    pub spawner: Spawner,
    /// The id the next accepted connection gets.
    pub(super) next_id: AtomicU64,
    /// Connections open right now (`--max-connections` caps it).
    pub(super) active: AtomicUsize,
    /// What every connection's incomplete messages hold together (`--max-buffered-bytes`).
    pub buffered: Arc<MemoryBudget>,
    /// Set once a graceful shutdown has begun.
    pub(super) shutting_down: AtomicBool,
}

impl Shared {
    /// Sends a command to the hub, waiting if its queue is full (back-pressure on readers).
    pub fn hub_send(&self, command: Command) {
        if self.hub.send(command).is_err() {
            warn!("hub is gone; command dropped");
        }
    }

    /// Whether a graceful shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Open connections right now.
    pub fn active_connections(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Commands waiting for the hub right now (its queue depth, for `/metrics`).
    pub fn hub_queue_len(&self) -> usize {
        self.hub.len()
    }
}
