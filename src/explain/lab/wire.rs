//! The Lab's wire format: what `/lab` sends the page, as types.
//!
//! | JSON | type | what it is |
//! |---|---|---|
//! | `{"type":"report", …}` | [`ReportJson`] | one experiment's report: limits, steps, verdict |
//! | `steps[i]`, tagged `step` | [`StepJson`] | `read`, `frame`, `message`, `ping`, `pong`, `close`, `reply`, `failed`, `discarded` |
//! | `verdict`, tagged `kind` | [`VerdictJson`] | `failed`, `closed` or `open`, each with a `headline` |
//! | `limits` | [`LimitsJson`] | the core's limits, named as the flags are |
//! | `presets[i]` | [`PresetJson`] | a classic mistake: its frames ([`BuiltFrameJson`]), reads and the RFC's answer |
//!
//! Frames inside are [`FrameAnatomy`]'s fields, as the Inspector sends them. Each value goes
//! out through [`to_json`], whose object keys are in alphabetical order (serde_json's map
//! order), as the page and its tests have always received them.

use serde::Serialize;
use serde_json::Value;

use super::builder::BuiltFrame;
use super::presets::{Answer, Preset};
use super::{Report, Step, Verdict};
use crate::explain::frames::{hex, FrameAnatomy};
use crate::protocol::{FrameProgress, Limits, ProtocolError};

/// The rule quoted by a `discarded` step.
const DISCARDED_RULE: &str =
    "§7.1.7: after failing or closing, the endpoint MUST NOT continue to attempt to process data";

/// `value` as JSON, keys in alphabetical order.
pub fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("bug: the Lab's JSON holds only strings, numbers and lists")
}

/// One experiment's report.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "report")]
pub struct ReportJson<'a> {
    /// Bytes fed.
    pub input_len: usize,
    /// Reads they were cut into.
    pub reads: usize,
    /// Whether `permessage-deflate` was agreed for the experiment.
    pub deflate: bool,
    /// The core's limits.
    pub limits: LimitsJson,
    /// What happened, in order.
    pub steps: Vec<StepJson<'a>>,
    /// Steps past the cap, not shown.
    pub omitted_steps: usize,
    /// How it ended.
    pub verdict: VerdictJson<'a>,
}

impl<'a> From<&'a Report> for ReportJson<'a> {
    fn from(report: &'a Report) -> Self {
        Self {
            input_len: report.input_len,
            reads: report.reads,
            deflate: report.deflate,
            limits: LimitsJson::from(&report.limits),
            steps: report.steps.iter().map(StepJson::from).collect(),
            omitted_steps: report.omitted_steps,
            verdict: VerdictJson::from(&report.verdict),
        }
    }
}

/// The core's limits, named as the flags are.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LimitsJson {
    /// `--max-frame-size`.
    pub max_frame_size: u64,
    /// `--max-message-size`.
    pub max_message_size: u64,
    /// `--max-fragments`.
    pub max_fragments: usize,
}

impl From<&Limits> for LimitsJson {
    fn from(limits: &Limits) -> Self {
        Self {
            max_frame_size: limits.max_frame_size,
            max_message_size: limits.max_message_size,
            max_fragments: limits.max_fragments,
        }
    }
}

/// One step of a report.
#[derive(Debug, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepJson<'a> {
    /// A read handed to the core.
    Read {
        /// Its number, from 1.
        number: usize,
        /// Where it starts in the input.
        offset: u64,
        /// Its length.
        len: usize,
        /// Its first bytes.
        hex: String,
        /// Whether `hex` is cut.
        truncated: bool,
    },
    /// A frame whose header the core read.
    Frame {
        /// The frame, explained.
        frame: &'a FrameAnatomy,
    },
    /// A whole message.
    Message {
        /// `Text` or `Binary`.
        kind: &'a str,
        /// Its length.
        len: usize,
        /// Its first bytes.
        hex: String,
        /// A Text message's first bytes as text.
        text: Option<&'a str>,
        /// Whether `hex` is cut.
        truncated: bool,
    },
    /// A Ping.
    Ping {
        /// Its payload.
        hex: String,
        /// The payload as text, if UTF-8.
        text: Option<&'a str>,
    },
    /// A Pong.
    Pong {
        /// Its payload.
        hex: String,
        /// The payload as text, if UTF-8.
        text: Option<&'a str>,
    },
    /// The client's Close.
    Close {
        /// Its code, if it had one.
        code: Option<u16>,
        /// The code's name.
        code_name: Option<&'static str>,
        /// Its reason.
        reason: &'a str,
    },
    /// What the server would write.
    Reply {
        /// The bytes.
        hex: String,
        /// Them, as frames.
        frames: &'a [FrameAnatomy],
    },
    /// The core failed the connection.
    Failed(FailureJson),
    /// Input never looked at.
    Discarded {
        /// How many bytes.
        len: u64,
        /// §7.1.7, quoted.
        rule: &'static str,
    },
}

