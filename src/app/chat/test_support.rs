//! Helpers shared by the chat's unit tests: a chat, queries, and what a client receives.

use serde_json::{json, Value};

use super::*;

pub(super) const NOW: u64 = 1_700_000_000_000;

pub(super) fn chat() -> Chat {
    Chat::new(ChatConfig::default())
}

pub(super) fn chat_with_history(history_limit: usize) -> Chat {
    Chat::new(ChatConfig {
        history_limit,
        ..ChatConfig::default()
    })
}

pub(super) fn named(name: &str) -> ChatQuery {
    ChatQuery {
        name: Some(name.to_owned()),
        resume: Vec::new(),
        epoch: None,
    }
}

pub(super) fn resuming(name: &str, resume: &[(&str, u64)]) -> ChatQuery {
    ChatQuery {
        name: Some(name.to_owned()),
        resume: resume.iter().map(|&(c, s)| (c.to_owned(), s)).collect(),
        epoch: None,
    }
}

/// The JSON texts `id` receives, parsed back, in order: what its page would see.
pub(super) fn received(deliveries: &[Delivery], id: ClientId) -> Vec<Value> {
    deliveries
        .iter()
        .filter(|d| d.to.as_slice().contains(&id))
        .map(|d| serde_json::from_str(&d.event.to_json()).expect("event JSON parses back"))
        .collect()
}

/// The events `id` receives, parsed back from their JSON into [`ServerEvent`].
pub(super) fn events(deliveries: &[Delivery], id: ClientId) -> Vec<ServerEvent> {
    received(deliveries, id)
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("JSON is a ServerEvent"))
        .collect()
}

pub(super) fn types(deliveries: &[Delivery], id: ClientId) -> Vec<String> {
    received(deliveries, id)
        .iter()
        .map(|v| v["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

pub(super) fn error_codes(deliveries: &[Delivery], id: ClientId) -> Vec<String> {
    events(deliveries, id)
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Error { error, .. } => Some(error),
            _ => None,
        })
        .collect()
}

pub(super) fn presence_of(
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
pub(super) fn history_of(deliveries: &[Delivery], id: ClientId) -> (Vec<u64>, u64, u64, bool) {
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

pub(super) fn welcome_name(deliveries: &[Delivery], id: ClientId) -> String {
    events(deliveries, id)
        .into_iter()
        .find_map(|e| match e {
            ServerEvent::Welcome { name, .. } => Some(name),
            _ => None,
        })
        .expect("a welcome event")
}

pub(super) fn say(chat: &mut Chat, id: ClientId, channel: &str, text: &str) -> Vec<Delivery> {
    let command = json!({"type": "message", "channel": channel, "text": text});
    chat.receive_text(id, &command.to_string(), NOW)
}

pub(super) fn subscribe(
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
pub(super) fn fill(chat: &mut Chat, channel: &str, count: u64) {
    for n in 1..=count {
        chat.publish(channel, &format!("m{n}"), NOW)
            .expect("valid publish");
    }
}
