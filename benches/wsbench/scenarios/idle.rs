//! Memory per idle connection: open N `/echo` connections (each echoes one message, checked),
//! let them sit, and divide what the server's RSS grew by N. Then every connection must still
//! echo: a server that held them only in name would be caught there. The kernel's share is counted
//! too, from `/proc/meminfo` (Slab + KernelStack + PageTables): thread stacks in the kernel
//! and socket structures do not show in RSS, and a thread-per-connection server pays them.
//! That delta is machine-wide, so it includes the client's ends of the sockets (the same for
//! both servers) and whatever else the machine did meanwhile: run on a quiet machine.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread;
use std::time::Duration;

use super::Sample;
use crate::client::{self, wrong, Socket, PING, TEXT};
use crate::procfs::{
    is_alive, kernel_memory_kib, rss_by_mapping_size, status_field, tcp_buffer_kib,
};
use crate::servers::Server;

/// §5.2 opcode of a Pong.
const PONG: u8 = 0xA;
/// Threads that open the connections.
pub const OPENERS: usize = 4;
/// Time for the server to settle before the final reading.
const SETTLE: Duration = Duration::from_secs(1);
/// Readings are taken after each quarter of the connections, so that a server that fails
/// on the way still has a figure, at the last count it held.
const STAGES: usize = 4;

/// The figures of one variant of the scenario (see `report::ROWS`).
#[derive(Debug)]
pub struct Keys {
    rss: &'static str,
    kernel: &'static str,
    tcp: &'static str,
    threads: &'static str,
    connections: &'static str,
    crashed: &'static str,
    silent: &'static str,
}

/// `idle`: 10,000 connections (fewer in a quick run).
pub const KEYS: Keys = Keys {
    rss: "idle_rss",
    kernel: "idle_kernel",
    tcp: "idle_tcp",
    threads: "idle_threads",
    connections: "idle_connections",
    crashed: "idle_crashed",
    silent: "idle_silent",
};

/// `idle-50k`: 50,000 connections; or `idle-max`, as many as this machine's limits allow when
/// they allow fewer (see `limits`), in the same rows.
pub const KEYS_50K: Keys = Keys {
    rss: "idle50k_rss",
    kernel: "idle50k_kernel",
    tcp: "idle50k_tcp",
    threads: "idle50k_threads",
    connections: "idle50k_connections",
    crashed: "idle50k_crashed",
    silent: "idle50k_silent",
};

/// Opens `connections` idle connections and reports the memory they cost, per connection.
///
/// Figures: memory per connection at the last reading, the connections held then
/// (`connections`), whether the server process died (`crashed`), and how many of the held
/// connections did not echo a second message afterwards (`silent`).
pub fn run(server: &Server, connections: usize, keys: &Keys) -> io::Result<Sample> {
    if connections < STAGES {
        return Err(wrong(
            "idle: too few connections allowed to measure anything",
        ));
    }
    thread::sleep(SETTLE / 4);
    let pid = server.pid();
    let before = Reading::take(pid);
    let mut sockets = Vec::with_capacity(connections);
    let mut last = None;
    let mut crashed = false;
    for stage in 1..=STAGES {
        let (opened, error) =
            open_in_parallel(server.addr, connections * stage / STAGES - sockets.len());
        sockets.extend(opened);
        thread::sleep(if stage == STAGES { SETTLE } else { SETTLE / 4 });
        if !is_alive(pid) {
            crashed = true;
            eprintln!(
                "  idle: the server process died with {} connections open",
                sockets.len()
            );
            break;
        }
        if !sockets.is_empty() {
            last = Some((sockets.len(), Reading::take(pid)));
        }
        if let Some(e) = error {
            // A limit of the machine or the server: measure what is open, and say so.
            eprintln!("  idle: stopped at {} connections: {e}", sockets.len());
            break;
        }
    }
    let Some((held, after)) = last else {
        return Err(wrong("idle: the server died before the first reading"));
    };
    if !crashed {
        // Where the memory is: the largest groups of mappings, for the log.
        let groups: Vec<String> = rss_by_mapping_size(pid)
            .into_iter()
            .take(4)
            .map(|(mapping, count, rss)| format!("{count} × {mapping}: {rss} KiB"))
            .collect();
        eprintln!("  idle RSS by mapping: {}", groups.join("; "));
    }
    let per_connection = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(before), Some(after)) => (after as f64 - before as f64) / held as f64,
        _ => f64::NAN,
    };
    let silent = if crashed {
        held
    } else {
        echo_on_every(&mut sockets)
    };
    if silent > 0 {
        eprintln!("  idle: {silent} of {held} connections did not echo afterwards");
    }
    let sample = Sample {
        figures: vec![
            (keys.rss, per_connection(before.rss, after.rss)),
            (keys.kernel, per_connection(before.kernel, after.kernel)),
            (keys.tcp, per_connection(before.tcp, after.tcp)),
            (keys.threads, per_connection(before.threads, after.threads)),
            (keys.connections, held as f64),
            (keys.crashed, f64::from(u8::from(crashed))),
            (keys.silent, silent as f64),
        ],
        cpu: Vec::new(),
    };
    reset(sockets);
    Ok(sample)
}

