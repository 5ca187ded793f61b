//! The hub driven by hand, with fake outboxes in place of sockets: what each client is handed,
//! in which order, and when a full outbox makes a slow consumer.

use std::sync::{Arc, Mutex};

use super::registry::Mailbox;
use super::{Command, Hub, HubConfig};
use crate::app::chat::ClientCommand;
use crate::app::{AppsConfig, ClientId, Endpoint, Input};
use crate::protocol::{CloseCode, Message};
use crate::server::claim::Claim;
use crate::server::conn::lanes::{Control, Frame};
use crate::server::conn::outbox::{Overflow, SendError};
use crate::server::conn::tap::{EventSink, Tap, TapInfo};
use crate::sync::lock;

/// What a fake outbox was handed.
#[derive(Debug, Default)]
struct Received {
    /// Text payloads of the data frames, in order (a batch split into its frames).
    texts: Vec<String>,
    /// Data frames queued (a batch counts once): the writes a real outbox would make.
    writes: usize,
    /// Close codes asked for, with whether queued data was to be dropped.
    closes: Vec<(CloseCode, bool)>,
}

/// An outbox that keeps what it is handed and holds at most `capacity` frames.
#[derive(Debug, Clone)]
struct Fake {
    received: Arc<Mutex<Received>>,
    capacity: usize,
}

impl Fake {
    fn new(capacity: usize) -> Self {
        Self {
            received: Arc::default(),
            capacity,
        }
    }

    fn texts(&self) -> Vec<String> {
        lock(&self.received).texts.clone()
    }

    fn closes(&self) -> Vec<(CloseCode, bool)> {
        lock(&self.received).closes.clone()
    }

    fn writes(&self) -> usize {
        lock(&self.received).writes
    }
}

impl EventSink for Fake {
    fn offer(&self, frame: Arc<[u8]>) {
        let _ = self.try_send(Frame::Shared(frame.into()));
    }
}

impl Mailbox for Fake {
    fn try_send(&self, frame: Frame) -> Result<(), SendError> {
        let mut received = lock(&self.received);
        if received.writes >= self.capacity {
            return Err(SendError::Full(Overflow {
                unit: "messages",
                queued: received.writes + 1,
                limit: self.capacity,
            }));
        }
        received.writes += 1;
        let [header, payload] = frame.parts();
        let bytes = [header, payload].concat();
        received.texts.extend(frames(&bytes));
        Ok(())
    }

    fn control(&self, control: Control) {
        if let Control::Close {
            code,
            discard_queued,
            ..
        } = control
        {
            lock(&self.received).closes.push((code, discard_queued));
        }
    }
}

