//! `/inspect`: the Inspector's commands. A watcher names a connection by the `tap=` token from
//! its URL (anyone who knows the token may watch it) or, from loopback only, by its id.
//!
//! | client → server | meaning |
//! |---|---|
//! | `{"type":"watch","tap":"TOKEN"}` | watch the connection whose URL carried `tap=TOKEN` |
//! | `{"type":"watch","conn":17}` | watch connection 17 (loopback inspectors only: it shows someone else's traffic) |
//! | `{"type":"unwatch"}` | stop watching |
//! | `{"type":"list"}` | list connections (loopback only) |
//!
//! The server answers with `attached`, then `frame` and `close` events, `detached`,
//! `connections` or `error` (see README, "Inspector").
//!
//! The access rules live in `commands.rs` ([`InspectorCommand::decide`]); the server only
//! carries out the [`Output::Watch`] and [`Output::Unwatch`] they lead to (attaching the tap is
//! server work).

mod commands;

pub use commands::{read_command, Decision, InspectorCommand, Target};

use super::clients::ClientId;
use super::directory::Directory;
use super::input::Input;
use super::seam::{App, Context, Output, Reading, Session};
use crate::explain::inspector::{ConnectionSummary, InspectorEvent};
use crate::protocol::Message;

/// The Inspector on the hub: its commands' rules, and the `connections` list.
#[derive(Debug, Default)]
pub struct Inspector;

impl App for Inspector {
    fn message(&mut self, cx: &Context<'_>, id: ClientId, input: Input) -> Vec<Output> {
        let Input::Inspect(command) = input else {
            return Vec::new();
        };
        match command.and_then(|command| command.decide(id, cx.directory)) {
            Ok(Decision::Watch(target)) => vec![Output::Watch {
                inspector: id,
                target,
            }],
            Ok(Decision::Unwatch) => vec![Output::Unwatch { inspector: id }],
            Ok(Decision::List(ids)) => vec![Output::text_to(id, list(&ids, cx.directory))],
            Err(message) => {
                let error = InspectorEvent::Error {
                    error: None,
                    message: &message,
                };
                vec![Output::text_to(id, error.to_json().to_string())]
            }
        }
    }
}

/// The `connections` answer: each connection's id, endpoint, address and whether it is tapped
/// or watched.
fn list(ids: &[ClientId], directory: &dyn Directory) -> String {
    let connections = ids
        .iter()
        .filter_map(|&id| directory.describe(id).map(|info| (id, info)))
        .map(|(conn, info)| ConnectionSummary {
            conn,
            endpoint: info.endpoint,
            peer: info.peer.map(|p| p.to_string()),
            tapped: info.tapped,
            watched: info.watched,
        })
        .collect();
    InspectorEvent::Connections { connections }
        .to_json()
        .to_string()
}

/// One `/inspect` connection: its commands are parsed here, then carried out on the hub.
#[derive(Debug, Default)]
pub struct InspectorSession;

