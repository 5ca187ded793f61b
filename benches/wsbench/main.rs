//! `cargo bench --bench wsbench`: wsmith against two peers, scenario by scenario: a
//! `fastwebsockets` server on tokio (an event loop per core, a task per connection) and a
//! `tungstenite` server with a thread per connection. Every row compares wsmith with the best
//! peer of that row.
//!
//! ```text
//! cargo bench --bench wsbench                       full run (5 runs of each, medians)
//! WSBENCH_QUICK=1 cargo bench --bench wsbench       smoke run, under a minute (CI)
//! cargo bench --bench wsbench -- echo-small idle    only the named scenarios
//! ```
//!
//! Environment: `WSBENCH_REPS` (runs per scenario and server), `WSBENCH_SECS` (measured
//! seconds per run), `WSBENCH_IDLE` (connections of the idle scenario), `WSBENCH_QUICK=1`.
//! `idle-50k` runs in a full run (or when named), not in a quick one. Where this machine's
//! limits cannot hold 50,000 connections ([`limits`]), it runs as `idle-max`, at the most they
//! allow, and the report says which setting 50,000 would need.
//!
//! How it works:
//!
//! 1. The servers run as separate processes ([`servers`]): wsmith's release binary, and this
//!    binary re-executed as the fastwebsockets peer ([`fast_peer`]) or as the tungstenite peer
//!    ([`peer_server`]); tokio and hyper are dev-dependencies, in this binary only. A fresh
//!    process serves each run, and CPU is read from `/proc/<pid>/stat` around the measured
//!    interval.
//! 2. The load comes from [`client`], RFC 6455 by hand over `std::net`: frames masked once,
//!    windows of pipelined messages, in-place parsing. Its own CPU (`/proc/self/stat`) is
//!    printed next to the server's, to show it is not the bottleneck.
//! 3. Each scenario ([`scenarios`]) runs on wsmith then each peer, again and again
//!    (w, f, t, w, f, t…); the table shows medians, the best peer of each row and the ratio
//!    wsmith / best peer, with its target. Every scenario checks what it receives; a wrong byte stops the run.
//!    `tap` (the Inspector's cost) runs on wsmith only: its second column compares
//!    wsmith with itself (watched against unwatched).
//!
//! The bench only prints; no figure is asserted.

#![forbid(unsafe_code)]

mod client;
mod fast_peer;
mod limits;
mod peer_server;
mod procfs;
mod report;
mod scenarios;
mod servers;
mod stats;

use std::cell::Cell;
use std::env;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use limits::{Plan, SPARE_FILES};
use report::{Counts, Results};
use scenarios::{Sample, Timing};
use servers::{Kind, Server};

/// What to run and for how long.
#[derive(Debug, Clone)]
struct Settings {
    quick: bool,
    reps: usize,
    timing: Timing,
    idle_connections: usize,
    idle_reps: usize,
    /// Connections of `idle-50k` (or `idle-max`) and the limits behind them; `None` when it
    /// does not run (the reason is in `notes`).
    idle_50k: Option<Plan>,
    receivers: u32,
    /// Clients of the burst scenario.
    burst: usize,
    /// Scenario names given on the command line; empty means all.
    only: Vec<String>,
    /// What had to be scaled down on this machine, and why.
    notes: Vec<String>,
}

/// The idle scenario's connection count.
const IDLE_CONNECTIONS: usize = 10_000;
/// The idle-50k scenario's connection count (the target: 50,000 idle connections).
const IDLE_50K: usize = 50_000;
/// Receivers of the broadcast scenario.
const RECEIVERS: u32 = 1_000;
/// Receivers of the smaller broadcast scenario.
const RECEIVERS_SMALL: u32 = 250;
/// The names of the scenario of [`IDLE_50K`] connections: `idle-max` when this machine's limits
/// allow fewer ([`limits`]). Either name on the command line selects it.
const IDLE_50K_NAMES: [&str; 2] = ["idle-50k", "idle-max"];
/// Set when the bench re-executed itself with a raised open-file limit.
const RAISED: &str = "WSBENCH_NOFILE_RAISED";
/// Scenarios run on every server, interleaved.
const ALL: &[Kind] = &[Kind::Wsmith, Kind::Fast, Kind::Tungstenite];
/// idle-50k: the tungstenite peer is left out. Its thread per connection touches about
/// 150 KiB each (2 MiB stacks): 50,000 of them would take some 7 GiB of a machine that others
/// share, to learn what the 10,000-connection row already shows.
const NOT_TUNGSTENITE: &[Kind] = &[Kind::Wsmith, Kind::Fast];
/// Scenarios of a wsmith feature the peer does not have.
const WSMITH_ONLY: &[Kind] = &[Kind::Wsmith];

