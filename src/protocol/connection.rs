//! One WebSocket connection's state machine after the opening handshake (RFC 6455 §5–§7).
//!
//! [`Connection`] is sans-I/O: the caller reads bytes from wherever they come from and hands
//! them to [`Connection::receive_data`], then takes what happened with
//! [`Connection::next_event`] and what must be written back with
//! [`Connection::take_output`]. The connection never blocks, never reads a clock and never
//! touches a socket, so the server, the `wsmith connect` client, the tests and the fuzzers all
//! drive the same code.
//!
//! A large payload can skip the caller's read buffer: [`Connection::payload_expected`] says
//! how many payload bytes the current data frame still has to come, and the caller appends
//! them to the message itself ([`Connection::take_message_buffer`]), then gives it back
//! ([`Connection::receive_payload`]); the bytes are unmasked and checked in place.
//!
//! ```text
//!            send_close()                 peer's Close
//!   Open ─────────────────▶ CloseSent ───────────────────▶ Closed
//!     │                                                       ▲
//!     └─ peer's Close: reply with Close (§5.5.1) ─────────────┤
//!     └─ protocol error: send Close with its code (§7.1.7) ───┘
//! ```
//!
//! Once `Closed`, further input is discarded (§7.1.7: after failing, "the endpoint MUST NOT
//! continue to attempt to process data"), and the caller closes the TCP connection after
//! writing the remaining output; a server does so first (§7.1.1).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use super::budget::MemoryBudget;
use super::close::{truncate_reason, CloseCode, CloseFrame};
use super::deflate::{encode_message, Deflater, Inflater, Params};
use super::error::ProtocolError;
use super::frame::{
    check_header, encode_frame_with, parse_header, FrameHeader, HeaderRules, Opcode, Role,
    MAX_HEADER_LEN,
};
use super::mask::apply_mask;
use super::message::{Message, MessageAssembler};

/// Size and count limits that protect the receiver (§10.4: "implementations SHOULD impose
/// implementation-specific limits on frame sizes and the total message size").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest payload one frame may announce, in bytes (`--max-frame-size`).
    pub max_frame_size: u64,
    /// The largest message, all fragments together, in bytes (`--max-message-size`).
    pub max_message_size: u64,
    /// The most frames one message may be split into (`--max-fragments`).
    pub max_fragments: usize,
}

impl Default for Limits {
    /// 64 MiB frames and messages, 131,072 fragments: room for every Autobahn case (16 MiB
    /// messages, 65,536 fragments) with a margin.
    fn default() -> Self {
        Self {
            max_frame_size: 64 << 20,
            max_message_size: 64 << 20,
            max_fragments: 1 << 17,
        }
    }
}

/// Where the close handshake stands (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close frame and wait for the peer's (§5.5.1); we send no more data.
    CloseSent,
    /// The close handshake is over, or the connection was failed: close TCP.
    Closed,
}

/// Something the peer did, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A frame header arrived and broke no header rule (only when [`Connection::observe_frames`]
    /// is on): for traces and the Lab. `offset` is the header's position in the byte stream
    /// since the handshake.
    Frame {
        /// The decoded header.
        header: FrameHeader,
        /// Bytes received on this connection before the header.
        offset: u64,
    },
    /// A whole Text or Binary message (§5.6).
    Message(Message),
    /// A Ping; the Pong with the same payload is already in the output (§5.5.2).
    Ping(Vec<u8>),
    /// A Pong (§5.5.3).
    Pong(Vec<u8>),
    /// The peer's Close frame. If we had not sent one, the reply is in the output (§5.5.1).
    Closed(CloseFrame),
    /// The peer broke a rule; a Close frame with [`ProtocolError::close_code`] is in the output
    /// and the connection is `Closed` (§7.1.7).
    Failed {
        /// The rule that was broken.
        error: ProtocolError,
        /// Bytes received on this connection before the frame that broke it.
        offset: u64,
    },
}

/// Where the reader is within the frame stream.
#[derive(Debug, Clone, Copy)]
enum Reading {
    /// Between frames: the next bytes are a header.
    Header,
    /// Inside a data frame's payload, `done` of its bytes read.
    Data { header: FrameHeader, done: u64 },
    /// Inside a control frame's payload, gathered in `control` until whole (≤ 125 bytes).
    Control { header: FrameHeader },
}

/// Where the reader stands within the frame stream, so that a tap attached mid-stream can
/// find the next frame boundary ([`Connection::frame_progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameProgress {
    /// The next byte starts a frame.
    AtBoundary,
    /// Inside a header: these are its bytes so far.
    InHeader(Vec<u8>),
    /// Inside a payload: this many bytes remain before the next frame.
    InPayload(u64),
}

/// Generates masking keys for a client (§5.3: "a fresh masking key ... from a strong source of
/// entropy"); the caller supplies it, keeping this module free of I/O.
pub type MaskingKeySource = Box<dyn FnMut() -> [u8; 4] + Send>;

/// The state machine of one WebSocket connection.
pub struct Connection {
    role: Role,
    limits: Limits,
    state: State,
    reading: Reading,
    /// A header split across reads (< [`MAX_HEADER_LEN`] bytes).
    partial_header: Vec<u8>,
    /// A control frame's payload being gathered.
    control: Vec<u8>,
    assembler: MessageAssembler,
    events: VecDeque<Event>,
    output: Vec<u8>,
    masking_keys: Option<MaskingKeySource>,
    observe_frames: bool,
    /// Bytes received so far; positions in events and errors.
    received: u64,
    /// The Close frame we sent, if any: who started the close handshake, and why.
    sent_close: Option<CloseFrame>,
    /// Where the frame being read started.
    frame_offset: u64,
    /// `permessage-deflate`, if the handshake negotiated it (RFC 7692). Boxed: its inflater
    /// and deflater are about half of this struct, and most connections never negotiate it.
    compression: Option<Box<Compression>>,
    /// The message buffer is lent ([`Connection::take_message_buffer`]): its length then.
    lent: Option<usize>,
}

/// One connection's `permessage-deflate` state (RFC 7692): the agreed parameters, the one
/// inflater for what the peer sends, and, made on first use, a compressor for what we send.
struct Compression {
    params: Params,
    /// Messages shorter than this are sent uncompressed.
    threshold: usize,
    inflater: Inflater,
    deflater: Option<Deflater>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The server end of a connection whose handshake has completed.
    pub fn server(limits: Limits) -> Self {
        Self::new(Role::Server, limits, None)
    }

    /// The client end, masking every frame it sends with keys from `masking_keys`.
    pub fn client(limits: Limits, masking_keys: MaskingKeySource) -> Self {
        Self::new(Role::Client, limits, Some(masking_keys))
    }

