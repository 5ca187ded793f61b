//! The lock on a connection's state machine: the one [`Connection`] is shared by its reader
//! (which feeds it what the client sends) and its writer (which sends our Close through it),
//! each holding the mutex only while bytes are processed, never across a blocking call.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::protocol::Connection;

/// Locks the connection's state machine; a panic in the other thread does not make its data
/// unusable.
pub(super) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}
