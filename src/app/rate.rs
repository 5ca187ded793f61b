//! Per-connection rate limits: a token bucket for every endpoint's commands (`--rate-limit`
//! for chat and `/notifications`, `--inspect-rate` for `/inspect`; the lab's `--lab-rate` is
//! its own), and a one-second window for control frames (`--max-control-rate`).
//!
//! A client pays for its own work: whatever a command costs (on the hub or its own thread),
//! a client can only ask for it at its rate. [`Metered`] is the rule every JSON endpoint
//! shares: a burst of two seconds' worth, then an error per message for another second's
//! worth, then a close with 1008 (§7.4.1 Policy Violation).

use std::time::{Duration, Instant};

use super::seam::{Reading, Session};
use crate::protocol::Message;

/// What [`Metered::check`] says of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: read it.
    Pass,
    /// Over the rate: answer with an error and drop it.
    Refuse,
    /// Over the rate for a second's worth more: close the connection for this reason.
    Close(String),
}

/// A token bucket with the strikes that end a flood: see the module doc.
#[derive(Debug, Clone)]
pub struct Metered {
    bucket: TokenBucket,
    /// The limit, in messages a second.
    limit: u32,
    /// Messages refused in a row.
    strikes: u32,
}

impl Metered {
    /// `limit` messages a second.
    pub fn new(limit: u32, now: Instant) -> Self {
        Self {
            bucket: TokenBucket::new(limit, now),
            limit,
            strikes: 0,
        }
    }

    /// The limit, in messages a second.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts one message arrived at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if self.bucket.try_take(now) {
            self.strikes = 0;
            return Verdict::Pass;
        }
        self.strikes = self.strikes.saturating_add(1);
        let limit = self.limit;
        if self.strikes > limit {
            Verdict::Close(format!("rate limit: over {limit} messages per second"))
        } else {
            Verdict::Refuse
        }
    }
}

/// Any [`Session`] behind a [`Metered`] rate: over it, the client gets
/// `{"type":"error","error":"rate_limited",…}` and its message is dropped unread; a flood is
/// closed with 1008.
pub struct Limited<S> {
    inner: S,
    meter: Metered,
}

impl<S: Session> Limited<S> {
    /// `inner`, allowed `limit` messages a second.
    pub fn new(inner: S, limit: u32, now: Instant) -> Self {
        Self {
            inner,
            meter: Metered::new(limit, now),
        }
    }

    /// Reads `message`, arrived at `now`.
    pub fn read_at(&mut self, message: Message, now: Instant) -> Reading {
        match self.meter.check(now) {
            Verdict::Pass => self.inner.read(message),
            Verdict::Refuse => Reading::Reply(Message::Text(rate_limited_json(self.meter.limit()))),
            Verdict::Close(reason) => Reading::Close(reason),
        }
    }
}

impl<S: Session> Session for Limited<S> {
    fn read(&mut self, message: Message) -> Reading {
        self.read_at(message, Instant::now())
    }
}

/// The `rate_limited` error every JSON endpoint answers with.
pub fn rate_limited_json(limit: u32) -> String {
    format!(
        r#"{{"type":"error","error":"rate_limited","message":"over {limit} messages per second; message dropped"}}"#
    )
}

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket refilled at `per_second`, holding twice that.
    pub fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second.max(1));
        Self {
            rate,
            burst: 2.0 * rate,
            tokens: 2.0 * rate,
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts events in the current one-second window.
#[derive(Debug, Clone)]
pub struct WindowCounter {
    limit: u32,
    count: u32,
    window_start: Instant,
}

impl WindowCounter {
    /// At most `limit` events a second.
    pub fn new(limit: u32, now: Instant) -> Self {
        Self {
            limit,
            count: 0,
            window_start: now,
        }
    }

    /// Counts one event; `false` once the window holds more than the limit.
    pub fn count(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        self.count <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        assert_eq!((0..30).filter(|_| bucket.try_take(start)).count(), 20);
        assert!(bucket.try_take(start + Duration::from_millis(100)));
        assert!(!bucket.try_take(start + Duration::from_millis(100)));
    }

    struct Counting(u32);

    impl Session for Counting {
        fn read(&mut self, _message: Message) -> Reading {
            self.0 += 1;
            Reading::Nothing
        }
    }

    #[test]
    fn a_limited_session_reads_a_burst_then_refuses_then_closes() {
        let now = Instant::now();
        let mut session = Limited::new(Counting(0), 3, now);
        let ping = || Message::Text("{}".into());
        for _ in 0..6 {
            assert_eq!(session.read_at(ping(), now), Reading::Nothing);
        }
        for _ in 0..3 {
            let Reading::Reply(Message::Text(error)) = session.read_at(ping(), now) else {
                panic!("an error expected");
            };
            assert!(error.contains("rate_limited"), "{error}");
        }
        assert_eq!(
            session.read_at(ping(), now),
            Reading::Close("rate limit: over 3 messages per second".into())
        );
        assert_eq!(session.inner.0, 6, "refused messages are never read");
        // A second later the bucket has refilled by the rate.
        let later = now + Duration::from_secs(1);
        assert_eq!(session.read_at(ping(), later), Reading::Nothing);
    }

    #[test]
    fn window_counter_resets_every_second() {
        let start = Instant::now();
        let mut counter = WindowCounter::new(3, start);
        assert!((0..3).all(|_| counter.count(start)));
        assert!(!counter.count(start));
        assert!(counter.count(start + Duration::from_secs(1)));
    }
}
