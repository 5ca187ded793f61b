//! Shared helpers for the integration tests: a real server on a free loopback port, and a raw
//! client that writes hand-built frames (for the malformed cases no real client would send).
//!
//! Every read has a timeout, so a bug fails a test instead of hanging it.
#![allow(dead_code)] // each test file uses a different part

pub mod probe;
pub mod process;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wsmith::config::Config;
use wsmith::server::{Server, Shared, ShutdownHandle};

/// How long any single read in a test may wait.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The server under test, running on its own thread; shut down on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server with the default configuration on `127.0.0.1:0`, serving the repo's `www/`.
    pub fn start() -> Self {
        Self::with(|_| {})
    }

    /// A server whose configuration `adjust` changes first.
    pub fn with(adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config {
            addr: "127.0.0.1:0".parse().expect("address"),
            www: concat!(env!("CARGO_MANIFEST_DIR"), "/www").into(),
            ..Config::default()
        };
        adjust(&mut config);
        let server = Server::bind(config).expect("bind the test server");
        let addr = server.local_addr().expect("local address");
        let shutdown = server.shutdown_handle().expect("shutdown handle");
        let shared = Arc::clone(server.shared());
        let thread = std::thread::spawn(move || server.run().expect("server runs"));
        Self {
            addr,
            shared,
            shutdown,
            thread: Some(thread),
        }
    }

    /// Waits until the hub has registered `expected` clients (bounded by [`TIMEOUT`]).
    pub fn wait_for_hub_clients(&self, expected: usize) {
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let count = self
                .shared
                .hub_client_count(TIMEOUT)
                .expect("the hub answers Count");
            if count == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the hub has {count} clients, expected {expected}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Begins a graceful shutdown (as SIGTERM does) without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.shutdown();
    }

    /// `ws://127.0.0.1:PORT{path}`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `condition` every few milliseconds until it holds; fails the test after `bound`.
/// Returns how long it took.
pub fn wait_until(what: &str, bound: Duration, mut condition: impl FnMut() -> bool) -> Duration {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// Sends `request` as-is and returns everything the server answers until it closes (or 5 s).
pub fn http_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(request).expect("write request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of an HTTP answer.
pub fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A valid upgrade request for `path` (RFC 6455 §1.3's key).
pub fn upgrade_request(path: &str, extra_headers: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    )
}

/// A frame as the raw client read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// For a Close frame: the code and reason.
    pub fn close_code(&self) -> Option<u16> {
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn close_reason(&self) -> String {
        String::from_utf8_lossy(self.payload.get(2..).unwrap_or_default()).into_owned()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.payload.clone()).expect("utf-8 payload")
    }
}

/// One read of at most `limit` bytes from `stream`, appended to `buf`; panics if it timed out
/// or the server closed the connection.
pub fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>, limit: usize) {
    let mut chunk = vec![0; limit];
    let n = stream
        .read(&mut chunk)
        .expect("read from server (timed out?)");
    assert!(n > 0, "server closed the connection");
    buf.extend_from_slice(&chunk[..n]);
}

/// A WebSocket client that writes whatever bytes a test builds, and reads frames back.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// The masking key the raw client uses (§5.7's).
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked frame built by hand, independent of the server's encoder.
pub fn masked_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend(KEY);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    frame
}

impl RawClient {
    /// Connects and completes the opening handshake at `path`; panics unless the answer is 101.
    pub fn connect(addr: SocketAddr, path: &str) -> Self {
        Self::connect_with(addr, path, "")
    }

