//! The reference server: what a Rust programmer would write with `tungstenite` and one thread
//! per connection, with wsmith's `/echo` and `/broadcast` behaviour. Written to be fair, not a
//! strawman:
//!
//! - `TCP_NODELAY` like wsmith; the same 64 MiB frame and message limits;
//! - `/echo`: `read()` then `send()` on the connection's thread (tungstenite's README loop);
//! - `/broadcast` (`?self=false` leaves the sender out): a shared registry
//!   `Arc<Mutex<Vec<Member>>>`; each member has a writer thread fed by an `mpsc` channel, which
//!   writes everything waiting and then flushes once. The payload is shared through an `Arc`,
//!   so the relaying thread does not copy it 1,000 times: each writer encodes its own copy.
//!
//! Threads are spawned with Rust's default stack size (2 MiB of address space; only the pages
//! touched count towards RSS), as `std::thread::spawn` does.

use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// The hidden argument that turns the bench binary into the peer server.
pub const FLAG: &str = "--peer-server";

/// wsmith's default `--max-frame-size` and `--max-message-size`.
const MAX_SIZE: usize = 64 << 20;

/// A client of `/broadcast`.
struct Member {
    id: u64,
    include_self: bool,
    outbox: Sender<Arc<Message>>,
}

type Registry = Arc<Mutex<Vec<Member>>>;

/// The endpoint a client asked for.
#[derive(Clone, Copy)]
enum Route {
    Echo,
    Broadcast { include_self: bool },
}

fn config() -> WebSocketConfig {
    WebSocketConfig {
        max_message_size: Some(MAX_SIZE),
        max_frame_size: Some(MAX_SIZE),
        ..WebSocketConfig::default()
    }
}

/// Runs the peer server on a free loopback port until killed.
pub fn run() -> ExitCode {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("peer: cannot bind: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("peer listening on {addr}"),
        Err(e) => {
            eprintln!("peer: {e}");
            return ExitCode::FAILURE;
        }
    }
    let registry: Registry = Arc::default();
    let next_id = Arc::new(AtomicU64::new(1));
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let registry = Arc::clone(&registry);
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                thread::spawn(move || serve(stream, id, &registry));
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    ExitCode::SUCCESS
}

// The callback's error type is tungstenite's `ErrorResponse`, large or not.
#[allow(clippy::result_large_err)]
fn serve(stream: TcpStream, id: u64, registry: &Registry) {
    let _ = stream.set_nodelay(true);
    let mut route = None;
    let callback = |request: &Request, response: Response| {
        route = match request.uri().path() {
            "/echo" => Some(Route::Echo),
            "/" | "/broadcast" => Some(Route::Broadcast {
                include_self: request.uri().query() != Some("self=false"),
            }),
            _ => None,
        };
        if route.is_some() {
            Ok(response)
        } else {
            let mut refusal = ErrorResponse::new(None);
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        }
    };
    let Ok(websocket) = tungstenite::accept_hdr_with_config(stream, callback, Some(config()))
    else {
        return;
    };
    match route {
        Some(Route::Echo) => echo(websocket),
        Some(Route::Broadcast { include_self }) => {
            broadcast(websocket, id, include_self, registry);
        }
        None => {}
    }
}

/// Every message goes back; pings and the close handshake are answered by tungstenite.
fn echo(mut websocket: WebSocket<TcpStream>) {
    loop {
        match websocket.read() {
            Ok(message) if message.is_text() || message.is_binary() => {
                if websocket.send(message).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Relays every message to every member; a writer thread per member does the writing.
fn broadcast(
    mut websocket: WebSocket<TcpStream>,
    id: u64,
    include_self: bool,
    registry: &Registry,
) {
    let Ok(write_half) = websocket.get_ref().try_clone() else {
        return;
    };
    let (outbox, inbox) = mpsc::channel();
    let writer = thread::spawn(move || write_relays(write_half, &inbox));
    lock(registry).push(Member {
        id,
        include_self,
        outbox,
    });
    loop {
        match websocket.read() {
            Ok(message) if message.is_text() || message.is_binary() => {
                let message = Arc::new(message);
                for member in lock(registry).iter() {
                    if member.id != id || member.include_self {
                        let _ = member.outbox.send(Arc::clone(&message));
                    }
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    lock(registry).retain(|member| member.id != id);
    let _ = writer.join();
}

/// A member's writer: everything waiting is written, then flushed once.
fn write_relays(stream: TcpStream, inbox: &Receiver<Arc<Message>>) {
    let mut websocket = WebSocket::from_raw_socket(stream, Role::Server, Some(config()));
    while let Ok(message) = inbox.recv() {
        if websocket.write(Message::clone(&message)).is_err() {
            return;
        }
        while let Ok(message) = inbox.try_recv() {
            if websocket.write(Message::clone(&message)).is_err() {
                return;
            }
        }
        if websocket.flush().is_err() {
            return;
        }
    }
}

fn lock(registry: &Registry) -> std::sync::MutexGuard<'_, Vec<Member>> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}
