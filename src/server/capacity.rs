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
pub(crate) const FDS_PER_CONNECTION: u64 = 1;
/// Memory mappings one thread holds.
pub(crate) const MAPS_PER_THREAD: u64 = 4;
/// Memory mappings one connection's reader holds; its writer is counted by [`ThreadBudget`].
pub(crate) const MAPS_PER_CONNECTION: u64 = MAPS_PER_THREAD;
/// Mappings and descriptors kept back for the rest of the process (heap, libraries, listener).
const RESERVE: u64 = 2_000;
/// The most threads kept back for writers (see [`writer_reserve`]).
const MAX_WRITER_RESERVE: u64 = 4_096;

/// Threads of a budget of `threads` that connections may not take as readers: writers start
/// in them. An eighth of the budget, at most 4,096 (1,985 with the default
/// `vm.max_map_count`; 4,096 with the 262,144 of `deploy/sysctl.conf`, which still leaves
/// 60,940 readers). Without it, idle connections that fill the cap leave no thread for the
/// writer of a client that is sent something, and that client is dropped ("cannot start a
/// writer") for what others hold.
pub(crate) fn writer_reserve(threads: u64) -> u64 {
    (threads / 8).min(MAX_WRITER_RESERVE)
}

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
    pub(crate) fn of_this_process() -> Self {
        let max_map_count = fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let open_files = fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| soft_limit(&limits, "Max open files"));
        Self::from_limits(max_map_count, open_files)
    }

    /// The most threads the mappings allow, if known.
    pub(crate) fn max_threads() -> Option<usize> {
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
            by_mappings: max_map_count.map(|maps| {
                let threads = maps.saturating_sub(RESERVE) / MAPS_PER_THREAD;
                threads.saturating_sub(writer_reserve(threads)) * MAPS_PER_THREAD
                    / MAPS_PER_CONNECTION
            }),
            by_files: open_files
                .map(|files| files.saturating_sub(RESERVE.min(files / 2)) / FDS_PER_CONNECTION),
        }
    }

    /// The most connections that are safe to accept, if any limit is known.
    pub(crate) fn max_connections(&self) -> Option<u64> {
        match (self.by_mappings, self.by_files) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Counts the server's threads and refuses to start one past what the process can hold.
#[derive(Debug, Clone)]
pub(crate) struct ThreadBudget {
    live: Arc<AtomicUsize>,
    max: usize,
    /// Threads a new connection may not take: kept for writers ([`writer_reserve`]).
    writers: usize,
}

impl ThreadBudget {
    /// A budget of `max` threads at once, none kept for writers.
    #[cfg(test)]
    pub(crate) fn new(max: usize) -> Self {
        Self::with_writer_reserve(max, 0)
    }

    /// A budget of `max` threads at once, of which new connections leave `writers` free.
    pub(crate) fn with_writer_reserve(max: usize, writers: usize) -> Self {
        Self {
            live: Arc::new(AtomicUsize::new(0)),
            max,
            writers,
        }
    }

    /// A budget from this process's limits (unlimited where they cannot be read), with its
    /// [`writer_reserve`].
    pub(crate) fn of_this_process() -> Self {
        let max = Capacity::max_threads().unwrap_or(usize::MAX);
        let reserve = u64::try_from(max).map_or(0, writer_reserve);
        Self::with_writer_reserve(max, usize::try_from(reserve).unwrap_or(0))
    }

    /// The budget for a server with `config`: [`ThreadBudget::of_this_process`], or in
    /// `test-hooks` builds `Config::thread_budget` threads with their [`writer_reserve`].
    pub(crate) fn for_config(config: &crate::config::Config) -> Self {
        #[cfg(feature = "test-hooks")]
        if let Some(max) = config.thread_budget {
            let reserve = u64::try_from(max).map_or(0, writer_reserve);
            return Self::with_writer_reserve(max, usize::try_from(reserve).unwrap_or(0));
        }
        let _ = config;
        Self::of_this_process()
    }

    /// Whether one more thread fits now.
    pub(crate) fn has_room(&self) -> bool {
        self.live.load(Ordering::SeqCst) < self.max
    }

    /// Whether a new connection's reader fits now and leaves the writers' reserve free.
    pub(crate) fn has_room_for_connection(&self) -> bool {
        self.live
            .load(Ordering::SeqCst)
            .saturating_add(self.writers)
            < self.max
    }

    /// Threads running now.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Starts a named thread with a fixed stack, if the budget allows it.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the budget is spent; the operating system's error when it refuses.
    pub(crate) fn spawn<T, F>(
        &self,
        name: String,
        stack_size: usize,
        f: F,
    ) -> io::Result<JoinHandle<T>>
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
    fn default_map_count_allows_about_13900_readers_and_keeps_threads_for_writers() {
        let capacity = Capacity::from_limits(Some(65_530), Some(1_048_576));
        let threads = (65_530 - 2_000) / 4;
        assert_eq!(capacity.max_connections(), Some(threads - threads / 8));
        // deploy/sysctl.conf's 262,144: the reserve is capped, 50,000 readers still fit.
        let large = Capacity::from_limits(Some(262_144), None).max_connections();
        assert_eq!(large, Some((262_144 - 2_000) / 4 - 4_096));
        assert!(large.is_some_and(|n| n >= 50_000));
    }

    #[test]
    fn connections_leave_the_writers_reserve_free() {
        let budget = ThreadBudget::with_writer_reserve(2, 1);
        assert!(budget.has_room_for_connection());
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let reader = budget
            .spawn("reader".into(), 64 * 1024, move || wait.recv())
            .expect("fits");
        assert!(
            !budget.has_room_for_connection(),
            "the last thread is a writer's"
        );
        assert!(budget.has_room(), "a writer still starts");
        release.send(()).expect("send");
        let _ = reader.join();
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
