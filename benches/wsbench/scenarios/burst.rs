//! A burst of connects: 2,000 clients connect at the same instant (every page of a chat
//! reconnecting after a restart) and are all upgraded. A listen queue shorter than the burst
//! makes the kernel drop SYNs (`ListenOverflows`), and those clients wait for their 1-second
//! SYN retry (RFC 6298 §2's initial RTO): the slowest connect shows it.
//!
//! [`THREADS`] client threads start together at a barrier; each issues its share of
//! nonblocking `connect`s back to back, then drives all of them at once: a nonblocking write
//! of the request succeeds once the connection is established (before, it would block), then
//! the 101 is read and checked. A pass that moves nothing sleeps 1 ms, so the client does not
//! spin against the server for the two cores. Each client's time is from its `connect` call
//! to its 101, with that 1 ms resolution.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket as Socket2, Type};

use super::Sample;
use crate::client::{self, check_101, upgrade_request, wrong, FrameReader, Socket};
use crate::procfs::tcp_ext;
use crate::servers::Server;

/// Clients of the burst (the figure).
pub const CLIENTS: usize = 2_000;
/// Client threads that connect at the same instant.
const THREADS: usize = 4;
/// The kernel's first SYN retry comes after this; a client that took as long waited for one.
const SYN_RETRY: Duration = Duration::from_secs(1);
/// How long the burst may take before the clients not upgraded yet count as failed.
const DEADLINE: Duration = Duration::from_secs(20);

/// One client on its way: connecting, request written, 101 read.
struct Client {
    stream: TcpStream,
    started: Instant,
    request: Vec<u8>,
    written: usize,
    accept: String,
    head: Vec<u8>,
}

/// What one client thread saw.
struct Share {
    /// Connect → 101, per upgraded client.
    times: Vec<Duration>,
    upgraded: Vec<Socket>,
    error: Option<io::Error>,
}

/// `clients` connects at once; figures: how many were upgraded, the slowest and the median
/// connect → 101, how many waited ≥ 1 s, and the kernel's overflow and SYN retry counters
/// (machine-wide: run on a quiet machine).
pub fn run(server: &Server, clients: usize) -> io::Result<Sample> {
    // ListenDrops counts every SYN a listener dropped, ListenOverflows among them.
    let counters = || tcp_ext(&["ListenDrops"]);
    let retries = || tcp_ext(&["TCPSynRetrans"]);
    let (overflows_before, retries_before) = (counters(), retries());
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let share = clients / THREADS + usize::from(i < clients % THREADS);
            let (barrier, addr) = (Arc::clone(&barrier), server.addr);
            thread::spawn(move || connect_all(addr, share, &barrier))
        })
        .collect();
    let mut times = Vec::with_capacity(clients);
    let mut upgraded = Vec::with_capacity(clients);
    let mut first_error = None;
    for thread in threads {
        let share = thread
            .join()
            .map_err(|_| wrong("a burst thread panicked"))?;
        times.extend(share.times);
        upgraded.extend(share.upgraded);
        first_error = first_error.or(share.error);
    }
    let delta = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(before), Some(after)) => after.saturating_sub(before) as f64,
        _ => f64::NAN,
    };
    let (overflows, syn_retries) = (
        delta(overflows_before, counters()),
        delta(retries_before, retries()),
    );
    if let Some(e) = first_error {
        eprintln!(
            "  burst: {} of {clients} upgraded; first error: {e}",
            upgraded.len()
        );
    }
    // Polite: every upgraded client closes (§7.1.2), so the server is left as it was.
    for socket in &mut upgraded {
        client::close(socket)?;
    }
    times.sort_unstable();
    let millis = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    Ok(Sample {
        figures: vec![
            ("burst_upgraded", upgraded.len() as f64),
            ("burst_slowest_ms", millis(times.last())),
            ("burst_p50_ms", millis(times.get(times.len() / 2))),
            (
                "burst_retried",
                times.iter().filter(|t| **t >= SYN_RETRY).count() as f64,
            ),
            ("burst_overflows", overflows),
            ("burst_syn_retrans", syn_retries),
        ],
        cpu: Vec::new(),
    })
}