impl Settings {
    fn from_env(args: &[String]) -> Self {
        let quick = env::var("WSBENCH_QUICK").is_ok_and(|v| v == "1");
        let number = |name: &str| env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
        let reps = number("WSBENCH_REPS").map_or(if quick { 1 } else { 5 }, |n| n as usize);
        let measure = number("WSBENCH_SECS").unwrap_or(if quick { 0.5 } else { 2.0 });
        let idle = number("WSBENCH_IDLE")
            .map_or(if quick { 1_000 } else { IDLE_CONNECTIONS }, |n| n as usize);
        let only: Vec<String> = args
            .iter()
            .filter(|arg| !arg.starts_with('-'))
            .cloned()
            .collect();
        let mut notes = Vec::new();
        let idle_50k = if quick && !only.iter().any(|name| IDLE_50K_NAMES.contains(&&**name)) {
            notes.push("idle-50k: not in a quick run (name it to run it)".to_owned());
            None
        } else {
            notes.push(
                "idle-50k: wsmith and fastwebsockets only; tungstenite's thread per connection \
                 (2 MiB stacks, ~150 KiB touched each) would take ~7 GiB of a shared machine"
                    .to_owned(),
            );
            Some(Plan::read(IDLE_50K))
        };
        Self {
            quick,
            reps: reps.max(1),
            timing: Timing {
                warmup: Duration::from_secs_f64(if quick { 0.2 } else { 0.5 }),
                measure: Duration::from_secs_f64(measure),
            },
            idle_connections: idle,
            idle_reps: reps.clamp(1, 3),
            idle_50k,
            receivers: RECEIVERS,
            burst: scenarios::burst::CLIENTS,
            only,
            notes,
        }
    }

    fn selected(&self, scenario: &str) -> bool {
        let same = |name: &str| {
            name == scenario
                || (IDLE_50K_NAMES.contains(&name) && IDLE_50K_NAMES.contains(&scenario))
        };
        self.only.is_empty() || self.only.iter().any(|name| same(name))
    }

    /// Open files each process needs (the servers inherit this process's limit), for the
    /// largest scenario: one descriptor per connection in the bench and in each server, as
    /// `/proc/<pid>/fd` shows (wsmith's reader and writer share one `Arc<TcpStream>`), plus
    /// the reserves of [`limits::files_needed`]; the tungstenite peer two per `/broadcast`
    /// client (it clones the socket for a writer thread).
    fn files_needed(&self) -> u64 {
        let idle = (self.idle_connections)
            .max(self.idle_50k_if_selected())
            .max(self.burst);
        let broadcast = 2 * (u64::from(self.receivers) + 1) + SPARE_FILES;
        limits::files_needed(idle as u64).max(broadcast)
    }

    /// The connections idle-50k asks for if it is to run, else 0.
    fn idle_50k_if_selected(&self) -> usize {
        match &self.idle_50k {
            Some(plan) if self.selected(IDLE_50K_NAMES[0]) => plan.wanted,
            _ => 0,
        }
    }

    /// Scales the idle scenario down to what the open-file and thread limits allow, noting it.
    fn fit_to_machine(&mut self) {
        if let Some((soft, hard)) = procfs::open_file_limits() {
            // Each process (the harness with its client ends, a server with its own) holds one
            // descriptor per connection.
            let room = soft.saturating_sub(SPARE_FILES) as usize;
            if room < self.receivers as usize + 1 {
                let receivers = room.saturating_sub(1) as u32;
                self.notes.push(format!(
                    "broadcast: {receivers} receivers instead of {} (open-file limit {soft})",
                    self.receivers
                ));
                self.receivers = receivers;
            }
            if room < self.idle_connections {
                self.notes.push(format!(
                    "idle: {} connections instead of {} (open-file limit {soft}; raise the hard \
                     limit)",
                    room, self.idle_connections
                ));
                self.idle_connections = room;
            }
            if soft < self.files_needed() {
                self.notes.push(format!(
                    "the open-file limit is {soft} (hard {hard}), below the {} the largest \
                     scenario needs, and could not be raised: raising the hard limit takes \
                     CAP_SYS_RESOURCE, which even root may lack in a container; run \
                     `ulimit -n {}` first where that is allowed",
                    self.files_needed(),
                    self.files_needed()
                ));
            }
        }
        // Each Rust thread maps its stack and its signal stack, each with a guard page: four
        // mappings, counted against vm.max_map_count. Not scaled down for: it is the servers'
        // limit to meet or not, but said in the report.
        let max_map_count = fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok());
        if let Some(maps) = max_map_count {
            if maps / 4 < self.idle_connections + 1_000 {
                self.notes.push(format!(
                    "vm.max_map_count is {maps}: one process can run about {} threads \
                     (4 mappings each), i.e. about that many idle connections (one thread each)",
                    maps / 4
                ));
            }
        }
        // An idle wsmith connection runs one thread (its reader; a writer starts only for what
        // the socket could not take); every thread takes a process id.
        let pid_max = fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok());
        if let Some(pid_max) = pid_max {
            let room = pid_max.saturating_sub(4_096);
            if room < self.idle_connections {
                self.notes.push(format!(
                    "idle: {room} connections instead of {} (kernel.pid_max {pid_max})",
                    self.idle_connections
                ));
                self.idle_connections = room;
            }
        }
    }
}

