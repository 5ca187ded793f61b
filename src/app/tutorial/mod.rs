//! `wsmith tutorial NAME`: the servers of the Korean tutorials our users follow, each exactly as
//! the tutorial's own client expects it, on wsmith's protocol core and hub.
//!
//! | name | seed | file |
//! |---|---|---|
//! | `welcome-echo`, `chat`, `notifications` | 000, "8.5. 웹 소켓과 실시간 통신" | [`seed_000`] |
//! | `server-received`, `broadcast`, `channels` | 001, "4.2.4. 웹소켓과 실시간 통신" | [`seed_001`] |
//! | `hello-chat` | 002, "Websocket 통신 실습" | [`seed_002`] |
//! | `relay` | 003, "WebSocket을 이용한 실시간 웹 애플리케이션 개발" | [`seed_003`] |
//! | `json-relay` | 004, "자바스크립트 웹 소켓을 활용한 채팅 기능" | [`seed_004`] |
//!
//! What the seeds share, the [`Input`] they read, the [`Output`]s they answer with and the
//! [`Room`] of who is connected, is in [`room`]; each seed imports it, and this module runs the
//! seeds (and reads each message for its seed, [`read`]).
//!
//! Each is an app like the others: it never sees a frame. The connection's reader turns a
//! whole message into an [`Input`] ([`read`], through its [`TutorialSession`];
//! the JSON of `channels`, `hello-chat` and `json-relay` is parsed there, off the hub), the hub
//! hands it to [`TutorialApp::receive`] and fans out the [`Output`]s. Where the tutorial's server is fragile (its `JSON.parse` throws on
//! bad input and takes the process down) ours answers the sender with one error line and keeps
//! the connection open.

pub mod catalog;
pub mod room;
pub mod seed_000;
pub mod seed_001;
pub mod seed_002;
pub mod seed_003;
pub mod seed_004;

pub use catalog::Tutorial;
pub use room::{as_text, Input, Output, Room};

use super::clients::{ClientId, Recipients};
use super::endpoint::Endpoint;
use super::seam::{self, App, Context, Reading, Session};
use crate::protocol::Message;

/// Reads `message` the way `tutorial`'s server does, and prints the line its
/// `ws.on('message')` logs. This runs on the connection's reader thread: a flood of messages
/// makes its sender's thread wait on the log, never the hub.
pub fn read(tutorial: Tutorial, message: Message) -> Input {
    let input = match tutorial {
        Tutorial::Channels => seed_001::read_channels(message),
        Tutorial::HelloChat => seed_002::read(message),
        Tutorial::JsonRelay => seed_004::read(message),
        _ => Input::Message(message),
    };
    if let Some(line) = input.console_line(tutorial) {
        log::info!(target: "tutorial", "{line}");
    }
    input
}

/// One tutorial's server: the state machine the hub runs, without threads or sockets.
#[derive(Debug)]
pub struct TutorialApp {
    tutorial: Tutorial,
    room: Room,
}

impl TutorialApp {
    /// Nobody connected yet.
    pub fn new(tutorial: Tutorial) -> Self {
        Self {
            tutorial,
            room: Room::default(),
        }
    }

    /// Which tutorial this is.
    pub fn tutorial(&self) -> Tutorial {
        self.tutorial
    }

    /// `wss.on('connection')`.
    pub fn connect(&mut self, id: ClientId) -> Vec<Output> {
        self.room.join(id);
        let room = &self.room;
        match self.tutorial {
            Tutorial::WelcomeEcho => seed_000::welcome(id),
            Tutorial::ServerReceived | Tutorial::Broadcast | Tutorial::Channels => {
                seed_001::connected()
            }
            Tutorial::HelloChat => seed_002::joined(room),
            Tutorial::Relay => seed_003::connected(),
            Tutorial::JsonRelay => seed_004::connected(),
            Tutorial::Chat | Tutorial::Notifications => Vec::new(),
        }
    }

    /// `ws.on('close')`. Nothing for a client that was not connected.
    pub fn disconnect(&mut self, id: ClientId) -> Vec<Output> {
        if !self.room.leave(id) {
            return Vec::new();
        }
        match self.tutorial {
            Tutorial::ServerReceived | Tutorial::Broadcast | Tutorial::Channels => {
                seed_001::disconnected()
            }
            Tutorial::HelloChat => seed_002::left(&self.room),
            _ => Vec::new(),
        }
    }

