//! The results table: one row per figure, medians over the runs, the ratio wsmith/peer, the
//! target from the issue and whether it was met. Printed, and written as Markdown to
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
    /// wsmith/peer at least this.
    RatioAtLeast(f64),
    /// wsmith/peer at most this.
    RatioAtMost(f64),
    /// wsmith's own value at most this.
    AtMost(f64),
    /// wsmith's own value exactly 0.
    Zero,
    /// wsmith's own value at least the idle scenario's connection count.
    AllIdle,
}

/// Where a row's second column comes from.
#[derive(Debug, Clone, Copy)]
enum Second {
    /// The same figure, from the peer server.
    Peer,
    /// Another figure of the same run (memcpy next to unmasking).
    Figure(&'static str),
    /// Nothing.
    Nothing,
}

/// One row of the table.
struct Row {
    figure: &'static str,
    key: &'static str,
    second: Second,
    over: Over,
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
}

const fn row(figure: &'static str, key: &'static str, target: Target) -> Row {
    Row {
        figure,
        key,
        second: Second::Peer,
        over: Over::Median,
        target,
    }
}

/// Every row, in order. `key`s are what the scenarios put in [`Sample::figures`].
const ROWS: &[Row] = &[
    row(
        "echo-small: messages/s",
        "echo_small_rate",
        Target::RatioAtLeast(1.5),
    ),
    row(
        "echo-small: round trip p50 (µs)",
        "echo_small_p50",
        Target::None,
    ),
    row(
        "echo-small: round trip p99 (µs)",
        "echo_small_p99",
        Target::RatioAtMost(0.5),
    ),
    row(
        "echo-large 1 MiB: MB/s",
        "echo_large_1m",
        Target::RatioAtLeast(1.5),
    ),
    row(
        "echo-large 16 MiB: MB/s",
        "echo_large_16m",
        Target::RatioAtLeast(1.5),
    ),
    row(
        "broadcast: deliveries/s",
        "broadcast_rate",
        Target::RatioAtLeast(2.5),
    ),
    row("broadcast: latency p50 (µs)", "broadcast_p50", Target::None),
    row(
        "broadcast: latency p99 (µs)",
        "broadcast_p99",
        Target::RatioAtMost(0.5),
    ),
    row("broadcast: latency max (µs)", "broadcast_max", Target::None),
    Row {
        over: Over::Sum,
        ..row(
            "broadcast: lost, all runs (count)",
            "broadcast_lost",
            Target::Zero,
        )
    },
    row(
        "handshakes/s, 1 client thread",
        "handshakes_1",
        Target::None,
    ),
    row(
        "handshakes/s, 4 client threads",
        "handshakes_4",
        Target::RatioAtLeast(1.2),
    ),
    Row {
        over: Over::Min,
        ..row(
            "idle: connections held (fewest of all runs)",
            "idle_connections",
            Target::AllIdle,
        )
    },
    Row {
        over: Over::Sum,
        ..row(
            "idle: server process died (runs)",
            "idle_crashed",
            Target::Zero,
        )
    },
    row(
        "idle: RSS per connection held (KiB)",
        "idle_rss",
        Target::AtMost(16.0),
    ),
    row(
        "idle: kernel memory per connection (KiB)",
        "idle_kernel",
        Target::None,
    ),
    row(
        "idle: TCP buffers per connection (KiB)",
        "idle_tcp",
        Target::None,
    ),
    row("idle: threads per connection", "idle_threads", Target::None),
    Row {
        second: Second::Figure("memcpy_64k"),
        ..row(
            "unmask 64 KiB: GB/s (2nd column: memcpy)",
            "unmask_64k",
            Target::RatioAtLeast(0.5),
        )
    },
    Row {
        second: Second::Figure("memcpy_16m"),
        ..row(
            "unmask 16 MiB: GB/s (2nd column: memcpy)",
            "unmask_16m",
            Target::RatioAtLeast(0.5),
        )
    },
    Row {
        second: Second::Figure("memcpy_64k"),
        ..row(
            "byte-loop reference 64 KiB: GB/s (vs memcpy)",
            "bytewise_64k",
            Target::None,
        )
    },
    Row {
        second: Second::Nothing,
        ..row(
            "tap check, nobody watching: ns per `Tap::is_active()` call from the bench",
            "tap_check_ns",
            Target::None,
        )
    },
    Row {
        second: Second::Nothing,
        ..row(
            "tap check inlined, as in wsmith (relaxed load + branch): ns per check",
            "tap_check_inlined_ns",
            Target::None,
        )
    },
    Row {
        second: Second::Nothing,
        ..row(
            "tap check: % of wsmith's CPU per echo-small message, at most (2 calls)",
            "tap_check_share",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("tap_unwatched_rate"),
        ..row(
            "tap, echo-small with 1 of 64 watched: messages/s (2nd column: nobody watching)",
            "tap_watched_rate",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("tap_unwatched_conn_rate"),
        ..row(
            "tap, the watched connection alone: messages/s (2nd column: unwatched)",
            "tap_watched_conn_rate",
            Target::None,
        )
    },
    Row {
        second: Second::Figure("tap_frames"),
        ..row(
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
        })
    }

    /// How many runs a figure has (to say "median of N").
    fn runs(&self, key: &str) -> usize {
        self.figures.get(&(Kind::Wsmith, key)).map_or(0, Vec::len)
    }

    /// The figures table in Markdown.
    pub fn table(&self, idle_connections: usize) -> String {
        let mut out = String::new();
        out.push_str("| figure | wsmith | peer | ratio | target | met? |\n");
        out.push_str("|---|---:|---:|---:|---|---|\n");
        for row in ROWS {
            let runs = self.runs(row.key);
            if runs == 0 {
                continue; // scenario not selected, or every run of it failed (listed above)
            }
            let wsmith = self.value(Kind::Wsmith, row.key, row.over);
            let second = match row.second {
                Second::Peer => self.value(Kind::Peer, row.key, row.over),
                Second::Figure(key) => self.value(Kind::Wsmith, key, row.over),
                Second::Nothing => None,
            };
            let ratio = match (wsmith, second) {
                (Some(w), Some(p)) if p != 0.0 && row.over == Over::Median => Some(w / p),
                _ => None,
            };
            let (target, met) = judge(row.target, wsmith, ratio, idle_connections);
            let figure = if runs > 1 && row.over == Over::Median {
                format!("{} [median of {runs}]", row.figure)
            } else {
                row.figure.to_owned()
            };
            let _ = writeln!(
                out,
                "| {figure} | {} | {} | {} | {target} | {met} |",
                number(wsmith),
                number(second),
                ratio.map_or("—".into(), |r| format!("{r:.2}×")),
            );
        }
        out
    }

    /// The CPU table in Markdown: cores kept busy while measuring, medians.
    pub fn cpu_table(&self) -> String {
        let mut out = String::new();
        if self.cpu.is_empty() {
            return out;
        }
        out.push_str(
            "| scenario | wsmith server | client (vs wsmith) | peer server | client (vs peer) |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|\n");
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
            let show = |value: Option<(f64, f64)>| match value {
                Some((server, client)) => (format!("{server:.2}"), format!("{client:.2}")),
                None => ("—".into(), "—".into()),
            };
            let (ws, wc) = show(cores(Kind::Wsmith));
            let (ps, pc) = show(cores(Kind::Peer));
            let _ = writeln!(out, "| {label} | {ws} | {wc} | {ps} | {pc} |");
        }
        out
    }
}

/// The target as text, and whether it was met.
fn judge(
    target: Target,
    wsmith: Option<f64>,
    ratio: Option<f64>,
    idle_connections: usize,
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
        Target::AllIdle => (
            format!("{idle_connections}"),
            verdict(wsmith.map(|w| w >= idle_connections as f64)),
        ),
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
