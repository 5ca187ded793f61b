//! The seam between a connection's reader thread and the hub: a whole message (§5.6, its UTF-8
//! already checked by §8.1) becomes what its endpoint's app reads, on the reader's own thread.
//! The hub only ever sees the result, so it never parses a client's JSON: a heavy or malformed
//! message costs its sender's thread, not everyone's.

use super::chat::{ChatConfig, ChatError, ClientCommand};
use super::inspect::InspectorCommand;
use super::Endpoint;
use crate::protocol::Message;

/// A client's message, typed for the app of the endpoint it came in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `/broadcast`: the message itself, relayed verbatim (same type, same bytes).
    Broadcast(Message),
    /// `/chat`: a command, or why it was refused (answered with an `error` event).
    Chat(Result<ClientCommand, ChatError>),
    /// `/inspect`: a command, or why it was refused (answered with an `error` event).
    Inspect(Result<InspectorCommand, String>),
    /// `wsmith tutorial NAME`: the message as that tutorial's server reads it.
    Tutorial(super::tutorial::Input),
    /// `/echo` and `/lab` (answered by the reader itself) and `/notifications` (server push
    /// only): nothing for an app to do.
    Ignored,
}

impl Input {
    /// Reads `message` as the app at `endpoint` expects it. Sizes are checked before parsing
    /// ([`ClientCommand::parse`]).
    pub fn from_message(endpoint: &Endpoint, message: Message) -> Self {
        match endpoint {
            Endpoint::Broadcast { .. } => Self::Broadcast(message),
            Endpoint::Chat { .. } => Self::Chat(match &message {
                Message::Text(text) => {
                    ClientCommand::parse(text, ChatConfig::default().max_text_bytes)
                }
                Message::Binary(_) => Err(ChatError::BinaryUnsupported),
            }),
            Endpoint::Inspect => Self::Inspect(match &message {
                Message::Text(text) => InspectorCommand::parse(text),
                Message::Binary(_) => Err("inspector commands are JSON text".into()),
            }),
            Endpoint::Tutorial(tutorial) => {
                Self::Tutorial(super::tutorial::Input::read(*tutorial, message))
            }
            Endpoint::Echo | Endpoint::Notifications | Endpoint::Lab => Self::Ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::inspect::Target;

    fn chat() -> Endpoint {
        Endpoint::Chat { query: None }
    }

    #[test]
    fn broadcast_keeps_the_message_as_it_is() {
        let endpoint = Endpoint::Broadcast { include_self: true };
        let binary = Message::Binary(vec![0, 1, 2]);
        assert_eq!(
            Input::from_message(&endpoint, binary.clone()),
            Input::Broadcast(binary)
        );
    }

    #[test]
    fn chat_text_becomes_a_command_and_plain_text_a_message_to_general() {
        assert_eq!(
            Input::from_message(&chat(), Message::Text(r#"{"type":"ping"}"#.into())),
            Input::Chat(Ok(ClientCommand::Ping))
        );
        assert_eq!(
            Input::from_message(&chat(), Message::Text("hi".into())),
            Input::Chat(Ok(ClientCommand::Message {
                channel: "general".into(),
                text: "hi".into()
            }))
        );
    }

    #[test]
    fn a_mebibyte_of_json_to_chat_is_refused_unparsed_on_the_reader() {
        // Malformed past the `{`: a JSON parser would answer `bad_json`, so `text_too_long`
        // shows the size check refused it before any parsing (and before the hub).
        let huge = format!("{{{}", " ".repeat(1024 * 1024));
        let Input::Chat(Err(error)) = Input::from_message(&chat(), Message::Text(huge)) else {
            panic!("a 1 MiB chat command must be refused");
        };
        assert!(
            matches!(error, ChatError::CommandTooLong { .. }),
            "{error:?}"
        );
        assert_eq!(error.code(), "text_too_long");
    }

    #[test]
    fn chat_binary_is_refused() {
        assert_eq!(
            Input::from_message(&chat(), Message::Binary(vec![1])),
            Input::Chat(Err(ChatError::BinaryUnsupported))
        );
    }

    #[test]
    fn inspector_text_becomes_a_command_and_binary_is_refused() {
        let watch = Message::Text(r#"{"type":"watch","conn":3}"#.into());
        assert_eq!(
            Input::from_message(&Endpoint::Inspect, watch),
            Input::Inspect(Ok(InspectorCommand::Watch(Target::Conn(3))))
        );
        assert!(matches!(
            Input::from_message(&Endpoint::Inspect, Message::Binary(vec![])),
            Input::Inspect(Err(_))
        ));
    }

    #[test]
    fn echo_and_notifications_give_the_hub_nothing_to_do() {
        for endpoint in [Endpoint::Echo, Endpoint::Notifications] {
            assert_eq!(
                Input::from_message(&endpoint, Message::Text("x".into())),
                Input::Ignored
            );
        }
    }
}
