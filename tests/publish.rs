//! `POST /publish/<channel>` and `/notifications` over real sockets: delivery and recipient
//! counts, the bearer token, the periodic `--notify-every` push, and every refusal status.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use support::{http_exchange, status_of, RawClient, TestServer};

/// Sends `POST {path}` with `body` and extra header lines; returns (status, head, body).
fn post(addr: SocketAddr, path: &str, headers: &str, body: &[u8]) -> (u16, String, String) {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    split_answer(&http_exchange(addr, &request))
}

fn split_answer(answer: &str) -> (u16, String, String) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    (status_of(answer), head.to_owned(), body.to_owned())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// A chat client named `name`, read through its own presence `join` (so the hub has it).
fn chat_client(server: &TestServer, name: &str) -> RawClient {
    let mut client = RawClient::connect(server.addr, &format!("/chat?name={name}"));
    until(&mut client, |e| {
        e["type"] == "presence" && e["name"] == name
    });
    client
}

/// Reads events until one matches, skipping at most 100 others.
fn until(client: &mut RawClient, wanted: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let event = parse(&client.read_text());
        if wanted(&event) {
            return event;
        }
    }
    panic!("no matching event within 100 events");
}

fn subscribe(client: &mut RawClient, channel: &str) {
    client.send_text(&json!({"type": "subscribe", "channel": channel}).to_string());
    until(client, |e| {
        e["type"] == "history" && e["channel"] == channel
    });
}

/// A message event with its `ts` checked and zeroed, for exact comparison.
fn without_ts(mut event: Value) -> Value {
    assert!(event["ts"].as_u64().is_some_and(|ts| ts > 0), "{event}");
    event["ts"] = json!(0);
    event
}

