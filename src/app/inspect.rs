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

use serde::Deserialize;

use super::ClientId;

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
            .map_err(|e| format!("not an inspector command: {e}"))?
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

/// The value of `key` in a URL query (`a=1&tap=xyz`), without percent-decoding: tokens and
/// flags are plain ASCII.
pub fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        pair.split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn query_params_are_found_by_key() {
        assert_eq!(query_param(Some("name=a&tap=xyz"), "tap"), Some("xyz"));
        assert_eq!(query_param(Some("tapx=1"), "tap"), None);
        assert_eq!(query_param(None, "tap"), None);
    }
}
