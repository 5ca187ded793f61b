//! How many idle connections this machine lets the bench hold, and which limit stops it:
//! `idle-50k` runs 50,000 connections where every limit allows them, and otherwise runs as
//! `idle-max`, at the most they allow less a margin, with the setting that 50,000 would need
//! in the report.
//!
//! What one idle `/echo` connection holds, as counted in `/proc/<pid>/fd`, `/proc/<pid>/maps`
//! and `/proc/<pid>/status` during the idle scenario (5,000 connections, Linux 6.18):
//!
//! | process | descriptors | threads | mappings |
//! |---|---|---|---|
//! | the bench (the client ends) | 1 | — (4 opener threads in all) | — |
//! | wsmith | 1: reader and writer share one `Arc<TcpStream>` (5,008 with 5,000 open) | 1, its reader (5,005) | 4 per thread: stack, its guard page, signal stack, its guard page (20,079) |
//! | fastwebsockets | 1 (5,009) | — (a task; 3 threads in all) | — (47 in all) |
//!
//! Each process has its own open-file limit (the servers inherit the bench's), so the
//! descriptors bind per process; wsmith lowers `--max-connections` to what its own limits
//! allow, keeping a reserve ([`wsmith::server::capacity`]), and the bench asks that same code.
//! Threads, process ids and memory are shared by the whole machine: the tasks running now
//! and [`THREAD_HEADROOM`] are taken off them.

use std::fmt::Write as _;

use wsmith::server::Capacity;

use crate::procfs;
use crate::scenarios::idle::OPENERS;

/// Descriptors the bench keeps beyond its client ends (stdio, the servers' pipes, the
/// executable, a few sockets of its own).
pub const SPARE_FILES: u64 = 128;
/// Descriptors the fastwebsockets peer holds beyond one per connection: stdio, the
/// listener, tokio's epoll and wakers (9 seen), with room.
const FAST_PEER_FILES: u64 = 64;
/// Threads per idle connection in wsmith: its reader (a writer runs only while something
/// waits to be sent).
const WSMITH_THREADS_PER_CONNECTION: u64 = 1;
/// Tasks (threads) left machine-wide for everything else: other processes, the bench's own
/// threads, wsmith's hub, spawner and log threads, writers that run for a moment.
const THREAD_HEADROOM: u64 = 4_096;
/// Machine memory one idle connection may take, in KiB, both ends: wsmith measured 18 KiB of
/// RSS and about 33 KiB of kernel memory (`idle`), with room for more than twice that.
const MEMORY_PER_CONNECTION_KIB: u64 = 128;
/// Taken off the most the limits allow, when that is less than wanted, in percent.
const MARGIN_PERCENT: u64 = 5;
/// A scaled-down count is rounded down to a multiple of this.
const ROUNDING: u64 = 1_000;

/// One limit an idle connection counts against.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The setting, as one changes it: "`ulimit -n`", "`vm.max_map_count`".
    pub setting: &'static str,
    /// The sysctl under `/proc/sys` behind it, which root may raise; `None` otherwise.
    pub sysctl: Option<&'static str>,
    /// What this machine has, in words ("this machine's hard limit is 20,000").
    pub here: String,
    /// Connections it allows.
    pub allows: u64,
    /// The least value of the setting that allows the wanted connections.
    pub needs: u64,
    /// How `needs` is made up ("one descriptor per connection …, plus wsmith's reserve of 2,000").
    pub arithmetic: String,
    /// How `allows` is made up, where more than one process counts: empty otherwise.
    pub per_process: String,
}

/// The connections a scenario asked for, what the limits allow, and every limit.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Connections asked for.
    pub wanted: usize,
    /// Connections the scenario will open: `wanted`, or less when a limit is short.
    pub connections: usize,
    /// Every limit read, in the order of [`Plan::read`].
    pub bounds: Vec<Bound>,
}

impl Plan {
    /// Reads this machine's limits for `wanted` idle connections (wsmith and fastwebsockets,
    /// the bench holding the client ends). When a limit allows fewer, the plan is the fewest
    /// allowed, less [`MARGIN_PERCENT`], rounded down to [`ROUNDING`].
    pub fn read(wanted: usize) -> Self {
        let n = wanted as u64;
        let mut bounds: Vec<Bound> = [open_files(n), mappings(n)].into_iter().flatten().collect();
        bounds.extend(threads(n));
        bounds.extend([ports(n), memory(n)].into_iter().flatten());
        let fewest = bounds.iter().map(|b| b.allows).min().unwrap_or(u64::MAX);
        let connections = if fewest >= wanted as u64 {
            wanted
        } else {
            let kept = fewest - fewest * MARGIN_PERCENT / 100;
            let rounded = if kept >= ROUNDING {
                kept - kept % ROUNDING
            } else {
                kept
            };
            usize::try_from(rounded).unwrap_or(wanted)
        };
        Self {
            wanted,
            connections,
            bounds,
        }
    }

