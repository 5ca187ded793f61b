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
//!
//! The [writer slot](super::slot)'s state lives here too, under the same lock, so that queuing
//! a frame and deciding who writes it are one step.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use super::slot::SlotState;

use crate::protocol::deflate::StatelessCompressor;
use crate::protocol::frame::HeaderBytes;
use crate::protocol::CloseCode;
use crate::server::deflaters::with_deflater;
use crate::server::metrics::metrics;
use crate::sync::{lock, wait_timeout};

/// A data frame ready for the wire.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
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
pub(crate) struct SharedBytes(Arc<SharedInner>);

struct SharedInner {
    plain: Arc<[u8]>,
    /// Compressed forms for window bits 9 to 15 (the threshold is the server's, one for all).
    deflated: [OnceLock<Vec<u8>>; 7],
}

impl SharedBytes {
    /// The frames as `compressor` sends them: compressed once, then shared.
    pub(crate) fn deflated(&self, compressor: &StatelessCompressor) -> &[u8] {
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
    pub(crate) fn parts(&self) -> [&[u8]; 2] {
        match self {
            Self::Shared(bytes) | Self::Batch(bytes, _) => [bytes, &[]],
            Self::Owned(header, payload) => [header.as_slice(), payload],
            Self::Tail(bytes, from, _) => [bytes.get(*from..).unwrap_or_default(), &[]],
        }
    }

    /// The bytes to write to a connection that compresses with `compressor`: shared frames in
    /// their compressed form; an owned frame was made for its recipient and goes as it is.
    pub(crate) fn wire_parts(&self, compressor: Option<&StatelessCompressor>) -> [&[u8]; 2] {
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
    pub(crate) fn is_tail(&self) -> bool {
        matches!(self, Self::Tail(..))
    }

    /// How many messages it carries.
    pub(crate) fn messages(&self) -> usize {
        match self {
            Self::Shared(_) | Self::Owned(..) => 1,
            Self::Batch(_, messages) | Self::Tail(_, _, messages) => *messages,
        }
    }

    /// Its length on the wire.
    pub(crate) fn len(&self) -> usize {
        self.parts().iter().map(|part| part.len()).sum()
    }
}

/// An instruction for the writer, ahead of any data.
#[derive(Debug)]
pub(crate) enum Control {
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

/// The two lanes and the writer slot, under one lock (the [`Room`]'s). Each lane is a queue
/// that allocates as frames arrive and gives its slots back when the writer goes idle, so an
/// idle connection holds none.
#[derive(Debug, Default)]
pub(super) struct Lanes {
    pub(super) data: VecDeque<Frame>,
    pub(super) control: VecDeque<Control>,
    /// Who may write to the socket now.
    pub(super) slot: SlotState,
    /// The reader waits in [`Outbox::send`](super::outbox::Outbox::send) for room.
    pub(super) reader_waits: bool,
    /// The writer waits for the reader's last instruction after our Close.
    writer_waits: bool,
}

impl Lanes {
    /// Whether neither lane holds anything.
    pub(super) fn is_empty(&self) -> bool {
        self.control.is_empty() && self.data.is_empty()
    }

    /// Queues a data frame behind the others. Returns whether a writer must be started for it
    /// ([`SlotState::wake`]).
    #[must_use = "a writer must be started when this says so"]
    pub(super) fn push_data(&mut self, frame: Frame) -> bool {
        self.data.push_back(frame);
        self.slot.wake()
    }
}

/// What the two ends of an outbox share: the lanes and the writer slot, their counts, and the
/// waits on them.
///
/// The lock is held only to push or pop frames and to move the slot from one state to the
/// next, never across a write or another lock, so the hub, which queues under it, waits at
/// most for a few pointer moves (its rule: nothing blocks it). The reader waits on `freed` for
/// room in the data lane; the writer, after our Close, waits on `control_queued` for the
/// reader to see the peer's. A wait is announced in [`Lanes`] under the lock, so the other
/// side signals only when someone waits (a signal costs a system call) and never misses one:
/// it looks at the flag under the same lock. The reader's last wait, for TCP to be closed, is
/// on `finished` (signalled once per connection).
#[derive(Debug, Default)]
pub(super) struct Room {
    pub(super) queued: Queued,
    pub(super) lanes: Mutex<Lanes>,
    pub(super) freed: Condvar,
    control_queued: Condvar,
    /// The slot became [`SlotState::Finished`].
    pub(super) finished: Condvar,
}

impl Room {
    /// Locks the lanes; a panic elsewhere does not make them unusable.
    pub(super) fn lanes(&self) -> MutexGuard<'_, Lanes> {
        lock(&self.lanes)
    }

    /// Wakes the reader if it waits for room.
    pub(super) fn wake(&self) {
        if self.lanes().reader_waits {
            self.freed.notify_all();
        }
    }

    /// Runs one transition of the writer slot, given whether the lanes are empty, under the
    /// lock; returns what it says.
    pub(super) fn slot<R>(&self, transition: impl FnOnce(&mut SlotState, bool) -> R) -> R {
        let mut lanes = self.lanes();
        let empty = lanes.is_empty();
        transition(&mut lanes.slot, empty)
    }

    /// Queues a control instruction, waking the writer if it waits for one. Returns whether a
    /// writer must be started for it ([`SlotState::wake`]).
    #[must_use = "a writer must be started when this says so"]
    pub(super) fn push_control(&self, control: Control) -> bool {
        let mut lanes = self.lanes();
        lanes.control.push_back(control);
        if lanes.writer_waits {
            self.control_queued.notify_one();
        }
        lanes.slot.wake()
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
pub(crate) struct OutboxReceiver {
    pub(super) room: Arc<Room>,
}

impl OutboxReceiver {
    /// The next control instruction, if any.
    pub(crate) fn try_control(&self) -> Option<Control> {
        self.room.lanes().control.pop_front()
    }

    /// The next thing to write: a control instruction if one waits (they go first), else the
    /// first data frame.
    pub(crate) fn try_next(&self) -> Option<Result<Control, Frame>> {
        let mut lanes = self.room.lanes();
        match lanes.control.pop_front() {
            Some(control) => Some(Ok(control)),
            None => lanes.data.pop_front().map(Err),
        }
    }

    /// Moves up to `limit` queued data frames to the end of `into`.
    pub(crate) fn take_data(&self, limit: usize, into: &mut Vec<Frame>) {
        let mut lanes = self.room.lanes();
        let n = limit.min(lanes.data.len());
        into.extend(lanes.data.drain(..n));
    }

    /// The writer found nothing to write: if the lanes are still empty, it gives their slots
    /// back (an idle connection holds none) and the writer slot with them, in one step under
    /// the lock ([`SlotState::idle`]), so nothing can be queued between its last look and its
    /// going. Says whether the writer stops.
    pub(crate) fn idle_if_empty(&self) -> bool {
        let mut lanes = self.room.lanes();
        let empty = lanes.is_empty();
        if !lanes.slot.idle(empty) {
            return false;
        }
        if empty {
            lanes.data = VecDeque::new();
            lanes.control = VecDeque::new();
        }
        true
    }

    /// Our Close is written ([`SlotState::CloseSent`]): waits until the reader queues `Finish`
    /// or `Final` (it has the peer's Close, or gave up), at most until `deadline`; other
    /// instructions are dropped (after our Close nothing more is written, §5.5.1). Returns
    /// whether the reader's last word came before the deadline.
    pub(crate) fn await_last(&self, deadline: Instant) -> bool {
        let mut lanes = self.room.lanes();
        lanes.slot.close_sent(deadline);
        loop {
            while let Some(control) = lanes.control.pop_front() {
                if matches!(control, Control::Finish | Control::Final(_)) {
                    return true;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            lanes.writer_waits = true;
            lanes = wait_timeout(&self.room.control_queued, lanes, deadline - now);
            lanes.writer_waits = false;
        }
    }

    /// The first Close the hub asked for that is still queued, if a failed write closed TCP
    /// (see [`WriterSlot::unsent_close`](super::writer::WriterSlot::unsent_close)).
    pub(crate) fn unsent_close(&self) -> Option<(CloseCode, String)> {
        let lanes = self.room.lanes();
        if !lanes.slot.has_write_failed() {
            return None;
        }
        lanes.control.iter().find_map(|control| match control {
            Control::Close { code, reason, .. } => Some((*code, reason.clone())),
            _ => None,
        })
    }

    /// Takes every queued data frame (a Close that discards them).
    pub(crate) fn take_all_data(&self) -> Vec<Frame> {
        self.room.lanes().data.drain(..).collect()
    }

    /// The writer is done with `frames` (written, or dropped unwritten): count them off and
    /// wake a reader waiting for room.
    pub(crate) fn done_with(&self, frames: &[Frame]) {
        for frame in frames {
            self.room.queued.sub(frame);
        }
        self.room.wake();
    }

    /// TCP is closed ([`SlotState::finish`]), after a failed write if `write_failed`: nothing
    /// queued from now on will be written. Wakes a reader waiting for room or for the end.
    pub(crate) fn finish(&self, write_failed: bool) {
        self.room.lanes().slot.finish(write_failed);
        self.room.wake();
        self.room.finished.notify_all();
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.finish(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receiver() -> OutboxReceiver {
        OutboxReceiver {
            room: Arc::new(Room::default()),
        }
    }

    fn frame(bytes: &[u8]) -> Frame {
        Frame::Shared(bytes.to_vec().into())
    }

    #[test]
    fn control_goes_first_and_data_keeps_its_order() {
        let outbox = receiver();
        // The reader holds the slot: no writer is started, it is the test's.
        assert!(!outbox.room.lanes().push_data(frame(b"one")));
        assert!(!outbox.room.lanes().push_data(frame(b"two")));
        assert!(!outbox.room.push_control(Control::Bytes(b"pong".to_vec())));
        assert!(matches!(outbox.try_next(), Some(Ok(Control::Bytes(b))) if b == b"pong"));
        let mut data = Vec::new();
        outbox.take_data(8, &mut data);
        let bytes: Vec<&[u8]> = data.iter().map(|f| f.parts()[0]).collect();
        assert_eq!(bytes, [&b"one"[..], b"two"]);
        assert!(outbox.try_next().is_none());
    }

    #[test]
    fn an_idle_writer_gives_the_lanes_slots_back_but_never_with_work_waiting() {
        let outbox = receiver();
        outbox.room.lanes().slot = SlotState::Writing;
        assert!(!outbox.room.lanes().push_data(frame(b"x")));
        assert!(!outbox.idle_if_empty(), "work was waiting");
        assert_eq!(outbox.room.lanes().slot, SlotState::Writing);
        assert!(outbox.try_next().is_some());
        assert!(outbox.idle_if_empty());
        let lanes = outbox.room.lanes();
        assert_eq!(lanes.slot, SlotState::Idle);
        assert_eq!((lanes.data.capacity(), lanes.control.capacity()), (0, 0));
    }

    #[test]
    fn after_our_close_the_writer_waits_for_the_readers_last_word_or_the_deadline() {
        let outbox = receiver();
        let room = Arc::clone(&outbox.room);
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let _ = room.push_control(Control::Bytes(b"late pong".to_vec()));
            let _ = room.push_control(Control::Finish);
        });
        let started = Instant::now();
        outbox.await_last(started + Duration::from_secs(10));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "woken by Finish"
        );
        reader.join().expect("reader");
        let started = Instant::now();
        outbox.await_last(started + Duration::from_millis(100));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
    }
}
