//! `/broadcast` (and a bare `/`) over real sockets: verbatim relays to every client, `?self=false`,
//! and 200 clients receiving 100 messages from 4 concurrent senders in one shared order.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{masked_frame, RawClient, TestServer, TIMEOUT};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Tungstenite = WebSocket<MaybeTlsStream<TcpStream>>;

/// A tungstenite client at `path` whose reads time out.
fn tungstenite_client(server: &TestServer, path: &str) -> Tungstenite {
    let (ws, response) = tungstenite::connect(server.ws_url(path)).expect("handshake");
    assert_eq!(response.status(), 101);
    match ws.get_ref() {
        MaybeTlsStream::Plain(stream) => stream.set_read_timeout(Some(TIMEOUT)).expect("timeout"),
        _ => unreachable!("plain ws:// URL"),
    }
    ws
}

/// The next data message of a tungstenite client (Pings are answered by tungstenite itself).
fn next_data(ws: &mut Tungstenite) -> Message {
    loop {
        match ws.read().expect("a message within the timeout") {
            Message::Ping(_) | Message::Pong(_) => continue,
            message => return message,
        }
    }
}

/// Either kind of client, read the same way: the next data message as (opcode, bytes).
enum Client {
    Raw(RawClient),
    Tungstenite(Box<Tungstenite>),
}

impl Client {
    fn next_text(&mut self) -> String {
        match self {
            Client::Raw(raw) => raw.read_text(),
            Client::Tungstenite(ws) => match next_data(ws) {
                Message::Text(text) => text,
                other => panic!("expected text, got {other:?}"),
            },
        }
    }
}

#[test]
fn text_and_binary_reach_every_client_including_the_sender_verbatim() {
    let server = TestServer::start();
    let mut sender = RawClient::connect(server.addr, "/broadcast");
    let mut raw_listener = RawClient::connect(server.addr, "/broadcast");
    let mut ws_listener = tungstenite_client(&server, "/broadcast");
    server.wait_for_hub_clients(3);
    let messages: [(u8, Vec<u8>); 5] = [
        (0x1, "Hello".into()),
        (0x1, "κόσμε 𝄞".into()),
        (0x2, vec![0, 1, 2, 255]),
        (0x2, (0..70_000u32).map(|i| (i % 251) as u8).collect()),
        (0x1, Vec::new()),
    ];
    for (opcode, payload) in &messages {
        sender.send_frame(true, *opcode, payload);
        for client in [&mut sender, &mut raw_listener] {
            let frame = client.read_frame();
            assert_eq!(
                (frame.fin, frame.opcode, frame.payload.len()),
                (true, *opcode, payload.len())
            );
            assert!(frame.payload == *payload, "bytes changed on the way");
        }
        let expected = match opcode {
            0x1 => Message::Text(String::from_utf8(payload.clone()).expect("utf-8")),
            _ => Message::Binary(payload.clone()),
        };
        assert_eq!(next_data(&mut ws_listener), expected);
    }
}

#[test]
fn a_fragmented_message_is_relayed_whole() {
    let server = TestServer::start();
    let mut sender = RawClient::connect(server.addr, "/broadcast");
    let mut listener = RawClient::connect(server.addr, "/broadcast");
    server.wait_for_hub_clients(2);
    sender.send_frame(false, 0x2, b"\x00\x01");
    sender.send_frame(false, 0x0, b"\x02");
    sender.send_frame(true, 0x0, b"\x03\xff");
    let frame = listener.read_frame();
    assert_eq!(
        (frame.fin, frame.opcode, frame.payload),
        (true, 0x2, vec![0, 1, 2, 3, 255])
    );
}

#[test]
fn self_false_leaves_the_sender_out_of_its_own_relays() {
    let server = TestServer::start();
    let mut quiet = RawClient::connect(server.addr, "/broadcast?self=false");
    let mut other = RawClient::connect(server.addr, "/broadcast");
    server.wait_for_hub_clients(2);
    quiet.send_text("from quiet");
    assert_eq!(other.read_text(), "from quiet");
    // The hub has relayed "from quiet" already; the quiet client's next frame must be this one.
    other.send_text("from other");
    assert_eq!(other.read_text(), "from other");
    assert_eq!(quiet.read_text(), "from other");
}

#[test]
fn a_bare_slash_upgrade_joins_the_same_group_as_broadcast() {
    let server = TestServer::start();
    // The tutorials' `new WebSocket('ws://localhost:8080')`.
    let mut root = RawClient::connect(server.addr, "/");
    let mut named = tungstenite_client(&server, "/broadcast");
    server.wait_for_hub_clients(2);
    root.send_text("from /");
    assert_eq!(root.read_text(), "from /");
    assert_eq!(next_data(&mut named), Message::text("from /"));
    named.send(Message::text("from /broadcast")).expect("send");
    assert_eq!(next_data(&mut named), Message::text("from /broadcast"));
    assert_eq!(root.read_text(), "from /broadcast");
}

#[test]
fn two_hundred_clients_each_receive_all_messages_of_four_senders_in_one_order() {
    const CLIENTS: usize = 200;
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 25;
    let started = Instant::now();
    let server = TestServer::start();
    // Every other client is tungstenite, so the relay is checked by two independent decoders.
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|i| match i % 2 {
            0 => Client::Raw(RawClient::connect(server.addr, "/broadcast")),
            _ => Client::Tungstenite(Box::new(tungstenite_client(&server, "/broadcast"))),
        })
        .collect();
    server.wait_for_hub_clients(CLIENTS);

    // The senders are clients 0, 2, 4, 6 (raw); each writes its 25 frames from its own thread.
    let writers: Vec<TcpStream> = (0..SENDERS)
        .map(|s| match &clients[2 * s] {
            Client::Raw(raw) => raw.stream.try_clone().expect("clone the socket"),
            Client::Tungstenite(_) => unreachable!("even clients are raw"),
        })
        .collect();
    let threads: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(s, mut stream)| {
            std::thread::spawn(move || {
                for m in 0..PER_SENDER {
                    let text = format!("sender {s} message {m}");
                    stream
                        .write_all(&masked_frame(true, 0x1, text.as_bytes()))
                        .expect("send");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("sender thread");
    }

    let total = SENDERS * PER_SENDER;
    let mut first_order: Option<Vec<String>> = None;
    for (i, client) in clients.iter_mut().enumerate() {
        let received: Vec<String> = (0..total).map(|_| client.next_text()).collect();
        let mut next_of: HashMap<usize, usize> = HashMap::new();
        for text in &received {
            let (s, m) = parse_tag(text);
            let next = next_of.entry(s).or_default();
            assert_eq!(m, *next, "client {i}: sender {s}'s messages out of order");
            *next += 1;
        }
        assert_eq!(next_of.len(), SENDERS, "client {i}: a sender is missing");
        assert!(next_of.values().all(|&n| n == PER_SENDER), "client {i}");
        match &first_order {
            None => first_order = Some(received),
            Some(order) => assert!(*order == received, "client {i} saw a different order"),
        }
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

/// `"sender S message M"` → (S, M).
fn parse_tag(text: &str) -> (usize, usize) {
    let words: Vec<&str> = text.split(' ').collect();
    match words.as_slice() {
        ["sender", s, "message", m] => (
            s.parse().expect("sender number"),
            m.parse().expect("message number"),
        ),
        _ => panic!("not a tagged message: {text:?}"),
    }
}
