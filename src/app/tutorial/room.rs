//! What every seed's server is made of: the [`Input`] a client's message becomes, the
//! [`Output`]s a server answers with, and the [`Room`] of who is connected (`wss.clients`).
//! Each `seed_00N` file imports these; [`tutorial`](super) runs the seeds.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::catalog::Tutorial;
use crate::app::clients::ClientId;
use crate::protocol::Message;

/// A client's message as the tutorial's server reads it, parsed on the connection's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The message as it arrived, for the tutorials that use it whole (for `json-relay`, one
    /// already checked to be a chat object, relayed verbatim).
    Message(Message),
    /// `channels`: `{"type":"subscribe","channel":C}`.
    Subscribe {
        /// The channel C.
        channel: String,
    },
    /// `channels`: `{"channel":C,"content":X}`.
    Publish {
        /// The channel C.
        channel: String,
        /// The content X.
        content: String,
    },
    /// `hello-chat`: `{"name":N,"message":M}` from the page's name and message inputs.
    Said {
        /// The name N.
        name: String,
        /// The message M.
        message: String,
    },
    /// A message the tutorial's protocol cannot read; `error` goes back to the sender alone.
    Invalid {
        /// The one line answered.
        error: String,
    },
}

impl Input {
    /// The console line `tutorial`'s server prints for this message, if it prints one.
    pub fn console_line(&self, tutorial: Tutorial) -> Option<String> {
        let text = input_text(self);
        match (tutorial, self) {
            (_, Self::Invalid { .. }) => None,
            (Tutorial::WelcomeEcho, _) => Some(format!("Received message => {text}")),
            (Tutorial::ServerReceived | Tutorial::Broadcast, _) => {
                Some(format!("Received message: {text}"))
            }
            (Tutorial::HelloChat, Self::Said { name, message }) => {
                Some(format!("received: {name}: {message}"))
            }
            (Tutorial::HelloChat | Tutorial::Relay, _) => Some(format!("received: {text}")),
            (Tutorial::JsonRelay, _) => Some(format!("새로운 메시지가 도착했습니다: {text}")),
            _ => None,
        }
    }
}

/// What the app asks the hub to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `message` to each of `to` (encoded once, shared).
    Send {
        /// The recipients, in order.
        to: Vec<ClientId>,
        /// The message.
        message: Message,
    },
    /// A line on the server's console, where the tutorial's `console.log` prints (for a
    /// connect or a disconnect; a message's line is printed by [`read`](super::read)).
    Console(String),
}

impl Output {
    /// A Text message to `to`.
    pub fn text(to: Vec<ClientId>, text: impl Into<String>) -> Self {
        Self::Send {
            to,
            message: Message::Text(text.into()),
        }
    }

    /// A console line.
    pub fn console(line: impl Into<String>) -> Self {
        Self::Console(line.into())
    }
}

/// Who is connected, and (for `channels`) to which channel: the tutorials' `wss.clients` and
/// `ws.channel`.
#[derive(Debug, Default)]
pub struct Room {
    members: BTreeMap<ClientId, Option<String>>,
}

impl Room {
    /// Everyone connected: `wss.clients`, ordered so that tests are deterministic.
    pub fn everyone(&self) -> Vec<ClientId> {
        self.members.keys().copied().collect()
    }

    /// Everyone but `sender`: `client !== ws`.
    pub fn others(&self, sender: ClientId) -> Vec<ClientId> {
        self.members
            .keys()
            .copied()
            .filter(|&id| id != sender)
            .collect()
    }

    /// Everyone whose channel is `channel`: `client.channel === channel`.
    pub fn in_channel(&self, channel: &str) -> Vec<ClientId> {
        self.members
            .iter()
            .filter(|(_, c)| c.as_deref() == Some(channel))
            .map(|(&id, _)| id)
            .collect()
    }

    /// Puts `id` in `channel` (one channel per client, as in the tutorial: `ws.channel = …`).
    pub fn subscribe(&mut self, id: ClientId, channel: String) {
        if let Some(slot) = self.members.get_mut(&id) {
            *slot = Some(channel);
        }
    }

    /// `id` connected, in no channel yet.
    pub(super) fn join(&mut self, id: ClientId) {
        self.members.insert(id, None);
    }

    /// `id` left; whether it was connected.
    pub(super) fn leave(&mut self, id: ClientId) -> bool {
        self.members.remove(&id).is_some()
    }

    /// Whether `id` is connected.
    pub(super) fn contains(&self, id: ClientId) -> bool {
        self.members.contains_key(&id)
    }

    /// How many are connected.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether nobody is.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// `${message}` in the tutorials' template strings: a Text message as it is, a Binary one as
/// UTF-8 (Node's `Buffer` → string), invalid bytes shown as U+FFFD.
pub fn as_text(message: &Message) -> Cow<'_, str> {
    match message {
        Message::Text(text) => text.as_str().into(),
        Message::Binary(bytes) => String::from_utf8_lossy(bytes),
    }
}

/// The message's text, for `${message}`; empty for inputs that are not whole messages.
pub(super) fn input_text(input: &Input) -> Cow<'_, str> {
    match input {
        Input::Message(message) => as_text(message),
        _ => "".into(),
    }
}
