//! `GET /metrics` in the Prometheus text exposition format (version 0.0.4), and `GET
//! /metrics.json`, the same families as JSON for the page's status tab: one list of
//! [`Family`] values ([`metric_family`](super::metric_family)) ([`Metrics::families`](super::metrics::Metrics::families)), two writers.
//!
//! The text format, written by hand (it is small, and a crate would pull in more than it
//! writes): per family a `# HELP` line (backslash and line feed escaped) and a `# TYPE` line,
//! then one line per sample, `name{label="value",…} value`, label values escaped (`\\`, `\"`,
//! `\n`). A histogram is written as its cumulative `name_bucket{le="…"}` counts, ending with
//! `le="+Inf"` (the count of all), then `name_sum` and `name_count`.
//!
//! ```text
//! # HELP wsmith_connections_open WebSocket connections open now, by the endpoint they upgraded at.
//! # TYPE wsmith_connections_open gauge
//! wsmith_connections_open{endpoint="echo"} 2
//! ```
//!
//! Both are answered to GET or HEAD (other methods: 405), never cached, after the request
//! rules of [`trust`](super::trust) (the `Host` check): like the page, they are for this
//! server's own names.

use std::fmt::Write as _;

use serde_json::{json, Map, Value as Json};

use super::metric_family::{Family, Value};
use super::metrics::{metrics, Live};
use super::shared::Shared;
use crate::protocol::http::{response, response_head};

/// The path Prometheus scrapes.
pub(crate) const METRICS: &str = "/metrics";
/// The JSON view of the same families, for the status tab.
pub(crate) const METRICS_JSON: &str = "/metrics.json";
/// The text format's content type (what Prometheus asks for in `Accept`).
pub(crate) const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The answer to a request for `path`, if it is `/metrics` or `/metrics.json`; `None` for any
/// other path.
pub(crate) fn answer(method: &str, path: &str, shared: &Shared) -> Option<Vec<u8>> {
    let (content_type, body) = match path {
        METRICS => (TEXT_CONTENT_TYPE, write_text(&families(shared))),
        METRICS_JSON => ("application/json", to_json(&families(shared)).to_string()),
        _ => return None,
    };
    let headers = [
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        ("Connection", "close"),
    ];
    Some(match method {
        "GET" => response(200, &headers, body.as_bytes()),
        "HEAD" => response_head(200, &headers, body.len()),
        _ => {
            // RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field".
            let mut headers = headers.to_vec();
            headers.push(("Allow", "GET, HEAD"));
            response(405, &headers, b"use GET\n")
        }
    })
}

/// This server's families now: the counters, and what is read from it live.
fn families(shared: &Shared) -> Vec<Family> {
    metrics().families(&Live {
        tcp_connections: shared.active_connections(),
        max_connections: shared.config.max_connections,
        hub_queue: shared.hub_queue_len(),
        threads: shared.pool.threads(),
        parked_threads: shared.pool.parked(),
        buffered_bytes: shared.buffered.held(),
        buffered_limit: shared.buffered.limit(),
        buffered_refused: shared.buffered.refused(),
    })
}

/// The families in the text exposition format 0.0.4.
pub(crate) fn write_text(families: &[Family]) -> String {
    let mut out = String::with_capacity(8 * 1024);
    for family in families {
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(family.help));
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
        for sample in &family.samples {
            match &sample.value {
                Value::Int(value) => {
                    write_line(&mut out, family.name, "", &sample.labels, None, value)
                }
                Value::Histogram {
                    bounds,
                    counts,
                    sum,
                } => {
                    let bucket = format!("{}_bucket", family.name);
                    let mut cumulative = 0u64;
                    let les = bounds.iter().map(|b| float(*b)).chain(["+Inf".into()]);
                    for (le, count) in les.zip(counts) {
                        cumulative = cumulative.saturating_add(*count);
                        let le = ("le", le);
                        write_line(&mut out, &bucket, "", &sample.labels, Some(le), cumulative);
                    }
                    let sum = float(*sum);
                    write_line(&mut out, family.name, "_sum", &sample.labels, None, sum);
                    write_line(
                        &mut out,
                        family.name,
                        "_count",
                        &sample.labels,
                        None,
                        cumulative,
                    );
                }
            }
        }
    }
    out
}

