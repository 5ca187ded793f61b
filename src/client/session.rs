//! One client connection after the opening handshake: the reader loop on the calling thread,
//! stdin lines on a second one, and the close as §7.1.1 asks a client to do it.
//!
//! ```text
//! stdin thread: line ─▶ lock ─▶ Connection::send_message ─▶ take_output ─▶ write (masked)
//! reader:      read ─▶ lock ─▶ Connection::receive_data ─▶ events (print, or echo back)
//!                                                       └─▶ take_output ─▶ write (Pong, Close)
//! ```
//!
//! Both threads share one [`Session`] behind a `Mutex`, as the server's peer threads share a
//! connection: whoever changes the state machine also writes the bytes it produced, under the
//! same lock, so frames go out in the order the state machine made them.
//!
//! Closing (§7.1.1): "the client SHOULD wait for the server to close the connection but MAY
//! close the connection at any time after sending and receiving a Close message, e.g., if it
//! has not received a TCP Close from the server in a reasonable time period." The reader waits
//! [`TCP_CLOSE_WAIT`] for that, and [`CLOSE_REPLY_TIMEOUT`] for the server's Close after ours.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::output::Output;
use super::Error;
use crate::explain::frames::FrameAnatomy;
use crate::explain::splitter::FrameSplitter;
use crate::protocol::connection::State;
use crate::protocol::Role;
use crate::protocol::{CloseCode, CloseFrame, Connection, Event, Message, ProtocolError};
use crate::sync::lock;

/// After the close handshake, how long the client waits for the server to close TCP (§7.1.1).
pub const TCP_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// After sending a Close, how long the client waits for the server's (§7.1.1, §7.1.2).
pub const CLOSE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a waiting reader wakes up to check those two deadlines.
const TICK: Duration = Duration::from_millis(100);

/// How many bytes the reader asks the socket for at a time.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How many bytes of a Binary message are printed, as hex.
const SHOWN_BINARY_BYTES: usize = 1024;

/// The state both threads share.
pub struct Session {
    conn: Connection,
    /// The socket's writing side (a clone of the reader's).
    writer: TcpStream,
    /// Cuts what we send into frames for `--trace`.
    outgoing: Option<FrameSplitter>,
    /// When we sent our Close, if we did.
    close_sent_at: Option<Instant>,
    /// Where the frames we send are traced.
    output: Output,
}

/// How the connection ended, as far as WebSocket frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The close handshake completed (either side started it) with the server's Close.
    Closed(CloseFrame),
    /// The server broke a rule; we sent a Close with the rule's code (§7.1.7).
    Failed(ProtocolError),
}

impl Session {
    /// A session on `writer`, tracing outgoing frames to `output` if `trace`.
    pub fn new(conn: Connection, writer: TcpStream, trace: bool, output: Output) -> Self {
        let deflate = conn.deflate_params();
        Self {
            conn,
            writer,
            outgoing: trace
                .then(|| FrameSplitter::new().with_deflate_params(deflate, Role::Client)),
            close_sent_at: None,
            output,
        }
    }

    /// The state machine.
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Writes what the state machine produced (printing it first with `--trace`).
    ///
    /// # Errors
    ///
    /// The socket's write error.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.conn.has_output() {
            return Ok(());
        }
        let bytes = self.conn.take_output();
        if let Some(splitter) = self.outgoing.as_mut() {
            trace_frames(&self.output, ">>", &splitter.feed(&bytes));
        }
        self.writer.write_all(&bytes)
    }

    /// Starts the close handshake with `code` and `reason` (§7.1.2), if it has not started.
    ///
    /// # Errors
    ///
    /// The socket's write error.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        if self.conn.state() == State::Open {
            self.conn.send_close(code, reason);
            self.close_sent_at = Some(Instant::now());
        }
        self.flush()
    }
}

/// Reads lines from `input` and sends each as a message, Text or (with `binary`) Binary; at
/// the end of `input`, starts the close handshake with `close`.
///
/// Stops early if the connection is no longer open (the server closed it, §5.5.1: no data
/// frames after a Close) or the socket fails. Each line sent is shown on `output` where the
/// terminal has not shown it (see [`Output::sent`]).
pub fn send_lines(
    session: &Mutex<Session>,
    input: impl BufRead,
    binary: bool,
    close: &(CloseCode, String),
    output: &Output,
) {
    send_each_line(session, input, binary, output);
    output.stop_prompting();
    let (code, reason) = close;
    // A write error here means the server is gone; the reader sees that and says so.
    let _ = lock(session).close(*code, reason);
}

