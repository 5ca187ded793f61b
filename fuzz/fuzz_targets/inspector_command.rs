//! The Inspector's commands (`InspectorCommand::parse`): JSON from a watcher's socket.
//!
//! Properties: no panic; an accepted command means what it says: written back as the JSON its
//! meaning is (`{"type":"watch","tap":…}`, `{"type":"watch","conn":…}`, `unwatch`, `list`), it
//! parses to the same command; an error quotes at most 64 characters of the input.
//!
//! Not asserted: that an error is one line, as `InspectorCommand::parse`'s doc says. serde's
//! reason quotes an unknown `type` as it was decoded, so `{"type":"a\nb"}` gives a reason with
//! a line break in it (seed `unknown_type_with_newline`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use wsmith::app::inspect::{InspectorCommand, Target};

/// The longest fixed text of an error, around the quoted part.
const MAX_ERROR_TEXT: usize = "not an inspector command: ".len() + 64 + 1;

fn to_json(command: &InspectorCommand) -> String {
    match command {
        InspectorCommand::Watch(Target::Token(token)) => json!({"type": "watch", "tap": token}),
        InspectorCommand::Watch(Target::Conn(id)) => json!({"type": "watch", "conn": id}),
        InspectorCommand::Unwatch => json!({"type": "unwatch"}),
        InspectorCommand::List => json!({"type": "list"}),
    }
    .to_string()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match InspectorCommand::parse(&text) {
        Ok(command) => {
            let written = to_json(&command);
            assert_eq!(
                InspectorCommand::parse(&written).as_ref(),
                Ok(&command),
                "{written}"
            );
        }
        Err(reason) => {
            assert!(
                reason.chars().count() <= MAX_ERROR_TEXT,
                "{reason:?} is too long"
            );
        }
    }
});
