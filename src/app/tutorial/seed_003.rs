//! Seed 003, "WebSocket을 이용한 실시간 웹 애플리케이션 개발", *Create a real-time chat
//! application*: Express serves `index.html` at `/` on port 3000 (ids `input`, `send`,
//! `messages`), the `ws` server on port 8080 logs `client connected` and `received: %s`, and
//! sends each message to every *other* open client (`client !== ws`), verbatim.

use super::room::{Input, Output, Room};
use crate::app::ClientId;

/// `console.log("client connected")`.
pub fn connected() -> Vec<Output> {
    vec![Output::console("client connected")]
}

/// The message to everyone but its sender.
pub fn relay(room: &Room, id: ClientId, input: Input) -> Vec<Output> {
    let Input::Message(message) = input else {
        return Vec::new();
    };
    vec![Output::Send {
        to: room.others(id),
        message,
    }]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{console, text, texts_to};
    use super::super::{Tutorial, TutorialApp};

    #[test]
    fn relay_leaves_the_sender_out() {
        let mut app = TutorialApp::new(Tutorial::Relay);
        assert_eq!(console(&app.connect(1)), ["client connected"]);
        app.connect(2);
        app.connect(3);
        let out = app.receive(2, text("hi"));
        assert_eq!(texts_to(&out, 1), ["hi"]);
        assert_eq!(texts_to(&out, 3), ["hi"]);
        assert!(texts_to(&out, 2).is_empty());
        let line = text("hi").console_line(Tutorial::Relay);
        assert_eq!(line.as_deref(), Some("received: hi"));
    }
}
