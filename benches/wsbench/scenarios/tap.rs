//! The Inspector's tap, whose target is "when nobody watches, the tap costs one cheap check per
//! frame". wsmith only: the peer has no tap. Two parts:
//!
//! 1. **The check.** A real [`Tap`] nobody watches; a loop calling [`Tap::is_active`] (the
//!    one relaxed atomic load the reader pays per read and the writer per write batch) is
//!    timed against the same loop without the call. The difference per iteration is the
//!    check's cost. From this crate that is a function call; wsmith inlines it, so the same
//!    load is also timed inlined (see [`check_cost`]).
//! 2. **End to end.** echo-small on wsmith with connection 0 of the 64 opened as
//!    `/echo?tap=TOKEN` and an inspector connected to `/inspect`: once with the inspector
//!    idle (nobody watching), once watching that connection by its token
//!    (`{"type":"watch","tap":"TOKEN"}`), every `frame` event read and checked. Both halves
//!    run on the same server process, one after the other; which comes first alternates
//!    from run to run. The unwatched half must produce no event at all.

use std::hint::black_box;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use wsmith::server::{Tap, TapInfo};

use super::echo::{self, SmallRun};
use super::{Phase, Sample, Timing};
use crate::client::{self, wrong, Socket, CLOSE, PING, TEXT};
use crate::servers::Server;

/// The `tap=` token of the watched connection.
const TOKEN: &str = "wsbench-tap";
/// Iterations of each timed loop of the check.
const CHECKS: u64 = 20_000_000;
/// How long the inspector's reads block before it looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Every figure of one run: the check's cost, then echo-small unwatched and watched (in the
/// order `watched_first` says). `rounds`: rounds of the check's timed loops.
pub fn run(
    server: &Server,
    timing: &Timing,
    rounds: usize,
    watched_first: bool,
) -> io::Result<Sample> {
    let check = check_cost(rounds);
    let (unwatched, watched) = if watched_first {
        let watched = half(server, timing, true)?;
        (half(server, timing, false)?, watched)
    } else {
        let unwatched = half(server, timing, false)?;
        (unwatched, half(server, timing, true)?)
    };
    let events = watched.1.measured as f64 / watched.0.cpu.wall;
    // One read and one write batch per echoed message at most (either can carry several
    // messages): two checks per message is an upper bound.
    let server_ns_per_message =
        unwatched.0.cpu.server * 1e9 / (unwatched.0.rate * unwatched.0.cpu.wall);
    // The call's cost, not the inlined one: an upper bound.
    let share = 100.0 * 2.0 * check.call.max(0.0) / server_ns_per_message;
    Ok(Sample {
        figures: vec![
            ("tap_check_ns", check.call),
            ("tap_check_inlined_ns", check.inlined),
            ("tap_check_share", share),
            ("tap_empty_loop_ns", check.empty),
            ("tap_unwatched_rate", unwatched.0.rate),
            ("tap_watched_rate", watched.0.rate),
            ("tap_unwatched_conn_rate", unwatched.0.first_rate),
            ("tap_watched_conn_rate", watched.0.first_rate),
            ("tap_events", events),
            // In and out: two frames per message echoed on the watched connection.
            ("tap_frames", 2.0 * watched.0.first_rate),
        ],
        cpu: vec![
            ("tap: nobody watching", unwatched.0.cpu),
            ("tap: 1 of 64 watched", watched.0.cpu),
        ],
    })
}

/// The check's cost, in nanoseconds per iteration.
#[derive(Debug, Clone, Copy)]
struct CheckCost {
    /// `Tap::is_active()` as this crate calls it, minus the empty loop.
    call: f64,
    /// The same relaxed load inlined, minus the empty loop.
    inlined: f64,
    /// The empty loop.
    empty: f64,
}

