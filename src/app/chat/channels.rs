//! Channels and their history: each channel numbers its messages `seq` = 1, 2, 3, … and keeps
//! the last `history_limit` of them for replay (see [Recovery](super#recovery)), and knows its
//! subscribers. [`Channels`] holds every channel; the chat decides who subscribes and
//! announces a new channel to everyone.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::commands::ChatError;
use super::config::GENERAL;
use super::wire::{ChatMessage, Delivery, EncodedMessage, ServerEvent};
use crate::app::clients::ClientId;

/// Checks a channel name: 1 to `max_chars` characters of `A-Z a-z 0-9 _ - .`.
///
/// # Errors
///
/// [`ChatError::ChannelEmpty`], [`ChatError::ChannelTooLong`] or [`ChatError::ChannelBadChar`].
pub(super) fn validate_channel(name: &str, max_chars: usize) -> Result<(), ChatError> {
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

/// One channel: its subscribers and its bounded history.
#[derive(Debug, Default)]
struct Channel {
    /// The `seq` of the newest message; 0 before the first one.
    last_seq: u64,
    /// The newest messages, oldest first, at most `history_limit` of them, each encoded once
    /// (its JSON's length is what it costs a replay).
    history: VecDeque<EncodedMessage>,
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
        self.history.push_back(EncodedMessage::new(&message));
        while self.history.len() > limit {
            self.history.pop_front();
        }
        message
    }

    /// The `history` event for a client that last saw `since` (or nothing, if `None`): the
    /// newest of the messages it asks for whose JSON fits in `budget` bytes, which is spent.
    /// What is left out for the budget is not `lost`; the event says `truncated`.
    fn replay(&self, channel: &str, since: Option<u64>, budget: &mut usize) -> ServerEvent {
        let first_available = self
            .history
            .front()
            .map_or(self.last_seq.saturating_add(1), |oldest| oldest.seq);
        let reset = since.is_some_and(|since| since > self.last_seq);
        let (after, lost) = match since {
            // Seqs since+1 .. first_available-1 were evicted before this replay.
            Some(since) if !reset => (
                since,
                first_available.saturating_sub(since.saturating_add(1)),
            ),
            _ => (0, 0),
        };
        // Newest first, until the budget is spent: the hub's work per replay is bounded by
        // the budget, not by the history a channel holds, and is one shared pointer per
        // message here, one copy of its kept JSON in `to_json`.
        let mut messages = Vec::new();
        let mut truncated = false;
        for message in self.history.iter().rev() {
            if message.seq <= after {
                break;
            }
            let bytes = message.as_json().len();
            if bytes > *budget {
                truncated = true;
                break;
            }
            *budget -= bytes;
            messages.push(message.clone());
        }
        messages.reverse();
        ServerEvent::History {
            channel: channel.to_owned(),
            messages,
            lost,
            first_available,
            reset,
            truncated,
        }
    }
}

/// Every channel that exists, by name; channels are never removed.
#[derive(Debug)]
pub(super) struct Channels(BTreeMap<String, Channel>);

impl Default for Channels {
    /// Only `general`.
    fn default() -> Self {
        Self(BTreeMap::from([(GENERAL.to_owned(), Channel::default())]))
    }
}

impl Channels {
    /// Every channel's name, sorted.
    pub(super) fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// Whether `channel` exists.
    pub(super) fn contains(&self, channel: &str) -> bool {
        self.0.contains_key(channel)
    }

    /// Creates `channel` unless it exists; returns whether it was created.
    ///
    /// # Errors
    ///
    /// [`ChatError::TooManyChannels`] when `max_channels` already exist.
    pub(super) fn ensure(&mut self, channel: &str, max_channels: usize) -> Result<bool, ChatError> {
        if self.0.contains_key(channel) {
            return Ok(false);
        }
        if self.0.len() >= max_channels {
            return Err(ChatError::TooManyChannels {
                limit: max_channels,
            });
        }
        log::debug!("chat: channel {channel:?} created");
        self.0.insert(channel.to_owned(), Channel::default());
        Ok(true)
    }

    /// `id` receives `channel` from now on, if the channel exists.
    pub(super) fn add_subscriber(&mut self, channel: &str, id: ClientId) {
        if let Some(state) = self.0.get_mut(channel) {
            state.subscribers.insert(id);
        }
    }

    /// `id` no longer receives `channel`. A channel left with no subscriber and no history
    /// (nobody ever said anything in it) expires, so subscribing to names nobody uses cannot
    /// fill [`ChatConfig::max_channels`](super::ChatConfig::max_channels) for good; `general`
    /// stays.
    pub(super) fn remove_subscriber(&mut self, channel: &str, id: ClientId) {
        let Some(state) = self.0.get_mut(channel) else {
            return;
        };
        state.subscribers.remove(&id);
        if channel != GENERAL && state.subscribers.is_empty() && state.last_seq == 0 {
            log::debug!("chat: channel {channel:?} expired, unused");
            self.0.remove(channel);
        }
    }

