//! One memory budget for every incomplete message (§10.4: "implementations SHOULD impose
//! implementation-specific limits on frame sizes and the total message size").
//!
//! `--max-message-size` bounds one message; a peer that opens many connections and leaves a
//! large message unfinished on each (or a small compressed fragment that inflates to the limit,
//! RFC 7692 §6.2) would still make the server hold the limit times the connections. A
//! [`MemoryBudget`] is shared by every connection: each message buffer reserves its capacity
//! from it *before* it grows ([`Account::grow`]) and gives it back when the message is whole,
//! when the connection fails and when it is dropped. A peer whose message would take the budget
//! over its limit gets [`ProtocolError::BufferBudgetExhausted`] (1013 Try Again Later); the
//! other connections keep what they hold.
//!
//! The first [`UNCOUNTED_BYTES`] of each buffer are not counted: every connection may always
//! hold one small message (the JSON endpoints' whole limit), so a client sending a chat line
//! is never refused because attackers spent the budget on large ones. What those cost
//! together is bounded by the connection limit, as a read buffer is.
//!
//! The cost on the hot path is one relaxed atomic per buffer growth (and the growth doubles,
//! as a `Vec`'s does), never one per frame or per byte. The budget is plain memory, no clock
//! and no I/O: the server makes one and hands it to each [`Connection`](super::Connection).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::error::ProtocolError;

/// The part of each message buffer that the budget does not count, in bytes: a small message
/// always fits (64 KiB, `--max-chat-message-size`'s default).
pub const UNCOUNTED_BYTES: usize = 64 * 1024;

/// The bytes of a buffer of `capacity` that count against the budget.
fn counted(capacity: usize) -> u64 {
    capacity.saturating_sub(UNCOUNTED_BYTES) as u64
}

/// Bytes that every incomplete message together may hold (`--max-buffered-bytes`).
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    held: AtomicU64,
    refused: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, none held.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            held: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes reserved now.
    pub fn held(&self) -> u64 {
        self.held.load(Relaxed)
    }

    /// Reservations refused so far (each one failed a connection).
    pub fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }

    /// Reserves `bytes` if the budget has room for them.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BufferBudgetExhausted`] when it has not; nothing is reserved then.
    fn reserve(&self, bytes: u64) -> Result<(), ProtocolError> {
        let before = self.held.fetch_add(bytes, Relaxed);
        let size = before.saturating_add(bytes);
        if size <= self.limit {
            return Ok(());
        }
        self.held.fetch_sub(bytes, Relaxed);
        self.refused.fetch_add(1, Relaxed);
        Err(ProtocolError::BufferBudgetExhausted {
            size,
            limit: self.limit,
        })
    }

    /// Counts `bytes` that are already allocated (an allocator that gave more than asked).
    fn force(&self, bytes: u64) {
        self.held.fetch_add(bytes, Relaxed);
    }

    fn release(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Relaxed);
    }
}

/// What one message buffer holds of a [`MemoryBudget`]: its capacity beyond
/// [`UNCOUNTED_BYTES`], reserved before it grew. Without a budget it only grows the buffer.
/// Dropping it releases what it holds.
#[derive(Debug, Default)]
pub struct Account {
    budget: Option<Arc<MemoryBudget>>,
    reserved: u64,
}

impl Account {
    /// An account on `budget`, holding nothing.
    pub fn new(budget: Option<Arc<MemoryBudget>>) -> Self {
        Self {
            budget,
            reserved: 0,
        }
    }

    /// Bytes this account holds of its budget (0 without one).
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Makes room in `buffer` for `additional` more bytes. When the buffer must grow, it grows
    /// to twice its capacity or to what it needs, whichever is more, and that capacity is
    /// reserved from the budget first.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BufferBudgetExhausted`] if the budget cannot cover the growth; the
    /// buffer is left as it was.
    pub fn grow(&mut self, buffer: &mut Vec<u8>, additional: usize) -> Result<(), ProtocolError> {
        let (len, capacity) = (buffer.len(), buffer.capacity());
        if capacity - len >= additional {
            return Ok(());
        }
        let target = len
            .saturating_add(additional)
            .max(capacity.saturating_mul(2));
        if let Some(budget) = &self.budget {
            let more = counted(target).saturating_sub(self.reserved);
            if more > 0 {
                budget.reserve(more)?;
                self.reserved += more;
            }
        }
        buffer.reserve_exact(target - len);
        self.settle(buffer.capacity());
        Ok(())
    }

