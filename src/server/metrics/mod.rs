//! The process's counters, for `GET /metrics` and `GET /metrics.json`
//! ([`exposition`](super::exposition) writes them out).
//!
//! Every figure is a process-wide atomic in one static [`Metrics`], added to with
//! `Ordering::Relaxed`: a count needs no ordering with anything else, only its own total. A
//! counting point on a hot path (a read, a whole message, a write) is one relaxed `fetch_add`
//! on a counter its thread already holds a `&'static` to: no lock, no allocation, no lookup.
//! Per-endpoint counters are a fixed array indexed by [`Endpoint::index`] (the apps' own list of
//! endpoints, [`NAMES`]), each endpoint's on a
//! cache line of its own, so readers of `/echo` and writers of `/broadcast` do not contend.
//!
//! Figures that already exist elsewhere (open TCP connections, the hub's queue, the pool's
//! threads) are not counted twice: they are read when scraped ([`Live`]).
//!
//! **Adding a metric:** a field here, a counting point where it happens, and one
//! [`Family`](super::metric_family::Family) in `families.rs`; the text format, the JSON view, the status tab's raw
//! table and docs/operating.md's table follow from that list.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::close_record::ClosedBy;
use crate::app::{Endpoint, NAMES};
use crate::protocol::CloseCode;

mod families;

/// What is read from the running server when it is scraped, not counted here.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Live {
    /// TCP connections being served.
    pub(crate) tcp_connections: usize,
    /// `--max-connections` as in effect.
    pub(crate) max_connections: usize,
    /// Commands waiting in the hub's channel.
    pub(crate) hub_queue: usize,
    /// Pool threads alive, parked or busy.
    pub(crate) threads: usize,
    /// Pool threads parked.
    pub(crate) parked_threads: usize,
    /// Bytes the incomplete messages of every connection hold now (`--max-buffered-bytes`).
    pub(crate) buffered_bytes: u64,
    /// `--max-buffered-bytes`.
    pub(crate) buffered_limit: u64,
    /// Connections closed 1013 because their message would take the budget over its limit.
    pub(crate) buffered_refused: u64,
}

/// The one registry of this process.
static METRICS: Metrics = Metrics::new();

/// The process's counters.
pub(crate) fn metrics() -> &'static Metrics {
    &METRICS
}

/// The counters of the endpoint a connection upgraded at: what its reader and writer count on.
pub(crate) fn endpoint(endpoint: &Endpoint) -> &'static EndpointCounters {
    METRICS.endpoint(endpoint.index())
}

/// One endpoint's counters, on a cache line of their own.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct EndpointCounters {
    open: AtomicI64,
    upgrades: AtomicU64,
    messages_received: AtomicU64,
    bytes_received: AtomicU64,
    messages_sent: AtomicU64,
    bytes_sent: AtomicU64,
}

impl EndpointCounters {
    const fn new() -> Self {
        Self {
            open: AtomicI64::new(0),
            upgrades: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            messages_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
        }
    }

    /// A connection upgraded here: counted open until the guard is dropped (even by a panic).
    pub(crate) fn open(&'static self) -> Open {
        self.upgrades.fetch_add(1, Relaxed);
        self.open.fetch_add(1, Relaxed);
        Open(self)
    }

    /// The reader got `bytes` from the socket (frames after the handshake).
    pub(crate) fn received_bytes(&self, bytes: usize) {
        self.bytes_received.fetch_add(bytes as u64, Relaxed);
    }

    /// The reader has a whole message (§5.4: after its last fragment).
    pub(crate) fn received_message(&self) {
        self.messages_received.fetch_add(1, Relaxed);
    }

    /// `bytes` of frames went into the socket.
    pub(crate) fn sent_bytes(&self, bytes: usize) {
        self.bytes_sent.fetch_add(bytes as u64, Relaxed);
    }

    /// `messages` data messages were written whole.
    pub(crate) fn sent_messages(&self, messages: usize) {
        self.messages_sent.fetch_add(messages as u64, Relaxed);
    }
}

