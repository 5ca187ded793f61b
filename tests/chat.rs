//! `/chat` over real sockets: presence (with its exact Korean lines), names, channels, history,
//! recovery after a reconnect, and refused input that leaves the connection open.

mod support;

use std::net::Shutdown;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::{RawClient, TestServer};

/// A chat client: JSON events in, JSON commands out, over the raw client.
struct ChatClient {
    raw: RawClient,
    /// The name the server gave it in `welcome`.
    name: String,
    /// The `welcome` event.
    welcome: Value,
    /// What came between `welcome` and its own presence `join`: errors, `history` replays.
    intro: Vec<Value>,
}

impl ChatClient {
    /// Connects to `/chat?{query}` and reads through its own presence `join`.
    fn connect(server: &TestServer, query: &str) -> Self {
        let path = match query {
            "" => "/chat".to_owned(),
            query => format!("/chat?{query}"),
        };
        let mut raw = RawClient::connect(server.addr, &path);
        let welcome = parse(&raw.read_text());
        assert_eq!(welcome["type"], "welcome", "first event: {welcome}");
        let name = welcome["name"].as_str().expect("welcome.name").to_owned();
        let mut intro = Vec::new();
        for _ in 0..100 {
            let event = parse(&raw.read_text());
            if event["type"] == "presence" && event["event"] == "join" && event["name"] == name {
                return Self {
                    raw,
                    name,
                    welcome,
                    intro,
                };
            }
            intro.push(event);
        }
        panic!("no presence join for {name} after 100 events: {intro:?}");
    }

    /// The next event.
    fn event(&mut self) -> Value {
        parse(&self.raw.read_text())
    }

    /// The next event, which must be of type `kind`.
    fn expect(&mut self, kind: &str) -> Value {
        let event = self.event();
        assert_eq!(
            event["type"], kind,
            "{} expected {kind}, got {event}",
            self.name
        );
        event
    }

    /// The next event of type `kind`, skipping up to 100 others (presence, channels, …).
    fn until(&mut self, kind: &str) -> Value {
        for _ in 0..100 {
            let event = self.event();
            if event["type"] == kind {
                return event;
            }
        }
        panic!("{}: no {kind} event within 100 events", self.name);
    }

    fn send(&mut self, command: Value) {
        self.raw.send_text(&command.to_string());
    }

    /// Sends a chat line to `channel` and reads it back (the sender receives its own messages).
    fn say(&mut self, channel: &str, text: &str) -> Value {
        self.send(json!({"type": "message", "channel": channel, "text": text}));
        let echo = self.until("message");
        assert_eq!(
            (&echo["channel"], &echo["text"]),
            (&json!(channel), &json!(text))
        );
        echo
    }