    /// Whether a limit made the scenario smaller than asked.
    pub fn is_scaled(&self) -> bool {
        self.connections < self.wanted
    }

    /// The limits that allow fewer than wanted, the tightest first.
    pub fn short(&self) -> Vec<&Bound> {
        let mut short: Vec<&Bound> = self
            .bounds
            .iter()
            .filter(|b| b.allows < self.wanted as u64)
            .collect();
        short.sort_by_key(|b| b.allows);
        short
    }

    /// The scenario's name in the log and the table: `idle-50k`, or `idle-max` when scaled.
    pub fn name(&self) -> &'static str {
        if self.is_scaled() {
            "idle-max"
        } else {
            "idle-50k"
        }
    }

    /// What the table calls it when scaled: "idle-max: 17,000 connections (50,000 needs
    /// `ulimit -n` ≥ 52,000; this machine's hard limit is 20,000)".
    pub fn title(&self) -> String {
        let mut title = format!(
            "{}: {} connections",
            self.name(),
            thousands(self.connections as u64)
        );
        if let Some(bound) = self.short().first() {
            let _ = write!(
                title,
                " ({} needs {} ≥ {}; {})",
                thousands(self.wanted as u64),
                bound.setting,
                thousands(bound.needs),
                bound.here
            );
        }
        title
    }

    /// Every limit with its arithmetic, for the report's notes.
    pub fn note(&self) -> String {
        let mut note = match self.short().first() {
            Some(tightest) => format!(
                "idle-max: {} connections instead of idle-50k's {}: {} allows {}, the fewest \
                 of any limit, less {MARGIN_PERCENT}%, rounded down to {}. {} connections need:",
                thousands(self.connections as u64),
                thousands(self.wanted as u64),
                tightest.setting,
                thousands(tightest.allows),
                thousands(ROUNDING),
                thousands(self.wanted as u64)
            ),
            None => format!(
                "idle-50k: {} connections; they need:",
                thousands(self.wanted as u64)
            ),
        };
        for b in &self.bounds {
            let _ = write!(
                note,
                " {} ≥ {} ({}): {}, which allows {}{}.",
                capitalized(b.setting),
                thousands(b.needs),
                b.arithmetic,
                b.here,
                thousands(b.allows),
                if b.per_process.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", b.per_process)
                }
            );
        }
        note.trim_end_matches('.').to_owned()
    }
}

/// Open files, per process: the bench's client ends, wsmith's sockets and its reserve,
/// fastwebsockets' sockets. All three have the bench's soft limit (the servers inherit it).
fn open_files(wanted: u64) -> Option<Bound> {
    let (soft, hard) = procfs::open_file_limits()?;
    let bench = soft.saturating_sub(SPARE_FILES);
    let wsmith = wsmith_allows(soft);
    let fast = soft.saturating_sub(FAST_PEER_FILES);
    let needs_wsmith = least(wanted, wsmith_allows);
    let here = if soft >= hard {
        format!("this machine's hard limit is {}", thousands(hard))
    } else {
        format!(
            "the soft limit is {} (hard {}) after raising it",
            thousands(soft),
            thousands(hard)
        )
    };
    Some(Bound {
        setting: "`ulimit -n`",
        sysctl: None,
        here,
        allows: bench.min(wsmith).min(fast),
        needs: files_needed(wanted),
        arithmetic: format!(
            "one descriptor per connection in each process, plus the reserve wsmith keeps, {}, \
             in server::capacity",
            thousands(needs_wsmith.saturating_sub(wanted)),
        ),
        per_process: format!(
            "the bench {} client ends, wsmith {} connections, fastwebsockets {}",
            thousands(bench),
            thousands(wsmith),
            thousands(fast)
        ),
    })
}

/// The open-file limit every process needs for `connections` idle connections: the most of
/// the bench's, wsmith's and fastwebsockets' needs.
pub fn files_needed(connections: u64) -> u64 {
    least(connections, wsmith_allows)
        .max(connections + SPARE_FILES)
        .max(connections + FAST_PEER_FILES)
}

/// The connections wsmith accepts under an open-file limit of `files` (its own arithmetic).
fn wsmith_allows(files: u64) -> u64 {
    Capacity::from_limits(None, Some(files))
        .by_files
        .unwrap_or(0)
}

