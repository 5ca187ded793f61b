//! The accept loop: one thread per connection (a parked one from the [`pool`](super::pool)
//! when there is one), and the connection cap (`--max-connections`).

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, warn};

use super::metrics::{self, metrics};
use super::per_address::Place;
use super::refusal::Refusal;
use super::request::{self, Port};
use super::shared::Shared;

/// How often the listener looks for a connection during the graceful window, when it no
/// longer blocks in `accept` (it must also see the clients go).
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// Counts a connection as open for as long as it lives, even through a panic.
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until a shutdown begins.
pub(crate) fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, port: Port) {
    for stream in listener.incoming() {
        if shared.is_shutting_down() {
            break;
        }
        match stream {
            Ok(stream) => accept(stream, shared, port),
            Err(e) => {
                // Out of file descriptors or a connection reset before accept: keep serving.
                warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The places one accepted connection holds for its peer's address: its connection, and its
/// unfinished request head (given back once the head is read).
struct AddressPlaces {
    connection: Option<Place>,
    head: Option<Place>,
}

/// Takes the connection's places for its peer's address, or says which cap it is over.
fn take_places(stream: &TcpStream, shared: &Shared) -> Result<AddressPlaces, metrics::Refusal> {
    let Ok(peer) = stream.peer_addr() else {
        // Gone already: nothing to count it against; its first read ends it.
        return Ok(AddressPlaces {
            connection: None,
            head: None,
        });
    };
    let config = &shared.config;
    let connection = shared
        .connections
        .take(peer.ip(), config.max_connections_per_address)
        .ok_or(metrics::Refusal::ConnectionsPerAddress)?;
    let head = shared
        .heads
        .take(peer.ip(), config.max_heads_per_address)
        .ok_or(metrics::Refusal::HeadsPerAddress)?;
    Ok(AddressPlaces {
        connection: Some(connection),
        head: Some(head),
    })
}

/// The graceful window after a shutdown began: goes on accepting (health checks get their
/// answer, upgrades a 503) until every connection is closed or `deadline` has passed.
pub(crate) fn drain(listener: &TcpListener, shared: &Arc<Shared>, deadline: Instant) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while shared.active_connections() > 0 && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                // Served by a blocking connection thread, as before the shutdown.
                if stream.set_nonblocking(false).is_ok() {
                    accept(stream, shared, Port::Main);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(DRAIN_POLL);
            }
            Err(e) => {
                warn!("accept failed: {e}");
                std::thread::sleep(DRAIN_POLL);
            }
        }
    }
}

fn accept(stream: TcpStream, shared: &Arc<Shared>, port: Port) {
    metrics().accepted();
    let places = if shared.active.load(Ordering::SeqCst) >= shared.config.max_connections {
        Err(metrics::Refusal::MaxConnections)
    } else if !shared.pool.has_room() || !shared.threads.has_room_for_connection() {
        Err(metrics::Refusal::ThreadBudget)
    } else {
        take_places(&stream, shared)
    };
    let places = match places {
        Ok(places) => places,
        Err(refusal) => {
            refuse(&stream, refusal);
            return;
        }
    };
    shared.active.fetch_add(1, Ordering::SeqCst);
    let active = Active(Arc::clone(shared));
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let pool = shared.pool.clone();
    let shared = Arc::clone(shared);
    // On a parked thread if there is one (see `pool`): a new connection starts from nothing
    // but what this closure moves in.
    let spawned = pool.run(Box::new(move || {
        let _active = active;
        let AddressPlaces { connection, head } = places;
        let _connection = connection;
        let served = catch_unwind(AssertUnwindSafe(|| {
            request::handle(stream, id, &shared, port, head);
        }));
        if served.is_err() {
            error!("peer {id}: connection thread panicked; the connection is closed, the server goes on");
        }
    }));
    if let Err(e) = spawned {
        metrics().refused(metrics::Refusal::ThreadStart);
        warn!("cannot start a thread for connection {id}: {e}");
    }
}

/// Answers 503 without a thread: a fresh socket's send buffer takes a short response.
fn refuse(stream: &TcpStream, refusal: metrics::Refusal) {
    metrics().refused(refusal);
    let _ = stream.set_nonblocking(true);
    let _ = (&*stream).write_all(&Refusal::AtCapacity.response());
}