    /// Appends a message to an existing channel, keeping the newest `history_limit`; returns
    /// its delivery to the subscribers, or `None` if nobody is subscribed (the message is kept
    /// all the same).
    pub(super) fn append(
        &mut self,
        channel: &str,
        from: &str,
        text: &str,
        now_ms: u64,
        history_limit: usize,
    ) -> Option<Delivery> {
        let state = self.0.get_mut(channel)?;
        let message = state.append(
            ChatMessage {
                channel: channel.to_owned(),
                seq: 0,
                from: from.to_owned(),
                text: text.to_owned(),
                ts: now_ms,
            },
            history_limit,
        );
        Delivery::many(
            state.subscribers.iter().copied().collect(),
            ServerEvent::Message(message),
        )
    }

    /// The `history` event of an existing channel, within `budget` bytes of messages (spent).
    pub(super) fn replay(
        &self,
        channel: &str,
        since: Option<u64>,
        budget: &mut usize,
    ) -> Option<ServerEvent> {
        Some(self.0.get(channel)?.replay(channel, since, budget))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;
    use serde_json::json;

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
    fn a_replay_carries_the_newest_messages_that_fit_its_byte_budget() {
        let mut chat = Chat::new(ChatConfig {
            history_limit: 100,
            max_replay_bytes: 1000,
            ..ChatConfig::default()
        });
        fill(&mut chat, "news", 100);
        chat.connect(1, named("alice"), NOW);
        let subscribed = subscribe(&mut chat, 1, "news", None);
        let history = &received(&subscribed, 1)[1];
        assert_eq!(history["truncated"], true);
        let (seqs, lost, first_available, reset) = history_of(&subscribed, 1);
        assert!(!seqs.is_empty() && seqs.len() < 100, "{seqs:?}");
        assert_eq!(seqs.last(), Some(&100), "the newest are kept");
        assert_eq!((lost, first_available, reset), (0, 1, false));
        let bytes: usize = history["messages"]
            .as_array()
            .map(|m| m.iter().map(|m| m.to_string().len()).sum())
            .unwrap_or(0);
        assert!(bytes <= 1000, "{bytes} bytes replayed");
    }

    #[test]
    fn a_replay_within_the_budget_is_not_marked_truncated() {
        let mut chat = chat_with_history(3);
        fill(&mut chat, "news", 3);
        chat.connect(1, named("alice"), NOW);
        let subscribed = subscribe(&mut chat, 1, "news", None);
        assert_eq!(received(&subscribed, 1)[1].get("truncated"), None);
    }

    #[test]
    fn one_budget_covers_every_channel_a_connect_resumes() {
        let mut chat = Chat::new(ChatConfig {
            history_limit: 100,
            max_replay_bytes: 1500,
            ..ChatConfig::default()
        });
        for channel in ["a", "b", "c"] {
            fill(&mut chat, channel, 30);
        }
        let connected = chat.connect(1, resuming("alice", &[("a", 0), ("b", 0), ("c", 0)]), NOW);
        let replayed: usize = received(&connected, 1)
            .iter()
            .filter(|e| e["type"] == "history")
            .filter_map(|e| e["messages"].as_array().map(Vec::len))
            .sum();
        assert!(replayed < 40, "{replayed} messages in 1500 bytes");
    }

    #[test]
    fn a_publish_to_a_channel_that_does_not_exist_is_not_the_chats_unless_it_creates() {
        let chat = chat();
        assert!(chat.publishes_to("general"));
        assert!(!chat.publishes_to("nobody-made-this"));
        assert!(
            chat.publishes_to("no!pe"),
            "an invalid name is refused with its reason"
        );
        let creating = Chat::new(ChatConfig {
            publish_creates: true,
            ..ChatConfig::default()
        });
        assert!(creating.publishes_to("nobody-made-this"));
    }

    #[test]
    fn a_channel_nobody_uses_and_nobody_said_anything_in_expires() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        subscribe(&mut chat, 1, "empty", None);
        subscribe(&mut chat, 1, "spoken", None);
        say(&mut chat, 1, "spoken", "hi");
        chat.receive_text(1, r#"{"type":"unsubscribe","channel":"empty"}"#, NOW);
        assert!(!chat.channels.contains("empty"));
        chat.disconnect(1);
        assert!(chat.channels.contains("spoken"), "its history is kept");
        assert!(chat.channels.contains(GENERAL));
    }
}
