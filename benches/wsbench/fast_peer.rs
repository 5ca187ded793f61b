//! The second reference server: what a Rust programmer writes with `fastwebsockets` 0.10 on
//! tokio's multi-thread runtime (one worker per core) and hyper 1 for the upgrade, with
//! wsmith's `/echo` and `/broadcast` behaviour. Written as its users write it:
//!
//! - `TCP_NODELAY` like wsmith; fastwebsockets' 64 MiB message limit (= wsmith's default);
//!   tokio's default listen backlog (1024);
//! - the HTTP/1.1 request goes through hyper's `http1` server, and `fastwebsockets::upgrade`
//!   checks it and answers 101; other paths get 404;
//! - `/echo`: a task per connection, `FragmentCollector::read_frame` then `write_frame` (the
//!   crate's echo example); pings and the close handshake are answered by the crate;
//! - `/broadcast` (`?self=false` leaves the sender out): the socket is split
//!   (`unstable-split`); a shared registry `Arc<Mutex<Vec<Member>>>` holds each member's
//!   unbounded tokio `mpsc` queue, and a writer task per member writes everything waiting into
//!   a `BufWriter` and then flushes once (as the tungstenite peer does). The payload is copied
//!   once into a `Bytes` and shared; each writer encodes its own frame.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fastwebsockets::upgrade::{self, UpgradeFut};
use fastwebsockets::{
    FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, WebSocket, WebSocketError,
    WebSocketWrite,
};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{BufWriter, WriteHalf};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// The hidden argument that turns the bench binary into this peer.
pub const FLAG: &str = "--fast-peer-server";

/// wsmith's default `--max-message-size`.
const MAX_SIZE: usize = 64 << 20;

type Socket = TokioIo<Upgraded>;

/// What a member's writer task is given to write: a relayed message, or the crate's obligated
/// reply (Pong, Close) handed over by the member's reader.
enum Out {
    Message(OpCode, Bytes),
    Control(OpCode, Vec<u8>),
}

/// A client of `/broadcast`.
struct Member {
    id: u64,
    include_self: bool,
    outbox: UnboundedSender<Out>,
}

type Registry = Arc<Mutex<Vec<Member>>>;

/// The endpoint a client asked for.
#[derive(Clone, Copy)]
enum Route {
    Echo,
    Broadcast { include_self: bool },
}

/// Runs the peer on a free loopback port until killed.
pub fn run() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fastwebsockets peer: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fastwebsockets peer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "fastwebsockets peer listening on {}",
        listener.local_addr()?
    );
    let registry: Registry = Arc::default();
    let next_id = AtomicU64::new(1);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors: let some connections go first.
                tokio::task::yield_now().await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let service = service_fn(move |request| route(request, id, Arc::clone(&registry)));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Answers the request: 404 for an unknown path, else the 101, with the connection's task
/// started once the upgrade completes.
async fn route(
    mut request: Request<Incoming>,
    id: u64,
    registry: Registry,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let route = match request.uri().path() {
        "/echo" => Route::Echo,
        "/" | "/broadcast" => Route::Broadcast {
            include_self: request.uri().query() != Some("self=false"),
        },
        _ => {
            let mut response = Response::new(Empty::new());
            *response.status_mut() = StatusCode::NOT_FOUND;
            return Ok(response);
        }
    };
    let (response, upgrade) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        match route {
            Route::Echo => echo(upgrade).await,
            Route::Broadcast { include_self } => {
                broadcast(upgrade, id, include_self, &registry).await;
            }
        }
    });
    Ok(response)
}

async fn upgraded(upgrade: UpgradeFut) -> Option<WebSocket<Socket>> {
    let mut websocket = upgrade.await.ok()?;
    websocket.set_max_message_size(MAX_SIZE);
    Some(websocket)
}

/// Every message goes back, as in the crate's echo example.
async fn echo(upgrade: UpgradeFut) {
    let Some(websocket) = upgraded(upgrade).await else {
        return;
    };
    let mut websocket = FragmentCollector::new(websocket);
    loop {
        let Ok(frame) = websocket.read_frame().await else {
            return;
        };
        match frame.opcode {
            OpCode::Close => return,
            OpCode::Text | OpCode::Binary => {}
            _ => continue, // Ping and Pong: answered (or ignored) by the crate
        }
        if websocket.write_frame(frame).await.is_err() {
            return;
        }
    }
}

/// Relays every message to every member's queue; the member's writer task writes it.
async fn broadcast(upgrade: UpgradeFut, id: u64, include_self: bool, registry: &Registry) {
    let Some(websocket) = upgraded(upgrade).await else {
        return;
    };
    let (read, write) = websocket.split(|socket| {
        let (read, write) = tokio::io::split(socket);
        (read, BufWriter::new(write))
    });
    let mut read = FragmentCollectorRead::new(read);
    let (outbox, inbox) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_relays(write, inbox));
    lock(registry).push(Member {
        id,
        include_self,
        outbox: outbox.clone(),
    });
    loop {
        // The crate's obligated replies (Pong, the Close reply) go through the writer too.
        let mut obligated = |frame: Frame<'_>| {
            let queued = outbox.send(Out::Control(frame.opcode, frame.payload.to_vec()));
            async move { queued.map_err(|_| "the writer task is gone") }
        };
        let Ok(frame) = read.read_frame(&mut obligated).await else {
            break;
        };
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => {
                let payload = Bytes::copy_from_slice(&frame.payload);
                for member in lock(registry).iter() {
                    if member.id != id || member.include_self {
                        let _ = member
                            .outbox
                            .send(Out::Message(frame.opcode, payload.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    lock(registry).retain(|member| member.id != id);
    drop(outbox);
    let _ = writer.await;
}

/// A member's writer task: everything waiting is written, then flushed once; ends after a
/// Close or when the queue closes.
async fn write_relays(
    mut write: WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    mut inbox: UnboundedReceiver<Out>,
) {
    while let Some(first) = inbox.recv().await {
        let mut next = Some(first);
        while let Some(out) = next {
            let (opcode, payload): (OpCode, &[u8]) = match &out {
                Out::Message(opcode, bytes) => (*opcode, bytes),
                Out::Control(opcode, bytes) => (*opcode, bytes),
            };
            let frame = Frame::new(true, opcode, None, Payload::Borrowed(payload));
            if write.write_frame(frame).await.is_err() {
                return;
            }
            if opcode == OpCode::Close {
                let _ = write.flush().await;
                return;
            }
            next = inbox.try_recv().ok();
        }
        if write.flush().await.is_err() {
            return;
        }
    }
}

fn lock(registry: &Registry) -> MutexGuard<'_, Vec<Member>> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}
