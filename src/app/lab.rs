//! `/lab`: the frame lab's commands. The bytes a learner built are fed to a fresh server-role
//! protocol core ([`crate::explain::lab`]) and the report goes back to the learner alone;
//! no socket sees those bytes and nothing is relayed to anyone.
//!
//! | client → server | answer |
//! |---|---|
//! | `{"type":"feed","hex":"81 02 68 69","chunks":[1,3]}` | `report`: the steps and the verdict. `chunks` are read sizes (the rest is one last read); `"limits":{"max_frame_size":16}` lowers the core's limits (never above the server's); `"deflate":true` runs it as if `permessage-deflate` had been agreed |
//! | `{"type":"preset","id":"unmasked"}` | `report` of that preset, with its `preset` id |
//! | `{"type":"presets"}` | `presets`: every preset (frames for the builder, bytes, the RFC's answer) and the lab's limits |
//!
//! Errors are `{"type":"error","error":CODE,"message":…}` with `CODE` one of `bad_json`,
//! `bad_hex`, `input_too_large`, `bad_input`, `unknown_preset`, `rate_limited`,
//! `binary_unsupported`; the connection stays open. The lab's own limits ([`LabLimits`]): at most
//! `--lab-max-input` bytes per experiment, `--lab-rate` commands a second (excess ones are
//! refused before they are parsed), and a message limit of its own on the `/lab` connection.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use super::seam::{App, Reading, Session};
use crate::explain::frames::parse_hex;
use crate::explain::lab::presets::{find, presets};
use crate::explain::lab::{limits_json, run, Experiment};
use crate::protocol::{Limits, Message};

/// The lab on the hub: nothing, every experiment is its learner's alone ([`LabSession`]).
#[derive(Debug, Default)]
pub struct Lab;

impl App for Lab {}

/// The lab's own limits, so that it cannot be used to load the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabLimits {
    /// `--lab-max-input`: bytes one experiment may feed.
    pub max_input: usize,
    /// `--lab-rate`: commands per second per `/lab` connection.
    pub commands_per_second: u32,
}

impl Default for LabLimits {
    /// 128 KiB of frame bytes (§5.7's 64 KiB example fits), 10 commands a second.
    fn default() -> Self {
        Self {
            max_input: 128 << 10,
            commands_per_second: 10,
        }
    }
}

impl LabLimits {
    /// The largest message a `/lab` client may send: the input as spaced hex (3 characters a
    /// byte, rounded up to 4) and the JSON around it. Larger ones are closed with 1009.
    pub fn max_command(&self) -> u64 {
        4 * self.max_input as u64 + 4096
    }

    /// The limits of a `/lab` connection's own core: the server's, with messages and frames
    /// no larger than [`LabLimits::max_command`].
    pub fn connection_limits(&self, server: Limits) -> Limits {
        Limits {
            max_frame_size: server.max_frame_size.min(self.max_command()),
            max_message_size: server.max_message_size.min(self.max_command()),
            max_fragments: server.max_fragments,
        }
    }
}

/// The commands, as JSON.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Feed {
        hex: String,
        #[serde(default)]
        chunks: Vec<usize>,
        #[serde(default)]
        limits: Option<LoweredLimits>,
        #[serde(default)]
        deflate: bool,
    },
    Preset {
        id: String,
    },
    Presets,
}

/// Limits a learner asks for; each is capped at the server's.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LoweredLimits {
    max_frame_size: Option<u64>,
    max_message_size: Option<u64>,
    max_fragments: Option<usize>,
}

/// One `/lab` connection's session: its limits and its command rate.
#[derive(Debug, Clone)]
pub struct LabSession {
    limits: LabLimits,
    /// The server's core limits: the most a learner may ask for.
    server: Limits,
    window_start: Instant,
    commands: u32,
}

