//! Seed 002, "Websocket 통신 실습", 기능/과제 1–3: Express serves the page (`front/index.html`)
//! on port 8000 and the `ws` server listens on 8001.
//!
//! - 과제 2: a 전송 button sends `Hello`; the server's console shows it.
//! - 과제 3: on every connect and disconnect, every client receives
//!   `새로운 유저 접속 [현재: X명]` / `유저 연결 해제 [현재: X명]` with the live count, and a
//!   name and message sent from the page are shown to every client.
//!
//! The tutorial leaves the wire format of 과제 3 open. Ours: the page sends
//! `{"name":N,"message":M}` and everyone receives the text `N: M`; any other message (the
//! 전송 button's `Hello`, or your own client's `N: M`) goes to everyone as it is. Text that
//! starts like a JSON object but is not one of ours gets one error line back.

use serde_json::Value;

use super::room::{Input, Output, Room};
use crate::protocol::Message;

/// `새로운 유저 접속 [현재: X명]` to everyone, the newcomer included.
pub fn joined(room: &Room) -> Vec<Output> {
    let line = format!("새로운 유저 접속 [현재: {}명]", room.len());
    vec![
        Output::console(line.clone()),
        Output::text(room.everyone(), line),
    ]
}

/// `유저 연결 해제 [현재: X명]` to everyone still connected.
pub fn left(room: &Room) -> Vec<Output> {
    let line = format!("유저 연결 해제 [현재: {}명]", room.len());
    let mut out = vec![Output::console(line.clone())];
    if !room.is_empty() {
        out.push(Output::text(room.everyone(), line));
    }
    out
}

/// A name and message as `N: M`, anything else as it is, to everyone.
pub fn said(room: &Room, input: Input) -> Vec<Output> {
    let message = match input {
        Input::Said { name, message } => Message::Text(format!("{name}: {message}")),
        Input::Message(message) => message,
        _ => return Vec::new(),
    };
    vec![Output::Send {
        to: room.everyone(),
        message,
    }]
}

/// Reads `{"name":N,"message":M}`; other text and binary messages are used whole.
pub fn read(message: Message) -> Input {
    let Message::Text(text) = &message else {
        return Input::Message(message);
    };
    if !text.trim_start().starts_with('{') {
        return Input::Message(message);
    }
    let value: Option<Value> = serde_json::from_str(text).ok();
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (field("name"), field("message")) {
        (Some(name), Some(message)) if !name.trim().is_empty() => Input::Said { name, message },
        _ => Input::Invalid {
            error: r#"오류: {"name":"이름","message":"메시지"} 형식이 아닙니다 (error: expected {"name":…,"message":…} with a non-empty name)"#
                .into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{console, text, texts_to};
    use super::super::{Tutorial, TutorialApp};
    use super::*;

    #[test]
    fn joins_and_leaves_reach_everyone_with_the_live_count() {
        let mut app = TutorialApp::new(Tutorial::HelloChat);
        assert_eq!(
            texts_to(&app.connect(1), 1),
            ["새로운 유저 접속 [현재: 1명]"]
        );
        let out = app.connect(2);
        assert_eq!(texts_to(&out, 1), ["새로운 유저 접속 [현재: 2명]"]);
        assert_eq!(texts_to(&out, 2), ["새로운 유저 접속 [현재: 2명]"]);
        let out = app.disconnect(1);
        assert_eq!(texts_to(&out, 2), ["유저 연결 해제 [현재: 1명]"]);
        assert_eq!(console(&app.disconnect(2)), ["유저 연결 해제 [현재: 0명]"]);
    }

    #[test]
    fn hello_is_on_the_console_and_a_name_and_message_reach_everyone() {
        let mut app = TutorialApp::new(Tutorial::HelloChat);
        app.connect(1);
        app.connect(2);
        let out = app.receive(1, text("Hello"));
        assert_eq!(texts_to(&out, 2), ["Hello"]);
        let hello = text("Hello").console_line(Tutorial::HelloChat);
        assert_eq!(hello.as_deref(), Some("received: Hello"));
        let said = read(Message::Text(r#"{"name":"철수","message":"안녕"}"#.into()));
        let line = said.console_line(Tutorial::HelloChat);
        assert_eq!(line.as_deref(), Some("received: 철수: 안녕"));
        let out = app.receive(1, said);
        assert_eq!(texts_to(&out, 1), ["철수: 안녕"]);
        assert_eq!(texts_to(&out, 2), ["철수: 안녕"]);
    }

    #[test]
    fn json_that_is_not_a_name_and_message_is_an_error() {
        for bad in [r#"{"name":"a"}"#, "{oops", r#"{"name":" ","message":"m"}"#] {
            assert!(
                matches!(read(Message::Text(bad.into())), Input::Invalid { .. }),
                "{bad}"
            );
        }
        assert_eq!(
            read(Message::Text("Hello".into())),
            Input::Message(Message::Text("Hello".into()))
        );
    }
}
