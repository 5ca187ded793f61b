//! The `/chat` endpoint: names, presence, channels, history and recovery, as a pure state machine.
//!
//! This module never sees a frame, a socket, a thread or a clock. The hub thread owns one [`Chat`],
//! hands it decoded text (RFC 6455 §5.6: a Text message is UTF-8 already checked by §8.1) and the
//! current time as `now_ms`, and gets back a list of [`Delivery`] values: one [`ServerEvent`] and
//! the clients it goes to. The hub serializes each event once ([`ServerEvent::to_json`]) and sends
//! the same Text frame to every recipient, in the order of the list.
//!
//! # The protocol
//!
//! Every message is one JSON object with a `"type"` field. A Text message that does not start
//! with `{` (after leading whitespace) is a chat line for `general`, so a tutorial client can send
//! plain text.
//!
//! | direction | `type` | fields | answer |
//! |-----------|--------|--------|--------|
//! | client → server | `join` | `name` | everyone: `presence` (`rename`) |
//! | client → server | `subscribe` | `channel`, `since`? | `subscribed`, then `history` |
//! | client → server | `unsubscribe` | `channel` | `unsubscribed` |
//! | client → server | `message` | `channel`? (`general`), `text` | every subscriber, sender too: `message` |
//! | client → server | `ping` | | `pong` |
//! | server → client | `welcome` | `id`, `name`, `users`, `channels`, `subscribed`, `history_limit` | first event of a connection |
//! | server → client | `presence` | `event` (`join`, `leave`, `rename`), `name`, `old_name`, `users`, `text` | |
//! | server → client | `message` | `channel`, `seq`, `from`, `text`, `ts` | |
//! | server → client | `history` | `channel`, `messages`, `lost`, `first_available`, `reset` | |
//! | server → client | `subscribed`, `unsubscribed` | `channel` | |
//! | server → client | `channels` | `channels` | everyone, when a channel comes into existence |
//! | server → client | `error` | `error` (a code), `message` | the connection stays open |
//! | server → client | `pong` | | |
//!
//! # Recovery
//!
//! Each channel numbers its messages `seq` = 1, 2, 3, … and keeps the last `history_limit` of
//! them; `seq` never resets while the server runs. A client that remembers the last `seq` it saw
//! asks for the rest, either in its upgrade URL (`/chat?name=alice&resume=general:41,news:7`) or
//! with `{"type":"subscribe","channel":"news","since":7}`. The `history` answer then holds exactly
//! the messages with `seq` > `since` that are still kept; `lost` counts the ones that were evicted
//! and can never be replayed, and `first_available` is the oldest `seq` still kept. A `since`
//! greater than the channel's last `seq` means the server restarted and numbering began again:
//! the answer is the whole history with `"reset": true`, and the client should forget what it had.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The id the hub gave a connection; unique while the connection lives.
pub type ClientId = u64;

/// The channel every client joins on connect and plain text goes to.
pub const GENERAL: &str = "general";

/// The name messages from [`Chat::publish`] carry in `from`; no client may take it.
pub const SERVER_NAME: &str = "server";

/// The `type` values a client may send, in the order [`ChatError::UnknownType`] lists them.
const CLIENT_TYPES: [&str; 5] = ["join", "subscribe", "unsubscribe", "message", "ping"];

/// How many characters of a peer's own input an error message may quote back.
const MAX_QUOTED_CHARS: usize = 64;

/// The limits of the chat; each one is checked where input arrives and tested at its edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConfig {
    /// Messages kept per channel for replay (default 50); older ones are evicted and counted as
    /// `lost` by a `since` replay that needed them.
    pub history_limit: usize,
    /// Longest name, in characters after trimming (default 32); longer is `bad_name`.
    pub max_name_chars: usize,
    /// Longest message text, in bytes of UTF-8 (default 4096); longer is `text_too_long`.
    pub max_text_bytes: usize,
    /// Longest channel name, in characters (default 32); longer is `bad_channel`.
    pub max_channel_chars: usize,
    /// Channels one client may be subscribed to at once (default 32), `general` included;
    /// one more is `too_many_channels`.
    pub max_channels_per_client: usize,
    /// Channels the server holds in all (default 1000), `general` included; channels are never
    /// removed, so creating one more is `channel_limit`.
    pub max_channels: usize,
    /// This run of the server (the hub uses its start time in ms), sent in `welcome`.
    pub epoch: u64,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            history_limit: 50,
            max_name_chars: 32,
            max_text_bytes: 4096,
            max_channel_chars: 32,
            max_channels_per_client: 32,
            max_channels: 1000,
            epoch: 0,
        }
    }
}

/// Who receives a [`Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// A single client: a reply, a replay or an error.
    One(ClientId),
    /// Several clients, in ascending id order, never empty.
    Many(Vec<ClientId>),
}

impl Recipients {
    /// The recipients' ids as a slice, whichever variant this is.
    pub fn as_slice(&self) -> &[ClientId] {
        match self {
            Recipients::One(id) => std::slice::from_ref(id),
            Recipients::Many(ids) => ids,
        }
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

/// What a client asked for in its upgrade URL: `/chat?name=alice&resume=general:41,news:7`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatQuery {
    /// The requested name, percent-decoded; `None` when absent or empty.
    pub name: Option<String>,
    /// Channels to resume and the last `seq` the client saw in each.
    pub resume: Vec<(String, u64)>,
    /// The server epoch those seqs came from (`welcome.epoch`); if it is not the current one,
    /// the server restarted and every resumed channel is replayed whole, as a reset.
    pub epoch: Option<u64>,
}

impl ChatQuery {
    /// Reads the query string of the upgrade request (the part after `?`).
    ///
    /// Keys and values are percent-decoded by hand (`+` is a space, `%41` is `A`, a malformed
    /// escape stays as it is, invalid UTF-8 becomes U+FFFD), so `URLSearchParams` output such as
    /// `resume=general%3A41%2Cnews%3A7` works. Unknown keys are ignored; an empty `name` counts
    /// as no name; a later `name` wins; `resume` items that are not `channel:seq` are ignored.
    pub fn parse(query: Option<&str>) -> ChatQuery {
        let mut parsed = ChatQuery::default();
        let query = query.unwrap_or("");
        let query = query.strip_prefix('?').unwrap_or(query);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match percent_decode(key).as_str() {
                "name" => parsed.name = Some(value).filter(|name| !name.is_empty()),
                "resume" => parsed
                    .resume
                    .extend(value.split(',').filter_map(parse_resume_item)),
                "epoch" => parsed.epoch = value.parse().ok(),
                _ => {}
            }
        }
        parsed
    }
}

/// Reads one `channel:seq` item of `resume`; the channel name is checked later, on subscribe.
fn parse_resume_item(item: &str) -> Option<(String, u64)> {
    let (channel, seq) = item.trim().rsplit_once(':')?;
    let seq = seq.parse::<u64>().ok()?;
    (!channel.is_empty()).then(|| (channel.to_owned(), seq))
}

/// Decodes `application/x-www-form-urlencoded` text: `+` → space, `%XX` → byte XX.
fn percent_decode(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match (byte, tail) {
            (b'+', _) => bytes.push(b' '),
            (b'%', [high, low, after @ ..]) => match (hex_value(*high), hex_value(*low)) {
                (Some(high), Some(low)) => {
                    bytes.push(high << 4 | low);
                    rest = after;
                }
                _ => bytes.push(b'%'),
            },
            _ => bytes.push(byte),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The value of one hexadecimal digit.
fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// A message kept in a channel's history; it goes out as `message` and inside `history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The channel it was sent to.
    pub channel: String,
    /// Its number in the channel: 1, 2, 3, … without gaps, never reset while the server runs.
    pub seq: u64,
    /// The sender's name when it was sent, or `"server"` for [`Chat::publish`].
    pub from: String,
    /// The text, as sent.
    pub text: String,
    /// When the server received it, in milliseconds since the Unix epoch.
    pub ts: u64,
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
        /// The replayed messages, oldest first (each shaped like `message`, without `type`).
        messages: Vec<ChatMessage>,
        /// Messages after `since` that were evicted and can never be replayed.
        lost: u64,
        /// The oldest `seq` still kept; the next `seq` to come when nothing is kept.
        first_available: u64,
        /// `true` when `since` was beyond the last `seq`: the server restarted, so the client
        /// should drop what it holds for this channel and take `messages` as the whole history.
        reset: bool,
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
        /// A short machine-readable code: [`ChatError::code`].
        error: String,
        /// A human-readable reason: the [`ChatError`]'s `Display`.
        message: String,
    },
    /// The answer to an app-level `ping`.
    Pong,
}

impl ServerEvent {
    /// The event as one line of JSON, the payload of a Text frame.
    pub fn to_json(&self) -> String {
        // Every field is a string, a number, a bool or a list of them: serializing cannot fail.
        serde_json::to_string(self).expect("bug: a ServerEvent always serializes to JSON")
    }
}

