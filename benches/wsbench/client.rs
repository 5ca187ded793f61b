//! The load client: the client side of RFC 6455 written by hand over `std::net`, cheap on
//! purpose, so that the servers and not the client are what is measured.
//!
//! - The opening handshake (§4.1) is one `write` of a fixed request and one read of the 101;
//!   the `Sec-WebSocket-Accept` key is checked with tungstenite's `derive_accept_key`, an
//!   implementation independent of wsmith's.
//! - Frames are encoded and masked (§5.3) **once**, before the clock starts, and written
//!   straight from those buffers; a window of messages is pipelined per connection.
//! - Server frames are parsed in place from a growable buffer ([`FrameReader`]): no copy, no
//!   allocation per message; the payload is compared with what was sent.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::ops::Range;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket as Socket2, Type};
use tungstenite::handshake::client::generate_key;
use tungstenite::handshake::derive_accept_key;

/// The masking key of every client frame. §10.3 asks a browser for a fresh, unpredictable key
/// per frame, to defeat cache poisoning through proxies; a load client on loopback can use one
/// fixed key, so that frames can be masked once, before the clock starts.
pub const MASKING_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// §5.2 opcodes.
pub const TEXT: u8 = 0x1;
/// §5.2 opcodes.
pub const BINARY: u8 = 0x2;
/// §5.2 opcodes.
pub const CLOSE: u8 = 0x8;
/// §5.2 opcodes.
pub const PING: u8 = 0x9;
/// How long any read may block before the benchmark calls the server stuck.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// An error for something the server sent that it should not have.
pub fn wrong(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

/// One whole masked client frame (FIN set) carrying `payload` (§5.2, §5.3).
pub fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASKING_KEY);
    let start = frame.len();
    frame.extend_from_slice(payload);
    mask(&mut frame[start..]);
    frame
}

/// XORs `bytes` with [`MASKING_KEY`] from payload offset 0 (§5.3), the plain way.
pub fn mask(bytes: &mut [u8]) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte ^= MASKING_KEY[i % 4];
    }
}

/// A frame the server sent, located in a [`FrameReader`]'s buffer.
#[derive(Debug, Clone)]
pub struct Frame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1: the message is compressed (RFC 7692 §6), allowed only after [`FrameReader::allow_rsv1`].
    pub rsv1: bool,
    /// Bytes of the whole frame on the wire, header included.
    pub wire_len: usize,
    /// The opcode.
    pub opcode: u8,
    /// Where its payload is in the reader's buffer (valid until the next `fill`).
    pub payload: Range<usize>,
}

/// Unmasked server frames parsed in place from a buffer that grows to the largest frame.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes the frame at `start` needs in all, once its header is known.
    need: usize,
    /// permessage-deflate was agreed: RSV1 is allowed (RFC 7692 §6).
    rsv1_allowed: bool,
}

impl FrameReader {
    /// A reader whose buffer starts with `leftover` (bytes read past the 101 response).
    pub fn new(capacity: usize, leftover: &[u8]) -> Self {
        let mut buf = vec![0; capacity.max(leftover.len() * 2).max(64)];
        buf[..leftover.len()].copy_from_slice(leftover);
        Self {
            buf,
            start: 0,
            end: leftover.len(),
            need: 0,
            rsv1_allowed: false,
        }
    }

    /// permessage-deflate was agreed: accept RSV1 on the first frame of a message (RFC 7692 §6).
    pub fn allow_rsv1(&mut self) {
        self.rsv1_allowed = true;
    }

    /// Reads once from `stream` into the buffer; returns what `read` returned.
    pub fn fill(&mut self, mut stream: &TcpStream) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() || self.need > self.buf.len() {
            let size = self.need.max(self.buf.len() * 2);
            self.buf.resize(size, 0);
        }
        let n = stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// The next whole frame in the buffer, if there is one; checks the rules a server must
    /// follow (§5.1: no mask; §5.2: no RSV bits without an extension).
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        let available = &self.buf[self.start..self.end];
        let [first, second, ..] = *available else {
            return Ok(None);
        };
        if second & 0x80 != 0 {
            return Err(wrong("§5.1: the server masked a frame"));
        }
        let allowed = if self.rsv1_allowed { 0x30 } else { 0x70 };
        if first & allowed != 0 {
            return Err(wrong("§5.2: the server set RSV bits"));
        }
        let (header_len, payload_len) = match second & 0x7F {
            126 => match available.get(2..4) {
                Some(len) => (4, u64::from(u16::from_be_bytes([len[0], len[1]]))),
                None => return Ok(None),
            },
            127 => match available.get(2..10) {
                Some(len) => {
                    let mut bytes = [0; 8];
                    bytes.copy_from_slice(len);
                    (10, u64::from_be_bytes(bytes))
                }
                None => return Ok(None),
            },
            short => (2, u64::from(short)),
        };
        let total = header_len + usize::try_from(payload_len).map_err(wrong_len)?;
        if available.len() < total {
            self.need = total;
            return Ok(None);
        }
        self.need = 0;
        let payload = self.start + header_len..self.start + total;
        self.start += total;
        Ok(Some(Frame {
            fin: first & 0x80 != 0,
            rsv1: first & 0x40 != 0,
            wire_len: total,
            opcode: first & 0x0F,
            payload,
        }))
    }

    /// The payload of `frame`.
    pub fn payload(&self, frame: &Frame) -> &[u8] {
        &self.buf[frame.payload.clone()]
    }
}

fn wrong_len(_: std::num::TryFromIntError) -> io::Error {
    wrong("frame length does not fit in memory")
}