/// Sysctls the bench raised, put back when it ends.
struct Raised(Vec<(&'static str, u64)>);

impl Drop for Raised {
    fn drop(&mut self) {
        for (path, value) in self.0.drain(..) {
            procfs::restore_sysctl(path, value);
            eprintln!("wsbench: {path} put back to {value}");
        }
    }
}

impl Settings {
    /// Plans idle-50k on this machine's limits ([`limits`]). First raises the sysctls among
    /// them (`vm.max_map_count`, `kernel.pid_max`, `kernel.threads-max`) that are short of what
    /// the other limits allow, at most 50,000 connections, when this process may write
    /// `/proc/sys` (root), to be put back at the end; then runs 50,000 if every limit allows
    /// them, else `idle-max` at the most they allow. The plan's arithmetic goes in the notes.
    fn fit_idle_50k(&mut self) -> Raised {
        let mut raised = Raised(Vec::new());
        let wanted = self.idle_50k_if_selected();
        if wanted == 0 {
            return raised;
        }
        // The most worth raising the sysctls for: what the limits no sysctl moves allow.
        let target = Plan::read(wanted)
            .bounds
            .iter()
            .filter(|bound| bound.sysctl.is_none())
            .map(|bound| bound.allows)
            .min()
            .map_or(wanted, |allows| wanted.min(allows as usize));
        for bound in Plan::read(target).bounds {
            let Some(path) = bound.sysctl else {
                continue;
            };
            if bound.allows >= target as u64 {
                continue;
            }
            match procfs::raise_sysctl(path, bound.needs) {
                Ok(None) => {}
                Ok(Some(before)) => {
                    eprintln!(
                        "wsbench: raised {path} from {before} to {} for {target} idle connections",
                        bound.needs
                    );
                    raised.0.push((path, before));
                }
                Err(e) => self.notes.push(format!(
                    "{}: could not raise {}: {e} (needs `sysctl {}={}` as root)",
                    IDLE_50K_NAMES[1],
                    bound.setting,
                    path.replace('/', "."),
                    bound.needs
                )),
            }
        }
        let plan = Plan::read(wanted);
        self.notes.push(plan.note());
        self.idle_50k = Some(plan);
        raised
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(peer_server::FLAG) => return peer_server::run(),
        Some(fast_peer::FLAG) => return fast_peer::run(),
        _ => {}
    }
    let mut settings = Settings::from_env(&args);
    raise_open_file_limit(&settings, &args);
    settings.fit_to_machine();
    let _raised = settings.fit_idle_50k();
    match run(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsbench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// std cannot call `setrlimit`; a shell can. If the soft open-file limit is too low for the
/// largest scenario, re-executes this binary through
/// `sh -c 'ulimit -n N || ulimit -n HARD; exec "$0" "$@"'`: as root, `ulimit -n` raises the
/// hard limit too (up to `fs.nr_open`); otherwise the soft limit goes up to the hard one. The
/// servers inherit the limit; [`Settings::fit_to_machine`] scales down to what was had.
fn raise_open_file_limit(settings: &Settings, args: &[String]) {
    let Some((soft, hard)) = procfs::open_file_limits() else {
        return;
    };
    let wanted = settings.files_needed().max(65_536);
    if soft >= settings.files_needed() || env::var_os(RAISED).is_some() {
        return;
    }
    let Ok(exe) = env::current_exe() else {
        return;
    };
    eprintln!("wsbench: raising the open-file limit from {soft} to {wanted} (hard limit {hard})");
    let error = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {wanted} 2>/dev/null || ulimit -n {hard}; exec \"$0\" \"$@\""
        ))
        .arg(exe)
        .args(args)
        .env(RAISED, "1")
        .exec();
    eprintln!("wsbench: could not re-execute with a raised limit: {error}");
}

fn run(settings: &Settings) -> io::Result<()> {
    let started = Instant::now();
    let machine = procfs::machine();
    eprintln!("wsbench on {machine}");
    eprintln!(
        "runs per scenario: {} (idle: {}), {:?} measured after {:?} of warm-up{}",
        settings.reps,
        settings.idle_reps,
        settings.timing.measure,
        settings.timing.warmup,
        if settings.quick {
            " (WSBENCH_QUICK)"
        } else {
            ""
        }
    );
    for note in &settings.notes {
        eprintln!("note: {note}");
    }
    let mut results = Results::default();
    let mut failures = Vec::new();
    let timing = &settings.timing;
    let idle = settings.idle_connections;
    let idle_50k = settings
        .idle_50k
        .as_ref()
        .map(|plan| (plan.name(), plan.connections));
    let receivers = settings.receivers;
    let receivers_small = RECEIVERS_SMALL.min(receivers);
    let burst = settings.burst;
    let check_rounds = if settings.quick { 3 } else { 7 };
    let deflate_messages = if settings.quick { 200 } else { 2_000 };
    let tap_runs = Cell::new(0usize);
    type Run<'a> = Box<dyn Fn(&Server) -> io::Result<Sample> + 'a>;
    let mut scenarios: Vec<(&str, usize, &[Kind], Run<'_>)> = vec![
        (
            "echo-small",
            settings.reps,
            ALL,
            Box::new(|s: &Server| scenarios::echo::small(s, timing)),
        ),
        (
            "echo-large",
            settings.reps,
            ALL,
            Box::new(|s: &Server| scenarios::echo::large(s, timing)),
        ),
        (
            "broadcast",
            settings.reps,
            ALL,
            Box::new(move |s: &Server| {
                scenarios::broadcast::run(s, timing, receivers, &scenarios::broadcast::KEYS_1000)
            }),
        ),
        (
            "broadcast-250",
            settings.reps,
            ALL,
            Box::new(move |s: &Server| {
                let keys = &scenarios::broadcast::KEYS_250;
                scenarios::broadcast::run(s, timing, receivers_small, keys)
            }),
        ),
        (
            "handshakes",
            settings.reps,
            ALL,
            Box::new(|s: &Server| scenarios::handshakes::run(s, timing)),
        ),
        (
            "idle",
            settings.idle_reps,
            ALL,
            Box::new(move |s: &Server| scenarios::idle::run(s, idle, &scenarios::idle::KEYS)),
        ),
        (
            "burst",
            settings.idle_reps,
            ALL,
            Box::new(move |s: &Server| scenarios::burst::run(s, burst)),
        ),
        (
            "deflate-broadcast",
            settings.reps,
            WSMITH_ONLY, // neither peer has permessage-deflate: compared with --deflate off
            Box::new(move |s: &Server| scenarios::deflate::run(s, deflate_messages)),
        ),
        (
            "tap",
            settings.reps,
            WSMITH_ONLY, // the peers have no Inspector
            Box::new(|s: &Server| {
                // Watched first on every other run, so neither half always comes first.
                let run = tap_runs.replace(tap_runs.get() + 1);
                scenarios::tap::run(s, timing, check_rounds, run % 2 == 1)
            }),
        ),
    ];
    if let Some((name, connections)) = idle_50k {
        scenarios.push((
            name,
            1,
            NOT_TUNGSTENITE,
            Box::new(move |s: &Server| {
                scenarios::idle::run(s, connections, &scenarios::idle::KEYS_50K)
            }),
        ));
    }
    for (name, reps, kinds, scenario) in &scenarios {
        if !settings.selected(name) {
            continue;
        }
        // The baseline runs right after wsmith, wherever wsmith runs.
        let kinds: Vec<Kind> = kinds
            .iter()
            .flat_map(|&kind| match kind {
                Kind::Wsmith if Kind::baseline().is_some() => vec![kind, Kind::Baseline],
                _ => vec![kind],
            })
            .collect();
        for rep in 1..=*reps {
            for &kind in &kinds {
                let cap = if IDLE_50K_NAMES.contains(name) {
                    60_000
                } else {
                    20_000
                };
                let server = Server::start(kind, cap)?;
                match scenario(&server) {
                    Ok(sample) => {
                        eprintln!(
                            "{name} {rep}/{reps} {:>6}: {}",
                            kind.name(),
                            summary(&sample)
                        );
                        results.add(kind, sample);
                    }
                    Err(e) => {
                        let e = match e.kind() {
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                                format!("no answer from the server within the read timeout ({e})")
                            }
                            _ => e.to_string(),
                        };
                        let failure = format!("{name} run {rep} on {}: {e}", kind.name());
                        eprintln!("FAILED: {failure}");
                        failures.push(failure);
                    }
                }
                drop(server);
            }
        }
    }
    if settings.selected("unmask") {
        let sample = scenarios::unmask::run(if settings.quick { 3 } else { 7 });
        eprintln!("unmask: {}", summary(&sample));
        results.add(Kind::Wsmith, sample);
    }
    let report = render(settings, &results, &failures, &machine, started.elapsed());
    println!("\n{report}");
    let path = markdown_path();
    match fs::write(&path, &report) {
        Ok(()) => eprintln!("written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{} run(s) failed their checks (listed above)",
            failures.len()
        )))
    }
}

