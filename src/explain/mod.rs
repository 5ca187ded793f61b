//! Teaching views *of* the protocol: what a frame's bytes say, field by field, and what the core
//! does with bytes a learner built. Nothing here is a rule of RFC 6455; every rule lives in
//! [`crate::protocol`], and these views only show it (and speak JSON, which the core never does:
//! each wire format is one module of `#[derive(Serialize)]` types).
//!
//! | view | file | what it owns |
//! |---|---|---|
//! | §5.2 frames explained | [`frames`] | every field of a frame, for the Inspector, the Lab, `wsmith decode` and `wsmith connect --trace` |
//! | a byte stream cut into frames | [`splitter`] | `FrameSplitter`: one direction of a connection, however it arrives, each frame explained, a compressed payload inflated within a limit |
//! | the Inspector's events | [`inspector`] | the typed JSON the Inspector sends to the browser: frames, handshakes, closes, attached, detached |
//! | §5–§8 by experiment | [`lab`] | any bytes, in any reads, fed to a fresh server `Connection`, explained step by step |
//! | the Lab's JSON | [`lab::wire`] | the typed report, steps, verdict, limits and presets `/lab` sends the page |

pub mod frames;
pub mod inspector;
pub mod lab;
pub mod splitter;
