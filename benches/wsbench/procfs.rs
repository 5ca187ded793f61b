//! What the benchmark reads from `/proc`: CPU time of a process, its resident memory and thread
//! count, the kernel's own memory, the file-descriptor limit, and the machine's description.
//!
//! Every reader returns `None` (or 0) rather than failing: a figure that cannot be read is
//! printed as missing, it does not stop the run.

use std::fs;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

/// Clock ticks per second of `utime`/`stime` in `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on
/// every common Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system, every thread, live or exited) used so far by `pid`, or by this
/// process for `"self"`.
pub fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let Some((_, fields)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // After the name: state(0) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime(11) stime(12), as in proc(5).
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) as f64 / clock_ticks_per_second(),
        _ => 0.0,
    }
}

/// Whether process `pid` is still running (not gone, not a zombie waiting to be reaped).
pub fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, fields) = stat.rsplit_once(')')?;
            fields
                .split_whitespace()
                .next()
                .map(|state| state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`) or as a count (`Threads`).
pub fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    first_number_after(&status, field)
}

/// The kernel memory a connection can cost, in KiB, from `/proc/meminfo`: slab objects
/// (sockets, task structs), kernel stacks of threads, and page tables.
pub fn kernel_memory_kib() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    let slab = first_number_after(&meminfo, "Slab")?;
    let stacks = first_number_after(&meminfo, "KernelStack")?;
    let tables = first_number_after(&meminfo, "PageTables")?;
    Some(slab + stacks + tables)
}

/// TCP socket buffer memory in KiB (`/proc/net/sockstat`, "TCP: … mem N" in pages of 4 KiB).
pub fn tcp_buffer_kib() -> Option<u64> {
    let sockstat = fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = sockstat.lines().find(|line| line.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if word == "mem" {
            return words.next()?.parse::<u64>().ok().map(|pages| pages * 4);
        }
    }
    None
}

/// Resident memory of `pid` grouped by mapping: `(size of the mapping in KiB, how many such
/// mappings, their RSS in KiB)`, largest RSS first. Thread stacks show up as many mappings of
/// one size (the stack size), malloc arenas as a few large ones, the main heap as `[heap]`.
pub fn rss_by_mapping_size(pid: u32) -> Vec<(String, u64, u64)> {
    let Ok(smaps) = fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return Vec::new();
    };
    let mut groups: Vec<(String, u64, u64)> = Vec::new();
    let mut current: Option<String> = None;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: "start-end perms offset dev inode [path]".
            let path = line.split_whitespace().nth(5);
            current = Some(path.unwrap_or("anonymous").to_owned());
        } else if let (Some(name), Some(size)) = (&current, line.strip_prefix("Size:")) {
            let size: u64 = size
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            current = Some(format!("{name} {size} KiB"));
        } else if let (Some(name), Some(rss)) = (&current, line.strip_prefix("Rss:")) {
            let rss: u64 = rss
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            match groups.iter_mut().find(|(n, _, _)| n == name) {
                Some((_, count, total)) => {
                    *count += 1;
                    *total += rss;
                }
                None => groups.push((name.clone(), 1, rss)),
            }
            current = None;
        }
    }
    groups.sort_by_key(|&(_, _, rss)| std::cmp::Reverse(rss));
    groups
}

/// The number that follows `name:` at the start of a line of `text`.
fn first_number_after(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The soft and hard limits on open files of this process (`/proc/self/limits`).
pub fn open_file_limits() -> Option<(u64, u64)> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let mut numbers = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(|word| {
            if word == "unlimited" {
                Some(u64::MAX)
            } else {
                word.parse().ok()
            }
        });
    Some((numbers.next()??, numbers.next()??))
}

/// "Intel(R) Xeon(R) …, 2 CPUs, Linux 6.1.0", for the report.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| release.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    format!("{model}, {cpus} CPUs (nproc), Linux {kernel}")
}

/// CPU used by a server and by this process (the load client) over one measured interval.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// Seconds of wall time.
    pub wall: f64,
    /// CPU seconds of the server process.
    pub server: f64,
    /// CPU seconds of this process: the load client.
    pub client: f64,
}

impl CpuUse {
    /// The server's CPU as cores kept busy (1.0 = one core all the time).
    pub fn server_cores(&self) -> f64 {
        self.server / self.wall.max(1e-9)
    }

    /// The client's CPU as cores kept busy.
    pub fn client_cores(&self) -> f64 {
        self.client / self.wall.max(1e-9)
    }
}

/// Starts measuring CPU of a server (by pid) and of this process.
#[derive(Debug)]
pub struct CpuMeter {
    pid: String,
    start: Instant,
    server: f64,
    client: f64,
}

impl CpuMeter {
    /// Takes the "before" readings.
    pub fn start(server_pid: u32) -> Self {
        let pid = server_pid.to_string();
        Self {
            server: cpu_seconds(&pid),
            client: cpu_seconds("self"),
            start: Instant::now(),
            pid,
        }
    }

