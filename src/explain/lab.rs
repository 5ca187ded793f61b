//! The frame lab: any bytes, cut into any reads, fed to a fresh server-role [`Connection`], and
//! what the core did with them, step by step (RFC 6455 §5–§8 applied to frames you built).
//!
//! A browser's WebSocket API only sends valid frames. The lab takes bytes instead, so a learner
//! can ask "what if": an unmasked frame, an RSV bit, a Ping of 126 bytes, a close code of 1005,
//! a Text message split inside a UTF-8 character. Nothing here touches a socket: the bytes go to
//! [`Connection::receive_data`] exactly as the server's reader would hand them over, one read
//! per chunk, and the [`Report`] says, in order:
//!
//! - each read ([`Step::Read`]), and each frame whose header the core read, explained by the
//!   same code as the Inspector's ([`FrameSplitter`], [`FrameAnatomy`]);
//! - each event: a message, a Ping, a Pong, the peer's Close;
//! - what the server would write after that read ([`Step::Reply`]: a Pong, the Close), its
//!   bytes explained the same way;
//! - the failure, with its close code, rule, RFC section and byte offset ([`Step::Failed`]),
//!   and the bytes discarded after it (§7.1.7);
//! - a [`Verdict`]: failed, closed, or still open (and waiting for what).
//!
//! ```
//! use wsmith::explain::lab::{run, Experiment, Verdict};
//! use wsmith::protocol::Limits;
//!
//! // §5.7's unmasked "Hello", as if a client had sent it: a server must fail the connection.
//! let report = run(&Experiment::whole(vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]))?;
//! assert!(matches!(report.verdict, Verdict::Failed { .. }));
//! assert_eq!(report.verdict.headline(), "1002 — §5.1 a client must mask every frame");
//! # Ok::<(), wsmith::explain::lab::LabError>(())
//! ```
//!
//! [`presets`] holds the classic mistakes, built with [`builder`].

pub mod builder;
pub mod presets;
pub mod wire;

use std::fmt;

pub use wire::limits_json;

use super::frames::{hex, FrameAnatomy, SHOWN_PAYLOAD};
use super::splitter::FrameSplitter;
use crate::protocol::close::CloseFrame;
use crate::protocol::connection::{Connection, Event, FrameProgress, Limits, State};
use crate::protocol::deflate::Params;
use crate::protocol::error::ProtocolError;
use crate::protocol::message::Message;
use crate::protocol::Role;

/// The most reads one experiment may be cut into.
pub const MAX_READS: usize = 1024;
/// The most steps a report lists; the core still runs to the end for the verdict.
pub const MAX_STEPS: usize = 100;
/// How many bytes of each read a [`Step::Read`] shows.
pub const SHOWN_READ: usize = 64;
/// The largest message the lab's core assembles, in bytes, unless the input itself is longer:
/// with `permessage-deflate` a few KiB inflate to the 64 MiB `--max-message-size`, and the lab
/// must not be a way to make the server inflate that much for anyone. A zip bomb is closed with
/// 1009 here as it would be at the server's limit, 1 MiB in (eight times `--lab-max-input`'s
/// default); an uncompressed message is never longer than the input, so it never meets it.
pub const MAX_LAB_MESSAGE: u64 = 1 << 20;

/// Bytes to feed, where to cut them into reads, and the core's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Experiment {
    /// The bytes a client sent after the handshake.
    pub bytes: Vec<u8>,
    /// The sizes of the first reads; whatever bytes remain after them are one last read.
    pub reads: Vec<usize>,
    /// The core's limits (§10.4).
    pub limits: Limits,
    /// As if the handshake had agreed `permessage-deflate` with its default parameters
    /// (RFC 7692 §7): RSV1 then means "this message is compressed".
    pub deflate: bool,
}