    /// [`RawClient::connect`] with extra header lines (each ending in `\r\n`) in the request.
    pub fn connect_with(addr: SocketAddr, path: &str, extra_headers: &str) -> Self {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream
            .write_all(upgrade_request(path, extra_headers).as_bytes())
            .expect("write handshake");
        let mut client = Self {
            stream,
            buf: Vec::new(),
        };
        let head = client.read_until_head_end();
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "expected 101, got {head:?}"
        );
        assert!(
            head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "{head}"
        );
        client
    }

    fn read_until_head_end(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8_lossy(&head).into_owned();
            }
            self.fill();
        }
    }

    fn fill(&mut self) {
        read_some(&mut self.stream, &mut self.buf, 65536);
    }

    /// Writes bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Writes one masked frame.
    pub fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.send_raw(&masked_frame(fin, opcode, payload));
    }

    /// Writes a masked Text frame.
    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, 0x1, text.as_bytes());
    }

    /// Reads the next frame (server frames are never masked; a masked one fails the test).
    pub fn read_frame(&mut self) -> RawFrame {
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return frame;
            }
            self.fill();
        }
    }

    /// [`RawClient::connect`] that says why instead of panicking (for the attack suite's probe,
    /// which reports a refused connection as a loss).
    pub fn try_connect(addr: SocketAddr, path: &str) -> std::io::Result<Self> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.write_all(upgrade_request(path, "").as_bytes())?;
        let mut client = Self {
            stream,
            buf: Vec::new(),
        };
        loop {
            if let Some(end) = client.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = client.buf.drain(..end + 4).collect();
                let head = String::from_utf8_lossy(&head);
                if !head.starts_with("HTTP/1.1 101") {
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    return Err(std::io::Error::other(format!("refused: {line}")));
                }
                return Ok(client);
            }
            client.try_fill()?;
        }
    }

    /// One read into the buffer; an error for a timeout or a closed connection.
    fn try_fill(&mut self) -> std::io::Result<()> {
        let mut chunk = vec![0; 65536];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// [`RawClient::read_text`] that says why instead of panicking.
    pub fn try_read_text(&mut self) -> std::io::Result<String> {
        loop {
            let frame = loop {
                if let Some((frame, used)) = parse_server_frame(&self.buf) {
                    self.buf.drain(..used);
                    break frame;
                }
                self.try_fill()?;
            };
            match frame.opcode {
                0x1 => return Ok(frame.text()),
                0x9 => self.send_frame(true, 0xA, &frame.payload),
                0xA => continue,
                other => {
                    let why = format!("opcode {other:#x} ({:?})", frame.close_code());
                    return Err(std::io::Error::other(why));
                }
            }
        }
    }

    /// Reads JSON events until one of type `kind` (at most 100 others); an error if none came.
    pub fn try_next_event_of_type(&mut self, kind: &str) -> std::io::Result<()> {
        for _ in 0..100 {
            let text = self.try_read_text()?;
            let event: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if event["type"] == kind {
                return Ok(());
            }
        }
        Err(std::io::Error::other(format!(
            "no {kind} event within 100 events"
        )))
    }

    /// Reads frames until a Text one, answering Pings (the server's keepalive) as a real
    /// client would.
    pub fn read_text(&mut self) -> String {
        loop {
            let frame = self.read_frame();
            match frame.opcode {
                0x1 => return frame.text(),
                0x9 => self.send_frame(true, 0xA, &frame.payload),
                0xA => continue,
                other => panic!("expected a text frame, got opcode {other:#x}: {frame:?}"),
            }
        }
    }

    /// Reads Text messages as JSON until one whose `type` is `kind` (skipping at most ten
    /// others, e.g. a `history` replay on connect).
    pub fn next_event_of_type(&mut self, kind: &str) -> serde_json::Value {
        for _ in 0..10 {
            let event: serde_json::Value =
                serde_json::from_str(&self.read_text()).expect("JSON event");
            if event["type"] == kind {
                return event;
            }
        }
        panic!("no {kind} event within 10 events");
    }

    /// Reads until a Close frame and returns it.
    pub fn expect_close(&mut self) -> RawFrame {
        loop {
            let frame = self.read_frame();
            if frame.opcode == 0x8 {
                return frame;
            }
        }
    }

    /// Asserts the server closes the TCP connection (read returns 0 or a reset) within 5 s.
    pub fn expect_eof(&mut self) {
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(_) => continue, // frames still in flight
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("server did not close TCP within {TIMEOUT:?}")
                }
                Err(_) => return, // a reset is a close too
            }
        }
    }
}

/// Parses one unmasked frame from the front of `buf`; `None` until it holds a whole frame.
pub fn parse_server_frame(buf: &[u8]) -> Option<(RawFrame, usize)> {
    let (b0, b1) = (*buf.first()?, *buf.get(1)?);
    let (len, mut at) = match b1 & 0x7F {
        126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let masked = b1 & 0x80 != 0;
    assert!(!masked, "§5.1: a server must not mask frames");
    if masked {
        at += 4;
    }
    let payload = buf.get(at..at + len)?.to_vec();
    Some((
        RawFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0F,
            masked,
            payload,
        },
        at + len,
    ))
}

/// Whether an Inspector connecting to `addr` with `fields` (extra request header lines, each
/// ending in `\r\n`) may list the connections: `connections` (allowed) or `error` (refused).
pub fn inspector_may_list(addr: SocketAddr, fields: &str) -> bool {
    let mut inspector = RawClient::connect_with(addr, "/inspect", fields);
    inspector.send_text(r#"{"type":"list"}"#);
    for _ in 0..10 {
        let event: serde_json::Value =
            serde_json::from_str(&inspector.read_text()).expect("JSON event");
        match event["type"].as_str() {
            Some("connections") => return true,
            Some("error") => return false,
            _ => continue,
        }
    }
    panic!("no answer to list");
}
