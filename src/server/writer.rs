//! A connection's writer thread: drains the [`outbox`](super::outbox) into the socket, the
//! control lane first, everything waiting gathered into one vectored write.
//!
//! It also starts the close handshake when the hub asks (slow consumer, shutdown): it sends our
//! Close through the connection's state machine, then waits for the reader to see the peer's
//! Close, at most `--close-timeout`, and closes TCP (§7.1.1: the server closes first).

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::select;
use log::debug;

use super::outbox::{Control, Frame, OutboxReceiver};
use super::peer::lock;
use super::tap::Tap;
use crate::app::ClientId;
use crate::protocol::connection::State;
use crate::protocol::Connection;

/// The writer's largest batch: frames gathered into one vectored write.
const WRITE_BATCH_FRAMES: usize = 512;

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
    /// The 101 response: not a frame, never shown to the tap.
    handshake: Vec<u8>,
    control: Vec<u8>,
    data: Vec<Frame>,
    last: Vec<u8>,
}

/// Everything the writer thread needs.
pub struct Writer {
    /// The socket's write half.
    pub stream: TcpStream,
    /// The connection's state machine, shared with the reader.
    pub conn: Arc<Mutex<Connection>>,
    /// Its outbox.
    pub outbox: OutboxReceiver,
    /// The connection's tap.
    pub tap: Arc<Tap>,
    /// `--close-timeout`.
    pub close_timeout: Duration,
    /// The connection's id, for logs.
    pub id: ClientId,
    /// Frame bytes written since the handshake (positions for the Inspector).
    pub written: u64,
}

impl Writer {
    /// Runs until the connection is over, then shuts the socket down.
    pub fn run(mut self) {
        let mut next = Next::KeepWriting;
        while next == Next::KeepWriting {
            let mut batch = Batch::default();
            select! {
                recv(self.outbox.control) -> control => match control {
                    Ok(control) => next = self.take_control(control, &mut batch),
                    Err(_) => next = Next::CloseTcp,
                },
                recv(self.outbox.data) -> frame => match frame {
                    Ok(frame) => batch.data.push(frame),
                    Err(_) => next = Next::CloseTcp,
                },
            }
            while next == Next::KeepWriting {
                let Ok(control) = self.outbox.control.try_recv() else {
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
            batch.data.extend(self.outbox.data.try_iter().take(room));
            self.outbox.took(&batch.data);
            if let Err(e) = self.write(&batch) {
                debug!("peer {}: write failed: {e}", self.id);
                next = Next::CloseTcp;
            }
        }
        if next == Next::AwaitPeerClose {
            self.await_peer_close();
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Files one control instruction into the batch; says what comes after it.
    fn take_control(&mut self, control: Control, batch: &mut Batch) -> Next {
        match control {
            Control::Handshake(bytes) => {
                batch.handshake = bytes;
                Next::KeepWriting
            }
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
                    dropped.extend(self.outbox.data.try_iter());
                    self.outbox.took(&dropped);
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
    /// `Final`), or the close timeout passes (§7.1.1: then close TCP anyway).
    fn await_peer_close(&self) {
        let deadline = Instant::now() + self.close_timeout;
        while let Ok(control) = self.outbox.control.recv_deadline(deadline) {
            if matches!(control, Control::Finish | Control::Final(_)) {
                return;
            }
        }
    }

    /// Writes the batch with as few system calls as possible: one vectored write when it fits.
    fn write(&mut self, batch: &Batch) -> io::Result<()> {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(3 + 2 * batch.data.len());
        parts.push(&batch.control);
        for frame in &batch.data {
            parts.extend(frame.parts());
        }
        parts.push(&batch.last);
        parts.retain(|part| !part.is_empty());
        if self.tap.is_active() {
            self.tap.outgoing(&parts, self.written);
        }
        self.written += parts.iter().map(|part| part.len() as u64).sum::<u64>();
        if !batch.handshake.is_empty() {
            parts.insert(0, &batch.handshake);
        }
        let mut slices: Vec<IoSlice<'_>> = parts.into_iter().map(IoSlice::new).collect();
        let mut remaining = &mut slices[..];
        while !remaining.is_empty() {
            match self.stream.write_vectored(remaining) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut remaining, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.stream.flush()
    }
}