/// A connection counted in [`EndpointCounters`]' open gauge while it lives.
#[derive(Debug)]
pub(crate) struct Open(&'static EndpointCounters);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}

/// Why the listener refused a connection (answered `503` without a thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `--max-connections` connections were open.
    MaxConnections,
    /// No thread was parked and the thread budget (`vm.max_map_count`) was spent.
    ThreadBudget,
    /// The operating system refused a new thread.
    ThreadStart,
    /// `--max-heads-per-address` request heads were still arriving from the peer's address.
    HeadsPerAddress,
    /// `--max-connections-per-address` connections were open from the peer's address.
    ConnectionsPerAddress,
}

impl Refusal {
    const ALL: [Self; 5] = [
        Self::MaxConnections,
        Self::ThreadBudget,
        Self::ThreadStart,
        Self::HeadsPerAddress,
        Self::ConnectionsPerAddress,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::ThreadBudget => "thread_budget",
            Self::ThreadStart => "thread_start",
            Self::HeadsPerAddress => "heads_per_address",
            Self::ConnectionsPerAddress => "connections_per_address",
        }
    }
}

/// The per-connection limit that closed a client with 1008.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateLimit {
    /// `--rate-limit`: messages per second (the chat's).
    Messages,
    /// `--max-control-rate`: Pings and Pongs per second (§10.4).
    Control,
}

impl RateLimit {
    const ALL: [Self; 2] = [Self::Messages, Self::Control];

    fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "rate_limit",
            Self::Control => "max_control_rate",
        }
    }
}

/// A server-wide or per-client budget that refused a request, so that one client's work stays
/// its own (each counted in `wsmith_budget_refusals_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Budget {
    /// The hub's queue was full when a new client's Join was queued: the upgrade got 503.
    HubQueue,
    /// `POST /publish` named a channel that does not exist.
    UnknownChannel,
    /// `--max-watchers`: one more Inspector asked to watch a connection.
    Watchers,
}

impl Budget {
    const ALL: [Self; 3] = [Self::HubQueue, Self::UnknownChannel, Self::Watchers];

    fn as_str(self) -> &'static str {
        match self {
            Self::HubQueue => "hub_queue",
            Self::UnknownChannel => "unknown_channel",
            Self::Watchers => "max_watchers",
        }
    }
}

/// The statuses a failed opening handshake is answered with (`HandshakeError::status` and the
/// request rules of [`trust`](super::trust)); any other is counted as `other`.
const HANDSHAKE_STATUSES: [u16; 10] = [400, 403, 404, 405, 408, 421, 426, 431, 503, 505];
/// Close codes counted one by one: §7.4.1's 1000 to 1015. §7.4.2's ranges are counted as
/// ranges (`3xxx`: registered with IANA for libraries, `4xxx`: private use), the rest as `other`.
const CLOSE_CODES: usize = 16;
/// Slots of the close-code array: the sixteen, `3xxx`, `4xxx`, `other`.
const CLOSE_SLOTS: usize = CLOSE_CODES + 3;
const CLOSED_BY: [ClosedBy; 3] = [ClosedBy::Client, ClosedBy::Server, ClosedBy::Network];

/// Upper bounds of the hub's command-duration buckets, in nanoseconds (5 µs to 250 ms).
const HUB_BUCKETS_NS: [u64; 15] = [
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
];
/// The same bounds in seconds, as the `le` labels say them.
const HUB_BUCKETS_S: [f64; 15] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25,
];

