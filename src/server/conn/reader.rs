//! A connection's reader: the loop that reads the socket, feeds the protocol state machine
//! ([`Connection::receive_data`]) and acts on what it says, and keeps the connection alive
//! with Pings while the client is quiet. What the events lead to is in
//! [`events`](super::events) (a message to its session, a policy close) and
//! [`replies`](super::replies) (what this thread writes back).
//!
//! A large payload (64 KiB or more still to come) is read straight into its message
//! ([`Connection::take_message_buffer`]), a MiB at a time, and unmasked there while it is
//! still in the CPU's cache: the kernel's copy is the only one, where a read buffer would add
//! a second (profiled on echo-large: that copy was 30% of the reader's CPU).

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use log::{error, info};

use super::lanes::{Control, Frame};
use super::outbox::Outbox;
use super::tap::Tap;
use super::writer::{WriteNow, WriterSlot};
use crate::app::rate::WindowCounter;
use crate::app::{ClientId, Session};
use crate::protocol::connection::State;
use crate::protocol::deflate::StatelessCompressor;
use crate::protocol::{CloseCode, CloseFrame, Connection, Event};
use crate::server::close_record::CloseRecord;
use crate::server::hub::Command;
use crate::server::metrics::{metrics, EndpointCounters};
use crate::server::shared::Shared;
use crate::sync::lock;

/// What a quiet connection reads into: a small array on the reader's stack, so a connection
/// waiting for its client holds no read buffer at all.
const QUIET_READ: usize = 512;
/// The read buffer's starting size, allocated when a read fills [`QUIET_READ`].
const READ_BUFFER_MIN: usize = 4 * 1024;
/// The read buffer's largest size, reached only while large messages stream in.
const READ_BUFFER_MAX: usize = 256 * 1024;
/// A payload with at least this many bytes still to come is read straight into its message
/// ([`Reader::read_payload`]) instead of through the read buffer.
const PAYLOAD_READ_MIN: u64 = 64 * 1024;
/// The most payload bytes one [`Reader::read_payload`] waits for: they are unmasked (and
/// checked as UTF-8) as soon as they are in, while they are still in the CPU's cache.
const PAYLOAD_READ_MAX: u64 = 1024 * 1024;

/// The reader panicked: Close 1011. Nobody is left to read the client's reply, so this is like
/// failing the connection (§7.1.7): send the Close, then close TCP.
#[cold]
#[inline(never)]
fn panicked(id: ClientId, conn: &Mutex<Connection>, outbox: &Outbox) -> CloseRecord {
    error!("peer {id}: reader panicked; closing with 1011");
    let reason = "internal error";
    let last = {
        let mut conn = lock(conn);
        conn.send_close(CloseCode::INTERNAL_ERROR, reason);
        conn.take_output()
    };
    outbox.control(Control::Final(last));
    let sent = CloseFrame {
        code: Some(CloseCode::INTERNAL_ERROR),
        reason: reason.into(),
    };
    CloseRecord::server_close_unanswered(&sent, "the connection's thread panicked")
}

/// The reading half of a connection.
pub(super) struct Reader<'a> {
    pub(super) id: ClientId,
    /// Its endpoint's app on this thread: reads each whole message first.
    pub(super) session: Box<dyn Session>,
    pub(super) conn: Arc<Mutex<Connection>>,
    pub(super) outbox: Outbox,
    pub(super) tap: Arc<Tap>,
    pub(super) shared: &'a Arc<Shared>,
    pub(super) awaiting_pong: bool,
    /// `--max-control-rate`.
    pub(super) control_rate: WindowCounter,
    /// A policy close (rate limit, control flood) is queued: it is queued and logged once, and
    /// what the peer sends until its Close is dropped.
    pub(super) closing_for_policy: bool,
    /// The connection's writer slot, for replies written straight from this thread.
    pub(super) writer: Arc<WriterSlot>,
    /// The session's replies produced by the read being handled.
    pub(super) replies: Vec<Frame>,
    /// permessage-deflate for what this thread sends (the session's replies), if negotiated.
    pub(super) compressor: Option<StatelessCompressor>,
    /// Its endpoint's `/metrics` counters.
    pub(super) counters: &'static EndpointCounters,
    /// Payload bytes of the data frame being received still to come
    /// ([`Connection::payload_expected`]).
    pub(super) payload_expected: u64,
}

