//! `wsmith connect ws://host:port/path`: an interactive client on the protocol core, in the
//! client role (RFC 6455 §4.1, §5.1, §5.3, §7.1.1).
//!
//! 1. Open TCP to the URL's host and port (§4.1: "establish a TCP connection").
//! 2. Send the opening handshake with a random 16-byte nonce as `Sec-WebSocket-Key`
//!    ([`handshake::client_request`]) and check the answer ([`handshake::check_response`]):
//!    status 101, `Upgrade`, `Connection` and `Sec-WebSocket-Accept` = base64(SHA-1(key +
//!    GUID)). Anything else fails the connection; a refusal is reported with its status line
//!    and the first line of its body.
//! 3. Run a [`Connection::client`]: every frame we send is masked with a fresh key from
//!    `/dev/urandom` (§5.3); a masked frame from the server fails the connection (§5.1).
//! 4. Send each stdin line as a message; at the end of stdin, close with 1000 (or `--close`),
//!    wait for the server's Close, then for the server to close TCP (§7.1.1).
//!
//! ```text
//! $ printf 'Hello\n' | wsmith connect ws://127.0.0.1:8080/echo
//! Hello
//! [close] 1000 (normal closure) ""
//! ```

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::random::Entropy;
use super::session::{self, Ending, Reader, Session};
use super::{Error, WsUrl};
use crate::protocol::deflate::{Params, DEFAULT_THRESHOLD};
use crate::protocol::handshake::{self, ClientHandshakeError, KEY_NONCE_LEN};
use crate::protocol::{CloseCode, CloseFrame, Connection, Limits};
use crate::sync::lock;

/// The help text of `wsmith connect`.
pub const USAGE: &str = "\
wsmith connect [FLAGS] ws://HOST[:PORT]/PATH   an interactive WebSocket client (RFC 6455)

    Each line of stdin is sent as a Text message; each message received is printed: Text as
    it is, Binary as hex after '[binary N bytes]'; pings, pongs and the close as [ping], [pong],
    [close]. At the end of stdin the client closes (1000) and waits for the server.
    Only ws:// (no TLS). Exit status 0 after a clean close handshake, 1 on any failure.

FLAGS:
    --trace              print the handshake and every frame, both ways, explained byte by byte
                         ('>>' we send, masked; '<<' the server sends)
    --binary             send stdin lines as Binary messages
    --ping [TEXT]        send a Ping right after connecting (TEXT is the next argument unless
                         it starts with '-' or is the URL; or --ping=TEXT); the Pong is shown
    --close CODE REASON  close with this code and reason when stdin ends (default 1000, none)
    --echo               send every message received back, unchanged, instead of reading stdin
                         and printing (Autobahn's client tests); the server ends the session
    --deflate            offer permessage-deflate (RFC 7692): 'permessage-deflate;
                         client_max_window_bits'; messages of 256 bytes or more go compressed
";

/// How long opening TCP and the opening handshake may take together.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A write that makes no progress this long fails (the server stopped reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a refused handshake's body that is read, to find its first line.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;

/// What `wsmith connect` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where to connect.
    pub url: WsUrl,
    /// `--trace`: print every frame both ways.
    pub trace: bool,
    /// `--binary`: stdin lines go out as Binary messages.
    pub binary: bool,
    /// `--ping [TEXT]`: a Ping payload to send right after connecting.
    pub ping: Option<String>,
    /// `--close CODE REASON`: how to close when stdin ends.
    pub close: (CloseCode, String),
    /// `--echo`: send every message back instead of reading stdin.
    pub echo: bool,
    /// `--deflate`: offer `permessage-deflate` (RFC 7692).
    pub deflate: bool,
}

