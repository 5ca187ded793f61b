//! The metrics as [`Family`]s, each with its name, type, help and samples: what
//! [`exposition`](crate::server::exposition) writes as `/metrics` and `/metrics.json`, in this
//! order. Adding a metric: a field in [`Metrics`], a counting point, and one family here.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{
    Budget, EndpointCounters, Live, Metrics, RateLimit, Refusal, CLOSED_BY, CLOSE_CODES,
    HANDSHAKE_STATUSES, HUB_BUCKETS_S,
};
use crate::app::NAMES;
use crate::server::close_record::ClosedBy;
use crate::server::metric_family::{Family, Sample, Type, Value};

impl Metrics {
    /// Every metric as its family: what `/metrics` and `/metrics.json` write, in this order.
    pub(crate) fn families(&self, live: &Live) -> Vec<Family> {
        let per_endpoint = |field: fn(&EndpointCounters) -> i64| -> Vec<Sample> {
            self.endpoints
                .iter()
                .zip(NAMES)
                .map(|(counters, name)| {
                    Sample::labelled(&[("endpoint", name)], Value::Int(field(counters)))
                })
                .collect()
        };
        let load = |counter: &AtomicU64| i64::try_from(counter.load(Relaxed)).unwrap_or(i64::MAX);
        let int = |value: usize| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
        vec![
            Family::new(
                "wsmith_start_time_seconds",
                Type::Gauge,
                "When the server started, in seconds since the Unix epoch.",
                vec![Sample::plain(Value::Int(load(&self.started)))],
            ),
            Family::new(
                "wsmith_connections_open",
                Type::Gauge,
                "WebSocket connections open now, by the endpoint they upgraded at.",
                per_endpoint(|c| c.open.load(Relaxed).max(0)),
            ),
            Family::new(
                "wsmith_tcp_connections",
                Type::Gauge,
                "TCP connections being served now (HTTP requests and WebSockets), counted against --max-connections.",
                vec![Sample::plain(int(live.tcp_connections))],
            ),
            Family::new(
                "wsmith_max_connections",
                Type::Gauge,
                "The --max-connections limit (lowered to what the kernel's limits allow).",
                vec![Sample::plain(int(live.max_connections))],
            ),
            Family::new(
                "wsmith_connections_accepted_total",
                Type::Counter,
                "TCP connections taken from the listen queue, refused ones included.",
                vec![Sample::plain(Value::Int(load(&self.accepted)))],
            ),
            Family::new(
                "wsmith_connections_refused_total",
                Type::Counter,
                "TCP connections the listener refused, by reason: --max-connections reached, the thread budget spent, --max-heads-per-address or --max-connections-per-address reached (all answered 503), or a thread that could not start.",
                Refusal::ALL
                    .iter()
                    .map(|&why| {
                        let value = load(&self.refused[why as usize]);
                        Sample::labelled(&[("reason", why.as_str())], Value::Int(value))
                    })
                    .collect(),
            ),
            Family::new(
                "wsmith_upgrades_total",
                Type::Counter,
                "Opening handshakes accepted (101 Switching Protocols), by endpoint.",
                per_endpoint(|c| i64::try_from(c.upgrades.load(Relaxed)).unwrap_or(i64::MAX)),
            ),
            Family::new(
                "wsmith_handshake_failures_total",
                Type::Counter,
                "Upgrade requests (or request heads) refused, by HTTP status; a status appears once counted.",
                sparse(
                    HANDSHAKE_STATUSES
                        .iter()
                        .map(u16::to_string)
                        .chain(["other".to_owned()])
                        .zip(&self.handshake_failures)
                        .map(|(status, counter)| (vec![("status", status)], load(counter))),
                ),
            ),
            Family::new(
                "wsmith_messages_received_total",
                Type::Counter,
                "Whole messages read from clients (after their last fragment), by endpoint.",
                per_endpoint(|c| i64::try_from(c.messages_received.load(Relaxed)).unwrap_or(i64::MAX)),
            ),
            Family::new(
                "wsmith_messages_sent_total",
                Type::Counter,
                "Whole data messages written to clients, by endpoint: one broadcast to n clients is n.",
                per_endpoint(|c| i64::try_from(c.messages_sent.load(Relaxed)).unwrap_or(i64::MAX)),
            ),
            Family::new(
                "wsmith_received_bytes_total",
                Type::Counter,
                "Bytes read from WebSocket clients after the handshake (frame headers, masks, payloads), by endpoint.",
                per_endpoint(|c| i64::try_from(c.bytes_received.load(Relaxed)).unwrap_or(i64::MAX)),
            ),
            Family::new(
                "wsmith_sent_bytes_total",
                Type::Counter,
                "Bytes written to WebSocket clients after the handshake (frames as on the wire, compressed if so), by endpoint.",
                per_endpoint(|c| i64::try_from(c.bytes_sent.load(Relaxed)).unwrap_or(i64::MAX)),
            ),
            Family::new(
                "wsmith_closes_total",
                Type::Counter,
                "Connections ended, by who sent the first Close (network: none was exchanged) and its code (1006: no Close frame); a pair appears once counted.",
                sparse(CLOSED_BY.iter().zip(&self.closes).flat_map(|(by, codes)| {
                    codes.iter().enumerate().map(move |(slot, counter)| {
                        let labels = vec![("by", closed_by(*by).to_owned()), ("code", slot_label(slot))];
                        (labels, load(counter))
                    })
                })),
            ),
            Family::new(
                "wsmith_slow_consumer_drops_total",
                Type::Counter,
                "Clients closed with 1008 because their outbox went over --max-backlog or --max-backlog-bytes.",
                [("max_backlog", 0), ("max_backlog_bytes", 1)]
                    .iter()
                    .map(|&(limit, slot)| {
                        let value = load(&self.slow_consumers[slot]);
                        Sample::labelled(&[("limit", limit)], Value::Int(value))
                    })
                    .collect(),
            ),
            Family::new(
                "wsmith_connection_resets_total",
                Type::Counter,
                "Connections reset (SO_LINGER 0, an RST) because their last bytes could not be delivered within --write-timeout or --close-timeout: the kernel frees their send queue at once.",
                vec![Sample::plain(Value::Int(load(&self.resets)))],
            ),
            Family::new(
                "wsmith_relays_refused_total",
                Type::Counter,
                "Senders closed with 1009 because a message to relay (/broadcast) was over half of --max-backlog-bytes: it would have made its receivers slow consumers.",
                vec![Sample::plain(Value::Int(load(&self.relays_refused)))],
            ),
            Family::new(
                "wsmith_rate_limit_closes_total",
                Type::Counter,
                "Clients closed with 1008 for going over a per-connection rate: --rate-limit (chat) or --max-control-rate (Ping/Pong).",
                RateLimit::ALL
                    .iter()
                    .map(|&limit| {
                        let value = load(&self.rate_limit_closes[limit as usize]);
                        Sample::labelled(&[("limit", limit.as_str())], Value::Int(value))
                    })
                    .collect(),
            ),
            Family::new(
                "wsmith_budget_refusals_total",
                Type::Counter,
                "Requests refused by a budget that keeps one client's work its own: a Join the full hub queue could not take (503), a publish to an unknown channel (404), a watcher over --max-watchers.",
                Budget::ALL
                    .iter()
                    .map(|&budget| {
                        let value = load(&self.budget_refusals[budget as usize]);
                        Sample::labelled(&[("budget", budget.as_str())], Value::Int(value))
                    })
                    .collect(),
            ),
            Family::new(
                "wsmith_outbox_bytes",
                Type::Gauge,
                "Bytes queued in every client's outbox or being written now.",
                vec![Sample::plain(Value::Int(self.outbox_bytes.load(Relaxed).max(0)))],
            ),
            Family::new(
                "wsmith_buffered_message_bytes",
                Type::Gauge,
                "Bytes the incomplete messages of every client hold now (inflated bytes included), counted against --max-buffered-bytes.",
                vec![Sample::plain(Value::Int(live_int(live.buffered_bytes)))],
            ),
            Family::new(
                "wsmith_max_buffered_bytes",
                Type::Gauge,
                "The --max-buffered-bytes budget of incomplete messages.",
                vec![Sample::plain(Value::Int(live_int(live.buffered_limit)))],
            ),
            Family::new(
                "wsmith_buffered_budget_refusals_total",
                Type::Counter,
                "Clients closed 1013 because their message would have taken --max-buffered-bytes over its limit.",
                vec![Sample::plain(Value::Int(live_int(live.buffered_refused)))],
            ),
            Family::new(
                "wsmith_hub_queue_depth",
                Type::Gauge,
                "Commands waiting for the hub thread.",
                vec![Sample::plain(int(live.hub_queue))],
            ),
            Family::new(
                "wsmith_hub_command_duration_seconds",
                Type::Histogram,
                "Time the hub thread spent on one command, its fan-out included (a broadcast sweep's chunk counts in the command it follows; chunks written while no command came are not timed).",
                vec![Sample::plain(Value::Histogram {
                    bounds: &HUB_BUCKETS_S,
                    counts: self.hub_buckets.iter().map(|b| b.load(Relaxed)).collect(),
                    sum: self.hub_sum_ns.load(Relaxed) as f64 / 1e9,
                })],
            ),
            Family::new(
                "wsmith_threads",
                Type::Gauge,
                "Connection and writer threads of the pool: busy (serving a connection or writing) or parked (waiting to be reused).",
                vec![
                    Sample::labelled(&[("state", "busy")], int(live.threads.saturating_sub(live.parked_threads))),
                    Sample::labelled(&[("state", "parked")], int(live.parked_threads)),
                ],
            ),
            Family::new(
                "wsmith_log_lines_dropped_total",
                Type::Counter,
                "Log lines not written: the log thread's queue was full (stderr too slow) or stderr refused them (a closed pipe).",
                vec![Sample::plain(Value::Int(load(&self.log_lines_dropped)))],
            ),
            Family::new(
                "wsmith_publish_expired_total",
                Type::Counter,
                "POST /publish commands the hub reached after their deadline: answered 503, never delivered.",
                vec![Sample::plain(Value::Int(load(&self.publish_expired)))],
            ),
        ]
    }
}

/// A figure read when scraped, as a sample's integer.
fn live_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The samples whose count is not zero: for label sets that are many and mostly unused.
fn sparse(counts: impl Iterator<Item = (Vec<(&'static str, String)>, i64)>) -> Vec<Sample> {
    counts
        .filter(|(_, count)| *count > 0)
        .map(|(labels, count)| Sample {
            labels,
            value: Value::Int(count),
        })
        .collect()
}

/// The `code` label of a slot.
fn slot_label(slot: usize) -> String {
    match slot {
        s if s < CLOSE_CODES => (1000 + s).to_string(),
        s if s == CLOSE_CODES => "3xxx".into(),
        s if s == CLOSE_CODES + 1 => "4xxx".into(),
        _ => "other".into(),
    }
}

fn closed_by(by: ClosedBy) -> &'static str {
    match by {
        ClosedBy::Client => "client",
        ClosedBy::Server => "server",
        ClosedBy::Network => "network",
    }
}