/// One thread's share: connect all at the barrier, then drive them until upgraded.
fn connect_all(addr: SocketAddr, count: usize, barrier: &Barrier) -> Share {
    let mut share = Share {
        times: Vec::with_capacity(count),
        upgraded: Vec::with_capacity(count),
        error: None,
    };
    // Sockets and requests are made before the barrier: only the connects are the burst.
    let mut pending = Vec::with_capacity(count);
    for _ in 0..count {
        match unconnected(addr) {
            Ok(socket) => pending.push(socket),
            Err(e) => {
                share.error = Some(e);
                return share;
            }
        }
    }
    barrier.wait();
    let mut clients = Vec::with_capacity(count);
    for socket in pending {
        let started = Instant::now();
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
            Err(e) => {
                share.error = Some(e);
                break;
            }
        }
        let (request, accept) = upgrade_request(addr, "/echo");
        clients.push(Client {
            stream: socket.into(),
            started,
            request: request.into_bytes(),
            written: 0,
            accept,
            head: Vec::with_capacity(256),
        });
    }
    let deadline = Instant::now() + DEADLINE;
    while !clients.is_empty() && Instant::now() < deadline {
        let before = clients.len();
        let mut moved = false;
        let mut i = 0;
        while i < clients.len() {
            match step(&mut clients[i]) {
                Ok(Step::Waiting) => i += 1,
                Ok(Step::Moved) => {
                    moved = true;
                    i += 1;
                }
                Ok(Step::Upgraded(leftover)) => {
                    let client = clients.swap_remove(i);
                    share.times.push(client.started.elapsed());
                    match finished(client.stream, &leftover) {
                        Ok(socket) => share.upgraded.push(socket),
                        Err(e) => share.error = share.error.take().or(Some(e)),
                    }
                }
                Err(e) => {
                    clients.swap_remove(i);
                    share.error = share.error.take().or(Some(e));
                }
            }
        }
        if !moved && clients.len() == before {
            thread::sleep(Duration::from_millis(1));
        }
    }
    if !clients.is_empty() {
        share.error = share.error.take().or(Some(wrong(format!(
            "burst: {} clients not upgraded after {DEADLINE:?}",
            clients.len()
        ))));
    }
    share
}

/// `EINPROGRESS` (Linux): a nonblocking connect that has sent its SYN.
const EINPROGRESS: i32 = 115;

fn unconnected(addr: SocketAddr) -> io::Result<Socket2> {
    let socket = Socket2::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    Ok(socket)
}

enum Step {
    Waiting,
    Moved,
    /// The 101 came; the bytes after its head.
    Upgraded(Vec<u8>),
}

/// Moves one client on as far as it can go without blocking.
fn step(client: &mut Client) -> io::Result<Step> {
    let would_block = |e: &io::Error| {
        e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::NotConnected
    };
    let mut moved = false;
    while client.written < client.request.len() {
        match (&client.stream).write(&client.request[client.written..]) {
            Ok(n) => {
                client.written += n;
                moved = true;
            }
            Err(e) if would_block(&e) => return Ok(Step::Waiting), // still connecting
            Err(e) => return Err(e),
        }
    }
    let mut chunk = [0u8; 512];
    loop {
        match (&client.stream).read(&mut chunk) {
            Ok(0) => return Err(wrong("burst: closed during the handshake")),
            Ok(n) => {
                client.head.extend_from_slice(&chunk[..n]);
                if let Some(at) = client.head.windows(4).position(|w| w == b"\r\n\r\n") {
                    check_101(&client.head[..at + 4], &client.accept, "/echo")?;
                    return Ok(Step::Upgraded(client.head[at + 4..].to_vec()));
                }
                moved = true;
            }
            Err(e) if would_block(&e) => {
                return Ok(if moved { Step::Moved } else { Step::Waiting });
            }
            Err(e) => return Err(e),
        }
    }
}

/// An upgraded client, blocking again, for the closing handshake.
fn finished(stream: TcpStream, leftover: &[u8]) -> io::Result<Socket> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(client::READ_TIMEOUT))?;
    Ok(Socket {
        stream,
        reader: FrameReader::new(64, leftover),
    })
}
