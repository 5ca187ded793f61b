//! One upgraded connection: a reader thread that runs the protocol state machine, and a writer
//! thread that drains the connection's [`outbox`](super::outbox).
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
//! mutex held only while bytes are processed, never across a blocking call.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use log::{debug, error, info, trace, warn};

use super::hub::Command;
use super::outbox::{outbox, Control, Frame, OutboxReceiver};
use super::rate::{TokenBucket, WindowCounter};
use super::{spawn_named, Shared};
use crate::app::{echo, ClientId, Endpoint};
use crate::protocol::connection::State;
use crate::protocol::{CloseCode, Connection, Event, FrameHeader, Message, Opcode};

/// The read buffer's starting size: an idle connection costs little.
const READ_BUFFER_MIN: usize = 4 * 1024;
/// The read buffer's largest size, reached only while large messages stream in.
const READ_BUFFER_MAX: usize = 256 * 1024;
/// The writer's largest batch: frames gathered into one vectored write.
const WRITE_BATCH_FRAMES: usize = 512;
/// Stack of a writer thread: it only moves bytes.
const WRITER_STACK: usize = 32 * 1024;

/// How a connection ended, for the log and the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRecord {
    /// Who ended it: "client", "server" or "network".
    pub by: &'static str,
    /// The close code on the wire, or 1006 when no Close frame was exchanged.
    pub code: CloseCode,
    /// The reason or explanation.
    pub reason: String,
}

impl CloseRecord {
    fn abnormal(why: impl Into<String>) -> Self {
        Self {
            by: "network",
            code: CloseCode::ABNORMAL_CLOSURE,
            reason: why.into(),
        }
    }
}

/// Runs an upgraded connection until it ends.
///
/// `response_101` is the handshake's answer: it is the writer's first output, queued before the
/// client is registered with the hub, so nothing the hub sends can precede it and nothing sent
/// after the client sees it can miss the client. `leftover` are bytes read past the request head.
pub fn serve(
    stream: TcpStream,
    response_101: Vec<u8>,
    leftover: &[u8],
    id: ClientId,
    endpoint: Endpoint,
    shared: &Arc<Shared>,
) {
    let config = &shared.config;
    let conn = Arc::new(Mutex::new(Connection::server(config.limits)));
    let (outbox, receiver) = outbox(config.max_backlog);
    // A peer that stops reading stalls our writes; after --write-timeout the writer gives up,
    // which also ends the reader (the socket is shut down).
    if let Err(e) = stream.set_write_timeout(Some(config.write_timeout)) {
        warn!("peer {id}: cannot set a write timeout: {e}");
        return;
    }
    let writer = match stream.try_clone().and_then(|write_half| {
        let conn = Arc::clone(&conn);
        let close_timeout = config.close_timeout;
        spawn_named(format!("peer-{id}-writer"), WRITER_STACK, move || {
            run_writer(write_half, &conn, &receiver, close_timeout, id)
        })
    }) {
        Ok(handle) => handle,
        Err(e) => {
            warn!("peer {id}: cannot start its writer: {e}");
            return;
        }
    };
    outbox.control(Control::Bytes(response_101));
    shared.hub_send(Command::Join {
        id,
        endpoint: endpoint.clone(),
        outbox: outbox.clone(),
    });
    let now = Instant::now();
    let mut reader = Reader {
        id,
        endpoint,
        conn,
        outbox: outbox.clone(),
        shared,
        awaiting_pong: false,
        chat_rate: TokenBucket::new(config.rate_limit, now),
        rate_strikes: 0,
        control_rate: WindowCounter::new(config.max_control_rate, now),
    };
    // A bug in this connection's thread ends this connection only: Close 1011, and the hub
    // still hears that it left.
    let record = match catch_unwind(AssertUnwindSafe(|| reader.run(stream, leftover))) {
        Ok(record) => record,
        Err(_) => {
            error!("peer {id}: reader panicked; closing with 1011");
            outbox.control(Control::Close {
                code: CloseCode::INTERNAL_ERROR,
                reason: "internal error".into(),
                discard_queued: true,
            });
            CloseRecord {
                by: "server",
                code: CloseCode::INTERNAL_ERROR,
                reason: "reader thread panicked".into(),
            }
        }
    };
    info!(
        "peer {id}: closed by {}, {}: {}",
        record.by, record.code, record.reason
    );
    shared.hub_send(Command::Leave {
        id,
        reason: format!("{} {}", record.code.0, record.reason),
    });
    drop(outbox);
    let _ = writer.join();
}

/// The reading half of a connection.
struct Reader<'a> {
    id: ClientId,
    endpoint: Endpoint,
    conn: Arc<Mutex<Connection>>,
    outbox: super::outbox::Outbox,
    shared: &'a Arc<Shared>,
    awaiting_pong: bool,
    /// `--rate-limit` for chat messages.
    chat_rate: TokenBucket,
    /// Chat messages refused in a row by the rate limit.
    rate_strikes: u32,
    /// `--max-control-rate`.
    control_rate: WindowCounter,
}

