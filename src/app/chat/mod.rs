//! The `/chat` endpoint: names, presence, channels, history and recovery, as a pure state machine.
//!
//! This module never sees a frame, a socket, a thread or a clock. Each connection's reader thread
//! parses its client's Text messages (RFC 6455 §5.6: UTF-8 already checked by §8.1) into
//! commands ([`ClientCommand::parse`], sizes first); the hub thread owns one [`Chat`], hands it
//! those commands and the current time as `now_ms` ([`Chat::receive`]), and gets back a list of
//! [`Delivery`] values: one [`ServerEvent`] and the clients it goes to. The hub serializes each event once ([`ServerEvent::to_json`]) and sends
//! the same Text frame to every recipient, in the order of the list.
//!
//! # The protocol
//!
//! Every message is one JSON object with a `"type"` field; a Text message that does not start
//! with `{` (after leading whitespace) is a chat line for `general`, so a tutorial client can send
//! plain text. Every type, with an example, is in `docs/chat-protocol.md`; the client's commands
//! are [`ClientCommand`], the server's events [`ServerEvent`].
//!
//! # Recovery
//!
//! Each channel numbers its messages `seq` = 1, 2, 3, … and keeps the last `history_limit` of
//! them. A client that remembers the last `seq` it saw, and the `epoch` of the `welcome` it had
//! then (one per run of the server), asks for the rest in its upgrade URL
//! (`/chat?name=alice&resume=general:41,news:7&epoch=E`) or with
//! `{"type":"subscribe","channel":"news","since":7}`. The `history` answer holds exactly the
//! messages with `seq` > `since` still kept; `lost` counts those evicted, `first_available` is
//! the oldest still kept. From another epoch (the server restarted, numbering began again), or
//! with a `since` past the channel's last `seq`, the answer is the whole history with
//! `"reset": true`, and the client should forget what it had.
//!
//! # Files
//!
//! | file | what |
//! |---|---|
//! | `seam.rs` | [`Chat`] as the hub's app, and [`ChatSession`] on each reader thread |
//! | `mod.rs` | [`Chat`], the state machine: connect, receive, publish, disconnect; renames and subscriptions, which span clients, names and channels |
//! | `channels.rs` | channels, their subscribers, history and replay |
//! | `names.rs` | unique names, `guest-N` |
//! | `spelling.rs` | how a name may be spelled: NFKC, no invisible characters, one script, `server` reserved |
//! | `commands.rs` | client → server: [`ClientCommand`], [`ChatQuery`], validation, [`ChatError`] |
//! | `wire.rs` | server → client: [`ServerEvent`] and its JSON, and [`Delivery`] |
//! | `config.rs` | [`ChatConfig`], [`GENERAL`], [`SERVER_NAME`] |
//! | `test_support.rs` | helpers for the unit tests beside each file |
//!
//! Outside tests, each file imports only files below it here, so `names.rs` and `channels.rs` own
//! types of their own ([`Chat`] holds one of each) rather than methods of [`Chat`].

mod channels;
mod commands;
mod config;
mod names;
mod seam;
mod spelling;
#[cfg(test)]
mod test_support;
mod wire;

use std::collections::{BTreeMap, BTreeSet};

use channels::{validate_channel, Channels};
use commands::validate_text;
pub use commands::{max_command_bytes, ChatError, ChatQuery, ClientCommand};
pub use config::{ChatConfig, GENERAL, PRESENCE_LINES_BELOW, SERVER_NAME};
use names::{validate_name, Names};
pub use seam::{read_command, ChatSession};
use wire::presence_text;
pub use wire::{ChatMessage, Delivery, EncodedMessage, PresenceEvent, ServerEvent};

pub use crate::app::clients::{ClientId, Recipients};

/// One connected chat client.
#[derive(Debug)]
struct Client {
    /// Its current name, unique regardless of case ([`Names`]).
    name: String,
    /// The channels it receives.
    subscriptions: BTreeSet<String>,
}

/// The `/chat` state: clients, their names and subscriptions, channels and their histories.
#[derive(Debug)]
pub struct Chat {
    /// The limits.
    config: ChatConfig,
    /// Connected clients by id.
    clients: BTreeMap<ClientId, Client>,
    /// Who holds each name.
    names: Names,
    /// Every channel that exists, with its subscribers and history.
    channels: Channels,
    /// The count changed in a large room and nobody was told yet ([`Chat::tick`]).
    count_untold: bool,
    /// Channels were created in a large room and nobody was told yet ([`Chat::tick`]).
    channels_untold: bool,
}

impl Chat {
    /// An empty chat with only the `general` channel.
    pub fn new(config: ChatConfig) -> Self {
        Chat {
            config,
            clients: BTreeMap::new(),
            names: Names::default(),
            channels: Channels::default(),
            count_untold: false,
            channels_untold: false,
        }
    }

