//! One upgraded connection: a reader thread that runs the protocol state machine, and a
//! [writer](super::writer) thread that drains the connection's [`outbox`](super::outbox).
//!
//! ```text
//!  socket ──read──▶ reader ──▶ protocol::Connection ──events──▶ echo reply / hub command
//!                      │                 │
//!                      │           Pong, Close reply
//!                      ▼                 ▼
//!  socket ◀─write── writer ◀── outbox: control lane (first) + data lane (bounded)
//! ```
//!
//! The reader owns the receiving half of the protocol; the writer starts the close handshake
//! when the hub asks (slow consumer, shutdown). Both reach the one [`Connection`] through a
//! mutex held only while bytes are processed, never across a blocking call. When the
//! connection ends, the reader writes its [`CloseRecord`]: to the log, to the Inspector, and to
//! the hub.
//!
//! A large payload (64 KiB or more still to come) is read straight into its message
//! ([`Connection::take_message_buffer`]), a MiB at a time, and unmasked there while it is
//! still in the CPU's cache: the kernel's copy is the only one, where a read buffer would add
//! a second (profiled on echo-large: that copy was 30% of the reader's CPU).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, error, info, trace, warn};

use super::lanes::{Control, Frame};
use super::lock::lock;
use super::outbox::{outbox, Outbox};
use super::tap::Tap;
use super::writer::{WriteNow, WriterSlot};
use crate::app::chat::ChatError;
use crate::app::lab::LabSession;
use crate::app::{echo, ClientId, Endpoint, Input};
use crate::protocol::connection::State;
use crate::protocol::deflate::{Params, StatelessCompressor};
use crate::protocol::{
    CloseCode, CloseFrame, Connection, Event, FrameHeader, Limits, Message, Opcode,
};
use crate::server::close_record::CloseRecord;
use crate::server::deflaters::with_deflater;
use crate::server::hub::Command;
use crate::server::metrics::{self, metrics, EndpointCounters, RateLimit};
use crate::server::rate::{TokenBucket, WindowCounter};
use crate::server::refusal::Refusal;
use crate::server::Shared;

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

/// Runs an upgraded connection until it ends.
///
/// `response_101` is the handshake's answer: it is the writer's first output, queued before the
/// client is registered with the hub, so nothing the hub sends can precede it and nothing sent
/// after the client sees it can miss the client. `leftover` are bytes read past the request head.
///
/// The reader then waits on this frame for as long as the client is quiet: what is set up once
/// ([`open`]), what a read sets off ([`Reader::receive`]) and how the connection ends
/// ([`Reader::end`]) run in frames of their own, so that the stack an idle connection keeps
/// touched stays within two pages (the thread's TLS, and one page of frames).
pub fn serve(
    stream: TcpStream,
    response_101: Vec<u8>,
    leftover: Vec<u8>,
    endpoint: Endpoint,
    tap: Arc<Tap>,
    deflate: Option<Params>,
    shared: &Arc<Shared>,
) {
    // Bound by reference, so that the reader is not copied out of what `open` returned: this
    // frame holds one Reader.
    let mut opened = open(stream, response_101, endpoint, tap, deflate, shared);
    let Some((reader, stream)) = opened.as_mut() else {
        return;
    };
    // A bug in this connection's thread ends this connection only: Close 1011, and the hub
    // still hears that it left.
    let ran = catch_unwind(AssertUnwindSafe(|| reader.run(stream, leftover)));
    reader.end(ran);
}

