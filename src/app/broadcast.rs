//! `/broadcast` (and a bare `/`, as the tutorials' `new WebSocket('ws://localhost:8080')`
//! connects): every message is relayed verbatim, same type and bytes, to every client of the
//! endpoint, the sender included unless it connected with `?self=false`.

use std::collections::BTreeMap;

use super::clients::ClientId;
use super::endpoint::Endpoint;
use super::input::Input;
use super::seam::{App, Context, Output, Reading, Session};
use crate::protocol::Message;

/// Who is on the broadcast endpoint.
#[derive(Debug, Default)]
pub struct Broadcast {
    /// Each member and whether it hears its own messages. Ordered, so relays are deterministic.
    members: BTreeMap<ClientId, bool>,
}

impl Broadcast {
    /// An endpoint with nobody on it.
    pub fn new() -> Self {
        Self::default()
    }

    /// `id` joined; `include_self` says whether it receives its own messages.
    pub fn join(&mut self, id: ClientId, include_self: bool) {
        self.members.insert(id, include_self);
    }

    /// `id` left.
    pub fn leave(&mut self, id: ClientId) {
        self.members.remove(&id);
    }

    /// Everyone a message from `sender` goes to.
    pub fn recipients(&self, sender: ClientId) -> Vec<ClientId> {
        self.members
            .iter()
            .filter(|&(&id, &include_self)| id != sender || include_self)
            .map(|(&id, _)| id)
            .collect()
    }

    /// How many clients are on the endpoint.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether nobody is on the endpoint.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl App for Broadcast {
    fn join(&mut self, _cx: &Context<'_>, id: ClientId, endpoint: &Endpoint) -> Vec<Output> {
        let include_self = !matches!(
            endpoint,
            Endpoint::Broadcast {
                include_self: false
            }
        );
        self.join(id, include_self);
        Vec::new()
    }

    fn message(&mut self, _cx: &Context<'_>, id: ClientId, input: Input) -> Vec<Output> {
        let Input::Broadcast(message) = input else {
            return Vec::new();
        };
        // Verbatim: the same opcode and bytes, encoded once for everyone.
        vec![Output::Relay {
            to: self.recipients(id),
            message,
        }]
    }

    fn leave(&mut self, _cx: &Context<'_>, id: ClientId) -> Vec<Output> {
        self.leave(id);
        Vec::new()
    }
}

/// One `/broadcast` connection: every message goes to the hub as it is.
#[derive(Debug, Default)]
pub struct BroadcastSession;

impl Session for BroadcastSession {
    fn read(&mut self, message: Message) -> Reading {
        Reading::Hub(Input::Broadcast(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_reaches_everyone_including_the_sender() {
        let mut broadcast = Broadcast::new();
        broadcast.join(1, true);
        broadcast.join(2, true);
        assert_eq!(broadcast.recipients(1), [1, 2]);
    }

    #[test]
    fn self_false_leaves_the_sender_out() {
        let mut broadcast = Broadcast::new();
        broadcast.join(1, false);
        broadcast.join(2, true);
        assert_eq!(broadcast.recipients(1), [2]);
        broadcast.leave(2);
        assert!(broadcast.recipients(1).is_empty());
    }
}
