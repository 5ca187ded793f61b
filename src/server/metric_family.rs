//! One metric as `/metrics` and `/metrics.json` both write it: a [`Family`] (name, [`Type`],
//! help text) and its [`Sample`]s, each with labels and a [`Value`]. The counters
//! ([`metrics`](super::metrics)) produce them; [`exposition`](super::exposition) writes them out.

/// A metric's type, as `# TYPE` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    /// Only goes up (until the process restarts); its name ends in `_total`.
    Counter,
    /// Goes up and down: a figure now.
    Gauge,
    /// Observations counted into buckets by upper bound, with their sum and count.
    Histogram,
}

impl Type {
    /// The name `# TYPE` gives it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// A sample's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A count or a whole-number gauge.
    Int(i64),
    /// A histogram: per-bucket counts (not cumulative) for each upper bound in `bounds`, then
    /// one more for the observations above them all; and the sum of the observations.
    Histogram {
        /// Upper bounds, ascending.
        bounds: &'static [f64],
        /// `bounds.len() + 1` counts.
        counts: Vec<u64>,
        /// Sum of every observation.
        sum: f64,
    },
}

/// One sample of a family: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// Label names and values, in order.
    pub(crate) labels: Vec<(&'static str, String)>,
    /// The value.
    pub(crate) value: Value,
}

impl Sample {
    /// A sample without labels.
    pub(crate) fn plain(value: Value) -> Self {
        Self {
            labels: Vec::new(),
            value,
        }
    }

    /// A sample with `labels`.
    pub(crate) fn labelled(labels: &[(&'static str, &str)], value: Value) -> Self {
        Self {
            labels: labels
                .iter()
                .map(|&(name, value)| (name, value.to_owned()))
                .collect(),
            value,
        }
    }
}

/// One metric: its name, type, help text and samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    /// `wsmith_…`, with its unit and, for a counter, `_total`.
    pub(crate) name: &'static str,
    /// Its type.
    pub(crate) kind: Type,
    /// One sentence on what it counts.
    pub(crate) help: &'static str,
    /// Its samples (none yet is allowed: the family is still described).
    pub(crate) samples: Vec<Sample>,
}

impl Family {
    /// A family.
    pub(crate) fn new(
        name: &'static str,
        kind: Type,
        help: &'static str,
        samples: Vec<Sample>,
    ) -> Self {
        Self {
            name,
            kind,
            help,
            samples,
        }
    }
}
