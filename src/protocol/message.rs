//! Fragmentation (RFC 6455 §5.4) and data frames (§5.6): fragments in, whole messages out.
//!
//! "A fragmented message consists of a single frame with the FIN bit clear and an opcode other
//! than 0, followed by zero or more frames with the FIN bit clear and the opcode set to 0, and
//! terminated by a single frame with the FIN bit set and an opcode of 0." Control frames may be
//! interleaved between fragments (§5.4); [`Connection`](super::Connection) handles those and
//! hands only data frames to [`MessageAssembler`].
//!
//! Payload bytes are pushed as they arrive, still masked, so that a large frame never waits
//! whole in a second buffer, and a Text message is checked for UTF-8 as it grows (§8.1).

use std::sync::Arc;

use super::budget::{Account, MemoryBudget};
use super::deflate::Inflater;
use super::error::ProtocolError;
use super::frame::{FrameHeader, Opcode};
use super::mask::apply_mask;
use super::utf8::Utf8Validator;

/// A whole message, after reassembly and validation (§5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A Text message: valid UTF-8.
    Text(String),
    /// A Binary message: any bytes.
    Binary(Vec<u8>),
}

impl Message {
    /// The opcode that starts this message on the wire.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::Text(_) => Opcode::Text,
            Self::Binary(_) => Opcode::Binary,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(bytes) => bytes,
        }
    }

    /// The payload bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Text(text) => text.into_bytes(),
            Self::Binary(bytes) => bytes,
        }
    }
}

/// The kind of the message being assembled, from its first frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// Reassembles data frames into messages, enforcing §5.4's order and the size limits.
#[derive(Debug)]
pub struct MessageAssembler {
    /// The message in progress, if its first frame has arrived.
    kind: Option<Kind>,
    payload: Vec<u8>,
    fragments: usize,
    utf8: Utf8Validator,
    max_message_size: u64,
    max_fragments: usize,
    /// Payload bytes of the current frame not pushed yet.
    frame_remaining: u64,
    /// The message in progress is compressed (RSV1 on its first frame, RFC 7692 §6): its
    /// payload is inflated as it arrives, and the limit applies to the inflated bytes.
    compressed: bool,
    /// `payload`'s capacity, reserved from the server-wide budget of incomplete messages.
    account: Account,
}

/// A frame at least this large gets its whole remaining payload reserved at once, as soon as
/// its bytes start arriving, instead of growing the buffer by doubling (copy after copy).
const RESERVE_WHOLE_FRAME: u64 = 64 * 1024;

impl MessageAssembler {
    /// An assembler that refuses messages over `max_message_size` bytes or
    /// `max_fragments` frames.
    pub fn new(max_message_size: u64, max_fragments: usize) -> Self {
        Self {
            kind: None,
            payload: Vec::new(),
            fragments: 0,
            utf8: Utf8Validator::new(),
            max_message_size,
            max_fragments,
            frame_remaining: 0,
            compressed: false,
            account: Account::default(),
        }
    }

    /// Counts the message buffer against `budget`, shared with other connections: each growth
    /// is reserved there first ([`Account::grow`]).
    pub fn with_budget(mut self, budget: Arc<MemoryBudget>) -> Self {
        self.set_budget(budget);
        self
    }

    /// [`MessageAssembler::with_budget`] in place.
    pub fn set_budget(&mut self, budget: Arc<MemoryBudget>) {
        self.account = Account::new(Some(budget));
    }

    /// Bytes of the budget the message in progress holds.
    pub fn budget_held(&self) -> u64 {
        self.account.reserved()
    }

    /// Frees the message in progress and gives its bytes back to the budget: the connection
    /// failed or closed, and nothing more of it will be read.
    pub fn discard(&mut self) {
        self.payload = Vec::new();
        self.account.release();
    }

    /// Whether the message in progress is compressed (RFC 7692 §6).
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Whether a fragmented message is in progress.
    pub fn is_in_message(&self) -> bool {
        self.kind.is_some()
    }

