//! Seed 000, "8.5. 웹 소켓과 실시간 통신": three `server.js` files on port 8080, each opened by a
//! `client.js` from an `index.html` (ids `messageInput`, `sendButton`, `messages`,
//! `notifications`).
//!
//! - `welcome-echo` (기본 사용법, 연습문제 1): `ws.send('Welcome to the WebSocket server!')` on
//!   connect; `console.log(`Received message => ${message}`)` and
//!   `ws.send(`You said: ${message}`)` for each message.
//! - `chat` (채팅 애플리케이션, 연습문제 2): each message to every open client, sender included,
//!   verbatim.
//! - `notifications` (실시간 알림 시스템, 연습문제 3): `setInterval(…, 5000)` sends
//!   `This is a real-time notification` to every open client.

use super::room::{input_text, Input, Output, Room};
use crate::app::ClientId;

/// `ws.send('Welcome to the WebSocket server!')`, to the new client only.
pub fn welcome(id: ClientId) -> Vec<Output> {
    vec![Output::text(vec![id], "Welcome to the WebSocket server!")]
}

/// `You said: …` to the sender alone.
pub fn you_said(id: ClientId, input: &Input) -> Vec<Output> {
    vec![Output::text(
        vec![id],
        format!("You said: {}", input_text(input)),
    )]
}

/// `client.send(message)` for every open client: the same type and bytes, the sender's too.
pub fn chat(room: &Room, input: &Input) -> Vec<Output> {
    match input {
        Input::Message(message) => vec![Output::Send {
            to: room.everyone(),
            message: message.clone(),
        }],
        _ => Vec::new(),
    }
}

/// `sendNotification('This is a real-time notification')`, as plain text, to everyone.
pub fn notification(room: &Room) -> Vec<Output> {
    if room.is_empty() {
        return Vec::new();
    }
    vec![Output::text(
        room.everyone(),
        "This is a real-time notification",
    )]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{text, texts_to};
    use super::super::{Tutorial, TutorialApp};
    use super::*;
    use crate::protocol::Message;

    #[test]
    fn welcome_echo_welcomes_then_says_you_said_to_the_sender_only() {
        let mut app = TutorialApp::new(Tutorial::WelcomeEcho);
        assert_eq!(
            texts_to(&app.connect(1), 1),
            ["Welcome to the WebSocket server!"]
        );
        assert!(texts_to(&app.connect(2), 1).is_empty());
        let out = app.receive(1, text("hi"));
        assert_eq!(texts_to(&out, 1), ["You said: hi"]);
        assert!(texts_to(&out, 2).is_empty());
        assert_eq!(
            text("hi").console_line(Tutorial::WelcomeEcho).as_deref(),
            Some("Received message => hi")
        );
    }

    #[test]
    fn chat_relays_verbatim_to_everyone_the_sender_included() {
        let mut app = TutorialApp::new(Tutorial::Chat);
        assert!(app.connect(1).is_empty());
        app.connect(2);
        let binary = Message::Binary(vec![0, 255]);
        let out = app.receive(2, Input::Message(binary.clone()));
        assert_eq!(
            out,
            vec![Output::Send {
                to: vec![1, 2],
                message: binary
            }]
        );
    }

    #[test]
    fn notifications_reach_everyone_as_plain_text_and_messages_are_ignored() {
        let mut app = TutorialApp::new(Tutorial::Notifications);
        assert!(app.tick().is_empty());
        app.connect(1);
        app.connect(2);
        let out = app.tick();
        assert_eq!(texts_to(&out, 1), ["This is a real-time notification"]);
        assert_eq!(texts_to(&out, 2), ["This is a real-time notification"]);
        assert!(app.receive(1, text("hi")).is_empty());
    }
}
