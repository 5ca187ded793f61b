//! The real `wsmith` binary as a child process, for tests that need signals or the process's
//! own thread and memory counts.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The `wsmith` binary running as a child; killed on drop if it is still running.
pub struct Wsmith {
    child: Child,
    pub addr: SocketAddr,
    /// The page port of a tutorial that has one (`wsmith page on http://…`).
    pub page: Option<SocketAddr>,
    /// Everything it printed (stdout: the log; stderr: errors), drained by two threads so the
    /// child never blocks on a full pipe.
    output: Arc<Mutex<String>>,
    drains: Vec<JoinHandle<()>>,
    /// stderr, held open and not read (see [`Wsmith::start_with_stderr_unread`]).
    unread_stderr: Option<ChildStderr>,
}

impl Wsmith {
    pub fn start(extra_args: &[&str]) -> Self {
        let www = concat!(env!("CARGO_MANIFEST_DIR"), "/www");
        let mut args = vec!["--addr", "127.0.0.1:0", "--www", www];
        args.extend(extra_args);
        Self::spawn(&args, true)
    }

    /// Like [`Wsmith::start`], but nobody reads its stderr (the log) until
    /// [`Wsmith::read_stderr_from_now`]: the pipe fills after 64 KiB, like a terminal or a
    /// log collector that stopped reading.
    pub fn start_with_stderr_unread(extra_args: &[&str]) -> Self {
        let www = concat!(env!("CARGO_MANIFEST_DIR"), "/www");
        let mut args = vec!["--addr", "127.0.0.1:0", "--www", www];
        args.extend(extra_args);
        Self::spawn(&args, false)
    }

    /// Starts reading the stderr that [`Wsmith::start_with_stderr_unread`] held.
    pub fn read_stderr_from_now(&mut self) {
        if let Some(stderr) = self.unread_stderr.take() {
            self.drains
                .push(drain(stderr, Arc::clone(&self.output), None));
        }
    }

    /// Closes the stderr that [`Wsmith::start_with_stderr_unread`] held: the pipe's reader is
    /// gone, and the next write to it fails with `EPIPE`.
    pub fn close_stderr(&mut self) {
        drop(self.unread_stderr.take());
    }

    /// `wsmith tutorial NAME --addr 127.0.0.1:0 [--page-addr 127.0.0.1:0] EXTRA…`, from the
    /// repository root (where its default `www/tutorials/NAME` is).
    pub fn tutorial(name: &str, has_page_port: bool, extra_args: &[&str]) -> Self {
        let mut args = vec!["tutorial", name, "--addr", "127.0.0.1:0"];
        if has_page_port {
            args.extend(["--page-addr", "127.0.0.1:0"]);
        }
        args.extend(extra_args);
        let mut server = Self::spawn(&args, true);
        if has_page_port {
            let mut page = None;
            super::wait_until("the 'wsmith page on' line", Duration::from_secs(10), || {
                page = server.output().lines().find_map(|line| {
                    line.strip_prefix("wsmith page on http://")?
                        .trim()
                        .parse()
                        .ok()
                });
                page.is_some()
            });
            server.page = page;
        }
        server
    }

    fn spawn(args: &[&str], read_stderr: bool) -> Self {
        // `WSMITH_BIN` runs another build (the attack suite's before/after figures).
        let binary = std::env::var_os("WSMITH_BIN").unwrap_or(env!("CARGO_BIN_EXE_wsmith").into());
        let mut child = Command::new(binary)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the wsmith binary");
        let output = Arc::new(Mutex::new(String::new()));
        let (found, listening) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let mut drains = vec![drain(stdout, Arc::clone(&output), Some(found))];
        let mut unread_stderr = None;
        if read_stderr {
            drains.push(drain(stderr, Arc::clone(&output), None));
        } else {
            unread_stderr = Some(stderr);
        }
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            page: None,
            output,
            drains,
            unread_stderr,
        };
        match listening.recv_timeout(Duration::from_secs(10)) {
            Ok(addr) => server.addr = addr,
            Err(_) => panic!(
                "no 'wsmith listening on' line within 10 s; output: {}",
                server.output()
            ),
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Whether the process is still running (it has not exited or aborted).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Polls for the exit for up to `bound`; returns the status and how long it took.
    pub fn wait_for_exit(&mut self, bound: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < bound,
                "wsmith still running {bound:?} after the signal; output: {}",
                self.output()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Everything printed so far; after the exit, everything (the drains are joined).
    pub fn output(&mut self) -> String {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            for drain in self.drains.drain(..) {
                let _ = drain.join();
            }
        }
        self.output.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Wsmith {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Copies `pipe` line by line into `output`; sends the address of the listening line to
/// `found`.
fn drain(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    mut found: Option<mpsc::Sender<SocketAddr>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if let Some(addr) = line.strip_prefix("wsmith listening on http://") {
                if let (Some(found), Ok(addr)) = (found.take(), addr.trim().parse()) {
                    let _ = found.send(addr);
                }
            }
            if let Ok(mut output) = output.lock() {
                output.push_str(&line);
                output.push('\n');
            }
        }
    })
}
