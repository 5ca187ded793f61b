//! The three servers under test, each in its own process so that its CPU time and memory can
//! be read from `/proc/<pid>`:
//!
//! - **wsmith**: the release binary Cargo built for this bench (`CARGO_BIN_EXE_wsmith`), with
//!   `--log-level warn --max-connections 20000` (60000 for idle-50k) and its own defaults for everything else
//!   (thread stacks and `--listen-backlog` included: they are part of its design).
//!   `WSBENCH_WSMITH_ARGS` adds flags, for experiments; the report says so when it is set.
//! - **fastwebsockets**: this bench binary re-executed as `--fast-peer-server` (see
//!   [`crate::fast_peer`]): tokio, hyper, a task per connection.
//! - **tungstenite**: this bench binary re-executed as `--peer-server` (see
//!   [`crate::peer_server`]): a thread per connection.
//! - **baseline**: with `WSBENCH_BASELINE=/path/to/an/older/wsmith`, that binary, started as
//!   wsmith is and run right after it in every scenario wsmith runs, so a change is measured
//!   old against new in the same run.
//!
//! The peers' code lives only in the bench binary: the wsmith binary has no tokio in it.
//! All inherit this process's open-file limit, which `main` raised first. A fresh process is
//! started for every run of every scenario, so no run inherits another's state.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The server under test.
    Wsmith,
    /// The tokio reference: fastwebsockets on hyper.
    Fast,
    /// The thread-per-connection reference: tungstenite.
    Tungstenite,
    /// Another wsmith binary (`WSBENCH_BASELINE`), for old-against-new in one run.
    Baseline,
}

impl Kind {
    /// The two peers wsmith is compared with.
    pub const PEERS: [Kind; 2] = [Kind::Fast, Kind::Tungstenite];

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wsmith => "wsmith",
            Self::Fast => "fastwebsockets",
            Self::Tungstenite => "tungstenite",
            Self::Baseline => "baseline",
        }
    }

    /// The binary of [`Kind::Baseline`], if `WSBENCH_BASELINE` names one.
    pub fn baseline() -> Option<std::path::PathBuf> {
        std::env::var_os("WSBENCH_BASELINE").map(Into::into)
    }
}

/// A running server process; killed and reaped when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Lines of a server's output past its first that are copied to our stderr, at most.
const ECHOED_LINES: usize = 20;

impl Server {
    /// Starts a server of `kind` on a free loopback port and waits for its "listening" line;
    /// wsmith with `--max-connections max_connections` (the peers have no such cap).
    pub fn start(kind: Kind, max_connections: usize) -> io::Result<Self> {
        Self::start_with(kind, max_connections, &[])
    }

    /// [`Server::start`] with `extra` flags for wsmith (e.g. `--deflate off`; the peers take none).
    pub fn start_with(kind: Kind, max_connections: usize, extra: &[&str]) -> io::Result<Self> {
        let mut command = match kind {
            Kind::Wsmith | Kind::Baseline => {
                let binary = match kind {
                    Kind::Baseline => Kind::baseline()
                        .ok_or_else(|| io::Error::other("WSBENCH_BASELINE is not set"))?,
                    _ => env!("CARGO_BIN_EXE_wsmith").into(),
                };
                let mut command = Command::new(binary);
                command.args(["--addr", "127.0.0.1:0", "--www"]);
                command.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/www"));
                command.args(["--log-level", "warn", "--max-connections"]);
                command.arg(max_connections.to_string());
                if kind == Kind::Wsmith {
                    // Every load client connects from loopback: no per-address cap on request
                    // heads (the burst opens 2,000 at once). An older baseline has no such flag.
                    command.args(["--max-heads-per-address", "0"]);
                }
                command.args(extra);
                // For experiments only, e.g. WSBENCH_WSMITH_ARGS="--max-backlog 16".
                if let Ok(extra) = std::env::var("WSBENCH_WSMITH_ARGS") {
                    command.args(extra.split_whitespace());
                }
                command
            }
            Kind::Fast => {
                let mut command = Command::new(std::env::current_exe()?);
                command.arg(crate::fast_peer::FLAG);
                command
            }
            Kind::Tungstenite => {
                let mut command = Command::new(std::env::current_exe()?);
                command.arg(crate::peer_server::FLAG);
                command
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        let addr = first
            .rsplit(' ')
            .next()
            .map(|word| word.trim_start_matches("http://"))
            .and_then(|addr| addr.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "{} did not say where it listens: {first:?}",
                kind.name()
            )));
        };
        // Keep draining its output (a closed pipe would make its logger fail); show a few lines.
        let name = kind.name();
        std::thread::spawn(move || {
            for (i, line) in lines.map_while(Result::ok).enumerate() {
                if i < ECHOED_LINES {
                    eprintln!("  [{name}] {line}");
                }
            }
        });
        Ok(Self { child, addr })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
