//! The sans-I/O protocol core: RFC 6455 as bytes in, values and bytes out.
//!
//! Nothing here opens a socket, starts a thread or reads a clock. The server (and the
//! `wsmith connect` client) feed bytes in and write out the bytes they are handed, so every rule
//! can be tested, fuzzed and read on its own. Read the files in this order:
//!
//! | RFC 6455 section | file | what it owns |
//! |---|---|---|
//! | §4.1, §4.2 opening handshake | [`http`], [`handshake`] | the request head, the 101 answer, the §1.3 accept key |
//! | §5.2 base framing | [`frame`] | `Opcode`, `FrameHeader`, decoding and encoding headers |
//! | §5.3 client-to-server masking | [`mask`] | `apply_mask`, byte loop and word-at-a-time |
//! | §5.4 fragmentation, §5.6 data frames | [`message`] | fragments → whole messages |
//! | §8.1 UTF-8 | [`utf8`] | the incremental, fail-fast validator |
//! | §7.4 status codes | [`close_code`] | `CloseCode`: the registry's numbers and names, which may be sent |
//! | §5.5.1 close | [`close`] | the Close payload: code and reason |
//! | §9.1 extensions | [`extensions`] | the `Sec-WebSocket-Extensions` grammar: offers, parameters, quoted strings |
//! | RFC 7692 compression | [`deflate`] | `permessage-deflate`: negotiation (§5, §7.1), RSV1 (§6), context takeover |
//! | §5–§7 one connection | [`connection`] | the state machine: `receive_data` → events and replies |
//! | §7.4.1 status codes for errors | [`error`] | `ProtocolError`, `HandshakeError` |
//! | RFC 7239 (behind a proxy) | [`forwarded`] | the client chain of `Forwarded` / `X-Forwarded-For` |

pub mod close;
pub mod close_code;
pub mod connection;
pub mod deflate;
pub mod error;
pub mod extensions;
pub mod forwarded;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod mask;
pub mod message;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use connection::{Connection, Event, FrameProgress, Limits};
pub use error::{HandshakeError, ProtocolError};
pub use frame::{FrameHeader, Opcode, Role};
pub use message::Message;
