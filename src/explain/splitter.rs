//! [`FrameSplitter`]: one direction of a connection cut into frames however its bytes arrive,
//! each frame explained ([`FrameAnatomy`]) with every rule its header breaks (the core's own
//! [`header_violations`]), and a compressed message's payload shown inflated (RFC 7692), within
//! a limit.

use std::fmt;

use super::frames::{FrameAnatomy, SHOWN_PAYLOAD};
use crate::protocol::deflate::{Inflater, Params};
use crate::protocol::frame::{
    header_violations, parse_header, HeaderRules, RawHeader, Role, MAX_HEADER_LEN,
};
use crate::protocol::mask::apply_mask;
use crate::protocol::{Limits, ProtocolError};

/// Cuts one direction of a connection into frames and explains each.
#[derive(Debug, Default)]
pub struct FrameSplitter {
    /// Bytes of the frame being gathered: header, then up to [`SHOWN_PAYLOAD`] of payload.
    pending: Vec<u8>,
    /// The frame whose payload is still arriving.
    current: Option<FrameAnatomy>,
    /// Payload bytes of `current` still to come.
    remaining: u64,
    /// Bytes seen before `pending`.
    offset: u64,
    /// Messages started so far, and whether one is in progress (with its fragment count).
    messages: u64,
    fragments: Option<u32>,
    /// Who sent these bytes, if known: it decides the masking rule (§5.1).
    sender: Option<Role>,
    /// `permessage-deflate` was negotiated: RSV1 means "compressed", and compressed messages
    /// are inflated for display with this direction's own inflater.
    deflate: Option<DeflateView>,
}

/// What a splitter needs to show compressed messages inflated (RFC 7692 §6.2).
struct DeflateView {
    inflater: Inflater,
    /// The message being read is compressed.
    in_compressed: bool,
    /// Its first inflated bytes, its inflated length, and a failure, if any.
    shown: Vec<u8>,
    inflated_len: u64,
    failed: Option<String>,
    /// The most bytes one message is inflated to for display (`--max-message-size` by
    /// default): past it, the view says where it stopped instead of inflating on.
    limit: u64,
}

impl fmt::Debug for DeflateView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeflateView").finish_non_exhaustive()
    }
}

/// How many compressed bytes are inflated at a time for display: at DEFLATE's best ratio
/// (about 1032:1) that is at most a quarter of a MiB of output, thrown away after a look.
const INFLATE_PIECE: usize = 256;

impl DeflateView {
    fn inflate(&mut self, compressed: &[u8], last: bool) {
        if self.failed.is_some() {
            return;
        }
        let mut scratch = Vec::new();
        let pieces = compressed.chunks(INFLATE_PIECE).map(|p| (p, false));
        let tail = last.then_some((&[][..], true));
        for (piece, finish) in pieces.chain(tail) {
            // The inflater's limit applies to `scratch`, emptied after each piece: what is
            // left of this message's.
            let room = self.limit.saturating_sub(self.inflated_len);
            let (shown, total) = (&mut self.shown, &mut self.inflated_len);
            let mut keep = |new: &[u8]| {
                let room = SHOWN_PAYLOAD.saturating_sub(shown.len());
                shown.extend_from_slice(new.get(..room.min(new.len())).unwrap_or_default());
                *total += new.len() as u64;
                Ok(())
            };
            let result = if finish {
                self.inflater.finish_message(&mut scratch, room, &mut keep)
            } else {
                self.inflater.inflate(piece, &mut scratch, room, &mut keep)
            };
            scratch.clear();
            if let Err(ProtocolError::MessageTooBig { .. }) = result {
                self.failed = Some(format!(
                    "inflated past {} bytes: not inflated further (§10.4)",
                    self.limit
                ));
                return;
            }
            if let Err(error) = result {
                self.failed = Some(format!(
                    "{error} (a watcher attached mid-stream lacks the earlier messages' window)"
                ));
                return;
            }
        }
    }
}

impl FrameSplitter {
    /// A splitter at the start of a stream whose sender is unknown (no masking rule applied).
    pub fn new() -> Self {
        Self::default()
    }