impl Options {
    /// Reads the arguments after `connect`.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] naming the argument, or [`Error::Url`] for a URL wsmith cannot use.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Self, Error> {
        let mut args = args.iter().map(AsRef::as_ref).peekable();
        let (mut url, mut trace, mut binary, mut echo) = (None, false, false, false);
        let mut deflate = false;
        let mut ping = None;
        let mut close = (CloseCode::NORMAL_CLOSURE, String::new());
        while let Some(arg) = args.next() {
            match arg {
                "--trace" => trace = true,
                "--binary" => binary = true,
                "--echo" => echo = true,
                "--deflate" => deflate = true,
                "--ping" => {
                    let text = args.next_if(|next| !next.starts_with('-') && !next.contains("://"));
                    ping = Some(checked_ping(text.unwrap_or_default())?);
                }
                "--close" => {
                    let (Some(code), Some(reason)) = (args.next(), args.next()) else {
                        return Err(Error::Usage("--close needs a CODE and a REASON".into()));
                    };
                    close = checked_close(code, reason)?;
                }
                _ if arg.starts_with("--ping=") => {
                    ping = Some(checked_ping(arg.trim_start_matches("--ping="))?);
                }
                _ if arg.starts_with('-') => {
                    return Err(Error::Usage(format!("unknown flag {arg} for connect")));
                }
                _ if url.is_some() => {
                    return Err(Error::Usage(format!("one URL only; what is {arg:?}?")));
                }
                _ => url = Some(WsUrl::parse(arg)?),
            }
        }
        let url = url.ok_or_else(|| Error::Usage("connect needs a ws:// URL".into()))?;
        Ok(Self {
            url,
            trace,
            binary,
            ping,
            close,
            echo,
            deflate,
        })
    }
}

/// A Ping payload: "All control frames MUST have a payload length of 125 bytes or less" (§5.5).
fn checked_ping(text: &str) -> Result<String, Error> {
    if text.len() > 125 {
        return Err(Error::Usage(format!(
            "a ping carries at most 125 bytes (§5.5); this one has {}",
            text.len()
        )));
    }
    Ok(text.to_owned())
}

/// A close code and reason we may send (§7.4.1, §5.5.1: code + reason ≤ 125 bytes).
fn checked_close(code: &str, reason: &str) -> Result<(CloseCode, String), Error> {
    let code = code
        .parse()
        .map(CloseCode)
        .map_err(|_| Error::Usage(format!("--close: {code:?} is not a close code: expected a number such as 1000 (normal closure) or 4000")))?;
    if !code.is_sendable() {
        return Err(Error::Usage(format!(
            "--close: {code} may not be sent in a Close frame (§7.4)"
        )));
    }
    if reason.len() > crate::protocol::close::MAX_REASON_LEN {
        return Err(Error::Usage(format!(
            "--close: the reason is {} bytes; a Close frame has room for 123 (§5.5)",
            reason.len()
        )));
    }
    Ok((code, reason.to_owned()))
}

/// Runs `wsmith connect`: connects, talks, closes.
///
/// # Errors
///
/// An [`Error`] for a connection that could not open, was refused, or did not end with a
/// clean close handshake (the server broke a rule, closed with an error code, or vanished).
pub fn run(options: &Options) -> Result<(), Error> {
    let mut entropy = Entropy::open().map_err(Error::Entropy)?;
    let nonce = entropy.nonce().map_err(Error::Entropy)?;
    let mut socket = open_tcp(&options.url)?;
    let (first_frames, deflate) = opening_handshake(&mut socket, options, &nonce)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;

    let conn = Connection::client(Limits::default(), entropy.into_masking_key_source());
    let conn = match deflate {
        Some(params) => conn.with_deflate(params, DEFAULT_THRESHOLD),
        None => conn,
    };
    let session = Arc::new(Mutex::new(Session::new(
        conn,
        socket.try_clone()?,
        options.trace,
    )));
    if let Some(text) = &options.ping {
        let mut session = lock(&session);
        session.conn().send_ping(text.as_bytes());
        session.flush()?;
    }
    if !options.echo {
        let session = Arc::clone(&session);
        let (binary, close) = (options.binary, options.close.clone());
        // The process ends when the reader does; a thread blocked on stdin ends with it.
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || session::send_lines(&session, io::stdin().lock(), binary, &close))?;
    }
    let ending = Reader::new(socket, session, options.trace, options.echo).run(&first_frames)?;
    match ending {
        Some(Ending::Closed(close)) if is_error_close(&close) => Err(Error::ClosedWithError(close)),
        Some(Ending::Closed(_)) => Ok(()),
        Some(Ending::Failed(error)) => Err(Error::Protocol(error)),
        None => Err(Error::Dropped),
    }
}