/// A request the chat refused; it reaches the client as an `error` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatError {
    /// Text starting with `{` that is not a JSON object of a known command's shape.
    BadJson(String),
    /// A JSON object whose `type` is missing (`None`) or not a command of this protocol.
    UnknownType(Option<String>),
    /// A name that is empty after trimming.
    NameEmpty,
    /// A name longer than [`ChatConfig::max_name_chars`].
    NameTooLong {
        /// The name's length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// A name holding a control character (`char::is_control`).
    NameHasControlChar,
    /// The name `server`, in any case, which [`Chat::publish`] uses.
    NameReserved,
    /// An empty channel name.
    ChannelEmpty,
    /// A channel name longer than [`ChatConfig::max_channel_chars`].
    ChannelTooLong {
        /// The name's length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// A channel name holding a character outside `A-Z a-z 0-9 _ - .`.
    ChannelBadChar(char),
    /// A message to a channel the sender is not subscribed to.
    NotSubscribed(String),
    /// Message text that is empty or only whitespace.
    TextEmpty,
    /// Message text longer than [`ChatConfig::max_text_bytes`].
    TextTooLong {
        /// The text's length in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Message text holding a control character other than `\n` and `\t`.
    TextHasControlChar,
    /// A JSON command longer than [`max_command_bytes`]: refused unparsed, as `text_too_long`.
    CommandTooLong {
        /// The command's length in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// One subscription more than [`ChatConfig::max_channels_per_client`].
    TooManySubscriptions {
        /// The limit.
        limit: usize,
    },
    /// One channel more than [`ChatConfig::max_channels`].
    TooManyChannels {
        /// The limit.
        limit: usize,
    },
    /// A Binary message (§5.6), which this text protocol has no use for.
    BinaryUnsupported,
    /// A message beyond `--rate-limit`, dropped by the connection's reader before the hub.
    RateLimited {
        /// The limit, in messages per second.
        limit: u32,
    },
}

impl ChatError {
    /// The short code sent in the `error` field of the `error` event.
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::BadJson(_) => "bad_json",
            ChatError::UnknownType(_) => "unknown_type",
            ChatError::NameEmpty
            | ChatError::NameTooLong { .. }
            | ChatError::NameHasControlChar
            | ChatError::NameReserved => "bad_name",
            ChatError::ChannelEmpty
            | ChatError::ChannelTooLong { .. }
            | ChatError::ChannelBadChar(_) => "bad_channel",
            ChatError::NotSubscribed(_) => "not_subscribed",
            ChatError::TextEmpty | ChatError::TextHasControlChar => "bad_text",
            ChatError::TextTooLong { .. } | ChatError::CommandTooLong { .. } => "text_too_long",
            ChatError::TooManySubscriptions { .. } => "too_many_channels",
            ChatError::TooManyChannels { .. } => "channel_limit",
            ChatError::BinaryUnsupported => "binary_unsupported",
            ChatError::RateLimited { .. } => "rate_limited",
        }
    }

    /// The `error` event that tells the client about this error.
    pub fn to_event(&self) -> ServerEvent {
        ServerEvent::Error {
            error: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = CLIENT_TYPES.join(", ");
        match self {
            ChatError::BadJson(detail) => write!(f, "not a chat command: {detail}"),
            ChatError::UnknownType(None) => {
                write!(f, "missing \"type\" (expected one of {expected})")
            }
            ChatError::UnknownType(Some(kind)) => {
                write!(f, "unknown type {kind:?} (expected one of {expected})")
            }
            ChatError::NameEmpty => write!(f, "name is empty"),
            ChatError::NameTooLong { chars, limit } => {
                write!(f, "name is {chars} characters long; the limit is {limit}")
            }
            ChatError::NameHasControlChar => write!(f, "name contains a control character"),
            ChatError::NameReserved => write!(f, "name {SERVER_NAME:?} is reserved"),
            ChatError::ChannelEmpty => write!(f, "channel name is empty"),
            ChatError::ChannelTooLong { chars, limit } => {
                write!(
                    f,
                    "channel name is {chars} characters long; the limit is {limit}"
                )
            }
            ChatError::ChannelBadChar(c) => {
                write!(
                    f,
                    "channel name may use only A-Z, a-z, 0-9, '_', '-' and '.', not {c:?}"
                )
            }
            ChatError::NotSubscribed(channel) => {
                write!(
                    f,
                    "not subscribed to {channel:?}; subscribe before sending to it"
                )
            }
            ChatError::TextEmpty => write!(f, "message text is empty"),
            ChatError::TextTooLong { bytes, limit } => {
                write!(
                    f,
                    "message text is {bytes} bytes long; the limit is {limit}"
                )
            }
            ChatError::TextHasControlChar => {
                write!(
                    f,
                    "message text contains a control character other than newline and tab"
                )
            }
            ChatError::TooManySubscriptions { limit } => {
                write!(f, "a client may be subscribed to at most {limit} channels")
            }
            ChatError::TooManyChannels { limit } => {
                write!(f, "the server holds at most {limit} channels")
            }
            ChatError::BinaryUnsupported => {
                write!(f, "binary messages are not part of the chat protocol")
            }
            ChatError::CommandTooLong { bytes, limit } => {
                write!(f, "command is {bytes} bytes of JSON; the limit is {limit}")
            }
            ChatError::RateLimited { limit } => {
                write!(f, "over {limit} messages per second; message dropped")
            }
        }
    }
}

impl std::error::Error for ChatError {}

/// A command a client sends, read from a JSON object by its `type` ([`ClientCommand::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientCommand {
    /// Set or change the name.
    Join {
        /// The name asked for, not yet checked.
        name: String,
    },
    /// Subscribe to a channel and get its replay, after `since` if given.
    Subscribe {
        /// The channel, not yet checked.
        channel: String,
        /// The last `seq` the client saw in it.
        #[serde(default)]
        since: Option<u64>,
    },
    /// Stop receiving a channel.
    Unsubscribe {
        /// The channel, not yet checked.
        channel: String,
    },
    /// Send a chat line to a channel, `general` unless said otherwise.
    Message {
        /// The channel, not yet checked.
        #[serde(default = "general")]
        channel: String,
        /// The text, not yet checked beyond its size.
        text: String,
    },
    /// Ask for a `pong`.
    Ping,
}

/// The default channel of a `message` command.
fn general() -> String {
    GENERAL.to_owned()
}

/// The most bytes of JSON a command whose text holds `max_text_bytes` may take: each byte of
/// text may be written as a six-byte `\uXXXX` escape, plus room for the other fields. Longer
/// JSON is refused as `text_too_long` before it is parsed.
pub fn max_command_bytes(max_text_bytes: usize) -> usize {
    max_text_bytes
        .saturating_mul(6)
        .saturating_add(COMMAND_OVERHEAD_BYTES)
}

/// Room in [`max_command_bytes`] for `type`, `channel`, `since`, `name` and whitespace.
const COMMAND_OVERHEAD_BYTES: usize = 1024;

impl ClientCommand {
    /// Reads a Text message (§5.6: UTF-8 already checked): a JSON command, or plain text for
    /// `general`. Runs on the connection's reader thread, never on the hub. Sizes are checked
    /// first, so a huge message is refused without being parsed or copied.
    ///
    /// # Errors
    ///
    /// [`ChatError::TextTooLong`] for plain text over `max_text_bytes`;
    /// [`ChatError::CommandTooLong`] for JSON over [`max_command_bytes`];
    /// [`ChatError::BadJson`] for text starting with `{` that is not a JSON object or lacks a
    /// field its command needs; [`ChatError::UnknownType`] for an object without a known `type`.
    pub fn parse(text: &str, max_text_bytes: usize) -> Result<Self, ChatError> {
        if !text.trim_start().starts_with('{') {
            validate_text_size(text, max_text_bytes)?;
            return Ok(ClientCommand::Message {
                channel: general(),
                text: text.to_owned(),
            });
        }
        let limit = max_command_bytes(max_text_bytes);
        if text.len() > limit {
            return Err(ChatError::CommandTooLong {
                bytes: text.len(),
                limit,
            });
        }
        parse_command(text)
    }
}

/// Reads a JSON command of bounded size (see [`ClientCommand::parse`]).
fn parse_command(text: &str) -> Result<ClientCommand, ChatError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(bad_json)?;
    let kind = value.get("type").and_then(serde_json::Value::as_str);
    match kind {
        Some(kind) if CLIENT_TYPES.contains(&kind) => {
            serde_json::from_value(value).map_err(bad_json)
        }
        Some(kind) => Err(ChatError::UnknownType(Some(quote(kind)))),
        None => Err(ChatError::UnknownType(None)),
    }
}

/// Wraps serde's reason, shortened: it may quote the peer's input.
fn bad_json(error: serde_json::Error) -> ChatError {
    ChatError::BadJson(quote(&error.to_string()))
}

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, so an error never echoes a long input.
fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// Checks a requested name and returns it trimmed.
///
/// # Errors
///
/// [`ChatError::NameEmpty`], [`ChatError::NameTooLong`], [`ChatError::NameHasControlChar`] or
/// [`ChatError::NameReserved`] (`server` in any case).
fn validate_name(raw: &str, max_chars: usize) -> Result<&str, ChatError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 {
        Err(ChatError::NameEmpty)
    } else if chars > max_chars {
        Err(ChatError::NameTooLong {
            chars,
            limit: max_chars,
        })
    } else if name.chars().any(char::is_control) {
        Err(ChatError::NameHasControlChar)
    } else if name.eq_ignore_ascii_case(SERVER_NAME) {
        Err(ChatError::NameReserved)
    } else {
        Ok(name)
    }
}

/// Checks a channel name: 1 to `max_chars` characters of `A-Z a-z 0-9 _ - .`.
///
/// # Errors
///
/// [`ChatError::ChannelEmpty`], [`ChatError::ChannelTooLong`] or [`ChatError::ChannelBadChar`].
fn validate_channel(name: &str, max_chars: usize) -> Result<(), ChatError> {
    let is_allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if let Some(bad) = name.chars().find(|&c| !is_allowed(c)) {
        return Err(ChatError::ChannelBadChar(bad));
    }
    // Only ASCII is left, so bytes are characters.
    match name.len() {
        0 => Err(ChatError::ChannelEmpty),
        chars if chars > max_chars => Err(ChatError::ChannelTooLong {
            chars,
            limit: max_chars,
        }),
        _ => Ok(()),
    }
}

