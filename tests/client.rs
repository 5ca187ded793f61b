//! `wsmith decode` and `wsmith connect`, run as the real binary: the RFC's example frames
//! explained, and the client talking to a running server (and to a few misbehaving fakes).
//!
//! Every run of the binary is bounded: a child still running after [`RUN_TIMEOUT`] is killed
//! and the test fails.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::{TestServer, TIMEOUT};
use wsmith::explain::splitter::explain;
use wsmith::protocol::handshake::accept_key;

/// How long one run of `wsmith` may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// What a finished run printed.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Lines starting with `prefix` (`>>` or `<<`).
    fn traced(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|line| line.starts_with(prefix))
            .collect()
    }
}

/// Runs `wsmith ARGS` with `stdin` as its input; kills it after [`RUN_TIMEOUT`].
fn wsmith(args: &[&str], stdin: &[u8]) -> Run {
    wsmith_typing(args, stdin, None)
}

/// Like [`wsmith`], but keeps stdin open until stdout shows the line `until`, as someone typing
/// would wait for the answer: the client closes when stdin ends, and the server need not send
/// what it has not sent by the time it receives the Close.
fn wsmith_typing(args: &[&str], stdin: &[u8], until: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsmith"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wsmith");
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut input = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (lines_tx, lines) = mpsc::channel();
    let stdout = thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Small inputs: they fit the pipe, so this cannot block on a child that does not read.
    input.write_all(stdin).expect("write stdin");
    let mut seen: Vec<String> = Vec::new();
    if let Some(until) = until {
        while seen.last().map(String::as_str) != Some(until) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
    }
    drop(input);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wsmith {args:?} still running after {RUN_TIMEOUT:?}; killed");
        }
        thread::sleep(Duration::from_millis(20));
    };
    stdout.join().expect("stdout reader");
    seen.extend(lines.try_iter());
    Run {
        status,
        stdout: seen.iter().map(|line| format!("{line}\n")).collect(),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn decode(hex: &[&str]) -> Run {
    let mut args = vec!["decode"];
    args.extend_from_slice(hex);
    wsmith(&args, b"")
}

/// `bytes` as hex, in arguments of at most 4 KiB of bytes each (one argument may not exceed
/// 128 KiB on Linux).
fn hex_args(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(4096)
        .map(|chunk| chunk.iter().map(|b| format!("{b:02x}")).collect())
        .collect()
}

fn assert_has(run: &Run, expected: &[&str]) {
    for line in expected {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in:\n{}\nstderr: {}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn decode_explains_every_example_of_rfc_section_5_7() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "a single-frame unmasked text message",
            &["81 05 48 65 6c 6c 6f"],
            &[
                "7 bytes: 1 frame",
                "byte 0   81 = 1000 0001  FIN=1 RSV1=0 RSV2=0 RSV3=0  opcode=0x1 Text",
                "byte 1   05 = 0000 0101  MASK=0  payload len=5",
                "payload            48 65 6c 6c 6f",
                "as text            \"Hello\"",
                "message 1, fragment 1 (final)",
            ],
        ),
        (
            "a single-frame masked text message",
            &["81 85 37 fa 21 3d 7f 9f 4d 51 58"],
            &[
                "11 bytes: 1 frame",
                "byte 1   85 = 1000 0101  MASK=1  payload len=5",
                "bytes 2-5  masking key 37 fa 21 3d",
                "payload, masked    7f 9f 4d 51 58",
                "payload, unmasked  48 65 6c 6c 6f",
                "as text            \"Hello\"",
            ],
        ),
        (
            "a fragmented unmasked text message",
            &["01 03 48 65 6c", "80 02 6c 6f"],
            &[
                "9 bytes: 2 frames",
                "FIN=0 RSV1=0 RSV2=0 RSV3=0  opcode=0x1 Text",
                "as text            \"Hel\"",
                "message 1, fragment 1\n",
                "opcode=0x0 Continuation",
                "as text            \"lo\"",
                "message 1, fragment 2 (final)",
            ],
        ),
        (
            "an unmasked Ping",
            &["89 05 48 65 6c 6c 6f"],
            &[
                "opcode=0x9 Ping",
                "as text            \"Hello\"",
                "control frame",
            ],
        ),
        (
            "a masked Pong answering it",
            &["8a 85 37 fa 21 3d 7f 9f 4d 51 58"],
            &[
                "opcode=0xa Pong",
                "MASK=1",
                "payload, unmasked  48 65 6c 6c 6f",
                "as text            \"Hello\"",
            ],
        ),
    ];
    for (name, hex, expected) in cases {
        let run = decode(hex);
        assert!(run.status.success(), "{name}: {}", run.stderr);
        assert_has(&run, expected);
    }
}