    /// Subscribes to `channel` (after `since`, if given) and returns the `history` answer.
    fn subscribe(&mut self, channel: &str, since: Option<u64>) -> Value {
        let command = match since {
            Some(since) => json!({"type": "subscribe", "channel": channel, "since": since}),
            None => json!({"type": "subscribe", "channel": channel}),
        };
        self.send(command);
        assert_eq!(
            self.expect("subscribed"),
            json!({"type": "subscribed", "channel": channel})
        );
        self.expect("history")
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

fn presence(event: &str, name: &str, users: usize) -> Value {
    let text = match event {
        "join" => format!("새로운 유저 접속 [현재: {users}명]"),
        _ => format!("유저 연결 해제 [현재: {users}명]"),
    };
    json!({"type": "presence", "event": event, "name": name, "old_name": null,
           "users": users, "text": text})
}

/// The `seq` values of a `history` event's messages.
fn seqs(history: &Value) -> Vec<u64> {
    history["messages"]
        .as_array()
        .expect("history.messages")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect()
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
    since_epoch.expect("clock after 1970").as_millis() as u64
}

#[test]
fn presence_counts_joins_and_leaves_with_the_korean_lines() {
    let server = TestServer::start();
    let mut alice = ChatClient::connect(&server, "name=alice");
    assert_eq!(alice.welcome["users"], 1);
    let mut bob = ChatClient::connect(&server, "name=bob");
    assert_eq!(bob.welcome["users"], 2);
    assert_eq!(alice.event(), presence("join", "bob", 2));

    let mut carol = ChatClient::connect(&server, "name=carol");
    assert_eq!(carol.welcome["users"], 3);
    let joined = presence("join", "carol", 3);
    assert_eq!(joined["text"], "새로운 유저 접속 [현재: 3명]");
    assert_eq!(alice.event(), joined);
    assert_eq!(bob.event(), joined);

    carol.raw.send_frame(true, 0x8, b"\x03\xe8bye");
    assert_eq!(carol.raw.expect_close().close_code(), Some(1000));
    let left = presence("leave", "carol", 2);
    assert_eq!(left["text"], "유저 연결 해제 [현재: 2명]");
    assert_eq!(alice.event(), left);
    assert_eq!(bob.event(), left);
}

#[test]
fn a_dropped_connection_is_a_leave_with_the_new_count() {
    let server = TestServer::start();
    let mut alice = ChatClient::connect(&server, "name=alice");
    let bob = ChatClient::connect(&server, "name=bob");
    let mut carol = ChatClient::connect(&server, "name=carol");
    assert_eq!(alice.event(), presence("join", "bob", 2));
    assert_eq!(alice.event(), presence("join", "carol", 3));
    // No Close frame: the TCP connection just goes away.
    bob.raw.stream.shutdown(Shutdown::Both).expect("shutdown");
    let left = presence("leave", "bob", 2);
    assert_eq!(alice.event(), left);
    assert_eq!(carol.event(), left);
    drop(bob);
}

#[test]
fn names_come_from_the_query_are_made_unique_and_default_to_guests() {
    let server = TestServer::start();
    let first = ChatClient::connect(&server, "name=alice");
    let second = ChatClient::connect(&server, "name=alice");
    let shouted = ChatClient::connect(&server, "name=ALICE");
    let guest = ChatClient::connect(&server, "");
    let another_guest = ChatClient::connect(&server, "theme=dark");
    let korean = ChatClient::connect(&server, "name=%EA%B9%80+%EC%B2%A0%EC%88%98");
    let names = [
        &first.name,
        &second.name,
        &shouted.name,
        &guest.name,
        &another_guest.name,
        &korean.name,
    ];
    assert_eq!(
        names,
        [
            "alice",
            "alice-2",
            "ALICE-3",
            "guest-1",
            "guest-2",
            "김 철수"
        ]
    );
    assert_eq!(korean.welcome["users"], 6);
}

#[test]
fn join_command_renames_and_tells_everyone() {
    let server = TestServer::start();
    let mut guest = ChatClient::connect(&server, "");
    let mut other = ChatClient::connect(&server, "name=other");
    assert_eq!(guest.event(), presence("join", "other", 2));
    guest.send(json!({"type": "join", "name": "bob"}));
    let renamed = json!({"type": "presence", "event": "rename", "name": "bob",
                         "old_name": "guest-1", "users": 2, "text": "이름 변경: guest-1 → bob"});
    assert_eq!(guest.event(), renamed);
    assert_eq!(other.event(), renamed);
    assert_eq!(guest.say("general", "hi")["from"], "bob");
    assert_eq!(other.expect("message")["from"], "bob");

    other.send(json!({"type": "join", "name": "Bob"}));
    let taken = other.expect("presence");
    assert_eq!(
        (&taken["name"], &taken["old_name"]),
        (&json!("Bob-2"), &json!("other"))
    );
}

#[test]
fn invalid_names_get_an_error_and_the_connection_stays_open() {
    let server = TestServer::start();
    let reserved = ChatClient::connect(&server, "name=Server");
    assert_eq!(reserved.name, "guest-1");
    assert_eq!(
        reserved.intro[0],
        json!({"type": "error", "error": "bad_name", "message": "name \"server\" is reserved"})
    );

    let mut alice = ChatClient::connect(&server, "name=alice");
    let cases = [
        ("   ".to_owned(), "name is empty"),
        (
            "a".repeat(33),
            "name is 33 characters long; the limit is 32",
        ),
        ("a\u{7}b".to_owned(), "name contains a control character"),
        ("server".to_owned(), "name \"server\" is reserved"),
    ];
    for (name, why) in cases {
        alice.send(json!({"type": "join", "name": name}));
        assert_eq!(
            alice.event(),
            json!({"type": "error", "error": "bad_name", "message": why}),
            "{name:?}"
        );
    }
    assert_eq!(alice.say("general", "still here")["from"], "alice");
    let at_limit = "a".repeat(32);
    alice.send(json!({"type": "join", "name": at_limit}));
    assert_eq!(alice.expect("presence")["name"], at_limit);
}

#[test]
fn a_message_to_news_is_not_seen_by_a_client_only_in_general() {
    let server = TestServer::start();
    let mut reader = ChatClient::connect(&server, "name=reader");
    let mut writer = ChatClient::connect(&server, "name=writer");
    assert_eq!(reader.event(), presence("join", "writer", 2));
    writer.subscribe("news", None);
    writer.say("news", "for news only");
    writer.say("general", "for everyone");
    // The channel's creation is announced to everyone; then the general line, and nothing else.
    assert_eq!(
        reader.event(),
        json!({"type": "channels", "channels": ["general", "news"]})
    );
    let next = reader.event();
    assert_eq!(
        (&next["type"], &next["channel"]),
        (&json!("message"), &json!("general"))
    );
    assert_eq!(next["text"], "for everyone");

    reader.send(json!({"type": "message", "channel": "news", "text": "sneaky"}));
    assert_eq!(reader.expect("error")["error"], "not_subscribed");
}

#[test]
fn subscribing_replays_the_channel_history() {
    let server = TestServer::start();
    let mut alice = ChatClient::connect(&server, "name=alice");
    alice.subscribe("news", None);
    for i in 1..=5 {
        assert_eq!(alice.say("news", &format!("news {i}"))["seq"], i);
    }
    let mut bob = ChatClient::connect(&server, "name=bob");
    let history = bob.subscribe("news", None);
    assert_eq!(seqs(&history), [1, 2, 3, 4, 5]);
    assert_eq!(
        (
            &history["lost"],
            &history["first_available"],
            &history["reset"]
        ),
        (&json!(0), &json!(1), &json!(false))
    );
    let first = &history["messages"][0];
    assert_eq!(
        (&first["channel"], &first["from"], &first["text"]),
        (&json!("news"), &json!("alice"), &json!("news 1"))
    );
}

#[test]
fn a_short_history_keeps_the_last_messages_and_counts_the_lost_ones() {
    let server = TestServer::with(|c| c.history = 3);
    let mut alice = ChatClient::connect(&server, "name=alice");
    alice.subscribe("news", None);
    for i in 1..=5 {
        alice.say("news", &format!("news {i}"));
    }
    let mut bob = ChatClient::connect(&server, "name=bob");
    assert_eq!(bob.welcome["history_limit"], 3);
    // (since, replayed seqs, lost, reset)
    let cases: [(Option<u64>, &[u64], u64, bool); 6] = [
        (None, &[3, 4, 5], 0, false),
        (Some(0), &[3, 4, 5], 2, false),
        (Some(1), &[3, 4, 5], 1, false),
        (Some(4), &[5], 0, false),
        (Some(5), &[], 0, false),
        (Some(9), &[3, 4, 5], 0, true),
    ];
    for (since, expected, lost, reset) in cases {
        let history = bob.subscribe("news", since);
        assert_eq!(seqs(&history), expected, "since {since:?}");
        assert_eq!(
            (
                &history["lost"],
                &history["first_available"],
                &history["reset"]
            ),
            (&json!(lost), &json!(3), &json!(reset)),
            "since {since:?}"
        );
    }
}

#[test]
fn reconnecting_with_resume_gets_exactly_the_missed_messages() {
    let server = TestServer::start();
    let mut alice = ChatClient::connect(&server, "name=alice");
    let mut bob = ChatClient::connect(&server, "name=bob");
    assert_eq!(alice.event(), presence("join", "bob", 2));
    alice.subscribe("news", None);
    alice.expect("channels");
    assert_eq!(bob.event()["type"], "channels");
    bob.subscribe("news", None);
    for text in ["g1", "g2", "g3"] {
        bob.say("general", text);
    }
    bob.say("news", "n1");
    let seen: Vec<(Value, Value)> = (0..4)
        .map(|_| {
            let m = alice.expect("message");
            (m["channel"].clone(), m["seq"].clone())
        })
        .collect();
    assert_eq!(
        seen,
        [
            (json!("general"), json!(1)),
            (json!("general"), json!(2)),
            (json!("general"), json!(3)),
            (json!("news"), json!(1))
        ]
    );

    alice.raw.send_frame(true, 0x8, b"\x03\xe8");
    alice.raw.expect_close();
    assert_eq!(bob.event(), presence("leave", "alice", 1));
    bob.say("general", "g4");
    bob.say("general", "g5");
    bob.say("news", "n2");

    let mut alice = ChatClient::connect(&server, "name=alice&resume=general:3,news:1");
    assert_eq!(alice.name, "alice", "the name was freed by the leave");
    assert_eq!(alice.welcome["subscribed"], json!(["general", "news"]));
    let [general, news] = alice.intro.as_slice() else {
        panic!("expected two history events, got {:?}", alice.intro);
    };
    assert_eq!(
        (&general["type"], &general["channel"]),
        (&json!("history"), &json!("general"))
    );
    assert_eq!(seqs(general), [4, 5]);
    assert_eq!(general["messages"][1]["text"], "g5");
    assert_eq!((&news["channel"], seqs(news)), (&json!("news"), vec![2]));
    for history in [general, news] {
        assert_eq!(
            (&history["lost"], &history["reset"]),
            (&json!(0), &json!(false))
        );
    }

    assert_eq!(bob.event(), presence("join", "alice", 2));
    bob.say("general", "live");
    let live = alice.event();
    assert_eq!(
        (&live["type"], &live["seq"]),
        (&json!("message"), &json!(6))
    );
    assert_eq!(live["text"], "live");
}

#[test]
fn plain_text_is_a_chat_line_in_general_from_the_sender() {
    let server = TestServer::start();
    let mut alice = ChatClient::connect(&server, "name=alice");
    let mut bob = ChatClient::connect(&server, "name=bob");
    assert_eq!(alice.event(), presence("join", "bob", 2));
    let before = now_ms();
    alice.raw.send_text("hello, 세계");
    for client in [&mut alice, &mut bob] {
        let mut message = client.expect("message");
        let ts = message["ts"].as_u64().expect("ts in milliseconds");
        assert!(
            ts >= before && ts <= now_ms(),
            "ts {ts} not in [{before}, now]"
        );
        message["ts"] = json!(0);
        assert_eq!(
            message,
            json!({"type": "message", "channel": "general", "seq": 1, "from": "alice",
                   "text": "hello, 세계", "ts": 0})
        );
    }
}

#[test]
fn refused_input_gets_an_error_event_and_the_connection_stays_open() {
    let server = TestServer::start();
    let mut alice = ChatClient::connect(&server, "name=alice");
    let mut bob = ChatClient::connect(&server, "name=bob");
    assert_eq!(alice.event(), presence("join", "bob", 2));
    let expected = "expected one of join, subscribe, unsubscribe, message, ping";
    let cases: [(u8, &[u8], &str, String); 5] = [
        (0x1, b"{\"type\":", "bad_json", String::new()),
        (0x1, b"  {oops}", "bad_json", String::new()),
        (
            0x1,
            b"{\"type\":\"dance\"}",
            "unknown_type",
            format!("unknown type \"dance\" ({expected})"),
        ),
        (
            0x1,
            b"{\"text\":\"no type\"}",
            "unknown_type",
            format!("missing \"type\" ({expected})"),
        ),
        (
            0x2,
            b"\x00\x01binary",
            "binary_unsupported",
            "binary messages are not part of the chat protocol".into(),
        ),
    ];
    for (opcode, payload, code, message) in cases {
        alice.raw.send_frame(true, opcode, payload);
        let error = alice.expect("error");
        assert_eq!(error["error"], code, "{payload:?}");
        match message.as_str() {
            "" => assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("not a chat command: ")),
                "{error}"
            ),
            message => assert_eq!(error["message"], message),
        }
    }
    // Still open, and none of it reached anyone else or was numbered.
    assert_eq!(alice.say("general", "still here")["seq"], 1);
    let next = bob.event();
    assert_eq!(
        (&next["type"], &next["text"]),
        (&json!("message"), &json!("still here"))
    );
    alice.send(json!({"type": "ping"}));
    assert_eq!(alice.event(), json!({"type": "pong"}));
}
