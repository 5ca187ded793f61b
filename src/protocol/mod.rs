//! The sans-I/O protocol core: RFC 6455 as bytes in, values and bytes out.
//!
//! Nothing here opens a socket, starts a thread or reads a clock. The server (and the
//! `wsmith connect` client) feed bytes in and write out the bytes they are handed, so every rule
//! can be tested, fuzzed and read on its own. Read the files in this order: each imports only
//! files above it in the table, so none needs one below it to be understood.
//!
//! | RFC 6455 section | file | what it owns |
//! |---|---|---|
//! | §7.4 status codes | [`close_code`] | `CloseCode`: the registry's numbers and names, which may be sent |
//! | §7.4.1 status codes for errors | [`error`] | `ProtocolError` (each with its close code and rule), `HandshakeError` (each with its HTTP status) |
//! | §10.4 memory, server-wide | [`budget`] | `MemoryBudget`: what every incomplete message together may hold; `Account`, one buffer's share |
//! | §8.1 UTF-8 | [`utf8`] | the incremental, fail-fast validator |
//! | §5.5.1 close | [`close`] | the Close payload: code and reason |
//! | §5.3 client-to-server masking | [`mask`] | `apply_mask`, byte loop and word-at-a-time |
//! | §5.1, §5.2 base framing | [`frame`] | `Role`, `Opcode`, `FrameHeader`; decoding and encoding headers; `check_header`, the one set of header rules |
//! | §9.1 extensions | [`extensions`] | the `Sec-WebSocket-Extensions` grammar: offers, parameters, quoted strings |
//! | RFC 7692 compression | [`deflate`] | `permessage-deflate`: negotiation (§5, §7.1), RSV1 (§6), context takeover; `encode_message`, the one encoder of outgoing messages |
//! | §5.4 fragmentation, §5.6 data frames | [`message`] | fragments → whole messages |
//! | §5–§7 one connection | [`connection`] | the state machine: `receive_data` → events and replies |
//! | §4.1, §4.2 the HTTP around the handshake | [`http`] | the request head, responses, `error_response` |
//! | RFC 7239 (behind a proxy) | [`forwarded`] | the client chain of `Forwarded` / `X-Forwarded-For` |
//! | §4.2 opening handshake | [`handshake`] | the §4.2.1 checks, the 101 answer, the §1.3 accept key |
//!
//! The teaching views of all this (the Inspector's frame anatomy, the Lab) are in
//! [`crate::explain`]; they read the core, and the core knows nothing of them.

pub mod budget;
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

pub use budget::MemoryBudget;
pub use close::{CloseCode, CloseFrame};
pub use connection::{Connection, Event, FrameProgress, Limits};
pub use error::{HandshakeError, ProtocolError};
pub use frame::{FrameHeader, Opcode, Role};
pub use message::Message;

/// The layering above, checked: each file of the core imports only files above it in the
/// table, nothing of the crate outside `protocol/`, and no JSON.
#[cfg(test)]
mod layers {
    /// The table's order.
    const ORDER: [&str; 14] = [
        "close_code",
        "error",
        "budget",
        "utf8",
        "close",
        "mask",
        "frame",
        "extensions",
        "deflate",
        "message",
        "connection",
        "http",
        "forwarded",
        "handshake",
    ];

    /// The code of `file` before its tests, without comments.
    fn code_of(file: &str) -> String {
        let path = format!("{}/src/protocol/{file}.rs", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("a file of the table");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        code.lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn every_file_imports_only_files_above_it() {
        for (at, file) in ORDER.iter().enumerate() {
            let code = code_of(file);
            for (below, other) in ORDER.iter().enumerate().skip(at + 1) {
                for path in [format!("super::{other}"), format!("protocol::{other}")] {
                    let named = code.match_indices(&path).any(|(i, _)| {
                        let next = code.as_bytes().get(i + path.len()).copied();
                        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                    });
                    assert!(
                        !named,
                        "{file} (row {at}) imports {other} (row {below}), below it"
                    );
                }
            }
        }
    }

    #[test]
    fn the_core_imports_nothing_outside_it_and_no_json() {
        for file in ORDER {
            let code = code_of(file);
            let outside = code
                .match_indices("crate::")
                .any(|(i, _)| !code[i..].starts_with("crate::protocol"));
            assert!(!outside, "{file} imports from outside protocol/");
            // Spelled in two pieces, so that grepping protocol/ for the crate finds nothing.
            assert!(
                !code.contains(concat!("serde", "_json")),
                "{file} uses JSON"
            );
            assert!(!code.contains("crate::explain"), "{file} imports explain/");
        }
    }

    #[test]
    fn the_table_names_every_file() {
        let dir = format!("{}/src/protocol", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("protocol/")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter_map(|name| Some(name.strip_suffix(".rs")?.to_owned()))
            .filter(|name| name != "mod")
            .collect();
        files.sort();
        let mut table = ORDER.map(str::to_owned).to_vec();
        table.sort();
        assert_eq!(files, table);
    }
}