#[test]
fn decode_shows_the_16_bit_length_of_a_256_byte_binary_message() {
    // §5.7: "256 bytes binary message in a single unmasked frame: 0x82 0x7E 0x0100 [256 bytes]".
    let mut frame = vec![0x82, 0x7e, 0x01, 0x00];
    frame.extend([0xab; 256]);
    let args = hex_args(&frame);
    let run = decode(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.status.success(), "{}", run.stderr);
    assert_has(
        &run,
        &[
            "260 bytes: 1 frame",
            "4 byte header, 256 byte payload",
            "payload len=126: a 16-bit length follows",
            "bytes 2-3  extended payload length (16-bit) = 256",
            "opcode=0x2 Binary",
        ],
    );
}

#[test]
fn decode_shows_the_64_bit_length_of_a_64_kib_binary_message() {
    // §5.7: "64KiB binary message in a single unmasked frame: 0x82 0x7F 0x0000000000010000".
    let mut frame = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
    frame.extend(vec![0u8; 65536]);
    let args = hex_args(&frame);
    let run = decode(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.status.success(), "{}", run.stderr);
    assert_has(
        &run,
        &[
            "65546 bytes: 1 frame",
            "10 byte header, 65536 byte payload",
            "payload len=127: a 64-bit length follows",
            "bytes 2-9  extended payload length (64-bit) = 65536",
            " …",
        ],
    );
}

