//! Endpoints: which app a path leads to and what its URL asked for. The server routes with
//! [`Endpoint::route`] and keys its per-endpoint figures by [`Endpoint::index`] into [`NAMES`];
//! it never looks inside an endpoint. What a connection there may send and how its messages are
//! read ([`Endpoint::limits`], [`Endpoint::session`]) are chosen in [`app`](super), the one
//! module that names every app.

use super::chat::ChatQuery;
use super::query;
use super::tutorial::Tutorial;

/// Every endpoint's name, in the order of [`Endpoint::index`]: the hub's apps, and the values of
/// `/metrics`' `endpoint` label (every tutorial's server is `tutorial`).
pub const NAMES: [&str; 7] = [
    "echo",
    "broadcast",
    "chat",
    "notifications",
    "inspect",
    "lab",
    "tutorial",
];

/// The paths [`Endpoint::route`] accepts, for a 404's list and `--help`.
const PATHS: [&str; 7] = [
    "/",
    "/echo",
    "/broadcast",
    "/chat",
    "/notifications",
    "/inspect",
    "/lab",
];

/// The WebSocket paths this server answers (outside `wsmith tutorial NAME`).
pub fn paths() -> &'static [&'static str] {
    &PATHS
}

/// The WebSocket endpoint a client upgraded at, with what its URL asked for (read on the
/// connection's own thread, never the hub's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/echo`.
    Echo,
    /// `/broadcast` or a bare `/`; `?self=false` leaves the sender out of its own relays.
    Broadcast {
        /// Whether the sender receives its own messages.
        include_self: bool,
    },
    /// `/chat`, with what its query asked for (`?name=…&resume=…`).
    Chat {
        /// The name, channels to resume and epoch of the URL.
        query: ChatQuery,
    },
    /// `/notifications`.
    Notifications,
    /// `/inspect`.
    Inspect,
    /// Any other path while `wsmith tutorial NAME` runs ([`Endpoint::route_tutorial`]).
    Tutorial(Tutorial),
    /// `/lab`: answered by the connection's reader, never the hub.
    Lab,
}

impl Endpoint {
    /// The endpoint at `path`, if there is one; `query` is the URL's after the `?`.
    pub fn route(path: &str, query: Option<&str>) -> Option<Self> {
        match path {
            "/echo" => Some(Self::Echo),
            "/" | "/broadcast" => Some(Self::Broadcast {
                include_self: !query::has(query, "self", "false"),
            }),
            "/chat" => Some(Self::Chat {
                query: ChatQuery::parse(query),
            }),
            "/notifications" => Some(Self::Notifications),
            "/inspect" => Some(Self::Inspect),
            "/lab" => Some(Self::Lab),
            _ => None,
        }
    }

    /// The endpoint at `path` while `tutorial` runs: the tutorial's `new WebSocket(url)` may
    /// name any path (Node's `ws` server takes them all); `/inspect` stays the Inspector.
    pub fn route_tutorial(tutorial: Tutorial, path: &str) -> Self {
        match path {
            "/inspect" => Self::Inspect,
            _ => Self::Tutorial(tutorial),
        }
    }

    /// Its place in [`NAMES`] and in the hub's list of apps.
    pub fn index(&self) -> usize {
        match self {
            Self::Echo => 0,
            Self::Broadcast { .. } => 1,
            Self::Chat { .. } => 2,
            Self::Notifications => 3,
            Self::Inspect => 4,
            Self::Lab => 5,
            Self::Tutorial(_) => 6,
        }
    }

    /// Its name in [`NAMES`], as `/metrics` labels it.
    pub fn label(&self) -> &'static str {
        NAMES.get(self.index()).copied().unwrap_or("unknown")
    }

    /// Its name for logs and the Inspector: a tutorial's own name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Tutorial(tutorial) => tutorial.name(),
            _ => self.label(),
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
                query: ChatQuery::parse(Some("name=a"))
            })
        );
        assert_eq!(Endpoint::route("/nope", None), None);
    }

    #[test]
    fn every_listed_path_routes_and_every_index_has_a_name() {
        for path in paths() {
            let endpoint = Endpoint::route(path, None).expect("a listed path routes");
            assert_eq!(NAMES.get(endpoint.index()), Some(&endpoint.label()));
        }
        let tutorial = Endpoint::route_tutorial(Tutorial::Relay, "/anything");
        assert_eq!(tutorial.label(), "tutorial");
        assert_eq!(tutorial.name(), "relay");
    }
}
