//! `wsmith connect ws://host:port/path`: an interactive client on the protocol core, in the
//! client role (RFC 6455 §4.1, §5.1, §5.3, §7.1.1).
//!
//! 1. Open TCP to the URL's host and port (§4.1: "establish a TCP connection").
//! 2. Send the opening handshake with a random 16-byte nonce as `Sec-WebSocket-Key`, and any
//!    `-H` fields, and check the answer ([`super::handshake`]): status 101, `Upgrade`,
//!    `Connection` and `Sec-WebSocket-Accept` = base64(SHA-1(key + GUID)). Anything else fails
//!    the connection; a refusal is reported with its status line and the first line of its
//!    body.
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
//!
//! On a terminal the same conversation has a banner and says who spoke ([`super::output`]).

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::handshake::{self, HeaderField, Offer, HANDSHAKE_TIMEOUT};
use super::output::{Output, Style};
use super::random::Entropy;
use super::session::{self, Ending, Reader, Session};
use super::{Error, WsUrl};
use crate::protocol::deflate::DEFAULT_THRESHOLD;
use crate::protocol::{CloseCode, CloseFrame, Connection, Limits};
use crate::sync::lock;

/// The help text of `wsmith connect`.
pub const USAGE: &str = "\
wsmith connect [FLAGS] ws://HOST[:PORT]/PATH   an interactive WebSocket client (RFC 6455)

    Each line of stdin is sent as a Text message; each message received is printed: Text as
    it is, Binary as hex after '[binary N bytes]'; pings, pongs and the close as [ping], [pong],
    [close]. At the end of stdin the client closes (1000) and waits for the server.
    On a terminal: a banner, '< ' before what the server sends and '> ' before what you send
    (a prompt when you type); into a pipe, plain lines only. Only ws:// (no TLS).
    Exit status 0 after a clean close handshake, 1 on any failure, 2 for a wrong command line.

FLAGS:
    --trace              print the handshake and every frame, both ways, explained byte by byte
                         ('>>' we send, masked; '<<' the server sends); checks the server's
                         Sec-WebSocket-Accept against base64(SHA-1(key + GUID)) and says so
    --timestamps         the UTC time of day (12:04:31.207) in front of every line printed
    -H 'NAME: VALUE'     add a header field to the opening handshake (repeatable), e.g.
                         -H 'Origin: http://localhost:8080' or -H 'Authorization: Bearer T';
                         -H 'Sec-WebSocket-Protocol: chat' offers subprotocols (also --header)
    --binary             send stdin lines as Binary messages
    --ping [TEXT]        send a Ping right after connecting (TEXT is the next argument unless
                         it starts with '-' or is the URL; or --ping=TEXT); the Pong is shown
    --close CODE REASON  close with this code and reason when stdin ends (default 1000, none)
    --echo               send every message received back, unchanged, instead of reading stdin
                         and printing (Autobahn's client tests); the server ends the session
    --deflate            offer permessage-deflate (RFC 7692): 'permessage-deflate;
                         client_max_window_bits'; messages of 256 bytes or more go compressed
";

/// A write that makes no progress this long fails (the server stopped reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// `--timestamps`: the time of day in front of every line.
    pub timestamps: bool,
    /// `-H 'Name: value'`: header fields added to the opening handshake (§4.1 item 12).
    pub headers: Vec<HeaderField>,
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
        let (mut deflate, mut timestamps) = (false, false);
        let mut headers = Vec::new();
        let mut ping = None;
        let mut close = (CloseCode::NORMAL_CLOSURE, String::new());
        while let Some(arg) = args.next() {
            match arg {
                "--trace" => trace = true,
                "--binary" => binary = true,
                "--echo" => echo = true,
                "--deflate" => deflate = true,
                "--timestamps" => timestamps = true,
                "-H" | "--header" => {
                    let Some(field) = args.next() else {
                        return Err(Error::Usage(format!("{arg} needs 'NAME: VALUE'")));
                    };
                    headers.push(HeaderField::parse(field).map_err(Error::Usage)?);
                }
                _ if arg.starts_with("--header=") => {
                    let field = arg.trim_start_matches("--header=");
                    headers.push(HeaderField::parse(field).map_err(Error::Usage)?);
                }
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
            timestamps,
            headers,
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
    let output = Output::new(Style::detect(options.timestamps, !options.echo));
    let mut entropy = Entropy::open().map_err(Error::Entropy)?;
    let nonce = entropy.nonce().map_err(Error::Entropy)?;
    let mut socket = open_tcp(&options.url)?;
    let offer = Offer {
        url: &options.url,
        headers: &options.headers,
        deflate: options.deflate,
        trace: options.trace,
    };
    let opened = handshake::open(&mut socket, &offer, &nonce, &output)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    output.banner(
        &describe_target(options, opened.protocol.as_deref()),
        &what_to_do(options, &output),
    );

    let conn = Connection::client(Limits::default(), entropy.into_masking_key_source());
    let conn = match opened.deflate {
        Some(params) => conn.with_deflate(params, DEFAULT_THRESHOLD),
        None => conn,
    };
    let session = Arc::new(Mutex::new(Session::new(
        conn,
        socket.try_clone()?,
        options.trace,
        output.clone(),
    )));
    if let Some(text) = &options.ping {
        let mut session = lock(&session);
        session.conn().send_ping(text.as_bytes());
        session.flush()?;
    }
    if !options.echo {
        let session = Arc::clone(&session);
        let (binary, close) = (options.binary, options.close.clone());
        let output = output.clone();
        // The process ends when the reader does; a thread blocked on stdin ends with it.
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                session::send_lines(&session, io::stdin().lock(), binary, &close, &output);
            })?;
    }
    let reader = Reader::new(socket, session, options.trace, options.echo, output.clone());
    let ending = reader.run(&opened.first_frames);
    // The connection is over: no prompt left on screen before an error line or the shell's.
    output.stop_prompting();
    match ending? {
        Some(Ending::Closed(close)) if is_error_close(&close) => Err(Error::ClosedWithError(close)),
        Some(Ending::Closed(_)) => Ok(()),
        Some(Ending::Failed(error)) => Err(Error::Protocol(error)),
        None => Err(Error::Dropped),
    }
}

/// The banner's "where": the URL, and the subprotocol if the server chose one.
fn describe_target(options: &Options, protocol: Option<&str>) -> String {
    match protocol {
        Some(protocol) => format!("{} (subprotocol {protocol})", options.url),
        None => options.url.to_string(),
    }
}

/// The banner's "what now", for how stdin is used.
fn what_to_do(options: &Options, output: &Output) -> String {
    let close = match &options.close {
        (CloseCode::NORMAL_CLOSURE, reason) if reason.is_empty() => String::new(),
        (code, _) => format!(" with {code}"),
    };
    if options.echo {
        "sending every message back; the server ends the session".to_owned()
    } else if output.style().prompt {
        format!("type a line; Ctrl-D closes{close}")
    } else {
        format!("sending stdin line by line; its end closes{close}")
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
