//! The two lanes of one connection's outbox, what travels in them, and their receiving end
//! (the writer's). The sending end, with its limits, is [`outbox`](super::outbox).
//!
//! Two lanes. The **data** lane holds at most `--max-backlog` messages and `--max-backlog-bytes`
//! bytes, counted until the writer has written them (so a batch stuck in a slow write still
//! counts): the hub never waits on it, and a lane over either limit marks a slow consumer. What
//! one connection pins is therefore bounded by the byte limit, and all of them together by
//! connections × limit. (One message larger than the limit is accepted into an empty lane, or a
//! large `--max-message-size` could never be delivered.) The **control** lane carries Pongs,
//! Pings and the Close handshake; the writer always empties it first, so a control frame is
//! never stuck behind data or dropped because the data lane is full.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use crossbeam_channel::Receiver;

use crate::protocol::deflate::StatelessCompressor;
use crate::protocol::frame::HeaderBytes;
use crate::protocol::CloseCode;
use crate::server::deflaters::with_deflater;
use crate::server::metrics::metrics;

/// A data frame ready for the wire.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A frame encoded once by the hub and shared by every recipient.
    Shared(SharedBytes),
    /// A frame for one recipient: header and payload kept apart so the payload is not copied.
    Owned(HeaderBytes, Vec<u8>),
    /// Several whole frames back to back (the hub's batch of broadcast messages), shared by
    /// every recipient; it counts as that many messages against the backlog.
    Batch(SharedBytes, usize),
    /// What a write that could not wait left unsent of a shared frame or batch: its bytes from
    /// the offset on, and the messages it carried. It is always the first frame of the data
    /// lane, and the writer writes it before anything else (even a control frame), or the
    /// peer would see the start of one frame followed by another.
    Tail(SharedBytes, usize, usize),
}

/// Frames encoded once by the hub and shared by every recipient, and their permessage-deflate
/// form (RFC 7692 §6.1), also made once per window size: by the first writer thread whose
/// connection needs it, never by the hub. The other writers that need it wait for that one.
#[derive(Clone)]
pub struct SharedBytes(Arc<SharedInner>);

struct SharedInner {
    plain: Arc<[u8]>,
    /// Compressed forms for window bits 9 to 15 (the threshold is the server's, one for all).
    deflated: [OnceLock<Vec<u8>>; 7],
}

impl SharedBytes {
    /// The frames as `compressor` sends them: compressed once, then shared.
    pub fn deflated(&self, compressor: &StatelessCompressor) -> &[u8] {
        let index = usize::from(compressor.window_bits.clamp(9, 15) - 9);
        match self.0.deflated.get(index) {
            Some(cell) => cell.get_or_init(|| {
                with_deflater(compressor, |deflater| {
                    compressor.compress_frames(deflater, &self.0.plain)
                })
            }),
            None => &self.0.plain,
        }
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0.plain
    }
}

impl From<Arc<[u8]>> for SharedBytes {
    fn from(plain: Arc<[u8]>) -> Self {
        Self(Arc::new(SharedInner {
            plain,
            deflated: Default::default(),
        }))
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(plain: Vec<u8>) -> Self {
        Self::from(Arc::<[u8]>::from(plain))
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.0.plain.len())
            .finish_non_exhaustive()
    }
}

impl Frame {
    /// The bytes to write, as one or two slices.
    pub fn parts(&self) -> [&[u8]; 2] {
        match self {
            Self::Shared(bytes) | Self::Batch(bytes, _) => [bytes, &[]],
            Self::Owned(header, payload) => [header.as_slice(), payload],
            Self::Tail(bytes, from, _) => [bytes.get(*from..).unwrap_or_default(), &[]],
        }
    }

    /// The bytes to write to a connection that compresses with `compressor`: shared frames in
    /// their compressed form; an owned frame was made for its recipient and goes as it is.
    pub fn wire_parts(&self, compressor: Option<&StatelessCompressor>) -> [&[u8]; 2] {
        match (self, compressor) {
            (Self::Shared(bytes) | Self::Batch(bytes, _), Some(compressor)) => {
                [bytes.deflated(compressor), &[]]
            }
            _ => self.parts(),
        }
    }

    /// The shared bytes of a frame the fan-out may write straight to the socket.
    pub(super) fn shared(&self) -> Option<&SharedBytes> {
        match self {
            Self::Shared(bytes) | Self::Batch(bytes, _) => Some(bytes),
            Self::Owned(..) | Self::Tail(..) => None,
        }
    }