/// One sample line: `name{labels} value`.
fn write_line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&'static str, String)],
    extra: Option<(&str, String)>,
    value: impl std::fmt::Display,
) {
    let _ = write!(out, "{name}{suffix}");
    let extra = extra.iter().map(|(name, value)| (*name, value.as_str()));
    let mut all = labels
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .chain(extra)
        .peekable();
    if all.peek().is_some() {
        out.push('{');
        for (i, (name, value)) in all.enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{name}=\"{}\"", escape_label_value(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the format quotes it: `\` → `\\`, `"` → `\"`, line feed → `\n`.
pub(crate) fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text: `\` → `\\`, line feed → `\n` (quotes stay as they are).
pub(crate) fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A float as the format writes it: Go's `ParseFloat` syntax, `+Inf`, `-Inf`, `NaN`.
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}

/// The families as JSON: `{"name": {"type", "help", "samples": [{"labels", "value"}]}}`; a
/// histogram's sample has `buckets` (cumulative, `le` a number or `"+Inf"`), `sum` and `count`.
pub(crate) fn to_json(families: &[Family]) -> Json {
    let mut out = Map::new();
    for family in families {
        let samples: Vec<Json> = family
            .samples
            .iter()
            .map(|sample| {
                let labels: Map<String, Json> = sample
                    .labels
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), Json::from(value.as_str())))
                    .collect();
                match &sample.value {
                    Value::Int(value) => json!({"labels": labels, "value": value}),
                    Value::Histogram {
                        bounds,
                        counts,
                        sum,
                    } => {
                        let mut cumulative = 0u64;
                        let les = bounds.iter().map(|b| json!(b)).chain([json!("+Inf")]);
                        let buckets: Vec<Json> = les
                            .zip(counts)
                            .map(|(le, count)| {
                                cumulative = cumulative.saturating_add(*count);
                                json!({"le": le, "count": cumulative})
                            })
                            .collect();
                        json!({"labels": labels, "buckets": buckets, "sum": sum, "count": cumulative})
                    }
                }
            })
            .collect();
        out.insert(
            family.name.to_owned(),
            json!({"type": family.kind.as_str(), "help": family.help, "samples": samples}),
        );
    }
    Json::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::metric_family::{Sample, Type};

    const BOUNDS: [f64; 3] = [0.001, 0.5, 1.0];

    fn histogram() -> Family {
        Family::new(
            "test_duration_seconds",
            Type::Histogram,
            "A histogram.",
            vec![Sample::plain(Value::Histogram {
                bounds: &BOUNDS,
                counts: vec![2, 0, 3, 1],
                sum: 4.25,
            })],
        )
    }

    #[test]
    fn a_counter_is_written_with_help_type_and_labels() {
        let family = Family::new(
            "test_messages_total",
            Type::Counter,
            "Messages.",
            vec![
                Sample::labelled(&[("endpoint", "echo"), ("dir", "in")], Value::Int(3)),
                Sample::plain(Value::Int(0)),
            ],
        );
        assert_eq!(
            write_text(&[family]),
            "# HELP test_messages_total Messages.\n\
             # TYPE test_messages_total counter\n\
             test_messages_total{endpoint=\"echo\",dir=\"in\"} 3\n\
             test_messages_total 0\n"
        );
    }

    #[test]
    fn label_values_escape_backslash_quote_and_line_feed() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("line\nbreak"), "line\\nbreak");
        assert_eq!(escape_label_value("tab\tand ünïcode"), "tab\tand ünïcode");
        let family = Family::new(
            "test_gauge",
            Type::Gauge,
            "Help with \\ and\na line feed, \"quotes\" kept.",
            vec![Sample::labelled(&[("path", "C:\\\"x\"\n")], Value::Int(-1))],
        );
        let text = write_text(&[family]);
        assert!(
            text.starts_with(
                "# HELP test_gauge Help with \\\\ and\\na line feed, \"quotes\" kept.\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("test_gauge{path=\"C:\\\\\\\"x\\\"\\n\"} -1\n"),
            "{text}"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        assert_eq!(
            write_text(&[histogram()]),
            "# HELP test_duration_seconds A histogram.\n\
             # TYPE test_duration_seconds histogram\n\
             test_duration_seconds_bucket{le=\"0.001\"} 2\n\
             test_duration_seconds_bucket{le=\"0.5\"} 2\n\
             test_duration_seconds_bucket{le=\"1\"} 5\n\
             test_duration_seconds_bucket{le=\"+Inf\"} 6\n\
             test_duration_seconds_sum 4.25\n\
             test_duration_seconds_count 6\n"
        );
    }

    #[test]
    fn a_histogram_keeps_its_labels_before_le() {
        let mut family = histogram();
        family.samples[0].labels = vec![("command", "join".into())];
        let text = write_text(&[family]);
        assert!(text.contains("test_duration_seconds_bucket{command=\"join\",le=\"+Inf\"} 6\n"));
        assert!(text.contains("test_duration_seconds_sum{command=\"join\"} 4.25\n"));
    }

    #[test]
    fn special_floats_are_written_as_the_format_spells_them() {
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(0.000_005), "0.000005");
        assert_eq!(float(1.0), "1");
    }

    #[test]
    fn a_family_without_samples_is_still_described() {
        let family = Family::new("test_total", Type::Counter, "Nothing yet.", Vec::new());
        assert_eq!(
            write_text(&[family]),
            "# HELP test_total Nothing yet.\n# TYPE test_total counter\n"
        );
    }

    #[test]
    fn the_json_view_holds_the_same_values() {
        let counter = Family::new(
            "test_total",
            Type::Counter,
            "Count.",
            vec![Sample::labelled(&[("endpoint", "chat")], Value::Int(7))],
        );
        let json = to_json(&[counter, histogram()]);
        assert_eq!(json["test_total"]["type"], "counter");
        assert_eq!(
            json["test_total"]["samples"][0]["labels"]["endpoint"],
            "chat"
        );
        assert_eq!(json["test_total"]["samples"][0]["value"], 7);
        let histogram = &json["test_duration_seconds"]["samples"][0];
        assert_eq!(histogram["count"], 6);
        assert_eq!(histogram["sum"], 4.25);
        assert_eq!(histogram["buckets"][1], json!({"le": 0.5, "count": 2}));
        assert_eq!(histogram["buckets"][3], json!({"le": "+Inf", "count": 6}));
    }
}
