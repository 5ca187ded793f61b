//! The chat's wire format, client → server: the commands a client sends ([`ClientCommand`],
//! parsed on its connection's reader thread by [`ClientCommand::parse`], sizes first), what it
//! asks for in its upgrade URL ([`ChatQuery`]), and the checks on message text, each refusal a
//! [`ChatError`].

use std::fmt;

use serde::Deserialize;

use super::config::{GENERAL, SERVER_NAME};
use super::wire::ServerEvent;
use crate::app::clients::quote;
use crate::app::query;

/// The `type` values a client may send, in the order [`ChatError::UnknownType`] lists them.
const CLIENT_TYPES: [&str; 5] = ["join", "subscribe", "unsubscribe", "message", "ping"];

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
    /// Keys and values are decoded by [`query::pairs`] (`+` is a space, `%41` is `A`, a malformed
    /// escape stays as it is, invalid UTF-8 becomes U+FFFD), so `URLSearchParams` output such as
    /// `resume=general%3A41%2Cnews%3A7` works. Unknown keys are ignored; an empty `name` counts
    /// as no name; a later `name` wins; `resume` items that are not `channel:seq` are ignored.
    pub fn parse(query: Option<&str>) -> ChatQuery {
        let mut parsed = ChatQuery::default();
        for (key, value) in query::pairs(query) {
            match key.as_str() {
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

/// A request the chat refused; it reaches the client as an `error` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatError {
    /// Text starting with `{` that is not a JSON object of a known command's shape.
    BadJson(String),
    /// A JSON object whose `type` is missing (`None`) or not a command of this protocol.
    UnknownType(Option<String>),
    /// A name that is empty after trimming.
    NameEmpty,
    /// A name longer than [`ChatConfig::max_name_chars`](super::ChatConfig::max_name_chars).
    NameTooLong {
        /// The name's length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// A name holding a control character (`char::is_control`).
    NameHasControlChar,
    /// A name holding a character that shows nothing or reorders the text (zero-width, bidi
    /// controls): one name could pass for another.
    NameHasInvisibleChar,
    /// A name whose letters come from scripts that may not mix (`аlice`, a Cyrillic `а`).
    NameMixesScripts,
    /// The name `server`, in any case, which [`Chat::publish`](super::Chat::publish) uses.
    NameReserved,
    /// An empty channel name.
    ChannelEmpty,
    /// A channel name longer than [`ChatConfig::max_channel_chars`](super::ChatConfig::max_channel_chars).
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
    /// Message text longer than [`ChatConfig::max_text_bytes`](super::ChatConfig::max_text_bytes).
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
    /// One subscription more than [`ChatConfig::max_channels_per_client`](super::ChatConfig::max_channels_per_client).
    TooManySubscriptions {
        /// The limit.
        limit: usize,
    },
    /// One channel more than [`ChatConfig::max_channels`](super::ChatConfig::max_channels).
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
            | ChatError::NameHasInvisibleChar
            | ChatError::NameMixesScripts
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
            ChatError::NameHasInvisibleChar => {
                write!(f, "name contains an invisible or bidi control character")
            }
            ChatError::NameMixesScripts => {
                write!(f, "name mixes letters of different scripts")
            }
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

/// Checks message text: at most `max_bytes` bytes, not blank, no control characters but `\n`
/// and `\t`.
///
/// # Errors
///
/// [`ChatError::TextTooLong`], [`ChatError::TextEmpty`] or [`ChatError::TextHasControlChar`].
pub(super) fn validate_text(text: &str, max_bytes: usize) -> Result<(), ChatError> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;
    use serde_json::json;

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
}