impl Experiment {
    /// `bytes` in one read, with the default limits.
    pub fn whole(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            reads: Vec::new(),
            limits: Limits::default(),
            deflate: false,
        }
    }

    /// The limits the core runs with: the experiment's, with messages no larger than
    /// [`MAX_LAB_MESSAGE`] or the input, whichever is more (§10.4).
    pub fn effective_limits(&self) -> Limits {
        let lab = MAX_LAB_MESSAGE.max(self.bytes.len() as u64);
        Limits {
            max_message_size: self.limits.max_message_size.min(lab),
            ..self.limits
        }
    }

    /// The reads as byte ranges: the given sizes (cut at the end of the input), then the rest.
    fn read_ranges(&self) -> Vec<(usize, usize)> {
        let mut ranges = Vec::new();
        let mut at = 0;
        for &size in &self.reads {
            if at >= self.bytes.len() {
                break;
            }
            let end = at.saturating_add(size).min(self.bytes.len());
            ranges.push((at, end));
            at = end;
        }
        if at < self.bytes.len() {
            ranges.push((at, self.bytes.len()));
        }
        ranges
    }
}

/// Why an experiment cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabError {
    /// There are no bytes to feed.
    NoBytes,
    /// A read of zero bytes: a read always delivers at least one (0 means the peer closed TCP).
    EmptyRead,
    /// More read sizes than [`MAX_READS`].
    TooManyReads {
        /// How many were asked for.
        count: usize,
    },
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoBytes => f.write_str("no bytes to feed"),
            Self::EmptyRead => f.write_str("a read delivers at least one byte"),
            Self::TooManyReads { count } => {
                write!(f, "{count} reads is more than the lab's {MAX_READS}")
            }
        }
    }
}

impl std::error::Error for LabError {}

/// One thing the core did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A read handed to [`Connection::receive_data`]: `len` bytes at `offset`; the first
    /// [`SHOWN_READ`] are in `bytes`.
    Read {
        /// Which read, counted from 1.
        number: usize,
        /// Where it starts in the input.
        offset: u64,
        /// How many bytes it delivers.
        len: usize,
        /// Its first bytes.
        bytes: Vec<u8>,
    },
    /// The core read a frame's header; the frame, explained (payload as far as the input has it).
    Frame(FrameAnatomy),
    /// A whole Text or Binary message (§5.6); at most [`SHOWN_PAYLOAD`] bytes are kept.
    Message {
        /// `Text` or `Binary`.
        kind: &'static str,
        /// The message's length in bytes.
        len: usize,
        /// Its first bytes.
        shown: Vec<u8>,
    },
    /// A Ping (§5.5.2); its Pong is in the [`Step::Reply`] after this read.
    Ping(Vec<u8>),
    /// A Pong (§5.5.3): nothing to answer.
    Pong(Vec<u8>),
    /// The client's Close (§5.5.1); the echoed Close is in the [`Step::Reply`].
    Closed(CloseFrame),
    /// The bytes the server would write after this read, explained.
    Reply {
        /// The bytes.
        bytes: Vec<u8>,
        /// Them, as frames.
        frames: Vec<FrameAnatomy>,
    },
    /// The client broke a rule: the core failed the connection (§7.1.7).
    Failed {
        /// The rule.
        error: ProtocolError,
        /// Where the frame that broke it starts.
        offset: u64,
    },
    /// Input after the frame that closed or failed the connection, never looked at (§7.1.7:
    /// the endpoint "MUST NOT continue to attempt to process data").
    Discarded {
        /// How many bytes.
        len: u64,
    },
}

impl Step {
    /// The step's kind, as the JSON's `step` field says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::Frame(_) => "frame",
            Self::Message { .. } => "message",
            Self::Ping(_) => "ping",
            Self::Pong(_) => "pong",
            Self::Closed(_) => "close",
            Self::Reply { .. } => "reply",
            Self::Failed { .. } => "failed",
            Self::Discarded { .. } => "discarded",
        }
    }
}

/// Where the connection stands after the last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The core failed the connection with `error`'s close code.
    Failed {
        /// The rule that was broken.
        error: ProtocolError,
        /// Where the frame that broke it starts.
        offset: u64,
    },
    /// The client closed and the core answered (§5.5.1).
    Closed(CloseFrame),
    /// No rule broken and the connection still open: at a frame boundary, or waiting for the
    /// rest of a frame.
    Open(FrameProgress),
}