/// Every counter of the process (see the module doc).
#[derive(Debug)]
pub(crate) struct Metrics {
    endpoints: [EndpointCounters; NAMES.len()],
    accepted: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
    /// By [`HANDSHAKE_STATUSES`], then `other`.
    handshake_failures: [AtomicU64; HANDSHAKE_STATUSES.len() + 1],
    /// By who closed (as [`CLOSED_BY`]), then by close-code slot.
    closes: [[AtomicU64; CLOSE_SLOTS]; CLOSED_BY.len()],
    slow_consumers: [AtomicU64; 2],
    /// Connections reset (`SO_LINGER` 0) because their last bytes could not be delivered.
    resets: AtomicU64,
    /// Senders closed 1009 for a relay larger than half a receiver's backlog.
    relays_refused: AtomicU64,
    rate_limit_closes: [AtomicU64; RateLimit::ALL.len()],
    budget_refusals: [AtomicU64; Budget::ALL.len()],
    /// Bytes in every outbox's data lane, the writers' batches in progress included.
    outbox_bytes: AtomicI64,
    /// Per [`HUB_BUCKETS_NS`] bucket (not cumulative), then the `+Inf` one.
    hub_buckets: [AtomicU64; HUB_BUCKETS_NS.len() + 1],
    hub_sum_ns: AtomicU64,
    started: AtomicU64,
    /// Log lines not written: the `log` thread's queue was full, or stderr refused them.
    pub(super) log_lines_dropped: AtomicU64,
    /// `POST /publish` commands the hub took after their deadline, and so did not deliver.
    publish_expired: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every counter at zero.
    pub(crate) const fn new() -> Self {
        Self {
            endpoints: [const { EndpointCounters::new() }; NAMES.len()],
            accepted: AtomicU64::new(0),
            refused: [const { AtomicU64::new(0) }; Refusal::ALL.len()],
            handshake_failures: [const { AtomicU64::new(0) }; HANDSHAKE_STATUSES.len() + 1],
            closes: [const { [const { AtomicU64::new(0) }; CLOSE_SLOTS] }; CLOSED_BY.len()],
            slow_consumers: [const { AtomicU64::new(0) }; 2],
            resets: AtomicU64::new(0),
            relays_refused: AtomicU64::new(0),
            rate_limit_closes: [const { AtomicU64::new(0) }; RateLimit::ALL.len()],
            budget_refusals: [const { AtomicU64::new(0) }; Budget::ALL.len()],
            outbox_bytes: AtomicI64::new(0),
            hub_buckets: [const { AtomicU64::new(0) }; HUB_BUCKETS_NS.len() + 1],
            hub_sum_ns: AtomicU64::new(0),
            started: AtomicU64::new(0),
            log_lines_dropped: AtomicU64::new(0),
            publish_expired: AtomicU64::new(0),
        }
    }

    /// The counters of one endpoint.
    pub(crate) fn endpoint(&self, index: usize) -> &EndpointCounters {
        // One entry per name of `NAMES`, and `Endpoint::index` is always one of them.
        self.endpoints
            .get(index)
            .expect("bug: an endpoint index outside app::NAMES")
    }

    /// The server started now (the `wsmith_start_time_seconds` gauge).
    pub(crate) fn started(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.started.store(now, Relaxed);
    }

    /// A log line was dropped: its queue was full, or writing it to stderr failed.
    pub(crate) fn log_line_dropped(&self) {
        self.log_lines_dropped.fetch_add(1, Relaxed);
    }

    /// The hub dropped a `POST /publish` whose deadline had passed (the client got 503).
    pub(crate) fn publish_expired(&self) {
        self.publish_expired.fetch_add(1, Relaxed);
    }

