//! The chat's wire format, server → client: every [`ServerEvent`] is one JSON object with a
//! `"type"` field, the payload of one Text frame (RFC 6455 §5.6). The hub serializes each event
//! once ([`ServerEvent::to_json`]) and shares the frame among its recipients: a [`Delivery`] is
//! one event and who receives it.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::app::clients::{ClientId, Recipients};

/// A message kept in a channel's history; it goes out as `message` and inside `history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The channel it was sent to.
    pub channel: String,
    /// Its number in the channel: 1, 2, 3, … without gaps, never reset while the server runs.
    pub seq: u64,
    /// The sender's name when it was sent, or `"server"` for [`Chat::publish`](super::Chat::publish).
    pub from: String,
    /// The text, as sent.
    pub text: String,
    /// When the server received it, in milliseconds since the Unix epoch.
    pub ts: u64,
}

/// A message as a channel's history keeps it: its `seq` and its JSON, encoded once when it was
/// appended. A `history` event is those encodings put side by side, so a replay copies bytes
/// already encoded instead of serializing each message again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMessage {
    /// The message's `seq` in its channel.
    pub seq: u64,
    /// The message as JSON, shaped like `message` without `type`.
    json: Arc<str>,
}

impl EncodedMessage {
    /// Encodes `message` once, for every replay to come.
    pub fn new(message: &ChatMessage) -> Self {
        // Strings and numbers only: serializing cannot fail.
        let json = serde_json::to_string(message).expect("bug: a ChatMessage always serializes");
        Self {
            seq: message.seq,
            json: json.into(),
        }
    }

    /// The message's JSON.
    pub fn as_json(&self) -> &str {
        &self.json
    }
}

impl Serialize for EncodedMessage {
    /// The kept JSON, read back: for serializers other than [`ServerEvent::to_json`], which
    /// copies the kept bytes as they are.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::from_str::<ChatMessage>(&self.json)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EncodedMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ChatMessage::deserialize(deserializer).map(|message| Self::new(&message))
    }
}

/// What happened to the set of connected users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceEvent {
    /// A client connected.
    Join,
    /// A client disconnected.
    Leave,
    /// A client changed its name.
    Rename,
    /// The count changed, in a room of [`PRESENCE_LINES_BELOW`](super::PRESENCE_LINES_BELOW)
    /// users or more: joins and leaves there are not told one by one, only the new count,
    /// at most once per tick of the hub (a second). `name` is empty.
    Count,
}

/// An event the server sends to chat clients, serialized with a `"type"` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// The first event of every connection: who the client is and what exists.
    Welcome {
        /// The client's id.
        id: ClientId,
        /// The name the client got, which may differ from the one it asked for.
        name: String,
        /// Connected chat clients, this one included.
        users: usize,
        /// Every channel that exists, sorted.
        channels: Vec<String>,
        /// The channels this client is subscribed to, sorted.
        subscribed: Vec<String>,
        /// How many messages each channel keeps for replay.
        history_limit: usize,
        /// Identifies this run of the server: seqs restart when it does. A reconnecting client
        /// sends it back (`?epoch=`) with its resume list.
        epoch: u64,
    },
    /// Someone joined, left or changed name; sent to every chat client.
    Presence {
        /// What happened.
        event: PresenceEvent,
        /// The user's (new) name.
        name: String,
        /// The previous name on `rename`, else `null`.
        old_name: Option<String>,
        /// Connected chat clients after the change.
        users: usize,
        /// A line to show as is, e.g. `새로운 유저 접속 [현재: 3명]`.
        text: String,
    },
    /// A chat message, delivered to every subscriber of its channel, the sender included.
    Message(ChatMessage),
    /// The replay of a channel, sent on connect and on subscribe.
    History {
        /// The channel replayed.
        channel: String,
        /// The replayed messages, oldest first (each shaped like `message`, without `type`),
        /// as their channel encoded them when they were appended.
        messages: Vec<EncodedMessage>,
        /// Messages after `since` that were evicted and can never be replayed.
        lost: u64,
        /// The oldest `seq` still kept; the next `seq` to come when nothing is kept.
        first_available: u64,
        /// `true` when `since` was beyond the last `seq`: the server restarted, so the client
        /// should drop what it holds for this channel and take `messages` as the whole history.
        reset: bool,
        /// `true` when older messages still kept were left out to keep the replay within
        /// `--max-replay-bytes` (`messages` holds the newest that fit; they are not `lost`).
        /// Sent only when `true`.
        #[serde(default, skip_serializing_if = "is_false")]
        truncated: bool,
    },
    /// The client is now subscribed to `channel`.
    Subscribed {
        /// The channel.
        channel: String,
    },
    /// The client is no longer subscribed to `channel`.
    Unsubscribed {
        /// The channel.
        channel: String,
    },
    /// The channels that exist, sent to everyone when a new one appears.
    Channels {
        /// Every channel, sorted.
        channels: Vec<String>,
    },
    /// A request was refused; the connection stays open.
    Error {
        /// A short machine-readable code: [`ChatError::code`](super::ChatError::code).
        error: String,
        /// A human-readable reason: the [`ChatError`](super::ChatError)'s `Display`.
        message: String,
    },
    /// The answer to an app-level `ping`.
    Pong,
}

impl ServerEvent {
    /// The event as one line of JSON, the payload of a Text frame.
    pub fn to_json(&self) -> String {
        if let Self::History {
            channel,
            messages,
            lost,
            first_available,
            reset,
            truncated,
        } = self
        {
            return history_json(
                channel,
                messages,
                *lost,
                *first_available,
                *reset,
                *truncated,
            );
        }
        // Every field is a string, a number, a bool or a list of them: serializing cannot fail.
        serde_json::to_string(self).expect("bug: a ServerEvent always serializes to JSON")
    }
}