impl Verdict {
    /// One line: `1002 — §5.1 a client must mask every frame`, or what happened instead.
    pub fn headline(&self) -> String {
        match self {
            Self::Failed { error, .. } => {
                format!("{} — {} {error}", error.close_code().0, error.section())
            }
            Self::Closed(close) => match close.code {
                Some(code) => format!("closed by the client with {code}; the core echoed it"),
                None => "closed by the client without a code; the core answered".to_owned(),
            },
            Self::Open(FrameProgress::AtBoundary) => {
                "no error: every frame accepted, the connection stays open".to_owned()
            }
            Self::Open(FrameProgress::InHeader(have)) => format!(
                "no error yet: the core holds {} header byte(s) and waits for the rest",
                have.len()
            ),
            Self::Open(FrameProgress::InPayload(remaining)) => format!(
                "no error yet: the core waits for {remaining} more payload byte(s) of the last frame"
            ),
        }
    }
}

/// What the core did with an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The steps, at most [`MAX_STEPS`].
    pub steps: Vec<Step>,
    /// Steps left out past [`MAX_STEPS`].
    pub omitted_steps: usize,
    /// How it ended.
    pub verdict: Verdict,
    /// The limits the core ran with.
    pub limits: Limits,
    /// How many bytes were fed, and in how many reads.
    pub input_len: usize,
    /// The number of reads.
    pub reads: usize,
    /// Whether the core ran as if `permessage-deflate` had been agreed.
    pub deflate: bool,
}

/// Feeds `experiment` to a fresh server-role connection and reports what it did.
///
/// # Errors
///
/// [`LabError`] when there is nothing to feed or the reads make no sense.
pub fn run(experiment: &Experiment) -> Result<Report, LabError> {
    if experiment.bytes.is_empty() {
        return Err(LabError::NoBytes);
    }
    if experiment.reads.len() > MAX_READS {
        return Err(LabError::TooManyReads {
            count: experiment.reads.len(),
        });
    }
    if experiment.reads.contains(&0) {
        return Err(LabError::EmptyRead);
    }
    // The explainer sees the whole input at once: a frame is shown with all the payload the
    // learner gave it when the core reads its header.
    let params = Params::default();
    let limits = experiment.effective_limits();
    let mut splitter = FrameSplitter::for_sender(Role::Client, 0);
    let mut conn = Connection::server(limits);
    let mut replies = FrameSplitter::for_sender(Role::Server, 0);
    if experiment.deflate {
        // The explainer inflates under the core's limit too, and shows where it stopped.
        splitter = splitter
            .with_deflate(params.client_no_context_takeover)
            .with_inflate_limit(limits.max_message_size);
        // The core never compresses here: it only sends control frames, which never are.
        conn = conn.with_deflate(params, usize::MAX);
        replies = replies.with_deflate(params.server_no_context_takeover);
    }
    let mut explained = splitter.feed(&experiment.bytes);
    explained.extend(splitter.pending());
    conn.observe_frames(true);
    let mut steps = Steps::default();
    let ranges = experiment.read_ranges();
    let mut failure = None;
    let mut closed = None;
    for (number, &(start, end)) in ranges.iter().enumerate() {
        if conn.state() == State::Closed {
            break;
        }
        let read = experiment.bytes.get(start..end).unwrap_or_default();
        steps.push(Step::Read {
            number: number + 1,
            offset: start as u64,
            len: read.len(),
            bytes: read.get(..SHOWN_READ).unwrap_or(read).to_vec(),
        });
        conn.receive_data(read);
        while let Some(event) = conn.next_event() {
            match event {
                Event::Frame { offset, .. } => steps.push_frame(&explained, offset),
                Event::Message(message) => steps.push(message_step(&message)),
                Event::Ping(payload) => steps.push(Step::Ping(payload)),
                Event::Pong(payload) => steps.push(Step::Pong(payload)),
                Event::Closed(close) => {
                    closed = Some(close.clone());
                    steps.push(Step::Closed(close));
                }
                Event::Failed { error, offset } => {
                    // A header that breaks a rule of §5.2/§5.5 fails before the core reports
                    // it as a frame: show the frame anyway, it is what the learner asks about.
                    steps.push_frame(&explained, offset);
                    failure = Some((error.clone(), offset));
                    steps.push(Step::Failed { error, offset });
                }
            }
        }
        let output = conn.take_output();
        if !output.is_empty() {
            let frames = replies.feed(&output);
            steps.push(Step::Reply {
                bytes: output,
                frames,
            });
        }
    }
    // What follows the frame that failed or closed the connection is never looked at.
    let fed = experiment.bytes.len() as u64;
    let end = match &failure {
        Some((_, offset)) => explained
            .iter()
            .find(|frame| frame.offset == *offset)
            .map_or(fed, |frame| {
                // Saturating: the frame that failed may announce any length (§5.2's top bit).
                offset
                    .saturating_add(frame.header.len() as u64)
                    .saturating_add(frame.payload_len)
            }),
        None => conn.bytes_received(),
    };
    if conn.state() == State::Closed && end < fed {
        steps.push(Step::Discarded { len: fed - end });
    }
    let verdict = match (failure, closed) {
        (Some((error, offset)), _) => Verdict::Failed { error, offset },
        (None, Some(close)) => Verdict::Closed(close),
        (None, None) => Verdict::Open(conn.frame_progress()),
    };
    Ok(Report {
        steps: steps.list,
        omitted_steps: steps.omitted,
        verdict,
        limits,
        input_len: experiment.bytes.len(),
        reads: ranges.len(),
        deflate: experiment.deflate,
    })
}