/// One line per run for the progress log.
fn summary(sample: &Sample) -> String {
    let mut parts: Vec<String> = sample
        .figures
        .iter()
        .map(|(key, value)| format!("{key}={value:.1}"))
        .collect();
    for (label, cpu) in &sample.cpu {
        parts.push(format!(
            "[{label}: server {:.2} cores, client {:.2}]",
            cpu.server_cores(),
            cpu.client_cores()
        ));
    }
    parts.join(" ")
}

/// The whole report in Markdown.
fn render(
    settings: &Settings,
    results: &Results,
    failures: &[String],
    machine: &str,
    took: Duration,
) -> String {
    let mut command = String::new();
    if settings.quick {
        command.push_str("WSBENCH_QUICK=1 ");
    }
    command.push_str("cargo bench --bench wsbench");
    if !settings.only.is_empty() {
        command.push_str(" -- ");
        command.push_str(&settings.only.join(" "));
    }
    let mut out = format!(
        "## wsbench: wsmith vs fastwebsockets 0.10 (tokio) and tungstenite 0.24 (threads)\n\n\
         Machine: {machine}. Reproduce: `{command}` ({:.0} s). Medians of {} runs per server \
         (idle and burst: {}; {}: 1), interleaved wsmith, fastwebsockets, tungstenite, \
         wsmith…; {:.1} s measured per run after {:.1} s of warm-up. Best peer = the better \
         of the two peers in that row; ratio = wsmith / best peer. Idle: {} connections; its \
         kernel figure is machine-wide (/proc/meminfo Slab + KernelStack + PageTables), so it \
         includes the client's ends of the sockets. Burst: {} clients connect at once; the \
         kernel counters are machine-wide too.\n\n",
        took.as_secs_f64(),
        settings.reps,
        settings.idle_reps,
        settings.idle_50k.as_ref().map_or("idle-50k", Plan::name),
        settings.timing.measure.as_secs_f64(),
        settings.timing.warmup.as_secs_f64(),
        settings.idle_connections,
        settings.burst,
    );
    for note in &settings.notes {
        out.push_str(&format!("Note: {note}.\n\n"));
    }
    if let Ok(extra) = env::var("WSBENCH_WSMITH_ARGS") {
        out.push_str(&format!("Note: wsmith ran with extra flags `{extra}`.\n\n"));
    }
    for failure in failures {
        out.push_str(&format!("**FAILED**: {failure}\n\n"));
    }
    out.push_str(
        &results.table(&Counts {
            idle: settings.idle_connections,
            idle_50k: settings
                .idle_50k
                .as_ref()
                .map_or(0, |plan| plan.connections),
            idle_50k_title: settings
                .idle_50k
                .as_ref()
                .filter(|plan| plan.is_scaled())
                .map(Plan::title),
            burst: settings.burst,
        }),
    );
    let baseline = results.baseline_table();
    if !baseline.is_empty() {
        out.push_str(
            "\nwsmith against the baseline binary (WSBENCH_BASELINE), same run, medians:\n\n",
        );
        out.push_str(&baseline);
    }
    let cpu = results.cpu_table();
    if !cpu.is_empty() {
        out.push_str("\nCPU while measuring, in cores kept busy (1.00 = one core), medians:\n\n");
        out.push_str(&cpu);
    }
    out
}

/// `target/wsbench.md`, next to the `release/` folder this binary was built in.
fn markdown_path() -> PathBuf {
    env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("wsbench.md")))
        .unwrap_or_else(|| PathBuf::from("target/wsbench.md"))
}