/// Times [`CHECKS`] checks of a tap nobody watches against the same loop without them,
/// `rounds` times each, alternating. Other work on the machine only ever slows a round down,
/// so each loop's fastest round is kept.
///
/// From this crate `Tap::is_active()` is a call (it is not `#[inline]`, and the bench is
/// built without LTO); inside wsmith it is inlined into the reader and the writer (the
/// release binary has no `is_active` symbol). So the call is timed as an upper bound, and
/// the same relaxed `AtomicBool` load inlined, as wsmith runs it.
fn check_cost(rounds: usize) -> CheckCost {
    let tap = Tap::new(TapInfo {
        conn: 1,
        endpoint: "echo",
        peer: None,
        token: Some(TOKEN.to_owned()),
        handshake: None,
        deflate: None,
    });
    let flag = AtomicBool::new(false);
    let (tap, flag) = (black_box(&*tap), black_box(&flag));
    let call = || per_iteration(|| tap.is_active());
    let inlined = || per_iteration(|| flag.load(Ordering::Relaxed));
    let empty = || per_iteration(|| false);
    let (mut fastest_call, mut fastest_inlined, mut fastest_empty) =
        (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    call();
    for _ in 0..rounds.max(1) {
        fastest_call = fastest_call.min(call());
        fastest_inlined = fastest_inlined.min(inlined());
        fastest_empty = fastest_empty.min(empty());
    }
    CheckCost {
        call: fastest_call - fastest_empty,
        inlined: fastest_inlined - fastest_empty,
        empty: fastest_empty,
    }
}

/// Nanoseconds per iteration of a loop that runs `check` as the server does: a branch never
/// taken while nobody watches, with a call behind it. `black_box(i)` is opaque and may write
/// any memory, so a load in `check` cannot be hoisted out of the loop.
#[inline(always)]
fn per_iteration(check: impl Fn() -> bool) -> f64 {
    let mut active = 0u64;
    let start = Instant::now();
    for i in 0..CHECKS {
        if check() {
            watched(&mut active);
        }
        black_box(i);
    }
    let took = start.elapsed();
    black_box(active);
    took.as_secs_f64() * 1e9 / CHECKS as f64
}

/// What the server does when someone watches, in the benchmark's loop: never called.
#[cold]
#[inline(never)]
fn watched(count: &mut u64) {
    *count += 1;
}

/// What the inspector saw during one half.
#[derive(Debug, Default)]
struct Seen {
    /// `frame` events received while measuring.
    measured: u64,
    /// Every `frame` event received.
    frames: u64,
}

/// One half: echo-small with connection 0 tapped and an inspector connected, watching it or
/// not.
fn half(server: &Server, timing: &Timing, watch: bool) -> io::Result<(SmallRun, Seen)> {
    let socket = client::open(server.addr, "/inspect", 64 << 10)?;
    socket.stream.set_read_timeout(Some(POLL))?;
    let mut commands = socket.stream.try_clone()?;
    let phase = Arc::new(Phase::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (attached_tx, attached) = mpsc::channel();
    let inspector: JoinHandle<io::Result<Seen>> = {
        let (phase, stop) = (Arc::clone(&phase), Arc::clone(&stop));
        thread::Builder::new()
            .name("tap-inspector".into())
            .spawn(move || inspect(socket, &phase, &stop, &attached_tx))?
    };
    let load = echo::small_load(server, timing, Some(TOKEN), &phase, || {
        if !watch {
            return Ok(());
        }
        let command = format!(r#"{{"type":"watch","tap":"{TOKEN}"}}"#);
        commands.write_all(&client::masked_frame(TEXT, command.as_bytes()))?;
        match attached.recv_timeout(client::READ_TIMEOUT) {
            Ok(Ok(_conn)) => Ok(()),
            Ok(Err(e)) => Err(wrong(format!("tap: the watch failed: {e}"))),
            Err(_) => Err(wrong("tap: no `attached` event from the inspector")),
        }
    });
    stop.store(true, Ordering::Relaxed);
    let seen = inspector
        .join()
        .map_err(|_| wrong("tap: the inspector thread panicked"))?;
    let (load, seen) = (load?, seen?);
    if watch && seen.measured == 0 {
        return Err(wrong("tap: watching, but no frame event while measuring"));
    }
    if !watch && seen.frames > 0 {
        return Err(wrong(format!(
            "tap: nobody watching, yet {} frame events",
            seen.frames
        )));
    }
    Ok((load, seen))
}

/// The inspector's reader: reports `attached` (or an `error`) through `attached_tx`, checks
/// every `frame` event (the watched connection's, Text frames carrying connection 0's
/// messages), counts them, and closes once `stop` is set.
fn inspect(
    mut socket: Socket,
    phase: &Phase,
    stop: &AtomicBool,
    attached_tx: &mpsc::Sender<Result<u64, String>>,
) -> io::Result<Seen> {
    let mut seen = Seen::default();
    let mut watched = None;
    let prefix = "echo-small c0000 ";
    while !stop.load(Ordering::Relaxed) {
        match client::fill_unless_timed_out(&mut socket)? {
            Some(0) => return Err(wrong("tap: the server closed the inspector")),
            Some(_) => {}
            None => continue,
        }
        let measuring = phase.get() == Phase::MEASURE;
        while let Some(frame) = socket.reader.next_frame()? {
            if frame.opcode == PING {
                continue;
            }
            if !frame.fin || frame.opcode != TEXT {
                return Err(wrong(format!("tap: inspector got opcode {}", frame.opcode)));
            }
            let event: Value = serde_json::from_slice(socket.reader.payload(&frame))
                .map_err(|e| wrong(format!("tap: inspector event is not JSON: {e}")))?;
            match event["type"].as_str() {
                Some("attached") => {
                    let conn = event["conn"]
                        .as_u64()
                        .ok_or_else(|| wrong("tap: no conn"))?;
                    if event["endpoint"] != "echo" {
                        return Err(wrong(format!("tap: attached to {}", event["endpoint"])));
                    }
                    watched = Some(conn);
                    let _ = attached_tx.send(Ok(conn));
                }
                Some("error") => {
                    let _ = attached_tx.send(Err(event.to_string()));
                    return Err(wrong(format!("tap: inspector error {event}")));
                }
                Some("frame") => {
                    if watched.is_none() || event["conn"].as_u64() != watched {
                        return Err(wrong(format!(
                            "tap: frame of connection {} while watching {watched:?}",
                            event["conn"]
                        )));
                    }
                    let text = event["payload_text"].as_str().unwrap_or_default();
                    if event["opcode"] == 1 && !text.starts_with(prefix) {
                        return Err(wrong(format!("tap: tapped a Text frame {text:?}")));
                    }
                    seen.frames += 1;
                    if measuring {
                        seen.measured += 1;
                    }
                }
                // The watched connection's Close, and the end of the watch.
                Some("close" | "detached") => {}
                other => return Err(wrong(format!("tap: unexpected event {other:?}"))),
            }
        }
    }
    socket.stream.set_read_timeout(Some(client::READ_TIMEOUT))?;
    close(&mut socket)?;
    Ok(seen)
}

/// The closing handshake of the inspector (§7.1.2): events still in flight are skipped until
/// the server's Close 1000, then the server closes TCP.
fn close(socket: &mut Socket) -> io::Result<()> {
    socket.stream.write_all(&client::close_frame())?;
    loop {
        while let Some(frame) = socket.reader.next_frame()? {
            match frame.opcode {
                TEXT | PING => {}
                CLOSE => {
                    let payload = socket.reader.payload(&frame);
                    if payload.get(..2) != Some(&[0x03, 0xE8][..]) {
                        return Err(wrong(format!("close reply {payload:?} is not 1000")));
                    }
                    return client::expect_end_of_stream(socket);
                }
                other => return Err(wrong(format!("opcode {other} after our Close"))),
            }
        }
        if socket.reader.fill(&socket.stream)? == 0 {
            return Err(wrong("TCP closed before the close reply"));
        }
    }
}