/// The loop of [`send_lines`], until `input` ends or the connection can take no more.
fn send_each_line(
    session: &Mutex<Session>,
    mut input: impl BufRead,
    binary: bool,
    output: &Output,
) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                eprintln!("wsmith connect: reading stdin: {error}");
                break;
            }
        }
        let text_line = line.strip_suffix(b"\n").unwrap_or(&line);
        let text_line = text_line.strip_suffix(b"\r").unwrap_or(text_line);
        let message = if binary {
            Message::Binary(text_line.to_vec())
        } else {
            match String::from_utf8(text_line.to_vec()) {
                Ok(text) => Message::Text(text),
                Err(_) => {
                    // §5.6: "The "Payload data" is text data encoded as UTF-8."
                    eprintln!("wsmith connect: skipped a line that is not UTF-8 (use --binary)");
                    output.line_entered();
                    continue;
                }
            }
        };
        let mut session = lock(session);
        if session.conn.state() != State::Open {
            return;
        }
        // Shown before it goes out, under the session's lock: the reply cannot be shown first.
        output.sent(&show_message(&message));
        session.conn.send_message(&message);
        if session.flush().is_err() {
            return;
        }
        output.line_entered();
    }
}

/// The reading half: runs on the calling thread until the connection is over.
pub struct Reader {
    socket: TcpStream,
    session: Arc<Mutex<Session>>,
    /// Cuts what we receive into frames, to feed them one at a time and for `--trace`.
    incoming: FrameSplitter,
    /// Bytes received since the handshake.
    received: u64,
    /// `--trace`: print every frame received.
    trace: bool,
    /// `--echo`: send every message back instead of printing it.
    echo: bool,
    /// Where messages and traced frames are printed.
    output: Output,
    ending: Option<Ending>,
    /// When the state machine reached `Closed`, as first seen by the reader.
    closed_at: Option<Instant>,
}

impl Reader {
    /// A reader of `socket` feeding `session`, printing to `output`.
    pub fn new(
        socket: TcpStream,
        session: Arc<Mutex<Session>>,
        trace: bool,
        echo: bool,
        output: Output,
    ) -> Self {
        // With --trace, compressed messages are also shown inflated (RFC 7692 §6.2).
        let deflate = lock(&session).conn().deflate_params().filter(|_| trace);
        Self {
            socket,
            session,
            incoming: FrameSplitter::new().with_deflate_params(deflate, Role::Server),
            received: 0,
            trace,
            echo,
            output,
            ending: None,
            closed_at: None,
        }
    }

    /// Feeds `first` (bytes that came with the handshake response), then everything the socket
    /// delivers, until the server closes TCP or a deadline passes. Closes the socket.
    ///
    /// Returns how the WebSocket connection ended; `None` if TCP ended before any Close.
    ///
    /// # Errors
    ///
    /// [`Error::NoCloseReply`] if the server does not answer our Close in time, or the socket's
    /// error.
    pub fn run(mut self, first: &[u8]) -> Result<Option<Ending>, Error> {
        let result = self.read_until_closed(first);
        let _ = self.socket.shutdown(Shutdown::Both);
        result.map(|()| self.ending)
    }

    fn read_until_closed(&mut self, first: &[u8]) -> Result<(), Error> {
        self.socket.set_read_timeout(Some(TICK))?;
        self.receive(first)?;
        let mut buf = vec![0; READ_BUFFER_BYTES];
        loop {
            match self.socket.read(&mut buf) {
                // §7.1.1: the server closed the TCP connection; for us, that is the end.
                Ok(0) => return Ok(()),
                Ok(n) => self.receive(buf.get(..n).unwrap_or_default())?,
                Err(error) if is_timeout(&error) => {}
                Err(error) if is_gone(&error) => return Ok(()),
                Err(error) => return Err(error.into()),
            }
            if self.waited_long_enough()? {
                return Ok(());
            }
        }
    }

    /// Whether the close handshake is over and the server had its [`TCP_CLOSE_WAIT`] to close
    /// TCP first.
    ///
    /// # Errors
    ///
    /// [`Error::NoCloseReply`] once our Close has waited [`CLOSE_REPLY_TIMEOUT`].
    fn waited_long_enough(&mut self) -> Result<bool, Error> {
        let now = Instant::now();
        let session = lock(&self.session);
        match session.conn.state() {
            State::Open => Ok(false),
            State::CloseSent => match session.close_sent_at {
                Some(sent) if now.duration_since(sent) >= CLOSE_REPLY_TIMEOUT => {
                    Err(Error::NoCloseReply {
                        waited_secs: CLOSE_REPLY_TIMEOUT.as_secs(),
                    })
                }
                _ => Ok(false),
            },
            State::Closed => {
                let since = *self.closed_at.get_or_insert(now);
                Ok(now.duration_since(since) >= TCP_CLOSE_WAIT)
            }
        }
    }