/// Sets up an upgraded connection: its state machine, outbox and writer slot; registers it with
/// the hub and writes the 101 (then dropped: an idle connection does not keep it). `None` when
/// the connection is over already.
#[inline(never)]
fn open<'a>(
    stream: TcpStream,
    response_101: Vec<u8>,
    endpoint: Endpoint,
    tap: Arc<Tap>,
    deflate: Option<Params>,
    shared: &'a Arc<Shared>,
) -> Option<(Reader<'a>, Arc<TcpStream>)> {
    let id = tap.info.conn;
    let config = &shared.config;
    let counters = metrics::endpoint(&endpoint);
    // §10.4: each endpoint's own message-size limit, checked from the frame header (and, with
    // permessage-deflate, against the inflated bytes).
    let limits = config.limits_for(&endpoint);
    // permessage-deflate (RFC 7692): the connection inflates what the client sends; what we
    // send is compressed without per-connection state (server_no_context_takeover), by the
    // reader for echo replies and by the writer for the hub's shared frames.
    let conn = new_connection(limits, deflate, config.deflate_threshold);
    let compressor = deflate
        .and_then(|params| StatelessCompressor::for_server(&params, config.deflate_threshold));
    // A peer that stops reading stalls our writes; after --write-timeout the writer gives up,
    // which also ends the reader (the socket is shut down).
    if let Err(e) = stream.set_write_timeout(Some(config.write_timeout)) {
        warn!("peer {id}: cannot set a write timeout: {e}");
        let _ = (&stream).write_all(&Refusal::SocketSetupFailed.response());
        return None;
    }
    // The reader and the writer share the one socket: `&TcpStream` reads and writes.
    let stream = Arc::new(stream);
    let outbox = outbox(config.max_backlog, config.max_backlog_bytes, |receiver| {
        let (conn, tap) = (Arc::clone(&conn), Arc::clone(&tap));
        WriterSlot::new(
            Arc::clone(&stream),
            (shared.pool.clone(), shared.spawner.clone()),
            conn,
            receiver,
            tap,
            config.close_timeout,
            (id, counters),
        )
    });
    let writer = Arc::clone(outbox.writer());
    if let Some(compressor) = compressor {
        writer.compress_with(compressor);
    }
    // Registered before the 101 goes out, so nothing sent after the client sees the 101 can
    // miss it; and this thread holds the writer slot until the 101 is written, so nothing the
    // hub queues meanwhile can go out before it.
    let join = Command::Join {
        endpoint: endpoint.clone(),
        outbox: outbox.clone(),
        tap: Arc::clone(&tap),
    };
    shared.hub_send(join);
    let handshake_sent = writer.write_held(&response_101);
    writer.release();
    if let Err(e) = handshake_sent {
        debug!("peer {id}: the 101 could not be written: {e}");
        shared.hub_send(Command::Leave {
            id,
            reason: "gone before the 101".into(),
        });
        writer.wait_finished(Duration::ZERO);
        return None;
    }
    let now = Instant::now();
    // Only `/lab` has a lab session: other connections do not carry one.
    let lab = (endpoint == Endpoint::Lab)
        .then(|| Box::new(LabSession::new(config.lab, config.limits, now)));
    let reader = Reader {
        id,
        endpoint,
        conn,
        outbox,
        tap,
        shared,
        awaiting_pong: false,
        chat_rate: TokenBucket::new(config.rate_limit, now),
        rate_strikes: 0,
        control_rate: WindowCounter::new(config.max_control_rate, now),
        closing_for_policy: false,
        writer,
        echo_replies: Vec::new(),
        lab,
        compressor,
        counters,
        payload_expected: 0,
    };
    Some((reader, stream))
}

/// The connection's state machine, built in a frame of its own: it is large, and the reader's
/// stack, which an idle connection keeps touched, should not hold its copies.
#[inline(never)]
fn new_connection(
    limits: Limits,
    deflate: Option<Params>,
    threshold: usize,
) -> Arc<Mutex<Connection>> {
    Arc::new(Mutex::new(match deflate {
        Some(params) => Connection::server(limits).with_deflate(params, threshold),
        None => Connection::server(limits),
    }))
}

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
struct Reader<'a> {
    id: ClientId,
    endpoint: Endpoint,
    conn: Arc<Mutex<Connection>>,
    outbox: Outbox,
    tap: Arc<Tap>,
    shared: &'a Arc<Shared>,
    awaiting_pong: bool,
    /// `--rate-limit` for chat messages.
    chat_rate: TokenBucket,
    /// Chat messages refused in a row by the rate limit.
    rate_strikes: u32,
    /// `--max-control-rate`.
    control_rate: WindowCounter,
    /// A policy close (rate limit, control flood) is queued: it is queued and logged once, and
    /// what the peer sends until its Close is dropped.
    closing_for_policy: bool,
    /// The connection's writer slot, for replies written straight from this thread.
    writer: Arc<WriterSlot>,
    /// Echo replies produced by the read being handled.
    echo_replies: Vec<Frame>,
    /// `/lab`'s command rate and limits; `None` on every other endpoint.
    lab: Option<Box<LabSession>>,
    /// permessage-deflate for what this thread sends (echo replies), if negotiated.
    compressor: Option<StatelessCompressor>,
    /// Its endpoint's `/metrics` counters.
    counters: &'static EndpointCounters,
    /// Payload bytes of the data frame being received still to come
    /// ([`Connection::payload_expected`]).
    payload_expected: u64,
}