    /// What is left of a shared frame or batch after its first `written` bytes went out.
    pub(super) fn tail(&self, written: usize) -> Option<Self> {
        self.shared()
            .map(|bytes| Self::Tail(bytes.clone(), written, self.messages()))
    }

    /// Whether it is the unsent rest of a frame the writer must finish first.
    pub fn is_tail(&self) -> bool {
        matches!(self, Self::Tail(..))
    }

    /// How many messages it carries.
    pub fn messages(&self) -> usize {
        match self {
            Self::Shared(_) | Self::Owned(..) => 1,
            Self::Batch(_, messages) | Self::Tail(_, _, messages) => *messages,
        }
    }

    /// Its length on the wire.
    pub fn len(&self) -> usize {
        self.parts().iter().map(|part| part.len()).sum()
    }

    /// Whether it has no bytes (never true for a real frame).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An instruction for the writer, ahead of any data.
#[derive(Debug)]
pub enum Control {
    /// Control frames the reader's protocol state machine produced (Pong, Ping), to write now.
    Bytes(Vec<u8>),
    /// The reader's last bytes (a Close reply, or the Close that fails the connection): write
    /// them after the data already queued, then close TCP (§7.1.1: the server closes first).
    Final(Vec<u8>),
    /// The reader is done without a last frame (the peer vanished): close TCP.
    Finish,
    /// Start the close handshake from this side (hub: slow consumer, shutdown). With
    /// `discard_queued`, queued data is dropped first: it could not be delivered anyway.
    Close {
        /// The status code to send.
        code: CloseCode,
        /// Why, as the reason on the wire (cut to 123 bytes).
        reason: String,
        /// Drop the queued data instead of flushing it before the Close.
        discard_queued: bool,
    },
}

/// Lets a reader that waits for room in the data lane sleep until the writer drains it. Shared
/// by the two ends: the [`Outbox`](super::outbox::Outbox) counts frames in and waits on it; the
/// [`OutboxReceiver`] counts them off and wakes it.
#[derive(Debug, Default)]
pub(super) struct Room {
    pub(super) queued: Queued,
    pub(super) lock: Mutex<()>,
    pub(super) freed: Condvar,
    /// The writer has stopped: nobody will make room again.
    pub(super) writer_gone: AtomicBool,
}

impl Room {
    /// Wakes a reader waiting for room. The lock is taken first: a reader checks the count
    /// and starts waiting while it holds the lock, so the writer's change is either seen by
    /// its check or its wait is already under way and gets this notification (no lost
    /// wake-up that would leave it asleep for a whole `ROOM_POLL`).
    pub(super) fn wake(&self) {
        drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
        self.freed.notify_all();
    }
}

/// What the data lane holds, the writer's batch in progress included.
#[derive(Debug, Default)]
pub(super) struct Queued {
    /// Messages (a batch counts as its messages).
    pub(super) messages: AtomicUsize,
    /// Bytes on the wire.
    pub(super) bytes: AtomicUsize,
}

impl Queued {
    pub(super) fn add(&self, frame: &Frame) {
        self.messages.fetch_add(frame.messages(), Ordering::SeqCst);
        self.bytes.fetch_add(frame.len(), Ordering::SeqCst);
        metrics().outbox_added(frame.len());
    }

    pub(super) fn sub(&self, frame: &Frame) {
        self.messages.fetch_sub(frame.messages(), Ordering::SeqCst);
        self.bytes.fetch_sub(frame.len(), Ordering::SeqCst);
        metrics().outbox_removed(frame.len());
    }
}

/// What is still queued when the outbox goes (its writer is gone) leaves `/metrics`' figure.
impl Drop for Queued {
    fn drop(&mut self) {
        metrics().outbox_removed(*self.bytes.get_mut());
    }
}

/// The receiving side, owned by the writer thread.
#[derive(Debug)]
pub struct OutboxReceiver {
    /// Data frames.
    pub data: Receiver<Frame>,
    /// Control instructions, emptied first.
    pub control: Receiver<Control>,
    pub(super) room: Arc<Room>,
}

impl OutboxReceiver {
    /// The writer is done with `frames` (written, or dropped unwritten): count them off and
    /// wake a reader waiting for room.
    pub fn done_with(&self, frames: &[Frame]) {
        for frame in frames {
            self.room.queued.sub(frame);
        }
        self.room.wake();
    }
}

impl OutboxReceiver {
    /// TCP is closed: nothing queued from now on will be written.
    pub fn close(&self) {
        self.room.writer_gone.store(true, Ordering::SeqCst);
        self.room.wake();
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.close();
    }
}