/// Checks message text: at most `max_bytes` bytes, not blank, no control characters but `\n`
/// and `\t`.
///
/// # Errors
///
/// [`ChatError::TextTooLong`], [`ChatError::TextEmpty`] or [`ChatError::TextHasControlChar`].
fn validate_text(text: &str, max_bytes: usize) -> Result<(), ChatError> {
    validate_text_size(text, max_bytes)?;
    if text.trim().is_empty() {
        Err(ChatError::TextEmpty)
    } else if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Err(ChatError::TextHasControlChar)
    } else {
        Ok(())
    }
}

/// Checks only the size of message text: at most `max_bytes` bytes.
///
/// # Errors
///
/// [`ChatError::TextTooLong`].
fn validate_text_size(text: &str, max_bytes: usize) -> Result<(), ChatError> {
    if text.len() > max_bytes {
        return Err(ChatError::TextTooLong {
            bytes: text.len(),
            limit: max_bytes,
        });
    }
    Ok(())
}

/// The key under which a name is unique: names differing only in case are the same name.
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The line shown for a presence event, in Korean as the chat pages expect.
fn presence_text(event: PresenceEvent, name: &str, old_name: Option<&str>, users: usize) -> String {
    match event {
        PresenceEvent::Join => format!("새로운 유저 접속 [현재: {users}명]"),
        PresenceEvent::Leave => format!("유저 연결 해제 [현재: {users}명]"),
        PresenceEvent::Rename => format!("이름 변경: {} → {name}", old_name.unwrap_or("")),
    }
}

/// One connected chat client.
#[derive(Debug)]
struct Client {
    /// Its current name, unique under [`name_key`].
    name: String,
    /// The channels it receives.
    subscriptions: BTreeSet<String>,
}

/// One channel: its subscribers and its bounded history.
#[derive(Debug, Default)]
struct Channel {
    /// The `seq` of the newest message; 0 before the first one.
    last_seq: u64,
    /// The newest messages, oldest first, at most `history_limit` of them.
    history: VecDeque<ChatMessage>,
    /// The clients that receive this channel.
    subscribers: BTreeSet<ClientId>,
}

impl Channel {
    /// Numbers a message, keeps it (evicting the oldest beyond `limit`) and returns it.
    fn append(&mut self, message: ChatMessage, limit: usize) -> ChatMessage {
        let message = ChatMessage {
            seq: self.last_seq.saturating_add(1),
            ..message
        };
        self.last_seq = message.seq;
        self.history.push_back(message.clone());
        while self.history.len() > limit {
            self.history.pop_front();
        }
        message
    }

    /// The `history` event for a client that last saw `since` (or nothing, if `None`).
    fn replay(&self, channel: &str, since: Option<u64>) -> ServerEvent {
        let first_available = self
            .history
            .front()
            .map_or(self.last_seq.saturating_add(1), |oldest| oldest.seq);
        let reset = since.is_some_and(|since| since > self.last_seq);
        let (messages, lost) = match since {
            Some(since) if !reset => {
                let missed = self
                    .history
                    .iter()
                    .filter(|m| m.seq > since)
                    .cloned()
                    .collect();
                // Seqs since+1 .. first_available-1 were evicted before this replay.
                (
                    missed,
                    first_available.saturating_sub(since.saturating_add(1)),
                )
            }
            _ => (self.history.iter().cloned().collect(), 0),
        };
        ServerEvent::History {
            channel: channel.to_owned(),
            messages,
            lost,
            first_available,
            reset,
        }
    }
}

/// The `/chat` state: clients, their names and subscriptions, channels and their histories.
#[derive(Debug)]
pub struct Chat {
    /// The limits.
    config: ChatConfig,
    /// Connected clients by id.
    clients: BTreeMap<ClientId, Client>,
    /// Who holds each name, keyed by [`name_key`].
    names: HashMap<String, ClientId>,
    /// Every channel that exists, by name; channels are never removed.
    channels: BTreeMap<String, Channel>,
    /// The number of the next `guest-N` name.
    next_guest: u64,
}

impl Chat {
    /// An empty chat with only the `general` channel.
    pub fn new(config: ChatConfig) -> Self {
        let mut channels = BTreeMap::new();
        channels.insert(GENERAL.to_owned(), Channel::default());
        Chat {
            config,
            clients: BTreeMap::new(),
            names: HashMap::new(),
            channels,
            next_guest: 1,
        }
    }

    /// A client connected.
    ///
    /// It gets the name it asked for, trimmed and made unique with `-2`, `-3`, …; or `guest-N`
    /// when it asked for none or an invalid one (then also a `bad_name` error saying why). It is
    /// subscribed to `general` and to every channel in `resume`. The deliveries are, in order:
    /// `welcome` to it; any errors to it; one `history` per subscribed channel to it, `general`
    /// first, replaying after the `seq` given in `resume`; `presence` `join` to every client,
    /// itself included; and `channels` to everyone if `resume` created a channel.
    pub fn connect(&mut self, id: ClientId, query: ChatQuery, now_ms: u64) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        if self.clients.contains_key(&id) {
            log::warn!("chat: client {id} connected twice; dropping its old state");
            deliveries.extend(self.disconnect(id));
        }
        let mut errors = Vec::new();
        let requested = query
            .name
            .as_deref()
            .map(|raw| validate_name(raw, self.config.max_name_chars));
        let name = match requested {
            Some(Ok(name)) => self.unique_name(name, None),
            Some(Err(error)) => {
                errors.push(error);
                self.guest_name()
            }
            None => self.guest_name(),
        };
        log::debug!("chat: client {id} joined as {name:?} at {now_ms} ms");
        self.names.insert(name_key(&name), id);
        self.clients.insert(
            id,
            Client {
                name: name.clone(),
                subscriptions: BTreeSet::new(),
            },
        );
        // Seqs from another run of the server mean nothing here: replay those channels whole,
        // as a reset (a `since` beyond every seq is exactly that).
        let other_epoch = query.epoch.is_some_and(|epoch| epoch != self.config.epoch);
        let resume: Vec<(String, u64)> = if other_epoch {
            query
                .resume
                .into_iter()
                .map(|(channel, _)| (channel, u64::MAX))
                .collect()
        } else {
            query.resume
        };
        let (replays, created) = self.subscribe_on_connect(id, &resume, &mut errors);

