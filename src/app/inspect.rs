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
//! The access rules live here ([`InspectorCommand::decide`]); the hub only carries out the
//! [`Decision`] (attaching the tap is server work).

use serde::Deserialize;

use super::{quote, ClientId, Endpoint};

/// Which connection to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// By the `tap=` token of its URL.
    Token(String),
    /// By id (loopback only).
    Conn(ClientId),
}

/// A command from an Inspector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InspectorCommand {
    /// Start watching (replacing any previous watch).
    Watch(Target),
    /// Stop watching.
    Unwatch,
    /// List the connections.
    List,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    Watch {
        tap: Option<String>,
        conn: Option<ClientId>,
    },
    Unwatch,
    List,
}

impl InspectorCommand {
    /// Reads one command.
    ///
    /// # Errors
    ///
    /// A one-line reason for text that is not one of the commands above.
    pub fn parse(text: &str) -> Result<Self, String> {
        match serde_json::from_str::<Wire>(text)
            .map_err(|e| format!("not an inspector command: {}", quote(&e.to_string())))?
        {
            Wire::Watch {
                tap: Some(token),
                conn: None,
            } => Ok(Self::Watch(Target::Token(token))),
            Wire::Watch {
                tap: None,
                conn: Some(conn),
            } => Ok(Self::Watch(Target::Conn(conn))),
            Wire::Watch { .. } => Err("watch needs exactly one of \"tap\" or \"conn\"".into()),
            Wire::Unwatch => Ok(Self::Unwatch),
            Wire::List => Ok(Self::List),
        }
    }
}

/// What the Inspector's rules need to know about the connections; the hub answers from its
/// registry.
pub trait Connections {
    /// The endpoint `id` is connected at, if it is connected.
    fn endpoint(&self, id: ClientId) -> Option<&Endpoint>;
    /// Whether `id` connected from a loopback address.
    fn is_loopback(&self, id: ClientId) -> bool;
    /// Every connection whose URL carried `tap=token`.
    fn carrying_token(&self, token: &str) -> Vec<ClientId>;
    /// Every connection.
    fn ids(&self) -> Vec<ClientId>;
}

/// What the hub does for an allowed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Stop any previous watch, then watch this connection.
    Watch(ClientId),
    /// Stop watching.
    Unwatch,
    /// Answer `connections` with these, in this order.
    List(Vec<ClientId>),
}

impl InspectorCommand {
    /// Applies the access rules for `inspector`'s command:
    ///
    /// - a `tap=` token names the newest connection that carries it (a page's old connection
    ///   may still be closing); anyone who knows the token may watch;
    /// - watching by id and listing are for loopback inspectors only: they show someone else's
    ///   traffic;
    /// - an inspector's own connection (any `/inspect` connection) cannot be watched, and is
    ///   not listed.
    ///
    /// # Errors
    ///
    /// A one-line reason, sent back as an `error` event.
    pub fn decide(
        self,
        inspector: ClientId,
        connections: &impl Connections,
    ) -> Result<Decision, String> {
        let from_loopback = connections.is_loopback(inspector);
        let is_inspector = |id| connections.endpoint(id) == Some(&Endpoint::Inspect);
        match self {
            Self::Watch(target) => {
                let target = match target {
                    Target::Token(token) => connections
                        .carrying_token(&token)
                        .into_iter()
                        .max()
                        .ok_or("no connection carries that tap token")?,
                    Target::Conn(_) if !from_loopback => {
                        return Err(
                            "watching a connection by id is allowed from loopback only".into()
                        )
                    }
                    Target::Conn(conn) => conn,
                };
                if connections.endpoint(target).is_none() {
                    return Err("no such connection".into());
                }
                if is_inspector(target) {
                    return Err("an inspector's own connection cannot be watched".into());
                }
                Ok(Decision::Watch(target))
            }
            Self::Unwatch => Ok(Decision::Unwatch),
            Self::List if !from_loopback => {
                Err("listing connections is allowed from loopback only".into())
            }
            Self::List => {
                let mut ids: Vec<ClientId> = connections
                    .ids()
                    .into_iter()
                    .filter(|&id| !is_inspector(id))
                    .collect();
                ids.sort_unstable();
                Ok(Decision::List(ids))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections as (id, endpoint, from loopback, tap token).
    struct Fake(Vec<(ClientId, Endpoint, bool, Option<&'static str>)>);

    impl Connections for Fake {
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
