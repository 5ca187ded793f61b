//! The Inspector's tap on one connection: while someone watches, every frame in both
//! directions is explained ([`explain::frames`](crate::explain::frames)) and sent to the
//! watchers as JSON. While nobody watches, the tap costs one relaxed atomic load per read and
//! per write batch ([`Tap::is_active`]).
//!
//! A tap attached mid-stream starts at the next frame boundary, which the reader learns from
//! its state machine ([`FrameProgress`]); outgoing bytes are always written in whole frames.
//!
//! All of it runs on the watched connection's own threads: its reader explains what arrives,
//! its writer what leaves (the hub never writes a watched connection's frames itself), so
//! watchers cost the watched client, bounded by `--max-watchers`, and never the hub.
//!
//! The watchers are other connections: a tap queues its events into their outboxes through
//! [`EventSink`], so this file needs nothing of the outbox, and the writer, which shows every
//! write on its connection's tap, sits above it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::app::ClientId;
use crate::explain::frames::FrameAnatomy;
use crate::explain::inspector::{HandshakeExplained, InspectorEvent};
use crate::explain::splitter::FrameSplitter;
use crate::protocol::deflate::Params;
use crate::protocol::frame::{encode_frame, Opcode};
use crate::protocol::{FrameProgress, Role};
use crate::server::close_record::CloseRecord;
use crate::sync::lock;

/// Where a tap queues its events for one watcher: the watching connection's outbox.
pub(crate) trait EventSink: Send + fmt::Debug {
    /// Queues one encoded Text frame without waiting; a watcher that is behind misses it.
    fn offer(&self, frame: Arc<[u8]>);
}

/// The opening handshake of a tapped connection, kept to show it step by step (§4.2.2).
#[derive(Debug, Clone)]
pub struct HandshakeRecord {
    /// The request head as received.
    pub(crate) request: String,
    /// `Sec-WebSocket-Key`.
    pub(crate) key: String,
    /// The 101 response as sent.
    pub(crate) response: String,
    /// The `permessage-deflate` parameters agreed, if any (RFC 7692 §5).
    pub(crate) deflate: Option<Params>,
}

impl HandshakeRecord {
    /// §1.3 step by step: key, key + GUID, SHA-1 in hex, base64 of that SHA-1.
    pub(crate) fn explained(&self) -> HandshakeExplained {
        HandshakeExplained::new(&self.request, &self.key, &self.response, self.deflate)
    }
}

/// What a tapped connection is, for `attached` and `connections` events.
#[derive(Debug, Clone)]
pub struct TapInfo {
    /// The connection's id.
    pub conn: ClientId,
    /// Its endpoint's name.
    pub endpoint: &'static str,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The `tap=` token from its URL: whoever knows it may watch.
    pub token: Option<String>,
    /// Its handshake, recorded only when it carried a token; boxed, so that a connection
    /// nobody may watch does not carry its room.
    pub handshake: Option<Box<HandshakeRecord>>,
    /// The `permessage-deflate` parameters agreed, if any: frames are shown inflated.
    pub deflate: Option<Params>,
}

/// One connection's tap.
#[derive(Debug)]
pub struct Tap {
    /// Who this is.
    pub(crate) info: TapInfo,
    active: AtomicBool,
    state: Mutex<TapState>,
}

#[derive(Debug, Default)]
struct TapState {
    watchers: Vec<(ClientId, Box<dyn EventSink>)>,
    /// `None` until the first frame boundary after attaching (boxed: a connection nobody
    /// watches holds only the pointer).
    incoming: Option<Box<FrameSplitter>>,
    /// `None` until the first write after attaching.
    outgoing: Option<Box<FrameSplitter>>,
}

impl Tap {
    /// A tap nobody watches yet.
    pub fn new(info: TapInfo) -> Arc<Self> {
        Arc::new(Self {
            info,
            active: AtomicBool::new(false),
            state: Mutex::default(),
        })
    }