impl<'a> From<&'a Step> for StepJson<'a> {
    fn from(step: &'a Step) -> Self {
        match step {
            Step::Read {
                number,
                offset,
                len,
                bytes,
            } => Self::Read {
                number: *number,
                offset: *offset,
                len: *len,
                hex: hex(bytes),
                truncated: bytes.len() < *len,
            },
            Step::Frame(frame) => Self::Frame { frame },
            Step::Message { kind, len, shown } => Self::Message {
                kind,
                len: *len,
                hex: hex(shown),
                text: (*kind == "Text").then(|| super::as_text(shown)).flatten(),
                truncated: shown.len() < *len,
            },
            Step::Ping(payload) => Self::Ping {
                hex: hex(payload),
                text: std::str::from_utf8(payload).ok(),
            },
            Step::Pong(payload) => Self::Pong {
                hex: hex(payload),
                text: std::str::from_utf8(payload).ok(),
            },
            Step::Closed(close) => Self::Close {
                code: close.code.map(|c| c.0),
                code_name: close.code.map(|c| c.name()),
                reason: &close.reason,
            },
            Step::Reply { bytes, frames } => Self::Reply {
                hex: hex(bytes),
                frames,
            },
            Step::Failed { error, offset } => Self::Failed(FailureJson::new(error, *offset)),
            Step::Discarded { len } => Self::Discarded {
                len: *len,
                rule: DISCARDED_RULE,
            },
        }
    }
}

/// A failure: the close code, the rule with its section, where it happened.
#[derive(Debug, Serialize)]
pub struct FailureJson {
    /// The close code (§7.4.1).
    pub code: u16,
    /// Its name.
    pub code_name: &'static str,
    /// The error, in one line.
    pub error: String,
    /// The rule, quoted with its section.
    pub rule: String,
    /// The section.
    pub section: &'static str,
    /// Where the frame that broke it starts.
    pub offset: u64,
    /// For a limit: the limit and the value over it.
    pub limit: Option<LimitValue>,
    /// The verdict's headline.
    pub headline: String,
}

impl FailureJson {
    fn new(error: &ProtocolError, offset: u64) -> Self {
        let code = error.close_code();
        Self {
            code: code.0,
            code_name: code.name(),
            error: error.to_string(),
            rule: error.rule(),
            section: error.section(),
            offset,
            limit: error
                .limit()
                .map(|(limit, value)| LimitValue { limit, value }),
            headline: Verdict::Failed {
                error: error.clone(),
                offset,
            }
            .headline(),
        }
    }
}

/// A limit and the value that went over it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LimitValue {
    /// The limit.
    pub limit: u64,
    /// The value.
    pub value: u64,
}

/// How an experiment ended.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VerdictJson<'a> {
    /// The core failed the connection (the headline is the failure's).
    Failed(FailureJson),
    /// The client closed and the core answered.
    Closed {
        /// The client's code, if any.
        code: Option<u16>,
        /// Its reason.
        reason: &'a str,
        /// One line.
        headline: String,
    },
    /// Still open.
    Open {
        /// What the core waits for: nothing (at a frame boundary), or the rest of a frame.
        waiting: Option<Waiting>,
        /// One line.
        headline: String,
    },
}

/// What an open connection's core waits for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// The rest of a header, of which it has this many bytes.
    HeaderBytes(usize),
    /// This many more payload bytes.
    PayloadBytes(u64),
}

impl<'a> From<&'a Verdict> for VerdictJson<'a> {
    fn from(verdict: &'a Verdict) -> Self {
        match verdict {
            Verdict::Failed { error, offset } => Self::Failed(FailureJson::new(error, *offset)),
            Verdict::Closed(close) => Self::Closed {
                code: close.code.map(|c| c.0),
                reason: &close.reason,
                headline: verdict.headline(),
            },
            Verdict::Open(progress) => Self::Open {
                waiting: match progress {
                    FrameProgress::AtBoundary => None,
                    FrameProgress::InHeader(have) => Some(Waiting::HeaderBytes(have.len())),
                    FrameProgress::InPayload(remaining) => Some(Waiting::PayloadBytes(*remaining)),
                },
                headline: verdict.headline(),
            },
        }
    }
}