        deliveries.push(self.welcome(id, name.clone()));
        deliveries.extend(errors.iter().map(|error| error_to(id, error)));
        deliveries.extend(replays.into_iter().map(|event| Delivery {
            to: Recipients::One(id),
            event,
        }));
        deliveries.extend(self.presence(PresenceEvent::Join, name, None));
        if created {
            deliveries.extend(self.channels_event());
        }
        deliveries
    }

    /// Subscribes a new client to `general` and the `resume` channels; returns their replays
    /// and whether a channel was created. Refusals go to `errors`; the first
    /// [`ChatError::TooManySubscriptions`] ends the list, and items beyond
    /// [`ChatConfig::max_channels_per_client`] are not even looked at.
    fn subscribe_on_connect(
        &mut self,
        id: ClientId,
        resume: &[(String, u64)],
        errors: &mut Vec<ChatError>,
    ) -> (Vec<ServerEvent>, bool) {
        let since_of = |channel: &str| {
            resume
                .iter()
                .find(|(name, _)| name == channel)
                .map(|&(_, seq)| seq)
        };
        // One more than the limit is enough to report the limit; the URL may list thousands.
        let mut wanted: Vec<&str> = vec![GENERAL];
        for (channel, _) in resume {
            if wanted.len() > self.config.max_channels_per_client {
                break;
            }
            if !wanted.contains(&channel.as_str()) {
                wanted.push(channel);
            }
        }
        let mut replays = Vec::new();
        let mut created = false;
        for channel in wanted {
            match self.add_subscription(id, channel) {
                Ok(was_created) => {
                    created |= was_created;
                    replays.extend(self.replay(channel, since_of(channel)));
                }
                Err(error @ ChatError::TooManySubscriptions { .. }) => {
                    errors.push(error);
                    break;
                }
                Err(error) => errors.push(error),
            }
        }
        (replays, created)
    }

    /// The client left for any reason: it is removed from every channel and each remaining
    /// client gets `presence` `leave` with the new count. An unknown id delivers nothing.
    pub fn disconnect(&mut self, id: ClientId) -> Vec<Delivery> {
        let Some(client) = self.clients.remove(&id) else {
            return Vec::new();
        };
        self.names.remove(&name_key(&client.name));
        for channel in &client.subscriptions {
            if let Some(channel) = self.channels.get_mut(channel) {
                channel.subscribers.remove(&id);
            }
        }
        log::debug!("chat: client {id} ({:?}) left", client.name);
        self.presence(PresenceEvent::Leave, client.name, None)
            .into_iter()
            .collect()
    }

    /// A Text message arrived from the client: [`ClientCommand::parse`], then
    /// [`Chat::receive`]. The hub gets commands already parsed; this is for tests and tools.
    pub fn receive_text(&mut self, id: ClientId, text: &str, now_ms: u64) -> Vec<Delivery> {
        let command = ClientCommand::parse(text, self.config.max_text_bytes);
        self.receive(id, command, now_ms)
    }

    /// A Binary message arrived: answered with the `binary_unsupported` error.
    pub fn receive_binary(&mut self, id: ClientId) -> Vec<Delivery> {
        self.receive(id, Err(ChatError::BinaryUnsupported), 0)
    }

    /// A message arrived from the client, parsed by its reader thread into a command or the
    /// reason it was refused.
    ///
    /// A command is handled by its `type` (see the module table). Anything refused is answered
    /// with an `error` event to the sender and changes nothing. An unknown id delivers nothing.
    pub fn receive(
        &mut self,
        id: ClientId,
        command: Result<ClientCommand, ChatError>,
        now_ms: u64,
    ) -> Vec<Delivery> {
        if !self.clients.contains_key(&id) {
            return Vec::new();
        }
        command
            .and_then(|command| self.handle(id, command, now_ms))
            .unwrap_or_else(|error| vec![error_to(id, &error)])
    }

    /// Publishes `text` to `channel` from `server` (HTTP `POST /publish/<channel>`).
    ///
    /// The message is kept in the channel's history and delivered to its subscribers; a channel
    /// nobody used yet is created (and announced with `channels`). Returns the deliveries and
    /// how many clients receive the message.
    ///
    /// # Errors
    ///
    /// The reason, as text, if the channel name or the text is invalid or the channel would be
    /// one more than [`ChatConfig::max_channels`].
    pub fn publish(
        &mut self,
        channel: &str,
        text: &str,
        now_ms: u64,
    ) -> Result<(Vec<Delivery>, usize), String> {
        validate_channel(channel, self.config.max_channel_chars).map_err(|e| e.to_string())?;
        validate_text(text, self.config.max_text_bytes).map_err(|e| e.to_string())?;
        let created = self.ensure_channel(channel).map_err(|e| e.to_string())?;
        let delivery = self.append(channel, SERVER_NAME, text, now_ms);
        let recipients = delivery.as_ref().map_or(0, |d| d.to.as_slice().len());
        let mut deliveries: Vec<Delivery> = delivery.into_iter().collect();
        if created {
            deliveries.extend(self.channels_event());
        }
        Ok((deliveries, recipients))
    }

    /// How many chat clients are connected.
    pub fn user_count(&self) -> usize {
        self.clients.len()
    }

    /// The current name of a connected client.
    pub fn name_of(&self, id: ClientId) -> Option<&str> {
        self.clients.get(&id).map(|client| client.name.as_str())
    }

    /// Carries out one parsed command from a connected client.
    fn handle(
        &mut self,
        id: ClientId,
        command: ClientCommand,
        now_ms: u64,
    ) -> Result<Vec<Delivery>, ChatError> {
        match command {
            ClientCommand::Join { name } => self.rename(id, &name),
            ClientCommand::Subscribe { channel, since } => self.subscribe(id, &channel, since),
            ClientCommand::Unsubscribe { channel } => self.unsubscribe(id, &channel),
            ClientCommand::Message { channel, text } => self.send(id, &channel, &text, now_ms),
            ClientCommand::Ping => Ok(vec![Delivery {
                to: Recipients::One(id),
                event: ServerEvent::Pong,
            }]),
        }
    }

    /// `join`: changes the client's name and tells everyone. The same name again changes
    /// nothing and delivers nothing.
    fn rename(&mut self, id: ClientId, raw: &str) -> Result<Vec<Delivery>, ChatError> {
        let wanted = validate_name(raw, self.config.max_name_chars)?;
        let new_name = self.unique_name(wanted, Some(id));
        let Some(client) = self.clients.get_mut(&id) else {
            return Ok(Vec::new());
        };
        if client.name == new_name {
            return Ok(Vec::new());
        }
        let old_name = std::mem::replace(&mut client.name, new_name.clone());
        self.names.remove(&name_key(&old_name));
        self.names.insert(name_key(&new_name), id);
        log::debug!("chat: client {id} renamed {old_name:?} → {new_name:?}");
        Ok(self
            .presence(PresenceEvent::Rename, new_name, Some(old_name))
            .into_iter()
            .collect())
    }

    /// `subscribe`: `subscribed`, then the replay, then `channels` if the channel is new.
    /// Subscribing again is allowed and replays again.
    fn subscribe(
        &mut self,
        id: ClientId,
        channel: &str,
        since: Option<u64>,
    ) -> Result<Vec<Delivery>, ChatError> {
        let created = self.add_subscription(id, channel)?;
        let mut deliveries = vec![Delivery {
            to: Recipients::One(id),
            event: ServerEvent::Subscribed {
                channel: channel.to_owned(),
            },
        }];
        deliveries.extend(self.replay(channel, since).map(|event| Delivery {
            to: Recipients::One(id),
            event,
        }));
        if created {
            deliveries.extend(self.channels_event());
        }
        Ok(deliveries)
    }

    /// `unsubscribe`: always answered with `unsubscribed`, even if the client was not
    /// subscribed; `general` may be left too.
    fn unsubscribe(&mut self, id: ClientId, channel: &str) -> Result<Vec<Delivery>, ChatError> {
        validate_channel(channel, self.config.max_channel_chars)?;
        if let Some(client) = self.clients.get_mut(&id) {
            client.subscriptions.remove(channel);
        }
        if let Some(state) = self.channels.get_mut(channel) {
            state.subscribers.remove(&id);
        }
        Ok(vec![Delivery {
            to: Recipients::One(id),
            event: ServerEvent::Unsubscribed {
                channel: channel.to_owned(),
            },
        }])
    }

    /// `message`: keeps the message and delivers it to every subscriber, the sender included.
    fn send(
        &mut self,
        id: ClientId,
        channel: &str,
        text: &str,
        now_ms: u64,
    ) -> Result<Vec<Delivery>, ChatError> {
        validate_channel(channel, self.config.max_channel_chars)?;
        validate_text(text, self.config.max_text_bytes)?;
        let Some(client) = self.clients.get(&id) else {
            return Ok(Vec::new());
        };
        if !client.subscriptions.contains(channel) {
            return Err(ChatError::NotSubscribed(channel.to_owned()));
        }
        let from = client.name.clone();
        Ok(self
            .append(channel, &from, text, now_ms)
            .into_iter()
            .collect())
    }

    /// Subscribes the client to `channel`, creating the channel if needed; returns whether it
    /// was created. Already being subscribed is fine.
    fn add_subscription(&mut self, id: ClientId, channel: &str) -> Result<bool, ChatError> {
        validate_channel(channel, self.config.max_channel_chars)?;
        let limit = self.config.max_channels_per_client;
        let client = self.clients.get(&id);
        if client
            .is_some_and(|c| !c.subscriptions.contains(channel) && c.subscriptions.len() >= limit)
        {
            return Err(ChatError::TooManySubscriptions { limit });
        }
        let created = self.ensure_channel(channel)?;
        if let Some(client) = self.clients.get_mut(&id) {
            client.subscriptions.insert(channel.to_owned());
        }
        if let Some(state) = self.channels.get_mut(channel) {
            state.subscribers.insert(id);
        }
        Ok(created)
    }

    /// Creates `channel` unless it exists; returns whether it was created.
    fn ensure_channel(&mut self, channel: &str) -> Result<bool, ChatError> {
        if self.channels.contains_key(channel) {
            return Ok(false);
        }
        let limit = self.config.max_channels;
        if self.channels.len() >= limit {
            return Err(ChatError::TooManyChannels { limit });
        }
        log::debug!("chat: channel {channel:?} created");
        self.channels.insert(channel.to_owned(), Channel::default());
        Ok(true)
    }

    /// Appends a message to an existing channel; returns its delivery to the subscribers, or
    /// `None` if nobody is subscribed (the message is kept all the same).
    fn append(&mut self, channel: &str, from: &str, text: &str, now_ms: u64) -> Option<Delivery> {
        let limit = self.config.history_limit;
        let state = self.channels.get_mut(channel)?;
        let message = state.append(
            ChatMessage {
                channel: channel.to_owned(),
                seq: 0,
                from: from.to_owned(),
                text: text.to_owned(),
                ts: now_ms,
            },
            limit,
        );
        many(
            state.subscribers.iter().copied().collect(),
            ServerEvent::Message(message),
        )
    }

    /// The `history` event of an existing channel.
    fn replay(&self, channel: &str, since: Option<u64>) -> Option<ServerEvent> {
        Some(self.channels.get(channel)?.replay(channel, since))
    }

    /// The `welcome` event for a client that just connected and subscribed.
    fn welcome(&self, id: ClientId, name: String) -> Delivery {
        let subscribed = self
            .clients
            .get(&id)
            .map(|client| client.subscriptions.iter().cloned().collect())
            .unwrap_or_default();
        Delivery {
            to: Recipients::One(id),
            event: ServerEvent::Welcome {
                id,
                name,
                users: self.user_count(),
                channels: self.channels.keys().cloned().collect(),
                subscribed,
                history_limit: self.config.history_limit,
                epoch: self.config.epoch,
            },
        }
    }

    /// A `presence` event to every connected client, with the count as it is now.
    fn presence(
        &self,
        event: PresenceEvent,
        name: String,
        old_name: Option<String>,
    ) -> Option<Delivery> {
        let users = self.user_count();
        let text = presence_text(event, &name, old_name.as_deref(), users);
        self.to_everyone(ServerEvent::Presence {
            event,
            name,
            old_name,
            users,
            text,
        })
    }

    /// The `channels` event to every connected client.
    fn channels_event(&self) -> Option<Delivery> {
        self.to_everyone(ServerEvent::Channels {
            channels: self.channels.keys().cloned().collect(),
        })
    }

    /// A delivery to every connected client, or `None` if nobody is connected.
    fn to_everyone(&self, event: ServerEvent) -> Option<Delivery> {
        many(self.clients.keys().copied().collect(), event)
    }

    /// `wanted` if nobody else holds it, else `wanted-2`, `wanted-3`, … shortened so the
    /// result stays within [`ChatConfig::max_name_chars`]. `owner` may keep its own name.
    fn unique_name(&self, wanted: &str, owner: Option<ClientId>) -> String {
        let is_free = |candidate: &str| {
            self.names
                .get(&name_key(candidate))
                .map_or(true, |&holder| Some(holder) == owner)
        };
        if is_free(wanted) {
            return wanted.to_owned();
        }
        // Ends: every candidate differs, and only finitely many names are taken.
        let mut number: u64 = 2;
        loop {
            let suffix = format!("-{number}");
            let keep = self
                .config
                .max_name_chars
                .saturating_sub(suffix.len())
                .max(1);
            let candidate: String = wanted.chars().take(keep).chain(suffix.chars()).collect();
            if is_free(&candidate) {
                return candidate;
            }
            number = number.saturating_add(1);
        }
    }

    /// The next free `guest-N` name.
    fn guest_name(&mut self) -> String {
        loop {
            let candidate = format!("guest-{}", self.next_guest);
            self.next_guest = self.next_guest.saturating_add(1);
            if !self.names.contains_key(&name_key(&candidate)) {
                return candidate;
            }
        }
    }
}

