//! # wsmith — a WebSocket server written by hand
//!
//! wsmith implements the server side of [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455)
//! itself, on `std::net` threads, so that you can read how the protocol works, point the
//! Autobahn TestSuite at it, fuzz it, and run real-time apps on it from a browser.
//!
//! ## The path a byte takes
//!
//! ```text
//! TcpStream → server::request ─GET→ server::static_files        POST /publish → hub
//!                   └─Upgrade→ protocol::handshake → 101 Switching Protocols
//! reader: bytes → protocol::Connection (frame→mask→message→utf8→close) → events
//!         → app::Session (parse, rate, reply) → hub → app::App → outputs
//! writer: socket ← bounded outbox ← Arc<[u8]> encoded once by the hub, or a Pong/Close reply
//! ```
//!
//! ## Where to read
//!
//! - [`protocol`]: the sans-I/O core, RFC 6455 as bytes in and values out. Start here.
//! - [`explain`]: teaching views of the protocol: the Inspector's frame anatomy, the Lab.
//! - [`server`]: the threads and sockets around it; no protocol rules.
//! - [`app`]: echo, broadcast, chat, notifications, the Inspector's and the Lab's commands,
//!   each behind one seam ([`app::seam`]: an `App` on the hub, a `Session` on each reader),
//!   written against messages, not frames; and [`app::tutorial`], the servers of the seed
//!   tutorials (`wsmith tutorial NAME`).
//! - [`config`]: every flag and limit.
//! - [`client`]: `wsmith connect` and `wsmith decode`, the other end of the protocol.
//!
//! ```
//! use wsmith::protocol::{Connection, Event, Limits, Message};
//!
//! // §5.7: a masked Text frame "Hello" from a client, fed to the server's state machine.
//! let mut conn = Connection::server(Limits::default());
//! conn.receive_data(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! assert_eq!(conn.next_event(), Some(Event::Message(Message::Text("Hello".into()))));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod client;
pub mod config;
pub mod explain;
pub mod protocol;
pub mod server;
mod sync;
