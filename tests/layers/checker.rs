//! The checker itself, on small trees of sources held in memory: the same [`check`] that runs
//! over `src/`.

use std::collections::BTreeMap;

use crate::{check, lines};

/// A tree of sources: (path, text).
fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect()
}

/// A crate with a protocol and a server that keeps its layers.
const LIB: &str = "pub mod protocol;\npub mod server;\n";
const PROTOCOL: &str = "pub mod connection;\npub mod frame;\n\
                        pub use connection::{Connection, Role};\npub use frame::Opcode;\n";
const FRAME: &str = "pub enum Opcode { Text }\n";
const CONNECTION: &str = "use super::Opcode;\npub struct Connection(Opcode);\npub enum Role {}\n";
const SERVER: &str = "pub mod hub;\n";
const HUB: &str = "use crate::protocol::{self, Opcode};\npub enum Command { Join }\n\
                   fn f(c: protocol::Connection) -> Opcode { todo!() }\n";

#[test]
fn a_crate_that_keeps_its_layers_passes() {
    let sources = tree(&[
        ("src/lib.rs", LIB),
        ("src/protocol/mod.rs", PROTOCOL),
        ("src/protocol/frame.rs", FRAME),
        ("src/protocol/connection.rs", CONNECTION),
        ("src/server/mod.rs", SERVER),
        ("src/server/hub.rs", HUB),
    ]);
    assert_eq!(check(&sources).violations, Vec::<String>::new());
}

#[test]
fn one_upward_import_in_protocol_fails() {
    let frame = "use crate::server::hub::Command;\npub enum Opcode { Text }\n";
    let sources = tree(&[
        ("src/lib.rs", LIB),
        ("src/protocol/mod.rs", PROTOCOL),
        ("src/protocol/frame.rs", frame),
        ("src/protocol/connection.rs", CONNECTION),
        ("src/server/mod.rs", SERVER),
        ("src/server/hub.rs", "pub enum Command { Join }\n"),
    ]);
    assert_eq!(
        check(&sources).violations,
        [
            "src/protocol/frame.rs imports src/server/hub.rs (Command): protocol may not import server",
            "src/protocol/frame.rs imports src/server/hub.rs (Command): src/protocol/ imports nothing outside it",
        ]
    );
}

#[test]
fn an_import_in_a_path_in_code_counts_too() {
    let connection = "use super::Opcode;\npub struct Connection(Opcode);\npub enum Role {}\n\
                      fn f() { let _ = crate::server::hub::Command::Join; }\n";
    let sources = tree(&[
        ("src/lib.rs", LIB),
        ("src/protocol/mod.rs", PROTOCOL),
        ("src/protocol/frame.rs", FRAME),
        ("src/protocol/connection.rs", connection),
        ("src/server/mod.rs", SERVER),
        ("src/server/hub.rs", "pub enum Command { Join }\n"),
    ]);
    let violations = check(&sources).violations;
    assert_eq!(
        violations.first().map(String::as_str),
        Some("src/protocol/connection.rs imports src/server/hub.rs (Command): protocol may not import server")
    );
}

#[test]
fn a_circle_is_reported_with_the_way_back() {
    let sources = tree(&[
        ("src/lib.rs", "pub mod protocol;\n"),
        (
            "src/protocol/mod.rs",
            "pub mod connection;\npub mod deflate;\npub mod message;\n",
        ),
        (
            "src/protocol/connection.rs",
            "use super::message::Message;\npub enum Role {}\n",
        ),
        (
            "src/protocol/message.rs",
            "use super::deflate::Inflater;\npub enum Message {}\n",
        ),
        (
            "src/protocol/deflate.rs",
            "use super::connection::Role;\npub struct Inflater;\n",
        ),
    ]);
    assert_eq!(
        check(&sources).violations,
        [
            "src/protocol/connection.rs imports src/protocol/message.rs (Message): circle connection → message → deflate → connection",
            "src/protocol/deflate.rs imports src/protocol/connection.rs (Role): circle deflate → connection → message → deflate",
            "src/protocol/message.rs imports src/protocol/deflate.rs (Inflater): circle message → deflate → connection → message",
        ]
    );
}

