//! One connection's outbox, the sending side: what the hub, the reader and the Inspector's taps
//! queue for its writer thread, without waiting (the hub) or waiting for room (the reader).
//!
//! The lanes it fills, and what goes in them, are in [`lanes`](super::lanes); the
//! [`WriterSlot`] it wakes drains them. The data lane's limits are checked here: a frame that
//! would take it over `--max-backlog` messages or `--max-backlog-bytes` bytes is refused
//! ([`SendError::Full`], a slow consumer) by [`Outbox::try_send`], and waited for by
//! [`Outbox::send`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use super::lanes::{Control, Frame, Lanes, OutboxReceiver, Room};
use super::slot::Holder;
use super::tap::EventSink;
use super::writer::WriterSlot;
use crate::sync::wait_timeout;

/// How long a reader waiting for room sleeps between checks.
const ROOM_POLL: Duration = Duration::from_millis(50);

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

/// The sending side of one connection's outbox, held by the hub and the reader.
///
/// The lanes allocate as frames arrive, so an idle connection holds no slots; the
/// `--max-backlog` and `--max-backlog-bytes` bounds are counted here instead of preallocated.
#[derive(Clone)]
pub struct Outbox {
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

/// A new outbox whose data lane holds at most `max_backlog` messages and `max_backlog_bytes`
/// bytes; `writer` builds the connection's [`WriterSlot`] around the receiving side.
pub fn outbox(
    max_backlog: usize,
    max_backlog_bytes: usize,
    writer: impl FnOnce(OutboxReceiver) -> Arc<WriterSlot>,
) -> Outbox {
    let room = Arc::new(Room::default());
    let receiver = OutboxReceiver {
        room: Arc::clone(&room),
    };
    Outbox {
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
        // One lock: the slot's state and the lanes are looked at, and the frame queued or the
        // slot taken, in one step.
        let mut lanes = self.room.lanes();
        if lanes.slot.is_finished() {
            return Err(SendError::Gone);
        }
        if let Some(overflow) = self.overflow(&frame) {
            return Err(SendError::Full(overflow));
        }
        if let Some(bytes) = frame.shared() {
            // A connection that compresses gets the deflated form, made by its writer thread.
            let empty = lanes.is_empty();
            let idle = self.backlog() == 0 && self.writer.sends_plain();
            if idle && lanes.slot.take(Holder::FanOut, empty) {
                drop(lanes);
                return self.write_held(&frame, bytes);
            }
        }
        self.queue(lanes, frame)
    }

    /// With the writer slot held: writes what the socket takes now, queues the rest.
    fn write_held(&self, frame: &Frame, bytes: &[u8]) -> Result<(), SendError> {
        let sent = match self.writer.write_without_waiting(bytes) {
            Ok(written) if written == bytes.len() => {
                self.writer.counters().sent_messages(frame.messages());
                Ok(())
            }
            Ok(written) => frame.tail(written).map_or(Ok(()), |tail| self.push(tail)),
            Err(e) => {
                self.writer.fail(&e);
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
        let lanes = self.room.lanes();
        if lanes.slot.is_finished() {
            return Err(SendError::Gone);
        }
        self.queue(lanes, frame)
    }

    /// Counts `frame` in and queues it, under the lock the caller took; starts a writer after
    /// unlocking if nobody writes.
    fn queue(&self, mut lanes: MutexGuard<'_, Lanes>, frame: Frame) -> Result<(), SendError> {
        self.room.queued.add(&frame);
        let start = lanes.push_data(frame);
        drop(lanes);
        if start {
            self.writer.start();
        }
        Ok(())
    }

    /// Queues a frame, waiting while the backlog is full (the reader's way: an echo client that
    /// does not read its replies stops being read from, like TCP flow control).
    ///
    /// # Errors
    ///
    /// [`SendError::Gone`] when the writer has stopped.
    pub fn send(&self, frame: Frame) -> Result<(), SendError> {
        let mut lanes = self.room.lanes();
        while self.overflow(&frame).is_some() {
            if lanes.slot.is_finished() {
                return Err(SendError::Gone);
            }
            // The writer looks for this flag under the same lock (`Room::wake`), so no
            // notification is missed; the bound is a safety net, not the way out.
            lanes.reader_waits = true;
            lanes = wait_timeout(&self.room.freed, lanes, ROOM_POLL);
            lanes.reader_waits = false;
        }
        drop(lanes);
        self.push(frame)
    }

    /// Queues a control instruction; it goes out before any queued data.
    pub fn control(&self, control: Control) {
        // Fed only by the reader (whose control frames are rate-limited) and by at most one
        // Close from the hub. After TCP is closed it is kept for `WriterSlot::unsent_close`,
        // and no writer starts for it.
        if self.room.push_control(control) {
            self.writer.start();
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

/// A watching connection's outbox takes the Inspector's events as it takes any shared frame:
/// without waiting, so a watcher that is behind misses some.
impl EventSink for Outbox {
    fn offer(&self, frame: Arc<[u8]>) {
        let _ = self.try_send(Frame::Shared(frame.into()));
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
