//! Opening and closing handshakes per second: connect, upgrade (the 101 and its accept key
//! checked), Close 1000 both ways, and the server's TCP close, over and over.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use super::{measured_window, Phase, Sample, Timing};
use crate::client::{self, wrong};
use crate::procfs::CpuUse;
use crate::servers::Server;

/// Cycles per second from 1 and from 4 client threads.
pub fn run(server: &Server, timing: &Timing) -> io::Result<Sample> {
    let mut sample = Sample::default();
    for (key, label, threads) in [
        ("handshakes_1", "handshakes ×1", 1),
        ("handshakes_4", "handshakes ×4", 4),
    ] {
        let (rate, cpu) = cycles(server, threads, timing)?;
        sample.figures.push((key, rate));
        sample.cpu.push((label, cpu));
    }
    Ok(sample)
}

fn cycles(server: &Server, threads: usize, timing: &Timing) -> io::Result<(f64, CpuUse)> {
    let phase = Arc::new(Phase::default());
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (phase, addr) = (Arc::clone(&phase), server.addr);
            thread::spawn(move || cycle_until_stopped(addr, &phase))
        })
        .collect();
    let cpu = measured_window(&phase, timing, server.pid());
    let mut total = 0;
    for worker in workers {
        total += worker
            .join()
            .map_err(|_| wrong("a handshake thread panicked"))??;
    }
    Ok((total as f64 / cpu.wall, cpu))
}

/// Counts the cycles completed while the phase is `MEASURE`.
fn cycle_until_stopped(addr: SocketAddr, phase: &Phase) -> io::Result<u64> {
    let mut counted = 0;
    while phase.get() != Phase::STOP {
        let mut socket = client::open(addr, "/echo", 256)?;
        client::close(&mut socket)?;
        if phase.get() == Phase::MEASURE {
            counted += 1;
        }
    }
    Ok(counted)
}