    /// Feeds `bytes` to the state machine one frame at a time, acting on each frame's events
    /// before the next frame goes in.
    ///
    /// That is how a client reading frame by frame behaves, and it matters at the end: if a
    /// message and a broken frame arrive in one read, the message is answered (echoed) before
    /// the broken frame fails the connection, as it would have been had they come one by one.
    /// After the Close that a failure sends, no data frame may follow (§5.5.1, §7.1.7).
    fn receive(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let chunk_start = self.received;
        self.received += bytes.len() as u64;
        let mut fed = 0;
        for frame in self.incoming.feed(bytes) {
            if self.trace {
                trace_frames(&self.output, "<<", std::slice::from_ref(&frame));
            }
            let end = (frame.offset + frame.header.len() as u64)
                .saturating_add(frame.payload_len)
                .saturating_sub(chunk_start);
            let end = usize::try_from(end).unwrap_or(bytes.len()).min(bytes.len());
            self.process(bytes.get(fed..end).unwrap_or_default())?;
            fed = end;
        }
        // The start of a frame still arriving: the state machine reads it as it comes (a Text
        // frame's invalid UTF-8 fails the connection before the frame ends, §8.1).
        self.process(bytes.get(fed..).unwrap_or_default())
    }

    /// Runs `bytes` through the state machine, acts on the events, writes the replies.
    fn process(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut session = lock(&self.session);
        session.conn.receive_data(bytes);
        while let Some(event) = session.conn.next_event() {
            match event {
                Event::Message(message) if self.echo => session.conn.send_message(&message),
                Event::Message(message) => self.output.received(&show_message(&message)),
                Event::Ping(payload) if !self.echo => {
                    self.output.received(&format!("[ping] {}", show(&payload)));
                }
                Event::Pong(payload) if !self.echo => {
                    self.output.received(&format!("[pong] {}", show(&payload)));
                }
                Event::Closed(close) => {
                    if !self.echo {
                        self.output.received(&show_close(&close));
                    }
                    self.ending = Some(Ending::Closed(close));
                }
                Event::Failed { error, .. } => self.ending = Some(Ending::Failed(error)),
                Event::Ping(_) | Event::Pong(_) | Event::Frame { .. } => {}
            }
        }
        match session.flush() {
            // The server went away while we wrote: the next read says how.
            Err(error) if is_gone(&error) => Ok(()),
            result => Ok(result?),
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Whether the error means the peer closed or reset the connection.
fn is_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// Prints each frame's anatomy on `output`, every line after `direction` (`>>` or `<<`).
pub fn trace_frames(output: &Output, direction: &str, frames: &[FrameAnatomy]) {
    let frames: Vec<String> = frames.iter().map(ToString::to_string).collect();
    output.trace(direction, frames.iter().flat_map(|frame| frame.lines()));
}

/// A message as printed: Text as it is, Binary as hex after a `[binary N bytes]` prefix.
pub fn show_message(message: &Message) -> String {
    match message {
        Message::Text(text) => text.clone(),
        Message::Binary(bytes) => format!("[binary {} bytes] {}", bytes.len(), hex(bytes)),
    }
}

/// A control frame's payload: as text if it is UTF-8, else as hex.
fn show(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) => format!("{text:?}"),
        Err(_) => hex(payload),
    }
}

/// The server's Close, as printed: `[close] 1000 (normal closure) "bye"`.
pub fn show_close(close: &CloseFrame) -> String {
    match close.code {
        Some(code) => format!("[close] {code} {:?}", close.reason),
        None => "[close] no status code (1005)".to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes
        .iter()
        .take(SHOWN_BINARY_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect();
    let more = if bytes.len() > SHOWN_BINARY_BYTES {
        " …"
    } else {
        ""
    };
    format!("{}{more}", shown.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_messages_are_shown_as_hex_with_their_length() {
        let shown = show_message(&Message::Binary(vec![0x00, 0xff, 0x10]));
        assert_eq!(shown, "[binary 3 bytes] 00 ff 10");
        assert_eq!(show_message(&Message::Text("Hello".into())), "Hello");
    }

    #[test]
    fn long_binary_messages_are_cut_for_display() {
        let shown = show_message(&Message::Binary(vec![7; SHOWN_BINARY_BYTES + 1]));
        assert!(shown.ends_with("07 …"), "{shown}");
    }

    #[test]
    fn close_frames_show_code_name_and_reason() {
        let close = CloseFrame {
            code: Some(CloseCode(4000)),
            reason: "bye".into(),
        };
        assert_eq!(show_close(&close), "[close] 4000 (private use) \"bye\"");
    }
}
