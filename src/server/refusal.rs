//! Why the server refuses a request it read (or would have read): the client's broken handshake
//! rule ([`HandshakeError`], §4.2.1), or the server's own policy, each with its true reason.
//!
//! Every refusal is answered the same way ([`error_response`]): its status, a one-line reason
//! as the body, and the connection closed. A refused WebSocket upgrade is counted by status
//! ([`Metrics::handshake_failed`](super::metrics::Metrics::handshake_failed)).

use std::fmt;

use crate::protocol::http::error_response;
use crate::protocol::HandshakeError;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The server is shutting down and takes no new WebSocket connections: 503.
    ShuttingDown,
    /// `--max-connections` connections are open, or no thread can serve one more: 503.
    AtCapacity,
    /// The hub's queue of commands is full, so the new client's Join cannot be queued without
    /// making this connection's thread wait behind it: 503.
    HubBusy,
    /// A socket option the connection needs (its write timeout) could not be set: 500.
    SocketSetupFailed,
    /// No WebSocket endpoint at the path: 404, listing the paths that have one.
    NotFound {
        /// The paths with an endpoint.
        paths: &'static [&'static str],
    },
    /// A WebSocket upgrade on the port that serves only the page (`--page-addr`): 404.
    PagePort,
    /// The request head did not arrive whole within `--handshake-timeout`: 408.
    Timeout,
    /// The request broke a rule of the opening handshake or of its HTTP head.
    Handshake(HandshakeError),
}

impl Refusal {
    /// The HTTP status that answers this refusal.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::ShuttingDown | Self::AtCapacity | Self::HubBusy => 503,
            Self::SocketSetupFailed => 500,
            Self::NotFound { .. } | Self::PagePort => 404,
            Self::Timeout => 408,
            Self::Handshake(error) => error.status(),
        }
    }

    /// The whole HTTP response: the status, the reason as a plain-text body, and the
    /// connection closed after it.
    pub(crate) fn response(&self) -> Vec<u8> {
        error_response(self.status(), &self.to_string())
    }
}

impl From<HandshakeError> for Refusal {
    fn from(error: HandshakeError) -> Self {
        Self::Handshake(error)
    }
}

impl fmt::Display for Refusal {
    /// The one-line reason, lowercase, as the response's body says it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShuttingDown => f.write_str("server is shutting down"),
            Self::AtCapacity => f.write_str("server is at its connection limit"),
            Self::HubBusy => {
                f.write_str("server is too busy to take a new connection; retry later")
            }
            Self::SocketSetupFailed => f.write_str("server could not set up the connection"),
            Self::NotFound { paths } => write!(
                f,
                "no WebSocket endpoint at this path; the endpoints are {}",
                paths.join(" ")
            ),
            Self::PagePort => {
                f.write_str("no WebSocket endpoint on this port, which serves the page only")
            }
            Self::Timeout => f.write_str("request head did not arrive in time"),
            Self::Handshake(error) => error.fmt(f),
        }
    }
}

/// Why `POST /publish` did not publish: each says for sure whether anything was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublishError {
    /// The hub did not take the publish in time (its queue full, or behind): nothing was
    /// published, and never will be: 503, a retry is safe.
    HubBusy,
    /// The hub's own answer: no such channel (404), refused (400), shutting down (503).
    Hub(crate::app::PublishError),
    /// The hub took the publish and did not answer: it may have been delivered: 504.
    Unanswered,
}

impl PublishError {
    /// The HTTP status that answers it.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::HubBusy => 503,
            Self::Hub(error) => error.status(),
            Self::Unanswered => 504,
        }
    }
}

impl From<crate::app::PublishError> for PublishError {
    /// The hub's reason for not publishing.
    fn from(error: crate::app::PublishError) -> Self {
        Self::Hub(error)
    }
}

impl fmt::Display for PublishError {
    /// The one-line reason, as the response's body says it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HubBusy => f.write_str("hub did not take the message in time; not published"),
            Self::Hub(error) => error.fmt(f),
            Self::Unanswered => {
                f.write_str("hub took the message but did not answer; it may have been published")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app;

    #[test]
    fn each_refusal_has_its_status_and_reason() {
        let cases = [
            (Refusal::ShuttingDown, 503, "shutting down"),
            (Refusal::AtCapacity, 503, "connection limit"),
            (Refusal::HubBusy, 503, "too busy"),
            (Refusal::SocketSetupFailed, 500, "set up"),
            (
                Refusal::NotFound {
                    paths: &["/echo", "/chat"],
                },
                404,
                "the endpoints are /echo /chat",
            ),
            (Refusal::PagePort, 404, "serves the page only"),
            (Refusal::Timeout, 408, "in time"),
            (Refusal::from(HandshakeError::MissingHost), 400, "Host"),
        ];
        for (refusal, status, reason) in cases {
            assert_eq!(refusal.status(), status, "{refusal}");
            let text = String::from_utf8(refusal.response()).expect("ascii");
            let status_line = format!("HTTP/1.1 {status} ");
            assert!(text.starts_with(&status_line), "{text}");
            assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
            assert!(text.ends_with(&format!("{refusal}\n")), "{text}");
            assert!(refusal.to_string().contains(reason), "{refusal}");
        }
    }

    #[test]
    fn each_publish_error_says_whether_anything_was_published() {
        let cases = [
            (PublishError::HubBusy, 503, "not published"),
            (
                PublishError::from(app::PublishError::Refused("bad name".into())),
                400,
                "bad name",
            ),
            (
                PublishError::from(app::PublishError::UnknownChannel("news".into())),
                404,
                "no channel \"news\"",
            ),
            (PublishError::Unanswered, 504, "may have been published"),
        ];
        for (error, status, reason) in cases {
            assert_eq!(error.status(), status, "{error}");
            assert!(error.to_string().contains(reason), "{error}");
        }
    }

    #[test]
    fn a_refused_version_still_names_the_supported_one() {
        let text = String::from_utf8(Refusal::from(HandshakeError::UnsupportedVersion).response())
            .expect("ascii");
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    }
}
