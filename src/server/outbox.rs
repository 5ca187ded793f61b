//! One connection's outbox: what its writer thread will put on the wire.
//!
//! Two lanes. The **data** lane holds at most `--max-backlog` frames: the hub never waits on
//! it, and a full lane marks a slow consumer. The **control** lane carries Pongs, Pings and the Close
//! handshake; the writer always empties it first, so a control frame is never stuck behind data
//! or dropped because the data lane is full.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::writer::WriterSlot;
use crate::protocol::frame::HeaderBytes;
use crate::protocol::CloseCode;

/// How long a reader waiting for room sleeps between checks.
const ROOM_POLL: Duration = Duration::from_millis(50);

/// A data frame ready for the wire.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A frame encoded once by the hub and shared by every recipient.
    Shared(Arc<[u8]>),
    /// A frame for one recipient: header and payload kept apart so the payload is not copied.
    Owned(HeaderBytes, Vec<u8>),
    /// Several whole frames back to back (the hub's batch of broadcast messages), shared by
    /// every recipient; it counts as that many messages against the backlog.
    Batch(Arc<[u8]>, usize),
}

impl Frame {
    /// The bytes to write, as one or two slices.
    pub fn parts(&self) -> [&[u8]; 2] {
        match self {
            Self::Shared(bytes) | Self::Batch(bytes, _) => [bytes, &[]],
            Self::Owned(header, payload) => [header.as_slice(), payload],
        }
    }

    /// How many messages it carries.
    pub fn messages(&self) -> usize {
        match self {
            Self::Shared(_) | Self::Owned(..) => 1,
            Self::Batch(_, messages) => *messages,
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
    Full,
    /// The writer is gone: the connection is closing.
    Gone,
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
/// no slots; the `--max-backlog` bound is counted here instead of preallocated.
#[derive(Clone)]
pub struct Outbox {
    data: Sender<Frame>,
    control: Sender<Control>,
    room: Arc<Room>,
    max_backlog: usize,
    /// Starts a writer thread when something is queued and none runs.
    writer: Arc<WriterSlot>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("backlog", &self.backlog())
            .finish_non_exhaustive()
    }
}

/// Messages queued in the data lane (a batch counts as its messages).
#[derive(Debug, Default)]
struct Queued(AtomicUsize);

/// The receiving side, owned by the writer thread.
#[derive(Debug)]
pub struct OutboxReceiver {
    /// Data frames.
    pub data: Receiver<Frame>,
    /// Control instructions, emptied first.
    pub control: Receiver<Control>,
    room: Arc<Room>,
}

/// A new outbox whose data lane holds at most `max_backlog` messages; `writer` builds the
/// connection's [`WriterSlot`] around the receiving side.
pub fn outbox(
    max_backlog: usize,
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
        writer: writer(receiver),
    }
}

impl Outbox {
    /// Queues a frame without waiting (the hub's way).
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when the backlog is at its limit, [`SendError::Gone`] when the writer
    /// has stopped.
    pub fn try_send(&self, frame: Frame) -> Result<(), SendError> {
        let messages = frame.messages();
        if self.backlog() + messages > self.max_backlog.max(messages) {
            return Err(SendError::Full);
        }
        self.push(frame)
    }

    fn push(&self, frame: Frame) -> Result<(), SendError> {
        if self.room.writer_gone.load(Ordering::SeqCst) {
            return Err(SendError::Gone);
        }
        let messages = frame.messages();
        self.room.queued.0.fetch_add(messages, Ordering::SeqCst);
        self.data.send(frame).map_err(|_| {
            self.room.queued.0.fetch_sub(messages, Ordering::SeqCst);
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
        while self.backlog() >= self.max_backlog {
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

    /// How many messages wait in the data lane.
    pub fn backlog(&self) -> usize {
        self.room.queued.0.load(Ordering::SeqCst)
    }
}

impl OutboxReceiver {
    /// The writer took `frames` out of the data lane: count them off and wake a reader waiting
    /// for room.
    pub fn took(&self, frames: &[Frame]) {
        let messages: usize = frames.iter().map(Frame::messages).sum();
        self.room.queued.0.fetch_sub(messages, Ordering::SeqCst);
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
