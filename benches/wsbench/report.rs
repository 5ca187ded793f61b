//! The results table: one row per figure, medians over the runs, each peer's figure, the best
//! peer of the row (the better of fastwebsockets and tungstenite, per row), the ratio
//! wsmith / best peer, the target from the issues and whether it was met. Printed, and written as Markdown to
//! `target/wsbench.md` for the README.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::procfs::CpuUse;
use crate::scenarios::Sample;
use crate::servers::Kind;
use crate::stats::median;

/// What a row's target asks.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// No target: shown for context.
    None,
    /// wsmith / best peer at least this.
    RatioAtLeast(f64),
    /// wsmith / best peer at most this.
    RatioAtMost(f64),
    /// wsmith's own value at most this.
    AtMost(f64),
    /// wsmith's own value exactly 0.
    Zero,
    /// wsmith's own value at least the count the scenario asked for.
    All(Count),
}

/// A count a scenario was asked to reach, known only at run time.
#[derive(Debug, Clone, Copy)]
pub enum Count {
    /// Connections of the idle scenario.
    Idle,
    /// Connections of the idle-50k scenario.
    Idle50k,
    /// Clients of the burst scenario.
    Burst,
}

/// The counts behind [`Count`], for this run.
#[derive(Debug, Clone)]
pub struct Counts {
    /// Connections of the idle scenario.
    pub idle: usize,
    /// Connections of the idle-50k scenario (fewer when it ran as idle-max).
    pub idle_50k: usize,
    /// When this machine's limits held fewer than 50,000: what idle-max ran and why
    /// ("idle-max: 17,000 connections (50,000 needs …)"), see `limits::Plan::title`.
    pub idle_50k_title: Option<String>,
    /// Clients of the burst scenario.
    pub burst: usize,
}

impl Counts {
    fn of(&self, count: Count) -> usize {
        match count {
            Count::Idle => self.idle,
            Count::Idle50k => self.idle_50k,
            Count::Burst => self.burst,
        }
    }

    /// A row's figure as the table shows it: the idle-50k rows are idle-max rows when the
    /// machine held fewer, and the row of the connections held says how many and why.
    fn figure(&self, row: &Row) -> String {
        match (&self.idle_50k_title, row.figure.strip_prefix("idle-50k")) {
            (Some(title), Some(rest)) if matches!(row.target, Target::All(Count::Idle50k)) => {
                format!("{title}{rest}")
            }
            (Some(_), Some(rest)) => format!("idle-max{rest}"),
            _ => row.figure.to_owned(),
        }
    }
}

/// Where a row's other columns come from.
#[derive(Debug, Clone, Copy)]
enum Second {
    /// The same figure, from each peer server.
    Peers,
    /// Another figure of the same wsmith run (memcpy next to unmasking).
    Figure(&'static str),
    /// Nothing.
    Nothing,
}

/// Which way a figure is better, to pick the best peer of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// One row of the table.
struct Row {
    figure: &'static str,
    key: &'static str,
    second: Second,
    over: Over,
    better: Better,
    target: Target,
}

/// How a row combines its runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// The median (figures of speed and size).
    Median,
    /// The sum (counts that must be 0).
    Sum,
    /// The smallest (what every run reached).
    Min,
    /// The largest (the worst run).
    Max,
}

/// A row where more is better (rates).
const fn up(figure: &'static str, key: &'static str, target: Target) -> Row {
    Row {
        figure,
        key,
        second: Second::Peers,
        over: Over::Median,
        better: Better::Higher,
        target,
    }
}

/// A row where less is better (latency, memory, CPU, losses).
const fn down(figure: &'static str, key: &'static str, target: Target) -> Row {
    Row {
        better: Better::Lower,
        ..up(figure, key, target)
    }
}

