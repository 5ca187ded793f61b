//! A connection's writer: drains the outbox's [lanes](super::lanes) into the socket, the control
//! lane first, everything waiting gathered into one vectored write.
//!
//! The writer thread exists only while there is something to write. The first frame queued
//! into an empty outbox starts one ([`WriterSlot::wake`], through the
//! [`spawner`](crate::server::spawner) thread, so the hub never creates a thread); when its lanes are
//! empty it ends. Most frames never need one: the reader writes its replies itself
//! ([`WriterSlot::write_now`]) and the hub's fan-out writes to an idle socket without waiting
//! ([`WriterSlot::write_without_waiting`]); a writer starts only for what the socket's send
//! buffer could not take. An idle connection therefore costs one thread (its reader), not two.
//!
//! Who may write now is the [writer slot](super::slot), one state machine kept with the lanes
//! under their lock: at most one writer runs per connection, nobody writes past a queued
//! frame, and a writer gives the slot back in the same step as its last look at the lanes, so
//! no frame is left behind. This file does what its transitions say: the writes, the thread
//! started, TCP closed.
//!
//! It also starts the close handshake when the hub asks (slow consumer, shutdown): it sends our
//! Close through the connection's state machine, then waits for the reader to see the peer's
//! Close, at most `--close-timeout`, and closes TCP (§7.1.1: the server closes first).
//!
//! A connection whose last bytes cannot be delivered is **reset** rather than closed: when a
//! write made no progress for `--write-timeout` (the peer stopped reading; a slow consumer's
//! 1008 stuck behind a full socket), when no Close came back within `--close-timeout`, or when
//! no writer could start. A plain close would queue the FIN behind what the kernel still holds
//! for the peer, and the socket would live on as a `FIN-WAIT-1` orphan holding its send queue
//! (MiBs each) until the peer reads or the kernel gives up; `SO_LINGER` 0 makes `close(2)` send
//! an RST and free the queue at once. The timeout that expired is the grace period.

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use log::{debug, warn};

use super::lanes::{Control, Frame, OutboxReceiver};
use super::slot::Holder;
use super::tap::Tap;
use crate::app::ClientId;
use crate::protocol::connection::State;
use crate::protocol::deflate::StatelessCompressor;
use crate::protocol::{CloseFrame, Connection};
use crate::server::metrics::{metrics, EndpointCounters};
use crate::server::pool::ThreadPool;
use crate::server::spawner::Spawner;
use crate::sync::{lock, wait_timeout};

/// The writer's largest batch: frames gathered into one vectored write.
const WRITE_BATCH_FRAMES: usize = 512;

/// `send(2)`'s flag for one write that fails with `EWOULDBLOCK` instead of waiting for room in
/// the send buffer; Linux's value (`<bits/socket.h>`).
#[cfg(target_os = "linux")]
const MSG_DONTWAIT: std::ffi::c_int = 0x40;
/// `send(2)`'s flag for `EPIPE` instead of `SIGPIPE` on a connection the peer has reset.
#[cfg(target_os = "linux")]
const MSG_NOSIGNAL: std::ffi::c_int = 0x4000;

/// One `send` that never waits: it writes what fits in the socket's send buffer now.
#[cfg(target_os = "linux")]
fn send_without_waiting(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    socket2::SockRef::from(stream).send_with_flags(bytes, MSG_DONTWAIT | MSG_NOSIGNAL)
}

/// Elsewhere nothing is written without waiting: everything goes through the writer thread.
#[cfg(not(target_os = "linux"))]
fn send_without_waiting(_stream: &TcpStream, _bytes: &[u8]) -> io::Result<usize> {
    Ok(0)
}

/// What the writer does after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    KeepWriting,
    /// Our Close went out: wait for the reader to see the peer's, then close TCP.
    AwaitPeerClose,
    /// Close TCP now.
    CloseTcp,
}

/// One round of the writer's work: everything that was waiting, in wire order.
#[derive(Default)]
struct Batch {
    control: Vec<u8>,
    data: Vec<Frame>,
    last: Vec<u8>,
}

/// What [`WriterSlot::write_now`] did with the caller's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteNow {
    /// All written.
    Written,
    /// The write failed and TCP is closed: the reader sees it and leaves.
    Failed,
    /// A writer runs or something is queued: the caller queues them behind it.
    Busy,
}

