//! `GET /metrics` and `GET /metrics.json` against the real binary (its counters are
//! process-wide, so each test runs its own `wsmith` process): clients on `/echo` and `/chat`
//! send messages and close with a code, upgrades are refused, and each counter moves by
//! exactly what happened.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use support::process::Wsmith;
use support::{http_exchange, masked_frame, status_of, upgrade_request, wait_until, RawClient};

/// How long a counter may take to catch up with what a client already saw.
const SETTLE: Duration = Duration::from_secs(10);

/// One scrape of `/metrics`: each sample line as `name{labels}` → value.
fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let answer = http_exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(
        answer.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{answer}"
    );
    let (_, body) = answer.split_once("\r\n\r\n").expect("a body");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').expect("name and value");
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("a number in {line:?}"));
            (key.to_owned(), value)
        })
        .collect()
}

/// The value of `key` (`name{labels}` as written), 0 when the sample is absent.
fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// `/metrics.json`, parsed.
fn scrape_json(addr: SocketAddr) -> serde_json::Value {
    let answer = http_exchange(
        addr,
        b"GET /metrics.json HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(
        answer.contains("\r\nContent-Type: application/json\r\n"),
        "{answer}"
    );
    let (_, body) = answer.split_once("\r\n\r\n").expect("a body");
    serde_json::from_str(body).expect("JSON")
}

/// The JSON view's value of `name` with `labels`.
fn json_value(view: &serde_json::Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    view[name]["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|sample| labels.iter().all(|(k, v)| sample["labels"][k] == *v))
        .and_then(|sample| sample["value"].as_f64())
        .unwrap_or(0.0)
}

/// Polls `/metrics` until `key` has `expected`; fails with the last scrape after [`SETTLE`].
fn wait_for(addr: SocketAddr, key: &str, expected: f64) -> BTreeMap<String, f64> {
    let mut last = BTreeMap::new();
    let mut seen = f64::NAN;
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(key, SETTLE, || {
            last = scrape(addr);
            seen = value(&last, key);
            seen == expected
        })
    }));
    assert!(waited.is_ok(), "{key}: {seen}, expected {expected}");
    last
}

