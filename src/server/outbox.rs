//! One connection's outbox: what its writer thread will put on the wire.
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
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::deflaters::with_deflater;
use super::writer::WriterSlot;
use crate::protocol::deflate::StatelessCompressor;
use crate::protocol::frame::HeaderBytes;
use crate::protocol::CloseCode;

/// How long a reader waiting for room sleeps between checks.
const ROOM_POLL: Duration = Duration::from_millis(50);

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
    fn shared(&self) -> Option<&SharedBytes> {
        match self {
            Self::Shared(bytes) | Self::Batch(bytes, _) => Some(bytes),
            Self::Owned(..) | Self::Tail(..) => None,
        }
    }

    /// What is left of a shared frame or batch after its first `written` bytes went out.
    fn tail(&self, written: usize) -> Option<Self> {
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

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The data lane is full: the client is not keeping up.
    Full(Overflow),
    /// The writer is gone: the connection is closing.
    Gone,
}

/// Which limit a full data lane would have gone over, and by how much: the slow consumer's
/// close reason ("4194400 bytes queued, limit 4194304").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// What was counted: `"messages"` (`--max-backlog`) or `"bytes"` (`--max-backlog-bytes`).
    pub unit: &'static str,
    /// How many would be queued with the refused frame.
    pub queued: usize,
    /// The limit.
    pub limit: usize,
}

impl Overflow {
    /// Whether adding `added` to `queued` goes over `limit`: at the limit is still room, one
    /// more is not. An empty lane takes any one frame, however large.
    fn of(unit: &'static str, queued: usize, added: usize, limit: usize) -> Option<Self> {
        let total = queued.saturating_add(added);
        (queued > 0 && total > limit).then_some(Self {
            unit,
            queued: total,
            limit,
        })
    }
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            unit,
            queued,
            limit,
        } = self;
        write!(f, "{queued} {unit} queued, limit {limit}")
    }
}

/// Lets a reader that waits for room in the data lane sleep until the writer drains it.
#[derive(Debug, Default)]
struct Room {
    queued: Queued,
    lock: Mutex<()>,
    freed: Condvar,
    /// The writer has stopped: nobody will make room again.
    writer_gone: AtomicBool,
}

/// The sending side of one connection's outbox, held by the hub and the reader.
///
/// The data lane is a linked list that allocates as frames arrive, so an idle connection holds
/// no slots; the `--max-backlog` and `--max-backlog-bytes` bounds are counted here instead of
/// preallocated.
#[derive(Clone)]
pub struct Outbox {
    data: Sender<Frame>,
    control: Sender<Control>,
    room: Arc<Room>,
    max_backlog: usize,
    max_backlog_bytes: usize,
    /// Starts a writer thread when something is queued and none runs.
    writer: Arc<WriterSlot>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("backlog", &self.backlog())
            .field("backlog_bytes", &self.backlog_bytes())
            .finish_non_exhaustive()
    }
}

/// What the data lane holds, the writer's batch in progress included.
#[derive(Debug, Default)]
struct Queued {
    /// Messages (a batch counts as its messages).
    messages: AtomicUsize,
    /// Bytes on the wire.
    bytes: AtomicUsize,
}

impl Queued {
    fn add(&self, frame: &Frame) {
        self.messages.fetch_add(frame.messages(), Ordering::SeqCst);
        self.bytes.fetch_add(frame.len(), Ordering::SeqCst);
    }

    fn sub(&self, frame: &Frame) {
        self.messages.fetch_sub(frame.messages(), Ordering::SeqCst);
        self.bytes.fetch_sub(frame.len(), Ordering::SeqCst);
    }
}

/// The receiving side, owned by the writer thread.
#[derive(Debug)]
pub struct OutboxReceiver {
    /// Data frames.
    pub data: Receiver<Frame>,
    /// Control instructions, emptied first.
    pub control: Receiver<Control>,
    room: Arc<Room>,
}

/// A new outbox whose data lane holds at most `max_backlog` messages and `max_backlog_bytes`
/// bytes; `writer` builds the connection's [`WriterSlot`] around the receiving side.
pub fn outbox(
    max_backlog: usize,
    max_backlog_bytes: usize,
    writer: impl FnOnce(OutboxReceiver) -> Arc<WriterSlot>,
) -> Outbox {
    let (data_tx, data_rx) = crossbeam_channel::unbounded();
    // Fed only by the reader (whose control frames are rate-limited) and by at most one Close
    // from the hub.
    let (control_tx, control_rx) = crossbeam_channel::unbounded();
    let room = Arc::new(Room::default());
    let receiver = OutboxReceiver {
        data: data_rx,
        control: control_rx,
        room: Arc::clone(&room),
    };
    Outbox {
        data: data_tx,
        control: control_tx,
        room,
        max_backlog,
        max_backlog_bytes,
        writer: writer(receiver),
    }
}