/// The report's steps, capped at [`MAX_STEPS`].
#[derive(Default)]
struct Steps {
    list: Vec<Step>,
    omitted: usize,
    /// Offsets of the frames already shown.
    shown_frames: Vec<u64>,
}

impl Steps {
    fn push(&mut self, step: Step) {
        if self.list.len() < MAX_STEPS {
            self.list.push(step);
        } else {
            self.omitted += 1;
        }
    }

    /// Shows the explained frame at `offset`, once.
    fn push_frame(&mut self, explained: &[FrameAnatomy], offset: u64) {
        if self.shown_frames.last() == Some(&offset) {
            return;
        }
        if let Some(frame) = explained.iter().find(|frame| frame.offset == offset) {
            self.shown_frames.push(offset);
            self.push(Step::Frame(frame.clone()));
        }
    }
}

fn message_step(message: &Message) -> Step {
    let bytes = message.as_bytes();
    Step::Message {
        kind: match message {
            Message::Text(_) => "Text",
            Message::Binary(_) => "Binary",
        },
        len: bytes.len(),
        shown: bytes.get(..SHOWN_PAYLOAD).unwrap_or(bytes).to_vec(),
    }
}

/// `bytes` as text, if they are UTF-8 (possibly cut inside a character at the end).
fn as_text(bytes: &[u8]) -> Option<&str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => bytes
            .get(..e.valid_up_to())
            .and_then(|b| std::str::from_utf8(b).ok()),
        Err(_) => None,
    }
}

impl fmt::Display for Report {
    /// The report as `wsmith decode --as-server` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.reads == 1 { "" } else { "s" };
        writeln!(
            f,
            "{} bytes fed to a server's protocol core in {} read{plural}",
            self.input_len, self.reads
        )?;
        for step in &self.steps {
            writeln!(f)?;
            write!(f, "{step}")?;
        }
        if self.omitted_steps > 0 {
            writeln!(f, "\n… {} more steps not shown", self.omitted_steps)?;
        }
        writeln!(f, "\nverdict: {}", self.verdict.headline())
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read {
                number,
                offset,
                len,
                bytes,
            } => {
                let more = if bytes.len() < *len { " …" } else { "" };
                writeln!(f, "read {number}: {len} bytes at byte {offset}: {}{more}", hex(bytes))
            }
            Self::Frame(frame) => write!(f, "{frame}"),
            Self::Message { kind, len, shown } => {
                write!(f, "event: {kind} message of {len} bytes")?;
                match as_text(shown).filter(|_| *kind == "Text") {
                    Some(text) => writeln!(f, ": {text:?}"),
                    None => writeln!(f, ": {}", hex(shown)),
                }
            }
            Self::Ping(payload) => writeln!(
                f,
                "event: Ping of {} bytes; the core queues a Pong with the same payload (§5.5.2)",
                payload.len()
            ),
            Self::Pong(payload) => {
                writeln!(f, "event: Pong of {} bytes; nothing to answer (§5.5.3)", payload.len())
            }
            Self::Closed(close) => match close.code {
                Some(code) => writeln!(
                    f,
                    "event: the client closes with {code}, reason {:?}; the core echoes the code (§5.5.1)",
                    close.reason
                ),
                None => writeln!(f, "event: the client closes without a code; the core answers with an empty Close (§5.5.1)"),
            },
            Self::Reply { bytes, frames } => {
                writeln!(f, "reply: the server would write {}", hex(bytes))?;
                for frame in frames {
                    for line in frame.to_string().lines() {
                        writeln!(f, "  {line}")?;
                    }
                }
                Ok(())
            }
            Self::Failed { error, offset } => {
                writeln!(
                    f,
                    "failed: {} at byte {offset}",
                    Verdict::Failed { error: error.clone(), offset: *offset }.headline()
                )?;
                writeln!(f, "  rule: {}", error.rule())?;
                writeln!(f, "  close code {}", error.close_code())
            }
            Self::Discarded { len } => writeln!(
                f,
                "discarded: {len} bytes after that frame, never processed (§7.1.7)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CloseCode;

    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    fn kinds(report: &Report) -> Vec<&'static str> {
        report.steps.iter().map(Step::kind).collect()
    }