    /// Takes the "after" readings.
    pub fn stop(&self) -> CpuUse {
        CpuUse {
            wall: self.start.elapsed().as_secs_f64(),
            server: cpu_seconds(&self.pid) - self.server,
            client: cpu_seconds("self") - self.client,
        }
    }
}

/// Counters of the kernel's `TcpExt` line in `/proc/net/netstat` (machine-wide), by name:
/// e.g. `ListenOverflows` (a connect found the accept queue full), `ListenDrops`,
/// `TCPSynRetrans` (SYNs and SYN-ACKs sent again).
pub fn tcp_ext(names: &[&str]) -> Option<u64> {
    let netstat = fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (header, values) = (lines.next()?, lines.next()?);
    let mut total = 0;
    for name in names {
        let at = header.split_whitespace().position(|word| word == *name)?;
        total += values.split_whitespace().nth(at)?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// A numeric sysctl, read from `/proc/sys/<path>` (e.g. `vm/max_map_count`).
pub fn sysctl(path: &str) -> Option<u64> {
    fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Raises the sysctl at `/proc/sys/<path>` to at least `wanted` if this process may write it
/// (root, and not a read-only `/proc/sys`). Returns the value before, if it was raised, so
/// that it can be put back; an error says why it could not be.
pub fn raise_sysctl(path: &str, wanted: u64) -> Result<Option<u64>, String> {
    let Some(current) = sysctl(path) else {
        return Err(format!("cannot read /proc/sys/{path}"));
    };
    if current >= wanted {
        return Ok(None);
    }
    fs::write(format!("/proc/sys/{path}"), wanted.to_string())
        .map_err(|e| format!("{path} is {current}, and writing {wanted} failed: {e}"))?;
    match sysctl(path) {
        Some(now) if now >= wanted => Ok(Some(current)),
        now => Err(format!("{path} is {now:?} after writing {wanted}")),
    }
}

/// Puts back a sysctl raised by [`raise_sysctl`].
pub fn restore_sysctl(path: &str, value: u64) {
    if let Err(e) = fs::write(format!("/proc/sys/{path}"), value.to_string()) {
        eprintln!("wsbench: could not restore {path} to {value}: {e}");
    }
}

/// The tightest cgroup `pids.max` over this process's cgroup and its ancestors, as
/// `(pids.max, pids.current)` of that cgroup; `None` when no cgroup sets one ("max"), as in
/// a container's root cgroup. Both hierarchies are read: v2 (`0::/path`) under
/// `/sys/fs/cgroup` or `/sys/fs/cgroup/unified`, v1 (`N:pids:/path`) under
/// `/sys/fs/cgroup/pids`. Every thread counts as one pid.
pub fn cgroup_pids() -> Option<(u64, u64)> {
    let cgroups = fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut tightest: Option<(u64, u64)> = None;
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let roots: &[&str] = match controllers {
            "" => &["/sys/fs/cgroup", "/sys/fs/cgroup/unified"],
            list if list.split(',').any(|c| c == "pids") => &["/sys/fs/cgroup/pids"],
            _ => continue,
        };
        for root in roots {
            let mut dir = path.trim_end_matches('/');
            loop {
                let max = fs::read_to_string(format!("{root}{dir}/pids.max"))
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let current = fs::read_to_string(format!("{root}{dir}/pids.current"))
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if let (Some(max), Some(current)) = (max, current) {
                    let room = |(max, current): (u64, u64)| max.saturating_sub(current);
                    let tighter = match tightest {
                        Some(t) => room((max, current)) < room(t),
                        None => true,
                    };
                    if tighter {
                        tightest = Some((max, current));
                    }
                }
                match dir.rsplit_once('/') {
                    Some((parent, _)) => dir = parent,
                    None => break,
                }
            }
        }
    }
    tightest
}

/// Threads running now on the whole machine (every process's; the fourth field of
/// `/proc/loadavg`, "running/total").
pub fn tasks_now() -> Option<u64> {
    let loadavg = fs::read_to_string("/proc/loadavg").ok()?;
    let field = loadavg.split_whitespace().nth(3)?;
    field.split_once('/')?.1.parse().ok()
}

/// The ephemeral ports of one source address towards one server:
/// `net.ipv4.ip_local_port_range`, counted inclusively.
pub fn local_ports() -> Option<u64> {
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut ends = range.split_whitespace().map(|end| end.parse::<u64>().ok());
    let (low, high) = (ends.next()??, ends.next()??);
    Some(high.saturating_sub(low) + 1)
}

/// Memory the kernel could still give out without swapping, in KiB (`MemAvailable`).
pub fn mem_available_kib() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    first_number_after(&meminfo, "MemAvailable")
}

/// Whether this process runs as root (effective uid 0): root's threads are not counted
/// against `RLIMIT_NPROC`, and root may write `/proc/sys`.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// The soft limit on processes (threads) of this process's user (`ulimit -u`), `None` when
/// unlimited or unreadable.
pub fn process_limit() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max processes"))?;
    line.trim_start_matches("Max processes")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
