//! `wsmith tutorial NAME` over real sockets, against the real binary: each seed tutorial's
//! exact strings, who receives what (the sender included or not), hello-chat's counts on join
//! and leave, the notification timer (made short with `--notify-every`), the error paths, the
//! page port, the Origin rule, and that the server's other flags still apply.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use support::process::Wsmith;
use support::{http_exchange, status_of, upgrade_request, wait_until, RawClient, TIMEOUT};

/// Connects a client at the bare `/` the tutorials' `new WebSocket('ws://localhost:PORT')` opens.
fn client(server: &Wsmith) -> RawClient {
    RawClient::connect(server.addr, "/")
}

/// Waits until the server's console (its log) shows `line`.
fn console_shows(server: &mut Wsmith, line: &str) {
    wait_until(&format!("console line {line:?}"), TIMEOUT, || {
        server.output().lines().any(|l| l.ends_with(line))
    });
}

/// The status of an upgrade request at `/` carrying `Origin: origin`.
fn upgrade_status(addr: SocketAddr, origin: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let request = upgrade_request("/", &format!("Origin: {origin}\r\n"));
    stream.write_all(request.as_bytes()).expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    status_of(&String::from_utf8_lossy(&head))
}

fn get(addr: SocketAddr, path: &str) -> String {
    http_exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    )
}

