//! How many connections and threads this process can really hold, read from the kernel's
//! limits at start.
//!
//! Each connection holds one file descriptor and one thread (its reader), plus a second thread
//! (its writer) while it has something to write. Each thread costs four memory mappings (its
//! stack and guard page, its signal stack and guard page), and the kernel caps mappings per
//! process at `vm.max_map_count` (65,530 by default). When a new thread cannot map its signal
//! stack, the Rust runtime aborts the whole process — so every thread is started through a
//! [`ThreadBudget`] that refuses one too many, and `--max-connections` is kept below what the
//! limits allow: one connection too many is refused, it never ends the others.

use std::fs;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// File descriptors one connection holds (reader and writer share its socket).
pub const FDS_PER_CONNECTION: u64 = 1;
/// Memory mappings one thread holds.
pub const MAPS_PER_THREAD: u64 = 4;
/// Memory mappings one connection's reader holds; its writer is counted by [`ThreadBudget`].
pub const MAPS_PER_CONNECTION: u64 = MAPS_PER_THREAD;
/// Mappings and descriptors kept back for the rest of the process (heap, libraries, listener).
const RESERVE: u64 = 2_000;

/// What the kernel lets this process hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Connections `vm.max_map_count` allows, if it could be read.
    pub by_mappings: Option<u64>,
    /// Connections the open-file limit allows, if it could be read.
    pub by_files: Option<u64>,
}

impl Capacity {
    /// Reads the limits from `/proc` (Linux); unknown limits are `None`.
    pub fn of_this_process() -> Self {
        let max_map_count = fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let open_files = fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| soft_limit(&limits, "Max open files"));
        Self::from_limits(max_map_count, open_files)
    }

    /// The most threads the mappings allow, if known.
    pub fn max_threads() -> Option<usize> {
        let maps: u64 = fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        usize::try_from(maps.saturating_sub(RESERVE) / MAPS_PER_THREAD).ok()
    }

    /// The connections these limits allow.
    pub fn from_limits(max_map_count: Option<u64>, open_files: Option<u64>) -> Self {
        Self {
            by_mappings: max_map_count
                .map(|maps| maps.saturating_sub(RESERVE) / MAPS_PER_CONNECTION),
            by_files: open_files
                .map(|files| files.saturating_sub(RESERVE.min(files / 2)) / FDS_PER_CONNECTION),
        }
    }

    /// The most connections that are safe to accept, if any limit is known.
    pub fn max_connections(&self) -> Option<u64> {
        match (self.by_mappings, self.by_files) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Counts the server's threads and refuses to start one past what the process can hold.
#[derive(Debug, Clone)]
pub struct ThreadBudget {
    live: Arc<AtomicUsize>,
    max: usize,
}

impl ThreadBudget {
    /// A budget of `max` threads at once.
    pub fn new(max: usize) -> Self {
        Self {
            live: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A budget from this process's limits (unlimited where they cannot be read).
    pub fn of_this_process() -> Self {
        Self::new(Capacity::max_threads().unwrap_or(usize::MAX))
    }

    /// Whether one more thread fits now.
    pub fn has_room(&self) -> bool {
        self.live.load(Ordering::SeqCst) < self.max
    }

    /// Threads running now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Starts a named thread with a fixed stack, if the budget allows it.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the budget is spent; the operating system's error when it refuses.
    pub fn spawn<T, F>(&self, name: String, stack_size: usize, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.live.fetch_add(1, Ordering::SeqCst) >= self.max {
            self.live.fetch_sub(1, Ordering::SeqCst);
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "thread budget spent (vm.max_map_count)",
            ));
        }
        let live = Arc::clone(&self.live);
        let spawned = thread::Builder::new()
            .name(name)
            .stack_size(stack_size)
            .spawn(move || {
                let _counted = Counted(live);
                f()
            });
        if spawned.is_err() {
            self.live.fetch_sub(1, Ordering::SeqCst);
        }
        spawned
    }
}

/// Gives a thread's place in the budget back when the thread ends, even by a panic.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The soft limit on the line of `/proc/self/limits` that starts with `name`.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    let line = limits.lines().find(|line| line.starts_with(name))?;
    let soft = line.get(name.len()..)?.split_whitespace().next()?;
    soft.parse().ok() // "unlimited" is no limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_count_allows_about_15800_readers() {
        let capacity = Capacity::from_limits(Some(65_530), Some(1_048_576));
        assert_eq!(capacity.max_connections(), Some((65_530 - 2_000) / 4));
    }

    #[test]
    fn a_low_file_limit_wins() {
        assert_eq!(
            Capacity::from_limits(Some(65_530), Some(1024)).max_connections(),
            Some(512)
        );
    }

    #[test]
    fn the_soft_open_files_limit_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            20000                20000                files\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(20_000));
        assert_eq!(Capacity::from_limits(None, None).max_connections(), None);
    }

    #[test]
    fn the_thread_budget_refuses_one_too_many_and_frees_places() {
        let budget = ThreadBudget::new(1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let first = budget
            .spawn("a".into(), 64 * 1024, move || wait.recv())
            .expect("fits");
        let refused = budget
            .spawn("b".into(), 64 * 1024, || ())
            .map_err(|e| e.kind());
        assert_eq!(refused.err(), Some(io::ErrorKind::WouldBlock));
        release.send(()).expect("send");
        let _ = first.join();
        assert_eq!(budget.live(), 0);
        assert!(budget.has_room());
    }
}