impl Outbox {
    /// Delivers a frame without waiting (the hub's way).
    ///
    /// A shared frame (or batch) for a connection with nothing queued, no writer running and no
    /// permessage-deflate is written straight to the socket by a write that cannot wait: no
    /// thread is woken for it. What the socket did not take (all of it, or a tail) is queued
    /// first in the data lane, and a writer is started for it as for any queued frame.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when the frame would take the backlog over either limit,
    /// [`SendError::Gone`] when the writer has stopped.
    pub fn try_send(&self, frame: Frame) -> Result<(), SendError> {
        if self.room.writer_gone.load(Ordering::SeqCst) {
            return Err(SendError::Gone);
        }
        if let Some(overflow) = self.overflow(&frame) {
            return Err(SendError::Full(overflow));
        }
        if let Some(bytes) = frame.shared() {
            // A connection that compresses gets the deflated form, made by its writer thread.
            if self.backlog() == 0 && self.writer.sends_plain() && self.writer.take_idle() {
                return self.write_held(&frame, bytes);
            }
        }
        self.push(frame)
    }

    /// With the writer slot held: writes what the socket takes now, queues the rest.
    fn write_held(&self, frame: &Frame, bytes: &[u8]) -> Result<(), SendError> {
        let sent = match self.writer.write_without_waiting(bytes) {
            Ok(written) if written == bytes.len() => Ok(()),
            Ok(written) => frame.tail(written).map_or(Ok(()), |tail| self.push(tail)),
            Err(_) => {
                self.writer.fail();
                return Err(SendError::Gone);
            }
        };
        // Gives the slot back; a queued tail gets a writer.
        self.writer.release();
        sent
    }

    /// The limit `frame` would take the data lane over, if any. An empty lane takes any one
    /// frame, so a message larger than a limit is delayed, never refused.
    fn overflow(&self, frame: &Frame) -> Option<Overflow> {
        Overflow::of(
            "messages",
            self.backlog(),
            frame.messages(),
            self.max_backlog,
        )
        .or_else(|| {
            Overflow::of(
                "bytes",
                self.backlog_bytes(),
                frame.len(),
                self.max_backlog_bytes,
            )
        })
    }

    fn push(&self, frame: Frame) -> Result<(), SendError> {
        if self.room.writer_gone.load(Ordering::SeqCst) {
            return Err(SendError::Gone);
        }
        self.room.queued.add(&frame);
        self.data.send(frame).map_err(|rejected| {
            self.room.queued.sub(&rejected.0);
            SendError::Gone
        })?;
        self.writer.wake();
        Ok(())
    }

    /// Queues a frame, waiting while the backlog is full (the reader's way: an echo client that
    /// does not read its replies stops being read from, like TCP flow control).
    ///
    /// # Errors
    ///
    /// [`SendError::Gone`] when the writer has stopped.
    pub fn send(&self, frame: Frame) -> Result<(), SendError> {
        let mut guard = self
            .room
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while self.overflow(&frame).is_some() {
            if self.room.writer_gone.load(Ordering::SeqCst) {
                return Err(SendError::Gone);
            }
            // Bounded wait: the writer's notification could race this check.
            guard = match self.room.freed.wait_timeout(guard, ROOM_POLL) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        drop(guard);
        self.push(frame)
    }

    /// Queues a control instruction; it goes out before any queued data.
    pub fn control(&self, control: Control) {
        // A stopped writer needs no more instructions.
        if self.control.send(control).is_ok() {
            self.writer.wake();
        }
    }

    /// The connection's writer slot.
    pub fn writer(&self) -> &Arc<WriterSlot> {
        &self.writer
    }

    /// How many messages wait in the data lane (or are being written).
    pub fn backlog(&self) -> usize {
        self.room.queued.messages.load(Ordering::SeqCst)
    }

    /// How many bytes wait in the data lane (or are being written).
    pub fn backlog_bytes(&self) -> usize {
        self.room.queued.bytes.load(Ordering::SeqCst)
    }
}

impl OutboxReceiver {
    /// The writer is done with `frames` (written, or dropped unwritten): count them off and
    /// wake a reader waiting for room.
    pub fn done_with(&self, frames: &[Frame]) {
        for frame in frames {
            self.room.queued.sub(frame);
        }
        self.room.freed.notify_all();
    }
}

impl OutboxReceiver {
    /// TCP is closed: nothing queued from now on will be written.
    pub fn close(&self) {
        self.room.writer_gone.store(true, Ordering::SeqCst);
        self.room.freed.notify_all();
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_takes_frames_up_to_its_limit_and_refuses_one_byte_more() {
        assert_eq!(Overflow::of("bytes", 4000, 96, 4096), None);
        let over = Overflow::of("bytes", 4000, 97, 4096).expect("one byte over");
        assert_eq!(over.to_string(), "4097 bytes queued, limit 4096");
        assert_eq!(Overflow::of("messages", 1023, 1, 1024), None);
        assert!(Overflow::of("messages", 1024, 1, 1024).is_some());
    }

    #[test]
    fn an_empty_backlog_takes_one_frame_larger_than_the_limit() {
        assert_eq!(Overflow::of("bytes", 0, 64 << 20, 4 << 20), None);
        assert!(Overflow::of("bytes", 1, 64 << 20, 4 << 20).is_some());
    }
}