    /// Whether anyone watches: the one check the data path pays.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TapState> {
        lock(&self.state)
    }

    /// `watcher` starts watching: it gets the `attached` event, then every frame from the next
    /// boundary on. Both happen under the tap's lock, so `attached` always comes first.
    pub(crate) fn attach(&self, watcher: ClientId, outbox: impl EventSink + 'static) {
        let mut state = self.state();
        if state.watchers.is_empty() {
            state.incoming = None;
            state.outgoing = None;
        }
        state.watchers.retain(|(id, _)| *id != watcher);
        // Active before `attached` goes out: whatever the watcher sees after `attached` is
        // tapped. Frames wait for this lock, so none can precede `attached`.
        self.active.store(true, Ordering::Relaxed);
        outbox.offer(event_frame(&self.attached_json()));
        state.watchers.push((watcher, Box::new(outbox)));
    }

    /// How many watch this connection now.
    pub(crate) fn watcher_count(&self) -> usize {
        self.state().watchers.len()
    }

    /// `watcher` stops watching.
    pub(crate) fn detach(&self, watcher: ClientId) {
        let mut state = self.state();
        state.watchers.retain(|(id, _)| *id != watcher);
        self.active
            .store(!state.watchers.is_empty(), Ordering::Relaxed);
    }

    /// Bytes received from the client: `offset` bytes after the handshake, with the reader at
    /// `progress` before them.
    pub(crate) fn incoming(&self, bytes: &[u8], progress: FrameProgress, offset: u64) {
        let mut state = self.state();
        let frames = match state.incoming.as_mut() {
            Some(splitter) => splitter.feed(bytes),
            None => {
                // The watch began mid-stream: start at the next frame boundary.
                let (mut splitter, rest) = match progress {
                    FrameProgress::AtBoundary => (self.splitter(Role::Client, offset), bytes),
                    FrameProgress::InHeader(prefix) => {
                        let start = offset.saturating_sub(prefix.len() as u64);
                        let mut splitter = self.splitter(Role::Client, start);
                        splitter.feed(&prefix);
                        (splitter, bytes)
                    }
                    FrameProgress::InPayload(remaining) => {
                        let skip = usize::try_from(remaining).unwrap_or(usize::MAX);
                        if skip >= bytes.len() {
                            return; // still inside a frame that began before the watch
                        }
                        let splitter = self.splitter(Role::Client, offset + remaining);
                        (splitter, bytes.get(skip..).unwrap_or_default())
                    }
                };
                let frames = splitter.feed(rest);
                state.incoming = Some(Box::new(splitter));
                frames
            }
        };
        self.send_frames(&state, "in", &frames);
    }

    /// A splitter for what `sender` sends, showing compressed messages inflated.
    fn splitter(&self, sender: Role, offset: u64) -> FrameSplitter {
        FrameSplitter::for_sender(sender, offset).with_deflate_params(self.info.deflate, sender)
    }

    /// Whole frames sent to the client, `offset` bytes after the handshake.
    pub(crate) fn outgoing(&self, parts: &[&[u8]], offset: u64) {
        let mut state = self.state();
        let splitter = state
            .outgoing
            .get_or_insert_with(|| Box::new(self.splitter(Role::Server, offset)));
        let frames: Vec<FrameAnatomy> = parts.iter().flat_map(|part| splitter.feed(part)).collect();
        self.send_frames(&state, "out", &frames);
    }

    /// The connection ended.
    pub(crate) fn closed(&self, record: &CloseRecord) {
        let state = self.state();
        let event = InspectorEvent::Close {
            conn: self.info.conn,
            record: record.explained(),
        };
        send(&state.watchers, &event.to_json());
    }

    fn send_frames(&self, state: &TapState, dir: &str, frames: &[FrameAnatomy]) {
        for frame in frames {
            let event = InspectorEvent::Frame {
                conn: self.info.conn,
                dir,
                frame,
            };
            send(&state.watchers, &event.to_json());
        }
    }

    /// The `attached` event a new watcher gets first.
    pub(crate) fn attached_json(&self) -> Value {
        InspectorEvent::Attached {
            conn: self.info.conn,
            endpoint: self.info.endpoint,
            peer: self.info.peer.map(|p| p.to_string()),
            handshake: self
                .info
                .handshake
                .as_deref()
                .map(HandshakeRecord::explained),
        }
        .to_json()
    }
}

/// Queues `event` for every watcher without waiting; a watcher that is behind misses it.
fn send(watchers: &[(ClientId, Box<dyn EventSink>)], event: &Value) {
    if watchers.is_empty() {
        return;
    }
    let frame = event_frame(event);
    for (_, outbox) in watchers {
        outbox.offer(Arc::clone(&frame));
    }
}

/// `event` as one Text frame, encoded once for every watcher.
fn event_frame(event: &Value) -> Arc<[u8]> {
    encode_frame(Opcode::Text, event.to_string().as_bytes()).into()
}