/// `vm.max_map_count`, per process: four mappings per wsmith thread, as wsmith counts them
/// (server::capacity lowers `--max-connections` to what they allow, and its thread budget
/// refuses a thread past them).
fn mappings(wanted: u64) -> Option<Bound> {
    let maps = procfs::sysctl("vm/max_map_count")?;
    let allows = |maps: u64| {
        Capacity::from_limits(Some(maps), None)
            .by_mappings
            .unwrap_or(0)
    };
    let needs = least(wanted, allows);
    Some(Bound {
        setting: "`vm.max_map_count`",
        sysctl: Some("vm/max_map_count"),
        here: format!("it is {} here", thousands(maps)),
        allows: allows(maps),
        needs,
        arithmetic: format!(
            "4 mappings per wsmith reader thread, plus the reserve wsmith keeps, {}",
            thousands(needs.saturating_sub(4 * wanted))
        ),
        per_process: String::new(),
    })
}

/// Threads, machine-wide: wsmith's reader per connection against `kernel.threads-max`,
/// `kernel.pid_max` (every thread takes a process id), a cgroup's `pids.max`, and for
/// anyone but root `ulimit -u`.
fn threads(wanted: u64) -> Vec<Bound> {
    let Some(tasks) = procfs::tasks_now() else {
        return Vec::new();
    };
    let mut limits = vec![
        (
            "`kernel.threads-max`",
            Some("kernel/threads-max"),
            procfs::sysctl("kernel/threads-max"),
            tasks,
        ),
        (
            "`kernel.pid_max`",
            Some("kernel/pid_max"),
            procfs::sysctl("kernel/pid_max"),
            tasks,
        ),
    ];
    if let Some((max, current)) = procfs::cgroup_pids() {
        limits.push(("the cgroup's `pids.max`", None, Some(max), current));
    }
    if !procfs::is_root() {
        limits.push(("`ulimit -u`", None, procfs::process_limit(), tasks));
    }
    limits
        .into_iter()
        .filter_map(|(setting, sysctl, limit, used)| {
            let limit = limit?;
            let room = limit.saturating_sub(used + THREAD_HEADROOM);
            Some(Bound {
                setting,
                sysctl,
                here: format!("it is {} here", thousands(limit)),
                allows: room / WSMITH_THREADS_PER_CONNECTION,
                needs: used + THREAD_HEADROOM + wanted * WSMITH_THREADS_PER_CONNECTION,
                arithmetic: format!(
                    "one wsmith thread per connection, plus the {} tasks running now and {} \
                     spare",
                    thousands(used),
                    thousands(THREAD_HEADROOM)
                ),
                per_process: String::new(),
            })
        })
        .collect()
}

/// Ephemeral ports: the bench connects from [`OPENERS`] loopback addresses, each with
/// `net.ipv4.ip_local_port_range` ports towards the server.
fn ports(wanted: u64) -> Option<Bound> {
    let per_source = procfs::local_ports()?;
    let sources = OPENERS as u64;
    Some(Bound {
        setting: "the span of `net.ipv4.ip_local_port_range`",
        sysctl: None,
        here: format!("{} ports here", thousands(per_source)),
        allows: per_source * sources,
        needs: wanted.div_ceil(sources),
        arithmetic: format!("the connections over {sources} source addresses"),
        per_process: String::new(),
    })
}

/// Memory, machine-wide: [`MEMORY_PER_CONNECTION_KIB`] per connection out of `MemAvailable`.
fn memory(wanted: u64) -> Option<Bound> {
    let available = procfs::mem_available_kib()?;
    Some(Bound {
        setting: "free memory (`MemAvailable`, MiB)",
        sysctl: None,
        here: format!("{} MiB here", thousands(available / 1024)),
        allows: available / MEMORY_PER_CONNECTION_KIB,
        needs: (wanted * MEMORY_PER_CONNECTION_KIB).div_ceil(1024),
        arithmetic: format!(
            "{MEMORY_PER_CONNECTION_KIB} KiB per connection, both ends, kernel included"
        ),
        per_process: String::new(),
    })
}

/// The least `value` for which `allows(value) >= wanted`; `allows` grows with `value`.
fn least(wanted: u64, allows: impl Fn(u64) -> u64) -> u64 {
    let (mut low, mut high) = (0u64, 1u64 << 40);
    while low < high {
        let middle = low + (high - low) / 2;
        if allows(middle) >= wanted {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low
}

/// "the span of …" → "The span of …", to open a sentence.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// 52000 → "52,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}