impl Reader<'_> {
    /// The connection is over: its last frames go out, then its record to the log, the
    /// Inspector and the hub.
    /// `ran` is the reader's record, or `Err` if the reader panicked.
    #[inline(never)]
    pub(super) fn end(&self, ran: std::thread::Result<CloseRecord>) {
        let id = self.id;
        let record = ran.unwrap_or_else(|_| panicked(id, &self.conn, &self.outbox));
        info!("peer {id}: {record}");
        metrics().closed(record.by, record.code);
        // The writer's last frames (a Close reply) go out, and to the Inspector, before the
        // record.
        let config = &self.shared.config;
        self.writer
            .wait_finished(config.close_timeout + config.write_timeout);
        if self.tap.is_active() {
            self.tap.closed(&record);
        }
        self.shared.hub_send(Command::Leave {
            id,
            reason: record.to_string(),
        });
    }

    /// Reads until the connection ends. Not inlined: its frame is what an idle connection
    /// keeps on the stack, so it holds only the quiet array and what the loop needs.
    #[inline(never)]
    pub(super) fn run(&mut self, mut stream: &TcpStream, leftover: Vec<u8>) -> CloseRecord {
        if let Some(record) = self.start(stream, leftover) {
            return *record;
        }
        // Empty while the connection is quiet: reads go to `quiet`, and only a read that fills
        // it (bytes are streaming in) brings the heap buffer back.
        let mut buf: Vec<u8> = Vec::new();
        let mut quiet = [0u8; QUIET_READ];
        // The last read ended a large payload: the next one is for the header that follows,
        // and goes to `quiet`, so that the payload after it is read straight into its message.
        let mut after_payload = false;
        loop {
            let direct = self.payload_expected >= PAYLOAD_READ_MIN && !self.tap.is_active();
            let read = if direct {
                self.read_payload(stream)
            } else {
                let into_quiet = buf.is_empty() || after_payload;
                let target: &mut [u8] = if into_quiet { &mut quiet } else { &mut buf };
                stream.read(target).map(|n| {
                    // `Read::read` returns at most the buffer's length.
                    let read = target
                        .get(..n)
                        .expect("bug: read more than the buffer holds");
                    (n, self.receive(read))
                })
            };
            match read {
                Ok((0, _)) => return self.read_failed(None),
                Ok((_, Some(record))) => return record,
                Ok((n, None)) => {
                    self.awaiting_pong = false;
                    if !direct && (buf.is_empty() || !after_payload) {
                        resize_read_buffer(&mut buf, n);
                    }
                    after_payload = direct;
                }
                Err(e) if is_timeout(&e) => {
                    if let Some(record) = self.keepalive() {
                        return *record;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.read_failed(Some(e)),
            }
        }
    }

    /// The record when the socket closed (`None`) or a read failed. Out of [`Reader::run`]'s
    /// frame, as are the records that [`Reader::start`] and [`Reader::keepalive`] box: that
    /// frame is what an idle connection keeps on the stack.
    #[cold]
    #[inline(never)]
    fn read_failed(&self, error: Option<io::Error>) -> CloseRecord {
        let record = match error {
            None => self.vanished("TCP closed before a close frame"),
            Some(e) => self.vanished(&format!("read failed: {e}")),
        };
        self.ended(record)
    }

    /// What the reader does once, before its loop: the read timeout (the ping interval), and
    /// the bytes that came with the request head. Returns the record if the connection is over.
    #[inline(never)]
    fn start(&mut self, stream: &TcpStream, leftover: Vec<u8>) -> Option<Box<CloseRecord>> {
        let ping_interval = self.shared.config.ping_interval;
        let timeout = (!ping_interval.is_zero()).then_some(ping_interval);
        if let Err(e) = stream.set_read_timeout(timeout) {
            return Some(Box::new(self.ended(CloseRecord::abnormal(format!(
                "cannot set a read timeout: {e}"
            )))));
        }
        lock(&self.conn).observe_frames(log::log_enabled!(log::Level::Trace));
        self.receive(&leftover).map(Box::new)
    }

    /// The connection ended without the peer's Close: tell the writer to close TCP.
    #[inline(never)]
    fn ended(&self, record: CloseRecord) -> CloseRecord {
        if self.writer.write_now(&[], true) == WriteNow::Busy {
            self.outbox.control(Control::Finish);
        }
        record
    }

    /// The record for a connection that ended without the peer's Close frame: ours, if we had
    /// sent one (the peer never answered) or meant to and a failed write stopped it (a slow
    /// consumer that never read again), else a 1006.
    #[cold]
    #[inline(never)]
    fn vanished(&self, what: &str) -> CloseRecord {
        if let Some(sent) = lock(&self.conn).sent_close() {
            let answer = format!("the client never answered ({what})");
            return CloseRecord::server_close_unanswered(sent, &answer);
        }
        match self.writer.unsent_close() {
            Some(meant) => CloseRecord::server_close_unanswered(
                &meant,
                &format!("its Close could not be written: the client stopped reading ({what})"),
            ),
            None => CloseRecord::abnormal(what),
        }
    }

    /// Runs `bytes` through the state machine and acts on what happened. Returns the record
    /// once the connection is over. Not inlined: its callees go no deeper into the stack than
    /// they must (see [`serve`]).
    #[inline(never)]
    fn receive(&mut self, bytes: &[u8]) -> Option<CloseRecord> {
        if bytes.is_empty() {
            return None;
        }
        self.counters.received_bytes(bytes.len());
        // Collect under the lock, act after it: acting may block on a full outbox.
        let (received, progress) = {
            let mut conn = lock(&self.conn);
            // The one check the Inspector costs when nobody watches.
            let progress = self
                .tap
                .is_active()
                .then(|| (conn.frame_progress(), conn.bytes_received()));
            conn.receive_data(bytes);
            (Received::take(&mut conn), progress)
        };
        if let Some((progress, offset)) = progress {
            self.tap.incoming(bytes, progress, offset);
        }
        self.act(received)
    }

    /// Reads the rest of a large payload straight into the message being received (no copy
    /// from a read buffer), [`PAYLOAD_READ_MAX`] bytes at a time (all of it when less than
    /// [`PAYLOAD_READ_MIN`] more would be left): one `read_to_end` that returns once they are
    /// all in, at the end of the stream, or on an error (the read timeout), with what came
    /// before it kept. The state machine is not locked while the read waits. Returns how many
    /// bytes came, and the record once the connection is over. Not inlined: an idle
    /// connection's stack holds [`Reader::run`]'s frame, not this one's.
    #[inline(never)]
    fn read_payload(&mut self, stream: &TcpStream) -> io::Result<(usize, Option<CloseRecord>)> {
        let expected = self.payload_expected;
        let limit = if expected < PAYLOAD_READ_MAX + PAYLOAD_READ_MIN {
            expected
        } else {
            PAYLOAD_READ_MAX
        };
        let mut buffer = lock(&self.conn).take_message_buffer();
        let start = buffer.len();
        let result = stream.take(limit).read_to_end(&mut buffer);
        let n = buffer.len() - start;
        let record = self.receive_payload(buffer, start);
        match result {
            Err(e) if n == 0 || !is_timeout(&e) => match record {
                Some(record) => Ok((n, Some(record))),
                None => Err(e),
            },
            _ => Ok((n, record)),
        }
    }

    /// [`Reader::receive`] for payload bytes appended to the message buffer after `start`.
    fn receive_payload(&mut self, buffer: Vec<u8>, start: usize) -> Option<CloseRecord> {
        let appended = buffer.len().saturating_sub(start);
        if appended > 0 {
            self.counters.received_bytes(appended);
        }
        let (received, tapped) = {
            let mut conn = lock(&self.conn);
            // A watch that began during the read sees the bytes as they came, masked.
            let tapped = self.tap.is_active().then(|| {
                // `start` is the buffer's length before the read appended to it.
                let bytes = buffer
                    .get(start..)
                    .expect("bug: the buffer shrank")
                    .to_vec();
                (bytes, conn.frame_progress(), conn.bytes_received())
            });
            conn.receive_payload(buffer);
            (Received::take(&mut conn), tapped)
        };
        if let Some((bytes, progress, offset)) = tapped {
            self.tap.incoming(&bytes, progress, offset);
        }
        self.act(received)
    }

    /// Acts on what one read made happen. Returns the record once the connection is over.
    fn act(&mut self, received: Received) -> Option<CloseRecord> {
        let Received {
            events,
            output,
            state,
            sent_close,
            payload_expected,
        } = received;
        self.payload_expected = payload_expected;
        let open = state != State::Closed;
        let record = self.handle_all(events, sent_close.as_ref());
        // Pongs first: control frames have priority over the data these events produce. The
        // last bytes (a Close reply) go after every reply the events produced.
        let (pongs, last) = if open {
            (output, Vec::new())
        } else {
            (Vec::new(), output)
        };
        self.send_replies(pongs, last, !open);
        (!open).then(|| record.map_or_else(|| CloseRecord::abnormal("closed"), |record| *record))
    }

    /// Handles the events of one read in order; returns the record of the last one that ended
    /// the connection. Not inlined: its frame is gone when the replies are written. (Records
    /// are boxed on the way: these frames are on the reader's stack, and a record is rare.)
    #[inline(never)]
    fn handle_all(
        &mut self,
        events: Vec<Event>,
        sent_close: Option<&CloseFrame>,
    ) -> Option<Box<CloseRecord>> {
        let mut record = None;
        for event in events {
            if let Some(ended) = self.handle(event, sent_close) {
                record = Some(ended);
            }
        }
        record
    }

    /// The read timed out: the client has been silent for a ping interval.
    #[inline(never)]
    fn keepalive(&mut self) -> Option<Box<CloseRecord>> {
        if self.awaiting_pong {
            let interval = self.shared.config.ping_interval;
            return Some(Box::new(self.ended(CloseRecord::abnormal(format!(
                "ping timeout: no answer within {interval:?} of a ping"
            )))));
        }
        let output = {
            let mut conn = lock(&self.conn);
            conn.send_ping(b"wsmith keepalive");
            conn.take_output()
        };
        if !output.is_empty() {
            self.awaiting_pong = true;
            self.outbox.control(Control::Bytes(output));
        }
        None
    }
}

/// What one read made happen, collected under the state machine's lock.
struct Received {
    events: Vec<Event>,
    output: Vec<u8>,
    state: State,
    sent_close: Option<CloseFrame>,
    /// [`Connection::payload_expected`] after the read.
    payload_expected: u64,
}

impl Received {
    fn take(conn: &mut Connection) -> Self {
        Self {
            events: std::iter::from_fn(|| conn.next_event()).collect(),
            output: conn.take_output(),
            state: conn.state(),
            sent_close: conn.sent_close().cloned(),
            payload_expected: conn.payload_expected(),
        }
    }
}

/// Whether a read failed only because the read timeout passed.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sizes the read buffer after a read of `last_read` bytes: a read that filled it (a large
/// message is streaming in) doubles it, up to [`READ_BUFFER_MAX`]; a read that filled the quiet
/// array starts it at [`READ_BUFFER_MIN`]; smaller reads shrink it back to that, and a read that
/// would have fit the quiet array gives it back, so a connection that goes quiet holds none.
fn resize_read_buffer(buf: &mut Vec<u8>, last_read: usize) {
    if buf.is_empty() {
        if last_read == QUIET_READ {
            *buf = vec![0u8; READ_BUFFER_MIN];
        }
    } else if last_read < QUIET_READ {
        *buf = Vec::new();
    } else if last_read == buf.len() && buf.len() < READ_BUFFER_MAX {
        buf.resize(buf.len() * 2, 0);
    } else if last_read < READ_BUFFER_MIN && buf.len() > READ_BUFFER_MIN {
        *buf = vec![0u8; READ_BUFFER_MIN];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read buffer after each of `reads` (bytes per read), as [`Reader::run`] sizes it.
    fn after(reads: &[usize]) -> Vec<usize> {
        let mut buf: Vec<u8> = Vec::new();
        reads
            .iter()
            .map(|&n| {
                resize_read_buffer(&mut buf, n);
                buf.capacity()
            })
            .collect()
    }

    #[test]
    fn a_quiet_connection_holds_no_read_buffer() {
        // Small reads go to the quiet array: no heap buffer at all.
        assert_eq!(after(&[1, 32, QUIET_READ - 1]), [0, 0, 0]);
        // A read that fills the quiet array starts the buffer at its smallest size...
        assert_eq!(after(&[QUIET_READ]), [READ_BUFFER_MIN]);
        // ...and the first read that would have fit the quiet array gives it all back.
        assert_eq!(after(&[QUIET_READ, 100]), [READ_BUFFER_MIN, 0]);
    }

    #[test]
    fn a_streaming_connection_grows_its_buffer_to_the_bound_and_gives_it_back() {
        let mut reads = vec![QUIET_READ];
        let mut size = READ_BUFFER_MIN;
        while size < READ_BUFFER_MAX {
            reads.push(size); // each read fills the buffer: it doubles
            size *= 2;
        }
        reads.push(READ_BUFFER_MAX); // full at the bound: it stays there
        reads.push(READ_BUFFER_MIN - 1); // a short read: back to the smallest size
        reads.push(10); // quiet again: nothing kept
        let sizes = after(&reads);
        assert_eq!(sizes.iter().max(), Some(&READ_BUFFER_MAX));
        assert_eq!(
            sizes.get(sizes.len() - 3..),
            Some(&[READ_BUFFER_MAX, READ_BUFFER_MIN, 0][..])
        );
    }

    #[test]
    fn what_an_idle_connection_keeps_stays_small() {
        // The state machine is shared by the reader and the writer (Arc<Mutex<_>>), one per
        // connection: its permessage-deflate state is boxed, and it stays under 400 bytes.
        assert!(std::mem::size_of::<Connection>() < 400);
        // The reader's frame holds one Reader for the connection's life (see `serve`).
        assert!(std::mem::size_of::<Reader<'static>>() < 320);
    }
}
