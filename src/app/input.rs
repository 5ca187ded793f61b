//! What a client's message becomes on its connection's reader thread, for its app on the hub
//! ([`Session::read`](super::Session::read)): the hub only ever sees the result, so it never
//! parses a client's JSON, and a heavy or malformed message costs its sender's thread, not
//! everyone's.

use super::chat::{ChatError, ClientCommand};
use super::inspect::InspectorCommand;
use crate::protocol::Message;

/// A client's message, typed for the app of the endpoint it came in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `/broadcast`: the message itself, relayed verbatim (same type, same bytes).
    Broadcast(Message),
    /// `/chat`: a command, or why it was refused (answered with an `error` event).
    Chat(Result<ClientCommand, ChatError>),
    /// `/inspect`: a command, or why it was refused (answered with an `error` event).
    Inspect(Result<InspectorCommand, String>),
    /// `wsmith tutorial NAME`: the message as that tutorial's server reads it.
    Tutorial(super::tutorial::Input),
}

impl Input {
    /// For a message the hub relays verbatim to other clients (`/broadcast`): its length, what
    /// it adds to each receiver's outbox.
    pub fn relayed_len(&self) -> Option<usize> {
        match self {
            Self::Broadcast(message) => Some(message.as_bytes().len()),
            _ => None,
        }
    }
}
