//! The Inspector's commands and their access rules, read on the watcher's own thread and
//! decided on the hub: [`InspectorCommand::parse`], then [`InspectorCommand::decide`] against
//! the server's [`Directory`].

use serde::Deserialize;

use crate::app::clients::{quote, ClientId};
use crate::app::directory::Directory;
use crate::app::endpoint::Endpoint;
use crate::protocol::Message;

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
        connections: &(impl Directory + ?Sized),
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

/// Reads an Inspector's message: JSON text, parsed on its own thread.
pub fn read_command(message: &Message) -> Result<InspectorCommand, String> {
    match message {
        Message::Text(text) => InspectorCommand::parse(text),
        Message::Binary(_) => Err("inspector commands are JSON text".into()),
    }
}