/// Every row, in order. `key`s are what the scenarios put in [`Sample::figures`]. Targets are
/// stated against the best peer of the row.
const ROWS: &[Row] = &[
    up(
        "echo-small: messages/s",
        "echo_small_rate",
        Target::RatioAtLeast(1.0),
    ),
    down(
        "echo-small: round trip p50 (µs)",
        "echo_small_p50",
        Target::None,
    ),
    down(
        "echo-small: round trip p99 (µs)",
        "echo_small_p99",
        Target::None,
    ),
    up(
        "echo-large 1 MiB: MB/s",
        "echo_large_1m",
        Target::RatioAtLeast(1.1),
    ),
    up(
        "echo-large 16 MiB: MB/s",
        "echo_large_16m",
        Target::RatioAtLeast(1.1),
    ),
    up(
        "broadcast 1000: deliveries/s",
        "broadcast_rate",
        Target::RatioAtLeast(1.25),
    ),
    down(
        "broadcast 1000: latency p50 (µs)",
        "broadcast_p50",
        Target::None,
    ),
    down(
        "broadcast 1000: latency p99 (µs)",
        "broadcast_p99",
        Target::RatioAtMost(1.0),
    ),
    down(
        "broadcast 1000: latency max (µs)",
        "broadcast_max",
        Target::None,
    ),
    down(
        "broadcast 1000: server CPU per delivery (ns)",
        "broadcast_cpu_ns",
        Target::None,
    ),
    up(
        "broadcast 1000: messages per receiver read (diagnostic)",
        "broadcast_per_read",
        Target::None,
    ),
    Row {
        over: Over::Sum,
        ..down(
            "broadcast 1000: lost, all runs (count)",
            "broadcast_lost",
            Target::Zero,
        )
    },
    up(
        "broadcast 250: deliveries/s",
        "broadcast250_rate",
        Target::RatioAtLeast(1.25),
    ),
    down(
        "broadcast 250: latency p99 (µs)",
        "broadcast250_p99",
        Target::RatioAtMost(1.0),
    ),
    down(
        "broadcast 250: server CPU per delivery (ns)",
        "broadcast250_cpu_ns",
        Target::None,
    ),
    up(
        "broadcast 250: messages per receiver read (diagnostic)",
        "broadcast250_per_read",
        Target::None,
    ),
    Row {
        over: Over::Sum,
        ..down(
            "broadcast 250: lost, all runs (count)",
            "broadcast250_lost",
            Target::Zero,
        )
    },
    up(
        "handshakes/s, 1 client thread",
        "handshakes_1",
        Target::RatioAtLeast(1.0),
    ),
    up(
        "handshakes/s, 4 client threads",
        "handshakes_4",
        Target::RatioAtLeast(1.0),
    ),
    Row {
        over: Over::Min,
        ..up(
            "idle: connections held (fewest of all runs)",
            "idle_connections",
            Target::All(Count::Idle),
        )
    },
    Row {
        over: Over::Sum,
        ..down(
            "idle: server process died (runs)",
            "idle_crashed",
            Target::Zero,
        )
    },
    down(
        "idle: RSS per connection held (KiB)",
        "idle_rss",
        Target::AtMost(12.0),
    ),
    down(
        "idle: kernel memory per connection (KiB)",
        "idle_kernel",
        Target::None,
    ),
    down(
        "idle: TCP buffers per connection (KiB)",
        "idle_tcp",
        Target::None,
    ),
    down("idle: threads per connection", "idle_threads", Target::None),
    Row {
        over: Over::Sum,
        ..down(
            "idle: connections that did not echo afterwards, all runs",
            "idle_silent",
            Target::Zero,
        )
    },
    Row {
        over: Over::Min,
        ..up(
            "idle-50k: connections held (fewest of all runs)",
            "idle50k_connections",
            Target::All(Count::Idle50k),
        )
    },
    Row {
        over: Over::Sum,
        ..down(
            "idle-50k: server process died (runs)",
            "idle50k_crashed",
            Target::Zero,
        )
    },
    down(
        "idle-50k: RSS per connection held (KiB)",
        "idle50k_rss",
        Target::AtMost(12.0),
    ),
    down(
        "idle-50k: kernel memory per connection (KiB)",
        "idle50k_kernel",
        Target::None,
    ),
    down(
        "idle-50k: threads per connection",
        "idle50k_threads",
        Target::None,
    ),
    Row {
        over: Over::Sum,
        ..down(
            "idle-50k: connections that did not echo afterwards, all runs",
            "idle50k_silent",
            Target::Zero,
        )
    },
    Row {
        over: Over::Min,
        ..up(
            "burst: clients upgraded (fewest of all runs)",
            "burst_upgraded",
            Target::All(Count::Burst),
        )
    },
    Row {
        over: Over::Max,
        ..down(
            "burst: slowest connect → 101 (ms, worst run)",
            "burst_slowest_ms",
            Target::AtMost(1000.0),
        )
    },
    down(
        "burst: median connect → 101 (ms)",
        "burst_p50_ms",
        Target::None,
    ),
    Row {
        over: Over::Sum,
        ..down(
            "burst: clients that waited ≥ 1 s (a SYN retry), all runs",
            "burst_retried",
            Target::Zero,
        )
    },
    Row {
        over: Over::Sum,
        ..down(
            "burst: kernel ListenDrops (SYNs dropped), all runs (machine-wide)",
            "burst_overflows",
            Target::Zero,
        )
    },
    Row {
        over: Over::Sum,
        ..down(
            "burst: kernel TCPSynRetrans, all runs (machine-wide)",
            "burst_syn_retrans",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("memcpy_64k"),
        ..up(
            "unmask 64 KiB: GB/s (2nd column: memcpy)",
            "unmask_64k",
            Target::RatioAtLeast(0.5),
        )
    },
    Row {
        second: Second::Figure("memcpy_16m"),
        ..up(
            "unmask 16 MiB: GB/s (2nd column: memcpy)",
            "unmask_16m",
            Target::RatioAtLeast(0.5),
        )
    },
    Row {
        second: Second::Figure("memcpy_64k"),
        ..up(
            "byte-loop reference 64 KiB: GB/s (vs memcpy)",
            "bytewise_64k",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("deflate_off_rate"),
        ..up(
            "deflate-broadcast 250, ~400-byte chat JSON: deliveries/s (2nd column: --deflate off)",
            "deflate_rate",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("deflate_off_wire"),
        ..down(
            "deflate-broadcast: bytes on the wire per delivered message (2nd column: --deflate off)",
            "deflate_wire",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("deflate_off_cpu_ns"),
        ..down(
            "deflate-broadcast: server CPU ns per delivery (2nd column: --deflate off)",
            "deflate_cpu_ns",
            Target::None,
        )
    },
    Row {
        second: Second::Nothing,
        ..down(
            "tap check, nobody watching: ns per `Tap::is_active()` call from the bench",
            "tap_check_ns",
            Target::None,
        )
    },
    Row {
        second: Second::Nothing,
        ..down(
            "tap check inlined, as in wsmith (relaxed load + branch): ns per check",
            "tap_check_inlined_ns",
            Target::None,
        )
    },
    Row {
        second: Second::Nothing,
        ..down(
            "tap check: % of wsmith's CPU per echo-small message, at most (2 calls)",
            "tap_check_share",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("tap_unwatched_rate"),
        ..up(
            "tap, echo-small with 1 of 64 watched: messages/s (2nd column: nobody watching)",
            "tap_watched_rate",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("tap_unwatched_conn_rate"),
        ..up(
            "tap, the watched connection alone: messages/s (2nd column: unwatched)",
            "tap_watched_conn_rate",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("tap_frames"),
        ..up(
            "tap, frame events the inspector received/s (2nd column: frames tapped)",
            "tap_events",
            Target::None,
        )
    },
];

/// Every run's figures and CPU, by server.
#[derive(Debug, Default)]
pub struct Results {
    figures: HashMap<(Kind, &'static str), Vec<f64>>,
    cpu: Vec<(&'static str, Kind, Vec<CpuUse>)>,
}

impl Results {
    /// Files one run's sample under `kind`.
    pub fn add(&mut self, kind: Kind, sample: Sample) {
        for (key, value) in sample.figures {
            self.figures.entry((kind, key)).or_default().push(value);
        }
        for (label, cpu) in sample.cpu {
            match self
                .cpu
                .iter_mut()
                .find(|(l, k, _)| *l == label && *k == kind)
            {
                Some((_, _, runs)) => runs.push(cpu),
                None => self.cpu.push((label, kind, vec![cpu])),
            }
        }
    }

    /// A figure over its runs; runs where it could not be read (NaN) are left out.
    fn value(&self, kind: Kind, key: &str, over: Over) -> Option<f64> {
        let values: Vec<f64> = self
            .figures
            .get(&(kind, key))?
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        Some(match over {
            Over::Median => median(&values),
            Over::Sum => values.iter().sum(),
            Over::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Over::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }

    /// How many runs a figure has (to say "median of N").
    fn runs(&self, key: &str) -> usize {
        self.figures.get(&(Kind::Wsmith, key)).map_or(0, Vec::len)
    }

    /// The figures tables in Markdown: wsmith against both peers, then wsmith alone.
    pub fn table(&self, counts: &Counts) -> String {
        let mut out = String::new();
        out.push_str(
            "| figure | wsmith | fastwebsockets | tungstenite | best peer | wsmith / best | target | met? |\n",
        );
        out.push_str("|---|---:|---:|---:|---|---:|---|---|\n");
        let mut alone = String::new();
        for row in ROWS {
            let runs = self.runs(row.key);
            if runs == 0 {
                continue; // scenario not selected, or every run of it failed (listed above)
            }
            let wsmith = self.value(Kind::Wsmith, row.key, row.over);
            let figure = if runs > 1 && row.over == Over::Median {
                format!("{} [median of {runs}]", counts.figure(row))
            } else {
                counts.figure(row)
            };
            let ratio_of = |w: Option<f64>, p: Option<f64>| match (w, p) {
                (Some(w), Some(p)) if p != 0.0 && row.over == Over::Median => Some(w / p),
                _ => None,
            };
            let show_ratio = |r: Option<f64>| r.map_or("—".into(), |r| format!("{r:.2}×"));
            match row.second {
                Second::Peers => {
                    let peers = Kind::PEERS.map(|kind| (kind, self.value(kind, row.key, row.over)));
                    let best = self.best_peer(row, &peers);
                    let ratio = ratio_of(wsmith, best.and_then(|(_, value)| value));
                    let (target, met) = judge(row.target, wsmith, ratio, counts);
                    let _ = writeln!(
                        out,
                        "| {figure} | {} | {} | {} | {} | {} | {target} | {met} |",
                        number(wsmith),
                        number(peers[0].1),
                        number(peers[1].1),
                        best.map_or("—", |(kind, _)| kind.name()),
                        show_ratio(ratio),
                    );
                }
                Second::Figure(key) => {
                    let second = self.value(Kind::Wsmith, key, row.over);
                    let ratio = ratio_of(wsmith, second);
                    let (target, met) = judge(row.target, wsmith, ratio, counts);
                    let _ = writeln!(
                        alone,
                        "| {figure} | {} | {} | {} | {target} | {met} |",
                        number(wsmith),
                        number(second),
                        show_ratio(ratio),
                    );
                }
                Second::Nothing => {
                    let (target, met) = judge(row.target, wsmith, None, counts);
                    let _ = writeln!(
                        alone,
                        "| {figure} | {} | — | — | {target} | {met} |",
                        number(wsmith),
                    );
                }
            }
        }
        if !alone.is_empty() {
            out.push_str("\nwsmith alone (no peer has these):\n\n");
            out.push_str("| figure | wsmith | 2nd column | ratio | target | met? |\n");
            out.push_str("|---|---:|---:|---:|---|---|\n");
            out.push_str(&alone);
        }
        out
    }

    /// Every figure of wsmith beside the same figure of the baseline binary, with their ratio
    /// (empty when no baseline ran).
    pub fn baseline_table(&self) -> String {
        let mut out = String::new();
        for row in ROWS {
            let (Some(new), Some(old)) = (
                self.value(Kind::Wsmith, row.key, row.over),
                self.value(Kind::Baseline, row.key, row.over),
            ) else {
                continue;
            };
            let ratio = if old != 0.0 {
                format!("{:.2}×", new / old)
            } else {
                "—".into()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {ratio} |",
                row.figure,
                number(Some(new)),
                number(Some(old))
            );
        }
        if out.is_empty() {
            return out;
        }
        format!("| figure | wsmith | baseline | wsmith / baseline |\n|---|---:|---:|---:|\n{out}")
    }

    /// The better of the peers that have the figure; `None` for counts (sums, minimums,
    /// maximums), where no ratio is taken.
    fn best_peer(
        &self,
        row: &Row,
        peers: &[(Kind, Option<f64>); 2],
    ) -> Option<(Kind, Option<f64>)> {
        if row.over != Over::Median {
            return None;
        }
        peers
            .iter()
            .filter(|(_, value)| value.is_some())
            .copied()
            .reduce(|a, b| {
                let (x, y) = (a.1.unwrap_or(f64::NAN), b.1.unwrap_or(f64::NAN));
                let b_better = match row.better {
                    Better::Higher => y > x,
                    Better::Lower => y < x,
                };
                if b_better {
                    b
                } else {
                    a
                }
            })
    }

    /// The CPU table in Markdown: cores kept busy while measuring, medians.
    pub fn cpu_table(&self) -> String {
        let mut out = String::new();
        if self.cpu.is_empty() {
            return out;
        }
        out.push_str("| scenario |");
        for kind in [Kind::Wsmith, Kind::Fast, Kind::Tungstenite] {
            let _ = write!(out, " {} server | client |", kind.name());
        }
        out.push_str("\n|---|---:|---:|---:|---:|---:|---:|\n");
        let mut labels: Vec<&str> = Vec::new();
        for (label, _, _) in &self.cpu {
            if !labels.contains(label) {
                labels.push(label);
            }
        }
        for label in labels {
            let cores = |kind: Kind| {
                self.cpu
                    .iter()
                    .find(|(l, k, _)| *l == label && *k == kind)
                    .map(|(_, _, runs)| {
                        let server: Vec<f64> = runs.iter().map(CpuUse::server_cores).collect();
                        let client: Vec<f64> = runs.iter().map(CpuUse::client_cores).collect();
                        (median(&server), median(&client))
                    })
            };
            let _ = write!(out, "| {label} |");
            for kind in [Kind::Wsmith, Kind::Fast, Kind::Tungstenite] {
                match cores(kind) {
                    Some((server, client)) => {
                        let _ = write!(out, " {server:.2} | {client:.2} |");
                    }
                    None => out.push_str(" — | — |"),
                }
            }
            out.push('\n');
        }
        out
    }
}

/// The target as text, and whether it was met.
fn judge(
    target: Target,
    wsmith: Option<f64>,
    ratio: Option<f64>,
    counts: &Counts,
) -> (String, &'static str) {
    let verdict = |met: Option<bool>| match met {
        Some(true) => "yes",
        Some(false) => "**NO**",
        None => "?",
    };
    match target {
        Target::None => ("—".into(), "—"),
        Target::RatioAtLeast(x) => (format!("≥ {x}×"), verdict(ratio.map(|r| r >= x))),
        Target::RatioAtMost(x) => (format!("≤ {x}×"), verdict(ratio.map(|r| r <= x))),
        Target::AtMost(x) => (format!("≤ {x}"), verdict(wsmith.map(|w| w <= x))),
        Target::Zero => ("0".into(), verdict(wsmith.map(|w| w == 0.0))),
        Target::All(count) => {
            let count = counts.of(count);
            (
                format!("{count}"),
                verdict(wsmith.map(|w| w >= count as f64)),
            )
        }
    }
}

/// A figure for the table: thousands separated when large, "—" when missing.
fn number(value: Option<f64>) -> String {
    match value {
        None => "—".into(),
        Some(v) if v.is_nan() => "—".into(),
        Some(v) if v.abs() >= 1000.0 => {
            let digits = format!("{:.0}", v.abs());
            let mut grouped = String::new();
            for (i, digit) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(digit);
            }
            if v < 0.0 {
                format!("-{grouped}")
            } else {
                grouped
            }
        }
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}