impl Reader<'_> {
    /// The connection is over: its last frames go out, then its record to the log, the
    /// Inspector and the hub.
    /// `ran` is the reader's record, or `Err` if the reader panicked.
    #[inline(never)]
    fn end(&self, ran: std::thread::Result<CloseRecord>) {
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
    fn run(&mut self, mut stream: &TcpStream, leftover: Vec<u8>) -> CloseRecord {
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
                    let record = self.receive(target.get(..n).unwrap_or_default());
                    (n, record)
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
                let bytes = buffer.get(start..).unwrap_or_default().to_vec();
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

    /// Sends what one read produced, in wire order: Pongs, echo replies, then (when `finish`)
    /// the last bytes before TCP is closed. Written right here in one vectored write when the
    /// writer is idle; queued for it otherwise.
    #[inline(never)]
    fn send_replies(&mut self, pongs: Vec<u8>, last: Vec<u8>, finish: bool) {
        let echoes = std::mem::take(&mut self.echo_replies);
        if pongs.is_empty() && echoes.is_empty() && last.is_empty() && !finish {
            return;
        }
        match self.write_replies(&pongs, &echoes, &last, finish) {
            WriteNow::Written => return self.counters.sent_messages(echoes.len()),
            // Nothing is counted as sent; the reader sees TCP closed and leaves.
            WriteNow::Failed => return,
            WriteNow::Busy => {}
        }
        self.queue_replies(pongs, echoes, last, finish);
    }

    /// [`Reader::send_replies`] when the writer is idle: one vectored write from this thread.
    /// [`WriteNow::Busy`] if the writer was busy, and nothing was written.
    #[inline(never)]
    fn write_replies(&self, pongs: &[u8], echoes: &[Frame], last: &[u8], finish: bool) -> WriteNow {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + 2 * echoes.len());
        parts.push(pongs);
        for echo in echoes {
            let [header, payload] = echo.parts();
            parts.push(header);
            parts.push(payload);
        }
        parts.push(last);
        self.writer.write_now(&parts, finish)
    }

    /// [`Reader::send_replies`] when the writer is busy: queued for it, in the same order.
    #[inline(never)]
    fn queue_replies(&self, pongs: Vec<u8>, echoes: Vec<Frame>, last: Vec<u8>, finish: bool) {
        if !pongs.is_empty() {
            self.outbox.control(Control::Bytes(pongs));
        }
        for frame in echoes {
            let _ = self.outbox.send(frame);
        }
        if finish {
            self.outbox.control(if last.is_empty() {
                Control::Finish
            } else {
                Control::Final(last)
            });
        }
    }

    #[inline(never)]
    fn handle(
        &mut self,
        event: Event,
        sent_close: Option<&CloseFrame>,
    ) -> Option<Box<CloseRecord>> {
        let id = self.id;
        match event {
            Event::Frame { header, offset } => trace!("peer {id} ← {header} (at byte {offset})"),
            Event::Message(message) => {
                self.counters.received_message();
                self.dispatch(message);
            }
            Event::Ping(payload) => {
                debug!("peer {id}: ping of {} bytes, pong queued", payload.len());
                self.count_control_frame();
            }
            Event::Pong(payload) => {
                debug!("peer {id}: pong of {} bytes", payload.len());
                self.count_control_frame();
            }
            Event::Closed(close) => {
                return Some(Box::new(CloseRecord::handshake(&close, sent_close)))
            }
            Event::Failed { error, offset } => {
                return Some(Box::new(CloseRecord::protocol_error(&error, offset)))
            }
        }
        None
    }

    /// A whole message: echo replies here, everything else goes to the hub, typed by its app
    /// on this thread ([`Input::from_message`]), so the hub never parses client bytes.
    #[inline(never)]
    fn dispatch(&mut self, message: Message) {
        if self.endpoint == Endpoint::Echo {
            self.echo(message);
        } else if self.lab.is_some() {
            self.lab(&message);
        } else {
            self.send_to_hub(message);
        }
    }

    /// `/echo`: the reply, for [`Reader::send_replies`]. Each endpoint's work is a call of its
    /// own, so that the stack the first echo touches is only the echo's.
    #[inline(never)]
    fn echo(&mut self, message: Message) {
        self.inject_fault(&message);
        let reply = echo::reply(message);
        let opcode = reply.opcode();
        // RFC 7692 §6.1: compressed on this thread, RSV1 on the (only) frame.
        let compressed = match &self.compressor {
            Some(compressor) => compress(compressor, reply.as_bytes()),
            None => None,
        };
        let (rsv1, payload) = match compressed {
            Some(bytes) => (true, bytes),
            None => (false, reply.into_bytes()),
        };
        let header = FrameHeader {
            rsv1,
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        self.echo_replies
            .push(Frame::Owned(header.encode(), payload));
    }

    /// `/lab`: the lab's bytes go to a core of its own, not to this socket or the hub.
    #[inline(never)]
    fn lab(&mut self, message: &Message) {
        let Some(lab) = self.lab.as_mut() else {
            return;
        };
        let reply = lab.reply(message, Instant::now());
        let header = FrameHeader::new(Opcode::Text, reply.len() as u64).encode();
        self.echo_replies
            .push(Frame::Owned(header, reply.into_bytes()));
    }

    /// Every other endpoint: the message goes to the hub, typed by its app.
    #[inline(never)]
    fn send_to_hub(&mut self, message: Message) {
        if matches!(self.endpoint, Endpoint::Chat { .. }) && !self.within_chat_rate() {
            return;
        }
        let input = Input::from_message(&self.endpoint, message);
        self.shared
            .hub_send(Command::Message { id: self.id, input });
    }

    /// `--rate-limit`: excess chat messages get an error event; a client that keeps sending
    /// for another second's worth is closed with 1008.
    fn within_chat_rate(&mut self) -> bool {
        if self.closing_for_policy {
            return false;
        }
        if self.chat_rate.try_take(Instant::now()) {
            self.rate_strikes = 0;
            return true;
        }
        self.rate_strikes += 1;
        let limit = self.shared.config.rate_limit;
        if self.rate_strikes > limit {
            metrics().rate_limit_close(RateLimit::Chat);
            self.close_for_policy(format!("rate limit: over {limit} messages per second"));
        } else {
            let error = ChatError::RateLimited { limit }.to_event().to_json();
            let header = FrameHeader::new(Opcode::Text, error.len() as u64).encode();
            let _ = self
                .outbox
                .try_send(Frame::Owned(header, error.into_bytes()));
        }
        false
    }

    /// `--max-control-rate`: a Ping/Pong flood is closed with 1008.
    fn count_control_frame(&mut self) {
        if !self.closing_for_policy && !self.control_rate.count(Instant::now()) {
            let limit = self.shared.config.max_control_rate;
            metrics().rate_limit_close(RateLimit::Control);
            self.close_for_policy(format!(
                "§10.4 control frame flood: over {limit} per second"
            ));
        }
    }

    /// Starts the close handshake with 1008, once: every excess frame that follows would
    /// otherwise queue (and log) another Close.
    fn close_for_policy(&mut self, reason: String) {
        if std::mem::replace(&mut self.closing_for_policy, true) {
            return;
        }
        info!("peer {}: closing with 1008: {reason}", self.id);
        self.outbox.control(Control::Close {
            code: CloseCode::POLICY_VIOLATION,
            reason,
            discard_queued: false,
        });
    }

    /// Test builds can make this thread panic on purpose (`Config::panic_on_text`).
    #[inline(never)]
    fn inject_fault(&self, message: &Message) {
        if let (Some(trigger), Message::Text(text)) = (&self.shared.config.panic_on_text, message) {
            if trigger == text {
                panic!("fault injection: {trigger:?} received");
            }
        }
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

/// An echo reply compressed (RFC 7692 §6.1), or `None` when it is sent as it is.
#[inline(never)]
fn compress(compressor: &StatelessCompressor, bytes: &[u8]) -> Option<Vec<u8>> {
    with_deflater(compressor, |deflater| compressor.compress(deflater, bytes))
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