    #[test]
    fn rfc_masked_hello_is_read_explained_and_accepted() {
        let report = run(&Experiment::whole(MASKED_HELLO.to_vec())).expect("runs");
        assert_eq!(kinds(&report), ["read", "frame", "message"]);
        assert_eq!(report.verdict, Verdict::Open(FrameProgress::AtBoundary));
        let json = report.to_json();
        assert_eq!(json["steps"][2]["text"], "Hello");
        assert_eq!(json["steps"][1]["frame"]["masking_key_hex"], "37 fa 21 3d");
    }

    #[test]
    fn unmasked_frame_fails_with_1002_at_its_offset_and_the_close_is_explained() {
        let mut bytes = MASKED_HELLO.to_vec();
        bytes.extend([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        let report = run(&Experiment::whole(bytes)).expect("runs");
        assert_eq!(
            kinds(&report),
            ["read", "frame", "message", "frame", "failed", "reply"]
        );
        assert_eq!(
            report.verdict,
            Verdict::Failed {
                error: ProtocolError::UnmaskedFrame,
                offset: 11
            }
        );
        let Some(Step::Reply { frames, .. }) = report.steps.last() else {
            panic!("no reply: {:?}", report.steps)
        };
        assert_eq!(frames[0].close_code(), Some(1002));
        assert_eq!(
            report.to_json()["verdict"]["headline"],
            "1002 — §5.1 a client must mask every frame"
        );
    }

    #[test]
    fn reads_are_cut_as_asked_and_the_rest_is_one_last_read() {
        let experiment = Experiment {
            reads: vec![1, 3],
            ..Experiment::whole(MASKED_HELLO.to_vec())
        };
        let report = run(&experiment).expect("runs");
        assert_eq!(report.reads, 3);
        // The header is whole only in the third read: the frame is shown there.
        assert_eq!(kinds(&report), ["read", "read", "read", "frame", "message"]);
        let Step::Read { offset, len, .. } = &report.steps[2] else {
            panic!("{:?}", report.steps)
        };
        assert_eq!((*offset, *len), (4, 7));
    }

    #[test]
    fn reads_past_the_end_are_cut_at_the_end() {
        let experiment = Experiment {
            reads: vec![8, 100, 5],
            ..Experiment::whole(MASKED_HELLO.to_vec())
        };
        assert_eq!(run(&experiment).expect("runs").reads, 2);
    }

    #[test]
    fn an_unfinished_frame_leaves_the_core_waiting() {
        let report = run(&Experiment::whole(MASKED_HELLO[..8].to_vec())).expect("runs");
        assert_eq!(report.verdict, Verdict::Open(FrameProgress::InPayload(3)));
        let Some(Step::Frame(frame)) = report.steps.get(1) else {
            panic!("{:?}", report.steps)
        };
        assert!(frame.is_truncated());
        let report = run(&Experiment::whole(vec![0x81])).expect("runs");
        assert_eq!(
            report.verdict,
            Verdict::Open(FrameProgress::InHeader(vec![0x81]))
        );
    }

    #[test]
    fn input_after_a_failure_is_discarded() {
        let mut bytes = vec![0x81, 0x00];
        bytes.extend(MASKED_HELLO);
        let experiment = Experiment {
            reads: vec![2],
            ..Experiment::whole(bytes)
        };
        let report = run(&experiment).expect("runs");
        assert_eq!(report.steps.last(), Some(&Step::Discarded { len: 11 }));
        assert_eq!(report.reads, 2);
    }

    #[test]
    fn a_ping_is_answered_in_the_reply_of_its_read() {
        let mut bytes = vec![0x89, 0x80, 0, 0, 0, 0];
        bytes.extend(MASKED_HELLO);
        let experiment = Experiment {
            reads: vec![6],
            ..Experiment::whole(bytes)
        };
        let report = run(&experiment).expect("runs");
        assert_eq!(
            kinds(&report),
            ["read", "frame", "ping", "reply", "read", "frame", "message"]
        );
        let Step::Reply { bytes, .. } = &report.steps[3] else {
            panic!()
        };
        assert_eq!(bytes, &[0x8a, 0x00]);
    }

    #[test]
    fn lowered_limits_are_applied() {
        let experiment = Experiment {
            limits: Limits {
                max_frame_size: 4,
                ..Limits::default()
            },
            ..Experiment::whole(MASKED_HELLO.to_vec())
        };
        let report = run(&experiment).expect("runs");
        let Verdict::Failed { error, .. } = &report.verdict else {
            panic!("{:?}", report.verdict)
        };
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
    }

    #[test]
    fn a_zip_bomb_is_inflated_by_the_core_and_the_explainer_only_to_the_lab_limit() {
        // 8 MiB of zeros, compressed about a thousand times: far past the lab's limit.
        let deflated =
            crate::protocol::deflate::Deflater::new(15, true).compress(&vec![0u8; 8 << 20]);
        let mut bytes = vec![0xc2, 0xff];
        bytes.extend((deflated.len() as u64).to_be_bytes());
        bytes.extend([0, 0, 0, 0]);
        bytes.extend(&deflated);
        let experiment = Experiment {
            deflate: true,
            ..Experiment::whole(bytes)
        };
        let report = run(&experiment).expect("runs");
        assert_eq!(report.limits.max_message_size, MAX_LAB_MESSAGE);
        let Verdict::Failed { error, .. } = &report.verdict else {
            panic!("{:?}", report.verdict)
        };
        assert_eq!(
            error.limit(),
            Some((MAX_LAB_MESSAGE, MAX_LAB_MESSAGE + 1)),
            "the core stopped one byte past the lab's limit"
        );
        let inflated = report.steps.iter().find_map(|step| match step {
            Step::Frame(frame) => frame.inflated.clone(),
            _ => None,
        });
        let Some(Err(why)) = inflated else {
            panic!("{inflated:?}")
        };
        assert!(why.contains("not inflated further"), "{why}");
    }

    #[test]
    fn nonsense_experiments_are_refused() {
        assert_eq!(run(&Experiment::whole(vec![])), Err(LabError::NoBytes));
        let zero = Experiment {
            reads: vec![1, 0],
            ..Experiment::whole(vec![1, 2])
        };
        assert_eq!(run(&zero), Err(LabError::EmptyRead));
        let many = Experiment {
            reads: vec![1; MAX_READS + 1],
            ..Experiment::whole(vec![1; 2 * MAX_READS])
        };
        assert!(matches!(run(&many), Err(LabError::TooManyReads { .. })));
    }

    #[test]
    fn steps_are_capped_but_the_verdict_is_reached() {
        // 2,000 empty Pongs, then an unmasked frame.
        let mut bytes = [0x8a, 0x80, 0, 0, 0, 0].repeat(2000);
        bytes.extend([0x81, 0x00]);
        let report = run(&Experiment::whole(bytes)).expect("runs");
        assert_eq!(report.steps.len(), MAX_STEPS);
        assert!(report.omitted_steps > 3000);
        assert!(matches!(report.verdict, Verdict::Failed { .. }));
    }

    #[test]
    fn the_text_report_reads_top_to_bottom() {
        let report = run(&Experiment::whole(vec![0x81, 0x00])).expect("runs");
        let text = report.to_string();
        assert!(text.starts_with("2 bytes fed to a server's protocol core in 1 read\n"));
        assert!(text.contains("rule: §5.1: a client MUST mask"), "{text}");
        assert!(
            text.ends_with("verdict: 1002 — §5.1 a client must mask every frame\n"),
            "{text}"
        );
    }
}
