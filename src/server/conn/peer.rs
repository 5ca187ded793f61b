//! One upgraded connection, from its 101 to its close record: [`serve`] sets it up (its
//! protocol state machine, outbox and writer slot), registers it with the hub, and runs its
//! reader on this thread until the connection ends.
//!
//! ```text
//!  socket ──read──▶ reader ──▶ protocol::Connection ──events──▶ session: reply / hub input
//!                      │                 │
//!                      │           Pong, Close reply
//!                      ▼                 ▼
//!  socket ◀─write── writer ◀── outbox: control lane (first) + data lane (bounded)
//! ```
//!
//! The reader owns the receiving half of the protocol; the writer starts the close handshake
//! when the hub asks (slow consumer, shutdown). Both reach the one [`Connection`] through a
//! mutex held only while bytes are processed, never across a blocking call. When the
//! connection ends, the reader writes its [`CloseRecord`](crate::server::close_record::CloseRecord): to the log, to the Inspector, and to
//! the hub.

use std::io::Write;
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, warn};

use super::outbox::outbox;
use super::reader::Reader;
use super::tap::Tap;
use super::writer::WriterSlot;
use crate::app::rate::WindowCounter;
use crate::app::Endpoint;
use crate::protocol::deflate::{Params, StatelessCompressor};
use crate::protocol::{Connection, Limits, MemoryBudget};
use crate::server::hub::Command;
use crate::server::metrics;
use crate::server::refusal::Refusal;
use crate::server::shared::Shared;
use crate::sync::lock;

/// Runs an upgraded connection until it ends.
///
/// `response_101` is the handshake's answer: it is the writer's first output, queued before the
/// client is registered with the hub, so nothing the hub sends can precede it and nothing sent
/// after the client sees it can miss the client. `leftover` are bytes read past the request head.
///
/// The reader then waits on this frame for as long as the client is quiet: what is set up once
/// (`open`), what a read sets off (`Reader::receive`) and how the connection ends
/// (`Reader::end`) run in frames of their own, so that the stack an idle connection keeps
/// touched stays within two pages (the thread's TLS, and one page of frames).
pub(crate) fn serve(
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
    let sessions = config.session_config();
    let limits = endpoint.limits(&sessions);
    // permessage-deflate (RFC 7692): the connection inflates what the client sends; what we
    // send is compressed without per-connection state (server_no_context_takeover), by the
    // reader for echo replies and by the writer for the hub's shared frames.
    let conn = new_connection(
        limits,
        deflate,
        config.deflate_threshold,
        Arc::clone(&shared.buffered),
    );
    let compressor = deflate
        .and_then(|params| StatelessCompressor::for_server(&params, config.deflate_threshold));
    // A peer that stops reading stalls our writes; after --write-timeout the writer gives up,
    // which also ends the reader (the socket is shut down).
    if let Err(e) = stream.set_write_timeout(Some(config.write_timeout)) {
        warn!("peer {id}: cannot set a write timeout: {e}");
        let _ = (&stream).write_all(&Refusal::SocketSetupFailed.response());
        return None;
    }
    // --socket-send-buffer: what this client's unsent bytes may hold in the kernel.
    if let Some(bytes) = config.socket_send_buffer {
        if let Err(e) = socket2::SockRef::from(&stream).set_send_buffer_size(bytes) {
            warn!("peer {id}: cannot set SO_SNDBUF to {bytes}: {e}");
        }
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
    // The hub never makes a reader wait: a Join that cannot be queued (the hub is that far
    // behind) refuses the upgrade with 503 instead of blocking this thread behind the queue.
    if shared.hub_try_send(join).is_err() {
        debug!("peer {id}: the hub's queue is full; upgrade refused with 503");
        metrics::metrics().budget_refused(metrics::Budget::HubQueue);
        metrics::metrics().handshake_failed(Refusal::HubBusy.status());
        let _ = writer.write_held(&Refusal::HubBusy.response());
        let _ = stream.shutdown(std::net::Shutdown::Write);
        writer.release();
        writer.wait_finished(Duration::ZERO);
        return None;
    }
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
    let reader = Reader {
        id,
        session: endpoint.session(&sessions, now),
        conn,
        outbox,
        tap,
        shared,
        awaiting_pong: false,
        control_rate: WindowCounter::new(config.max_control_rate, now),
        closing_for_policy: false,
        writer,
        replies: Vec::new(),
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
    budget: Arc<MemoryBudget>,
) -> Arc<Mutex<Connection>> {
    // Built where it lives, then set up in place: each builder step by value would be another
    // copy of it in this frame.
    let conn = Arc::new(Mutex::new(Connection::server(limits)));
    {
        let mut state = lock(&conn);
        state.set_budget(budget);
        if let Some(params) = deflate {
            state.set_deflate(params, threshold);
        }
    }
    conn
}