/// Everything a writer thread needs, shared by the writers a connection starts over its life.
pub(crate) struct WriterSlot {
    /// The socket, shared with the reader (one descriptor per connection).
    stream: Arc<TcpStream>,
    /// Where writer threads come from (a parked connection thread when there is one).
    pool: ThreadPool,
    /// The thread that starts them.
    spawner: Spawner,
    /// The connection's state machine, shared with the reader.
    conn: Arc<Mutex<Connection>>,
    /// The outbox's receiving side.
    outbox: OutboxReceiver,
    tap: Arc<Tap>,
    close_timeout: Duration,
    id: ClientId,
    /// Its endpoint's `/metrics` counters: bytes and whole messages written.
    counters: &'static EndpointCounters,
    /// Frame bytes written since the handshake (positions for the Inspector).
    written: AtomicU64,
    /// permessage-deflate, if negotiated: shared frames go out compressed (RFC 7692 §6.1).
    compressor: OnceLock<StatelessCompressor>,
}

impl WriterSlot {
    /// A slot for one connection. The reader holds it (a new outbox's slot is
    /// [`HeldBy(Reader)`](super::slot::SlotState::HeldBy)) until it has written the 101 and
    /// calls [`WriterSlot::release`].
    pub(crate) fn new(
        stream: Arc<TcpStream>,
        (pool, spawner): (ThreadPool, Spawner),
        conn: Arc<Mutex<Connection>>,
        outbox: OutboxReceiver,
        tap: Arc<Tap>,
        close_timeout: Duration,
        (id, counters): (ClientId, &'static EndpointCounters),
    ) -> Arc<Self> {
        Arc::new(Self {
            stream,
            pool,
            spawner,
            conn,
            outbox,
            tap,
            close_timeout,
            id,
            counters,
            written: AtomicU64::new(0),
            compressor: OnceLock::new(),
        })
    }

    /// From now on, shared frames are sent compressed with `compressor` (set once, before the
    /// 101 is released).
    pub(crate) fn compress_with(&self, compressor: StatelessCompressor) {
        let _ = self.compressor.set(compressor);
    }

    /// Writes bytes directly while the caller holds the slot (the reader's 101), waiting for
    /// room up to `--write-timeout`.
    pub(crate) fn write_held(&self, bytes: &[u8]) -> io::Result<()> {
        (&*self.stream).write_all(bytes)
    }

    /// The holder is done writing: anything queued meanwhile gets a writer.
    pub(crate) fn release(self: &Arc<Self>) {
        if self.outbox.room.slot(|slot, empty| slot.release(empty)) {
            self.start();
        }
    }

    /// Writes `parts` from the calling thread (the reader) when no writer runs and nothing is
    /// queued, so wire order holds; with `last`, TCP is closed afterwards. Says whether they
    /// were written, failed (TCP is then closed), or must be queued instead.
    ///
    /// This saves a thread wake-up per echo round trip, and a writer thread per short-lived
    /// connection (its Close reply goes out from the reader).
    pub(crate) fn write_now(self: &Arc<Self>, parts: &[&[u8]], last: bool) -> WriteNow {
        if !self.take(Holder::Reader) {
            return WriteNow::Busy;
        }
        match self.write_parts(parts.to_vec()) {
            Err(e) => {
                self.fail(&e);
                WriteNow::Failed
            }
            Ok(()) if last => {
                self.finish(false);
                WriteNow::Written
            }
            Ok(()) => {
                self.release();
                WriteNow::Written
            }
        }
    }

    /// Whether shared frames go to this connection as the hub encoded them (no
    /// permessage-deflate), so the fan-out may write them itself.
    pub(crate) fn sends_plain(&self) -> bool {
        self.compressor.get().is_none()
    }

    /// Whether an Inspector watches this connection: its frames are then written by its own
    /// writer thread, which explains them, never by the hub's direct write.
    pub(crate) fn is_tapped(&self) -> bool {
        self.tap.is_active()
    }

    /// Takes the slot for the fan-out if no writer runs and nothing is queued, so the caller
    /// may write now without breaking wire order; it gives it back with
    /// [`WriterSlot::release`].
    #[cfg(test)]
    pub(crate) fn take_idle(self: &Arc<Self>) -> bool {
        self.take(Holder::FanOut)
    }

    fn take(&self, holder: Holder) -> bool {
        self.outbox
            .room
            .slot(|slot, empty| slot.take(holder, empty))
    }

    /// With the slot held: writes as much of `bytes` as the socket takes now and never waits
    /// (`MSG_DONTWAIT`), so the hub can call it (its rule: nothing blocks it). Returns how many
    /// bytes went out; 0 when the socket's send buffer is full.
    ///
    /// # Errors
    ///
    /// The connection is broken (the caller ends it with [`WriterSlot::fail`]).
    pub(crate) fn write_without_waiting(&self, bytes: &[u8]) -> io::Result<usize> {
        let written = loop {
            match send_without_waiting(&self.stream, bytes) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        let sent = bytes.get(..written).unwrap_or_default();
        self.counters.sent_bytes(written);
        let offset = self.written.fetch_add(written as u64, Ordering::SeqCst);
        if written > 0 && self.tap.is_active() {
            self.tap.outgoing(&[sent], offset);
        }
        Ok(written)
    }

    /// A write with the slot held failed: resets TCP; the reader sees it and leaves.
    pub(crate) fn fail(&self, error: &io::Error) {
        debug!("peer {}: write failed: {error}", self.id);
        self.reset();
        self.finish(true);
    }

    /// Makes the socket's close an abortive one (`SO_LINGER` 0: `close(2)` sends an RST and
    /// frees the send queue), for a connection whose last bytes will never be delivered. The
    /// socket closes when the reader and the writer have let go of it.
    fn reset(&self) {
        if socket2::SockRef::from(&*self.stream)
            .set_linger(Some(Duration::ZERO))
            .is_ok()
        {
            metrics().connection_reset();
        }
    }

    /// The Close the hub asked for (a slow consumer, a shutdown) that never went out because a
    /// write failed first, typically a client that stopped reading: the writer was still stuck
    /// on the full socket when it came, and gave up after `--write-timeout`. The reader's
    /// record then tells what the server did (1008, "slow consumer: ...") rather than a bare
    /// 1006. Called once the connection is over; nothing is written after it.
    pub(crate) fn unsent_close(&self) -> Option<CloseFrame> {
        self.outbox.unsent_close().map(|(code, reason)| CloseFrame {
            code: Some(code),
            reason,
        })
    }

    /// A transition gave the slot to a new writer
    /// ([`Writing`](super::slot::SlotState::Writing)): the spawner thread starts it.
    pub(super) fn start(self: &Arc<Self>) {
        let slot = Arc::clone(self);
        if self
            .spawner
            .start_later(Box::new(move || slot.start_writer()))
            .is_err()
        {
            warn!("peer {}: no spawner thread; closing", self.id);
            self.reset();
            self.finish(false);
        }
    }

    /// On the spawner thread: starts the writer thread the slot was given to.
    fn start_writer(self: Arc<Self>) {
        let slot = Arc::clone(&self);
        if let Err(e) = self.pool.run(Box::new(move || slot.run())) {
            // Out of threads: this connection cannot be written to; end it, keep the others.
            warn!("peer {}: cannot start a writer: {e}", self.id);
            self.reset();
            self.finish(false);
        }
    }

    /// Closes TCP for good ([`Finished`](super::slot::SlotState::Finished), after a failed
    /// write if `write_failed`) and tells [`WriterSlot::wait_finished`] and a reader waiting
    /// for room in the outbox. The state is set first, so a reader that sees TCP closed also
    /// sees why ([`WriterSlot::unsent_close`]).
    fn finish(&self, write_failed: bool) {
        self.outbox.finish(write_failed);
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Waits until the writer has closed TCP (after the reader's last frames), at most
    /// `timeout`; then resets it (the writer is stuck on a peer that does not read).
    pub(crate) fn wait_finished(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let room = &self.outbox.room;
        let mut lanes = room.lanes();
        let mut finished = lanes.slot.is_finished();
        while !finished {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            lanes = wait_timeout(&room.finished, lanes, left);
            finished = lanes.slot.is_finished();
        }
        drop(lanes);
        if !finished {
            self.reset();
        }
        self.finish(false);
    }

    /// One writer thread: runs until the connection is over, or until it has lingered idle.
    fn run(self: Arc<Self>) {
        let mut next = Next::KeepWriting;
        let mut write_failed = false;
        while next == Next::KeepWriting {
            let mut batch = Batch::default();
            match self.outbox.try_next() {
                Some(Ok(control)) => next = self.take_control(control, &mut batch),
                Some(Err(frame)) => batch.data.push(frame),
                None => {
                    // Idle: give the slot back, unless work arrived as we looked.
                    if self.outbox.idle_if_empty() {
                        return;
                    }
                    continue;
                }
            }
            while next == Next::KeepWriting {
                let Some(control) = self.outbox.try_control() else {
                    break;
                };
                next = self.take_control(control, &mut batch);
            }
            // Before a Close, everything queued goes out (it was accepted); otherwise a batch.
            // Our Close is always the last thing written (§5.5.1: no data after it).
            let limit = if next == Next::KeepWriting {
                WRITE_BATCH_FRAMES
            } else {
                usize::MAX
            };
            let room = limit.saturating_sub(batch.data.len());
            self.outbox.take_data(room, &mut batch.data);
            let written = self.write(&batch);
            // Counted off only now: a batch stuck in a slow write still counts against
            // --max-backlog-bytes, so what a slow reader pins stays bounded.
            self.outbox.done_with(&batch.data);
            if let Err(e) = written {
                debug!("peer {}: write failed: {e}", self.id);
                write_failed = true;
                next = Next::CloseTcp;
            }
        }
        // The grace is over and the peer did not take our last bytes: reset.
        if write_failed || (next == Next::AwaitPeerClose && !self.await_peer_close()) {
            self.reset();
        }
        self.finish(write_failed);
    }

    /// Files one control instruction into the batch; says what comes after it.
    fn take_control(&self, control: Control, batch: &mut Batch) -> Next {
        match control {
            Control::Bytes(bytes) => {
                batch.control.extend_from_slice(&bytes);
                Next::KeepWriting
            }
            Control::Final(bytes) => {
                batch.last = bytes;
                Next::CloseTcp
            }
            Control::Finish => Next::CloseTcp,
            Control::Close {
                code,
                reason,
                discard_queued,
            } => {
                if discard_queued {
                    let mut dropped = std::mem::take(&mut batch.data);
                    dropped.extend(self.outbox.take_all_data());
                    // A frame already begun on the wire is finished: the Close must start a
                    // frame of its own (§5.2).
                    if dropped.first().is_some_and(Frame::is_tail) {
                        batch.data.push(dropped.remove(0));
                    }
                    self.outbox.done_with(&dropped);
                }
                let mut conn = lock(&self.conn);
                conn.send_close(code, &reason);
                batch.last = conn.take_output();
                if conn.state() == State::Closed {
                    Next::CloseTcp
                } else {
                    Next::AwaitPeerClose
                }
            }
        }
    }

    /// After our Close: wait until the reader has the peer's Close (it sends `Finish` or
    /// `Final`), or the close timeout passes (§7.1.1: then close TCP anyway). Returns whether
    /// the peer's Close came in time.
    fn await_peer_close(&self) -> bool {
        self.outbox.await_last(Instant::now() + self.close_timeout)
    }

    /// Writes the batch with as few system calls as possible: one vectored write when it fits.
    fn write(&self, batch: &Batch) -> io::Result<()> {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(3 + 2 * batch.data.len());
        // The rest of a frame the fan-out began goes out before anything else.
        let (tail, data) = match batch.data.split_first() {
            Some((first, rest)) if first.is_tail() => (first.parts(), rest),
            _ => ([&[][..], &[]], &batch.data[..]),
        };
        parts.extend(tail);
        parts.push(&batch.control);
        let compressor = self.compressor.get();
        for frame in data {
            parts.extend(frame.wire_parts(compressor));
        }
        parts.push(&batch.last);
        self.write_parts(parts)?;
        // Whole messages only: a tail finishes the message the fan-out began.
        self.counters
            .sent_messages(batch.data.iter().map(Frame::messages).sum());
        Ok(())
    }

    /// Its endpoint's `/metrics` counters.
    pub(crate) fn counters(&self) -> &'static EndpointCounters {
        self.counters
    }

    /// Writes whole frames, showing them to the Inspector first if someone watches.
    fn write_parts(&self, mut parts: Vec<&[u8]>) -> io::Result<()> {
        parts.retain(|part| !part.is_empty());
        let written: u64 = parts.iter().map(|part| part.len() as u64).sum();
        let offset = self.written.fetch_add(written, Ordering::SeqCst);
        if self.tap.is_active() {
            self.tap.outgoing(&parts, offset);
        }
        let mut slices: Vec<IoSlice<'_>> = parts.into_iter().map(IoSlice::new).collect();
        let mut remaining = &mut slices[..];
        let mut stream = &*self.stream;
        while !remaining.is_empty() {
            match stream.write_vectored(remaining) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut remaining, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.counters.sent_bytes(written as usize);
        stream.flush()
    }
}
