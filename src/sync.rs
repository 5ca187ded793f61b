//! Locks that a panic does not poison for everyone else.
//!
//! A `Mutex` whose holder panicked is *poisoned*: every later `lock()` returns an error. Here
//! that would turn one connection's panic (a bug, caught by its thread) into a panic in every
//! thread that touches the same lock: the hub queuing into that connection's outbox, the
//! writer, the shared compressors that all connections borrow. So the lock is taken anyway.
//!
//! That is sound because of how the code under these locks is written: each critical section
//! makes its change in one step that cannot panic halfway (a push or pop on a queue, a flag or
//! an enum set, a value swapped), and the state machines guarded this way (the protocol's
//! `Connection`, the client's session) keep their invariants between calls, checking before
//! they change anything. A panic can therefore only leave the data as it was before or after
//! a whole step, never in between.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Locks `mutex`, even if a thread panicked while holding it (see the module doc for why the
/// data is still consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar` at most `timeout`, giving `guard`'s lock up meanwhile, and takes the
/// lock back even if poisoned. Whether it timed out is not said: callers look at the guarded
/// state and the clock again, as they must anyway (a wake-up can be spurious).
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
) -> MutexGuard<'a, T> {
    match condvar.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_lock_poisoned_by_a_panic_is_still_taken_with_its_data() {
        let mutex = Arc::new(Mutex::new(vec![1]));
        let holder = Arc::clone(&mutex);
        let panicked = std::thread::spawn(move || {
            let mut data = lock(&holder);
            data.push(2);
            panic!("a bug while holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(mutex.is_poisoned());
        assert_eq!(*lock(&mutex), [1, 2]);
    }

    #[test]
    fn a_wait_gives_the_lock_back_after_its_timeout() {
        let mutex = Mutex::new(0);
        let condvar = Condvar::new();
        let guard = wait_timeout(&condvar, lock(&mutex), Duration::from_millis(1));
        assert_eq!(*guard, 0);
    }
}
