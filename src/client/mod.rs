//! The teaching client: `wsmith connect` and `wsmith decode`, the other end of RFC 6455.
//!
//! The server only ever plays one role. This module plays the other, on the same sans-I/O core
//! ([`crate::protocol`]), so that you can watch both directions of a conversation:
//!
//! - [`connect`]: `wsmith connect ws://host:port/path`, an interactive client. It sends the
//!   client's opening handshake (§4.1), masks every frame it sends with a fresh key from
//!   [`random`] (§5.3, §10.3), prints what the server says, and closes the way §7.1.1 asks a
//!   client to: after the close handshake, it waits for the server to close TCP first.
//!   `--trace` prints every frame in both directions, explained by [`crate::explain::frames`].
//! - [`decode`]: `wsmith decode 81 85 37 fa 21 3d 7f 9f 4d 51 58`, frames given as hex (or
//!   `wsmith decode -`, as hex or raw bytes on stdin), explained field by field (§5.2) and
//!   unmasked (§5.3).
//! - [`handshake`]: the client's opening handshake (§4.1) over the socket, `-H` fields, the
//!   `Sec-WebSocket-Accept` check as `--trace` shows it, a refusal's reason.
//! - [`session`]: after the handshake: the reader, the stdin writer, the close of §7.1.1.
//! - [`output`]: what is printed: plain lines into a pipe; a banner and `<` / `>` on a terminal.
//! - [`url`]: the `ws://` URL (§3): host, port and resource name.
//! - [`random`]: masking keys and the handshake nonce from `/dev/urandom`.
//!
//! ```text
//! stdin lines ─▶ Connection::send_message ─▶ masked frames ─▶ TcpStream ─▶ server
//! stdout ◀─ messages, pongs, close ◀─ Connection::receive_data ◀─ TcpStream ◀─ server
//! ```

pub mod connect;
pub mod decode;
pub mod handshake;
pub mod output;
pub mod random;
pub mod session;
pub mod url;

use std::fmt;
use std::io;

use crate::protocol::handshake::ClientHandshakeError;
use crate::protocol::{CloseFrame, ProtocolError};

pub use url::{UrlError, WsUrl};

/// Why a client command stopped before a clean end.
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong; the message names the argument.
    Usage(String),
    /// The URL is not a `ws://` URL wsmith can use (§3).
    Url(UrlError),
    /// `/dev/urandom` could not be read, so no unpredictable key or nonce (§10.3).
    Entropy(io::Error),
    /// The TCP connection could not be opened.
    Connect {
        /// `host:port` as in the URL.
        authority: String,
        /// What the operating system said.
        error: io::Error,
    },
    /// The server answered the opening handshake with something other than 101 (§4.1 item 1).
    Refused {
        /// The HTTP status code.
        status: u16,
        /// The status line, e.g. `HTTP/1.1 404 Not Found`.
        status_line: String,
        /// The first line of the response body, if any: wsmith puts the reason there.
        body_line: String,
    },
    /// The server's 101 breaks a rule of §4.1, so the client fails the connection.
    Handshake(ClientHandshakeError),
    /// The server's `Sec-WebSocket-Accept` is not base64(SHA-1(key + GUID)) (§1.3): "the client
    /// MUST _Fail the WebSocket Connection_" (§4.1).
    WrongAccept {
        /// What the server sent, if it sent the field at all.
        received: Option<String>,
        /// base64(SHA-1(our key + GUID)).
        expected: String,
    },
    /// The server broke a rule after the handshake; we sent a Close with its code (§7.1.7).
    Protocol(ProtocolError),
    /// The server closed with a code that says something went wrong (§7.4.1).
    ClosedWithError(CloseFrame),
    /// The TCP connection ended before the close handshake did: 1006 (§7.1.5, §7.4.1).
    Dropped,
    /// The server did not answer our Close within the time we wait (§7.1.1 lets the client go).
    NoCloseReply {
        /// How long we waited, in seconds.
        waited_secs: u64,
    },
    /// Reading or writing the socket or stdin failed.
    Io(io::Error),
}

impl Error {
    /// The process exit status for this error: 2 for a wrong command line, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Url(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(why) => write!(f, "{why} (see --help)"),
            Self::Url(error) => write!(f, "{error}"),
            Self::Entropy(error) => write!(f, "cannot read {}: {error}", random::SOURCE),
            Self::Connect { authority, error } => write!(f, "cannot connect to {authority}: {error}"),
            Self::Refused {
                status_line,
                body_line,
                ..
            } => {
                write!(f, "handshake refused: {status_line}")?;
                if !body_line.is_empty() {
                    write!(f, ": {body_line}")?;
                }
                Ok(())
            }
            Self::Handshake(error) => write!(f, "handshake failed: {error}"),
            Self::WrongAccept { received, expected } => {
                match received {
                    Some(received) => write!(f, "handshake failed: Sec-WebSocket-Accept is {received:?}")?,
                    None => f.write_str("handshake failed: the 101 has no Sec-WebSocket-Accept")?,
                }
                write!(f, ", but base64(SHA-1(key + GUID)) is {expected:?}; the client must fail the connection (§4.1)")
            }
            Self::Protocol(error) => {
                write!(f, "the server broke {}: {error}; closed with {}", error.section(), error.close_code())
            }
            Self::ClosedWithError(close) => match close.code {
                Some(code) => write!(f, "the server closed with {code} {:?}", close.reason),
                None => f.write_str("the server closed without a status code"),
            },
            Self::Dropped => f.write_str(
                "the server closed the TCP connection without a close handshake (1006 abnormal closure)",
            ),
            Self::NoCloseReply { waited_secs } => {
                write!(f, "no Close reply from the server within {waited_secs} s; closed TCP")
            }
            Self::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

impl From<UrlError> for Error {
    fn from(error: UrlError) -> Self {
        Self::Url(error)
    }
}
