//! How many connections this process can really hold, read from the kernel's limits at start.
//!
//! Each connection costs up to two threads (its reader always, a writer while it has something
//! to write) and two file descriptors (the socket and its duplicate for the writer). Each thread costs four memory mappings (its stack and
//! guard page, its signal stack and guard page), and the kernel caps mappings per process at
//! `vm.max_map_count` (65,530 by default). When a new thread cannot map its signal stack, the
//! Rust runtime aborts the whole process — so `--max-connections` must stay below what the
//! mappings allow, or one connection too many would end every other one.

use std::fs;

/// File descriptors one connection holds.
pub const FDS_PER_CONNECTION: u64 = 2;
/// Memory mappings one connection's two threads hold when both run (counted for the worst case:
/// a broadcast can give every connection a writer at once).
pub const MAPS_PER_CONNECTION: u64 = 8;
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
    fn default_map_count_allows_fewer_than_8000_connections() {
        let capacity = Capacity::from_limits(Some(65_530), Some(1_048_576));
        assert_eq!(capacity.max_connections(), Some((65_530 - 2_000) / 8));
    }

    #[test]
    fn a_low_file_limit_wins() {
        assert_eq!(
            Capacity::from_limits(Some(65_530), Some(1024)).max_connections(),
            Some(256)
        );
    }

    #[test]
    fn the_soft_open_files_limit_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            20000                20000                files\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(20_000));
        assert_eq!(Capacity::from_limits(None, None).max_connections(), None);
    }
}