#[test]
fn publish_from_loopback_reaches_every_subscriber_and_counts_them() {
    let server = TestServer::start();
    let mut alice = chat_client(&server, "alice");
    let mut bob = chat_client(&server, "bob");
    let mut carol = chat_client(&server, "carol");
    subscribe(&mut alice, "news");
    subscribe(&mut bob, "news");

    let (status, head, body) = post(
        server.addr,
        "/publish/news",
        "",
        "속보: breaking".as_bytes(),
    );
    assert_eq!(status, 202, "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert_eq!(parse(&body), json!({"channel": "news", "recipients": 2}));
    let expected = json!({"type": "message", "channel": "news", "seq": 1, "from": "server",
                          "text": "속보: breaking", "ts": 0});
    for client in [&mut alice, &mut bob] {
        assert_eq!(
            without_ts(until(client, |e| e["type"] == "message")),
            expected
        );
    }

    // carol is only in general: the next message she sees is this one, not the news.
    let (status, _, body) = post(server.addr, "/publish/general", "", b"to all");
    assert_eq!(
        (status, parse(&body)["recipients"].clone()),
        (202, json!(3))
    );
    let next = until(&mut carol, |e| e["type"] == "message");
    assert_eq!(
        (&next["channel"], &next["text"]),
        (&json!("general"), &json!("to all"))
    );
}

#[test]
fn a_publish_nobody_receives_is_kept_for_later_subscribers() {
    let server = TestServer::with(|c| c.publish_creates = true);
    let (status, _, body) = post(server.addr, "/publish/alerts", "", b"fire drill");
    assert_eq!(
        (status, parse(&body)),
        (202, json!({"channel": "alerts", "recipients": 0}))
    );
    let mut late = RawClient::connect(server.addr, "/chat?name=late");
    let welcome = parse(&late.read_text());
    assert_eq!(welcome["channels"], json!(["alerts", "general"]));
    late.send_text(r#"{"type":"subscribe","channel":"alerts"}"#);
    let history = until(&mut late, |e| {
        e["type"] == "history" && e["channel"] == "alerts"
    });
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
    let kept = &history["messages"][0];
    assert_eq!(
        (&kept["seq"], &kept["from"], &kept["text"]),
        (&json!(1), &json!("server"), &json!("fire drill"))
    );
}

#[test]
fn with_a_token_publishing_needs_the_bearer_header() {
    let server = TestServer::with(|c| {
        c.publish_token = Some("s3cret".into());
        c.publish_creates = true;
    });
    let cases = [
        ("", 401),
        ("Authorization: Bearer wrong\r\n", 401),
        ("Authorization: Basic s3cret\r\n", 401),
        ("Authorization: Bearer s3cret-and-more\r\n", 401),
        ("Authorization: Bearer s3cret\r\n", 202),
    ];
    for (header, expected) in cases {
        let (status, head, body) = post(server.addr, "/publish/news", header, b"hi");
        assert_eq!(status, expected, "{header:?}: {head}\r\n\r\n{body}");
    }
}

#[test]
fn the_bearer_scheme_name_is_case_insensitive() {
    // RFC 9110 §11.1: the authentication scheme is a case-insensitive token.
    let server = TestServer::with(|c| {
        c.publish_token = Some("s3cret".into());
        c.publish_creates = true;
    });
    for header in ["bearer s3cret", "BEARER s3cret"] {
        let line = format!("Authorization: {header}\r\n");
        let (status, head, _) = post(server.addr, "/publish/news", &line, b"hi");
        assert_eq!(status, 202, "{header:?}: {head}");
    }
}

#[test]
fn an_unauthorized_answer_names_the_bearer_scheme() {
    // RFC 9110 §15.5.2: a 401 MUST carry WWW-Authenticate with the applicable scheme.
    let server = TestServer::with(|c| {
        c.publish_token = Some("s3cret".into());
        c.publish_creates = true;
    });
    let (status, head, _) = post(server.addr, "/publish/news", "", b"hi");
    assert_eq!(status, 401);
    let challenge = head
        .lines()
        .find_map(|line| line.strip_prefix("WWW-Authenticate: "));
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "no Bearer challenge in {head}"
    );
}

#[test]
fn publishing_to_notifications_reaches_notification_clients_and_channel_subscribers() {
    let server = TestServer::start();
    let mut listener = RawClient::connect(server.addr, "/notifications");
    let mut subscriber = chat_client(&server, "sub");
    subscribe(&mut subscriber, "notifications");
    server.wait_for_hub_clients(2);

    let (status, _, body) = post(server.addr, "/publish/notifications", "", b"deploy done");
    assert_eq!(
        (status, parse(&body)),
        (202, json!({"channel": "notifications", "recipients": 2}))
    );
    assert_eq!(
        without_ts(parse(&listener.read_text())),
        json!({"type": "notification", "channel": "notifications", "seq": 1,
               "text": "deploy done", "ts": 0})
    );
    let message = until(&mut subscriber, |e| e["type"] == "message");
    assert_eq!(
        (&message["from"], &message["text"]),
        (&json!("server"), &json!("deploy done"))
    );
}

#[test]
fn notify_every_pushes_numbered_notifications_periodically() {
    let server = TestServer::with(|c| c.notify_every = Some(Duration::from_millis(200)));
    let mut listener = RawClient::connect(server.addr, "/notifications");
    let first = parse(&listener.read_text());
    let second = parse(&listener.read_text());
    for notification in [&first, &second] {
        let seq = notification["seq"].as_u64().expect("seq");
        assert_eq!(notification["type"], "notification");
        assert_eq!(notification["channel"], "notifications");
        assert_eq!(
            notification["text"],
            format!("This is a real-time notification (#{seq})")
        );
    }
    assert_eq!(second["seq"].as_u64(), first["seq"].as_u64().map(|s| s + 1));
}

#[test]
fn refused_publishes_get_their_status() {
    let server = TestServer::start();
    let oversize = format!(
        "POST /publish/news HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        64 * 1024 + 1
    );
    let cases: [(&str, Vec<u8>, u16); 6] = [
        (
            "no Content-Length",
            b"POST /publish/news HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            411,
        ),
        ("body over 64 KiB", oversize.into_bytes(), 413),
        (
            "bad channel character",
            b"POST /publish/no!pe HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi"
                .to_vec(),
            400,
        ),
        (
            "empty channel",
            b"POST /publish/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
            400,
        ),
        (
            "body not UTF-8",
            b"POST /publish/news HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n\xff\xfe"
                .to_vec(),
            400,
        ),
        (
            "GET",
            b"GET /publish/x HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            405,
        ),
    ];
    for (what, request, expected) in cases {
        let answer = http_exchange(server.addr, &request);
        assert_eq!(status_of(&answer), expected, "{what}: {answer}");
    }
    let get = http_exchange(
        server.addr,
        b"GET /publish/x HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert!(get.contains("Allow: POST"), "{get}");
}

#[test]
fn message_text_at_the_chat_limit_publishes_and_one_byte_over_is_refused() {
    let server = TestServer::with(|c| c.publish_creates = true);
    let (status, _, _) = post(server.addr, "/publish/news", "", &[b'a'; 4096]);
    assert_eq!(status, 202);
    let (status, _, body) = post(server.addr, "/publish/news", "", &[b'a'; 4097]);
    assert_eq!(
        (status, body.trim()),
        (400, "message text is 4097 bytes long; the limit is 4096")
    );
    let (status, _, _) = post(server.addr, "/publish/news", "", &[b'a'; 64 * 1024]);
    assert_eq!(status, 400, "within the HTTP limit, over the chat limit");
    let (status, _, body) = post(server.addr, "/publish/news", "", b"");
    assert_eq!((status, body.trim()), (400, "message text is empty"));
}

#[test]
fn a_publish_to_a_channel_that_does_not_exist_is_refused_with_404() {
    let server = TestServer::start();
    let (status, _, body) = post(server.addr, "/publish/nobody-made-this", "", b"hi");
    assert_eq!(
        (status, body.trim()),
        (404, "no channel \"nobody-made-this\"")
    );
    let mut alice = chat_client(&server, "alice");
    subscribe(&mut alice, "news");
    let (status, _, _) = post(server.addr, "/publish/news", "", b"now it exists");
    assert_eq!(status, 202);
}