    /// Counts a buffer's `capacity` if it grew past what was reserved (a lent buffer, or an
    /// allocator that gave more than asked): memory held is never left uncounted.
    pub fn settle(&mut self, capacity: usize) {
        let capacity = counted(capacity);
        if let Some(budget) = &self.budget {
            if capacity > self.reserved {
                budget.force(capacity - self.reserved);
                self.reserved = capacity;
            }
        }
    }

    /// Gives back everything this account holds: its buffer was handed on or freed.
    pub fn release(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(self.reserved);
        }
        self.reserved = 0;
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A size past the uncounted part.
    const BIG: usize = UNCOUNTED_BYTES + 1000;

    fn account(limit: u64) -> (Arc<MemoryBudget>, Account) {
        let budget = Arc::new(MemoryBudget::new(limit));
        (Arc::clone(&budget), Account::new(Some(budget)))
    }

    #[test]
    fn growth_is_reserved_before_and_released_after() {
        let (budget, mut account) = account(1 << 20);
        let mut buffer = Vec::new();
        account.grow(&mut buffer, BIG).expect("within the budget");
        assert!(buffer.capacity() >= BIG);
        assert_eq!(budget.held(), counted(buffer.capacity()));
        assert!(budget.held() >= 1000);
        account.release();
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_small_message_costs_the_budget_nothing() {
        let (budget, mut account) = account(1);
        let mut buffer = Vec::new();
        account
            .grow(&mut buffer, UNCOUNTED_BYTES)
            .expect("the uncounted part always fits");
        assert_eq!(budget.held(), 0);
        assert!(account.grow(&mut buffer, UNCOUNTED_BYTES + 1).is_err());
    }

    #[test]
    fn room_already_there_costs_nothing() {
        let (budget, mut account) = account(1 << 20);
        let mut buffer = Vec::new();
        account.grow(&mut buffer, BIG).expect("within the budget");
        let held = budget.held();
        buffer.extend_from_slice(&[0; 50]);
        account
            .grow(&mut buffer, 50)
            .expect("room already reserved");
        assert_eq!(budget.held(), held);
    }

    #[test]
    fn the_budget_at_its_limit_passes_and_one_byte_over_fails() {
        let (budget, mut account) = account(1000);
        let mut buffer = Vec::new();
        account
            .grow(&mut buffer, UNCOUNTED_BYTES + 1000)
            .expect("exactly the budget");
        assert_eq!(budget.held(), 1000);
        let mut other = Account::new(Some(Arc::clone(&budget)));
        let mut second = Vec::new();
        assert_eq!(
            other.grow(&mut second, UNCOUNTED_BYTES + 1),
            Err(ProtocolError::BufferBudgetExhausted {
                size: 1001,
                limit: 1000
            })
        );
        assert_eq!(second.capacity(), 0, "a refused growth allocates nothing");
        assert_eq!(budget.refused(), 1);
        assert_eq!(budget.held(), 1000, "the first account keeps what it holds");
    }

    #[test]
    fn dropping_an_account_releases_it() {
        let (budget, mut account) = account(1 << 20);
        let mut buffer = Vec::new();
        account.grow(&mut buffer, BIG).expect("within the budget");
        assert!(budget.held() > 0);
        drop(account);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_lent_buffer_that_grew_is_counted_when_settled() {
        let (budget, mut account) = account(1 << 20);
        let mut buffer: Vec<u8> = Vec::with_capacity(BIG);
        account.settle(buffer.capacity());
        assert_eq!(budget.held(), counted(buffer.capacity()));
        buffer.clear();
        account.release();
        assert_eq!(budget.held(), 0);
    }
}