/// An open WebSocket connection of the load client.
#[derive(Debug)]
pub struct Socket {
    /// The TCP stream (blocking, `TCP_NODELAY`, with [`READ_TIMEOUT`]).
    pub stream: TcpStream,
    /// Frames from the server.
    pub reader: FrameReader,
}

/// Connects to `addr` and performs the opening handshake for `path` (§4.1), checking the 101
/// and its `Sec-WebSocket-Accept` (§4.2.2, §1.3).
pub fn open(addr: SocketAddr, path: &str, read_capacity: usize) -> io::Result<Socket> {
    upgrade(TcpStream::connect(addr)?, addr, path, "", read_capacity).map(|(socket, _)| socket)
}

/// [`open`] offering `Sec-WebSocket-Extensions: offer` (RFC 6455 §9.1); returns the socket and
/// the server's `Sec-WebSocket-Extensions` answer (empty when it declined).
pub fn open_offering(
    addr: SocketAddr,
    path: &str,
    offer: &str,
    read_capacity: usize,
) -> io::Result<(Socket, String)> {
    let extra = format!("Sec-WebSocket-Extensions: {offer}\r\n");
    upgrade(TcpStream::connect(addr)?, addr, path, &extra, read_capacity)
}

/// [`open`] from the local address `source` (any port): one source address has only about
/// 28,000 ephemeral ports towards one server address, so tens of thousands of connections
/// need several (the whole 127.0.0.0/8 is loopback).
pub fn open_from(
    addr: SocketAddr,
    source: IpAddr,
    path: &str,
    read_capacity: usize,
) -> io::Result<Socket> {
    let socket = Socket2::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect(&addr.into())?;
    upgrade(socket.into(), addr, path, "", read_capacity).map(|(socket, _)| socket)
}

/// The opening handshake's request for `path` (§4.1), and the `Sec-WebSocket-Accept` value
/// the server must answer with (§4.2.2).
pub fn upgrade_request(addr: SocketAddr, path: &str) -> (String, String) {
    let key = generate_key();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    (request, derive_accept_key(key.as_bytes()))
}

/// The opening handshake on a connected stream, with `extra` header lines (each ending in
/// CRLF); returns the socket and the response's `Sec-WebSocket-Extensions`.
fn upgrade(
    mut stream: TcpStream,
    addr: SocketAddr,
    path: &str,
    extra: &str,
    read_capacity: usize,
) -> io::Result<(Socket, String)> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let (request, accept) = upgrade_request(addr, path);
    let request = match request.strip_suffix("\r\n") {
        Some(head) if !extra.is_empty() => format!("{head}{extra}\r\n"),
        _ => request,
    };
    stream.write_all(request.as_bytes())?;
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(wrong(format!("{path}: closed during the handshake")));
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if head.len() > 8192 {
            return Err(wrong(format!("{path}: response head over 8 KiB")));
        }
    };
    check_101(&head[..end], &accept, path)?;
    let extensions = String::from_utf8_lossy(&head[..end])
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    let socket = Socket {
        reader: FrameReader::new(read_capacity, &head[end..]),
        stream,
    };
    Ok((socket, extensions))
}

/// §4.2.2 as a client sees it: status 101, and the accept key derived from our key.
pub fn check_101(head: &[u8], accept: &str, path: &str) -> io::Result<()> {
    let head = std::str::from_utf8(head).map_err(|_| wrong("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101 ") {
        return Err(wrong(format!("{path}: expected 101, got {status:?}")));
    }
    let accepted = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == accept
        })
    });
    if !accepted {
        return Err(wrong(format!(
            "{path}: missing or wrong Sec-WebSocket-Accept"
        )));
    }
    Ok(())
}

/// The Close frame with status 1000 (§7.4.1 normal closure), masked.
pub fn close_frame() -> Vec<u8> {
    masked_frame(CLOSE, &1000u16.to_be_bytes())
}

/// The closing handshake from the client (§7.1.2, §7.1.1): send Close 1000, expect the
/// server's Close 1000, then the server closes TCP first (read returns 0). Data frames still
/// in flight are an error: every scenario drains its replies before closing.
pub fn close(socket: &mut Socket) -> io::Result<()> {
    socket.stream.write_all(&close_frame())?;
    expect_close_reply(socket)
}

/// After our Close went out: read the server's Close 1000, then end of stream.
pub fn expect_close_reply(socket: &mut Socket) -> io::Result<()> {
    loop {
        while let Some(frame) = socket.reader.next_frame()? {
            match frame.opcode {
                CLOSE => {
                    let payload = socket.reader.payload(&frame);
                    if payload.get(..2) != Some(&[0x03, 0xE8][..]) {
                        return Err(wrong(format!("close reply {payload:?} is not 1000")));
                    }
                    return expect_end_of_stream(socket);
                }
                PING => {} // a keepalive; the connection is closing anyway
                other => return Err(wrong(format!("opcode {other} after our Close"))),
            }
        }
        if socket.reader.fill(&socket.stream)? == 0 {
            return Err(wrong("TCP closed before the close reply"));
        }
    }
}

/// Reads more from the server; `Ok(None)` when the read timed out (the caller decides whether
/// to keep waiting), `Ok(Some(0))` when the server closed the connection.
pub fn fill_unless_timed_out(socket: &mut Socket) -> io::Result<Option<usize>> {
    match socket.reader.fill(&socket.stream) {
        Ok(n) => Ok(Some(n)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// §7.1.1: "the server SHOULD close the underlying TCP connection first" — wait for it, so
/// the TIME_WAIT state stays on the server and the client's ports are not used up.
pub fn expect_end_of_stream(socket: &mut Socket) -> io::Result<()> {
    loop {
        match socket.reader.fill(&socket.stream) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                if socket.reader.next_frame()?.is_some() {
                    return Err(wrong("a frame after the close reply"));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