/// The payloads of back-to-back unmasked server frames, as text (payloads under 64 KiB).
fn frames(mut bytes: &[u8]) -> Vec<String> {
    let mut texts = Vec::new();
    while let [_, len, rest @ ..] = bytes {
        let (len, rest) = match *len {
            126 => match rest {
                [hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
                _ => break,
            },
            len => (usize::from(len), rest),
        };
        let (payload, after) = rest.split_at(len.min(rest.len()));
        texts.push(String::from_utf8_lossy(payload).into_owned());
        bytes = after;
    }
    texts
}

fn hub() -> Hub<Fake> {
    Hub::new(&HubConfig {
        apps: AppsConfig {
            history: 50,
            publish_creates: false,
            max_replay_bytes: 64 * 1024,
            presence_lines_below: 100,
            epoch: 1,
            tutorial: None,
        },
        max_backlog: 1024,
        max_backlog_bytes: 1 << 20,
        max_watchers: 2,
    })
}

/// Client `id` joins at `path` with an outbox of `capacity` frames.
fn join(hub: &mut Hub<Fake>, id: ClientId, path: &str, capacity: usize) -> Fake {
    let outbox = Fake::new(capacity);
    let (path, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    let tap = Tap::new(TapInfo {
        conn: id,
        endpoint: "test",
        peer: None,
        token: None,
        handshake: None,
        deflate: None,
    });
    hub.handle(Command::Join {
        endpoint: Endpoint::route(path, query).expect("a known path"),
        outbox: outbox.clone(),
        tap,
    });
    outbox
}

fn say(hub: &mut Hub<Fake>, id: ClientId, text: &str) {
    hub.handle(Command::Message {
        id,
        input: Input::Broadcast(Message::Text(text.into())),
    });
}

#[test]
fn a_broadcast_reaches_every_member_in_order_and_self_false_leaves_the_sender_out() {
    let mut hub = hub();
    let a = join(&mut hub, 1, "/broadcast", 100);
    let b = join(&mut hub, 2, "/broadcast?self=false", 100);
    say(&mut hub, 1, "one");
    say(&mut hub, 2, "two");
    say(&mut hub, 1, "three");
    hub.flush_broadcast();
    assert_eq!(a.texts(), ["one", "two", "three"]);
    assert_eq!(b.texts(), ["one", "three"]);
}

#[test]
fn broadcasts_gathered_between_sweeps_leave_in_one_write_per_recipient() {
    let mut hub = hub();
    let members: Vec<Fake> = (1..=40).map(|id| join(&mut hub, id, "/", 100)).collect();
    // Ten messages from different senders before the sweep writes: one batch.
    for n in 1..=10 {
        say(&mut hub, n, &format!("m{n}"));
    }
    hub.flush_broadcast();
    let expected: Vec<String> = (1..=10).map(|n| format!("m{n}")).collect();
    for member in &members {
        assert_eq!(member.texts(), expected);
        assert_eq!(member.writes(), 1);
    }
}

#[test]
fn a_sweep_under_way_still_hands_everyone_every_frame_once_in_order() {
    let mut hub = hub();
    let members: Vec<Fake> = (1..=40).map(|id| join(&mut hub, id, "/", 100)).collect();
    say(&mut hub, 1, "first");
    hub.advance_broadcast(16); // part of the way round: 16 of 40 have "first"
    say(&mut hub, 2, "second"); // joins the same sweep
    hub.advance_broadcast(16);
    say(&mut hub, 3, "third");
    hub.flush_broadcast();
    for member in &members {
        assert_eq!(member.texts(), ["first", "second", "third"]);
    }
}

#[test]
fn a_full_outbox_is_closed_with_1008_and_removed_while_the_others_get_everything() {
    let mut hub = hub();
    let fast = join(&mut hub, 1, "/broadcast", 100);
    let slow = join(&mut hub, 2, "/broadcast", 2);
    for n in 0..5 {
        say(&mut hub, 1, &format!("m{n}"));
        hub.flush_broadcast();
        hub.drop_slow_consumers();
    }
    assert_eq!(fast.texts(), ["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(slow.texts(), ["m0", "m1"]);
    assert_eq!(slow.closes(), [(CloseCode::POLICY_VIOLATION, true)]);
    assert!(!hub.clients.contains_key(&2));
}

#[test]
fn slow_chat_clients_found_while_sending_presence_are_dropped_without_recursion() {
    let mut hub = hub();
    // Each joiner's welcome, history and join presence fill two of three slots; every later
    // join's presence then overflows an earlier client.
    let clients: Vec<Fake> = (1..=50).map(|id| join(&mut hub, id, "/chat", 3)).collect();
    let talker = join(&mut hub, 100, "/chat", 10_000);
    assert!(hub.clients.len() <= 3, "{} left", hub.clients.len());
    for client in &clients {
        let closes = client.closes();
        assert!(closes.len() <= 1, "closed twice: {closes:?}");
    }
    hub.handle(Command::Message {
        id: 100,
        input: Input::Chat(Ok(ClientCommand::Ping)),
    });
    assert!(talker.texts().last().is_some_and(|t| t.contains("pong")));
}

#[test]
fn shutdown_sends_what_was_broadcast_before_the_close() {
    let mut hub = hub();
    let a = join(&mut hub, 1, "/", 100);
    say(&mut hub, 1, "last words");
    hub.handle(Command::Shutdown);
    assert_eq!(a.texts(), ["last words"]);
    assert_eq!(a.closes(), [(CloseCode::GOING_AWAY, false)]);
}

#[test]
fn after_shutdown_nothing_new_is_relayed_and_nobody_becomes_a_slow_consumer() {
    let mut hub = hub();
    let a = join(&mut hub, 1, "/chat", 100);
    // Room for what it has been sent so far, and no more.
    let b = join(&mut hub, 2, "/chat", 3);
    let before = a.texts().len();
    hub.handle(Command::Shutdown);
    // b leaves: its presence is not sent; a late message is not relayed; a late join is
    // closed at once; a publish is refused.
    hub.handle(Command::Leave {
        id: 2,
        reason: "closed".into(),
    });
    say(&mut hub, 1, "late");
    let late = join(&mut hub, 3, "/broadcast", 100);
    let (reply, answer) = crossbeam_channel::bounded(1);
    hub.handle(Command::Publish {
        channel: "general".into(),
        text: "late".into(),
        reply,
        claim: Claim::default(),
    });
    assert_eq!(a.texts().len(), before);
    assert_eq!(a.closes(), [(CloseCode::GOING_AWAY, false)]);
    assert_eq!(b.closes(), [(CloseCode::GOING_AWAY, false)]);
    assert_eq!(late.closes(), [(CloseCode::GOING_AWAY, false)]);
    assert!(matches!(answer.recv(), Ok(Err(_))));
}

#[test]
fn a_message_goes_to_its_senders_app_only() {
    let mut hub = hub();
    let broadcast = join(&mut hub, 1, "/broadcast", 100);
    let chat = join(&mut hub, 2, "/chat", 100);
    let before = chat.texts().len();
    // A chat client's input reaches the chat, whatever its kind: the broadcast app never
    // sees it, so nothing is relayed.
    say(&mut hub, 2, "not for broadcast");
    hub.flush_broadcast();
    assert!(broadcast.texts().is_empty());
    assert_eq!(chat.texts().len(), before);
}

#[test]
fn a_publish_reaches_the_chat_channel_and_notifications_and_counts_both() {
    let mut hub = hub();
    let chat = join(&mut hub, 1, "/chat", 100);
    let listener = join(&mut hub, 2, "/notifications", 100);
    let (reply, answer) = crossbeam_channel::bounded(1);
    hub.handle(Command::Publish {
        channel: "notifications".into(),
        text: "hello".into(),
        reply,
        claim: Claim::default(),
    });
    // The chat client is not subscribed to `notifications`: only the listener receives it.
    assert_eq!(answer.recv().ok(), Some(Ok(1)));
    assert!(listener.texts().iter().any(|t| t.contains("\"hello\"")));
    assert!(chat.texts().iter().all(|t| !t.contains("\"hello\"")));
}
