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

pub mod broadcast;
pub mod chat;
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

pub use endpoint::{paths, Endpoint, SessionConfig, NAMES};
pub use input::Input;
pub use seam::{App, Context, Directory, Output, Published, Reading, Recipients, Session};

/// The id the server gave a connection; unique while the server runs. Every app, the hub, the
/// Inspector and the logs name a client by it.
pub type ClientId = u64;

/// How many characters of a peer's own input an error message may quote back.
const MAX_QUOTED_CHARS: usize = 64;

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, so an error never echoes a long input.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// What the hub's apps take from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct AppsConfig {
    /// `--history`: messages kept per chat channel.
    pub history: usize,
    /// This run of the server (its start time in ms): chat's `epoch`.
    pub epoch: u64,
    /// `wsmith tutorial NAME`: the tutorial whose server runs, if one does.
    pub tutorial: Option<tutorial::Tutorial>,
}

/// The hub's apps, one per entry of [`NAMES`], in that order ([`Endpoint::index`]).
pub fn apps(config: &AppsConfig) -> Vec<Box<dyn App>> {
    let chat = chat::Chat::new(chat::ChatConfig {
        history_limit: config.history,
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
