//! Memory per idle connection: open N `/echo` connections (each echoes one message, checked),
//! let them sit, and divide what the server's RSS grew by N. The kernel's share is counted
//! too, from `/proc/meminfo` (Slab + KernelStack + PageTables): thread stacks in the kernel
//! and socket structures do not show in RSS, and a thread-per-connection server pays them.
//! That delta is machine-wide, so it includes the client's ends of the sockets (the same for
//! both servers) and whatever else the machine did meanwhile: run on a quiet machine.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use super::Sample;
use crate::client::{self, wrong, Socket, TEXT};
use crate::procfs::{
    is_alive, kernel_memory_kib, rss_by_mapping_size, status_field, tcp_buffer_kib,
};
use crate::servers::Server;

/// Threads that open the connections.
const OPENERS: usize = 4;
/// Time for the server to settle before the final reading.
const SETTLE: Duration = Duration::from_secs(1);
/// Readings are taken after each quarter of the connections, so that a server that fails
/// on the way still has a figure, at the last count it held.
const STAGES: usize = 4;

/// Opens `connections` idle connections and reports the memory they cost, per connection.
///
/// Figures: memory per connection at the last reading, the connections held then
/// (`idle_connections`), and whether the server process died (`idle_crashed`).
pub fn run(server: &Server, connections: usize) -> io::Result<Sample> {
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
    let sample = Sample {
        figures: vec![
            ("idle_rss", per_connection(before.rss, after.rss)),
            ("idle_kernel", per_connection(before.kernel, after.kernel)),
            ("idle_tcp", per_connection(before.tcp, after.tcp)),
            (
                "idle_threads",
                per_connection(before.threads, after.threads),
            ),
            ("idle_connections", held as f64),
            ("idle_crashed", f64::from(u8::from(crashed))),
        ],
        cpu: Vec::new(),
    };
    drop(sockets);
    Ok(sample)
}

/// Opens `count` connections from [`OPENERS`] threads; returns them, and the first error.
fn open_in_parallel(addr: SocketAddr, count: usize) -> (Vec<Socket>, Option<io::Error>) {
    let openers: Vec<_> = (0..OPENERS)
        .map(|i| {
            let share = count / OPENERS + usize::from(i < count % OPENERS);
            thread::spawn(move || open_idle(addr, share))
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

/// Opens `count` connections; each echoes one 32-byte message, checked, then stays open.
/// Stops at the first failure, returning what is open and the error.
fn open_idle(addr: SocketAddr, count: usize) -> (Vec<Socket>, Option<io::Error>) {
    let message = b"idle: one message, then silence.";
    let frame = client::masked_frame(TEXT, message);
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        match open_one(addr, &frame, message) {
            Ok(socket) => sockets.push(socket),
            Err(e) => return (sockets, Some(e)),
        }
    }
    (sockets, None)
}

fn open_one(addr: SocketAddr, frame: &[u8], message: &[u8]) -> io::Result<Socket> {
    let mut socket = client::open(addr, "/echo", 64)?;
    socket.stream.write_all(frame)?;
    let echoed = loop {
        if let Some(frame) = socket.reader.next_frame()? {
            break frame;
        }
        if socket.reader.fill(&socket.stream)? == 0 {
            return Err(wrong("idle: closed before the echo"));
        }
    };
    if echoed.opcode != TEXT || socket.reader.payload(&echoed) != message {
        return Err(wrong("idle: the echo differs"));
    }
    Ok(socket)
}