    /// Begins a data frame whose header just arrived.
    ///
    /// # Errors
    ///
    /// - [`ProtocolError::UnexpectedContinuation`]: a Continuation frame with no message to
    ///   continue (§5.4).
    /// - [`ProtocolError::ExpectedContinuation`]: a Text or Binary frame while a fragmented
    ///   message is unfinished; "the fragments of one message MUST NOT be interleaved between
    ///   the fragments of another message" (§5.4).
    /// - [`ProtocolError::MessageTooBig`] if this frame would take the message over the limit,
    ///   found from the header alone, before any payload is read or memory reserved.
    /// - [`ProtocolError::TooManyFragments`] over the fragment limit.
    pub fn start_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (header.opcode, self.kind) {
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Opcode::Continuation, Some(_)) => {}
            (Opcode::Text | Opcode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            (Opcode::Text, None) => self.kind = Some(Kind::Text),
            (Opcode::Binary, None) => self.kind = Some(Kind::Binary),
            (Opcode::Close | Opcode::Ping | Opcode::Pong, _) => {
                debug_assert!(false, "bug: control frame given to the message assembler");
            }
        }
        self.fragments += 1;
        if self.fragments > self.max_fragments {
            return Err(ProtocolError::TooManyFragments {
                limit: self.max_fragments,
            });
        }
        if header.opcode != Opcode::Continuation {
            self.compressed = header.rsv1;
        }
        self.frame_remaining = header.payload_len;
        if self.compressed {
            // The compressed length says nothing about the inflated one: the limit is applied
            // while inflating (push_compressed).
            return Ok(());
        }
        let size = (self.payload.len() as u64).saturating_add(header.payload_len);
        if size > self.max_message_size {
            return Err(ProtocolError::MessageTooBig {
                size,
                limit: self.max_message_size,
            });
        }
        Ok(())
    }

    /// Appends payload bytes of the current frame, unmasking them with `masking_key` from
    /// payload position `offset` (§5.3), and checks them as UTF-8 if this is a Text message.
    ///
    /// # Errors
    ///
    /// - [`ProtocolError::InvalidUtf8`] at the first byte that cannot be valid UTF-8 (§8.1).
    /// - [`ProtocolError::BufferBudgetExhausted`] if the buffer must grow and the server-wide
    ///   budget has no room.
    pub fn push(
        &mut self,
        bytes: &[u8],
        masking_key: Option<[u8; 4]>,
        offset: usize,
    ) -> Result<(), ProtocolError> {
        let start = self.payload.len();
        // The length was checked against the limits; now that its bytes really arrive, make
        // room for all of them once.
        let room = if self.frame_remaining >= RESERVE_WHOLE_FRAME {
            usize::try_from(self.frame_remaining).unwrap_or(usize::MAX)
        } else {
            bytes.len()
        };
        self.account
            .grow(&mut self.payload, room.max(bytes.len()))?;
        self.frame_remaining = self.frame_remaining.saturating_sub(bytes.len() as u64);
        self.payload.extend_from_slice(bytes);
        let new = self.payload.get_mut(start..).unwrap_or_default();
        if let Some(key) = masking_key {
            apply_mask(new, key, offset);
        }
        if self.kind == Some(Kind::Text) {
            self.utf8.feed(new)?;
        }
        Ok(())
    }

    /// Lends the message buffer so that the caller can append the current frame's payload
    /// straight into it, saving the copy from a read buffer: the message so far, with room
    /// reserved for the rest of the frame (its length was checked against the limit by
    /// [`MessageAssembler::start_frame`]). Give it back with [`MessageAssembler::push_appended`].
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BufferBudgetExhausted`] if the server-wide budget has no room for the
    /// rest of the frame; the buffer stays here.
    pub fn lend_buffer(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let room = usize::try_from(self.frame_remaining).unwrap_or(usize::MAX);
        self.account.grow(&mut self.payload, room)?;
        Ok(std::mem::take(&mut self.payload))
    }

    /// Takes back the buffer [`MessageAssembler::lend_buffer`] lent, with payload bytes of the
    /// current frame appended after its first `start` bytes, still masked: they are unmasked
    /// in place from payload position `offset` (§5.3) and checked as UTF-8 if this is a Text
    /// message, as [`MessageAssembler::push`] does.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] at the first byte that cannot be valid UTF-8 (§8.1).
    pub fn push_appended(
        &mut self,
        buffer: Vec<u8>,
        start: usize,
        masking_key: Option<[u8; 4]>,
        offset: usize,
    ) -> Result<(), ProtocolError> {
        self.payload = buffer;
        self.account.settle(self.payload.capacity());
        let new = self.payload.get_mut(start..).unwrap_or_default();
        self.frame_remaining = self.frame_remaining.saturating_sub(new.len() as u64);
        if let Some(key) = masking_key {
            apply_mask(new, key, offset);
        }
        if self.kind == Some(Kind::Text) {
            self.utf8.feed(new)?;
        }
        Ok(())
    }

    /// Inflates payload bytes (already unmasked) of a compressed message's frame (RFC 7692
    /// §6.2), checking the inflated bytes as UTF-8 if this is a Text message.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MessageTooBig`] as soon as the *inflated* message is over the limit,
    /// [`ProtocolError::BufferBudgetExhausted`] before it would take the server-wide budget
    /// over its limit, [`ProtocolError::InvalidCompressedData`], [`ProtocolError::InvalidUtf8`].
    pub fn push_compressed(
        &mut self,
        bytes: &[u8],
        inflater: &mut Inflater,
    ) -> Result<(), ProtocolError> {
        self.frame_remaining = self.frame_remaining.saturating_sub(bytes.len() as u64);
        let (utf8, text) = (&mut self.utf8, self.kind == Some(Kind::Text));
        let mut check = |new: &[u8]| if text { utf8.feed(new) } else { Ok(()) };
        inflater.inflate_within(
            bytes,
            &mut self.payload,
            &mut self.account,
            self.max_message_size,
            &mut check,
        )
    }

    /// Ends a compressed message's final frame: the inflater gets §6.2's tail.
    ///
    /// # Errors
    ///
    /// As [`MessageAssembler::push_compressed`].
    pub fn finish_compressed(&mut self, inflater: &mut Inflater) -> Result<(), ProtocolError> {
        let (utf8, text) = (&mut self.utf8, self.kind == Some(Kind::Text));
        let mut check = |new: &[u8]| if text { utf8.feed(new) } else { Ok(()) };
        inflater.finish_message_within(
            &mut self.payload,
            &mut self.account,
            self.max_message_size,
            &mut check,
        )
    }

    /// Ends the current frame; returns the whole message if it was the final fragment.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] if a Text message ends in the middle of a character.
    pub fn end_frame(&mut self, fin: bool) -> Result<Option<Message>, ProtocolError> {
        if !fin {
            return Ok(None);
        }
        let kind = self.kind.take();
        self.fragments = 0;
        self.compressed = false;
        let payload = std::mem::take(&mut self.payload);
        // The message is whole and handed on: it no longer counts as incomplete.
        self.account.release();
        match kind {
            Some(Kind::Text) => {
                self.utf8.finish()?;
                self.utf8.reset();
                let text = String::from_utf8(payload).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Some(Message::Text(text)))
            }
            Some(Kind::Binary) => Ok(Some(Message::Binary(payload))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: Opcode, fin: bool, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            ..FrameHeader::new(opcode, len)
        }
    }

    fn frame(
        assembler: &mut MessageAssembler,
        opcode: Opcode,
        fin: bool,
        data: &[u8],
    ) -> Result<Option<Message>, ProtocolError> {
        assembler.start_frame(&header(opcode, fin, data.len() as u64))?;
        assembler.push(data, None, 0)?;
        assembler.end_frame(fin)
    }

    #[test]
    fn rfc_fragmented_hello_is_reassembled() {
        // §5.7: "Hel" then "lo".
        let mut assembler = MessageAssembler::new(1024, 16);
        assert_eq!(frame(&mut assembler, Opcode::Text, false, b"Hel"), Ok(None));
        assert_eq!(
            frame(&mut assembler, Opcode::Continuation, true, b"lo"),
            Ok(Some(Message::Text("Hello".into())))
        );
        assert!(!assembler.is_in_message());
    }

    #[test]
    fn continuation_without_a_message_is_a_protocol_error() {
        let mut assembler = MessageAssembler::new(1024, 16);
        assert_eq!(
            frame(&mut assembler, Opcode::Continuation, true, b"x"),
            Err(ProtocolError::UnexpectedContinuation)
        );
    }

    #[test]
    fn new_message_inside_a_fragmented_one_is_a_protocol_error() {
        let mut assembler = MessageAssembler::new(1024, 16);
        assert_eq!(frame(&mut assembler, Opcode::Binary, false, b"a"), Ok(None));
        assert_eq!(
            frame(&mut assembler, Opcode::Text, true, b"b"),
            Err(ProtocolError::ExpectedContinuation)
        );
    }

    #[test]
    fn message_at_the_limit_passes_and_one_byte_over_fails() {
        let mut assembler = MessageAssembler::new(10, 16);
        assert_eq!(
            frame(&mut assembler, Opcode::Binary, false, b"12345"),
            Ok(None)
        );
        assert!(frame(&mut assembler, Opcode::Continuation, true, b"67890").is_ok());
        assert_eq!(
            frame(&mut assembler, Opcode::Binary, false, b"12345"),
            Ok(None)
        );
        assert_eq!(
            frame(&mut assembler, Opcode::Continuation, true, b"678901"),
            Err(ProtocolError::MessageTooBig {
                size: 11,
                limit: 10
            })
        );
    }

    #[test]
    fn huge_announced_length_fails_before_any_allocation() {
        let mut assembler = MessageAssembler::new(64 << 20, 16);
        assert_eq!(
            assembler.start_frame(&header(Opcode::Binary, true, 1 << 62)),
            Err(ProtocolError::MessageTooBig {
                size: 1 << 62,
                limit: 64 << 20
            })
        );
        assert_eq!(assembler.payload.capacity(), 0);
    }

    #[test]
    fn a_large_frame_reserves_its_payload_only_once_bytes_arrive() {
        let mut assembler = MessageAssembler::new(64 << 20, 16);
        assembler
            .start_frame(&header(Opcode::Binary, true, 1 << 20))
            .expect("within limits");
        assert_eq!(
            assembler.payload.capacity(),
            0,
            "a header alone costs nothing"
        );
        assembler.push(&[0; 100], None, 0).expect("valid");
        assert!(
            assembler.payload.capacity() >= 1 << 20,
            "then room for the whole frame, once"
        );
    }

    #[test]
    fn fragment_count_is_limited() {
        let mut assembler = MessageAssembler::new(1024, 3);
        for _ in 0..3 {
            assert_eq!(
                frame(&mut assembler, Opcode::Text, false, b"").or_else(|_| frame(
                    &mut assembler,
                    Opcode::Continuation,
                    false,
                    b""
                )),
                Ok(None)
            );
        }
        assert_eq!(
            frame(&mut assembler, Opcode::Continuation, false, b""),
            Err(ProtocolError::TooManyFragments { limit: 3 })
        );
    }

    #[test]
    fn invalid_utf8_fails_in_the_fragment_that_carries_it() {
        let mut assembler = MessageAssembler::new(1024, 16);
        assert_eq!(
            frame(&mut assembler, Opcode::Text, false, "κόσμε".as_bytes()),
            Ok(None)
        );
        assert_eq!(
            frame(&mut assembler, Opcode::Continuation, false, b"\xed\xa0\x80"),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn character_split_across_fragments_is_accepted() {
        let mut assembler = MessageAssembler::new(1024, 16);
        assert_eq!(
            frame(&mut assembler, Opcode::Text, false, b"\xe2\x82"),
            Ok(None)
        );
        assert_eq!(
            frame(&mut assembler, Opcode::Continuation, true, b"\xac"),
            Ok(Some(Message::Text("€".into())))
        );
    }

    #[test]
    fn masked_payload_pushed_in_pieces_is_unmasked() {
        let mut assembler = MessageAssembler::new(1024, 16);
        let masked = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let key = Some([0x37, 0xfa, 0x21, 0x3d]);
        assembler
            .start_frame(&header(Opcode::Text, true, 5))
            .expect("valid");
        assembler.push(&masked[..2], key, 0).expect("valid");
        assembler.push(&masked[2..], key, 2).expect("valid");
        assert_eq!(
            assembler.end_frame(true),
            Ok(Some(Message::Text("Hello".into())))
        );
    }
}