/// A `history` event's JSON, byte for byte what serde's derive writes for
/// [`ServerEvent::History`], with each message's kept JSON copied in as it is: the work is one
/// copy of bytes already encoded per message, however often a channel is replayed.
fn history_json(
    channel: &str,
    messages: &[EncodedMessage],
    lost: u64,
    first_available: u64,
    reset: bool,
    truncated: bool,
) -> String {
    let channel = serde_json::to_string(channel).expect("bug: a string always serializes");
    let encoded: usize = messages.iter().map(|m| m.json.len() + 1).sum();
    let mut json = String::with_capacity(encoded + channel.len() + 128);
    json.push_str(r#"{"type":"history","channel":"#);
    json.push_str(&channel);
    json.push_str(r#","messages":["#);
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&message.json);
    }
    // Writing to a String cannot fail.
    let _ = write!(
        json,
        r#"],"lost":{lost},"first_available":{first_available},"reset":{reset}"#
    );
    if truncated {
        json.push_str(r#","truncated":true"#);
    }
    json.push('}');
    json
}

/// The line shown for a presence event, in Korean as the chat pages expect.
pub(super) fn presence_text(
    event: PresenceEvent,
    name: &str,
    old_name: Option<&str>,
    users: usize,
) -> String {
    match event {
        PresenceEvent::Join => format!("새로운 유저 접속 [현재: {users}명]"),
        PresenceEvent::Leave => format!("유저 연결 해제 [현재: {users}명]"),
        PresenceEvent::Rename => format!("이름 변경: {} → {name}", old_name.unwrap_or("")),
        PresenceEvent::Count => format!("[현재: {users}명]"),
    }
}

/// One event and the clients it goes to; the hub serializes the event once for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The clients that receive the event.
    pub to: Recipients,
    /// The event, serialized by [`ServerEvent::to_json`].
    pub event: ServerEvent,
}

impl Delivery {
    /// A delivery to `ids`, or `None` if there is nobody to deliver to.
    pub(super) fn many(ids: Vec<ClientId>, event: ServerEvent) -> Option<Self> {
        if ids.is_empty() {
            return None;
        }
        Some(Self {
            to: Recipients::Many(ids),
            event,
        })
    }
}

/// For `skip_serializing_if`: a `false` flag is left out of the JSON.
fn is_false(flag: &bool) -> bool {
    !flag
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;

    #[test]
    fn presence_texts_are_the_exact_korean_sentences() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let joined = chat.connect(2, named("bob"), NOW);
        assert_eq!(
            received(&joined, 1)[0]["text"],
            "새로운 유저 접속 [현재: 2명]"
        );
        let renamed = chat.receive_text(2, r#"{"type":"join","name":"bobby"}"#, NOW);
        assert_eq!(received(&renamed, 1)[0]["text"], "이름 변경: bob → bobby");
        let left = chat.disconnect(2);
        assert_eq!(received(&left, 1)[0]["text"], "유저 연결 해제 [현재: 1명]");
    }

    #[test]
    fn server_events_serialize_to_the_documented_shapes() {
        let history = ServerEvent::History {
            channel: "news".into(),
            messages: Vec::new(),
            lost: 3,
            first_available: 12,
            reset: false,
            truncated: false,
        };
        let presence = ServerEvent::Presence {
            event: PresenceEvent::Join,
            name: "bob".into(),
            old_name: None,
            users: 3,
            text: "새로운 유저 접속 [현재: 3명]".into(),
        };
        let cases = [
            (
                history,
                r#"{"type":"history","channel":"news","messages":[],"lost":3,"first_available":12,"reset":false}"#,
            ),
            (
                presence,
                r#"{"type":"presence","event":"join","name":"bob","old_name":null,"users":3,"text":"새로운 유저 접속 [현재: 3명]"}"#,
            ),
            (
                ServerEvent::Unsubscribed {
                    channel: "news".into(),
                },
                r#"{"type":"unsubscribed","channel":"news"}"#,
            ),
        ];
        for (event, json) in cases {
            assert_eq!(event.to_json(), json);
            assert_eq!(serde_json::from_str::<ServerEvent>(json).ok(), Some(event));
        }
    }

    #[test]
    fn a_history_built_from_kept_json_is_what_serde_writes_byte_for_byte() {
        let message = |seq, from: &str, text: &str| {
            EncodedMessage::new(&ChatMessage {
                channel: "news.1".into(),
                seq,
                from: from.into(),
                text: text.into(),
                ts: NOW,
            })
        };
        let kept = vec![
            message(7, "alice", "plain"),
            message(
                8,
                "bob",
                "quotes \" and \\ and \n and \u{1} and 한글 and \u{1F600}",
            ),
            message(9, "server", ""),
        ];
        for messages in [Vec::new(), kept[..1].to_vec(), kept.clone()] {
            for (reset, truncated) in [(false, false), (true, false), (false, true), (true, true)] {
                let event = ServerEvent::History {
                    channel: "news.1".into(),
                    messages: messages.clone(),
                    lost: 2,
                    first_available: u64::MAX,
                    reset,
                    truncated,
                };
                let derived = serde_json::to_string(&event).expect("serializes");
                assert_eq!(event.to_json(), derived);
                assert_eq!(
                    serde_json::from_str::<ServerEvent>(&derived).ok(),
                    Some(event)
                );
            }
        }
    }

    #[test]
    fn the_rate_limit_error_is_the_documented_json() {
        assert_eq!(
            ChatError::RateLimited { limit: 20 }.to_event().to_json(),
            r#"{"type":"error","error":"rate_limited","message":"over 20 messages per second; message dropped"}"#
        );
    }
}
