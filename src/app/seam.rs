//! The one seam between the server and its apps.
//!
//! An app lives in two places, and implements one trait for each:
//!
//! - [`App`], on the hub thread: it owns the app's shared state (who is in the room, channels,
//!   history) and answers the hub's calls, `join`, `message`, `leave`, `timer` and `publish`,
//!   with [`Output`]s: messages to deliver to clients, and the few things only the server can
//!   do (attach an Inspector's tap, print a console line). The hub routes each call by the
//!   client's [`Endpoint`], encodes each delivered message once, and fans it
//!   out; it never names an app.
//! - [`Session`], on each connection's own reader thread: it reads every whole message from its
//!   client first, so that what costs per message (parsing JSON, a rate limit, an echo, a lab
//!   experiment) is paid by that client's thread, never the hub's. It answers the client
//!   itself ([`Reading::Reply`]), passes a typed [`Input`] on to its app on the hub
//!   ([`Reading::Hub`]), or asks the server to close the connection ([`Reading::Close`]).
//!
//! ```text
//!  reader thread                          hub thread
//!  message ─▶ Session::read ─Hub(input)─▶ App::message ─▶ [Output] ─▶ encode once ─▶ outboxes
//!                  └─Reply(message)─▶ the client's own socket
//! ```
//!
//! Apps never see a frame, a socket or a thread: every method here is a plain function of its
//! arguments, which is how the apps' unit tests drive them.

use super::clients::{ClientId, Recipients};
use super::directory::Directory;
use super::endpoint::Endpoint;
use super::input::Input;
use crate::protocol::Message;

/// What an app asks the hub to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver `message` to `to`: encoded once (and compressed once per compression setting),
    /// the same bytes shared by every recipient.
    Send {
        /// The recipients.
        to: Recipients,
        /// The message.
        message: Message,
    },
    /// Like [`Output::Send`], for a relay that may leave in the same write as the relays just
    /// before it to the same recipients (the hub's broadcast sweep).
    Relay {
        /// The recipients, in order.
        to: Vec<ClientId>,
        /// The message, relayed verbatim.
        message: Message,
    },
    /// The Inspector `inspector` watches `target` from now on (and nothing it watched before).
    Watch {
        /// The watching connection.
        inspector: ClientId,
        /// The watched connection.
        target: ClientId,
    },
    /// The Inspector `inspector` stops watching.
    Unwatch {
        /// The watching connection.
        inspector: ClientId,
    },
    /// A line on the server's console (a tutorial's `console.log`).
    Console(String),
}

impl Output {
    /// A Text message to one client.
    pub fn text_to(id: ClientId, text: impl Into<String>) -> Self {
        Self::Send {
            to: Recipients::One(id),
            message: Message::Text(text.into()),
        }
    }
}

/// What the hub hands an app with every call.
pub struct Context<'a> {
    /// The hub's clock, milliseconds since the Unix epoch.
    pub now_ms: u64,
    /// The server's registry of connections.
    pub directory: &'a dyn Directory,
}

/// What `POST /publish/<channel>` did in one app.
#[derive(Debug, Default)]
pub struct Published {
    /// What to deliver.
    pub outputs: Vec<Output>,
    /// How many clients receive the published message.
    pub recipients: usize,
}

/// Why `POST /publish/<channel>` was not delivered, each with its HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// No app publishes to the channel: it does not exist (and `--publish-creates` is off):
    /// 404. Creating channels on demand would let any publisher fill the channel cap.
    UnknownChannel(String),
    /// An app refused the publish (an invalid channel name or text, the channel cap): 400.
    Refused(String),
    /// The server is shutting down and delivers nothing new: 503.
    ShuttingDown,
}

impl PublishError {
    /// The HTTP status that answers it.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownChannel(_) => 404,
            Self::Refused(_) => 400,
            Self::ShuttingDown => 503,
        }
    }
}

impl std::fmt::Display for PublishError {
    /// The one-line reason, as the HTTP answer's body says it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownChannel(channel) => write!(f, "no channel {channel:?}"),
            Self::Refused(why) => f.write_str(why),
            Self::ShuttingDown => f.write_str("the server is shutting down"),
        }
    }
}

impl std::error::Error for PublishError {}

/// An app's shared state, on the hub thread. Every method has a default that does nothing, so
/// an app implements only what it takes part in.
pub trait App: Send {
    /// `id` upgraded at `endpoint`, one of this app's.
    fn join(&mut self, _cx: &Context<'_>, _id: ClientId, _endpoint: &Endpoint) -> Vec<Output> {
        Vec::new()
    }

    /// A message from `id`, read by its [`Session`] on the client's own thread.
    fn message(&mut self, _cx: &Context<'_>, _id: ClientId, _input: Input) -> Vec<Output> {
        Vec::new()
    }

    /// `id`, one of this app's clients, left (for any reason).
    fn leave(&mut self, _cx: &Context<'_>, _id: ClientId) -> Vec<Output> {
        Vec::new()
    }

    /// The hub's clock ticked, once a second: for work coalesced over an interval (a large
    /// chat room's count).
    fn tick(&mut self, _cx: &Context<'_>) -> Vec<Output> {
        Vec::new()
    }

    /// The `--notify-every` timer fired.
    fn timer(&mut self, _cx: &Context<'_>) -> Vec<Output> {
        Vec::new()
    }

    /// `POST /publish/<channel>`: `None` when the channel is none of this app's business (if
    /// no app takes it, the publish is [`PublishError::UnknownChannel`]).
    ///
    /// # Errors
    ///
    /// The reason the publish is refused, as a line of text for the HTTP answer.
    fn publish(
        &mut self,
        _cx: &Context<'_>,
        _channel: &str,
        _text: &str,
    ) -> Option<Result<Published, String>> {
        None
    }
}

/// What a [`Session`] made of one whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Send this back to the client, from its own thread (an echo, a lab report, an error).
    Reply(Message),
    /// Hand this to the app on the hub.
    Hub(Input),
    /// Close the connection with 1008 Policy Violation (§7.4.1) for this reason: the client
    /// kept sending past its rate limit.
    Close(String),
    /// Nothing to do (a server-push endpoint ignores what its clients send).
    Nothing,
}

/// One connection's side of an app, on the connection's reader thread.
pub trait Session: Send {
    /// Reads one whole message (§5.6; Text already checked as UTF-8, §8.1).
    fn read(&mut self, message: Message) -> Reading;
}