#[test]
fn listing_names_every_tutorial_with_its_seed_sections_and_ports() {
    let output = Command::new(env!("CARGO_BIN_EXE_wsmith"))
        .arg("tutorial")
        .output()
        .expect("run wsmith tutorial");
    assert!(output.status.success());
    let listing = String::from_utf8(output.stdout).expect("utf-8");
    for (name, seed, korean, ports) in [
        ("welcome-echo", "000", "기본 사용법 / 연습문제 1", "8080"),
        ("chat", "000", "채팅 애플리케이션 / 연습문제 2", "8080"),
        (
            "notifications",
            "000",
            "실시간 알림 시스템 / 연습문제 3",
            "8080",
        ),
        (
            "server-received",
            "001",
            "기본 WebSocket 서버 / 연습문제 1–2",
            "8080",
        ),
        ("broadcast", "001", "Broadcast 메시지 / 연습문제 3", "8080"),
        (
            "channels",
            "001",
            "채널 기반 멀티플렉싱 / 연습문제 4",
            "8080",
        ),
        ("hello-chat", "002", "기능/과제 1–3", "page 8000, ws 8001"),
        (
            "relay",
            "003",
            "실시간 채팅 애플리케이션",
            "page 3000, ws 8080",
        ),
        ("json-relay", "004", "예제 코드", "3000"),
    ] {
        let line = listing
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{listing}"));
        for part in [seed, korean, ports] {
            assert!(line.contains(part), "{name}: {part:?} missing in {line:?}");
        }
    }
    let unknown = Command::new(env!("CARGO_BIN_EXE_wsmith"))
        .args(["tutorial", "nope"])
        .output()
        .expect("run wsmith tutorial nope");
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn starting_prints_the_url_what_to_try_and_the_origin_rule() {
    let mut server = Wsmith::tutorial("relay", true, &[]);
    let page = server.page.expect("relay has a page port");
    let ws_port = server.addr.port();
    wait_until("the banner", TIMEOUT, || {
        server.output().contains("Origin: null")
    });
    let output = server.output();
    assert!(
        output.contains(&format!("http://localhost:{}/?ws={ws_port}", page.port())),
        "{output}"
    );
    assert!(
        output.contains("try:") && output.contains("seed 003"),
        "{output}"
    );
    assert!(output.contains("inspector.html"), "{output}");
}

#[test]
fn welcome_echo_welcomes_and_says_you_said_to_the_sender_only() {
    let mut server = Wsmith::tutorial("welcome-echo", false, &[]);
    let mut a = client(&server);
    assert_eq!(a.read_text(), "Welcome to the WebSocket server!");
    let mut b = client(&server);
    assert_eq!(b.read_text(), "Welcome to the WebSocket server!");
    a.send_text("hi");
    assert_eq!(a.read_text(), "You said: hi");
    b.send_text("mine");
    assert_eq!(b.read_text(), "You said: mine", "b never hears a's echo");
    console_shows(&mut server, "Received message => hi");
    // The page is ours, with the tutorial's ids and script name.
    let page = get(server.addr, "/");
    for part in [
        "id=\"messageInput\"",
        "id=\"sendButton\"",
        "id=\"messages\"",
        "client.js",
    ] {
        assert!(page.contains(part), "{part} missing");
    }
}

#[test]
fn chat_relays_verbatim_to_everyone_the_sender_included() {
    let server = Wsmith::tutorial("chat", false, &[]);
    let (mut a, mut b) = (client(&server), client(&server));
    a.send_text("hi");
    assert_eq!(a.read_text(), "hi");
    assert_eq!(b.read_text(), "hi");
    b.send_frame(true, 0x2, &[0, 1, 255]);
    for c in [&mut a, &mut b] {
        let frame = c.read_frame();
        assert_eq!((frame.opcode, frame.payload), (0x2, vec![0, 1, 255]));
    }
}

#[test]
fn notifications_arrive_as_plain_text_on_the_timer() {
    let server = Wsmith::tutorial("notifications", false, &["--notify-every", "0.05"]);
    let (mut a, mut b) = (client(&server), client(&server));
    for _ in 0..2 {
        assert_eq!(a.read_text(), "This is a real-time notification");
        assert_eq!(b.read_text(), "This is a real-time notification");
    }
    let page = get(server.addr, "/");
    assert!(page.contains("id=\"notifications\"") && page.contains("client.js"));
}

#[test]
fn server_received_answers_the_sender_and_logs_connect_message_disconnect() {
    let mut server = Wsmith::tutorial("server-received", false, &[]);
    let (mut a, mut b) = (client(&server), client(&server));
    a.send_text("Hello Server!");
    assert_eq!(a.read_text(), "Server received: Hello Server!");
    b.send_text("b");
    assert_eq!(
        b.read_text(),
        "Server received: b",
        "b never hears a's answer"
    );
    console_shows(&mut server, "Client connected");
    console_shows(&mut server, "Received message: Hello Server!");
    a.send_frame(true, 0x8, &1000u16.to_be_bytes());
    a.expect_close();
    console_shows(&mut server, "Client disconnected");
}

#[test]
fn broadcast_prefixes_and_reaches_everyone_the_sender_included() {
    let server = Wsmith::tutorial("broadcast", false, &[]);
    let (mut a, mut b) = (client(&server), client(&server));
    a.send_text("hi");
    assert_eq!(a.read_text(), "Broadcast: hi");
    assert_eq!(b.read_text(), "Broadcast: hi");
}

#[test]
fn channels_subscribe_publish_and_errors() {
    let server = Wsmith::tutorial("channels", false, &[]);
    let (mut a, mut b, mut c) = (client(&server), client(&server), client(&server));
    a.send_text(r#"{"type":"subscribe","channel":"news"}"#);
    assert_eq!(a.read_text(), "Subscribed to channel: news");
    b.send_text(r#"{"type":"subscribe","channel":"news"}"#);
    assert_eq!(b.read_text(), "Subscribed to channel: news");
    c.send_text(r#"{"type":"subscribe","channel":"sports"}"#);
    assert_eq!(c.read_text(), "Subscribed to channel: sports");
    // b's subscribe was not published to news: a's next message is this one.
    c.send_text(r#"{"channel":"news","content":"extra"}"#);
    assert_eq!(a.read_text(), "Channel news: extra");
    assert_eq!(b.read_text(), "Channel news: extra");
    // Malformed JSON: one error line to its sender, and the connection stays open.
    c.send_text("{not json");
    let error = c.read_text();
    assert!(
        error.starts_with("Error: ") && !error.contains('\n'),
        "{error}"
    );
    c.send_text(r#"{"channel":"sports","content":"goal"}"#);
    assert_eq!(c.read_text(), "Channel sports: goal");
    a.send_text(r#"{"channel":"news","content":"after"}"#);
    assert_eq!(b.read_text(), "Channel news: after", "b heard nothing else");
}

#[test]
fn hello_chat_counts_joins_and_leaves_and_shows_names_to_everyone() {
    let mut server = Wsmith::tutorial("hello-chat", true, &[]);
    let page = server.page.expect("page port");
    let mut a = client(&server);
    assert_eq!(a.read_text(), "새로운 유저 접속 [현재: 1명]");
    let mut b = client(&server);
    assert_eq!(a.read_text(), "새로운 유저 접속 [현재: 2명]");
    assert_eq!(b.read_text(), "새로운 유저 접속 [현재: 2명]");
    a.send_text("Hello");
    console_shows(&mut server, "received: Hello");
    assert_eq!(a.read_text(), "Hello");
    assert_eq!(b.read_text(), "Hello");
    b.send_text(r#"{"name":"철수","message":"안녕"}"#);
    assert_eq!(a.read_text(), "철수: 안녕");
    assert_eq!(b.read_text(), "철수: 안녕");
    b.send_text(r#"{"name":"철수"}"#);
    assert!(b.read_text().starts_with("오류: "));
    b.send_frame(true, 0x8, &1000u16.to_be_bytes());
    b.expect_close();
    assert_eq!(a.read_text(), "유저 연결 해제 [현재: 1명]");
    // The page is on its own port, which serves no WebSocket (as Express did not).
    let index = get(page, "/");
    assert_eq!(status_of(&index), 200);
    assert!(index.contains("전송") && index.contains("client.js"));
    assert_eq!(
        upgrade_status(page, &format!("http://localhost:{}", page.port())),
        404
    );
}

#[test]
fn relay_leaves_the_sender_out_and_allows_its_page_and_file_origins() {
    let mut server = Wsmith::tutorial("relay", true, &[]);
    let page = server.page.expect("page port");
    let (mut a, mut b, mut c) = (client(&server), client(&server), client(&server));
    a.send_text("from a");
    assert_eq!(b.read_text(), "from a");
    assert_eq!(c.read_text(), "from a");
    b.send_text("from b");
    assert_eq!(a.read_text(), "from b", "a never received its own message");
    assert_eq!(c.read_text(), "from b");
    console_shows(&mut server, "received: from a");
    console_shows(&mut server, "client connected");
    assert_eq!(
        upgrade_status(server.addr, &format!("http://localhost:{}", page.port())),
        101
    );
    assert_eq!(
        upgrade_status(server.addr, &format!("http://127.0.0.1:{}", page.port())),
        101
    );
    assert_eq!(upgrade_status(server.addr, "null"), 101);
    assert_eq!(upgrade_status(server.addr, "http://evil.example"), 403);
    let index = get(page, "/");
    for part in ["id=\"input\"", "id=\"send\"", "id=\"messages\""] {
        assert!(index.contains(part), "{part} missing");
    }
}

#[test]
fn json_relay_relays_chat_objects_to_the_others_and_answers_anything_else_alone() {
    let mut server = Wsmith::tutorial("json-relay", false, &[]);
    let (mut a, mut b) = (client(&server), client(&server));
    let john = r#"{"user":"John","content":"Hello, World!"}"#;
    a.send_text(john);
    assert_eq!(b.read_text(), john);
    console_shows(&mut server, "새로운 클라이언트가 연결되었습니다.");
    console_shows(
        &mut server,
        &format!("새로운 메시지가 도착했습니다: {john}"),
    );
    for bad in [
        "hi",
        r#"{"user":"a"}"#,
        r#"{"user":1,"content":"x"}"#,
        "[1]",
    ] {
        a.send_text(bad);
        let error: serde_json::Value = serde_json::from_str(&a.read_text()).expect("JSON");
        assert_eq!(error["type"], "error", "{bad}");
        assert!(error["content"].is_string(), "{bad}");
    }
    b.send_text(r#"{"user":"b","content":"still open"}"#);
    assert_eq!(a.read_text(), r#"{"user":"b","content":"still open"}"#);
    b.send_text(john);
    assert_eq!(
        a.read_text(),
        john,
        "b received none of a's errors, a none of its own"
    );
}

#[test]
fn other_flags_still_apply_and_www_replaces_our_page() {
    let mine = std::env::temp_dir().join(format!("wsmith-tutorial-www-{}", std::process::id()));
    std::fs::create_dir_all(&mine).expect("temp dir");
    std::fs::write(mine.join("index.html"), "<p>my own page</p>").expect("write");
    let www = mine.to_str().expect("utf-8 path");
    let server = Wsmith::tutorial(
        "welcome-echo",
        false,
        &[
            "--www",
            www,
            "--max-message-size",
            "10",
            "--log-level",
            "debug",
        ],
    );
    assert!(get(server.addr, "/").contains("my own page"));
    // Our Inspector page is still there for your own page.
    assert_eq!(status_of(&get(server.addr, "/inspector.html")), 200);
    let mut a = client(&server);
    assert_eq!(a.read_text(), "Welcome to the WebSocket server!");
    a.send_text("0123456789");
    assert_eq!(a.read_text(), "You said: 0123456789");
    a.send_text("0123456789a");
    assert_eq!(a.expect_close().close_code(), Some(1009));
    let _ = std::fs::remove_dir_all(&mine);

    let refused = Command::new(env!("CARGO_BIN_EXE_wsmith"))
        .args(["tutorial", "chat", "--page-addr", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--page-addr"));
}