/// Whether the server's close code says something went wrong (§7.4.1): 1002, 1003, 1007–1014.
/// 1000, 1001, no code, and application codes (3000–4999) are a clean end.
fn is_error_close(close: &CloseFrame) -> bool {
    close
        .code
        .is_some_and(|code| matches!(code.0, 1002 | 1003 | 1007..=1014))
}

/// Opens TCP to the URL's host and port, trying each address the name resolves to.
fn open_tcp(url: &WsUrl) -> Result<TcpStream, Error> {
    let failed = |error| Error::Connect {
        authority: url.authority.clone(),
        error,
    };
    let addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(failed)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT) {
            Ok(socket) => {
                let _ = socket.set_nodelay(true);
                return Ok(socket);
            }
            Err(error) => last = error,
        }
    }
    Err(failed(last))
}

/// Sends the client's opening handshake (§4.1) and reads the server's answer.
///
/// Returns the bytes that came after the 101 response head (the server's first frames, if it
/// sent some at once) and the `permessage-deflate` parameters, if we offered it and the server
/// agreed (RFC 7692 §5).
///
/// # Errors
///
/// [`Error::Refused`] for a status other than 101, [`Error::Handshake`] for a 101 that breaks
/// a rule of §4.1, [`Error::Io`] for a timeout or a connection closed mid-handshake.
fn opening_handshake(
    socket: &mut TcpStream,
    options: &Options,
    nonce: &[u8; KEY_NONCE_LEN],
) -> Result<(Vec<u8>, Option<Params>), Error> {
    let (url, trace) = (&options.url, options.trace);
    let key = handshake::client_key(nonce);
    let request = handshake::client_request_with(
        &url.authority,
        &url.resource_name,
        &key,
        &[],
        options.deflate,
    );
    if trace {
        print_head(">>", &request);
    }
    socket.write_all(&request)?;
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut received = Vec::new();
    loop {
        match handshake::check_response_with(&received, &key, &[], options.deflate) {
            Ok(Some(accepted)) => {
                let frames = received.split_off(accepted.len);
                if trace {
                    print_head("<<", &received);
                    print_extensions(options.deflate, accepted.deflate.as_ref());
                }
                return Ok((frames, accepted.deflate));
            }
            Ok(None) => {}
            Err(ClientHandshakeError::NotSwitchingProtocols(status)) => {
                return Err(refusal(socket, received, status, deadline));
            }
            Err(error) => return Err(Error::Handshake(error)),
        }
        if read_more(socket, &mut received, deadline)? == 0 {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before answering the handshake",
            )));
        }
    }
}

/// The handshake's outcome for compression, in words (RFC 7692 §5, §7.1).
fn print_extensions(offered: bool, agreed: Option<&Params>) {
    match agreed {
        Some(params) => {
            for line in params.explain() {
                println!("   permessage-deflate {line}");
            }
        }
        None if offered => println!("   extensions: the server declined permessage-deflate"),
        None => {}
    }
}

/// Reads once into `received`, waiting no later than `deadline`; returns the bytes read.
fn read_more(
    socket: &mut TcpStream,
    received: &mut Vec<u8>,
    deadline: Instant,
) -> io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no handshake answer within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            ),
        ));
    }
    socket.set_read_timeout(Some(left))?;
    let mut buf = [0; 4096];
    let n = socket.read(&mut buf)?;
    received.extend_from_slice(buf.get(..n).unwrap_or_default());
    Ok(n)
}