/// Ends the held connections with a reset instead of a FIN. Each was bound to its source
/// address (`bind` before `connect`), and a port so bound that closes first sits in TIME_WAIT
/// for 60 s, off limits to every later `connect` from any address: after three runs of 10,000,
/// the burst that follows found no ephemeral port left (`EADDRNOTAVAIL` for 435 of its 2,000
/// clients). A reset leaves no TIME_WAIT; the servers see a connection reset.
fn reset(sockets: Vec<Socket>) {
    for socket in sockets {
        let _ = socket2::SockRef::from(&socket.stream).set_linger(Some(Duration::ZERO));
    }
}

/// Every held connection echoes one more message, from [`OPENERS`] threads; returns how many
/// did not (an error or a wrong echo).
fn echo_on_every(sockets: &mut [Socket]) -> usize {
    let message = b"idle: still there after the wait";
    let frame = client::masked_frame(TEXT, message);
    let chunk = sockets.len().div_ceil(OPENERS).max(1);
    thread::scope(|scope| {
        let checkers: Vec<_> = sockets
            .chunks_mut(chunk)
            .map(|share| {
                let frame = &frame;
                scope.spawn(move || {
                    let mut silent = 0;
                    for socket in share.iter_mut() {
                        silent += usize::from(echo_once(socket, frame, message).is_err());
                    }
                    silent
                })
            })
            .collect();
        checkers
            .into_iter()
            .map(|checker| checker.join().unwrap_or(usize::MAX / OPENERS))
            .sum()
    })
}

/// Opens `count` connections from [`OPENERS`] threads; returns them, and the first error.
fn open_in_parallel(addr: SocketAddr, count: usize) -> (Vec<Socket>, Option<io::Error>) {
    let openers: Vec<_> = (0..OPENERS)
        .map(|i| {
            let share = count / OPENERS + usize::from(i < count % OPENERS);
            thread::spawn(move || open_idle(addr, source(i), share))
        })
        .collect();
    let mut sockets = Vec::with_capacity(count);
    let mut first_error = None;
    for opener in openers {
        let (opened, error) = opener
            .join()
            .unwrap_or_else(|_| (Vec::new(), Some(wrong("an opener thread panicked"))));
        sockets.extend(opened);
        first_error = first_error.or(error);
    }
    (sockets, first_error)
}

/// Memory readings at one moment, in KiB (threads as a count).
struct Reading {
    rss: Option<u64>,
    kernel: Option<u64>,
    tcp: Option<u64>,
    threads: Option<u64>,
}

impl Reading {
    fn take(pid: u32) -> Self {
        Self {
            rss: status_field(pid, "VmRSS"),
            kernel: kernel_memory_kib(),
            tcp: tcp_buffer_kib(),
            threads: status_field(pid, "Threads"),
        }
    }
}

/// Opener `i`'s source address, 127.0.0.(10 + i): one address has about 28,000 ephemeral
/// ports towards the server, too few for 50,000 connections.
fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i as u8))
}

/// Opens `count` connections from `source`; each echoes one 32-byte message, checked, then
/// stays open. Stops at the first failure, returning what is open and the error.
fn open_idle(addr: SocketAddr, source: IpAddr, count: usize) -> (Vec<Socket>, Option<io::Error>) {
    let message = b"idle: one message, then silence.";
    let frame = client::masked_frame(TEXT, message);
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        match open_one(addr, source, &frame, message) {
            Ok(socket) => sockets.push(socket),
            Err(e) => return (sockets, Some(e)),
        }
    }
    (sockets, None)
}

fn open_one(addr: SocketAddr, source: IpAddr, frame: &[u8], message: &[u8]) -> io::Result<Socket> {
    let mut socket = client::open_from(addr, source, "/echo", 64)?;
    echo_once(&mut socket, frame, message)?;
    Ok(socket)
}

/// Sends `frame` (carrying `message`) and checks the echo.
fn echo_once(socket: &mut Socket, frame: &[u8], message: &[u8]) -> io::Result<()> {
    socket.stream.write_all(frame)?;
    let echoed = loop {
        if let Some(frame) = socket.reader.next_frame()? {
            if frame.opcode == PING {
                // wsmith's keepalive (`--ping-interval`) during a long run: answered (§5.5.3).
                let pong = client::masked_frame(PONG, socket.reader.payload(&frame));
                socket.stream.write_all(&pong)?;
                continue;
            }
            break frame;
        }
        if socket.reader.fill(&socket.stream)? == 0 {
            return Err(wrong("idle: closed before the echo"));
        }
    };
    if echoed.opcode != TEXT || socket.reader.payload(&echoed) != message {
        return Err(wrong("idle: the echo differs"));
    }
    Ok(())
}
