//! The Inspector's wire format: every event the Inspector sends to the browser, as types.
//!
//! The page (`www/js/inspector.js`) reads these events; this file is their one description.
//! Each event is a JSON object whose `type` names it:
//!
//! | `type` | sent when | fields |
//! |---|---|---|
//! | `attached` | a watch begins, before any frame | `conn`, `endpoint`, `peer`, `handshake` ([`HandshakeExplained`]) |
//! | `frame` | a whole frame crossed the watched connection | `conn`, `dir` (`in`/`out`), then [`FrameAnatomy`]'s fields |
//! | `close` | the watched connection ended | `conn`, `record` ([`CloseExplained`]) |
//! | `connections` | the Inspector asked for the list | `connections` ([`ConnectionSummary`]) |
//! | `detached` | a watch ended | `conn`, `why` |
//! | `error` | a command could not be done | `message` |
//!
//! Events go out as [`InspectorEvent::to_json`]: a [`serde_json::Value`] whose object keys are
//! in alphabetical order, as the page and its tests have always received them.

use serde::Serialize;
use serde_json::Value;
use sha1::{Digest, Sha1};

use super::frames::FrameAnatomy;
use crate::protocol::deflate::Params;
use crate::protocol::handshake::{accept_key, ACCEPT_GUID};

/// A connection's id, as the hub numbers connections.
pub type ConnId = u64;

/// One event from the Inspector to the browser.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InspectorEvent<'a> {
    /// A watch began: who is watched, and how its handshake went.
    Attached {
        /// The watched connection.
        conn: ConnId,
        /// Its endpoint's name (`echo`, `chat`, …).
        endpoint: &'a str,
        /// The client's address.
        peer: Option<String>,
        /// The opening handshake, when it was recorded.
        handshake: Option<HandshakeExplained>,
    },
    /// One frame, explained.
    Frame {
        /// The watched connection.
        conn: ConnId,
        /// `in` (client → server) or `out` (server → client).
        dir: &'a str,
        /// Every field of the frame.
        #[serde(flatten)]
        frame: &'a FrameAnatomy,
    },
    /// The watched connection ended.
    Close {
        /// The watched connection.
        conn: ConnId,
        /// How it ended.
        record: CloseExplained<'a>,
    },
    /// The connections an Inspector may watch.
    Connections {
        /// One line each.
        connections: Vec<ConnectionSummary<'a>>,
    },
    /// A watch ended.
    Detached {
        /// The connection no longer watched.
        conn: ConnId,
        /// `unwatched` or `connection closed`.
        why: &'a str,
    },
    /// A command could not be done.
    Error {
        /// A short code for a limit the command ran into (`too_many_watchers`), if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
        /// Why, in one line.
        message: &'a str,
    },
}

impl InspectorEvent<'_> {
    /// The event as JSON, keys in alphabetical order (serde_json's map order).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self)
            .expect("bug: an Inspector event holds only strings, numbers and lists")
    }
}

/// §1.3 step by step for a watched connection: key, key + GUID, SHA-1 in hex, base64 of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HandshakeExplained {
    /// The request head as received.
    pub request: String,
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// The key with the GUID of §1.3 appended.
    pub concatenated: String,
    /// SHA-1 of that, in hex.
    pub sha1_hex: String,
    /// Base64 of that SHA-1: `Sec-WebSocket-Accept`.
    pub accept: String,
    /// The 101 response as sent.
    pub response: String,
    /// The `permessage-deflate` agreement, explained line by line (RFC 7692 §5), if any.
    pub extensions: Option<Vec<String>>,
}

impl HandshakeExplained {
    /// Explains a handshake from its request, key, response and agreed extension.
    pub fn new(request: &str, key: &str, response: &str, deflate: Option<Params>) -> Self {
        let concatenated = format!("{key}{ACCEPT_GUID}");
        let digest = Sha1::digest(concatenated.as_bytes());
        Self {
            request: request.to_owned(),
            key: key.to_owned(),
            concatenated,
            sha1_hex: digest.iter().map(|b| format!("{b:02x}")).collect(),
            accept: accept_key(key),
            response: response.to_owned(),
            extensions: deflate.map(|params| params.explain()),
        }
    }
}

/// How a watched connection ended (§7.1.5, §7.4).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CloseExplained<'a> {
    /// `client`, `server` or `network`.
    pub by: &'a str,
    /// The status code of the first Close frame, or 1006.
    pub code: u16,
    /// The code's name in the IANA registry.
    pub code_name: &'a str,
    /// The reason sent with it.
    pub reason: &'a str,
    /// The rule that fired, quoted with its section.
    pub rule: Option<&'a str>,
    /// For a protocol error: bytes received before the frame that broke the rule.
    pub offset: Option<u64>,
    /// For a limit close: the limit and the value that went over it.
    pub limit: Option<LimitExceeded>,
    /// One sentence for a human.
    pub explanation: &'a str,
}

/// A limit and the value that went over it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The limit.
    pub limit: u64,
    /// The value.
    pub value: u64,
}

/// One connection in a `connections` event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectionSummary<'a> {
    /// Its id.
    pub conn: ConnId,
    /// Its endpoint's name.
    pub endpoint: &'a str,
    /// The client's address.
    pub peer: Option<String>,
    /// Whether it carried a `tap=` token (only those may be watched).
    pub tapped: bool,
    /// Whether someone watches it now.
    pub watched: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::splitter::explain;

    #[test]
    fn a_frame_event_carries_the_anatomy_beside_its_connection_and_direction() {
        let (frames, _) = explain(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        let frame = frames.first().expect("one frame");
        let json = InspectorEvent::Frame {
            conn: 7,
            dir: "in",
            frame,
        }
        .to_json();
        assert_eq!(json["type"], "frame");
        assert_eq!(
            (json["conn"].as_u64(), json["dir"].as_str()),
            (Some(7), Some("in"))
        );
        assert_eq!(json["opcode_name"], "Close");
        assert_eq!(json["payload_hex"], "03 e8");
    }

    #[test]
    fn events_keep_their_keys_in_alphabetical_order() {
        let event = InspectorEvent::Detached {
            conn: 3,
            why: "unwatched",
        };
        assert_eq!(
            event.to_json().to_string(),
            r#"{"conn":3,"type":"detached","why":"unwatched"}"#
        );
    }

    #[test]
    fn the_handshake_is_explained_with_the_rfc_sample_key() {
        let explained =
            HandshakeExplained::new("GET /", "dGhlIHNhbXBsZSBub25jZQ==", "HTTP/1.1 101", None);
        assert_eq!(explained.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            explained.sha1_hex,
            "b37a4f2cc0624f1690f64606cf385945b2bec4ea"
        );
        assert_eq!(
            explained.concatenated,
            format!("dGhlIHNhbXBsZSBub25jZQ=={ACCEPT_GUID}")
        );
    }
}
