//! Seed 001, "4.2.4. 웹소켓과 실시간 통신": three servers on port 8080. Each logs
//! `Client connected` and `Client disconnected`; the client (`index.html`, an inline script)
//! sends `Hello Server!` on open and logs what comes back.
//!
//! - `server-received` (기본 WebSocket 서버, 연습문제 1–2): `Received message: …` on the
//!   console, `Server received: …` to the sender.
//! - `broadcast` (Broadcast 메시지, 연습문제 3): `Broadcast: …` to every open client, sender
//!   included.
//! - `channels` (채널 기반 멀티플렉싱, 연습문제 4): `{"type":"subscribe","channel":C}` sets the
//!   client's one channel and answers `Subscribed to channel: C`; `{"channel":C,"content":X}`
//!   sends `Channel C: X` to every client whose channel is C. Unlike the tutorial's two
//!   `message` handlers, a subscribe is not also published (`Channel C: undefined`), and JSON
//!   that does not parse is answered with an error line instead of crashing the process.

use serde_json::Value;

use super::room::{input_text, Input, Output, Room};
use crate::app::ClientId;
use crate::protocol::Message;

/// `console.log('Client connected')`.
pub fn connected() -> Vec<Output> {
    vec![Output::console("Client connected")]
}

/// `console.log('Client disconnected')`.
pub fn disconnected() -> Vec<Output> {
    vec![Output::console("Client disconnected")]
}

/// `Server received: …` to the sender.
pub fn server_received(id: ClientId, input: &Input) -> Vec<Output> {
    let message = input_text(input);
    vec![Output::text(
        vec![id],
        format!("Server received: {message}"),
    )]
}

/// `Broadcast: …` to every open client.
pub fn broadcast(room: &Room, input: &Input) -> Vec<Output> {
    let message = input_text(input);
    vec![Output::text(
        room.everyone(),
        format!("Broadcast: {message}"),
    )]
}

/// A subscribe moves the sender to its channel; a publish reaches that channel.
pub fn channels(room: &mut Room, id: ClientId, input: Input) -> Vec<Output> {
    match input {
        Input::Subscribe { channel } => {
            let reply = format!("Subscribed to channel: {channel}");
            room.subscribe(id, channel);
            vec![Output::text(vec![id], reply)]
        }
        Input::Publish { channel, content } => vec![Output::text(
            room.in_channel(&channel),
            format!("Channel {channel}: {content}"),
        )],
        _ => Vec::new(),
    }
}

const CHANNELS_USAGE: &str =
    r#"send {"type":"subscribe","channel":"news"} or {"channel":"news","content":"hi"}"#;

/// `JSON.parse(message)`, then the two shapes the tutorial's handlers look for.
pub fn read_channels(message: Message) -> Input {
    let invalid = |why: String| Input::Invalid {
        error: format!("Error: {why}; {CHANNELS_USAGE}"),
    };
    let value: Value = match serde_json::from_slice(message.as_bytes()) {
        Ok(value) => value,
        Err(e) => return invalid(format!("not JSON ({e})")),
    };
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    if value.get("type").and_then(Value::as_str) == Some("subscribe") {
        return match field("channel") {
            Some(channel) => Input::Subscribe { channel },
            None => invalid("a subscribe needs a string \"channel\"".into()),
        };
    }
    match (field("channel"), field("content")) {
        (Some(channel), Some(content)) => Input::Publish { channel, content },
        _ => invalid("a message needs a string \"channel\" and a string \"content\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{console, text, texts_to};
    use super::super::{Tutorial, TutorialApp};
    use super::*;

    fn json(s: &str) -> Input {
        read_channels(Message::Text(s.into()))
    }

    #[test]
    fn server_received_answers_the_sender_and_logs_three_lines() {
        let mut app = TutorialApp::new(Tutorial::ServerReceived);
        assert_eq!(console(&app.connect(1)), ["Client connected"]);
        app.connect(2);
        let out = app.receive(1, text("Hello Server!"));
        assert_eq!(texts_to(&out, 1), ["Server received: Hello Server!"]);
        assert!(texts_to(&out, 2).is_empty());
        assert_eq!(
            text("Hello Server!")
                .console_line(Tutorial::ServerReceived)
                .as_deref(),
            Some("Received message: Hello Server!")
        );
        assert_eq!(console(&app.disconnect(1)), ["Client disconnected"]);
    }

    #[test]
    fn broadcast_reaches_everyone_the_sender_included() {
        let mut app = TutorialApp::new(Tutorial::Broadcast);
        app.connect(1);
        app.connect(2);
        let out = app.receive(2, text("hi"));
        assert_eq!(texts_to(&out, 1), ["Broadcast: hi"]);
        assert_eq!(texts_to(&out, 2), ["Broadcast: hi"]);
    }

    #[test]
    fn channels_subscribe_answers_only_the_subscriber_and_is_not_published() {
        let mut app = TutorialApp::new(Tutorial::Channels);
        app.connect(1);
        app.connect(2);
        app.receive(2, json(r#"{"type":"subscribe","channel":"news"}"#));
        let out = app.receive(1, json(r#"{"type":"subscribe","channel":"news"}"#));
        assert_eq!(
            out,
            vec![Output::text(vec![1], "Subscribed to channel: news")]
        );
        let out = app.receive(1, json(r#"{"channel":"news","content":"extra"}"#));
        assert_eq!(out, vec![Output::text(vec![1, 2], "Channel news: extra")]);
    }

    #[test]
    fn channels_one_channel_per_client_and_other_channels_hear_nothing() {
        let mut app = TutorialApp::new(Tutorial::Channels);
        app.connect(1);
        app.connect(2);
        app.receive(1, json(r#"{"type":"subscribe","channel":"news"}"#));
        app.receive(1, json(r#"{"type":"subscribe","channel":"sports"}"#));
        app.receive(2, json(r#"{"type":"subscribe","channel":"news"}"#));
        let out = app.receive(1, json(r#"{"channel":"news","content":"x"}"#));
        assert_eq!(texts_to(&out, 2), ["Channel news: x"]);
        assert!(texts_to(&out, 1).is_empty());
    }

    #[test]
    fn channels_malformed_json_is_one_error_line() {
        for bad in [
            "{not json",
            r#"{"type":"subscribe"}"#,
            r#"{"channel":"news"}"#,
            r#"{"channel":1,"content":"x"}"#,
            "[]",
        ] {
            let Input::Invalid { error } = json(bad) else {
                panic!("{bad} was accepted");
            };
            assert!(
                error.starts_with("Error: ") && !error.contains('\n'),
                "{error}"
            );
        }
    }
}
