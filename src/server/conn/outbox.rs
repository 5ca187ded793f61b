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
pub(crate) enum SendError {
    /// The data lane is full: the client is not keeping up.
    Full(Overflow),
    /// The writer is gone: the connection is closing.
    Gone,
}

/// Which limit a full data lane would have gone over, and by how much: the slow consumer's
/// close reason ("4194400 bytes queued, limit 4194304").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow {
    /// What was counted: `"messages"` (`--max-backlog`) or `"bytes"` (`--max-backlog-bytes`).
    pub(crate) unit: &'static str,
    /// How many would be queued with the refused frame.
    pub(crate) queued: usize,
    /// The limit.
    pub(crate) limit: usize,
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
pub(crate) struct Outbox {
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
pub(crate) fn outbox(
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
    pub(crate) fn try_send(&self, frame: Frame) -> Result<(), SendError> {
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
            // A watched connection's frames are explained as they are written: that work is
            // its writer thread's, never the hub's.
            let idle = self.backlog() == 0 && self.writer.sends_plain() && !self.writer.is_tapped();
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
    pub(crate) fn send(&self, frame: Frame) -> Result<(), SendError> {
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
    pub(crate) fn control(&self, control: Control) {
        // Fed only by the reader (whose control frames are rate-limited) and by at most one
        // Close from the hub. After TCP is closed it is kept for `WriterSlot::unsent_close`,
        // and no writer starts for it.
        if self.room.push_control(control) {
            self.writer.start();
        }
    }

    /// The connection's writer slot.
    pub(crate) fn writer(&self) -> &Arc<WriterSlot> {
        &self.writer
    }

    /// How many messages wait in the data lane (or are being written).
    pub(crate) fn backlog(&self) -> usize {
        self.room.queued.messages.load(Ordering::SeqCst)
    }

    /// How many bytes wait in the data lane (or are being written).
    pub(crate) fn backlog_bytes(&self) -> usize {
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
    use std::io::Read;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::Mutex;
    use std::time::Instant;

    use super::super::slot::SlotState;
    use super::super::tap::{Tap, TapInfo};
    use super::super::writer::WriteNow;
    use crate::app::Endpoint;
    use crate::protocol::{CloseCode, Connection, Limits};
    use crate::server::capacity::ThreadBudget;
    use crate::server::metrics;
    use crate::server::pool::ThreadPool;
    use crate::server::spawner::Spawner;

    const RESPONSE_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
    /// §5.7: a single-frame unmasked text message, "Hello".
    const HELLO: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// Larger than what loopback's send and receive buffers hold together, so a writer
    /// stays stuck on it until the client reads.
    const MORE_THAN_THE_BUFFERS: usize = 32 << 20;
    /// How long a test waits for bytes before it fails instead of hanging.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A connection's outbox and writer over a loopback socket, as `peer::serve` builds them
    /// (the reader holds the slot), and the client's end of the socket.
    fn connection(close_timeout: Duration) -> (Outbox, TcpStream, Arc<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        client.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let (server, _) = listener.accept().expect("accept");
        server.set_write_timeout(Some(PATIENCE)).expect("timeout");
        let pool = ThreadPool::new(ThreadBudget::new(4), "test-writer", 256 << 10, PATIENCE);
        let spawner = Spawner::start().expect("spawner");
        let tap = Tap::new(TapInfo {
            conn: 1,
            endpoint: "echo",
            peer: None,
            token: None,
            handshake: None,
            deflate: None,
        });
        let conn = Arc::new(Mutex::new(Connection::server(Limits::default())));
        let counters = metrics::endpoint(&Endpoint::Echo);
        let server = Arc::new(server);
        let outbox = outbox(1 << 20, 1 << 30, |receiver| {
            WriterSlot::new(
                Arc::clone(&server),
                (pool, spawner),
                conn,
                receiver,
                tap,
                close_timeout,
                (1, counters),
            )
        });
        (outbox, client, server)
    }

    fn slot(outbox: &Outbox) -> SlotState {
        outbox.room.lanes().slot
    }

    fn shared(bytes: &[u8]) -> Frame {
        Frame::Shared(bytes.to_vec().into())
    }

    fn read_exactly(client: &mut TcpStream, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        client.read_exact(&mut bytes).expect("the bytes in time");
        bytes
    }

    /// Reads until the server closes TCP.
    fn read_to_close(client: &mut TcpStream) -> Vec<u8> {
        let mut bytes = Vec::new();
        client.read_to_end(&mut bytes).expect("TCP closed in time");
        bytes
    }

    #[test]
    fn nothing_the_hub_queues_goes_out_before_the_101() {
        let (outbox, mut client, _) = connection(PATIENCE);
        assert_eq!(slot(&outbox), SlotState::HeldBy(Holder::Reader));
        outbox.try_send(shared(HELLO)).expect("queued");
        assert_eq!(outbox.backlog(), 1, "queued, not written");
        let writer = outbox.writer();
        writer.write_held(RESPONSE_101).expect("101");
        writer.release();
        let received = read_exactly(&mut client, RESPONSE_101.len() + HELLO.len());
        assert_eq!(received, [RESPONSE_101, HELLO].concat());
    }

    #[test]
    fn a_reply_while_the_writer_runs_is_queued_and_goes_out_after_what_it_writes() {
        let (outbox, mut client, _) = connection(PATIENCE);
        let writer = outbox.writer();
        writer.write_held(RESPONSE_101).expect("101");
        writer.release();
        assert_eq!(slot(&outbox), SlotState::Idle);
        // The fan-out writes what the socket takes; a writer gets the rest, and stays stuck
        // on it while the client does not read.
        let big: Vec<u8> = (0..MORE_THAN_THE_BUFFERS).map(|i| i as u8).collect();
        outbox.try_send(shared(&big)).expect("sent");
        assert_eq!(slot(&outbox), SlotState::Writing);
        let pong = [0x8a, 0x00];
        assert_eq!(writer.write_now(&[&pong], false), WriteNow::Busy);
        outbox.control(Control::Bytes(pong.to_vec()));
        let received = read_exactly(&mut client, RESPONSE_101.len() + big.len() + pong.len());
        assert_eq!(received, [RESPONSE_101, &big, &pong].concat());
    }

    #[test]
    fn frames_sent_while_the_writer_comes_and_goes_all_go_out_in_order() {
        const FRAMES: u16 = 5_000;
        let (outbox, mut client, _) = connection(PATIENCE);
        let writer = outbox.writer();
        writer.write_held(RESPONSE_101).expect("101");
        writer.release();
        let hub = {
            let outbox = outbox.clone();
            std::thread::spawn(move || {
                for n in 0..FRAMES {
                    let [high, low] = n.to_be_bytes();
                    outbox
                        .try_send(shared(&[0x82, 0x02, high, low]))
                        .expect("sent");
                }
            })
        };
        let received = read_exactly(&mut client, RESPONSE_101.len() + 4 * usize::from(FRAMES));
        hub.join().expect("hub");
        let expected: Vec<u8> = (0..FRAMES)
            .flat_map(|n| {
                let [high, low] = n.to_be_bytes();
                [0x82, 0x02, high, low]
            })
            .collect();
        assert_eq!(received, [RESPONSE_101, &expected].concat());
    }

    fn start_closing(outbox: &Outbox, client: &mut TcpStream) {
        let writer = outbox.writer();
        writer.write_held(RESPONSE_101).expect("101");
        writer.release();
        read_exactly(client, RESPONSE_101.len());
        outbox.control(Control::Close {
            code: CloseCode::GOING_AWAY,
            reason: "bye".into(),
            discard_queued: false,
        });
        // §5.5.1: 1001 and "bye", unmasked from the server.
        let close = [0x88, 0x05, 0x03, 0xe9, b'b', b'y', b'e'];
        assert_eq!(read_exactly(client, close.len()), close);
    }

    #[test]
    fn after_our_close_the_writer_closes_tcp_once_the_reader_has_the_peers() {
        let (outbox, mut client, _) = connection(PATIENCE);
        let started = Instant::now();
        start_closing(&outbox, &mut client);
        // The reader saw the peer's Close and has nothing more to send.
        outbox.control(Control::Finish);
        assert_eq!(read_to_close(&mut client), b"");
        outbox.writer().wait_finished(PATIENCE);
        assert!(started.elapsed() < PATIENCE / 2, "not the deadline");
        let finished = SlotState::Finished {
            write_failed: false,
        };
        assert_eq!(slot(&outbox), finished);
        assert_eq!(outbox.try_send(shared(HELLO)), Err(SendError::Gone));
    }

    #[test]
    fn after_our_close_the_writer_closes_tcp_at_the_deadline_if_the_peer_never_answers() {
        let close_timeout = Duration::from_millis(100);
        let (outbox, mut client, _) = connection(close_timeout);
        let started = Instant::now();
        start_closing(&outbox, &mut client);
        assert_eq!(read_to_close(&mut client), b"");
        let waited = started.elapsed();
        assert!(waited >= close_timeout, "{waited:?}");
        assert!(waited < PATIENCE / 2, "{waited:?}");
    }

    #[test]
    fn a_failed_write_finishes_the_slot_and_nothing_is_written_after_it() {
        let (outbox, mut client, _) = connection(PATIENCE);
        let writer = outbox.writer();
        writer.write_held(RESPONSE_101).expect("101");
        writer.release();
        read_exactly(&mut client, RESPONSE_101.len());
        // A writer stuck on a client that stopped reading, which then goes away with bytes
        // unread: the kernel resets the connection and the write fails.
        outbox
            .try_send(shared(&vec![0; MORE_THAN_THE_BUFFERS]))
            .expect("sent");
        drop(client);
        writer.wait_finished(PATIENCE);
        assert_eq!(slot(&outbox), SlotState::Finished { write_failed: true });
        assert_eq!(writer.write_now(&[HELLO], false), WriteNow::Busy);
        assert_eq!(outbox.try_send(shared(HELLO)), Err(SendError::Gone));
    }

    #[test]
    fn the_close_a_failed_write_kept_from_going_out_is_told_to_the_reader() {
        let (outbox, mut client, server) = connection(PATIENCE);
        let writer = outbox.writer();
        writer.write_held(RESPONSE_101).expect("101");
        writer.release();
        read_exactly(&mut client, RESPONSE_101.len());
        // The fan-out holds the slot when the hub asks for a Close: it is queued.
        assert!(writer.take_idle());
        outbox.control(Control::Close {
            code: CloseCode::POLICY_VIOLATION,
            reason: "slow consumer".into(),
            discard_queued: true,
        });
        assert!(writer.unsent_close().is_none(), "no write failed yet");
        // The fan-out's write fails (a socket that cannot be written any more).
        server.shutdown(Shutdown::Write).expect("shutdown");
        let failed = writer.write_without_waiting(HELLO).expect_err("broken");
        writer.fail(&failed);
        assert_eq!(slot(&outbox), SlotState::Finished { write_failed: true });
        let unsent = writer
            .unsent_close()
            .expect("the Close that never went out");
        assert_eq!(unsent.code, Some(CloseCode::POLICY_VIOLATION));
        assert_eq!(unsent.reason, "slow consumer");
    }

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