    /// `ws.on('message')`.
    pub fn receive(&mut self, id: ClientId, input: Input) -> Vec<Output> {
        if !self.room.contains(id) {
            return Vec::new();
        }
        if let Input::Invalid { error } = input {
            return vec![Output::text(vec![id], error)];
        }
        let room = &mut self.room;
        match self.tutorial {
            Tutorial::WelcomeEcho => seed_000::you_said(id, &input),
            Tutorial::Chat => seed_000::chat(room, &input),
            Tutorial::Notifications => Vec::new(), // its server has no message handler
            Tutorial::ServerReceived => seed_001::server_received(id, &input),
            Tutorial::Broadcast => seed_001::broadcast(room, &input),
            Tutorial::Channels => seed_001::channels(room, id, input),
            Tutorial::HelloChat => seed_002::said(room, input),
            Tutorial::Relay => seed_003::relay(room, id, input),
            Tutorial::JsonRelay => seed_004::relay(room, id, input),
        }
    }

    /// The `setInterval` timer fired (`notifications`; `--notify-every`, 5 s by default).
    pub fn tick(&mut self) -> Vec<Output> {
        match self.tutorial {
            Tutorial::Notifications => seed_000::notification(&self.room),
            _ => Vec::new(),
        }
    }
}

/// The tutorial's outputs as the hub's.
fn to_hub(outputs: Vec<Output>) -> Vec<seam::Output> {
    outputs
        .into_iter()
        .map(|output| match output {
            Output::Send { to, message } => seam::Output::Send {
                to: Recipients::Many(to),
                message,
            },
            Output::Console(line) => seam::Output::Console(line),
        })
        .collect()
}

impl App for TutorialApp {
    fn join(&mut self, _cx: &Context<'_>, id: ClientId, _endpoint: &Endpoint) -> Vec<seam::Output> {
        to_hub(self.connect(id))
    }

    fn message(
        &mut self,
        _cx: &Context<'_>,
        id: ClientId,
        input: super::Input,
    ) -> Vec<seam::Output> {
        match input {
            super::Input::Tutorial(input) => to_hub(self.receive(id, input)),
            _ => Vec::new(),
        }
    }

    fn leave(&mut self, _cx: &Context<'_>, id: ClientId) -> Vec<seam::Output> {
        to_hub(self.disconnect(id))
    }

    fn timer(&mut self, _cx: &Context<'_>) -> Vec<seam::Output> {
        to_hub(self.tick())
    }
}

/// The tutorial endpoint when no tutorial runs: nobody can reach it.
#[derive(Debug, Default)]
pub struct NoTutorial;

impl App for NoTutorial {}

/// One connection to a tutorial's server: its message read as that server reads it, on the
/// connection's own thread ([`read`]).
#[derive(Debug, Clone, Copy)]
pub struct TutorialSession(pub Tutorial);

impl Session for TutorialSession {
    fn read(&mut self, message: Message) -> Reading {
        Reading::Hub(super::Input::Tutorial(read(self.0, message)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The Text messages `outputs` send to `id`, in order.
    pub(crate) fn texts_to(outputs: &[Output], id: ClientId) -> Vec<String> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send {
                    to,
                    message: Message::Text(t),
                } if to.contains(&id) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The console lines of `outputs`.
    pub(crate) fn console(outputs: &[Output]) -> Vec<String> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Console(line) => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn text(s: &str) -> Input {
        Input::Message(Message::Text(s.into()))
    }

    #[test]
    fn a_client_that_never_connected_gets_nothing_and_leaves_nothing() {
        let mut app = TutorialApp::new(Tutorial::HelloChat);
        assert!(app.receive(9, text("hi")).is_empty());
        assert!(app.disconnect(9).is_empty());
    }

    #[test]
    fn the_reader_seam_types_a_tutorial_message_for_its_tutorial() {
        let input = TutorialSession(Tutorial::Channels).read(Message::Text("{bad".into()));
        assert!(matches!(
            input,
            Reading::Hub(crate::app::Input::Tutorial(Input::Invalid { .. }))
        ));
        let binary = Message::Binary(vec![1, 2]);
        assert_eq!(
            TutorialSession(Tutorial::Relay).read(binary.clone()),
            Reading::Hub(crate::app::Input::Tutorial(Input::Message(binary)))
        );
    }

    #[test]
    fn invalid_input_is_answered_to_its_sender_alone() {
        let mut app = TutorialApp::new(Tutorial::JsonRelay);
        app.connect(1);
        app.connect(2);
        let out = app.receive(
            1,
            Input::Invalid {
                error: "bad".into(),
            },
        );
        assert_eq!(out, vec![Output::text(vec![1], "bad")]);
    }
}
