//! Per-connection rate limits: a token bucket for chat messages (`--rate-limit`) and a
//! one-second window for control frames (`--max-control-rate`).

use std::time::{Duration, Instant};

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

    #[test]
    fn window_counter_resets_every_second() {
        let start = Instant::now();
        let mut counter = WindowCounter::new(3, start);
        assert!((0..3).all(|_| counter.count(start)));
        assert!(!counter.count(start));
        assert!(counter.count(start + Duration::from_secs(1)));
    }
}