impl Session for InspectorSession {
    fn read(&mut self, message: Message) -> Reading {
        Reading::Hub(Input::Inspect(read_command(&message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::directory::ConnectionInfo;
    use crate::app::endpoint::Endpoint;

    /// Connections as (id, endpoint, from loopback, tap token).
    struct Fake(Vec<(ClientId, Endpoint, bool, Option<&'static str>)>);

    impl Directory for Fake {
        fn endpoint(&self, id: ClientId) -> Option<&Endpoint> {
            self.0.iter().find(|c| c.0 == id).map(|c| &c.1)
        }
        fn is_loopback(&self, id: ClientId) -> bool {
            self.0.iter().any(|c| c.0 == id && c.2)
        }
        fn carrying_token(&self, token: &str) -> Vec<ClientId> {
            self.0
                .iter()
                .filter(|c| c.3 == Some(token))
                .map(|c| c.0)
                .collect()
        }
        fn ids(&self) -> Vec<ClientId> {
            self.0.iter().map(|c| c.0).collect()
        }
        fn describe(&self, id: ClientId) -> Option<ConnectionInfo> {
            let c = self.0.iter().find(|c| c.0 == id)?;
            Some(ConnectionInfo {
                endpoint: c.1.name(),
                peer: None,
                tapped: c.3.is_some(),
                watched: false,
            })
        }
    }

    /// Inspector 1 (loopback) and 2 (remote); echo clients 5 and 3 carry token "t", 4 none.
    fn server() -> Fake {
        Fake(vec![
            (1, Endpoint::Inspect, true, None),
            (2, Endpoint::Inspect, false, None),
            (5, Endpoint::Echo, false, Some("t")),
            (3, Endpoint::Echo, false, Some("t")),
            (4, Endpoint::Notifications, false, None),
            (6, Endpoint::Inspect, false, Some("i")),
        ])
    }

    fn decide(inspector: ClientId, command: InspectorCommand) -> Result<Decision, String> {
        command.decide(inspector, &server())
    }

    fn watch_token(token: &str) -> InspectorCommand {
        InspectorCommand::Watch(Target::Token(token.into()))
    }

    #[test]
    fn a_bad_command_is_never_echoed_at_length() {
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(10_000));
        let error = InspectorCommand::parse(&long).err().unwrap_or_default();
        assert!(error.starts_with("not an inspector command: "), "{error}");
        assert!(error.chars().count() < 120, "{error}");
    }

    #[test]
    fn a_token_names_its_newest_connection_for_anyone() {
        assert_eq!(decide(2, watch_token("t")), Ok(Decision::Watch(5)));
        assert_eq!(
            decide(2, watch_token("nope")),
            Err("no connection carries that tap token".into())
        );
    }

    #[test]
    fn watching_by_id_is_for_loopback_inspectors_only() {
        let by_id = InspectorCommand::Watch(Target::Conn(4));
        assert_eq!(decide(1, by_id.clone()), Ok(Decision::Watch(4)));
        assert_eq!(
            decide(2, by_id),
            Err("watching a connection by id is allowed from loopback only".into())
        );
        assert_eq!(
            decide(1, InspectorCommand::Watch(Target::Conn(99))),
            Err("no such connection".into())
        );
    }

    #[test]
    fn an_inspectors_connection_cannot_be_watched() {
        let refused = Err("an inspector's own connection cannot be watched".to_owned());
        assert_eq!(decide(1, InspectorCommand::Watch(Target::Conn(1))), refused);
        assert_eq!(decide(1, InspectorCommand::Watch(Target::Conn(2))), refused);
        assert_eq!(decide(2, watch_token("i")), refused);
    }

    #[test]
    fn listing_is_for_loopback_and_leaves_inspectors_out_in_id_order() {
        assert_eq!(
            decide(1, InspectorCommand::List),
            Ok(Decision::List(vec![3, 4, 5]))
        );
        assert_eq!(
            decide(2, InspectorCommand::List),
            Err("listing connections is allowed from loopback only".into())
        );
    }

    #[test]
    fn unwatch_is_always_allowed() {
        assert_eq!(decide(2, InspectorCommand::Unwatch), Ok(Decision::Unwatch));
    }

    #[test]
    fn the_app_answers_a_list_and_an_error_to_the_inspector_alone() {
        let directory = server();
        let cx = Context {
            now_ms: 0,
            directory: &directory,
        };
        let outputs = Inspector.message(&cx, 1, Input::Inspect(Ok(InspectorCommand::List)));
        let [Output::Send { to, message }] = outputs.as_slice() else {
            panic!("one answer expected: {outputs:?}");
        };
        assert_eq!(to.as_slice(), [1]);
        let Message::Text(text) = message else {
            panic!("a text answer expected");
        };
        assert!(text.starts_with(r#"{"connections":[{"conn":3,"#), "{text}");
        let refused = Inspector.message(&cx, 2, Input::Inspect(Ok(InspectorCommand::List)));
        assert_eq!(
            refused,
            [Output::text_to(
                2,
                r#"{"message":"listing connections is allowed from loopback only","type":"error"}"#
            )]
        );
        let watch = InspectorCommand::Watch(Target::Conn(4));
        assert_eq!(
            Inspector.message(&cx, 1, Input::Inspect(Ok(watch))),
            [Output::Watch {
                inspector: 1,
                target: 4
            }]
        );
    }

    #[test]
    fn the_session_parses_text_and_refuses_binary() {
        let watch = Message::Text(r#"{"type":"watch","conn":3}"#.into());
        assert_eq!(
            InspectorSession.read(watch),
            Reading::Hub(Input::Inspect(Ok(InspectorCommand::Watch(Target::Conn(3)))))
        );
        assert!(matches!(
            InspectorSession.read(Message::Binary(vec![])),
            Reading::Hub(Input::Inspect(Err(_)))
        ));
    }

    #[test]
    fn commands_are_parsed() {
        assert_eq!(
            InspectorCommand::parse(r#"{"type":"watch","tap":"ab12"}"#),
            Ok(InspectorCommand::Watch(Target::Token("ab12".into())))
        );
        assert_eq!(
            InspectorCommand::parse(r#"{"type":"watch","conn":17}"#),
            Ok(InspectorCommand::Watch(Target::Conn(17)))
        );
        assert_eq!(
            InspectorCommand::parse(r#"{"type":"list"}"#),
            Ok(InspectorCommand::List)
        );
        assert!(InspectorCommand::parse(r#"{"type":"watch"}"#).is_err());
        assert!(InspectorCommand::parse("hello").is_err());
    }
}