impl Reader<'_> {
    fn run(&mut self, mut stream: TcpStream, leftover: &[u8]) -> CloseRecord {
        let ping_interval = self.shared.config.ping_interval;
        let timeout = (!ping_interval.is_zero()).then_some(ping_interval);
        if let Err(e) = stream.set_read_timeout(timeout) {
            return CloseRecord::abnormal(format!("cannot set a read timeout: {e}"));
        }
        lock(&self.conn).observe_frames(log::log_enabled!(log::Level::Trace));
        if let Some(record) = self.receive(leftover) {
            return record;
        }
        let mut buf = vec![0u8; READ_BUFFER_MIN];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    self.outbox.control(Control::Finish);
                    return CloseRecord::abnormal("TCP closed before a close frame");
                }
                Ok(n) => {
                    self.awaiting_pong = false;
                    if let Some(record) = self.receive(buf.get(..n).unwrap_or_default()) {
                        return record;
                    }
                    resize_read_buffer(&mut buf, n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Some(record) = self.keepalive() {
                        return record;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.outbox.control(Control::Finish);
                    return CloseRecord::abnormal(format!("read failed: {e}"));
                }
            }
        }
    }

    /// Runs `bytes` through the state machine and acts on what happened. Returns the record
    /// once the connection is over.
    fn receive(&mut self, bytes: &[u8]) -> Option<CloseRecord> {
        if bytes.is_empty() {
            return None;
        }
        // Collect under the lock, act after it: acting may block on a full outbox.
        let (events, output, state) = {
            let mut conn = lock(&self.conn);
            conn.receive_data(bytes);
            let events: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
            (events, conn.take_output(), conn.state())
        };
        let mut record = None;
        for event in events {
            if let Some(ended) = self.handle(event) {
                record = Some(ended);
            }
        }
        if state == State::Closed {
            self.outbox.control(if output.is_empty() {
                Control::Finish
            } else {
                Control::Final(output)
            });
            return Some(record.unwrap_or_else(|| CloseRecord::abnormal("closed")));
        }
        if !output.is_empty() {
            self.outbox.control(Control::Bytes(output));
        }
        None
    }

    fn handle(&mut self, event: Event) -> Option<CloseRecord> {
        let id = self.id;
        match event {
            Event::Frame { header, offset } => trace!("peer {id} ← {header} (at byte {offset})"),
            Event::Message(message) => match &self.endpoint {
                Endpoint::Echo => {
                    self.inject_fault(&message);
                    let reply = echo::reply(message);
                    let header =
                        FrameHeader::new(reply.opcode(), reply.as_bytes().len() as u64).encode();
                    let _ = self.outbox.send(Frame::Owned(header, reply.into_bytes()));
                }
                Endpoint::Chat { .. } => {
                    if self.within_chat_rate() {
                        self.shared.hub_send(Command::Message { id, message });
                    }
                }
                _ => self.shared.hub_send(Command::Message { id, message }),
            },
            Event::Ping(payload) => {
                debug!("peer {id}: ping of {} bytes, pong queued", payload.len());
                self.count_control_frame();
            }
            Event::Pong(payload) => {
                debug!("peer {id}: pong of {} bytes", payload.len());
                self.count_control_frame();
            }
            Event::Closed(close) => {
                let code = close.code.unwrap_or(CloseCode::NO_STATUS_RECEIVED);
                return Some(CloseRecord {
                    by: "client",
                    code,
                    reason: close.reason,
                });
            }
            Event::Failed { error, offset } => {
                info!("peer {id}: {} at byte {offset}: {error}", error.section());
                return Some(CloseRecord {
                    by: "server",
                    code: error.close_code(),
                    reason: format!("{} {error} (at byte {offset})", error.section()),
                });
            }
        }
        None
    }

    /// `--rate-limit`: excess chat messages get an error event; a client that keeps sending
    /// for another second's worth is closed with 1008.
    fn within_chat_rate(&mut self) -> bool {
        if self.chat_rate.try_take(Instant::now()) {
            self.rate_strikes = 0;
            return true;
        }
        self.rate_strikes += 1;
        let limit = self.shared.config.rate_limit;
        if self.rate_strikes > limit {
            self.close_for_policy(format!("rate limit: over {limit} messages per second"));
        } else {
            let error = format!(
                r#"{{"type":"error","error":"rate_limited","message":"over {limit} messages per second; message dropped"}}"#
            );
            let header = FrameHeader::new(Opcode::Text, error.len() as u64).encode();
            let _ = self
                .outbox
                .try_send(Frame::Owned(header, error.into_bytes()));
        }
        false
    }

    /// `--max-control-rate`: a Ping/Pong flood is closed with 1008.
    fn count_control_frame(&mut self) {
        if !self.control_rate.count(Instant::now()) {
            let limit = self.shared.config.max_control_rate;
            self.close_for_policy(format!(
                "§10.4 control frame flood: over {limit} per second"
            ));
        }
    }

    fn close_for_policy(&self, reason: String) {
        info!("peer {}: closing with 1008: {reason}", self.id);
        self.outbox.control(Control::Close {
            code: CloseCode::POLICY_VIOLATION,
            reason,
            discard_queued: false,
        });
    }

    /// Test builds can make this thread panic on purpose (`Config::panic_on_text`).
    fn inject_fault(&self, message: &Message) {
        if let (Some(trigger), Message::Text(text)) = (&self.shared.config.panic_on_text, message) {
            if trigger == text {
                panic!("fault injection: {trigger:?} received");
            }
        }
    }

    /// The read timed out: the client has been silent for a ping interval.
    fn keepalive(&mut self) -> Option<CloseRecord> {
        if self.awaiting_pong {
            self.outbox.control(Control::Finish);
            return Some(CloseRecord::abnormal(
                "ping timeout: no answer within the ping interval",
            ));
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

/// Grows the buffer when a read filled it (a large message is streaming in), and shrinks it
/// back when reads are small again, so idle connections hold little memory.
fn resize_read_buffer(buf: &mut Vec<u8>, last_read: usize) {
    if last_read == buf.len() && buf.len() < READ_BUFFER_MAX {
        buf.resize(buf.len() * 2, 0);
    } else if last_read < READ_BUFFER_MIN && buf.len() > READ_BUFFER_MIN {
        buf.truncate(READ_BUFFER_MIN);
        buf.shrink_to_fit();
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic in the other thread does not make the state machine's data unusable.
    conn.lock().unwrap_or_else(PoisonError::into_inner)
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

/// The writer thread: drains the outbox into the socket, control lane first.
fn run_writer(
    mut stream: TcpStream,
    conn: &Mutex<Connection>,
    outbox: &OutboxReceiver,
    close_timeout: Duration,
    id: ClientId,
) {
    let mut next = Next::KeepWriting;
    while next == Next::KeepWriting {
        let mut batch = Batch::default();
        select! {
            recv(outbox.control) -> control => match control {
                Ok(control) => next = take_control(control, conn, &mut batch, &outbox.data),
                Err(_) => next = Next::CloseTcp,
            },
            recv(outbox.data) -> frame => match frame {
                Ok(frame) => batch.data.push(frame),
                Err(_) => next = Next::CloseTcp,
            },
        }
        while next == Next::KeepWriting {
            let Ok(control) = outbox.control.try_recv() else {
                break;
            };
            next = take_control(control, conn, &mut batch, &outbox.data);
        }
        // Before a Close, everything queued goes out (it was accepted); otherwise a batch.
        let limit = if next == Next::KeepWriting {
            WRITE_BATCH_FRAMES
        } else {
            usize::MAX
        };
        batch.data.extend(
            outbox
                .data
                .try_iter()
                .take(limit.saturating_sub(batch.data.len())),
        );
        let state = lock(conn).state();
        if state != State::Open && batch.last.is_empty() {
            batch.data.clear(); // §5.5.1: no data frames after a Close.
        }
        if let Err(e) = write_batch(&mut stream, &batch) {
            debug!("peer {id}: write failed: {e}");
            next = Next::CloseTcp;
        }
    }
    if next == Next::AwaitPeerClose {
        await_peer_close(&outbox.control, close_timeout);
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Files one control instruction into the batch; says what comes after it.
fn take_control(
    control: Control,
    conn: &Mutex<Connection>,
    batch: &mut Batch,
    data: &Receiver<Frame>,
) -> Next {
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
                batch.data.clear();
                while data.try_recv().is_ok() {}
            }
            let mut conn = lock(conn);
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

/// After our Close: wait until the reader has the peer's Close (it sends `Finish` or `Final`),
/// or the close timeout passes (§7.1.1: then close TCP anyway).
fn await_peer_close(control: &Receiver<Control>, close_timeout: Duration) {
    let deadline = std::time::Instant::now() + close_timeout;
    while let Ok(control) = control.recv_deadline(deadline) {
        if matches!(control, Control::Finish | Control::Final(_)) {
            return;
        }
    }
}

/// Writes the batch with as few system calls as possible: one vectored write when it fits.
fn write_batch(stream: &mut TcpStream, batch: &Batch) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(2 + 2 * batch.data.len());
    slices.push(IoSlice::new(&batch.control));
    for frame in &batch.data {
        slices.extend(frame.parts().into_iter().map(IoSlice::new));
    }
    slices.push(IoSlice::new(&batch.last));
    slices.retain(|slice| !slice.is_empty());
    let mut remaining = &mut slices[..];
    while !remaining.is_empty() {
        match stream.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut remaining, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.flush()
}