/// The hub timed at least `commands` more commands from `before` to `after`, and its
/// histogram's `+Inf` bucket holds them all (buckets are cumulative).
fn assert_hub_timed(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, commands: f64) {
    let count = "wsmith_hub_command_duration_seconds_count";
    assert!(value(after, count) >= value(before, count) + commands);
    assert_eq!(
        value(
            after,
            "wsmith_hub_command_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        value(after, count)
    );
}

/// The JSON view counted the one refused (400) upgrade, and shows the hub's histogram with its
/// 16 buckets, the last `+Inf`.
fn assert_json_view_has_one_400_and_the_histogram(view: &serde_json::Value) {
    assert_eq!(
        json_value(
            view,
            "wsmith_handshake_failures_total",
            &[("status", "400")]
        ),
        1.0
    );
    let histogram = &view["wsmith_hub_command_duration_seconds"]["samples"][0];
    assert_eq!(histogram["buckets"].as_array().map(Vec::len), Some(16));
    assert_eq!(histogram["buckets"][15]["le"], "+Inf");
}

/// A fresh server and its first scrape: no echo connection open yet, and a start time.
fn fresh_server() -> (Wsmith, BTreeMap<String, f64>) {
    let server = Wsmith::start(&[]);
    let before = scrape(server.addr);
    assert_eq!(
        value(&before, "wsmith_connections_open{endpoint=\"echo\"}"),
        0.0
    );
    assert!(
        value(&before, "wsmith_start_time_seconds") > 1.7e9,
        "{before:?}"
    );
    (server, before)
}

/// A Close frame's payload: the code, then the reason (§5.5.1).
fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

#[test]
fn upgrades_open_connections_and_refused_handshakes_are_counted() {
    let (server, before) = fresh_server();
    let addr = server.addr;

    let mut echoes: Vec<RawClient> = (0..2).map(|_| RawClient::connect(addr, "/echo")).collect();
    let mut chat = RawClient::connect(addr, "/chat?name=counted");
    chat.next_event_of_type("welcome");
    let open = scrape(addr);
    assert_eq!(
        value(&open, "wsmith_connections_open{endpoint=\"echo\"}"),
        2.0
    );
    assert_eq!(
        value(&open, "wsmith_connections_open{endpoint=\"chat\"}"),
        1.0
    );
    assert_eq!(
        value(&open, "wsmith_upgrades_total{endpoint=\"echo\"}"),
        2.0
    );
    assert_eq!(
        value(&open, "wsmith_upgrades_total{endpoint=\"chat\"}"),
        1.0
    );
    assert_eq!(
        value(&open, "wsmith_upgrades_total{endpoint=\"broadcast\"}"),
        0.0
    );

    for client in &mut echoes {
        client.send_frame(true, 0x8, &close_payload(1000, ""));
        assert_eq!(client.expect_close().close_code(), Some(1000));
        client.expect_eof();
    }
    chat.send_frame(true, 0x8, &close_payload(4000, "bye"));
    assert_eq!(chat.expect_close().close_code(), Some(4000));
    chat.expect_eof();

    // Refused upgrades: no Sec-WebSocket-Key (400), and a path with no endpoint (404).
    let no_key = "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(status_of(&http_exchange(addr, no_key.as_bytes())), 400);
    let nowhere = upgrade_request("/nowhere", "");
    assert_eq!(status_of(&http_exchange(addr, nowhere.as_bytes())), 404);

    wait_for(addr, "wsmith_connections_open{endpoint=\"echo\"}", 0.0);
    let after = wait_for(addr, "wsmith_connections_open{endpoint=\"chat\"}", 0.0);
    assert_eq!(
        value(&after, "wsmith_handshake_failures_total{status=\"400\"}"),
        1.0
    );
    assert_eq!(
        value(&after, "wsmith_handshake_failures_total{status=\"404\"}"),
        1.0
    );
    assert!(!after.contains_key("wsmith_handshake_failures_total{status=\"403\"}"));
    // The chat's join and leave went through the hub, each timed.
    assert_hub_timed(&before, &after, 2.0);

    // The JSON view is the same registry.
    let view = scrape_json(addr);
    assert_eq!(view["wsmith_upgrades_total"]["type"], "counter");
    assert_eq!(
        json_value(&view, "wsmith_upgrades_total", &[("endpoint", "echo")]),
        2.0
    );
    assert_json_view_has_one_400_and_the_histogram(&view);
}

#[test]
fn messages_bytes_and_closes_move_by_exactly_the_traffic() {
    let (server, before) = fresh_server();
    let addr = server.addr;

    // Two echo clients, three messages each: 11 bytes a frame in (2 header + 4 mask + 5), 7 out.
    let mut echoes: Vec<RawClient> = (0..2).map(|_| RawClient::connect(addr, "/echo")).collect();
    for client in &mut echoes {
        for _ in 0..3 {
            client.send_text("hello");
            assert_eq!(client.read_text(), "hello");
        }
    }
    // A chat client: two messages, each relayed back to it.
    let mut chat = RawClient::connect(addr, "/chat?name=counted");
    chat.next_event_of_type("welcome");
    let chat_messages = [
        r#"{"type":"message","text":"one"}"#,
        r#"{"type":"message","text":"two"}"#,
    ];
    for text in chat_messages {
        chat.send_text(text);
        chat.next_event_of_type("message");
    }
    let open = scrape(addr);
    assert_eq!(
        value(&open, "wsmith_connections_open{endpoint=\"echo\"}"),
        2.0
    );
    assert_eq!(
        value(&open, "wsmith_connections_open{endpoint=\"chat\"}"),
        1.0
    );
    assert_eq!(
        value(&open, "wsmith_upgrades_total{endpoint=\"echo\"}"),
        2.0
    );
    assert_eq!(
        value(&open, "wsmith_upgrades_total{endpoint=\"chat\"}"),
        1.0
    );

    // Close: the echo clients with 1000 (8 bytes in, the 4-byte echo of it out), the chat
    // client with 4000 (an application's code, counted as 4xxx).
    for client in &mut echoes {
        client.send_frame(true, 0x8, &close_payload(1000, ""));
        assert_eq!(client.expect_close().close_code(), Some(1000));
        client.expect_eof();
    }
    let chat_close = close_payload(4000, "bye");
    chat.send_frame(true, 0x8, &chat_close);
    assert_eq!(chat.expect_close().close_code(), Some(4000));
    chat.expect_eof();

    // Refused upgrades: no Sec-WebSocket-Key (400), and a path with no endpoint (404).
    let no_key = "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(status_of(&http_exchange(addr, no_key.as_bytes())), 400);
    let nowhere = upgrade_request("/nowhere", "");
    assert_eq!(status_of(&http_exchange(addr, nowhere.as_bytes())), 404);

    let after = wait_for(
        addr,
        "wsmith_closes_total{by=\"client\",code=\"4xxx\"}",
        1.0,
    );
    let after = if value(&after, "wsmith_closes_total{by=\"client\",code=\"1000\"}") == 2.0 {
        after
    } else {
        wait_for(
            addr,
            "wsmith_closes_total{by=\"client\",code=\"1000\"}",
            2.0,
        )
    };
    let chat_in: usize = chat_messages
        .iter()
        .map(|text| masked_frame(true, 0x1, text.as_bytes()).len())
        .sum::<usize>()
        + masked_frame(true, 0x8, &chat_close).len();
    let expected = [
        ("wsmith_connections_open{endpoint=\"echo\"}", 0.0),
        ("wsmith_connections_open{endpoint=\"chat\"}", 0.0),
        ("wsmith_messages_received_total{endpoint=\"echo\"}", 6.0),
        ("wsmith_messages_sent_total{endpoint=\"echo\"}", 6.0),
        (
            "wsmith_received_bytes_total{endpoint=\"echo\"}",
            2.0 * (3.0 * 11.0 + 8.0),
        ),
        (
            "wsmith_sent_bytes_total{endpoint=\"echo\"}",
            2.0 * (3.0 * 7.0 + 4.0),
        ),
        ("wsmith_messages_received_total{endpoint=\"chat\"}", 2.0),
        (
            "wsmith_received_bytes_total{endpoint=\"chat\"}",
            chat_in as f64,
        ),
        ("wsmith_closes_total{by=\"client\",code=\"1000\"}", 2.0),
        ("wsmith_closes_total{by=\"client\",code=\"4xxx\"}", 1.0),
        ("wsmith_closes_total{by=\"server\",code=\"1000\"}", 0.0),
        ("wsmith_handshake_failures_total{status=\"400\"}", 1.0),
        ("wsmith_handshake_failures_total{status=\"404\"}", 1.0),
        (
            "wsmith_slow_consumer_drops_total{limit=\"max_backlog\"}",
            0.0,
        ),
        ("wsmith_rate_limit_closes_total{limit=\"rate_limit\"}", 0.0),
        (
            "wsmith_connections_refused_total{reason=\"max_connections\"}",
            0.0,
        ),
    ];
    for (key, want) in expected {
        assert_eq!(value(&after, key), want, "{key}");
    }
    // welcome, history, presence and the two messages at least, all counted as sent.
    assert!(value(&after, "wsmith_messages_sent_total{endpoint=\"chat\"}") >= 4.0);
    // The chat's join, messages and leave went through the hub, each timed.
    assert_hub_timed(&before, &after, 4.0);

    // The JSON view is the same registry.
    let view = scrape_json(addr);
    assert_eq!(view["wsmith_closes_total"]["type"], "counter");
    assert_eq!(
        json_value(
            &view,
            "wsmith_messages_received_total",
            &[("endpoint", "echo")]
        ),
        6.0
    );
    assert_eq!(
        json_value(
            &view,
            "wsmith_closes_total",
            &[("by", "client"), ("code", "4xxx")]
        ),
        1.0
    );
    assert_json_view_has_one_400_and_the_histogram(&view);
}

#[test]
fn every_accepted_connection_is_counted_once() {
    let server = Wsmith::start(&[]);
    let accepted = "wsmith_connections_accepted_total";
    let before = value(&scrape(server.addr), accepted);
    assert!(before >= 1.0, "the scrape itself was accepted");
    for _ in 0..3 {
        let answer = http_exchange(server.addr, b"GET /healthz HTTP/1.1\r\n\r\n");
        assert_eq!(status_of(&answer), 200);
    }
    // Three probes and this scrape.
    assert_eq!(value(&scrape(server.addr), accepted), before + 4.0);
}

#[test]
fn a_rate_limit_close_is_counted_with_its_1008() {
    let server = Wsmith::start(&["--rate-limit", "1"]);
    let mut chat = RawClient::connect(server.addr, "/chat?name=flood");
    chat.next_event_of_type("welcome");
    // A burst of 2 is allowed, then each message is a strike; the second strike closes.
    for _ in 0..10 {
        chat.send_text(r#"{"type":"message","text":"again"}"#);
    }
    let close = chat.expect_close();
    assert_eq!(close.close_code(), Some(1008));
    chat.send_frame(true, 0x8, &close.payload);
    chat.expect_eof();
    let after = wait_for(
        server.addr,
        "wsmith_closes_total{by=\"server\",code=\"1008\"}",
        1.0,
    );
    assert_eq!(
        value(
            &after,
            "wsmith_rate_limit_closes_total{limit=\"rate_limit\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "wsmith_rate_limit_closes_total{limit=\"max_control_rate\"}"
        ),
        0.0
    );
}

#[test]
fn other_methods_get_405_and_head_gets_the_head() {
    let server = Wsmith::start(&[]);
    for path in ["/metrics", "/metrics.json"] {
        let post = http_exchange(
            server.addr,
            format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(status_of(&post), 405, "{post}");
        assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
        let head = http_exchange(
            server.addr,
            format!("HEAD {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
        );
        assert_eq!(status_of(&head), 200, "{head}");
        assert!(head.ends_with("\r\n\r\n"), "no body: {head}");
    }
    // Like the page, the metrics answer only to this server's names (no DNS rebinding).
    let rebound = http_exchange(
        server.addr,
        b"GET /metrics.json HTTP/1.1\r\nHost: evil.test:8080\r\n\r\n",
    );
    assert_eq!(status_of(&rebound), 421, "{rebound}");
}

#[test]
fn a_slow_consumer_drop_is_counted_and_its_outbox_bytes_are_given_back() {
    let server = Wsmith::start(&["--max-backlog", "16", "--write-timeout", "1"]);
    let addr = server.addr;
    // A receiver that never reads, and a sender that does not get its own messages back.
    let slow = RawClient::connect(addr, "/broadcast");
    let mut sender = RawClient::connect(addr, "/broadcast?self=false");
    let drops = "wsmith_slow_consumer_drops_total{limit=\"max_backlog\"}";
    let payload = vec![0x5a; 64 * 1024];
    let mut held = 0.0;
    let mut dropped = false;
    // The kernel's socket buffers fill first (a few MiB), then the outbox: at most 64 MiB sent.
    for round in 0..1024 {
        sender.send_frame(true, 0x2, &payload);
        if round % 16 == 15 {
            let now = scrape(addr);
            held = f64::max(held, value(&now, "wsmith_outbox_bytes"));
            if value(&now, drops) == 1.0 {
                dropped = true;
                break;
            }
        }
    }
    assert!(dropped, "the slow consumer was not dropped");
    assert!(held > 0.0, "its outbox held bytes before it was dropped");
    // Its Close (1008) goes out only if the writer gets to it; a writer stuck on the full socket
    // gives up after --write-timeout, and the record still says what the server did: 1008, by
    // the server, not a bare 1006. Counted once, and what its outbox held is no longer counted.
    let server_1008 = "wsmith_closes_total{by=\"server\",code=\"1008\"}";
    let mut after = BTreeMap::new();
    wait_until("the slow consumer's end is counted", SETTLE, || {
        after = scrape(addr);
        value(&after, server_1008) == 1.0 && value(&after, "wsmith_outbox_bytes") == 0.0
    });
    assert_eq!(
        value(&after, "wsmith_closes_total{by=\"network\",code=\"1006\"}"),
        0.0
    );
    assert_eq!(value(&after, drops), 1.0);
    assert_eq!(
        value(
            &after,
            "wsmith_slow_consumer_drops_total{limit=\"max_backlog_bytes\"}"
        ),
        0.0
    );
    drop(slow);
}
