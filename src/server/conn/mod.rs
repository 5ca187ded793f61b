//! One upgraded connection's I/O: the reader thread that runs the protocol state machine, the
//! outbox that the hub and the reader queue frames into, the writer that drains it into the
//! socket, the writer slot that says who may write now, and the Inspector's tap on the bytes
//! going both ways.
//!
//! ```text
//!  socket ──read──▶ peer (reader) ──▶ protocol::Connection ──events──▶ echo reply / hub
//!                                                          hub, reader, taps ──▶ outbox
//!  socket ◀─write── writer ◀── lanes: control (first) + data (bounded) ◀───────────┘
//!     ▲                          slot: Idle · HeldBy(Reader|FanOut) · Writing · CloseSent · Finished
//!     └── the reader (the 101, its replies) or the fan-out, while it holds the slot
//! ```
//!
//! Three parties write the one socket: the reader, the fan-out (a shared frame written to an
//! idle socket without waiting) and a writer thread (started only for what is queued). Who may
//! write now is one state machine, [`slot::SlotState`], kept with the lanes under their lock:
//! a thread writes directly only when the slot is `Idle` and the lanes are empty, so wire
//! order holds and no frame is left behind.
//!
//! ## Which file may import which
//!
//! The files are layered: each one imports only files below it here (the test at the bottom
//! of this file reads their sources and fails on an import that goes up). Read them bottom up.
//!
//! ```text
//!  peer     `serve`: sets a new connection up (its state machine, outbox, writer slot),
//!    │      registers it with the hub, runs its reader, ends it with its close record
//!  replies  what the reader writes back itself: Pongs, its session's replies, its last frame
//!    │
//!  events   what the reader does with each event: a message to its session (reply, hub,
//!    │      policy close), control frames against their rate
//!  reader   the Reader: the read loop, the state machine fed, keepalive Pings
//!    │
//!  outbox   the sending end: `try_send` (the hub's, never waits), `send` (the reader's, waits
//!    │      for room), `control`; the backlog limits; it holds the WriterSlot it wakes
//!  writer   WriterSlot and the writer thread: the socket, the writes the slot allows, the
//!    │      lanes drained in batches, the close handshake the hub asks for, TCP closed
//!  tap      the Inspector's tap: bytes in and out explained, queued to the watchers
//!    │      through EventSink (which Outbox implements)
//!  lanes    what travels (Frame, SharedBytes, Control), the backlog count, the receiving end;
//!    │      the lanes and the slot's state under one lock
//!  slot     SlotState: who may write now, every transition in one table; no I/O, no lock
//! ```
//!
//! `slot` and `tap` import no file of this folder; `lanes` imports only `slot`. The outbox and
//! the writer are one abstraction with two ends: the writer owns the receiving end and the
//! socket; the outbox, the sending end, queues under the lanes' lock, starts the writer when
//! the slot says so, and writes to an idle socket through the writer's slot, so it sits above
//! it. The tap sits below the writer, which shows it every write, and reaches its watchers'
//! outboxes only through [`tap::EventSink`]. The lock helper the files share is
//! `crate::sync::lock`.
//!
//! What a connection uses from the rest of the server (the hub's commands, the thread pool and
//! the spawner, close records, rate limits, the shared compressors) it names as
//! `crate::server::…`, so `super::` in these files always means a file of this folder.

mod events;
pub(crate) mod lanes;
pub(crate) mod outbox;
pub(crate) mod peer;
mod reader;
mod replies;
pub(crate) mod slot;
pub(crate) mod tap;
pub(crate) mod writer;

#[cfg(test)]
mod tests {
    /// The files of this folder, bottom first, as the module doc draws them.
    const LAYERS: [(&str, &str); 9] = [
        ("slot", include_str!("slot.rs")),
        ("lanes", include_str!("lanes.rs")),
        ("tap", include_str!("tap.rs")),
        ("writer", include_str!("writer.rs")),
        ("outbox", include_str!("outbox.rs")),
        ("reader", include_str!("reader.rs")),
        ("events", include_str!("events.rs")),
        ("replies", include_str!("replies.rs")),
        ("peer", include_str!("peer.rs")),
    ];

    /// The names `source` imports from this folder: what follows each `super::` and
    /// `crate::server::conn::` in its code (`super::{a, b::C}` names `a` and `b`). Comments,
    /// doc links included, are not imports.
    fn imports(source: &str) -> Vec<String> {
        let code: String = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut names = Vec::new();
        for prefix in ["super::", "crate::server::conn::"] {
            let mut rest = code.as_str();
            while let Some(at) = rest.find(prefix) {
                rest = &rest[at + prefix.len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    names.extend(group_names(group));
                } else {
                    names.push(identifier(rest).to_owned());
                }
            }
        }
        names
    }

    /// The first path segment of each item of a `{…}` group, up to its closing brace.
    fn group_names(group: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut depth = 0;
        let mut item_start = true;
        for (at, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && !c.is_whitespace() => {
                    names.push(identifier(&group[at..]).to_owned());
                    item_start = false;
                }
                _ => {}
            }
        }
        names
    }

    fn identifier(text: &str) -> &str {
        let end = text
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        &text[..end]
    }

    /// Every import of a file at or above its own layer: "writer imports outbox".
    fn upward_imports(layers: &[(&str, &str)]) -> Vec<String> {
        let rank = |name: &str| layers.iter().position(|(file, _)| *file == name);
        let mut found = Vec::new();
        for (below, (file, source)) in layers.iter().enumerate() {
            for name in imports(source) {
                if rank(&name).is_some_and(|at| at >= below) {
                    found.push(format!("{file} imports {name}"));
                }
            }
        }
        found
    }

    #[test]
    fn every_file_imports_only_files_below_it() {
        assert_eq!(upward_imports(&LAYERS), Vec::<String>::new());
    }

    #[test]
    fn every_file_of_the_folder_has_a_layer() {
        let declared: Vec<&str> = include_str!("mod.rs")
            .lines()
            .filter_map(|line| {
                ["pub(crate) mod ", "pub mod ", "mod "]
                    .iter()
                    .find_map(|prefix| line.strip_prefix(prefix))
            })
            .filter_map(|rest| rest.strip_suffix(';'))
            .collect();
        let mut layered: Vec<&str> = LAYERS.iter().map(|(file, _)| *file).collect();
        layered.sort_unstable();
        assert_eq!(declared, layered);
    }

    #[test]
    fn the_check_sees_an_import_that_goes_up() {
        let source = "//! [`outbox`](super::outbox)\nuse super::lanes::Frame;\n\
                      use super::{\n    outbox::Outbox,\n    tap,\n};\n\
                      fn f() { crate::server::conn::peer::serve(); super::super::hub::run(); }\n";
        assert_eq!(
            imports(source),
            ["lanes", "outbox", "tap", "super", "hub", "peer"]
        );
        let layers = [
            ("lock", "use crate::protocol::Connection;\n"),
            (
                "writer",
                "use super::lock::lock;\nuse super::outbox::Outbox;\n",
            ),
            ("outbox", "use super::writer::WriterSlot;\n"),
        ];
        assert_eq!(upward_imports(&layers), ["writer imports outbox"]);
    }
}