    fn new(role: Role, limits: Limits, masking_keys: Option<MaskingKeySource>) -> Self {
        Self {
            role,
            limits,
            state: State::Open,
            reading: Reading::Header,
            partial_header: Vec::new(),
            control: Vec::new(),
            assembler: MessageAssembler::new(limits.max_message_size, limits.max_fragments),
            events: VecDeque::new(),
            output: Vec::new(),
            masking_keys,
            observe_frames: false,
            received: 0,
            frame_offset: 0,
            sent_close: None,
            compression: None,
            lent: None,
        }
    }

    /// Turns on `permessage-deflate` with the parameters the handshake agreed (RFC 7692 §7.1):
    /// RSV1 marks a compressed message (§6), messages this end sends of at least `threshold`
    /// bytes are compressed, and the peer's messages are inflated with one inflater that keeps
    /// its window across messages unless the peer agreed to reset its own (§7.1.1).
    pub fn with_deflate(mut self, params: Params, threshold: usize) -> Self {
        self.set_deflate(params, threshold);
        self
    }

    /// [`Connection::with_deflate`] in place, for a connection already where it will live.
    pub fn set_deflate(&mut self, params: Params, threshold: usize) {
        let peer = match self.role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        self.compression = Some(Box::new(Compression {
            params,
            threshold,
            inflater: Inflater::new(params.no_context_takeover(peer)),
            deflater: None,
        }));
    }

    /// Counts the message being received, inflated bytes included, against `budget`, which
    /// other connections share (§10.4): a message that would take it over its limit fails
    /// this connection with [`ProtocolError::BufferBudgetExhausted`] (1013), and the bytes a
    /// message held are given back once it is whole, failed or dropped.
    pub fn with_budget(mut self, budget: Arc<MemoryBudget>) -> Self {
        self.set_budget(budget);
        self
    }

    /// [`Connection::with_budget`] in place, for a connection already where it will live.
    pub fn set_budget(&mut self, budget: Arc<MemoryBudget>) {
        self.assembler.set_budget(budget);
    }

    /// Bytes of the server-wide budget the message being received holds now.
    pub fn budget_held(&self) -> u64 {
        self.assembler.budget_held()
    }

    /// The `permessage-deflate` parameters in use, if it was negotiated.
    pub fn deflate_params(&self) -> Option<Params> {
        self.compression.as_ref().map(|c| c.params)
    }

    /// The Close frame this end sent (its code and reason), if it sent one: a peer's Close
    /// that arrives afterwards is the reply, not the start, of the close handshake.
    pub fn sent_close(&self) -> Option<&CloseFrame> {
        self.sent_close.as_ref()
    }

    /// Bytes received since the handshake.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Where the reader stands within the current frame.
    pub fn frame_progress(&self) -> FrameProgress {
        match self.reading {
            Reading::Header if self.partial_header.is_empty() => FrameProgress::AtBoundary,
            Reading::Header => FrameProgress::InHeader(self.partial_header.clone()),
            Reading::Data { header, done } => FrameProgress::InPayload(header.payload_len - done),
            Reading::Control { header } => {
                FrameProgress::InPayload(header.payload_len - self.control.len() as u64)
            }
        }
    }

