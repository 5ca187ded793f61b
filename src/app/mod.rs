//! The apps people run on wsmith, written against whole messages and hub calls, never frames.
//!
//! | path | app | what it does |
//! |---|---|---|
//! | `/echo` | [`echo`] | sends every message back, same type, same bytes |
//! | `/broadcast`, `/` | [`broadcast`] | relays every message to every client of the endpoint |
//! | `/chat` | [`chat`] | names, presence, channels, history and recovery, as JSON |
//! | `/notifications` | [`notifications`] | server-pushed events only |
//! | `/inspect` | [`inspect`] | the Inspector: watch another connection's frames |
//! | any path, under `wsmith tutorial NAME` | [`tutorial`] | the server of a seed tutorial |
//! | `/lab` | [`lab`] | the frame lab: bytes you built, judged by a fresh protocol core; answered on the connection's own thread |
//!
//! A client's message reaches its app as an [`Input`], typed on the connection's own reader
//! thread ([`Input::from_message`]): the hub never parses client bytes.

pub mod broadcast;
pub mod chat;
pub mod echo;
pub mod input;
pub mod inspect;
pub mod lab;
pub mod notifications;
pub mod query;
pub mod tutorial;

pub use input::Input;

/// The id the server gave a connection; unique while the server runs. Every app, the hub, the
/// Inspector and the logs name a client by it.
pub type ClientId = u64;

/// How many characters of a peer's own input an error message may quote back.
const MAX_QUOTED_CHARS: usize = 64;

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, so an error never echoes a long input.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// The WebSocket endpoint a client upgraded at, with what its URL asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/echo`.
    Echo,
    /// `/broadcast` or a bare `/`; `?self=false` leaves the sender out of its own relays.
    Broadcast {
        /// Whether the sender receives its own messages.
        include_self: bool,
    },
    /// `/chat`, with its raw query (`?name=…&resume=…`).
    Chat {
        /// The query string, parsed by [`chat::ChatQuery::parse`] in the hub.
        query: Option<String>,
    },
    /// `/notifications`.
    Notifications,
    /// `/inspect`.
    Inspect,
    /// Any other path while `wsmith tutorial NAME` runs ([`Endpoint::route_tutorial`]).
    Tutorial(tutorial::Tutorial),
    /// `/lab`: answered by the connection's reader, never the hub ([`lab`]).
    Lab,
}

impl Endpoint {
    /// The paths [`Endpoint::route`] accepts, for the 404 that answers any other.
    pub fn paths() -> &'static [&'static str] {
        &[
            "/",
            "/echo",
            "/broadcast",
            "/chat",
            "/notifications",
            "/inspect",
            "/lab",
        ]
    }

    /// The endpoint at `path`, if there is one.
    pub fn route(path: &str, query: Option<&str>) -> Option<Self> {
        match path {
            "/echo" => Some(Self::Echo),
            "/" | "/broadcast" => Some(Self::Broadcast {
                include_self: !query::has(query, "self", "false"),
            }),
            "/chat" => Some(Self::Chat {
                query: query.map(str::to_owned),
            }),
            "/notifications" => Some(Self::Notifications),
            "/inspect" => Some(Self::Inspect),
            "/lab" => Some(Self::Lab),
            _ => None,
        }
    }

    /// The endpoint at `path` while `tutorial` runs: the tutorial's `new WebSocket(url)` may
    /// name any path (Node's `ws` server takes them all); `/inspect` stays the Inspector.
    pub fn route_tutorial(tutorial: tutorial::Tutorial, path: &str) -> Self {
        match path {
            "/inspect" => Self::Inspect,
            _ => Self::Tutorial(tutorial),
        }
    }

    /// The endpoint's name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Echo => "echo",
            Self::Broadcast { .. } => "broadcast",
            Self::Chat { .. } => "chat",
            Self::Notifications => "notifications",
            Self::Inspect => "inspect",
            Self::Tutorial(tutorial) => tutorial.name(),
            Self::Lab => "lab",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_their_endpoints() {
        assert_eq!(Endpoint::route("/echo", None), Some(Endpoint::Echo));
        assert_eq!(
            Endpoint::route("/", None),
            Some(Endpoint::Broadcast { include_self: true })
        );
        assert_eq!(
            Endpoint::route("/broadcast", Some("self=false")),
            Some(Endpoint::Broadcast {
                include_self: false
            })
        );
        assert_eq!(
            Endpoint::route("/chat", Some("name=a")),
            Some(Endpoint::Chat {
                query: Some("name=a".into())
            })
        );
        assert_eq!(Endpoint::route("/nope", None), None);
    }
}