    /// A splitter for the bytes `sender` sends, starting `offset` bytes into the stream;
    /// frames that break the masking rule of §5.1 for that sender are flagged.
    pub fn for_sender(sender: Role, offset: u64) -> Self {
        Self {
            sender: Some(sender),
            offset,
            ..Self::default()
        }
    }

    /// Shows RSV1 as "compressed" and inflates compressed messages: this direction agreed
    /// `permessage-deflate`, and its sender resets its window after each message if
    /// `no_context_takeover` (RFC 7692 §7.1.1).
    pub fn with_deflate(mut self, no_context_takeover: bool) -> Self {
        self.deflate = Some(DeflateView {
            inflater: Inflater::new(no_context_takeover),
            in_compressed: false,
            shown: Vec::new(),
            inflated_len: 0,
            failed: None,
            limit: Limits::default().max_message_size,
        });
        self
    }

    /// Inflates no message past `limit` bytes for display (the connection's own message
    /// limit, §10.4); without it, the default `--max-message-size`.
    pub fn with_inflate_limit(mut self, limit: u64) -> Self {
        if let Some(view) = self.deflate.as_mut() {
            view.limit = limit;
        }
        self
    }

    /// [`FrameSplitter::with_deflate`] for the frames `sender` sends on a connection that agreed
    /// `params`; unchanged if it agreed none.
    pub fn with_deflate_params(self, params: Option<Params>, sender: Role) -> Self {
        match params {
            Some(params) => self.with_deflate(params.no_context_takeover(sender)),
            None => self,
        }
    }