    /// Turns [`Event::Frame`] on or off. Off by default: then observing costs one branch per
    /// frame.
    pub fn observe_frames(&mut self, on: bool) {
        self.observe_frames = on;
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The next thing the peer did, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Takes the bytes that must be written to the peer: Pongs, Close frames and anything
    /// queued with the `send_*` methods.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Whether [`Connection::take_output`] has anything.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Feeds bytes received from the peer. Everything is processed at once; the results wait in
    /// [`Connection::next_event`] and [`Connection::take_output`].
    pub fn receive_data(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.state != State::Closed {
            let used = match self.read_some(data) {
                Ok(used) => used,
                Err(error) => {
                    self.fail(error);
                    return;
                }
            };
            self.received += used as u64;
            data = data.get(used..).unwrap_or_default();
        }
    }

    /// How many payload bytes of the current data frame are still to come (§5.2 "Payload
    /// length"), when the caller may append them straight to the message with
    /// [`Connection::take_message_buffer`]: inside an uncompressed data frame's payload. 0
    /// otherwise; bytes then go through [`Connection::receive_data`].
    pub fn payload_expected(&self) -> u64 {
        match self.reading {
            Reading::Data { header, done }
                if self.state != State::Closed && !self.assembler.is_compressed() =>
            {
                header.payload_len - done
            }
            _ => 0,
        }
    }

    /// Lends the message being received, so that the caller can append payload bytes to it as
    /// they come off the wire (still masked: at most [`Connection::payload_expected`] of them
    /// belong to this frame), instead of copying them in from a read buffer with
    /// [`Connection::receive_data`]. Room for the rest of the frame is reserved; its length
    /// was checked against the limits when its header arrived. Give the buffer back with
    /// [`Connection::receive_payload`] before anything else is received.
    ///
    /// If the server-wide budget has no room for the rest of the frame, the connection fails
    /// ([`ProtocolError::BufferBudgetExhausted`]) and the buffer lent is a new, empty one: the
    /// bytes read into it are discarded.
    pub fn take_message_buffer(&mut self) -> Vec<u8> {
        let buffer = match self.assembler.lend_buffer() {
            Ok(buffer) => buffer,
            Err(error) => {
                self.fail(error);
                Vec::new()
            }
        };
        self.lent = Some(buffer.len());
        buffer
    }

    /// Takes back the buffer [`Connection::take_message_buffer`] lent, with the bytes received
    /// appended to it. They are processed as [`Connection::receive_data`] would process them:
    /// unmasked in place (§5.3), checked as UTF-8 for a Text message (§8.1), the frame
    /// finished once whole; bytes past the frame's payload are received as the stream that
    /// follows it.
    pub fn receive_payload(&mut self, mut buffer: Vec<u8>) {
        let start = self.lent.take().unwrap_or(buffer.len()).min(buffer.len());
        let appended = buffer.len() - start;
        let (header, done) = match self.reading {
            Reading::Data { header, done }
                if self.state != State::Closed && !self.assembler.is_compressed() =>
            {
                (header, done)
            }
            _ if self.state == State::Closed => return,
            _ => {
                // Not inside a payload: the bytes are received like any others.
                let bytes = buffer.split_off(start);
                let _ = self.assembler.push_appended(buffer, start, None, 0);
                self.receive_data(&bytes);
                return;
            }
        };
        let want = usize::try_from(header.payload_len - done).unwrap_or(usize::MAX);
        let rest = if appended > want {
            buffer.split_off(start + want)
        } else {
            Vec::new()
        };
        let take = appended.min(want);
        let offset = usize::try_from(done % 4).unwrap_or(0);
        if let Err(error) = self
            .assembler
            .push_appended(buffer, start, header.masking_key, offset)
        {
            self.fail(error);
            return;
        }
        let done = done + take as u64;
        if done == header.payload_len {
            if let Err(error) = self.finish_data_frame(header) {
                self.fail(error);
                return;
            }
        } else {
            self.reading = Reading::Data { header, done };
        }
        self.received += take as u64;
        self.receive_data(&rest);
    }

    /// Processes bytes from the front of `data`; returns how many it used (at least one).
    fn read_some(&mut self, data: &[u8]) -> Result<usize, ProtocolError> {
        match self.reading {
            Reading::Header => self.read_header(data),
            Reading::Data { header, done } => {
                let want = header.payload_len - done;
                let take = data.len().min(usize::try_from(want).unwrap_or(usize::MAX));
                let chunk = data.get(..take).unwrap_or_default();
                let offset = usize::try_from(done % 4).unwrap_or(0);
                if self.assembler.is_compressed() {
                    self.inflate(chunk, header.masking_key, offset)?;
                } else {
                    self.assembler.push(chunk, header.masking_key, offset)?;
                }
                let done = done + take as u64;
                if done == header.payload_len {
                    self.finish_data_frame(header)?;
                } else {
                    self.reading = Reading::Data { header, done };
                }
                Ok(take)
            }
            Reading::Control { header } => {
                let want = usize::try_from(header.payload_len).unwrap_or(0) - self.control.len();
                let take = data.len().min(want);
                self.control
                    .extend_from_slice(data.get(..take).unwrap_or_default());
                if self.control.len() as u64 == header.payload_len {
                    self.finish_control_frame(header)?;
                }
                Ok(take)
            }
        }
    }

    /// Inflates payload bytes of a compressed message (RFC 7692 §6.2), unmasked first.
    fn inflate(
        &mut self,
        chunk: &[u8],
        masking_key: Option<[u8; 4]>,
        offset: usize,
    ) -> Result<(), ProtocolError> {
        let Some(compression) = self.compression.as_mut() else {
            return Err(ProtocolError::ReservedBitsSet);
        };
        match masking_key {
            Some(key) => {
                let mut unmasked = chunk.to_vec();
                apply_mask(&mut unmasked, key, offset);
                self.assembler
                    .push_compressed(&unmasked, &mut compression.inflater)
            }
            None => self
                .assembler
                .push_compressed(chunk, &mut compression.inflater),
        }
    }

    /// Reads a header, gathering it across calls when it arrives in pieces.
    fn read_header(&mut self, data: &[u8]) -> Result<usize, ProtocolError> {
        // The frame starts where its first header byte was received, even if that byte
        // arrived in an earlier read: errors and traces point there.
        self.frame_offset = self.received - self.partial_header.len() as u64;
        let rules = self.header_rules();
        if self.partial_header.is_empty() {
            if let Some(raw) = parse_header(data) {
                self.start_frame(check_header(&raw, rules)?)?;
                return Ok(raw.header_len);
            }
            // Less than a whole header: keep it (it is shorter than MAX_HEADER_LEN).
            self.partial_header.extend_from_slice(data);
            return Ok(data.len());
        }
        let before = self.partial_header.len();
        let take = data.len().min(MAX_HEADER_LEN - before);
        self.partial_header
            .extend_from_slice(data.get(..take).unwrap_or_default());
        match parse_header(&self.partial_header) {
            Some(raw) => {
                self.partial_header.clear();
                self.start_frame(check_header(&raw, rules)?)?;
                Ok(raw.header_len - before)
            }
            None => Ok(take),
        }
    }

    /// The rules every header is judged by ([`check_header`]): frames come from the other end,
    /// and RSV1 means "Per-Message Compressed" once permessage-deflate is agreed (RFC 7692 §6).
    fn header_rules(&self) -> HeaderRules {
        let sender = match self.role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        HeaderRules {
            sender: Some(sender),
            rsv1_negotiated: self.compression.is_some(),
        }
    }

    /// Starts reading the payload of a header that broke no rule of [`check_header`], once it
    /// is within this connection's frame limit (§10.4).
    fn start_frame(&mut self, header: FrameHeader) -> Result<(), ProtocolError> {
        if self.observe_frames {
            self.events.push_back(Event::Frame {
                header,
                offset: self.frame_offset,
            });
        }
        if header.payload_len > self.limits.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                size: header.payload_len,
                limit: self.limits.max_frame_size,
            });
        }
        if header.opcode.is_control() {
            self.control.clear();
            self.reading = Reading::Control { header };
            if header.payload_len == 0 {
                self.finish_control_frame(header)?;
            }
        } else {
            self.assembler.start_frame(&header)?;
            self.reading = Reading::Data { header, done: 0 };
            if header.payload_len == 0 {
                self.finish_data_frame(header)?;
            }
        }
        Ok(())
    }

    fn finish_data_frame(&mut self, header: FrameHeader) -> Result<(), ProtocolError> {
        self.reading = Reading::Header;
        if header.fin && self.assembler.is_compressed() {
            if let Some(compression) = self.compression.as_mut() {
                self.assembler
                    .finish_compressed(&mut compression.inflater)?;
            }
        }
        if let Some(message) = self.assembler.end_frame(header.fin)? {
            self.events.push_back(Event::Message(message));
        }
        Ok(())
    }

    fn finish_control_frame(&mut self, header: FrameHeader) -> Result<(), ProtocolError> {
        self.reading = Reading::Header;
        let mut payload = std::mem::take(&mut self.control);
        if let Some(key) = header.masking_key {
            apply_mask(&mut payload, key, 0);
        }
        match header.opcode {
            Opcode::Ping => {
                // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
                // response ... The Pong frame MUST have the same Application data."
                if self.state == State::Open {
                    self.queue_frame(Opcode::Pong, &payload);
                }
                self.events.push_back(Event::Ping(payload));
            }
            Opcode::Pong => self.events.push_back(Event::Pong(payload)),
            Opcode::Close => {
                let close = CloseFrame::parse(&payload)?;
                if self.state == State::Open {
                    // §5.5.1: "If an endpoint receives a Close frame and did not previously send
                    // a Close frame, the endpoint MUST send a Close frame in response. (When
                    // sending a Close frame in response, the endpoint typically echos the status
                    // code it received.)"
                    let reply = match close.code {
                        Some(code) => CloseFrame::encode_payload(code, ""),
                        None => Vec::new(),
                    };
                    self.queue_frame(Opcode::Close, &reply);
                }
                self.state = State::Closed;
                self.assembler.discard();
                self.events.push_back(Event::Closed(close));
            }
            Opcode::Continuation | Opcode::Text | Opcode::Binary => {
                debug_assert!(false, "bug: data frame read as a control frame");
            }
        }
        Ok(())
    }

    /// _Fail the WebSocket Connection_ (§7.1.7): send a Close frame with the error's code, if we
    /// have not sent one yet, and stop processing input.
    fn fail(&mut self, error: ProtocolError) {
        if self.state == State::Open {
            // The reason names the rule and its section, e.g. "§5.1 a client must mask every
            // frame", so the peer learns why (cut to 123 bytes by encode_payload).
            let reason = format!("{} {error}", error.section());
            self.sent_close = Some(CloseFrame {
                code: Some(error.close_code()),
                reason: reason.clone(),
            });
            self.queue_frame(
                Opcode::Close,
                &CloseFrame::encode_payload(error.close_code(), &reason),
            );
        }
        self.state = State::Closed;
        // §7.1.7: nothing more is processed, so the message in progress is never finished.
        self.assembler.discard();
        self.events.push_back(Event::Failed {
            error,
            offset: self.frame_offset,
        });
    }

    /// Starts the close handshake (§7.1.2): queues a Close frame with `code` and `reason` (cut
    /// to 123 bytes). Does nothing unless the connection is `Open`.
    pub fn send_close(&mut self, code: CloseCode, reason: &str) {
        if self.state == State::Open {
            let reason = truncate_reason(reason);
            self.sent_close = Some(CloseFrame {
                code: Some(code),
                reason: reason.to_owned(),
            });
            let payload = CloseFrame::encode_payload(code, reason);
            self.queue_frame(Opcode::Close, &payload);
            self.state = State::CloseSent;
        }
    }

    /// Queues a whole message as one frame. Does nothing unless the connection is `Open`
    /// (§5.5.1: after a Close, "the endpoint MUST NOT send any more data frames").
    ///
    /// With `permessage-deflate`, a message of at least the threshold is compressed and its
    /// frame has RSV1 set (RFC 7692 §6.1).
    pub fn send_message(&mut self, message: &Message) {
        if self.state != State::Open {
            return;
        }
        let payload = message.as_bytes();
        let role = self.role;
        let masking_key = self.next_masking_key();
        let deflater = match self.compression.as_mut() {
            Some(c) if payload.len() >= c.threshold => {
                let params = c.params;
                Some(c.deflater.get_or_insert_with(|| {
                    Deflater::new(
                        params.compressor_window_bits(role),
                        params.no_context_takeover(role),
                    )
                }))
            }
            _ => None,
        };
        let frame = encode_message(message.opcode(), payload, deflater, masking_key);
        self.output.extend_from_slice(&frame);
    }

    /// Queues a Ping with `payload` (at most 125 bytes; longer payloads are cut).
    pub fn send_ping(&mut self, payload: &[u8]) {
        if self.state == State::Open {
            let payload = payload.get(..125).unwrap_or(payload);
            self.queue_frame(Opcode::Ping, payload);
        }
    }

    /// Appends one final control frame to the output, masked if this is a client.
    fn queue_frame(&mut self, opcode: Opcode, payload: &[u8]) {
        let header = FrameHeader {
            masking_key: self.next_masking_key(),
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        self.output
            .extend_from_slice(&encode_frame_with(header, payload));
    }

    /// A fresh masking key for the next frame a client sends (§5.3); `None` for a server.
    fn next_masking_key(&mut self) -> Option<[u8; 4]> {
        match (self.role, self.masking_keys.as_mut()) {
            (Role::Client, Some(next_key)) => Some(next_key()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::encode_masked_frame;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn masked(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
        encode_masked_frame(opcode, fin, payload, KEY)
    }

    fn events(conn: &mut Connection) -> Vec<Event> {
        std::iter::from_fn(|| conn.next_event()).collect()
    }

    fn server_after(bytes: &[u8]) -> (Connection, Vec<Event>) {
        let mut conn = Connection::server(Limits::default());
        conn.receive_data(bytes);
        let events = events(&mut conn);
        (conn, events)
    }

    fn failed_with(bytes: &[u8]) -> (ProtocolError, CloseCode) {
        let (mut conn, events) = server_after(bytes);
        let Some(Event::Failed { error, .. }) = events.last().cloned() else {
            panic!("expected a failure, got {events:?}");
        };
        let output = conn.take_output();
        assert_eq!(output.first(), Some(&0x88), "a Close frame is sent");
        let code = u16::from_be_bytes([output[2], output[3]]);
        assert_eq!(conn.state(), State::Closed);
        (error, CloseCode(code))
    }

    #[test]
    fn rfc_masked_hello_becomes_a_text_message() {
        let (_, events) = server_after(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(events, vec![Event::Message(Message::Text("Hello".into()))]);
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let mut stream = masked(Opcode::Text, false, "Hel€".as_bytes());
        stream.extend(masked(Opcode::Ping, true, b"ping"));
        stream.extend(masked(Opcode::Continuation, true, b"lo"));
        stream.extend(masked(Opcode::Binary, true, &[7u8; 300]));
        let (mut whole, expected) = server_after(&stream);
        let expected_output = whole.take_output();
        assert_eq!(expected.len(), 3);
        for cut in 0..=stream.len() {
            let mut conn = Connection::server(Limits::default());
            conn.receive_data(&stream[..cut]);
            conn.receive_data(&stream[cut..]);
            assert_eq!(events(&mut conn), expected, "cut {cut}");
            assert_eq!(conn.take_output(), expected_output, "cut {cut}");
        }
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_events() {
        let stream = masked(Opcode::Binary, true, &[1u8; 70_000]);
        let mut conn = Connection::server(Limits::default());
        for byte in &stream {
            conn.receive_data(std::slice::from_ref(byte));
        }
        assert_eq!(
            events(&mut conn),
            vec![Event::Message(Message::Binary(vec![1u8; 70_000]))]
        );
    }

    #[test]
    fn ping_is_answered_with_a_pong_carrying_the_same_payload() {
        let (mut conn, events) = server_after(&masked(Opcode::Ping, true, b"Hello"));
        assert_eq!(events, vec![Event::Ping(b"Hello".to_vec())]);
        // §5.7: unmasked Pong "Hello" as the server sends it.
        assert_eq!(
            conn.take_output(),
            [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
    }

    #[test]
    fn control_frames_between_fragments_are_handled_in_place() {
        let mut stream = masked(Opcode::Text, false, b"frag1 ");
        stream.extend(masked(Opcode::Ping, true, b""));
        stream.extend(masked(Opcode::Continuation, true, b"frag2"));
        let (_, events) = server_after(&stream);
        assert_eq!(
            events,
            vec![
                Event::Ping(vec![]),
                Event::Message(Message::Text("frag1 frag2".into()))
            ]
        );
    }

    #[test]
    fn peer_close_is_echoed_and_closes() {
        let (mut conn, events) = server_after(&masked(Opcode::Close, true, b"\x03\xe8bye"));
        assert_eq!(
            events,
            vec![Event::Closed(CloseFrame {
                code: Some(CloseCode::NORMAL_CLOSURE),
                reason: "bye".into()
            })]
        );
        assert_eq!(conn.take_output(), [0x88, 0x02, 0x03, 0xe8]);
        assert_eq!(conn.state(), State::Closed);
    }

    #[test]
    fn empty_close_is_answered_with_an_empty_close() {
        let (mut conn, _) = server_after(&masked(Opcode::Close, true, b""));
        assert_eq!(conn.take_output(), [0x88, 0x00]);
    }

    #[test]
    fn close_we_started_completes_without_a_second_close() {
        let mut conn = Connection::server(Limits::default());
        conn.send_close(CloseCode::GOING_AWAY, "server shutting down");
        assert_eq!(conn.state(), State::CloseSent);
        let sent = conn.take_output();
        assert_eq!(&sent[..4], &[0x88, 22, 0x03, 0xe9]);
        conn.receive_data(&masked(Opcode::Close, true, b"\x03\xe9"));
        assert_eq!(conn.state(), State::Closed);
        assert!(!conn.has_output());
    }

    #[test]
    fn input_after_close_is_discarded() {
        let mut stream = masked(Opcode::Close, true, b"");
        stream.extend(masked(Opcode::Text, true, b"late"));
        let (_, events) = server_after(&stream);
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn each_protocol_violation_closes_with_its_code() {
        let cases: Vec<(&str, Vec<u8>, ProtocolError, CloseCode)> = vec![
            (
                "unmasked frame",
                vec![0x81, 0x00],
                ProtocolError::UnmaskedFrame,
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "rsv bit",
                vec![0xA1, 0x80, 0, 0, 0, 0],
                ProtocolError::ReservedBitsSet,
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "reserved opcode",
                vec![0x85, 0x80, 0, 0, 0, 0],
                ProtocolError::ReservedOpcode(5),
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "fragmented ping",
                masked(Opcode::Ping, false, b""),
                ProtocolError::FragmentedControlFrame,
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "long ping",
                masked(Opcode::Ping, true, &[0; 126]),
                ProtocolError::ControlFrameTooLong(126),
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "bare continuation",
                masked(Opcode::Continuation, true, b"x"),
                ProtocolError::UnexpectedContinuation,
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "one-byte close",
                masked(Opcode::Close, true, b"\x03"),
                ProtocolError::CloseCodeTruncated,
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "close code 1005",
                masked(Opcode::Close, true, b"\x03\xed"),
                ProtocolError::InvalidCloseCode(1005),
                CloseCode::PROTOCOL_ERROR,
            ),
            (
                "close reason not utf-8",
                masked(Opcode::Close, true, b"\x03\xe8\xff"),
                ProtocolError::InvalidCloseReason,
                CloseCode::INVALID_DATA,
            ),
            (
                "text not utf-8",
                masked(Opcode::Text, true, b"\xce\xba\xff"),
                ProtocolError::InvalidUtf8,
                CloseCode::INVALID_DATA,
            ),
        ];
        for (name, bytes, error, code) in cases {
            assert_eq!(failed_with(&bytes), (error, code), "{name}");
        }
    }

    #[test]
    fn new_message_before_the_last_one_ended_is_a_protocol_error() {
        let mut stream = masked(Opcode::Text, false, b"a");
        stream.extend(masked(Opcode::Text, true, b"b"));
        assert_eq!(
            failed_with(&stream),
            (
                ProtocolError::ExpectedContinuation,
                CloseCode::PROTOCOL_ERROR
            )
        );
    }

    #[test]
    fn message_over_the_limit_closes_with_1009_from_the_header_alone() {
        let limits = Limits {
            max_message_size: 1000,
            max_frame_size: 1000,
            max_fragments: 10,
        };
        let mut conn = Connection::server(limits);
        let at_limit = masked(Opcode::Binary, true, &[0; 1000]);
        conn.receive_data(&at_limit);
        assert!(matches!(conn.next_event(), Some(Event::Message(_))));
        // Only the header of a frame one byte over the limit: that is enough to refuse it.
        let over = masked(Opcode::Binary, true, &[0; 1001]);
        conn.receive_data(&over[..8]);
        assert!(matches!(
            conn.next_event(),
            Some(Event::Failed {
                error: ProtocolError::FrameTooBig {
                    size: 1001,
                    limit: 1000
                },
                ..
            })
        ));
        assert_eq!(&conn.take_output()[2..4], &1009u16.to_be_bytes());
    }

    #[test]
    fn header_announcing_2_to_the_63_costs_nothing() {
        let header = [
            0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ];
        let (error, code) = failed_with(&header);
        assert!(matches!(error, ProtocolError::FrameTooBig { .. }));
        assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
    }

    #[test]
    fn invalid_utf8_fails_before_the_frame_is_complete() {
        // Autobahn 6.4.x: the frame's remaining bytes have not arrived yet.
        let frame = masked(
            Opcode::Text,
            true,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
        );
        let mut conn = Connection::server(Limits::default());
        conn.receive_data(&frame[..6 + 13]);
        assert!(matches!(
            conn.next_event(),
            Some(Event::Failed {
                error: ProtocolError::InvalidUtf8,
                ..
            })
        ));
    }

    #[test]
    fn error_offset_points_at_the_offending_frame() {
        let mut stream = masked(Opcode::Text, true, b"fine");
        let bad_at = stream.len() as u64;
        stream.extend([0x81, 0x00]);
        let (_, events) = server_after(&stream);
        assert_eq!(
            events.last(),
            Some(&Event::Failed {
                error: ProtocolError::UnmaskedFrame,
                offset: bad_at
            })
        );
    }

    #[test]
    fn error_offset_is_the_frame_start_even_when_its_header_was_split() {
        // Found by the decode_frame fuzzer: invalid UTF-8 in a frame whose header arrived in
        // two reads was reported at the second read instead of the frame's first byte.
        let mut stream = masked(Opcode::Text, true, b"fine");
        let frame_start = stream.len();
        stream.extend(masked(Opcode::Text, true, b"\xc8e"));
        for cut in frame_start..=stream.len() {
            let mut conn = Connection::server(Limits::default());
            conn.receive_data(&stream[..cut]);
            conn.receive_data(&stream[cut..]);
            let failed = events(&mut conn).pop();
            assert_eq!(
                failed,
                Some(Event::Failed {
                    error: ProtocolError::InvalidUtf8,
                    offset: frame_start as u64
                }),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn client_masks_what_it_sends_and_refuses_masked_frames() {
        let mut client = Connection::client(Limits::default(), Box::new(|| KEY));
        client.send_message(&Message::Text("Hello".into()));
        assert_eq!(
            client.take_output(),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        client.receive_data(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            client.next_event(),
            Some(Event::Message(Message::Text("Hello".into())))
        );
        client.receive_data(&masked(Opcode::Text, true, b"x"));
        assert!(matches!(
            client.next_event(),
            Some(Event::Failed {
                error: ProtocolError::MaskedFrame,
                ..
            })
        ));
    }

    #[test]
    fn observed_frames_report_their_headers() {
        let mut conn = Connection::server(Limits::default());
        conn.observe_frames(true);
        conn.receive_data(&masked(Opcode::Text, true, b"hi"));
        let Some(Event::Frame { header, offset: 0 }) = conn.next_event() else {
            panic!("no frame event")
        };
        assert_eq!(header.to_string(), "FIN=1 RSV=000 Text MASK=1 len=2");
    }

    /// Feeds `stream` as the server's reader does: headers and small frames through
    /// `receive_data` (at most `header_read` bytes at a time), payloads straight into the
    /// message, `chunk` bytes per fill plus `overshoot` bytes past the frame when there are
    /// any (a read is not bound to a frame).
    fn receive_directly(
        conn: &mut Connection,
        stream: &[u8],
        header_read: usize,
        chunk: usize,
        overshoot: usize,
    ) {
        let mut at = 0;
        while at < stream.len() && conn.state() != State::Closed {
            let expected = usize::try_from(conn.payload_expected()).unwrap_or(usize::MAX);
            let end = if expected > 0 {
                let take = expected.min(chunk);
                let extra = if take == expected { overshoot } else { 0 };
                (at + take + extra).min(stream.len())
            } else {
                (at + header_read).min(stream.len())
            };
            if expected > 0 {
                let mut buffer = conn.take_message_buffer();
                let before = buffer.len();
                assert!(
                    buffer.capacity() - before >= expected,
                    "room for the rest of the frame is reserved"
                );
                buffer.extend_from_slice(&stream[at..end]);
                conn.receive_payload(buffer);
            } else {
                conn.receive_data(&stream[at..end]);
            }
            at = end;
        }
    }

    #[test]
    fn payload_read_into_the_message_gives_the_same_events_and_output() {
        let text: String = "κόσμε 𝄞 ".repeat(9_000);
        let mut stream = masked(Opcode::Binary, true, &[5u8; 70_001]);
        stream.extend(masked(Opcode::Text, false, &text.as_bytes()[..40_003]));
        stream.extend(masked(Opcode::Ping, true, b"between"));
        stream.extend(masked(
            Opcode::Continuation,
            true,
            &text.as_bytes()[40_003..],
        ));
        stream.extend(masked(Opcode::Text, true, b"after"));
        stream.extend(masked(Opcode::Close, true, b"\x03\xe8"));
        let (mut whole, expected) = server_after(&stream);
        let expected_output = whole.take_output();
        assert_eq!(expected.len(), 5, "{expected:?}");
        for (header_read, chunk, overshoot) in [
            (512, 1 << 20, 0),
            (512, 1 << 20, 300),
            (1, 1, 0),
            (7, 4_099, 3),
            (3, 65_536, 9),
        ] {
            let mut conn = Connection::server(Limits::default());
            receive_directly(&mut conn, &stream, header_read, chunk, overshoot);
            let case = (header_read, chunk, overshoot);
            assert_eq!(events(&mut conn), expected, "{case:?}");
            assert_eq!(conn.take_output(), expected_output, "{case:?}");
            assert_eq!(conn.bytes_received(), stream.len() as u64, "{case:?}");
        }
    }

    #[test]
    fn payload_expected_counts_down_a_data_frame_and_is_0_elsewhere() {
        let mut conn = Connection::server(Limits::default());
        assert_eq!(conn.payload_expected(), 0, "between frames");
        let frame = masked(Opcode::Binary, true, &[1u8; 1_000]);
        conn.receive_data(&frame[..8]);
        assert_eq!(conn.payload_expected(), 1_000, "after the header");
        conn.receive_data(&frame[8..108]);
        assert_eq!(conn.payload_expected(), 900);
        let mut buffer = conn.take_message_buffer();
        assert_eq!(buffer.len(), 100, "the message so far, unmasked");
        buffer.extend_from_slice(&frame[108..]);
        conn.receive_payload(buffer);
        assert_eq!(conn.payload_expected(), 0, "the frame is whole");
        assert_eq!(
            events(&mut conn),
            vec![Event::Message(Message::Binary(vec![1u8; 1_000]))]
        );
        let ping = masked(Opcode::Ping, true, b"0123456789");
        conn.receive_data(&ping[..8]);
        assert_eq!(
            conn.payload_expected(),
            0,
            "a control frame's payload is gathered"
        );
    }

    #[test]
    fn invalid_utf8_read_into_the_message_fails_with_1007() {
        let mut payload = "é".repeat(50_000).into_bytes();
        payload[77_777] = 0xff;
        let stream = masked(Opcode::Text, true, &payload);
        let mut conn = Connection::server(Limits::default());
        receive_directly(&mut conn, &stream, 512, 1 << 20, 0);
        let Some(Event::Failed { error, .. }) = events(&mut conn).pop() else {
            panic!("expected a failure");
        };
        assert_eq!(error, ProtocolError::InvalidUtf8);
        assert_eq!(error.close_code(), CloseCode::INVALID_DATA);
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(conn.payload_expected(), 0, "nothing more is read into it");
    }

    #[test]
    fn a_message_over_the_limit_is_refused_before_its_payload_is_read() {
        let limits = Limits {
            max_message_size: 100_000,
            ..Limits::default()
        };
        let mut conn = Connection::server(limits);
        let first = masked(Opcode::Binary, false, &[0u8; 60_000]);
        let second = masked(Opcode::Continuation, true, &[0u8; 40_001]);
        conn.receive_data(&first[..14]);
        let mut buffer = conn.take_message_buffer();
        buffer.extend_from_slice(&first[14..]);
        conn.receive_payload(buffer);
        conn.receive_data(&second[..14]);
        assert_eq!(conn.payload_expected(), 0);
        assert!(matches!(
            events(&mut conn).pop(),
            Some(Event::Failed {
                error: ProtocolError::MessageTooBig {
                    size: 100_001,
                    limit: 100_000
                },
                ..
            })
        ));
    }

    #[test]
    fn bytes_given_back_outside_a_payload_are_received_as_a_stream() {
        let mut conn = Connection::server(Limits::default());
        let mut buffer = conn.take_message_buffer();
        buffer.extend_from_slice(&masked(Opcode::Text, true, b"Hello"));
        conn.receive_payload(buffer);
        assert_eq!(
            events(&mut conn),
            vec![Event::Message(Message::Text("Hello".into()))]
        );
    }

    /// A server that agreed `permessage-deflate` with the RFC's defaults plus our
    /// `server_no_context_takeover`.
    fn deflate_server(limits: Limits) -> Connection {
        let params = Params {
            server_no_context_takeover: true,
            ..Params::default()
        };
        Connection::server(limits).with_deflate(params, 0)
    }

    fn masked_rsv1(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            rsv1: true,
            masking_key: Some(KEY),
            ..FrameHeader::new(opcode, 0)
        };
        encode_frame_with(header, payload)
    }

    const HELLO_DEFLATED: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn rfc_7692_compressed_hello_in_one_frame_and_in_two() {
        let mut conn = deflate_server(Limits::default());
        conn.receive_data(&masked_rsv1(Opcode::Text, true, &HELLO_DEFLATED));
        // §7.2.3.1: "0x41 0x03 0xf2 0x48 0xcd" then "0x80 0x04 0xc9 0xc9 0x07 0x00".
        conn.receive_data(&masked_rsv1(Opcode::Text, false, &HELLO_DEFLATED[..3]));
        conn.receive_data(&masked(Opcode::Continuation, true, &HELLO_DEFLATED[3..]));
        let hello = Event::Message(Message::Text("Hello".into()));
        assert_eq!(events(&mut conn), vec![hello.clone(), hello]);
    }

    #[test]
    fn compressed_fragments_with_control_frames_between_them() {
        let mut stream = masked_rsv1(Opcode::Text, false, &HELLO_DEFLATED[..2]);
        stream.extend(masked(Opcode::Ping, true, b"p"));
        stream.extend(masked(Opcode::Continuation, false, &HELLO_DEFLATED[2..5]));
        stream.extend(masked(Opcode::Pong, true, b""));
        stream.extend(masked(Opcode::Continuation, true, &HELLO_DEFLATED[5..]));
        for cut in 0..=stream.len() {
            let mut conn = deflate_server(Limits::default());
            conn.receive_data(&stream[..cut]);
            conn.receive_data(&stream[cut..]);
            assert_eq!(
                events(&mut conn),
                vec![
                    Event::Ping(b"p".to_vec()),
                    Event::Pong(vec![]),
                    Event::Message(Message::Text("Hello".into()))
                ],
                "cut {cut}"
            );
            // The Pong is not compressed: control frames never are.
            assert_eq!(conn.take_output(), [0x8a, 0x01, b'p']);
        }
    }

    #[test]
    fn the_clients_context_is_taken_over_across_messages() {
        // §7.2.3.2: the second "Hello" refers back into the first.
        let mut conn = deflate_server(Limits::default());
        conn.receive_data(&masked_rsv1(Opcode::Text, true, &HELLO_DEFLATED));
        conn.receive_data(&masked_rsv1(
            Opcode::Text,
            true,
            &[0xf2, 0x00, 0x11, 0x00, 0x00],
        ));
        // An uncompressed message between compressed ones leaves the window alone.
        conn.receive_data(&masked(Opcode::Text, true, b"plain"));
        conn.receive_data(&masked_rsv1(
            Opcode::Text,
            true,
            &[0xf2, 0x00, 0x11, 0x00, 0x00],
        ));
        let texts: Vec<Event> = ["Hello", "Hello", "plain", "Hello"]
            .iter()
            .map(|t| Event::Message(Message::Text((*t).into())))
            .collect();
        assert_eq!(events(&mut conn), texts);
    }

    #[test]
    fn rsv1_is_refused_where_rfc_7692_forbids_it() {
        let cases = [
            ("rsv1 on a ping", masked_rsv1(Opcode::Ping, true, b"")),
            ("rsv1 on a close", masked_rsv1(Opcode::Close, true, b"")),
            ("rsv1 on a continuation", {
                let mut s = masked(Opcode::Text, false, b"a");
                s.extend(masked_rsv1(Opcode::Continuation, true, b"b"));
                s
            }),
        ];
        for (name, bytes) in cases {
            let mut conn = deflate_server(Limits::default());
            conn.receive_data(&bytes);
            let failed = events(&mut conn).pop();
            assert!(
                matches!(
                    failed,
                    Some(Event::Failed {
                        error: ProtocolError::CompressedBitMisplaced,
                        ..
                    })
                ),
                "{name}: {failed:?}"
            );
            assert_eq!(&conn.take_output()[2..4], &1002u16.to_be_bytes(), "{name}");
        }
        // Without the extension RSV1 is just a reserved bit (§5.2).
        let (error, code) = failed_with(&masked_rsv1(Opcode::Text, true, &HELLO_DEFLATED));
        assert_eq!(
            (error, code),
            (ProtocolError::ReservedBitsSet, CloseCode::PROTOCOL_ERROR)
        );
    }

    #[test]
    fn a_zip_bomb_is_closed_with_1009_before_it_is_held() {
        // 16 MiB of zeros in about 16 KiB, against a 1 MiB message limit.
        let bomb = Deflater::new(15, true).compress(&vec![0u8; 16 << 20]);
        let limits = Limits {
            max_message_size: 1 << 20,
            ..Limits::default()
        };
        let mut conn = deflate_server(limits);
        conn.receive_data(&masked_rsv1(Opcode::Binary, true, &bomb));
        let failed = events(&mut conn).pop();
        assert!(
            matches!(
                failed,
                Some(Event::Failed {
                    error: ProtocolError::MessageTooBig {
                        size: 1_048_577,
                        limit: 1_048_576
                    },
                    ..
                })
            ),
            "{failed:?}"
        );
        assert_eq!(&conn.take_output()[2..4], &1009u16.to_be_bytes());
    }

    #[test]
    fn inflated_text_is_checked_as_utf8() {
        let bad = Deflater::new(15, true).compress(b"ok \xff");
        let mut conn = deflate_server(Limits::default());
        conn.receive_data(&masked_rsv1(Opcode::Text, true, &bad));
        assert!(matches!(
            events(&mut conn).pop(),
            Some(Event::Failed {
                error: ProtocolError::InvalidUtf8,
                ..
            })
        ));
        let mut conn = deflate_server(Limits::default());
        conn.receive_data(&masked_rsv1(Opcode::Binary, true, b"\xff\xff\xff"));
        assert!(matches!(
            events(&mut conn).pop(),
            Some(Event::Failed {
                error: ProtocolError::InvalidCompressedData,
                ..
            })
        ));
    }

    #[test]
    fn messages_at_the_threshold_are_compressed_and_shorter_ones_not() {
        let params = Params::default();
        let mut client =
            Connection::client(Limits::default(), Box::new(|| KEY)).with_deflate(params, 5);
        client.send_message(&Message::Text("Hi".into()));
        client.send_message(&Message::Text("Hello".into()));
        client.send_message(&Message::Text("Hello".into()));
        let output = client.take_output();
        let mut server = deflate_server(Limits::default());
        server.receive_data(&output);
        let texts: Vec<Event> = ["Hi", "Hello", "Hello"]
            .iter()
            .map(|t| Event::Message(Message::Text((*t).into())))
            .collect();
        assert_eq!(events(&mut server), texts);
        // Hi is plain; the first Hello is §7.2.3.1's frame; the second takes the context over.
        assert_eq!(&output[..2], &[0x81, 0x82]);
        assert_eq!(&output[8..10], &[0xc1, 0x87]);
        assert_eq!(&output[21..23], &[0xc1, 0x85]);
    }

    fn budgeted(limit: u64, limits: Limits) -> (Arc<MemoryBudget>, Connection) {
        let budget = Arc::new(MemoryBudget::new(limit));
        let conn = deflate_server(limits).with_budget(Arc::clone(&budget));
        (budget, conn)
    }

    /// Two messages, each in fragments, the first compressed, the second plain and large
    /// enough to be read straight into its buffer.
    fn two_fragmented_messages() -> (Vec<u8>, Vec<Event>) {
        let text = "budget ".repeat(20_000);
        let deflated = Deflater::new(15, true).compress(text.as_bytes());
        let (head, tail) = deflated.split_at(deflated.len() / 2);
        let mut stream = masked_rsv1(Opcode::Text, false, head);
        stream.extend(masked(Opcode::Ping, true, b"p"));
        stream.extend(masked(Opcode::Continuation, true, tail));
        let binary = vec![7u8; 150_000];
        stream.extend(masked(Opcode::Binary, false, &binary[..70_000]));
        stream.extend(masked(Opcode::Continuation, true, &binary[70_000..]));
        let expected = vec![
            Event::Ping(b"p".to_vec()),
            Event::Message(Message::Text(text)),
            Event::Message(Message::Binary(binary)),
        ];
        (stream, expected)
    }

    #[test]
    fn a_partial_message_holds_the_budget_and_a_whole_one_gives_it_back() {
        let (budget, mut conn) = budgeted(1 << 30, Limits::default());
        conn.receive_data(&masked(Opcode::Binary, false, &[1; 100_000]));
        assert!(budget.held() >= 30_000, "held {}", budget.held());
        assert_eq!(budget.held(), conn.budget_held());
        conn.receive_data(&masked(Opcode::Continuation, true, &[2; 1000]));
        assert_eq!(events(&mut conn).len(), 1);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn any_chunking_gives_the_same_events_and_leaves_the_budget_balanced() {
        let (stream, expected) = two_fragmented_messages();
        for chunk in [1, 7, 4096, 65_536, stream.len()] {
            let (budget, mut conn) = budgeted(1 << 30, Limits::default());
            let mut most = 0;
            for piece in stream.chunks(chunk) {
                conn.receive_data(piece);
                most = most.max(budget.held());
                assert_eq!(budget.held(), conn.budget_held(), "chunk {chunk}");
            }
            assert_eq!(events(&mut conn), expected, "chunk {chunk}");
            assert_eq!(budget.held(), 0, "chunk {chunk}: all given back");
            if chunk < 65_536 {
                // Read in pieces, the large message was held while it was incomplete.
                assert!(most >= 70_000, "chunk {chunk}: held {most} at most");
            }
        }
        for chunk in [1000, 65_536, 1 << 20] {
            let (budget, mut conn) = budgeted(1 << 30, Limits::default());
            receive_directly(&mut conn, &stream, 3, chunk, 2);
            assert_eq!(events(&mut conn), expected, "direct, chunk {chunk}");
            assert_eq!(budget.held(), 0, "direct, chunk {chunk}: all given back");
        }
    }

    #[test]
    fn a_message_over_the_budget_fails_its_own_connection_with_1013() {
        let (budget, mut first) = budgeted(250_000, Limits::default());
        let mut second = deflate_server(Limits::default()).with_budget(Arc::clone(&budget));
        // 200,000 zeros in a few hundred compressed bytes: the inflated bytes are what counts.
        let bomb = Deflater::new(15, true).compress(&[0u8; 200_000]);
        first.receive_data(&masked_rsv1(Opcode::Binary, false, &bomb));
        let held = budget.held();
        assert!(
            held >= 100_000,
            "the first holds its inflated fragment: {held}"
        );
        second.receive_data(&masked_rsv1(Opcode::Binary, false, &bomb));
        let failed = events(&mut second).pop();
        assert!(
            matches!(
                failed,
                Some(Event::Failed {
                    error: ProtocolError::BufferBudgetExhausted { limit: 250_000, .. },
                    ..
                })
            ),
            "{failed:?}"
        );
        assert_eq!(&second.take_output()[2..4], &1013u16.to_be_bytes());
        assert_eq!(budget.held(), held, "the failed one gave its share back");
        assert_eq!(budget.refused(), 1);
        // The first is untouched and finishes its message.
        first.receive_data(&masked(Opcode::Continuation, true, &[]));
        assert!(matches!(
            events(&mut first).pop(),
            Some(Event::Message(Message::Binary(b))) if b.len() == 200_000
        ));
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_lent_buffer_the_budget_cannot_cover_fails_the_connection() {
        let (budget, mut conn) = budgeted(100_000, Limits::default());
        let frame = masked(Opcode::Binary, true, &[0; 200_000]);
        conn.receive_data(&frame[..14]);
        assert!(conn.payload_expected() > 0);
        let mut buffer = conn.take_message_buffer();
        assert_eq!(conn.state(), State::Closed);
        buffer.extend_from_slice(&frame[14..1000]);
        conn.receive_payload(buffer);
        assert!(matches!(
            events(&mut conn).pop(),
            Some(Event::Failed {
                error: ProtocolError::BufferBudgetExhausted { .. },
                ..
            })
        ));
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn closing_or_dropping_a_connection_gives_its_partial_message_back() {
        let (budget, mut conn) = budgeted(1 << 30, Limits::default());
        conn.receive_data(&masked(Opcode::Binary, false, &[1; 100_000]));
        assert!(budget.held() > 0);
        drop(conn);
        assert_eq!(budget.held(), 0, "dropped");
        let (budget, mut conn) = budgeted(1 << 30, Limits::default());
        conn.receive_data(&masked(Opcode::Binary, false, &[1; 100_000]));
        conn.receive_data(&masked(Opcode::Close, true, &[0x03, 0xe8]));
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(budget.held(), 0, "closed by the peer");
    }
}