/// What is not an import: doc comments and doc links, strings, a `macro_rules!` body; and what
/// is resolved where it leads: re-exports of a `mod.rs`, `super::` in nested inline modules,
/// a test module's imports (held to the layers, left out of the circles).
#[test]
fn no_false_imports() {
    let connection = "//! See [`crate::server::hub::Command`].\n\
        use super::Opcode;\n\
        /// Not [`crate::server::hub`] either.\n\
        pub struct Connection(Opcode);\npub enum Role {}\n\
        macro_rules! hub { () => { $crate::server::hub::Command::Join } }\n\
        const TEXT: &str = \"crate::server::hub::Command\";\n\
        mod outer { mod inner { use super::super::frame::Opcode; fn f(o: Opcode) {} } }\n\
        #[cfg(test)]\nmod tests { use super::*; use crate::protocol::frame::Opcode; }\n";
    let frame = "pub enum Opcode { Text }\n\
        #[cfg(test)]\nmod tests { fn f() { assert!(crate::protocol::Connection::new()); } }\n";
    let sources = tree(&[
        ("src/lib.rs", LIB),
        ("src/protocol/mod.rs", PROTOCOL),
        ("src/protocol/frame.rs", frame),
        ("src/protocol/connection.rs", connection),
        ("src/server/mod.rs", SERVER),
        ("src/server/hub.rs", HUB),
    ]);
    let report = check(&sources);
    assert_eq!(report.violations, Vec::<String>::new());
    let edges: Vec<String> = report
        .graph
        .edges
        .iter()
        .map(|e| {
            format!(
                "{} → {} {}{}",
                e.from,
                e.to,
                e.item,
                if e.test { " test" } else { "" }
            )
        })
        .collect();
    assert_eq!(
        edges,
        [
            "src/protocol/connection.rs → src/protocol/frame.rs Opcode",
            "src/protocol/connection.rs → src/protocol/frame.rs Opcode test",
            "src/protocol/frame.rs → src/protocol/connection.rs Connection test",
            "src/protocol/mod.rs → src/protocol/connection.rs Connection",
            "src/protocol/mod.rs → src/protocol/connection.rs Role",
            "src/protocol/mod.rs → src/protocol/frame.rs Opcode",
            "src/server/hub.rs → src/protocol/connection.rs Connection",
            "src/server/hub.rs → src/protocol/frame.rs Opcode",
        ]
    );
}

#[test]
fn protocol_never_names_sockets_threads_or_json() {
    let connection = "use std::thread;\nuse std::{io, net::TcpStream};\n\
        pub struct Connection;\npub enum Role {}\n\
        fn f() { thread::spawn(|| ()); let _ = serde_json::json!({}); }\n";
    let sources = tree(&[
        ("src/lib.rs", "pub mod protocol;\n"),
        ("src/protocol/mod.rs", "pub mod connection;\n"),
        ("src/protocol/connection.rs", connection),
    ]);
    assert_eq!(
        check(&sources).violations,
        [
            "src/protocol/connection.rs names serde_json::json: src/protocol/ never names serde_json",
            "src/protocol/connection.rs names std::net::TcpStream: src/protocol/ never names std::net",
            "src/protocol/connection.rs names std::thread: src/protocol/ never names std::thread",
            "src/protocol/connection.rs names std::thread::spawn: src/protocol/ never names std::thread",
        ]
    );
}

#[test]
fn app_never_imports_server_and_a_new_module_must_be_placed() {
    let sources = tree(&[
        (
            "src/lib.rs",
            "pub mod app;\npub mod gadgets;\npub mod server;\n",
        ),
        ("src/app/mod.rs", "use crate::server::Shared;\n"),
        ("src/gadgets.rs", "pub fn gadget() {}\n"),
        ("src/server/mod.rs", "pub struct Shared;\n"),
        ("src/stray.rs", "pub fn lost() {}\n"),
    ]);
    assert_eq!(
        check(&sources).violations,
        [
            "src/app/mod.rs imports src/server/mod.rs (Shared): app may not import server",
            "src/app/mod.rs imports src/server/mod.rs (Shared): src/app/ never imports src/server/",
            "src/gadgets.rs: top-level module `gadgets` has no layer in LAYERS",
            "src/stray.rs is in src/ but no `mod` declares it",
        ]
    );
}

#[test]
fn lines_of_code_leave_out_blank_lines_comments_and_tests() {
    let text =
        "//! A module.\n\n/// An item.\npub fn f() -> u8 {\n    // why\n    1 /* one */\n}\n\n\
                #[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n";
    let file = syn::parse_file(text).expect("the example parses");
    assert_eq!(lines::lines_of_code(text, &file), 3);
}