/// A frame as the builder shows it.
#[derive(Debug, Serialize)]
pub struct BuiltFrameJson {
    /// FIN.
    pub fin: bool,
    /// RSV1–3.
    pub rsv: [bool; 3],
    /// The opcode, reserved ones included.
    pub opcode: u8,
    /// The masking key, if masked.
    pub masking_key_hex: Option<String>,
    /// `7`, `16`, `64` or `auto`: how the length is written.
    pub length_form: &'static str,
    /// A length to announce instead of the payload's own.
    pub declared_len: Option<u64>,
    /// The payload, as text or as hex.
    pub payload: PayloadJson,
}

/// A built frame's payload, as the builder's text box or hex box holds it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadJson {
    /// Text.
    Text(String),
    /// Hex.
    Hex(String),
}

impl From<&BuiltFrame> for BuiltFrameJson {
    fn from(frame: &BuiltFrame) -> Self {
        Self {
            fin: frame.fin,
            rsv: frame.rsv,
            opcode: frame.opcode,
            masking_key_hex: frame.masking_key.map(|key| hex(&key)),
            length_form: frame.length_form.as_str(),
            declared_len: frame.declared_len,
            payload: if frame.payload_as_text {
                PayloadJson::Text(String::from_utf8_lossy(&frame.payload).into_owned())
            } else {
                PayloadJson::Hex(hex(&frame.payload))
            },
        }
    }
}

/// A preset as the page lists it.
#[derive(Debug, Serialize)]
pub struct PresetJson<'a> {
    /// Its id.
    pub id: &'static str,
    /// Its title.
    pub title: &'static str,
    /// What it teaches.
    pub lesson: &'static str,
    /// Its frames.
    pub frames: Vec<BuiltFrameJson>,
    /// Where the input is cut into reads.
    pub reads: &'a [usize],
    /// Whether `permessage-deflate` is agreed.
    pub deflate: bool,
    /// The limits it runs with.
    pub limits: LimitsJson,
    /// All its bytes.
    pub hex: String,
    /// The RFC's answer.
    pub answer: AnswerJson,
}

/// The RFC's answer to a preset.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerJson {
    /// Fail the connection with this code, by the rule of this section.
    Fail {
        /// The close code.
        code: u16,
        /// The section.
        section: &'static str,
    },
    /// Accept it: these steps happen.
    Accept(&'static [&'static str]),
}

impl<'a> PresetJson<'a> {
    /// `preset` as the page lists it, run with the server's `limits` (lowered as it asks).
    pub fn new(preset: &'a Preset, limits: Limits) -> Self {
        Self {
            id: preset.id,
            title: preset.title,
            lesson: preset.lesson,
            frames: preset.frames.iter().map(BuiltFrameJson::from).collect(),
            reads: &preset.reads,
            deflate: preset.deflate,
            limits: LimitsJson::from(&preset.experiment(limits).limits),
            hex: hex(&preset.bytes()),
            answer: match &preset.answer {
                Answer::Fail { code, section } => AnswerJson::Fail {
                    code: *code,
                    section,
                },
                Answer::Accept(steps) => AnswerJson::Accept(steps),
            },
        }
    }
}

impl Step {
    /// The step as the `/lab` endpoint's JSON ([`StepJson`]).
    pub fn to_json(&self) -> Value {
        to_json(&StepJson::from(self))
    }
}

impl Verdict {
    /// The verdict as the `/lab` endpoint's JSON: `kind` is `failed`, `closed` or `open`
    /// ([`VerdictJson`]).
    pub fn to_json(&self) -> Value {
        to_json(&VerdictJson::from(self))
    }
}

impl Report {
    /// The report as the `/lab` endpoint's JSON (`{"type":"report", …}`, [`ReportJson`]).
    pub fn to_json(&self) -> Value {
        to_json(&ReportJson::from(self))
    }
}

impl BuiltFrame {
    /// The builder's fields as the page reads them ([`BuiltFrameJson`]).
    pub fn to_json(&self) -> Value {
        to_json(&BuiltFrameJson::from(self))
    }
}

impl Preset {
    /// The preset as the page reads it ([`PresetJson`]).
    pub fn to_json(&self, limits: Limits) -> Value {
        to_json(&PresetJson::new(self, limits))
    }
}

/// The core's limits as JSON, named as the flags are ([`LimitsJson`]).
pub fn limits_json(limits: &Limits) -> Value {
    to_json(&LimitsJson::from(limits))
}
