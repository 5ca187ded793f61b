//! The apps people run on wsmith, written against whole messages and hub calls, never frames.
//!
//! | path | app | what it does |
//! |---|---|---|
//! | `/echo` | [`echo`] | sends every message back, same type, same bytes |
//! | `/broadcast`, `/` | [`broadcast`] | relays every message to every client of the endpoint |
//! | `/chat` | [`chat`] | names, presence, channels, history and recovery, as JSON |
//! | `/notifications` | [`notifications`] | server-pushed events only |
//! | `/inspect` | [`inspect`] | the Inspector: watch another connection's frames |
//! | any path, under `wsmith tutorial NAME` | [`tutorial`] | the server of a seed tutorial |
//! | `/lab` | [`lab`] | the frame lab: bytes you built, judged by a fresh protocol core; answered on the connection's own thread |
//!
//! Every app meets the server at one seam ([`seam`]): an [`App`] on the hub thread, which owns
//! the app's shared state and answers with [`Output`]s, and a [`Session`] on each connection's
//! reader thread, which reads the client's messages first (parsing, rate limits, replies), so
//! that the hub never parses a client's bytes. [`endpoint`] routes a path to its app.
//!
//! This module is the one place that names every app: [`apps`] makes the hub's, one per
//! endpoint, and [`Endpoint::session`] each connection's. Below it the files depend one way:
//! each app imports the seam; the seam imports [`endpoint`] and [`input`], which name each app's
//! own vocabulary (its query, its commands) and nothing that imports the seam; [`clients`] is
//! at the bottom.

pub mod broadcast;
pub mod chat;
pub mod clients;
pub mod directory;
pub mod echo;
pub mod endpoint;
pub mod input;
pub mod inspect;
pub mod lab;
pub mod notifications;
pub mod query;
pub mod rate;
pub mod seam;
pub mod tutorial;

use std::time::Instant;

pub use clients::{ClientId, Recipients};
pub use directory::{ConnectionInfo, Directory};
pub use endpoint::{paths, Endpoint, NAMES};
pub use input::Input;
pub use seam::{App, Context, Output, PublishError, Published, Reading, Session};

use crate::protocol::Limits;
use chat::ChatSession;
use lab::{LabLimits, LabSession};
use rate::Limited;
use tutorial::TutorialSession;

/// What the hub's apps take from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct AppsConfig {
    /// `--history`: messages kept per chat channel.
    pub history: usize,
    /// `--publish-creates`: `POST /publish` to an unknown channel creates it.
    pub publish_creates: bool,
    /// `--max-replay-bytes`: the most bytes of messages in one chat history replay.
    pub max_replay_bytes: usize,
    /// `--presence-lines-below`: the room size from which presence is coalesced.
    pub presence_lines_below: usize,
    /// This run of the server (its start time in ms): chat's `epoch`.
    pub epoch: u64,
    /// `wsmith tutorial NAME`: the tutorial whose server runs, if one does.
    pub tutorial: Option<tutorial::Tutorial>,
}

/// The hub's apps, one per entry of [`NAMES`], in that order ([`Endpoint::index`]).
pub fn apps(config: &AppsConfig) -> Vec<Box<dyn App>> {
    let chat = chat::Chat::new(chat::ChatConfig {
        history_limit: config.history,
        publish_creates: config.publish_creates,
        presence_lines_below: config.presence_lines_below,
        max_replay_bytes: config.max_replay_bytes,
        epoch: config.epoch,
        ..chat::ChatConfig::default()
    });
    let apps: [Box<dyn App>; NAMES.len()] = [
        Box::new(echo::Echo),
        Box::new(broadcast::Broadcast::new()),
        Box::new(chat),
        Box::new(notifications::Notifications::new()),
        Box::new(inspect::Inspector),
        Box::new(lab::Lab),
        match config.tutorial {
            Some(tutorial) => Box::new(tutorial::TutorialApp::new(tutorial)),
            None => Box::new(tutorial::NoTutorial),
        },
    ];
    apps.into()
}

/// What the sessions take from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// `--rate-limit`: chat and `/notifications` messages a second.
    pub rate_limit: u32,
    /// `--inspect-rate`: `/inspect` commands a second.
    pub inspect_rate: u32,
    /// The lab's own limits.
    pub lab: LabLimits,
    /// The server's protocol limits (`--max-message-size`, …).
    pub limits: Limits,
    /// `--max-chat-message-size`: the largest message (and frame) on the JSON endpoints.
    pub max_json_message: u64,
}

/// A connection's side of its endpoint, chosen at the upgrade. These methods live here rather
/// than in [`endpoint`] because they name every app's session, and the apps import `endpoint`.
impl Endpoint {
    /// The protocol limits of a connection here, chosen at the upgrade: endpoints that take
    /// JSON commands get `--max-chat-message-size` (frames too), so a large message is refused
    /// from its frame header before any of it is read (§10.4).
    pub fn limits(&self, config: &SessionConfig) -> Limits {
        let server = config.limits;
        match self {
            // A tutorial's server is Node's `ws`, whose limit is large too.
            Self::Echo | Self::Broadcast { .. } | Self::Tutorial(_) => server,
            Self::Lab => config.lab.connection_limits(server),
            Self::Chat { .. } | Self::Inspect | Self::Notifications => Limits {
                max_frame_size: server.max_frame_size.min(config.max_json_message),
                max_message_size: server.max_message_size.min(config.max_json_message),
                ..server
            },
        }
    }

    /// A new connection's [`Session`]: how its reader thread reads each of its messages.
    pub fn session(&self, config: &SessionConfig, now: Instant) -> Box<dyn Session> {
        match self {
            Self::Echo => Box::new(echo::EchoSession),
            Self::Broadcast { .. } => Box::new(broadcast::BroadcastSession),
            Self::Chat { .. } => Box::new(ChatSession::new(config.rate_limit, now)),
            Self::Notifications => Box::new(Limited::new(
                notifications::NotificationsSession,
                config.rate_limit,
                now,
            )),
            Self::Inspect => Box::new(Limited::new(
                inspect::InspectorSession,
                config.inspect_rate,
                now,
            )),
            Self::Lab => Box::new(LabSession::new(config.lab, config.limits, now)),
            Self::Tutorial(tutorial) => Box::new(TutorialSession(*tutorial)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_endpoints_get_the_smaller_message_limit() {
        let config = SessionConfig {
            rate_limit: 20,
            inspect_rate: 5,
            lab: LabLimits::default(),
            limits: Limits::default(),
            max_json_message: 1000,
        };
        let chat = Endpoint::route("/chat", None)
            .expect("chat")
            .limits(&config);
        assert_eq!(chat.max_message_size, 1000);
        assert_eq!(chat.max_frame_size, 1000);
        assert_eq!(Endpoint::Inspect.limits(&config), chat);
        assert_eq!(Endpoint::Echo.limits(&config), config.limits);
    }
}