/// A delivery to `ids`, or `None` if there is nobody to deliver to.
fn many(ids: Vec<ClientId>, event: ServerEvent) -> Option<Delivery> {
    if ids.is_empty() {
        return None;
    }
    Some(Delivery {
        to: Recipients::Many(ids),
        event,
    })
}

/// An `error` event to one client.
fn error_to(id: ClientId, error: &ChatError) -> Delivery {
    Delivery {
        to: Recipients::One(id),
        event: error.to_event(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const NOW: u64 = 1_700_000_000_000;

    fn chat() -> Chat {
        Chat::new(ChatConfig::default())
    }

    fn chat_with_history(history_limit: usize) -> Chat {
        Chat::new(ChatConfig {
            history_limit,
            ..ChatConfig::default()
        })
    }

    fn named(name: &str) -> ChatQuery {
        ChatQuery {
            name: Some(name.to_owned()),
            resume: Vec::new(),
            epoch: None,
        }
    }

    fn resuming(name: &str, resume: &[(&str, u64)]) -> ChatQuery {
        ChatQuery {
            name: Some(name.to_owned()),
            resume: resume.iter().map(|&(c, s)| (c.to_owned(), s)).collect(),
            epoch: None,
        }
    }

    /// The JSON texts `id` receives, parsed back, in order: what its page would see.
    fn received(deliveries: &[Delivery], id: ClientId) -> Vec<Value> {
        deliveries
            .iter()
            .filter(|d| d.to.as_slice().contains(&id))
            .map(|d| serde_json::from_str(&d.event.to_json()).expect("event JSON parses back"))
            .collect()
    }

    /// The events `id` receives, parsed back from their JSON into [`ServerEvent`].
    fn events(deliveries: &[Delivery], id: ClientId) -> Vec<ServerEvent> {
        received(deliveries, id)
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("JSON is a ServerEvent"))
            .collect()
    }

    fn types(deliveries: &[Delivery], id: ClientId) -> Vec<String> {
        received(deliveries, id)
            .iter()
            .map(|v| v["type"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    fn error_codes(deliveries: &[Delivery], id: ClientId) -> Vec<String> {
        events(deliveries, id)
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Error { error, .. } => Some(error),
                _ => None,
            })
            .collect()
    }

    fn presence_of(
        deliveries: &[Delivery],
        id: ClientId,
    ) -> Vec<(PresenceEvent, String, usize, String)> {
        events(deliveries, id)
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Presence {
                    event,
                    name,
                    users,
                    text,
                    ..
                } => Some((event, name, users, text)),
                _ => None,
            })
            .collect()
    }

    /// The seqs, `lost`, `first_available` and `reset` of the first `history` event `id` gets.
    fn history_of(deliveries: &[Delivery], id: ClientId) -> (Vec<u64>, u64, u64, bool) {
        events(deliveries, id)
            .into_iter()
            .find_map(|e| match e {
                ServerEvent::History {
                    messages,
                    lost,
                    first_available,
                    reset,
                    ..
                } => Some((
                    messages.iter().map(|m| m.seq).collect(),
                    lost,
                    first_available,
                    reset,
                )),
                _ => None,
            })
            .expect("a history event")
    }

    fn welcome_name(deliveries: &[Delivery], id: ClientId) -> String {
        events(deliveries, id)
            .into_iter()
            .find_map(|e| match e {
                ServerEvent::Welcome { name, .. } => Some(name),
                _ => None,
            })
            .expect("a welcome event")
    }

    fn say(chat: &mut Chat, id: ClientId, channel: &str, text: &str) -> Vec<Delivery> {
        let command = json!({"type": "message", "channel": channel, "text": text});
        chat.receive_text(id, &command.to_string(), NOW)
    }

    fn subscribe(
        chat: &mut Chat,
        id: ClientId,
        channel: &str,
        since: Option<u64>,
    ) -> Vec<Delivery> {
        let command = match since {
            Some(since) => json!({"type": "subscribe", "channel": channel, "since": since}),
            None => json!({"type": "subscribe", "channel": channel}),
        };
        chat.receive_text(id, &command.to_string(), NOW)
    }

    /// Posts `count` messages to `channel` from the server.
    fn fill(chat: &mut Chat, channel: &str, count: u64) {
        for n in 1..=count {
            chat.publish(channel, &format!("m{n}"), NOW)
                .expect("valid publish");
        }
    }

    #[test]
    fn presence_join_counts_every_client_including_the_newcomer() {
        let mut chat = chat();
        let first = chat.connect(1, named("alice"), NOW);
        assert_eq!(
            presence_of(&first, 1),
            [(
                PresenceEvent::Join,
                "alice".into(),
                1,
                "새로운 유저 접속 [현재: 1명]".into()
            )]
        );
        let second = chat.connect(2, named("bob"), NOW);
        for id in [1, 2] {
            assert_eq!(presence_of(&second, id)[0].2, 2, "client {id}");
        }
        let third = chat.connect(3, named("carol"), NOW);
        for id in [1, 2, 3] {
            assert_eq!(presence_of(&third, id)[0].2, 3, "client {id}");
        }
        assert_eq!(chat.user_count(), 3);
    }

    #[test]
    fn presence_leave_tells_the_remaining_clients_the_new_count() {
        let mut chat = chat();
        for (id, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
            chat.connect(id, named(name), NOW);
        }
        let left = chat.disconnect(2);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].to, Recipients::Many(vec![1, 3]));
        assert_eq!(
            presence_of(&left, 1),
            [(
                PresenceEvent::Leave,
                "bob".into(),
                2,
                "유저 연결 해제 [현재: 2명]".into()
            )]
        );
        assert_eq!(chat.user_count(), 2);
        assert_eq!(chat.name_of(2), None);
        assert_eq!(presence_of(&chat.disconnect(1), 3)[0].2, 1);
        assert!(chat.disconnect(3).is_empty(), "nobody is left to tell");
    }

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
    fn disconnect_of_an_unknown_client_delivers_nothing() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        assert!(chat.disconnect(99).is_empty());
        assert!(
            chat.disconnect(1).is_empty(),
            "the last client leaves nobody to tell"
        );
        assert!(
            chat.disconnect(1).is_empty(),
            "a second disconnect is unknown"
        );
    }

    #[test]
    fn a_taken_name_gets_a_numbered_suffix() {
        let mut chat = chat();
        let names: Vec<String> = (1..=4)
            .map(|id| welcome_name(&chat.connect(id, named("alice"), NOW), id))
            .collect();
        assert_eq!(names, ["alice", "alice-2", "alice-3", "alice-4"]);
        chat.disconnect(2);
        assert_eq!(
            welcome_name(&chat.connect(5, named("alice"), NOW), 5),
            "alice-2"
        );
    }

    #[test]
    fn names_differing_only_in_case_are_the_same_name() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        assert_eq!(
            welcome_name(&chat.connect(2, named("ALICE"), NOW), 2),
            "ALICE-2"
        );
    }

    #[test]
    fn a_suffixed_name_stays_within_the_name_limit() {
        let mut chat = chat();
        let long = "a".repeat(32);
        chat.connect(1, named(&long), NOW);
        let second = welcome_name(&chat.connect(2, named(&long), NOW), 2);
        assert_eq!(second, format!("{}-2", "a".repeat(30)));
        assert_eq!(second.chars().count(), 32);
    }

    #[test]
    fn a_client_without_a_name_becomes_guest_n() {
        let mut chat = chat();
        let first = chat.connect(1, ChatQuery::default(), NOW);
        assert_eq!(welcome_name(&first, 1), "guest-1");
        assert!(error_codes(&first, 1).is_empty());
        assert_eq!(
            welcome_name(&chat.connect(2, ChatQuery::default(), NOW), 2),
            "guest-2"
        );
        chat.connect(3, named("guest-3"), NOW);
        assert_eq!(
            welcome_name(&chat.connect(4, ChatQuery::default(), NOW), 4),
            "guest-4"
        );
    }

    #[test]
    fn an_invalid_name_yields_a_guest_name_and_an_error_saying_why() {
        let cases = [
            (
                "control char",
                "al\u{7}ice",
                "name contains a control character",
            ),
            (
                "too long",
                &"x".repeat(33)[..],
                "name is 33 characters long; the limit is 32",
            ),
            ("empty after trim", "   ", "name is empty"),
            ("reserved", "server", "name \"server\" is reserved"),
            (
                "reserved in any case",
                " Server ",
                "name \"server\" is reserved",
            ),
        ];
        for (case, name, why) in cases {
            let mut chat = chat();
            let connected = chat.connect(1, named(name), NOW);
            assert_eq!(welcome_name(&connected, 1), "guest-1", "{case}");
            let error = events(&connected, 1)
                .into_iter()
                .find(|e| matches!(e, ServerEvent::Error { .. }));
            let expected = ServerEvent::Error {
                error: "bad_name".into(),
                message: why.into(),
            };
            assert_eq!(error, Some(expected), "{case}");
            assert_eq!(types(&connected, 1)[..2], ["welcome", "error"], "{case}");
        }
    }

    #[test]
    fn a_name_at_the_limit_passes_and_one_char_over_fails() {
        let mut chat = chat();
        let at_limit = "한".repeat(32);
        assert_eq!(
            welcome_name(&chat.connect(1, named(&at_limit), NOW), 1),
            at_limit
        );
        let over = "한".repeat(33);
        assert_eq!(
            error_codes(&chat.connect(2, named(&over), NOW), 2),
            ["bad_name"]
        );
    }

    #[test]
    fn names_are_trimmed() {
        let mut chat = chat();
        assert_eq!(
            welcome_name(&chat.connect(1, named("  alice \t"), NOW), 1),
            "alice"
        );
        assert_eq!(chat.name_of(1), Some("alice"));
    }

    #[test]
    fn rename_tells_everyone_the_old_and_new_name() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let renamed = chat.receive_text(1, r#"{"type":"join","name":"alicia"}"#, NOW);
        assert_eq!(renamed.len(), 1);
        assert_eq!(renamed[0].to, Recipients::Many(vec![1, 2]));
        assert_eq!(
            received(&renamed, 2)[0],
            json!({"type": "presence", "event": "rename", "name": "alicia", "old_name": "alice",
                   "users": 2, "text": "이름 변경: alice → alicia"})
        );
        assert_eq!(chat.name_of(1), Some("alicia"));
        let taken_again = chat.connect(3, named("alice"), NOW);
        assert_eq!(
            welcome_name(&taken_again, 3),
            "alice",
            "the old name is free again"
        );
    }

    #[test]
    fn rename_to_a_taken_name_gets_a_suffix() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        chat.receive_text(2, r#"{"type":"join","name":"alice"}"#, NOW);
        assert_eq!(chat.name_of(2), Some("alice-2"));
    }

    #[test]
    fn rename_to_the_same_name_changes_nothing() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        assert!(chat
            .receive_text(1, r#"{"type":"join","name":" alice "}"#, NOW)
            .is_empty());
        let recased = chat.receive_text(1, r#"{"type":"join","name":"Alice"}"#, NOW);
        assert_eq!(
            presence_of(&recased, 1)[0].1,
            "Alice",
            "a change of case is a rename"
        );
    }

    #[test]
    fn rename_to_an_invalid_name_is_an_error_and_keeps_the_old_name() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let refused = chat.receive_text(1, r#"{"type":"join","name":"server"}"#, NOW);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].to, Recipients::One(1));
        assert_eq!(error_codes(&refused, 1), ["bad_name"]);
        assert_eq!(chat.name_of(1), Some("alice"));
    }

    #[test]
    fn connect_sends_welcome_then_history_then_presence() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        subscribe(&mut chat, 1, "news", None);
        let connected = chat.connect(7, named("bob"), NOW);
        assert_eq!(types(&connected, 7), ["welcome", "history", "presence"]);
        assert_eq!(
            received(&connected, 7)[0],
            json!({"type": "welcome", "id": 7, "name": "bob", "users": 2,
                   "channels": ["general", "news"], "subscribed": ["general"], "history_limit": 50, "epoch": 0})
        );
        assert_eq!(types(&connected, 1), ["presence"]);
    }

    #[test]
    fn a_message_reaches_every_subscriber_including_the_sender() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let sent = say(&mut chat, 1, "general", "hi");
        assert_eq!(sent.len(), 1, "one event, serialized once");
        assert_eq!(sent[0].to, Recipients::Many(vec![1, 2]));
        assert_eq!(
            received(&sent, 1)[0],
            json!({"type": "message", "channel": "general", "seq": 1, "from": "alice", "text": "hi",
                   "ts": NOW})
        );
    }

    #[test]
    fn a_news_message_is_not_delivered_to_general_only_clients() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        chat.connect(3, named("carol"), NOW);
        subscribe(&mut chat, 1, "news", None);
        subscribe(&mut chat, 3, "news", None);
        let sent = say(&mut chat, 1, "news", "extra!");
        assert_eq!(sent[0].to, Recipients::Many(vec![1, 3]));
        assert!(received(&sent, 2).is_empty());
    }

    #[test]
    fn the_channel_of_a_message_defaults_to_general() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let sent = chat.receive_text(1, r#"{"type":"message","text":"hi"}"#, NOW);
        assert_eq!(received(&sent, 1)[0]["channel"], "general");
    }

    #[test]
    fn seq_counts_from_one_in_each_channel_and_never_resets() {
        let mut chat = chat_with_history(2);
        chat.connect(1, named("alice"), NOW);
        subscribe(&mut chat, 1, "news", None);
        let seqs = |deliveries: Vec<Delivery>| received(&deliveries, 1)[0]["seq"].as_u64();
        assert_eq!(seqs(say(&mut chat, 1, "general", "a")), Some(1));
        assert_eq!(seqs(say(&mut chat, 1, "general", "b")), Some(2));
        assert_eq!(seqs(say(&mut chat, 1, "news", "c")), Some(1));
        assert_eq!(
            seqs(say(&mut chat, 1, "general", "d")),
            Some(3),
            "eviction keeps counting"
        );
        chat.disconnect(1);
        chat.connect(2, named("bob"), NOW);
        assert_eq!(
            seqs_of_general(&mut chat, 2),
            Some(4),
            "an empty chat keeps counting"
        );
    }

    fn seqs_of_general(chat: &mut Chat, id: ClientId) -> Option<u64> {
        received(&say(chat, id, "general", "e"), id)[0]["seq"].as_u64()
    }

    #[test]
    fn history_is_bounded_at_the_limit() {
        let mut chat = chat_with_history(3);
        fill(&mut chat, "general", 10);
        let connected = chat.connect(1, named("alice"), NOW);
        assert_eq!(history_of(&connected, 1), (vec![8, 9, 10], 0, 8, false));
    }

    #[test]
    fn subscribe_replies_subscribed_then_the_last_n_messages() {
        let mut chat = chat_with_history(3);
        fill(&mut chat, "news", 5);
        chat.connect(1, named("alice"), NOW);
        let subscribed = subscribe(&mut chat, 1, "news", None);
        assert_eq!(types(&subscribed, 1), ["subscribed", "history"]);
        assert_eq!(
            received(&subscribed, 1)[0],
            json!({"type": "subscribed", "channel": "news"})
        );
        let history = &received(&subscribed, 1)[1];
        assert_eq!(history["channel"], "news");
        assert_eq!(
            history["messages"][0],
            json!({"channel": "news", "seq": 3, "from": "server", "text": "m3", "ts": NOW})
        );
        assert_eq!(history_of(&subscribed, 1), (vec![3, 4, 5], 0, 3, false));
    }

    #[test]
    fn subscribe_with_since_replays_exactly_the_missed_messages() {
        let mut chat = chat_with_history(10);
        fill(&mut chat, "news", 7);
        chat.connect(1, named("alice"), NOW);
        assert_eq!(
            history_of(&subscribe(&mut chat, 1, "news", Some(4)), 1),
            (vec![5, 6, 7], 0, 1, false)
        );
    }

    #[test]
    fn since_before_the_oldest_kept_message_counts_the_lost_ones() {
        let mut chat = chat_with_history(3);
        fill(&mut chat, "news", 10);
        chat.connect(1, named("alice"), NOW);
        // Seqs 3..=7 were evicted: 5 lost, 8..=10 replayed.
        assert_eq!(
            history_of(&subscribe(&mut chat, 1, "news", Some(2)), 1),
            (vec![8, 9, 10], 5, 8, false)
        );
        // One short of the oldest kept: nothing lost.
        assert_eq!(
            history_of(&subscribe(&mut chat, 1, "news", Some(7)), 1),
            (vec![8, 9, 10], 0, 8, false)
        );
        assert_eq!(
            history_of(&subscribe(&mut chat, 1, "news", Some(0)), 1),
            (vec![8, 9, 10], 7, 8, false)
        );
    }

    #[test]
    fn without_any_history_every_missed_message_is_lost() {
        let mut chat = chat_with_history(0);
        fill(&mut chat, "news", 4);
        chat.connect(1, named("alice"), NOW);
        assert_eq!(
            history_of(&subscribe(&mut chat, 1, "news", Some(1)), 1),
            (vec![], 3, 5, false)
        );
    }

    #[test]
    fn since_at_the_last_seq_replays_nothing() {
        let mut chat = chat_with_history(3);
        fill(&mut chat, "news", 10);
        chat.connect(1, named("alice"), NOW);
        assert_eq!(
            history_of(&subscribe(&mut chat, 1, "news", Some(10)), 1),
            (vec![], 0, 8, false)
        );
    }

    #[test]
    fn since_beyond_the_last_seq_is_a_reset_with_the_whole_history() {
        let mut chat = chat_with_history(3);
        fill(&mut chat, "news", 4);
        chat.connect(1, named("alice"), NOW);
        let subscribed = subscribe(&mut chat, 1, "news", Some(41));
        assert_eq!(history_of(&subscribed, 1), (vec![2, 3, 4], 0, 2, true));
        assert_eq!(received(&subscribed, 1)[1]["reset"], true);
        let fresh = subscribe(&mut chat, 1, "sports", Some(3));
        assert_eq!(
            history_of(&fresh, 1),
            (vec![], 0, 1, true),
            "a channel born after a restart"
        );
    }

    #[test]
    fn resume_from_another_server_epoch_replays_everything_as_a_reset() {
        let mut chat = Chat::new(ChatConfig {
            epoch: 2,
            ..ChatConfig::default()
        });
        chat.connect(1, named("alice"), NOW);
        for text in ["a", "b", "c"] {
            chat.receive_text(1, &format!(r#"{{"type":"message","text":"{text}"}}"#), NOW);
        }
        // The client saw seq 1 in an earlier run (epoch 1); seq 1 here is another message.
        let query = ChatQuery {
            epoch: Some(1),
            ..resuming("bob", &[("general", 1)])
        };
        let (seqs, lost, _, reset) = history_of(&chat.connect(2, query, NOW), 2);
        assert_eq!((seqs, lost, reset), (vec![1, 2, 3], 0, true));
        // The same epoch resumes exactly after the seq.
        let query = ChatQuery {
            epoch: Some(2),
            ..resuming("carol", &[("general", 1)])
        };
        let (seqs, _, _, reset) = history_of(&chat.connect(3, query, NOW), 3);
        assert_eq!((seqs, reset), (vec![2, 3], false));
    }

    #[test]
    fn connect_with_resume_subscribes_and_replays_each_channel() {
        let mut chat = chat_with_history(10);
        fill(&mut chat, "general", 5);
        fill(&mut chat, "news", 3);
        let query = resuming("alice", &[("news", 1), ("general", 4), ("news", 2)]);
        let connected = chat.connect(1, query, NOW);
        assert_eq!(
            types(&connected, 1),
            ["welcome", "history", "history", "presence"]
        );
        let replays: Vec<(String, Vec<u64>)> = events(&connected, 1)
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::History {
                    channel, messages, ..
                } => Some((channel, messages.iter().map(|m| m.seq).collect())),
                _ => None,
            })
            .collect();
        assert_eq!(
            replays,
            [("general".into(), vec![5]), ("news".into(), vec![2, 3])]
        );
        assert_eq!(
            received(&connected, 1)[0]["subscribed"],
            json!(["general", "news"])
        );
        assert_eq!(
            say(&mut chat, 1, "news", "back")[0].to,
            Recipients::Many(vec![1])
        );
    }

    #[test]
    fn connect_with_resume_of_a_new_channel_creates_and_announces_it() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let connected = chat.connect(2, resuming("bob", &[("news", 7), ("bad channel", 1)]), NOW);
        assert_eq!(
            types(&connected, 2),
            ["welcome", "error", "history", "history", "presence", "channels"]
        );
        assert_eq!(error_codes(&connected, 2), ["bad_channel"]);
        assert_eq!(types(&connected, 1), ["presence", "channels"]);
        let (_, _, _, reset) = history_of(&subscribe(&mut chat, 1, "news", Some(7)), 1);
        assert!(reset, "news is new, so seq 7 came from before a restart");
    }

    #[test]
    fn connect_with_too_many_resume_channels_stops_at_the_limit() {
        let mut chat = Chat::new(ChatConfig {
            max_channels_per_client: 3,
            ..ChatConfig::default()
        });
        let resume = [("a", 0), ("b", 0), ("c", 0), ("d", 0)];
        let connected = chat.connect(1, resuming("alice", &resume), NOW);
        assert_eq!(error_codes(&connected, 1), ["too_many_channels"]);
        assert_eq!(
            received(&connected, 1)[0]["subscribed"],
            json!(["a", "b", "general"])
        );
    }

    #[test]
    fn a_huge_resume_list_yields_a_bounded_answer() {
        let mut chat = chat();
        let resume: Vec<(String, u64)> =
            (0..5000).map(|n| (format!("bad channel {n}"), 0)).collect();
        let query = ChatQuery {
            name: Some("alice".into()),
            resume,
            epoch: None,
        };
        let connected = chat.connect(1, query, NOW);
        assert!(connected.len() <= 40, "{} deliveries", connected.len());
    }

    #[test]
    fn plain_text_is_a_message_to_general() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let sent = chat.receive_text(1, "hello, world", NOW);
        assert_eq!(sent[0].to, Recipients::Many(vec![1, 2]));
        assert_eq!(received(&sent, 2)[0]["text"], "hello, world");
        assert_eq!(received(&sent, 2)[0]["channel"], "general");
        let array = chat.receive_text(1, "[1, 2]", NOW);
        assert_eq!(
            received(&array, 2)[0]["text"],
            "[1, 2]",
            "only a leading brace starts a command"
        );
    }

    #[test]
    fn malformed_json_is_an_error_and_changes_nothing() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        for text in [
            r#"{"type":"message","text":"#,
            "  {oops}",
            r#"{"type":"message"}"#,
            r#"{"type":"join","name":5}"#,
        ] {
            let refused = chat.receive_text(1, text, NOW);
            assert_eq!(refused.len(), 1, "{text}");
            assert_eq!(refused[0].to, Recipients::One(1), "{text}");
            assert_eq!(error_codes(&refused, 1), ["bad_json"], "{text}");
        }
        assert_eq!(chat.name_of(1), Some("alice"));
        assert_eq!(chat.user_count(), 2);
        let next = say(&mut chat, 1, "general", "still here");
        assert_eq!(received(&next, 1)[0]["seq"], 1, "nothing was appended");
    }

    #[test]
    fn bad_json_never_echoes_a_long_input() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let command = json!({"type": "subscribe", "channel": "news", "since": "x".repeat(10_000)});
        let refused = chat.receive_text(1, &command.to_string(), NOW);
        let message = received(&refused, 1)[0]["message"].as_str().map(str::len);
        assert!(message.is_some_and(|len| len < 200), "{message:?}");
    }

    #[test]
    fn an_unknown_or_missing_type_is_an_error() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let unknown = chat.receive_text(1, r#"{"type":"dance"}"#, NOW);
        assert_eq!(
            received(&unknown, 1)[0],
            json!({"type": "error", "error": "unknown_type",
                   "message": "unknown type \"dance\" (expected one of join, subscribe, unsubscribe, message, ping)"})
        );
        assert_eq!(
            error_codes(&chat.receive_text(1, r#"{"text":"hi"}"#, NOW), 1),
            ["unknown_type"]
        );
        assert_eq!(
            error_codes(&chat.receive_text(1, r#"{"type":7}"#, NOW), 1),
            ["unknown_type"]
        );
    }

    #[test]
    fn every_listed_client_type_is_a_command() {
        for kind in CLIENT_TYPES {
            let text = json!({"type": kind, "name": "n", "channel": "c", "text": "t"}).to_string();
            assert!(parse_command(&text).is_ok(), "{kind}");
        }
    }

    #[test]
    fn a_message_to_an_unsubscribed_channel_is_refused() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let refused = say(&mut chat, 1, "news", "hi");
        assert_eq!(error_codes(&refused, 1), ["not_subscribed"]);
        assert_eq!(refused.len(), 1);
    }

    #[test]
    fn unsubscribing_general_is_allowed_and_stops_delivery() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let left = chat.receive_text(2, r#"{"type":"unsubscribe","channel":"general"}"#, NOW);
        assert_eq!(
            received(&left, 2),
            [json!({"type": "unsubscribed", "channel": "general"})]
        );
        assert_eq!(
            say(&mut chat, 1, "general", "hi")[0].to,
            Recipients::Many(vec![1])
        );
        assert_eq!(
            error_codes(&chat.receive_text(2, "hi", NOW), 2),
            ["not_subscribed"]
        );
        let again = chat.receive_text(2, r#"{"type":"unsubscribe","channel":"general"}"#, NOW);
        assert_eq!(
            types(&again, 2),
            ["unsubscribed"],
            "unsubscribing twice is fine"
        );
    }

    #[test]
    fn text_at_the_limit_passes_and_one_byte_over_fails() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let at_limit = "é".repeat(2048);
        assert_eq!(
            types(&say(&mut chat, 1, "general", &at_limit), 1),
            ["message"]
        );
        let over = format!("{at_limit}!");
        let refused = say(&mut chat, 1, "general", &over);
        assert_eq!(
            received(&refused, 1)[0]["message"],
            "message text is 4097 bytes long; the limit is 4096"
        );
        assert_eq!(error_codes(&refused, 1), ["text_too_long"]);
    }

    #[test]
    fn blank_text_and_control_characters_are_refused_but_newline_and_tab_pass() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        for (text, expected) in [
            ("", "bad_text"),
            (" \n ", "bad_text"),
            ("bell\u{7}", "bad_text"),
            ("cr\r\n", "bad_text"),
            ("line\nnext\tcol", "message"),
        ] {
            let answer = say(&mut chat, 1, "general", text);
            let code = error_codes(&answer, 1)
                .pop()
                .unwrap_or_else(|| "message".into());
            assert_eq!(code, expected, "{text:?}");
        }
    }

    #[test]
    fn channel_names_are_checked() {
        let long = "c".repeat(33);
        let at_limit = "c".repeat(32);
        let cases = [
            ("", Some("channel name is empty")),
            (
                &long[..],
                Some("channel name is 33 characters long; the limit is 32"),
            ),
            (
                "a b",
                Some("channel name may use only A-Z, a-z, 0-9, '_', '-' and '.', not ' '"),
            ),
            (
                "뉴스",
                Some("channel name may use only A-Z, a-z, 0-9, '_', '-' and '.', not '뉴'"),
            ),
            (&at_limit[..], None),
            ("Rust_2024-v1.0", None),
        ];
        for (channel, why) in cases {
            let mut chat = chat();
            chat.connect(1, named("alice"), NOW);
            let answer = subscribe(&mut chat, 1, channel, None);
            let error = received(&answer, 1)
                .into_iter()
                .find(|v| v["type"] == "error");
            match why {
                Some(why) => {
                    assert_eq!(
                        error,
                        Some(json!({"type": "error", "error": "bad_channel", "message": why}))
                    );
                    assert_eq!(chat.publish(channel, "x", NOW), Err(why.to_owned()));
                }
                None => assert_eq!(error, None, "{channel}"),
            }
        }
    }

    #[test]
    fn publish_counts_recipients_and_keeps_the_message() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        chat.connect(3, named("carol"), NOW);
        subscribe(&mut chat, 1, "news", None);
        subscribe(&mut chat, 2, "news", None);
        let (deliveries, recipients) = chat
            .publish("news", "breaking", NOW)
            .expect("valid publish");
        assert_eq!(recipients, 2);
        assert_eq!(deliveries.len(), 1);
        assert_eq!(
            received(&deliveries, 1)[0],
            json!({"type": "message", "channel": "news", "seq": 1, "from": "server", "text": "breaking", "ts": NOW})
        );
        let late = subscribe(&mut chat, 3, "news", None);
        assert_eq!(history_of(&late, 3), (vec![1], 0, 1, false));
        assert_eq!(
            chat.publish("news", "", NOW),
            Err("message text is empty".to_owned())
        );
    }

    #[test]
    fn publish_to_a_channel_nobody_used_creates_and_announces_it() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let (deliveries, recipients) = chat
            .publish("alerts", "fire drill", NOW)
            .expect("valid publish");
        assert_eq!(recipients, 0);
        assert_eq!(
            received(&deliveries, 1),
            [json!({"type": "channels", "channels": ["alerts", "general"]})]
        );
        let subscribed = subscribe(&mut chat, 1, "alerts", None);
        assert_eq!(history_of(&subscribed, 1), (vec![1], 0, 1, false));
        assert_eq!(
            types(&subscribed, 1),
            ["subscribed", "history"],
            "no second announcement"
        );
    }

    #[test]
    fn publish_with_nobody_connected_delivers_nothing() {
        let mut chat = chat();
        assert_eq!(chat.publish("general", "anyone?", NOW), Ok((Vec::new(), 0)));
    }

    #[test]
    fn a_new_channel_is_announced_to_every_client() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let created = subscribe(&mut chat, 1, "news", None);
        assert_eq!(types(&created, 1), ["subscribed", "history", "channels"]);
        let expected = json!({"type": "channels", "channels": ["general", "news"]});
        assert_eq!(received(&created, 2), [expected]);
        let joined = subscribe(&mut chat, 2, "news", None);
        assert_eq!(
            types(&joined, 1),
            Vec::<String>::new(),
            "an existing channel is not news"
        );
    }

    #[test]
    fn subscribing_beyond_the_per_client_limit_is_too_many_channels() {
        let mut chat = Chat::new(ChatConfig {
            max_channels_per_client: 3,
            ..ChatConfig::default()
        });
        chat.connect(1, named("alice"), NOW);
        assert!(error_codes(&subscribe(&mut chat, 1, "a", None), 1).is_empty());
        assert!(
            error_codes(&subscribe(&mut chat, 1, "b", None), 1).is_empty(),
            "at the limit"
        );
        let refused = subscribe(&mut chat, 1, "c", None);
        assert_eq!(
            received(&refused, 1),
            [json!({"type": "error", "error": "too_many_channels",
            "message": "a client may be subscribed to at most 3 channels"})]
        );
        assert_eq!(
            types(&subscribe(&mut chat, 1, "b", Some(0)), 1),
            ["subscribed", "history"],
            "resubscribing is fine"
        );
    }

    #[test]
    fn creating_a_channel_beyond_the_server_limit_is_refused() {
        let mut chat = Chat::new(ChatConfig {
            max_channels: 2,
            ..ChatConfig::default()
        });
        chat.connect(1, named("alice"), NOW);
        assert_eq!(
            types(&subscribe(&mut chat, 1, "a", None), 1),
            ["subscribed", "history", "channels"]
        );
        assert_eq!(
            error_codes(&subscribe(&mut chat, 1, "b", None), 1),
            ["channel_limit"]
        );
        assert_eq!(
            chat.publish("b", "x", NOW),
            Err("the server holds at most 2 channels".to_owned())
        );
        assert!(chat.publish("a", "x", NOW).is_ok());
    }

    #[test]
    fn a_binary_message_is_an_error() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let refused = chat.receive_binary(1);
        assert_eq!(refused[0].to, Recipients::One(1));
        assert_eq!(
            received(&refused, 1),
            [json!({"type": "error", "error": "binary_unsupported",
                    "message": "binary messages are not part of the chat protocol"})]
        );
        assert!(chat.receive_binary(2).is_empty(), "unknown client");
    }

    #[test]
    fn ping_gets_pong() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let answer = chat.receive_text(1, r#"{"type":"ping"}"#, NOW);
        assert_eq!(
            answer,
            [Delivery {
                to: Recipients::One(1),
                event: ServerEvent::Pong
            }]
        );
        assert_eq!(ServerEvent::Pong.to_json(), r#"{"type":"pong"}"#);
    }

    #[test]
    fn text_from_an_unknown_client_delivers_nothing() {
        let mut chat = chat();
        assert!(chat.receive_text(5, "hi", NOW).is_empty());
    }

    #[test]
    fn a_second_connect_with_the_same_id_replaces_the_first() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let again = chat.connect(1, named("alice"), NOW);
        assert_eq!(welcome_name(&again, 1), "alice");
        assert_eq!(chat.user_count(), 1);
    }

    #[test]
    fn the_query_gives_name_and_resume() {
        let query = ChatQuery::parse(Some("name=alice&resume=general:41,news:7"));
        let expected = ChatQuery {
            name: Some("alice".into()),
            resume: vec![("general".into(), 41), ("news".into(), 7)],
            epoch: None,
        };
        assert_eq!(query, expected);
    }

    #[test]
    fn the_query_is_percent_decoded() {
        let cases = [
            ("name=%EA%B9%80+%EC%B2%A0%EC%88%98", Some("김 철수")),
            ("?name=al%69ce", Some("alice")),
            ("name=100%", Some("100%")),
            ("name=%zz%4", Some("%zz%4")),
            ("name=%FF", Some("\u{FFFD}")),
            ("name=", None),
            ("name", None),
            ("na%6De=bob", Some("bob")),
            ("name=a&name=b", Some("b")),
        ];
        for (query, name) in cases {
            assert_eq!(
                ChatQuery::parse(Some(query)).name.as_deref(),
                name,
                "{query}"
            );
        }
        let encoded = ChatQuery::parse(Some("resume=general%3A41%2Cnews%3A7"));
        assert_eq!(encoded.resume, [("general".into(), 41), ("news".into(), 7)]);
    }

    #[test]
    fn the_query_ignores_unknown_keys_and_malformed_resume_items() {
        let query = ChatQuery::parse(Some(
            "x=1&resume=a:1,b,c:x,:4,d:-1,e:2&&theme=dark&resume=f:3",
        ));
        assert_eq!(query.name, None);
        assert_eq!(
            query.resume,
            [("a".into(), 1), ("e".into(), 2), ("f".into(), 3)]
        );
        assert_eq!(ChatQuery::parse(None), ChatQuery::default());
        assert_eq!(ChatQuery::parse(Some("")), ChatQuery::default());
    }

    #[test]
    fn recipients_read_as_a_slice() {
        assert_eq!(Recipients::One(4).as_slice(), [4]);
        assert_eq!(Recipients::Many(vec![1, 2]).as_slice(), [1, 2]);
    }

    #[test]
    fn server_events_serialize_to_the_documented_shapes() {
        let history = ServerEvent::History {
            channel: "news".into(),
            messages: Vec::new(),
            lost: 3,
            first_available: 12,
            reset: false,
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
    fn a_huge_json_command_is_refused_at_the_size_check_before_any_parsing() {
        // Not JSON at all past the `{`: a parser would say `bad_json`. `text_too_long` proves
        // the 1 MiB never reached serde_json (no Value, no copy of the text).
        let huge = format!("{{{}", "x".repeat(1024 * 1024));
        let limit = max_command_bytes(4096);
        assert_eq!(
            ClientCommand::parse(&huge, 4096),
            Err(ChatError::CommandTooLong {
                bytes: huge.len(),
                limit
            })
        );
        assert_eq!(
            ChatError::CommandTooLong { bytes: 1, limit }.code(),
            "text_too_long"
        );
        let plain = "y".repeat(1024 * 1024);
        assert_eq!(
            ClientCommand::parse(&plain, 4096),
            Err(ChatError::TextTooLong {
                bytes: plain.len(),
                limit: 4096
            })
        );
    }

    #[test]
    fn a_command_at_the_json_limit_is_parsed_and_one_byte_more_is_refused() {
        let limit = max_command_bytes(4096);
        // Text at its limit, every byte escaped: the longest honest command still fits.
        let escaped = "\\u0041".repeat(4096);
        let honest = format!(r#"{{"type":"message","channel":"general","text":"{escaped}"}}"#);
        assert!(honest.len() <= limit, "{} > {limit}", honest.len());
        assert_eq!(
            ClientCommand::parse(&honest, 4096),
            Ok(ClientCommand::Message {
                channel: GENERAL.into(),
                text: "A".repeat(4096)
            })
        );
        let padded = |len: usize| format!(r#"{{"type":"ping"{}}}"#, " ".repeat(len - 15));
        assert_eq!(padded(limit).len(), limit);
        assert_eq!(
            ClientCommand::parse(&padded(limit), 4096),
            Ok(ClientCommand::Ping)
        );
        assert!(matches!(
            ClientCommand::parse(&padded(limit + 1), 4096),
            Err(ChatError::CommandTooLong { .. })
        ));
    }

    #[test]
    fn the_rate_limit_error_is_the_documented_json() {
        assert_eq!(
            ChatError::RateLimited { limit: 20 }.to_event().to_json(),
            r#"{"type":"error","error":"rate_limited","message":"over 20 messages per second; message dropped"}"#
        );
    }
}
