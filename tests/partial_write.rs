//! The fan-out's write that cannot wait, over real sockets: a client with a tiny receive window
//! that reads slowly makes the server's send buffer fill, so the hub's writes go out in pieces
//! and their unsent tails are finished by the connection's writer. Every broadcast byte must
//! still arrive, in order and intact, and the Pongs the client asks for meanwhile must arrive
//! whole, between frames, never inside one (RFC 6455 §5.4: control frames may be injected in
//! the middle of a fragmented message, never in the middle of a frame).

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use socket2::{Domain, Protocol, Socket, Type};
use support::{masked_frame, parse_server_frame, upgrade_request, RawClient, TestServer, TIMEOUT};

/// Messages broadcast in the test.
const MESSAGES: usize = 600;
/// Their size: not a divisor of any buffer size, so writes end mid-frame.
const SIZE: usize = 1499;
/// The slow client's receive buffer (the kernel rounds it up to its minimum).
const RECEIVE_BUFFER: usize = 2048;
/// What the slow client reads per message sent: less than a message, so it falls behind.
const READ_CHUNK: usize = 700;
/// A Ping every this many messages.
const PING_EVERY: usize = 25;

/// Payload `index`: its number, then bytes that depend on it.
fn payload(index: usize) -> Vec<u8> {
    let mut bytes = (index as u64).to_be_bytes().to_vec();
    bytes.extend((8..SIZE).map(|i| (i * 7 + index * 13) as u8));
    bytes
}

/// A client whose socket has a tiny receive buffer, set before it connects so that the
/// window it advertises is small from the first segment.
struct SlowClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl SlowClient {
    fn connect(addr: SocketAddr) -> Self {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
        socket
            .set_recv_buffer_size(RECEIVE_BUFFER)
            .expect("SO_RCVBUF");
        socket.connect(&addr.into()).expect("connect");
        let mut stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream
            .write_all(upgrade_request("/broadcast", "").as_bytes())
            .expect("handshake");
        let mut client = Self {
            stream,
            buf: Vec::new(),
        };
        while !client.buf.windows(4).any(|w| w == b"\r\n\r\n") {
            client.read_some(4096);
        }
        let end = client
            .buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head end");
        let head: Vec<u8> = client.buf.drain(..end + 4).collect();
        assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
        client
    }

    /// One read of at most `limit` bytes.
    fn read_some(&mut self, limit: usize) {
        support::read_some(&mut self.stream, &mut self.buf, limit);
    }
}

#[test]
fn a_slow_reader_with_a_tiny_window_gets_every_broadcast_byte_in_order_with_whole_pongs() {
    let server = TestServer::start();
    let mut slow = SlowClient::connect(server.addr);
    let mut sender = RawClient::connect(server.addr, "/broadcast?self=false");
    server.wait_for_hub_clients(2);

    let mut pings = Vec::new();
    for index in 0..MESSAGES {
        sender.send_frame(true, 0x2, &payload(index));
        if index % PING_EVERY == 0 {
            let ping = format!("ping {index}");
            slow.stream
                .write_all(&masked_frame(true, 0x9, ping.as_bytes()))
                .expect("ping");
            pings.push(ping);
        }
        slow.read_some(READ_CHUNK);
    }

    let (mut next, mut pongs) = (0, Vec::new());
    while next < MESSAGES || pongs.len() < pings.len() {
        let Some((frame, used)) = parse_server_frame(&slow.buf) else {
            slow.read_some(64 * 1024);
            continue;
        };
        slow.buf.drain(..used);
        assert!(frame.fin, "an unfragmented message");
        match frame.opcode {
            0x2 => {
                assert!(next < MESSAGES, "more messages than were sent");
                assert!(
                    frame.payload == payload(next),
                    "message {next} corrupted or out of order"
                );
                next += 1;
            }
            0xA => pongs.push(String::from_utf8(frame.payload).expect("our Ping's payload")),
            other => panic!("unexpected opcode {other:#x} after {next} messages"),
        }
    }
    assert_eq!(pongs, pings, "each Ping answered once, in order (§5.5.3)");
    assert!(slow.buf.is_empty(), "nothing after the last frame");
}