    /// The hub's clock ticked (once a second): a large room's coalesced count and channel
    /// list, each if it changed.
    pub fn tick(&mut self) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        if std::mem::replace(&mut self.count_untold, false) {
            let users = self.user_count();
            let text = presence_text(PresenceEvent::Count, "", None, users);
            deliveries.extend(self.to_everyone(ServerEvent::Presence {
                event: PresenceEvent::Count,
                name: String::new(),
                old_name: None,
                users,
                text,
            }));
        }
        if std::mem::replace(&mut self.channels_untold, false) {
            deliveries.extend(self.channels_event());
        }
        deliveries
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
            Some(Ok(name)) => self.names.unique(&name, None, self.config.max_name_chars),
            Some(Err(error)) => {
                errors.push(error);
                self.names.guest()
            }
            None => self.names.guest(),
        };
        log::debug!("chat: client {id} joined as {name:?} at {now_ms} ms");
        self.names.hold(&name, id);
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
            deliveries.extend(self.channels_changed());
        }
        deliveries
    }

    /// The client left for any reason: it is removed from every channel and each remaining
    /// client gets `presence` `leave` with the new count. An unknown id delivers nothing.
    pub fn disconnect(&mut self, id: ClientId) -> Vec<Delivery> {
        let Some(client) = self.clients.remove(&id) else {
            return Vec::new();
        };
        self.names.release(&client.name);
        for channel in &client.subscriptions {
            self.channels.remove_subscriber(channel, id);
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
        let created = self
            .channels
            .ensure(channel, self.config.max_channels)
            .map_err(|e| e.to_string())?;
        let delivery = self.append(channel, SERVER_NAME, text, now_ms);
        let recipients = delivery.as_ref().map_or(0, |d| d.to.as_slice().len());
        let mut deliveries: Vec<Delivery> = delivery.into_iter().collect();
        if created {
            deliveries.extend(self.channels_changed());
        }
        Ok((deliveries, recipients))
    }

    /// Whether `POST /publish/<channel>` is the chat's: the channel exists, or publishing
    /// creates channels ([`ChatConfig::publish_creates`]), or the name is invalid (refused
    /// with its reason).
    pub fn publishes_to(&self, channel: &str) -> bool {
        self.config.publish_creates
            || self.channels.contains(channel)
            || validate_channel(channel, self.config.max_channel_chars).is_err()
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
                channels: self.channels.names(),
                subscribed,
                history_limit: self.config.history_limit,
                epoch: self.config.epoch,
            },
        }
    }

    /// A `presence` event to every connected client, with the count as it is now. A join or
    /// leave in a room of [`ChatConfig::presence_lines_below`] or more is not told by itself:
    /// the count is, at the next [`Chat::tick`].
    fn presence(
        &mut self,
        event: PresenceEvent,
        name: String,
        old_name: Option<String>,
    ) -> Option<Delivery> {
        let users = self.user_count();
        let is_large = users >= self.config.presence_lines_below;
        if is_large && matches!(event, PresenceEvent::Join | PresenceEvent::Leave) {
            self.count_untold = true;
            return None;
        }
        let text = presence_text(event, &name, old_name.as_deref(), users);
        self.to_everyone(ServerEvent::Presence {
            event,
            name,
            old_name,
            users,
            text,
        })
    }

    /// `join`: changes the client's name and tells everyone. The same name again changes
    /// nothing and delivers nothing.
    fn rename(&mut self, id: ClientId, raw: &str) -> Result<Vec<Delivery>, ChatError> {
        let max_chars = self.config.max_name_chars;
        let wanted = validate_name(raw, max_chars)?;
        let Some(client) = self.clients.get_mut(&id) else {
            return Ok(Vec::new());
        };
        let new_name = self
            .names
            .unique(&wanted, Some((id, &client.name)), max_chars);
        if client.name == new_name {
            return Ok(Vec::new());
        }
        let old_name = std::mem::replace(&mut client.name, new_name.clone());
        self.names.release(&old_name);
        self.names.hold(&new_name, id);
        log::debug!("chat: client {id} renamed {old_name:?} → {new_name:?}");
        // In a large room a rename is the renamer's news alone (its page shows its new name);
        // the others see the name on its next message. A line to thousands per rename would
        // make every rename cost the hub the whole room.
        let renamer_only = self.user_count() >= self.config.presence_lines_below;
        Ok(self
            .presence(PresenceEvent::Rename, new_name, Some(old_name))
            .map(|delivery| {
                if renamer_only {
                    Delivery {
                        to: Recipients::One(id),
                        ..delivery
                    }
                } else {
                    delivery
                }
            })
            .into_iter()
            .collect())
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
        // One budget for the whole connect: a URL resuming 32 channels costs no more.
        let mut budget = self.config.max_replay_bytes;
        for channel in wanted {
            match self.add_subscription(id, channel) {
                Ok(was_created) => {
                    created |= was_created;
                    replays.extend(
                        self.channels
                            .replay(channel, since_of(channel), &mut budget),
                    );
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
        let mut budget = self.config.max_replay_bytes;
        let replay = self.channels.replay(channel, since, &mut budget);
        deliveries.extend(replay.map(|event| Delivery {
            to: Recipients::One(id),
            event,
        }));
        if created {
            deliveries.extend(self.channels_changed());
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
        self.channels.remove_subscriber(channel, id);
        Ok(vec![Delivery {
            to: Recipients::One(id),
            event: ServerEvent::Unsubscribed {
                channel: channel.to_owned(),
            },
        }])
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
        let created = self.channels.ensure(channel, self.config.max_channels)?;
        if let Some(client) = self.clients.get_mut(&id) {
            client.subscriptions.insert(channel.to_owned());
        }
        self.channels.add_subscriber(channel, id);
        Ok(created)
    }

    /// A channel was created: the `channels` event to everyone now in a small room; in a room
    /// of [`ChatConfig::presence_lines_below`] or more, once at the next [`Chat::tick`],
    /// however many channels were created meanwhile.
    fn channels_changed(&mut self) -> Option<Delivery> {
        if self.user_count() >= self.config.presence_lines_below {
            self.channels_untold = true;
            return None;
        }
        self.channels_event()
    }

    /// The `channels` event to every connected client.
    fn channels_event(&self) -> Option<Delivery> {
        self.to_everyone(ServerEvent::Channels {
            channels: self.channels.names(),
        })
    }

    /// Appends a message to an existing channel; its delivery to the subscribers, if any.
    fn append(&mut self, channel: &str, from: &str, text: &str, now_ms: u64) -> Option<Delivery> {
        let limit = self.config.history_limit;
        self.channels.append(channel, from, text, now_ms, limit)
    }

    /// A delivery to every connected client, or `None` if nobody is connected.
    fn to_everyone(&self, event: ServerEvent) -> Option<Delivery> {
        Delivery::many(self.clients.keys().copied().collect(), event)
    }
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
    use super::test_support::*;
    use super::*;
    use serde_json::json;

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
    fn the_channel_of_a_message_defaults_to_general() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        let sent = chat.receive_text(1, r#"{"type":"message","text":"hi"}"#, NOW);
        assert_eq!(received(&sent, 1)[0]["channel"], "general");
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
    fn recipients_read_as_a_slice() {
        assert_eq!(Recipients::One(4).as_slice(), [4]);
        assert_eq!(Recipients::Many(vec![1, 2]).as_slice(), [1, 2]);
    }

    #[test]
    fn a_large_room_gets_one_count_a_tick_instead_of_a_line_per_join_and_leave() {
        let mut chat = Chat::new(ChatConfig {
            presence_lines_below: 3,
            ..ChatConfig::default()
        });
        assert_eq!(
            types(&chat.connect(1, named("a"), NOW), 1),
            ["welcome", "history", "presence"]
        );
        chat.connect(2, named("b"), NOW);
        assert!(chat.tick().is_empty(), "nothing untold in a small room");
        // The third makes the room large: no line to anyone.
        let third = chat.connect(3, named("c"), NOW);
        assert_eq!(types(&third, 3), ["welcome", "history"]);
        assert!(received(&third, 1).is_empty());
        chat.connect(4, named("d"), NOW);
        chat.disconnect(4);
        let ticked = chat.tick();
        assert_eq!(ticked.len(), 1, "one event, serialized once");
        assert_eq!(
            received(&ticked, 1),
            [
                json!({"type": "presence", "event": "count", "name": "", "old_name": null,
                    "users": 3, "text": "[현재: 3명]"})
            ]
        );
        assert!(chat.tick().is_empty(), "told once");
        // A rename is told to the renamer alone.
        let renamed = chat.receive_text(1, r#"{"type":"join","name":"z"}"#, NOW);
        assert_eq!(renamed.len(), 1);
        assert_eq!(renamed[0].to, Recipients::One(1));
        assert_eq!(presence_of(&renamed, 1)[0].0, PresenceEvent::Rename);
        // Below the size again, lines come back.
        let left = chat.disconnect(3);
        assert_eq!(presence_of(&left, 1)[0].3, "유저 연결 해제 [현재: 2명]");
    }

    #[test]
    fn in_a_large_room_new_channels_are_announced_once_a_tick() {
        let mut chat = Chat::new(ChatConfig {
            presence_lines_below: 2,
            ..ChatConfig::default()
        });
        chat.connect(1, named("a"), NOW);
        chat.connect(2, named("b"), NOW);
        for channel in ["x", "y", "z"] {
            let subscribed = subscribe(&mut chat, 1, channel, None);
            assert_eq!(types(&subscribed, 1), ["subscribed", "history"]);
        }
        let ticked = chat.tick();
        let announced: Vec<_> = received(&ticked, 2)
            .into_iter()
            .filter(|e| e["type"] == "channels")
            .collect();
        assert_eq!(
            announced,
            [json!({"type": "channels", "channels": ["general", "x", "y", "z"]})]
        );
        assert!(chat.tick().is_empty());
    }
}
