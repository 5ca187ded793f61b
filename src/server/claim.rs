//! [`Claim`]: one command that a requester may give up on, and that the hub either carries out
//! or drops, never both after the requester has said it did not happen.
//!
//! `POST /publish` waits a bounded time for the hub. Without an agreement, a publish the hub
//! reaches after that time would still be delivered after the client heard `503`, and a
//! client that retries would publish twice. So the command and its requester share one state
//! that moves once, from *pending* to *taken* (by the hub, which then carries the command out)
//! or to *abandoned* (by the requester, which then answers that nothing was done): whichever
//! side moves it first decides, and the other sees what was decided.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

const PENDING: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

/// One command's state, shared by its requester and the hub (clone it to share).
#[derive(Debug, Clone, Default)]
pub(crate) struct Claim(Arc<AtomicU8>);

impl Claim {
    /// The hub takes the command: `true` if it is still wanted (carry it out), `false` if its
    /// requester gave up first (drop it).
    pub(crate) fn take(&self) -> bool {
        self.settle(TAKEN) == TAKEN
    }

    /// The requester gives up: `true` if the hub had not taken the command (it never will),
    /// `false` if the hub took it first (its answer is coming).
    pub(crate) fn abandon(&self) -> bool {
        self.settle(ABANDONED) == ABANDONED
    }

    /// Moves the state from pending to `to` if nobody moved it yet; returns the state after.
    fn settle(&self, to: u8) -> u8 {
        match self
            .0
            .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => to,
            Err(settled) => settled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_side_decides_and_the_other_sees_it() {
        let claim = Claim::default();
        assert!(claim.take(), "the hub first: carried out");
        assert!(!claim.abandon(), "too late to give up");
        assert!(claim.clone().take(), "taken stays taken");
        let claim = Claim::default();
        assert!(claim.abandon(), "the requester first: never done");
        assert!(!claim.take(), "the hub drops it");
    }

    #[test]
    fn racing_sides_agree_on_one_outcome() {
        for _ in 0..200 {
            let claim = Claim::default();
            let hub = claim.clone();
            let taken = std::thread::spawn(move || hub.take());
            let abandoned = claim.abandon();
            let taken = taken.join().expect("hub thread");
            assert_ne!(taken, abandoned, "exactly one side wins");
        }
    }
}