impl Session for LabSession {
    /// Runs the experiment on the connection's own thread; the report goes back to it alone.
    fn read(&mut self, message: Message) -> Reading {
        Reading::Reply(Message::Text(self.reply(&message, Instant::now())))
    }
}

impl LabSession {
    /// A session on a server whose core runs with `server` limits.
    pub fn new(limits: LabLimits, server: Limits, now: Instant) -> Self {
        Self {
            limits,
            server,
            window_start: now,
            commands: 0,
        }
    }

    /// Answers one message with the JSON text to send back.
    pub fn reply(&mut self, message: &Message, now: Instant) -> String {
        if !self.within_rate(now) {
            let limit = self.limits.commands_per_second;
            return error(
                "rate_limited",
                &format!("over {limit} lab commands per second; command dropped"),
            );
        }
        let Message::Text(text) = message else {
            return error("binary_unsupported", "lab commands are JSON text");
        };
        match serde_json::from_str::<Command>(text) {
            Ok(command) => self.run(command).unwrap_or_else(|e| e),
            Err(e) => error("bad_json", &format!("not a lab command: {e}")),
        }
    }

    /// Counts a command in the current one-second window.
    fn within_rate(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.commands = 0;
        }
        self.commands += 1;
        self.commands <= self.limits.commands_per_second
    }

    fn run(&self, command: Command) -> Result<String, String> {
        match command {
            Command::Presets => Ok(self.presets()),
            Command::Preset { id } => {
                let preset = find(&id)
                    .ok_or_else(|| error("unknown_preset", &format!("no preset {id:?}")))?;
                let mut report = self.report(&preset.experiment(self.server))?;
                report["preset"] = json!(preset.id);
                Ok(report.to_string())
            }
            Command::Feed {
                hex,
                chunks,
                limits,
                deflate,
            } => {
                let bytes = parse_hex(&[hex]).map_err(|e| error("bad_hex", &e))?;
                let limits = self.lowered(limits.unwrap_or_default());
                let experiment = Experiment {
                    bytes,
                    reads: chunks,
                    limits,
                    deflate,
                };
                Ok(self.report(&experiment)?.to_string())
            }
        }
    }

    fn report(&self, experiment: &Experiment) -> Result<Value, String> {
        let max = self.limits.max_input;
        if experiment.bytes.len() > max {
            return Err(error(
                "input_too_large",
                &format!(
                    "{} bytes is more than the lab's {max} (--lab-max-input)",
                    experiment.bytes.len()
                ),
            ));
        }
        run(experiment)
            .map(|report| report.to_json())
            .map_err(|e| error("bad_input", &e.to_string()))
    }

    /// The learner's limits, never above the server's.
    fn lowered(&self, asked: LoweredLimits) -> Limits {
        let server = self.server;
        Limits {
            max_frame_size: asked
                .max_frame_size
                .map_or(server.max_frame_size, |n| n.min(server.max_frame_size)),
            max_message_size: asked
                .max_message_size
                .map_or(server.max_message_size, |n| n.min(server.max_message_size)),
            max_fragments: asked
                .max_fragments
                .map_or(server.max_fragments, |n| n.min(server.max_fragments)),
        }
    }

    fn presets(&self) -> String {
        json!({
            "type": "presets",
            "presets": presets().iter().map(|p| p.to_json(self.server)).collect::<Vec<_>>(),
            "limits": limits_json(&self.server),
            "max_input": self.limits.max_input,
            "commands_per_second": self.limits.commands_per_second,
        })
        .to_string()
    }
}

