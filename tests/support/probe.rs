//! The innocent client of the attack suite: while an attack runs, it keeps making an `/echo`
//! round trip and a `/chat` ping through the hub, and a fresh connection now and then, and
//! records how long each took and whether it was answered at all. Tests assert what the probe
//! lost (nothing) and print its latencies; they never assert a latency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::RawClient;

/// How often the probe makes its round trips: about 16 chat pings a second, under chat's
/// default `--rate-limit` of 20, so the probe is never the one refused.
const PERIOD: Duration = Duration::from_millis(60);

/// Rounds the probe makes however soon it is stopped: an attack that is over before the
/// probe's thread got going still has the innocent client's round trips measured after it.
const MIN_ROUNDS: u64 = 5;

/// What the probe saw.
#[derive(Debug, Default)]
pub struct ProbeReport {
    /// `/echo` round trips, each as long as it took.
    pub echo: Vec<Duration>,
    /// `/chat` ping → pong round trips, through the hub.
    pub chat: Vec<Duration>,
    /// Fresh `/echo` connections: handshake and first echo.
    pub connects: Vec<Duration>,
    /// Round trips or connections that failed, with why.
    pub failures: Vec<String>,
}

impl ProbeReport {
    /// Prints the latencies (p50, p99, max) under `label`, for the test's output.
    pub fn print(&self, label: &str) {
        let show = |name: &str, samples: &[Duration]| {
            let mut sorted = samples.to_vec();
            sorted.sort_unstable();
            let at = |q: f64| {
                sorted
                    .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                    .copied()
                    .unwrap_or_default()
            };
            eprintln!(
                "probe [{label}] {name}: {} round trips, p50 {:?}, p99 {:?}, max {:?}",
                sorted.len(),
                at(0.5),
                at(0.99),
                sorted.last().copied().unwrap_or_default()
            );
        };
        show("echo", &self.echo);
        show("chat ping", &self.chat);
        show("connect + echo", &self.connects);
        for failure in &self.failures {
            eprintln!("probe [{label}] failed: {failure}");
        }
    }

    /// The functional outcome: every round trip the probe began was answered, and it made
    /// at least `rounds` of each kind.
    pub fn assert_nothing_lost(&self, rounds: usize) {
        assert!(
            self.failures.is_empty(),
            "the probe lost: {:?}",
            self.failures
        );
        assert!(
            self.echo.len() >= rounds && self.chat.len() >= rounds && !self.connects.is_empty(),
            "the probe made too few round trips: {} echo, {} chat, {} connects",
            self.echo.len(),
            self.chat.len(),
            self.connects.len()
        );
    }
}

/// A probe running in its own thread until [`Probe::finish`].
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<ProbeReport>,
}

impl Probe {
    /// Connects to `/echo` and `/chat` at `addr` and starts probing.
    pub fn start(addr: SocketAddr) -> Self {
        let mut echo = RawClient::connect(addr, "/echo");
        let mut chat = RawClient::connect(addr, "/chat?name=probe");
        chat.next_event_of_type("welcome");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut report = ProbeReport::default();
            let mut round = 0u64;
            while round < MIN_ROUNDS || !stopped.load(Ordering::SeqCst) {
                round += 1;
                let started = Instant::now();
                let text = format!("probe {round}");
                echo.send_text(&text);
                match echo.try_read_text() {
                    Ok(answer) if answer == text => report.echo.push(started.elapsed()),
                    Ok(other) => report.failures.push(format!("echo answered {other:?}")),
                    Err(e) => report.failures.push(format!("echo: {e}")),
                }
                let started = Instant::now();
                chat.send_text(r#"{"type":"ping"}"#);
                match chat.try_next_event_of_type("pong") {
                    Ok(()) => report.chat.push(started.elapsed()),
                    Err(e) => report.failures.push(format!("chat ping: {e}")),
                }
                if round % 10 == 1 {
                    let started = Instant::now();
                    match RawClient::try_connect(addr, "/echo") {
                        Ok(mut fresh) => {
                            fresh.send_text("hello");
                            match fresh.try_read_text() {
                                Ok(_) => report.connects.push(started.elapsed()),
                                Err(e) => report.failures.push(format!("fresh echo: {e}")),
                            }
                        }
                        Err(e) => report.failures.push(format!("connect: {e}")),
                    }
                }
                if !report.failures.is_empty() {
                    break;
                }
                std::thread::sleep(PERIOD);
            }
            report
        });
        Self { stop, thread }
    }

    /// Stops probing and says what it saw.
    pub fn finish(self) -> ProbeReport {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the probe thread ends")
    }
}
