//! `/notifications`: server-pushed events only, from a timer (`--notify-every`) or from
//! `POST /publish/notifications`. Each is one JSON text message:
//!
//! ```json
//! {"type":"notification","channel":"notifications","seq":3,"text":"…","ts":1700000000000}
//! ```

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::clients::{ClientId, Recipients};
use super::endpoint::Endpoint;
use super::seam::{App, Context, Output, Published, Reading, Session};
use crate::protocol::Message;

/// The channel whose publishes also reach `/notifications` clients.
pub const CHANNEL: &str = "notifications";

/// One pushed notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "notification")]
pub struct Notification {
    /// Always [`CHANNEL`].
    pub channel: String,
    /// Counts notifications since the server started, so a client can see a gap.
    pub seq: u64,
    /// What happened.
    pub text: String,
    /// Server time, milliseconds since the Unix epoch.
    pub ts: u64,
}

/// Who listens on `/notifications`, and the notification counter.
#[derive(Debug, Default)]
pub struct Notifications {
    members: BTreeSet<ClientId>,
    seq: u64,
}

impl Notifications {
    /// Nobody listening yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `id` started listening.
    pub fn join(&mut self, id: ClientId) {
        self.members.insert(id);
    }

    /// `id` left.
    pub fn leave(&mut self, id: ClientId) {
        self.members.remove(&id);
    }

    /// Everyone listening.
    pub fn recipients(&self) -> Vec<ClientId> {
        self.members.iter().copied().collect()
    }

    /// The next notification, with `text`, as its JSON.
    pub fn notify(&mut self, text: &str, now_ms: u64) -> String {
        self.seq += 1;
        let notification = Notification {
            channel: CHANNEL.into(),
            seq: self.seq,
            text: text.into(),
            ts: now_ms,
        };
        serde_json::to_string(&notification).unwrap_or_default()
    }

    /// The text of the periodic notification.
    pub fn periodic_text(&self) -> String {
        format!("This is a real-time notification (#{})", self.seq + 1)
    }
}

impl Notifications {
    /// The next notification with `text`, to everyone listening.
    fn push(&mut self, text: &str, now_ms: u64) -> Output {
        Output::Send {
            to: Recipients::Many(self.recipients()),
            message: Message::Text(self.notify(text, now_ms)),
        }
    }
}

impl App for Notifications {
    fn join(&mut self, _cx: &Context<'_>, id: ClientId, _endpoint: &Endpoint) -> Vec<Output> {
        self.join(id);
        Vec::new()
    }

    fn leave(&mut self, _cx: &Context<'_>, id: ClientId) -> Vec<Output> {
        self.leave(id);
        Vec::new()
    }

    fn timer(&mut self, cx: &Context<'_>) -> Vec<Output> {
        let text = self.periodic_text();
        vec![self.push(&text, cx.now_ms)]
    }

    /// A publish to [`CHANNEL`] reaches `/notifications` too.
    fn publish(
        &mut self,
        cx: &Context<'_>,
        channel: &str,
        text: &str,
    ) -> Option<Result<Published, String>> {
        (channel == CHANNEL).then(|| {
            Ok(Published {
                recipients: self.members.len(),
                outputs: vec![self.push(text, cx.now_ms)],
            })
        })
    }
}

/// One `/notifications` connection: the server pushes; what the client sends is ignored.
#[derive(Debug, Default)]
pub struct NotificationsSession;

impl Session for NotificationsSession {
    fn read(&mut self, _message: Message) -> Reading {
        Reading::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_numbered_json() {
        let mut notifications = Notifications::new();
        let first: Notification =
            serde_json::from_str(&notifications.notify("a", 5)).expect("json");
        let second: Notification =
            serde_json::from_str(&notifications.notify("b", 6)).expect("json");
        assert_eq!(
            (first.seq, second.seq, second.text.as_str(), second.ts),
            (1, 2, "b", 6)
        );
        assert!(notifications
            .notify("c", 7)
            .starts_with(r#"{"type":"notification""#));
    }
}