#[test]
fn decode_marks_a_ping_between_the_fragments_of_a_message() {
    // §5.4: "Control frames ... MAY be injected in the middle of a fragmented message."
    let run = decode(&["01 03 48 65 6c", "89 00", "80 02 6c 6f"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_has(
        &run,
        &[
            "11 bytes: 3 frames",
            "frame at byte 5: 2 byte header, 0 byte payload",
            "control frame, between fragments of a message",
            "frame at byte 7: 2 byte header, 2 byte payload",
            "message 1, fragment 2 (final)",
        ],
    );
}

#[test]
fn decode_shows_a_reserved_opcode_as_a_problem_and_exits_1() {
    let run = decode(&["83 00"]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stdout);
    assert_has(
        &run,
        &["opcode=0x3 reserved (data)", "! §5.2 reserved opcode 0x3"],
    );
}

#[test]
fn decode_reports_bytes_that_are_not_a_whole_frame() {
    let run = decode(&["81 05 48 65 6c 6c 6f 81 05 48"]);
    assert_eq!(run.status.code(), Some(1));
    assert_has(
        &run,
        &[
            "10 bytes: 1 frame",
            "3 bytes left over, not a whole frame: 81 05 48",
            "a 2 byte header, then 1 of its 5 payload bytes",
        ],
    );
}

#[test]
fn decode_refuses_input_that_is_not_hex() {
    let run = decode(&["81 0z"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("not hex"), "{}", run.stderr);
}

#[test]
fn connect_sends_stdin_lines_and_prints_the_echoes_then_closes_cleanly() {
    let server = TestServer::start();
    let run = wsmith_typing(
        &["connect", &server.ws_url("/echo")],
        b"first line\nsecond, 2nd\n",
        Some("second, 2nd"),
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(
        run.lines(),
        [
            "first line",
            "second, 2nd",
            "[close] 1000 (normal closure) \"\""
        ]
    );
}

#[test]
fn connect_trace_shows_masked_frames_out_and_unmasked_frames_in() {
    let server = TestServer::start();
    let run = wsmith_typing(
        &["connect", "--trace", &server.ws_url("/echo")],
        b"Hello\n",
        Some("Hello"),
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_has(
        &run,
        &[
            ">> GET /echo HTTP/1.1",
            ">> Sec-WebSocket-Version: 13",
            "<< HTTP/1.1 101 Switching Protocols",
            "<< Sec-WebSocket-Accept: ",
            ">>   payload, unmasked  48 65 6c 6c 6f",
            "<<   payload            48 65 6c 6c 6f",
        ],
    );
    // §5.1: the client masks every frame, the server none.
    let sent: Vec<&str> = run
        .traced(">>")
        .into_iter()
        .filter(|line| line.contains("payload len="))
        .collect();
    let received: Vec<&str> = run
        .traced("<<")
        .into_iter()
        .filter(|line| line.contains("payload len="))
        .collect();
    assert_eq!(sent.len(), 2, "Text and Close: {sent:?}");
    assert_eq!(received.len(), 2, "Text and Close: {received:?}");
    assert!(sent.iter().all(|line| line.contains("MASK=1")), "{sent:?}");
    assert!(
        received.iter().all(|line| line.contains("MASK=0")),
        "{received:?}"
    );
}

#[test]
fn connect_close_sends_the_given_code_and_reason_and_shows_the_reply() {
    let server = TestServer::start();
    let run = wsmith(
        &[
            "connect",
            "--trace",
            "--close",
            "4000",
            "bye",
            &server.ws_url("/echo"),
        ],
        b"",
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_has(
        &run,
        &[
            ">>   close code 4000 (private use), reason \"bye\"",
            "<<   close code 4000 (private use)",
            "[close] 4000 (private use)",
        ],
    );
}

#[test]
fn connect_ping_shows_the_pong_with_the_same_payload() {
    let server = TestServer::start();
    let run = wsmith(
        &[
            "connect",
            "--ping",
            "are you there",
            &server.ws_url("/echo"),
        ],
        b"",
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.lines().first(), Some(&"[pong] \"are you there\""));
}

#[test]
fn connect_binary_sends_lines_as_binary_and_prints_them_as_hex() {
    let server = TestServer::start();
    let run = wsmith_typing(
        &["connect", "--binary", &server.ws_url("/echo")],
        b"hi\n",
        Some("[binary 2 bytes] 68 69"),
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.lines().first(), Some(&"[binary 2 bytes] 68 69"));
}

#[test]
fn connect_refused_handshake_exits_non_zero_with_the_status() {
    let server = TestServer::start();
    let run = wsmith(&["connect", &server.ws_url("/nope")], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr
            .starts_with("wsmith connect: handshake refused: HTTP/1.1 404 Not Found"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn connect_to_a_closed_port_says_so() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let run = wsmith(&["connect", &format!("ws://127.0.0.1:{port}/")], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr.contains("cannot connect to 127.0.0.1:"),
        "{}",
        run.stderr
    );
}

#[test]
fn connect_refuses_wss_because_there_is_no_tls() {
    let run = wsmith(&["connect", "wss://example.com/"], b"");
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("TLS"), "{}", run.stderr);
}

/// A one-connection fake server: reads the request head, then lets `act` answer, given the
/// client's `Sec-WebSocket-Key`. Returns the URL and the thread, which yields what it read.
fn fake_server(
    act: impl FnOnce(&mut TcpStream, &str) + Send + 'static,
) -> (String, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("addr"));
    let thread = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut key = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            if let Some(value) = line.strip_prefix("Sec-WebSocket-Key: ") {
                key = value.trim().to_owned();
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        act(&mut stream, &key);
        // Until the client closes TCP (it is killed after RUN_TIMEOUT at the latest).
        stream.set_read_timeout(Some(RUN_TIMEOUT)).expect("timeout");
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        rest
    });
    (url, thread)
}

fn switching_protocols(key: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    )
}

#[test]
fn connect_fails_the_connection_when_the_server_masks_a_frame() {
    let (url, server) = fake_server(|stream, key| {
        let mut answer = switching_protocols(key).into_bytes();
        // §5.7's masked "Hello": only a client may send that (§5.1).
        answer.extend([
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        stream.write_all(&answer).expect("write");
        // Give the client its Close reply and end TCP, as a server should (§7.1.1).
        thread::sleep(Duration::from_millis(200));
        let _ = stream.write_all(&[0x88, 0x02, 0x03, 0xea]);
        let _ = stream.shutdown(std::net::Shutdown::Write);
    });
    let run = wsmith(&["connect", "--echo", &url], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains("§5.1"), "{}", run.stderr);
    let sent = server.join().expect("fake server");
    // The client's Close: FIN + opcode 8, masked, code 1002 once unmasked.
    let (&[b0, b1], rest) = sent.split_first_chunk::<2>().expect("a close frame");
    assert_eq!((b0, b1 & 0x80), (0x88, 0x80));
    let key = &rest[..4];
    let code = [rest[4] ^ key[0], rest[5] ^ key[1]];
    assert_eq!(u16::from_be_bytes(code), 1002);
}

#[test]
fn connect_refuses_a_101_with_the_wrong_accept_key() {
    let (url, _server) = fake_server(|stream, _key| {
        let answer = switching_protocols("dGhlIHNhbXBsZSBub25jZQ==");
        stream.write_all(answer.as_bytes()).expect("write");
    });
    let run = wsmith(&["connect", &url], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr.contains("Sec-WebSocket-Accept"),
        "{}",
        run.stderr
    );
}

#[test]
fn connect_gives_up_on_a_server_that_never_answers_the_close() {
    let (url, _server) = fake_server(|stream, key| {
        stream
            .write_all(switching_protocols(key).as_bytes())
            .expect("write");
        // Then nothing: no Close reply, TCP left open (read_to_end waits for the client).
    });
    let started = Instant::now();
    let run = wsmith(&["connect", &url], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains("no Close reply"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn connect_echo_answers_a_message_before_failing_on_the_broken_frame_after_it() {
    // Autobahn 4.1.3 in one write: a Text message, then a frame with reserved opcode 0x3. A
    // client reading frame by frame echoes the message, then fails the connection with 1002.
    let (url, server) = fake_server(|stream, key| {
        let mut answer = switching_protocols(key).into_bytes();
        answer.extend([0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x83, 0x00]);
        stream.write_all(&answer).expect("write");
        thread::sleep(Duration::from_millis(200));
        let _ = stream.write_all(&[0x88, 0x02, 0x03, 0xea]);
        let _ = stream.shutdown(std::net::Shutdown::Write);
    });
    let run = wsmith(&["connect", "--echo", &url], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains("reserved opcode 0x3"), "{}", run.stderr);
    let (frames, rest) = explain(&server.join().expect("fake server"));
    assert_eq!(rest, 0);
    let [echo, close] = &frames[..] else {
        panic!("expected the echo and a Close, got {frames:?}");
    };
    assert_eq!((echo.opcode, echo.masked), (0x1, true));
    assert_eq!(echo.payload, b"Hello");
    assert_eq!((close.opcode, close.masked), (0x8, true));
    assert_eq!(close.close_code(), Some(1002));
}

#[test]
fn connect_deflate_offers_compression_and_traces_rsv1_and_the_inflated_payload() {
    let server = TestServer::start();
    let line = "Hello ".repeat(50);
    let input = format!("{line}\nshort\n");
    let run = wsmith_typing(
        &["connect", "--deflate", "--trace", &server.ws_url("/echo")],
        input.as_bytes(),
        Some("short"),
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_has(
        &run,
        &[
            ">> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "<< Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
            "   permessage-deflate agreed: permessage-deflate; server_no_context_takeover",
            ">>   byte 0   c1 = 1100 0001  FIN=1 RSV1=1 RSV2=0 RSV3=0  opcode=0x1 Text  compressed (permessage-deflate, RFC 7692 §6)",
            "<<   byte 0   c1 = 1100 0001  FIN=1 RSV1=1 RSV2=0 RSV3=0  opcode=0x1 Text  compressed (permessage-deflate, RFC 7692 §6)",
            "<<   message inflated   300 bytes (RFC 7692 §6.2: + 00 00 ff ff, then DEFLATE)",
            // "short" is under the threshold: plain both ways.
            "<<   byte 0   81 = 1000 0001  FIN=1 RSV1=0 RSV2=0 RSV3=0  opcode=0x1 Text",
        ],
    );
    let lines = run.lines();
    assert!(lines.contains(&line.as_str()), "the echo of the long line");
    assert!(lines.contains(&"short"));
}

#[test]
fn connect_into_a_pipe_prints_plain_lines_and_timestamps_only_if_asked() {
    let server = TestServer::start();
    let url = server.ws_url("/echo");
    let run = wsmith_typing(&["connect", &url], b"Hello\n", Some("Hello"));
    assert!(run.status.success(), "stderr: {}", run.stderr);
    // No banner, no markers, no prompt: what scripts and tests/autobahn/client.sh read.
    assert_eq!(
        run.stdout, "Hello\n[close] 1000 (normal closure) \"\"\n",
        "{}",
        run.stderr
    );
    let run = wsmith(&["connect", "--timestamps", "--ping", "hi", &url], b"");
    assert!(run.status.success(), "stderr: {}", run.stderr);
    let lines = run.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, expected) in lines.iter().zip(["[pong] \"hi\"", "[close] 1000"]) {
        let (time, rest) = line.split_once(' ').expect("a time, then the line");
        assert!(rest.starts_with(expected), "{line:?}");
        assert!(
            time.len() == 12 && time.chars().all(|c| c.is_ascii_digit() || ":.".contains(c)),
            "{line:?}"
        );
    }
}

#[test]
fn connect_trace_checks_the_accept_key_and_says_it_matches() {
    let server = TestServer::start();
    let run = wsmith(&["connect", "--trace", &server.ws_url("/echo")], b"");
    assert!(run.status.success(), "stderr: {}", run.stderr);
    let key = run
        .traced(">> Sec-WebSocket-Key: ")
        .first()
        .and_then(|line| line.strip_prefix(">> Sec-WebSocket-Key: "))
        .expect("the key we sent")
        .to_owned();
    let expected = accept_key(&key);
    assert_has(
        &run,
        &[
            &format!("<< Sec-WebSocket-Accept: {expected}\n"),
            &format!(
                "\n   Sec-WebSocket-Accept: {expected} ✓ matches base64(SHA-1(key + GUID)) (§1.3)\n"
            ),
        ],
    );
}

#[test]
fn connect_trace_shows_a_wrong_accept_key_and_fails_the_connection() {
    let (url, _server) = fake_server(|stream, _key| {
        // §1.3's accept value, for a key the client did not send.
        let answer = switching_protocols("dGhlIHNhbXBsZSBub25jZQ==");
        stream.write_all(answer.as_bytes()).expect("write");
    });
    let run = wsmith(&["connect", "--trace", &url], b"");
    assert_eq!(run.status.code(), Some(1));
    assert_has(
        &run,
        &[
            "<< Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "   Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ✗ does not match base64(SHA-1(key + GUID)) = ",
            "the client fails the connection (§4.1)",
        ],
    );
    assert!(
        run.stderr.contains(
            "Sec-WebSocket-Accept is \"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\", but base64(SHA-1(key + GUID)) is"
        ),
        "{}",
        run.stderr
    );
    // No frame was sent: a failed handshake has no WebSocket connection to close.
    assert!(run.traced(">> frame").is_empty(), "{}", run.stdout);
}

#[test]
fn connect_h_adds_header_fields_to_the_handshake() {
    let server = TestServer::start();
    let url = server.ws_url("/echo");
    // The server refuses a browser Origin other than its own (403): the field went out.
    let run = wsmith(&["connect", "-H", "Origin: http://evil.example", &url], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr
            .starts_with("wsmith connect: handshake refused: HTTP/1.1 403 Forbidden"),
        "{}",
        run.stderr
    );
    let origin = format!("Origin: http://{}", server.addr);
    let run = wsmith(
        &[
            "connect",
            "--trace",
            "-H",
            &origin,
            "--header",
            "X-Trace-Id: 42",
            &url,
        ],
        b"",
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_has(&run, &[&format!(">> {origin}\n"), ">> X-Trace-Id: 42\n"]);
    for (field, why) in [
        ("Host: elsewhere", "writes it itself"),
        ("Bad Name: x", "token"),
    ] {
        let run = wsmith(&["connect", "-H", field, &url], b"");
        assert_eq!(run.status.code(), Some(2), "{field}");
        assert!(run.stderr.contains(why), "{field}: {}", run.stderr);
    }
}

#[test]
fn connect_refused_with_404_lists_the_endpoints() {
    let server = TestServer::start();
    let run = wsmith(&["connect", &server.ws_url("/nope")], b"");
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr
            .contains("no WebSocket endpoint at this path; the endpoints are ")
            && run.stderr.contains(" /echo")
            && run.stderr.contains(" /chat"),
        "{}",
        run.stderr
    );
}

#[test]
fn connect_to_an_http_url_suggests_the_ws_url() {
    let run = wsmith(&["connect", "http://127.0.0.1:8080/echo"], b"");
    assert_eq!(run.status.code(), Some(2));
    assert!(
        run.stderr
            .contains("is not a WebSocket URL: did you mean ws://127.0.0.1:8080/echo?"),
        "{}",
        run.stderr
    );
}

#[test]
fn decode_dash_reads_hex_or_raw_bytes_from_stdin() {
    // `xxd -p` of §5.7's masked "Hello", then the same bytes raw.
    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    for input in [&b"8185 37fa213d\n7f9f4d5158\n"[..], &masked[..]] {
        let run = wsmith(&["decode", "-"], input);
        assert!(run.status.success(), "{}", run.stderr);
        assert_has(
            &run,
            &["11 bytes: 1 frame", "payload, unmasked  48 65 6c 6c 6f"],
        );
    }
    let run = wsmith(&["decode", "--as-server", "-"], &masked);
    assert!(run.status.success(), "{}", run.stderr);
    assert_has(&run, &["event: Text message of 5 bytes: \"Hello\""]);
    let run = wsmith(&["decode", "-"], b"");
    assert_eq!(run.status.code(), Some(2), "{}", run.stdout);
}