/// The error for a refused handshake: its status line and the first line of its body (the
/// server may still be sending it; read until a line ends, the connection closes, or time's up).
fn refusal(socket: &mut TcpStream, mut received: Vec<u8>, status: u16, deadline: Instant) -> Error {
    let body_start = |bytes: &[u8]| {
        bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4)
    };
    while received.len() < MAX_REFUSAL_BYTES {
        let body = body_start(&received).and_then(|start| received.get(start..));
        if body.is_some_and(|body| body.contains(&b'\n')) {
            break;
        }
        if !matches!(read_more(socket, &mut received, deadline), Ok(n) if n > 0) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&received);
    let status_line = text.lines().next().unwrap_or_default().trim().to_owned();
    let body_line = body_start(&received)
        .and_then(|start| text.get(start..))
        .and_then(|body| body.lines().map(str::trim).find(|line| !line.is_empty()))
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Error::Refused {
        status,
        status_line,
        body_line,
    }
}

/// Prints an HTTP head line by line with `direction` in front, for `--trace`.
fn print_head(direction: &str, head: &[u8]) {
    let text = String::from_utf8_lossy(head);
    let mut out = io::stdout().lock();
    for line in text.split("\r\n").filter(|line| !line.is_empty()) {
        let _ = writeln!(out, "{direction} {line}");
    }
    let _ = writeln!(out, "{direction}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Result<Options, Error> {
        Options::from_args(args)
    }

    #[test]
    fn bare_url_sends_text_and_closes_with_1000() {
        let opts = options(&["ws://127.0.0.1:9/echo"]).expect("valid");
        assert_eq!(opts.url.resource_name, "/echo");
        assert_eq!(opts.close, (CloseCode::NORMAL_CLOSURE, String::new()));
        assert!(!opts.trace && !opts.binary && !opts.echo && opts.ping.is_none());
    }

    #[test]
    fn ping_takes_the_next_argument_unless_it_is_a_flag_or_the_url() {
        let opts = options(&["--ping", "ws://h/"]).expect("valid");
        assert_eq!(opts.ping.as_deref(), Some(""));
        let opts = options(&["--ping", "--trace", "ws://h/"]).expect("valid");
        assert_eq!((opts.ping.as_deref(), opts.trace), (Some(""), true));
        let opts = options(&["--ping", "hi", "ws://h/"]).expect("valid");
        assert_eq!(opts.ping.as_deref(), Some("hi"));
        let opts = options(&["ws://h/", "--ping=-x"]).expect("valid");
        assert_eq!(opts.ping.as_deref(), Some("-x"));
    }

    #[test]
    fn close_takes_a_sendable_code_and_a_short_reason() {
        let opts = options(&["--close", "4000", "bye", "ws://h/"]).expect("valid");
        assert_eq!(opts.close, (CloseCode(4000), "bye".to_owned()));
        let long = "x".repeat(124);
        for args in [
            vec!["--close", "1005", "x", "ws://h/"],
            vec!["--close", "999", "x", "ws://h/"],
            vec!["--close", "abc", "x", "ws://h/"],
            vec!["--close", "1000", &long, "ws://h/"],
            vec!["ws://h/", "--close", "1000"],
        ] {
            assert!(matches!(options(&args), Err(Error::Usage(_))), "{args:?}");
        }
    }

    #[test]
    fn a_missing_or_second_url_or_unknown_flag_is_a_usage_error() {
        for args in [
            vec![],
            vec!["ws://a/", "ws://b/"],
            vec!["--nope", "ws://a/"],
        ] {
            assert!(matches!(options(&args), Err(Error::Usage(_))), "{args:?}");
        }
        assert!(matches!(options(&["wss://a/"]), Err(Error::Url(_))));
    }

    #[test]
    fn long_ping_payloads_are_refused() {
        let long = format!("--ping={}", "x".repeat(126));
        assert!(matches!(options(&[&long, "ws://h/"]), Err(Error::Usage(_))));
    }

    #[test]
    fn only_error_codes_make_a_close_unclean() {
        let close = |code: Option<u16>| CloseFrame {
            code: code.map(CloseCode),
            reason: String::new(),
        };
        assert!(!is_error_close(&close(None)));
        assert!(!is_error_close(&close(Some(1000))));
        assert!(!is_error_close(&close(Some(4000))));
        assert!(is_error_close(&close(Some(1002))));
        assert!(is_error_close(&close(Some(1011))));
    }
}