fn error(code: &str, message: &str) -> String {
    json!({"type": "error", "error": code, "message": message}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> LabSession {
        LabSession::new(LabLimits::default(), Limits::default(), Instant::now())
    }

    fn ask(session: &mut LabSession, text: &str) -> Value {
        let reply = session.reply(&Message::Text(text.into()), Instant::now());
        serde_json::from_str(&reply).expect("replies are JSON")
    }

    #[test]
    fn feed_reports_the_verdict_of_the_core() {
        let reply = ask(
            &mut session(),
            r#"{"type":"feed","hex":"81 02 68 69","chunks":[1,3]}"#,
        );
        assert_eq!(reply["type"], "report");
        assert_eq!(reply["reads"], 2);
        assert_eq!(
            reply["verdict"]["headline"],
            "1002 — §5.1 a client must mask every frame"
        );
    }

    #[test]
    fn presets_are_listed_and_run_by_id() {
        let mut session = session();
        let list = ask(&mut session, r#"{"type":"presets"}"#);
        let presets = list["presets"].as_array().expect("a list");
        assert!(presets.len() >= 20, "{}", presets.len());
        assert_eq!(list["max_input"], 128 << 10);
        let report = ask(&mut session, r#"{"type":"preset","id":"close-1005"}"#);
        assert_eq!(report["preset"], "close-1005");
        assert_eq!(report["verdict"]["code"], 1002);
        assert_eq!(report["verdict"]["section"], "§7.4");
        let unknown = ask(&mut session, r#"{"type":"preset","id":"nope"}"#);
        assert_eq!(unknown["error"], "unknown_preset");
    }

    #[test]
    fn learners_may_lower_limits_but_not_raise_them() {
        let mut session = LabSession::new(
            LabLimits::default(),
            Limits {
                max_frame_size: 100,
                ..Limits::default()
            },
            Instant::now(),
        );
        let reply = ask(
            &mut session,
            r#"{"type":"feed","hex":"82 80 00 00 00 00","limits":{"max_frame_size":999999,"max_fragments":3}}"#,
        );
        assert_eq!(reply["limits"]["max_frame_size"], 100);
        assert_eq!(reply["limits"]["max_fragments"], 3);
    }

    #[test]
    fn input_is_limited_at_the_edge() {
        let limits = LabLimits {
            max_input: 6,
            commands_per_second: 100,
        };
        let mut session = LabSession::new(limits, Limits::default(), Instant::now());
        let at_limit = ask(&mut session, r#"{"type":"feed","hex":"82 80 00 00 00 00"}"#);
        assert_eq!(at_limit["type"], "report");
        let over = ask(
            &mut session,
            r#"{"type":"feed","hex":"82 80 00 00 00 00 00"}"#,
        );
        assert_eq!(over["error"], "input_too_large");
    }

    #[test]
    fn commands_over_the_rate_are_refused_until_the_next_second() {
        let start = Instant::now();
        let mut session = LabSession::new(LabLimits::default(), Limits::default(), start);
        let presets = Message::Text(r#"{"type":"presets"}"#.into());
        for _ in 0..10 {
            assert!(session.reply(&presets, start).contains("\"presets\""));
        }
        assert!(session.reply(&presets, start).contains("rate_limited"));
        let later = start + Duration::from_secs(1);
        assert!(session.reply(&presets, later).contains("\"presets\""));
    }

    #[test]
    fn malformed_commands_get_an_error_each() {
        let mut session = session();
        for (text, code) in [
            ("hello", "bad_json"),
            (r#"{"type":"feed","hex":"8"}"#, "bad_hex"),
            (r#"{"type":"feed","hex":""}"#, "bad_input"),
            (r#"{"type":"feed","hex":"81 00","chunks":[0]}"#, "bad_input"),
        ] {
            assert_eq!(ask(&mut session, text)["error"], code, "{text}");
        }
        let binary = session.reply(&Message::Binary(vec![1]), Instant::now());
        assert!(binary.contains("binary_unsupported"));
    }

    #[test]
    fn the_lab_connection_has_its_own_message_limit() {
        let limits = LabLimits::default().connection_limits(Limits::default());
        assert_eq!(limits.max_message_size, 4 * (128 << 10) + 4096);
        assert_eq!(limits.max_frame_size, limits.max_message_size);
    }
}
