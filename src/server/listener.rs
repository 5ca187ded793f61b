//! The accept loop: one thread per connection (a parked one from the [`pool`](super::pool)
//! when there is one), and the connection cap (`--max-connections`).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use log::{error, warn};

use super::metrics::{self, metrics};
use super::refusal::Refusal;
use super::request::{self, Port};
use super::shared::Shared;

/// Counts a connection as open for as long as it lives, even through a panic.
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until a shutdown begins.
pub fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, port: Port) {
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

fn accept(stream: TcpStream, shared: &Arc<Shared>, port: Port) {
    metrics().accepted();
    let refusal = if shared.active.load(Ordering::SeqCst) >= shared.config.max_connections {
        Some(metrics::Refusal::MaxConnections)
    } else if !shared.pool.has_room() {
        Some(metrics::Refusal::ThreadBudget)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        metrics().refused(refusal);
        // Answered here, without a thread: a fresh socket's send buffer takes a short response.
        let _ = stream.set_nonblocking(true);
        let _ = (&stream).write_all(&Refusal::AtCapacity.response());
        return;
    }
    shared.active.fetch_add(1, Ordering::SeqCst);
    let active = Active(Arc::clone(shared));
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let pool = shared.pool.clone();
    let shared = Arc::clone(shared);
    // On a parked thread if there is one (see `pool`): a new connection starts from nothing
    // but what this closure moves in.
    let spawned = pool.run(Box::new(move || {
        let _active = active;
        if catch_unwind(AssertUnwindSafe(|| request::handle(stream, id, &shared, port))).is_err() {
            error!("peer {id}: connection thread panicked; the connection is closed, the server goes on");
        }
    }));
    if let Err(e) = spawned {
        metrics().refused(metrics::Refusal::ThreadStart);
        warn!("cannot start a thread for connection {id}: {e}");
    }
}
