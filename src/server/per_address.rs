//! Counts per peer address (`--max-heads-per-address`, `--max-connections-per-address`), so
//! that one address cannot take what every client shares.
//!
//! A slowloris client opens connections and sends their request heads a byte at a time: each
//! holds a thread until `--handshake-timeout`, and enough of them fill `--max-connections`
//! for everyone. Counting unfinished heads per address lets that address have its share and
//! refuses it the rest, without a thread (503, from the listener). The key is the peer's
//! address as the socket gives it, since a head that has not arrived names nobody: behind a
//! proxy, that is the proxy's address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::sync::lock;

/// How many of something each address holds now.
#[derive(Debug, Default)]
pub(crate) struct PerAddress {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One place counted for an address, given back when dropped (even by a panic).
#[derive(Debug)]
pub(crate) struct Place {
    owner: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// Takes one place for `ip` if it holds fewer than `max` (0: no cap).
    ///
    /// Returns `None` when `ip` already holds `max`.
    pub(crate) fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Place> {
        let ip = ip.to_canonical();
        let mut counts = lock(&self.counts);
        let count = counts.entry(ip).or_insert(0);
        if max != 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(Place {
            owner: Arc::clone(self),
            ip,
        })
    }

    /// How many places `ip` holds now.
    #[cfg(test)]
    pub(crate) fn held_by(&self, ip: IpAddr) -> usize {
        let counts = lock(&self.counts);
        counts.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = lock(&self.owner.counts);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // No entry per address that ever connected: the map is as large as the
                // addresses holding a place now.
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_address_gets_its_cap_and_others_are_not_touched() {
        let counts = Arc::new(PerAddress::default());
        let held: Vec<Place> = (0..3)
            .map(|_| counts.take(ip("192.0.2.1"), 3).expect("under the cap"))
            .collect();
        assert!(
            counts.take(ip("192.0.2.1"), 3).is_none(),
            "one over the cap"
        );
        assert!(
            counts.take(ip("::ffff:192.0.2.1"), 3).is_none(),
            "the same, mapped"
        );
        let other = counts.take(ip("192.0.2.2"), 3);
        assert!(other.is_some(), "another address");
        drop(held);
        assert_eq!(counts.held_by(ip("192.0.2.1")), 0);
        let again = counts.take(ip("192.0.2.1"), 3);
        assert!(again.is_some(), "places given back");
        drop((again, other));
        assert!(
            counts.counts.lock().expect("lock").is_empty(),
            "no entry left behind"
        );
    }

    #[test]
    fn zero_is_no_cap() {
        let counts = Arc::new(PerAddress::default());
        let held: Vec<Option<Place>> = (0..1000).map(|_| counts.take(ip("::1"), 0)).collect();
        assert!(held.iter().all(Option::is_some));
        assert_eq!(counts.held_by(ip("::1")), 1000);
    }
}