    /// Feeds bytes; returns every frame completed by them.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<FrameAnatomy> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            if self.current.is_none() {
                // Gather a header; it is at most MAX_HEADER_LEN bytes.
                let take = bytes
                    .len()
                    .min(MAX_HEADER_LEN - self.pending.len().min(MAX_HEADER_LEN));
                let before = self.pending.len();
                self.pending
                    .extend_from_slice(bytes.get(..take).unwrap_or_default());
                let Some(raw) = parse_header(&self.pending) else {
                    bytes = bytes.get(take..).unwrap_or_default();
                    continue;
                };
                let used = raw.header_len - before;
                bytes = bytes.get(used..).unwrap_or_default();
                self.pending.truncate(raw.header_len);
                self.start(raw);
                if self.remaining == 0 {
                    frames.extend(self.finish());
                    continue;
                }
            }
            let shown_room = SHOWN_PAYLOAD.saturating_sub(self.shown_len());
            let take = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let keep = take.min(shown_room);
            if let Some(frame) = self.current.as_mut() {
                frame
                    .wire_payload
                    .extend_from_slice(bytes.get(..keep).unwrap_or_default());
                if let Some(view) = self.deflate.as_mut().filter(|v| v.in_compressed) {
                    let mut piece = bytes.get(..take).unwrap_or_default().to_vec();
                    if let Some(key) = frame.masking_key {
                        let done = frame.payload_len - self.remaining;
                        apply_mask(&mut piece, key, usize::try_from(done % 4).unwrap_or(0));
                    }
                    view.inflate(&piece, false);
                }
            }
            bytes = bytes.get(take..).unwrap_or_default();
            self.remaining -= take as u64;
            if self.remaining == 0 {
                frames.extend(self.finish());
            }
        }
        frames
    }

    fn shown_len(&self) -> usize {
        self.current
            .as_ref()
            .map_or(0, |frame| frame.wire_payload.len())
    }

    fn start(&mut self, raw: RawHeader) {
        // The core's own header rules, every one this header breaks (not just the first).
        let rules = HeaderRules {
            sender: self.sender,
            rsv1_negotiated: self.deflate.is_some(),
        };
        let mut problems: Vec<String> = header_violations(&raw, rules)
            .map(|error| problem(&error))
            .collect();
        let control = raw.opcode >= 0x8;
        let first_data = matches!(raw.opcode, 0x1 | 0x2);
        let rsv1 = raw.rsv & 0b100 != 0;
        let compressed = self.deflate.is_some() && rsv1 && first_data;
        if let Some(view) = self.deflate.as_mut() {
            if first_data {
                view.in_compressed = compressed;
                view.shown.clear();
                view.inflated_len = 0;
                view.failed = None;
            }
        }
        let (message, fragment, between_fragments) = if control {
            (self.messages, 0, self.fragments.is_some())
        } else if raw.opcode == 0x0 {
            match self.fragments.as_mut() {
                Some(count) => {
                    *count += 1;
                    (self.messages, *count, false)
                }
                None => {
                    problems.push(problem(&ProtocolError::UnexpectedContinuation));
                    (self.messages, 0, false)
                }
            }
        } else {
            if self.fragments.is_some() {
                problems.push(problem(&ProtocolError::ExpectedContinuation));
            }
            self.messages += 1;
            self.fragments = Some(1);
            (self.messages, 1, false)
        };
        if !control && raw.fin {
            self.fragments = None;
        }
        let extended_len = match raw.len7 {
            126 => Some((16, raw.payload_len)),
            127 => Some((64, raw.payload_len)),
            _ => None,
        };
        self.remaining = raw.payload_len;
        self.current = Some(FrameAnatomy {
            offset: self.offset,
            header: std::mem::take(&mut self.pending),
            fin: raw.fin,
            rsv: [
                raw.rsv & 0b100 != 0,
                raw.rsv & 0b010 != 0,
                raw.rsv & 0b001 != 0,
            ],
            opcode: raw.opcode,
            masked: raw.masking_key.is_some(),
            len7: raw.len7,
            extended_len,
            payload_len: raw.payload_len,
            masking_key: raw.masking_key,
            wire_payload: Vec::new(),
            payload: Vec::new(),
            message,
            fragment,
            between_fragments,
            problems,
            compressed,
            inflated: None,
        });
    }

    fn finish(&mut self) -> Option<FrameAnatomy> {
        let mut frame = self.current.take()?;
        let data = frame.opcode <= 0x2;
        if let Some(view) = self.deflate.as_mut().filter(|v| v.in_compressed) {
            if data && frame.fin {
                view.inflate(&[], true);
                view.in_compressed = false;
                frame.inflated = Some(match view.failed.take() {
                    Some(why) => Err(why),
                    None => Ok((std::mem::take(&mut view.shown), view.inflated_len)),
                });
            }
        }
        unmask_shown(&mut frame);
        self.offset += frame.header.len() as u64 + frame.payload_len;
        Some(frame)
    }

    /// The frame whose header has arrived but whose payload has not, all of it: explained with
    /// the payload bytes seen so far ([`FrameAnatomy::is_truncated`] says it is not whole).
    pub fn pending(&self) -> Option<FrameAnatomy> {
        let mut frame = self.current.clone()?;
        unmask_shown(&mut frame);
        Some(frame)
    }
}

/// A broken rule as a frame's problem: its section, then the rule in the RFC's words
/// (`§5.1 a client MUST mask all frames that it sends to the server`), as the core states it.
fn problem(error: &ProtocolError) -> String {
    format!("{} {}", error.section(), error.requirement())
}

/// Fills `payload` with the shown wire bytes, unmasked (§5.3).
fn unmask_shown(frame: &mut FrameAnatomy) {
    frame.payload = frame.wire_payload.clone();
    if let Some(key) = frame.masking_key {
        apply_mask(&mut frame.payload, key, 0);
    }
}

/// Explains every whole frame in `bytes` (for `wsmith decode`).
pub fn explain(bytes: &[u8]) -> (Vec<FrameAnatomy>, usize) {
    let mut splitter = FrameSplitter::new();
    let frames = splitter.feed(bytes);
    let used: u64 = frames
        .iter()
        .map(|f| f.header.len() as u64 + f.payload_len)
        .sum();
    (
        frames,
        bytes.len()
            - usize::try_from(used)
                .unwrap_or(bytes.len())
                .min(bytes.len()),
    )
}
