//! `wsmith connect` on a terminal: run under a real pseudo-terminal by `script` (util-linux),
//! typed into as a person would, it shows a banner, a `> ` prompt and `< ` before the server's
//! messages. (Into a pipe it prints plain lines: tests/client.rs.)
//!
//! Every run is bounded: `script` still running after [`RUN_TIMEOUT`] is killed and the test
//! fails; each wait for output has the same bound.

mod support;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use support::TestServer;

/// How long one run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// The terminal's end-of-file character, what Ctrl-D types (VEOF).
const CTRL_D: &[u8] = b"\x04";

/// `wsmith` running on the far side of a pseudo-terminal.
struct Terminal {
    child: Child,
    keyboard: ChildStdin,
    chunks: Receiver<Vec<u8>>,
    /// Everything the terminal has shown so far, as bytes.
    screen: Vec<u8>,
    deadline: Instant,
}

impl Terminal {
    /// Starts `command` (a shell command line) under `script -qec`, which gives it a new
    /// pseudo-terminal as stdin, stdout and stderr, and forwards our writes as keystrokes.
    fn start(command: &str) -> Self {
        let mut child = Command::new("script")
            .args(["-qec", command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (util-linux) runs a command under a pseudo-terminal");
        let keyboard = child.stdin.take().expect("stdin");
        let mut display = child.stdout.take().expect("stdout");
        let (tx, chunks) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = display.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            keyboard,
            chunks,
            screen: Vec::new(),
            deadline: Instant::now() + RUN_TIMEOUT,
        }
    }

    /// Waits until the terminal shows `text`.
    fn wait_for(&mut self, text: &str) {
        while !String::from_utf8_lossy(&self.screen).contains(text) {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.screen.extend(chunk),
                Err(_) => panic!(
                    "the terminal never showed {text:?}; it shows:\n{:?}",
                    String::from_utf8_lossy(&self.screen)
                ),
            }
        }
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.keyboard.write_all(keys).expect("type");
        self.keyboard.flush().expect("type");
    }

    /// Waits for the program to end; returns its status and the lines the terminal shows.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "still running after {RUN_TIMEOUT:?}; killed. The terminal shows:\n{:?}",
                    String::from_utf8_lossy(&self.screen)
                );
            }
            // Keep collecting what the terminal shows while waiting.
            if let Ok(chunk) = self.chunks.recv_timeout(Duration::from_millis(20)) {
                self.screen.extend(chunk);
            }
        };
        // The rest of the output, until `script` closes it.
        while let Ok(chunk) = self.chunks.recv_timeout(Duration::from_secs(1)) {
            self.screen.extend(chunk);
        }
        (status, screen_lines(&String::from_utf8_lossy(&self.screen)))
    }
}

/// The lines as a terminal would show them: `\r\n` ends a line, and `\r` + erase-in-line
/// (`ESC [ K`) wipes what the line held so far.
fn screen_lines(output: &str) -> Vec<String> {
    output
        .replace("\r\n", "\n")
        .split('\n')
        .map(|line| match line.rfind("\r\x1b[K") {
            Some(at) => line[at + 4..].to_owned(),
            None => line.to_owned(),
        })
        .filter(|line| !line.is_empty())
        .collect()
}

/// A single-quoted shell word.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn wsmith() -> String {
    quoted(env!("CARGO_BIN_EXE_wsmith"))
}

#[test]
fn on_a_terminal_connect_shows_a_banner_a_prompt_and_marks_what_the_server_sent() {
    let server = TestServer::start();
    let url = server.ws_url("/echo");
    let mut terminal = Terminal::start(&format!("{} connect {}", wsmith(), quoted(&url)));
    terminal.wait_for("type a line; Ctrl-D closes\r\n> ");
    terminal.type_keys(b"Hello\n");
    terminal.wait_for("< Hello");
    terminal.type_keys(CTRL_D);
    let (status, lines) = terminal.finish();
    assert!(status.success(), "{status}: {lines:#?}");
    assert_eq!(
        lines,
        [
            format!("connected to {url}; type a line; Ctrl-D closes"),
            "> Hello".to_owned(),
            "< Hello".to_owned(),
            "< [close] 1000 (normal closure) \"\"".to_owned(),
        ]
    );
}

#[test]
fn on_a_terminal_with_stdin_from_a_pipe_connect_marks_both_directions() {
    let server = TestServer::start();
    let url = server.ws_url("/echo");
    // `cat` reads the terminal and feeds wsmith through a pipe: stdout is the terminal, stdin
    // is not, so nothing echoes what wsmith sends and it shows each line itself.
    let command = format!("cat | {} connect {}", wsmith(), quoted(&url));
    let mut terminal = Terminal::start(&command);
    terminal.wait_for("its end closes\r\n");
    terminal.type_keys(b"hi\n");
    terminal.wait_for("< hi");
    terminal.type_keys(CTRL_D);
    let (status, lines) = terminal.finish();
    assert!(status.success(), "{status}: {lines:#?}");
    assert_eq!(
        lines,
        [
            format!("connected to {url}; sending stdin line by line; its end closes"),
            // The terminal's echo of what `cat` read, then wsmith's own line.
            "hi".to_owned(),
            "> hi".to_owned(),
            "< hi".to_owned(),
            "< [close] 1000 (normal closure) \"\"".to_owned(),
        ]
    );
}

#[test]
fn on_a_terminal_timestamps_go_before_the_marker() {
    let server = TestServer::start();
    let command = format!(
        "{} connect --timestamps --ping hi {}",
        wsmith(),
        quoted(&server.ws_url("/echo"))
    );
    let mut terminal = Terminal::start(&command);
    terminal.wait_for("< [pong] \"hi\"");
    terminal.type_keys(CTRL_D);
    let (status, lines) = terminal.finish();
    assert!(status.success(), "{status}: {lines:#?}");
    let pong = lines
        .iter()
        .find(|line| line.ends_with("< [pong] \"hi\""))
        .expect("the pong");
    let (time, rest) = pong.split_once(' ').expect("a time, then the line");
    assert_eq!(rest, "< [pong] \"hi\"");
    assert!(
        time.len() == 12 && time.chars().all(|c| c.is_ascii_digit() || ":.".contains(c)),
        "{pong:?}"
    );
}

#[test]
fn screen_lines_apply_erase_in_line() {
    let raw = "banner\r\n> \r\x1b[K< Hello\r\n> Hel\r\x1b[K< x\r\n";
    assert_eq!(screen_lines(raw), ["banner", "< Hello", "< x"]);
}