    /// The listener took a connection from the listen queue (refused ones included).
    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Relaxed);
    }

    /// The listener refused a connection.
    pub(crate) fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Relaxed);
    }

    /// An opening handshake (or the request head before it) was answered with `status`.
    pub(crate) fn handshake_failed(&self, status: u16) {
        let slot = HANDSHAKE_STATUSES
            .iter()
            .position(|&s| s == status)
            .unwrap_or(HANDSHAKE_STATUSES.len());
        if let Some(counter) = self.handshake_failures.get(slot) {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// A connection ended: who sent the first Close, and its code (1006 for none, §7.1.5).
    pub(crate) fn closed(&self, by: ClosedBy, code: CloseCode) {
        let by = CLOSED_BY.iter().position(|&b| b == by).unwrap_or(0);
        if let Some(counter) = self.closes.get(by).and_then(|c| c.get(close_slot(code))) {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// The hub closed a slow consumer; `unit` is the backlog limit it went over
    /// (`"messages"`: `--max-backlog`, `"bytes"`: `--max-backlog-bytes`).
    pub(crate) fn slow_consumer(&self, unit: &str) {
        let slot = usize::from(unit == "bytes");
        self.slow_consumers[slot].fetch_add(1, Relaxed);
    }

    /// A connection whose last bytes could not be delivered was reset (`SO_LINGER` 0), so the
    /// kernel frees its send queue instead of keeping a `FIN-WAIT-1` orphan.
    pub(crate) fn connection_reset(&self) {
        self.resets.fetch_add(1, Relaxed);
    }

    /// A sender was closed with 1009: its message, relayed, would not fit half a receiver's
    /// backlog (`--max-backlog-bytes`).
    pub(crate) fn relay_refused(&self) {
        self.relays_refused.fetch_add(1, Relaxed);
    }

    /// A client was closed with 1008 for going over `limit`.
    pub(crate) fn rate_limit_close(&self, limit: RateLimit) {
        self.rate_limit_closes[limit as usize].fetch_add(1, Relaxed);
    }

    /// `budget` refused a request.
    pub(crate) fn budget_refused(&self, budget: Budget) {
        self.budget_refusals[budget as usize].fetch_add(1, Relaxed);
    }

    /// `bytes` more are held in an outbox.
    pub(crate) fn outbox_added(&self, bytes: usize) {
        self.outbox_bytes.fetch_add(bytes as i64, Relaxed);
    }

    /// `bytes` left an outbox (written, dropped, or the outbox itself dropped).
    pub(crate) fn outbox_removed(&self, bytes: usize) {
        self.outbox_bytes.fetch_sub(bytes as i64, Relaxed);
    }

    /// The hub took `took` for one command.
    pub(crate) fn hub_command(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let slot = HUB_BUCKETS_NS
            .iter()
            .position(|&bound| ns <= bound)
            .unwrap_or(HUB_BUCKETS_NS.len());
        if let Some(bucket) = self.hub_buckets.get(slot) {
            bucket.fetch_add(1, Relaxed);
        }
        self.hub_sum_ns.fetch_add(ns, Relaxed);
    }
}

/// The slot of a close code in a row of the close array.
fn close_slot(code: CloseCode) -> usize {
    match code.0 {
        n @ 1000..=1015 => usize::from(n - 1000),
        3000..=3999 => CLOSE_CODES,
        4000..=4999 => CLOSE_CODES + 1,
        _ => CLOSE_CODES + 2,
    }
}

/// Times the hub's commands, one lap per command: a lap's end is the next one's start, so a
/// command costs one clock read.
#[derive(Debug)]
pub(crate) struct HubTimer {
    since: Instant,
}

impl HubTimer {
    /// Starts timing the first command of a round.
    pub(crate) fn start() -> Self {
        Self {
            since: Instant::now(),
        }
    }

    /// The command timed so far is done; the next one starts now.
    pub(crate) fn lap(&mut self) {
        let now = Instant::now();
        METRICS.hub_command(now.saturating_duration_since(self.since));
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::exposition::write_text;
    use crate::server::metric_family::Type;

    fn text(metrics: &Metrics) -> String {
        write_text(&metrics.families(&Live::default()))
    }

    #[test]
    fn endpoint_counters_count_and_the_open_gauge_follows_its_guard() {
        static LOCAL: Metrics = Metrics::new();
        let echo = LOCAL.endpoint(Endpoint::route("/echo", None).map_or(0, |e| e.index()));
        let open = echo.open();
        echo.received_bytes(11);
        echo.received_message();
        echo.sent_bytes(7);
        echo.sent_messages(1);
        let during = text(&LOCAL);
        assert!(
            during.contains("wsmith_connections_open{endpoint=\"echo\"} 1\n"),
            "{during}"
        );
        assert!(during.contains("wsmith_received_bytes_total{endpoint=\"echo\"} 11\n"));
        assert!(during.contains("wsmith_sent_bytes_total{endpoint=\"echo\"} 7\n"));
        assert!(during.contains("wsmith_messages_sent_total{endpoint=\"echo\"} 1\n"));
        assert!(during.contains("wsmith_upgrades_total{endpoint=\"chat\"} 0\n"));
        drop(open);
        let after = text(&LOCAL);
        assert!(
            after.contains("wsmith_connections_open{endpoint=\"echo\"} 0\n"),
            "{after}"
        );
        assert!(after.contains("wsmith_upgrades_total{endpoint=\"echo\"} 1\n"));
    }

    #[test]
    fn close_codes_are_counted_one_by_one_or_by_their_range() {
        let metrics = Metrics::new();
        for code in [1000, 1000, 1015, 3000, 4999, 2999, 5000] {
            metrics.closed(ClosedBy::Client, CloseCode(code));
        }
        metrics.closed(ClosedBy::Network, CloseCode::ABNORMAL_CLOSURE);
        let text = text(&metrics);
        for line in [
            "wsmith_closes_total{by=\"client\",code=\"1000\"} 2\n",
            "wsmith_closes_total{by=\"client\",code=\"1015\"} 1\n",
            "wsmith_closes_total{by=\"client\",code=\"3xxx\"} 1\n",
            "wsmith_closes_total{by=\"client\",code=\"4xxx\"} 1\n",
            "wsmith_closes_total{by=\"client\",code=\"other\"} 2\n",
            "wsmith_closes_total{by=\"network\",code=\"1006\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(
            !text.contains("by=\"server\""),
            "no server closes were counted"
        );
    }

    #[test]
    fn handshake_failures_appear_by_status_once_counted() {
        let metrics = Metrics::new();
        assert!(!text(&metrics).contains("wsmith_handshake_failures_total{"));
        metrics.handshake_failed(400);
        metrics.handshake_failed(400);
        metrics.handshake_failed(421);
        metrics.handshake_failed(418);
        let text = text(&metrics);
        assert!(text.contains("wsmith_handshake_failures_total{status=\"400\"} 2\n"));
        assert!(text.contains("wsmith_handshake_failures_total{status=\"421\"} 1\n"));
        assert!(text.contains("wsmith_handshake_failures_total{status=\"other\"} 1\n"));
        assert!(!text.contains("status=\"404\""));
    }

    #[test]
    fn hub_durations_fall_in_the_first_bucket_at_or_above_them() {
        let metrics = Metrics::new();
        metrics.hub_command(Duration::from_nanos(5_000)); // at a bound: that bucket (le is ≤)
        metrics.hub_command(Duration::from_nanos(5_001));
        metrics.hub_command(Duration::from_secs(1)); // past the last bound: only +Inf
        let text = text(&metrics);
        for line in [
            "wsmith_hub_command_duration_seconds_bucket{le=\"0.000005\"} 1\n",
            "wsmith_hub_command_duration_seconds_bucket{le=\"0.00001\"} 2\n",
            "wsmith_hub_command_duration_seconds_bucket{le=\"0.25\"} 2\n",
            "wsmith_hub_command_duration_seconds_bucket{le=\"+Inf\"} 3\n",
            "wsmith_hub_command_duration_seconds_count 3\n",
            "wsmith_hub_command_duration_seconds_sum 1.000010001\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn the_bucket_bounds_agree_in_both_units() {
        for (ns, s) in HUB_BUCKETS_NS.iter().zip(HUB_BUCKETS_S) {
            assert_eq!(*ns, (s * 1e9).round() as u64);
        }
        assert!(HUB_BUCKETS_NS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_family_is_named_by_the_conventions() {
        for family in Metrics::new().families(&Live::default()) {
            let name = family.name;
            assert!(name.starts_with("wsmith_"), "{name}");
            assert_eq!(
                family.kind == Type::Counter,
                name.ends_with("_total"),
                "{name}"
            );
            assert!(!family.help.is_empty(), "{name}");
        }
    }
}
