//! Seed 004, "자바스크립트 웹 소켓을 활용한 채팅 기능", 예제 코드: one `ws` server on port 3000.
//! The client sends `{"user":"John","content":"Hello, World!"}` on open and `JSON.parse`s
//! what arrives; the server logs `새로운 클라이언트가 연결되었습니다.` and
//! `새로운 메시지가 도착했습니다: …`, and sends each message to every *other* open client,
//! verbatim.
//!
//! Done properly: only a JSON object with a string `user` and a string `content` is relayed;
//! anything else is answered, to its sender alone, with `{"type":"error",…}` (which still has a
//! `user` and a `content`, so the tutorial's client can show it).

use serde_json::{json, Value};

use super::room::{Input, Output, Room};
use crate::app::ClientId;
use crate::protocol::Message;

/// `console.log('새로운 클라이언트가 연결되었습니다.')`.
pub fn connected() -> Vec<Output> {
    vec![Output::console("새로운 클라이언트가 연결되었습니다.")]
}

/// The message, verbatim, to everyone but its sender.
pub fn relay(room: &Room, id: ClientId, input: Input) -> Vec<Output> {
    let Input::Message(message) = input else {
        return Vec::new();
    };
    vec![Output::Send {
        to: room.others(id),
        message,
    }]
}

/// Checks for `{"user":"…","content":"…"}`.
pub fn read(message: Message) -> Input {
    let value: Option<Value> = serde_json::from_slice(message.as_bytes()).ok();
    let is_string = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name))
            .is_some_and(Value::is_string)
    };
    if value.as_ref().is_some_and(Value::is_object) && is_string("user") && is_string("content") {
        return Input::Message(message);
    }
    let why = if value.is_none() {
        "not JSON"
    } else {
        "not an object with a string \"user\" and a string \"content\""
    };
    Input::Invalid {
        error: json!({
            "type": "error",
            "user": "wsmith",
            "content": format!("error: {why}; send {{\"user\":\"John\",\"content\":\"Hello, World!\"}}"),
        })
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{console, texts_to};
    use super::super::{Tutorial, TutorialApp};
    use super::*;

    const JOHN: &str = r#"{"user":"John","content":"Hello, World!"}"#;

    #[test]
    fn a_chat_object_reaches_the_others_verbatim() {
        let mut app = TutorialApp::new(Tutorial::JsonRelay);
        assert_eq!(
            console(&app.connect(1)),
            ["새로운 클라이언트가 연결되었습니다."]
        );
        app.connect(2);
        let input = read(Message::Text(JOHN.into()));
        let line = input.console_line(Tutorial::JsonRelay);
        assert_eq!(line, Some(format!("새로운 메시지가 도착했습니다: {JOHN}")));
        let out = app.receive(1, input);
        assert_eq!(texts_to(&out, 2), [JOHN]);
        assert!(texts_to(&out, 1).is_empty());
    }

    #[test]
    fn anything_else_is_an_error_json_with_user_and_content() {
        for bad in [
            "hi",
            r#"{"user":"a"}"#,
            r#"{"user":1,"content":"x"}"#,
            r#"["user","content"]"#,
        ] {
            let Input::Invalid { error } = read(Message::Text(bad.into())) else {
                panic!("{bad} was accepted");
            };
            let value: Value = serde_json::from_str(&error).expect("the error is JSON");
            assert_eq!(value["type"], "error");
            assert!(value["content"].is_string() && value["user"].is_string());
        }
    }
}
