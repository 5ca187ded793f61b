//! Base framing (RFC 6455 §5.2): the opcode, the frame header, and how both look on the wire.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! [`parse_header`] reads the fields and checks only what makes the bytes a header at all;
//! [`check_header`] judges them by every rule a header alone can break ([`header_violations`]:
//! reserved bits and opcodes, the 64-bit length, control frames, masking by role, RSV1 under
//! `permessage-deflate`), for the protocol core and the Inspector alike. Configured limits
//! belong to [`Connection`](super::Connection).

use std::fmt;

use super::error::ProtocolError;

/// Which end of the connection this is; it decides who masks (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Receives unmasked frames, sends masked ones.
    Client,
}

/// The largest payload a control frame may carry (§5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// RSV1 in [`RawHeader::rsv`]: the "Per-Message Compressed" bit of `permessage-deflate`
/// (RFC 7692 §6).
pub const RSV1: u8 = 0b100;

/// The longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// What a frame carries (§5.2, §11.8). Reserved opcodes are refused by `TryFrom<u8>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: the next fragment of a fragmented message (§5.4).
    Continuation,
    /// 0x1: a UTF-8 text message, or its first fragment (§5.6).
    Text,
    /// 0x2: a binary message, or its first fragment (§5.6).
    Binary,
    /// 0x8: the close handshake (§5.5.1).
    Close,
    /// 0x9: a ping; the peer answers with a Pong (§5.5.2).
    Ping,
    /// 0xA: a pong (§5.5.3).
    Pong,
}

impl Opcode {
    /// Control frames have opcodes whose most significant bit is set (§5.5).
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }

    /// The 4-bit value on the wire.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }
}

impl TryFrom<u8> for Opcode {
    type Error = ProtocolError;

    /// Reads a 4-bit opcode.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::ReservedOpcode`] for 0x3–0x7 and 0xB–0xF: "If an unknown opcode is
    /// received, the receiving endpoint MUST _Fail the WebSocket Connection_" (§5.2).
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0x0 => Ok(Self::Continuation),
            0x1 => Ok(Self::Text),
            0x2 => Ok(Self::Binary),
            0x8 => Ok(Self::Close),
            0x9 => Ok(Self::Ping),
            0xA => Ok(Self::Pong),
            other => Err(ProtocolError::ReservedOpcode(other)),
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Continuation => "Continuation",
            Self::Text => "Text",
            Self::Binary => "Binary",
            Self::Close => "Close",
            Self::Ping => "Ping",
            Self::Pong => "Pong",
        })
    }
}

/// The fields of a frame header (§5.2), everything before the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1: for extensions; with `permessage-deflate`, "Per-Message Compressed" on the first
    /// frame of a compressed message (RFC 7692 §6), else 0.
    pub rsv1: bool,
    /// RSV2: for extensions; must be 0 here.
    pub rsv2: bool,
    /// RSV3: for extensions; must be 0 here.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key, present exactly when the MASK bit is set (§5.3).
    pub masking_key: Option<[u8; 4]>,
    /// The payload length in bytes, from the 7-bit field or its 16/64-bit extension.
    pub payload_len: u64,
}

/// A frame header as read off the wire before any rule is applied, so that tools can show
/// what a broken frame said ([`parse_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader {
    /// FIN bit.
    pub fin: bool,
    /// RSV1, RSV2 and RSV3 as the low three bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The 4-bit opcode, possibly reserved.
    pub opcode: u8,
    /// The masking key, if MASK is set.
    pub masking_key: Option<[u8; 4]>,
    /// The payload length, possibly with the forbidden top bit set.
    pub payload_len: u64,
    /// The 7-bit length field as sent: 0–125, or 126/127 for an extended length.
    pub len7: u8,
    /// How many bytes the header took.
    pub header_len: usize,
}

/// Reads the fields of a frame header from the front of `buf`, applying no rules.
///
/// Returns `None` while `buf` holds less than a whole header; nothing is consumed.
pub fn parse_header(buf: &[u8]) -> Option<RawHeader> {
    let (&[byte0, byte1], rest) = buf.split_first_chunk::<2>()?;
    let len7 = byte1 & 0x7F;
    let (payload_len, rest, ext_len) = match len7 {
        126 => {
            let (ext, rest) = rest.split_first_chunk::<2>()?;
            (u64::from(u16::from_be_bytes(*ext)), rest, 2)
        }
        127 => {
            let (ext, rest) = rest.split_first_chunk::<8>()?;
            (u64::from_be_bytes(*ext), rest, 8)
        }
        short => (u64::from(short), rest, 0),
    };
    let masked = byte1 & 0x80 != 0;
    let masking_key = if masked {
        Some(*rest.first_chunk::<4>()?)
    } else {
        None
    };
    Some(RawHeader {
        fin: byte0 & 0x80 != 0,
        rsv: (byte0 >> 4) & 0x07,
        opcode: byte0 & 0x0F,
        masking_key,
        payload_len,
        len7,
        header_len: 2 + ext_len + if masked { 4 } else { 0 },
    })
}

/// Reads a frame header from the front of `buf` and checks the rules every endpoint applies
/// (RFC 6455 §5.2, §5.5).
///
/// Returns `Ok(None)` while `buf` holds less than a whole header; nothing is consumed.
/// Otherwise returns the header and its length in bytes.
///
/// # Errors
///
/// - [`ProtocolError::ReservedBitsSet`] if RSV1–3 are set: "If a nonzero value is received and
///   none of the negotiated extensions defines the meaning of such a nonzero value, the
///   receiving endpoint MUST _Fail the WebSocket Connection_" (§5.2). Here no extension is
///   negotiated; [`decode_header_with`] allows RSV1 for `permessage-deflate`.
/// - [`ProtocolError::ReservedOpcode`] for an opcode §5.2 reserves.
/// - [`ProtocolError::InvalidLength`] for a 64-bit length with its top bit set (§5.2).
/// - [`ProtocolError::FragmentedControlFrame`] / [`ProtocolError::ControlFrameTooLong`]:
///   "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be
///   fragmented" (§5.5).
///
/// ```
/// use wsmith::protocol::frame::{decode_header, Opcode};
/// // §5.7: a single-frame masked text message "Hello".
/// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let (header, len) = decode_header(&bytes)?.expect("a whole header");
/// assert_eq!((header.opcode, header.payload_len, len), (Opcode::Text, 5, 6));
/// assert_eq!(header.masking_key, Some([0x37, 0xfa, 0x21, 0x3d]));
/// # Ok::<(), wsmith::protocol::ProtocolError>(())
/// ```
pub fn decode_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    decode_header_with(buf, false)
}

/// [`decode_header`] on a connection that negotiated an extension giving RSV1 a meaning
/// (`rsv1_allowed`): `permessage-deflate`'s "Per-Message Compressed" bit (RFC 7692 §6). Where
/// RSV1 may appear (first frames of data messages only) is the connection's rule.
///
/// # Errors
///
/// As [`decode_header`]; RSV2 and RSV3 are always refused, RSV1 unless `rsv1_allowed`.
pub fn decode_header_with(
    buf: &[u8],
    rsv1_allowed: bool,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let Some(raw) = parse_header(buf) else {
        return Ok(None);
    };
    let rules = HeaderRules {
        sender: None,
        rsv1_negotiated: rsv1_allowed,
    };
    Ok(Some((check_header(&raw, rules)?, raw.header_len)))
}

/// What the receiver knows when it judges a frame header: who sent the frame, and whether an
/// extension gave RSV1 a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRules {
    /// Who sent the frame, which decides the masking rule (§5.1); `None` applies none.
    pub sender: Option<Role>,
    /// `permessage-deflate` was negotiated: RSV1 is its "Per-Message Compressed" bit (RFC 7692
    /// §6), allowed on the first frame of a data message only.
    pub rsv1_negotiated: bool,
}

/// Every rule a frame header alone can break, in the order a receiver checks them; empty for a
/// header that may be read on.
///
/// 1. [`ProtocolError::ReservedBitsSet`]: RSV1–3 "MUST be 0 unless an extension is negotiated
///    that defines meanings for non-zero values" (§5.2).
/// 2. [`ProtocolError::ReservedOpcode`]: "If an unknown opcode is received, the receiving
///    endpoint MUST _Fail the WebSocket Connection_" (§5.2).
/// 3. [`ProtocolError::InvalidLength`]: "the most significant bit MUST be 0" of a 64-bit
///    length (§5.2).
/// 4. [`ProtocolError::FragmentedControlFrame`], [`ProtocolError::ControlFrameTooLong`]: "All
///    control frames MUST have a payload length of 125 bytes or less and MUST NOT be
///    fragmented" (§5.5).
/// 5. [`ProtocolError::UnmaskedFrame`], [`ProtocolError::MaskedFrame`]: clients mask, servers
///    do not (§5.1).
/// 6. [`ProtocolError::CompressedBitMisplaced`]: "An endpoint MUST NOT set the "Per-Message
///    Compressed" bit of control frames and non-first fragments of a data message" (RFC 7692
///    §6).
///
/// The protocol core stops at the first ([`check_header`]); the Inspector lists them all.
pub fn header_violations(
    raw: &RawHeader,
    rules: HeaderRules,
) -> impl Iterator<Item = ProtocolError> {
    use ProtocolError::*;
    // §5.5: "Control frames are identified by opcodes where the most significant bit of the
    // opcode is 1", reserved ones (0xB–0xF) included.
    let control = raw.opcode & 0x8 != 0;
    let allowed = if rules.rsv1_negotiated { RSV1 } else { 0 };
    let masking = match (rules.sender, raw.masking_key.is_some()) {
        (Some(Role::Client), false) => Some(UnmaskedFrame),
        (Some(Role::Server), true) => Some(MaskedFrame),
        _ => None,
    };
    let rsv1_misplaced = rules.rsv1_negotiated
        && raw.rsv & RSV1 != 0
        && (control || raw.opcode == Opcode::Continuation.as_u8());
    [
        (raw.rsv & !allowed != 0).then_some(ReservedBitsSet),
        Opcode::try_from(raw.opcode).err(),
        (raw.payload_len >> 63 != 0).then_some(InvalidLength),
        (control && !raw.fin).then_some(FragmentedControlFrame),
        (control && raw.payload_len > MAX_CONTROL_PAYLOAD)
            .then_some(ControlFrameTooLong(raw.payload_len)),
        masking,
        rsv1_misplaced.then_some(CompressedBitMisplaced),
    ]
    .into_iter()
    .flatten()
}

/// Judges a header read by [`parse_header`] by every rule of [`header_violations`] and, if it
/// breaks none, returns it as a [`FrameHeader`].
///
/// # Errors
///
/// The first of [`header_violations`].
pub fn check_header(raw: &RawHeader, rules: HeaderRules) -> Result<FrameHeader, ProtocolError> {
    if let Some(violation) = header_violations(raw, rules).next() {
        return Err(violation);
    }
    Ok(FrameHeader {
        fin: raw.fin,
        rsv1: raw.rsv & RSV1 != 0,
        rsv2: false,
        rsv3: false,
        opcode: Opcode::try_from(raw.opcode)?,
        masking_key: raw.masking_key,
        payload_len: raw.payload_len,
    })
}

/// An encoded frame header: up to [`MAX_HEADER_LEN`] bytes on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderBytes {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl HeaderBytes {
    /// The header's bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl FrameHeader {
    /// A final, unmasked header for a frame of `opcode` with `payload_len` bytes: what a server
    /// sends (§5.1: "A server MUST NOT mask any frames that it sends to the client").
    pub fn new(opcode: Opcode, payload_len: u64) -> Self {
        Self {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            masking_key: None,
            payload_len,
        }
    }

    /// Encodes this header, choosing the shortest length form (§5.2: "the minimal number of
    /// bytes MUST be used to encode the length").
    pub fn encode(&self) -> HeaderBytes {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        bytes[0] = u8::from(self.fin) << 7
            | u8::from(self.rsv1) << 6
            | u8::from(self.rsv2) << 5
            | u8::from(self.rsv3) << 4
            | self.opcode.as_u8();
        let mask_bit = if self.masking_key.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        match self.payload_len {
            short @ 0..=125 => bytes[1] = mask_bit | short as u8,
            medium @ 126..=0xFFFF => {
                bytes[1] = mask_bit | 126;
                bytes[2..4].copy_from_slice(&(medium as u16).to_be_bytes());
                len = 4;
            }
            long => {
                bytes[1] = mask_bit | 127;
                bytes[2..10].copy_from_slice(&long.to_be_bytes());
                len = 10;
            }
        }
        if let Some(key) = self.masking_key {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        HeaderBytes {
            bytes,
            len: len as u8,
        }
    }
}

impl fmt::Display for FrameHeader {
    /// `FIN=1 RSV=000 Text MASK=1 len=5`, the form used in traces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FIN={} RSV={}{}{} {} MASK={} len={}",
            u8::from(self.fin),
            u8::from(self.rsv1),
            u8::from(self.rsv2),
            u8::from(self.rsv3),
            self.opcode,
            u8::from(self.masking_key.is_some()),
            self.payload_len
        )
    }
}

/// Encodes a whole unmasked frame: header then payload, as a server sends it.
pub fn encode_frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader::new(opcode, payload.len() as u64).encode();
    let mut frame = Vec::with_capacity(header.as_slice().len() + payload.len());
    frame.extend_from_slice(header.as_slice());
    frame.extend_from_slice(payload);
    frame
}

/// Encodes a whole final frame with `header`'s fields, masking the payload if it has a key.
pub fn encode_frame_with(header: FrameHeader, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        payload_len: payload.len() as u64,
        ..header
    };
    let bytes = header.encode();
    let mut frame = Vec::with_capacity(bytes.as_slice().len() + payload.len());
    frame.extend_from_slice(bytes.as_slice());
    let start = frame.len();
    frame.extend_from_slice(payload);
    if let (Some(key), Some(masked)) = (header.masking_key, frame.get_mut(start..)) {
        super::mask::apply_mask(masked, key, 0);
    }
    frame
}

/// Encodes a whole masked frame, as a client sends it (§5.3), with the caller's `masking_key`
/// (which "MUST be derived from a strong source of entropy", §10.3).
pub fn encode_masked_frame(
    opcode: Opcode,
    fin: bool,
    payload: &[u8],
    masking_key: [u8; 4],
) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        masking_key: Some(masking_key),
        ..FrameHeader::new(opcode, payload.len() as u64)
    }
    .encode();
    let mut frame = Vec::with_capacity(header.as_slice().len() + payload.len());
    frame.extend_from_slice(header.as_slice());
    let start = frame.len();
    frame.extend_from_slice(payload);
    if let Some(masked) = frame.get_mut(start..) {
        super::mask::apply_mask(masked, masking_key, 0);
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Name, bytes, FIN, opcode, masking key, unmasked payload.
    type Example = (
        &'static str,
        &'static [u8],
        bool,
        Opcode,
        Option<[u8; 4]>,
        &'static [u8],
    );

    /// Every example frame of RFC 6455 §5.7, with its header and unmasked payload.
    const RFC_EXAMPLES: &[Example] = &[
        (
            "single-frame unmasked text",
            &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            true,
            Opcode::Text,
            None,
            b"Hello",
        ),
        (
            "single-frame masked text",
            &[
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            true,
            Opcode::Text,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            b"Hello",
        ),
        (
            "first fragment",
            &[0x01, 0x03, 0x48, 0x65, 0x6c],
            false,
            Opcode::Text,
            None,
            b"Hel",
        ),
        (
            "last fragment",
            &[0x80, 0x02, 0x6c, 0x6f],
            true,
            Opcode::Continuation,
            None,
            b"lo",
        ),
        (
            "unmasked ping",
            &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            true,
            Opcode::Ping,
            None,
            b"Hello",
        ),
        (
            "masked pong",
            &[
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            true,
            Opcode::Pong,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            b"Hello",
        ),
    ];

    fn unmasked_payload(bytes: &[u8], header_len: usize, key: Option<[u8; 4]>) -> Vec<u8> {
        let mut payload = bytes[header_len..].to_vec();
        if let Some(key) = key {
            crate::protocol::mask::apply_mask(&mut payload, key, 0);
        }
        payload
    }

    #[test]
    fn rfc_example_frames_decode_and_encode_back() {
        for &(name, bytes, fin, opcode, key, payload) in RFC_EXAMPLES {
            let (header, len) = decode_header(bytes).expect(name).expect(name);
            assert_eq!(
                (header.fin, header.opcode, header.masking_key),
                (fin, opcode, key),
                "{name}"
            );
            assert_eq!(header.payload_len, payload.len() as u64, "{name}");
            assert_eq!(unmasked_payload(bytes, len, key), payload, "{name}");
            assert_eq!(header.encode().as_slice(), &bytes[..len], "{name}");
        }
    }

    #[test]
    fn rfc_example_frames_need_more_until_the_header_is_whole() {
        for &(name, bytes, ..) in RFC_EXAMPLES {
            let (_, len) = decode_header(bytes).expect(name).expect(name);
            for cut in 0..len {
                assert_eq!(
                    decode_header(&bytes[..cut]),
                    Ok(None),
                    "{name} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn rfc_256_byte_and_64k_binary_headers_match_the_examples() {
        // §5.7: "256 bytes binary message in a single unmasked frame" → 0x82 0x7E 0x0100.
        assert_eq!(
            FrameHeader::new(Opcode::Binary, 256).encode().as_slice(),
            [0x82, 0x7E, 0x01, 0x00]
        );
        // §5.7: "64KiB binary message in a single unmasked frame" → 0x82 0x7F 0x0000000000010000.
        assert_eq!(
            FrameHeader::new(Opcode::Binary, 65536).encode().as_slice(),
            [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn lengths_at_each_boundary_use_the_shortest_form() {
        for (len, header_len) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (u64::MAX >> 1, 10),
        ] {
            let header = FrameHeader::new(Opcode::Binary, len);
            let bytes = header.encode();
            assert_eq!(bytes.as_slice().len(), header_len, "len {len}");
            assert_eq!(
                decode_header(bytes.as_slice()),
                Ok(Some((header, header_len))),
                "len {len}"
            );
        }
    }

    #[test]
    fn reserved_bits_opcodes_and_lengths_are_rejected() {
        let cases: &[(&str, &[u8], ProtocolError)] = &[
            ("rsv1", &[0xC1, 0x00], ProtocolError::ReservedBitsSet),
            ("rsv3", &[0x91, 0x00], ProtocolError::ReservedBitsSet),
            ("opcode 3", &[0x83, 0x00], ProtocolError::ReservedOpcode(3)),
            (
                "opcode 0xB",
                &[0x8B, 0x00],
                ProtocolError::ReservedOpcode(0xB),
            ),
            (
                "top length bit",
                &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                ProtocolError::InvalidLength,
            ),
            (
                "fragmented ping",
                &[0x09, 0x00],
                ProtocolError::FragmentedControlFrame,
            ),
            (
                "126-byte ping",
                &[0x89, 0x7E, 0x00, 0x7E],
                ProtocolError::ControlFrameTooLong(126),
            ),
        ];
        for (name, bytes, expected) in cases {
            assert_eq!(decode_header(bytes), Err(expected.clone()), "{name}");
        }
    }

    #[test]
    fn masked_frame_round_trips_through_encode_masked_frame() {
        let frame = encode_masked_frame(Opcode::Text, true, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(frame, RFC_EXAMPLES[1].1);
    }

    #[test]
    fn header_displays_its_fields_for_traces() {
        let (header, _) = decode_header(RFC_EXAMPLES[1].1)
            .expect("valid")
            .expect("whole");
        assert_eq!(header.to_string(), "FIN=1 RSV=000 Text MASK=1 len=5");
    }

    /// Every header rule, once: the bytes, who sent them, whether RSV1 means "compressed", and
    /// the rules they break, in order.
    #[test]
    fn header_violations_lists_every_rule_a_header_breaks() {
        use ProtocolError::*;
        let client = Some(Role::Client);
        let server = Some(Role::Server);
        type Case = (&'static [u8], Option<Role>, bool, &'static [ProtocolError]);
        let cases: &[Case] = &[
            (&[0x81, 0x80, 0, 0, 0, 0], client, false, &[]),
            (&[0x81, 0x00], client, false, &[UnmaskedFrame]),
            (&[0x81, 0x80, 0, 0, 0, 0], server, false, &[MaskedFrame]),
            (&[0x81, 0x00], None, false, &[]),
            (&[0xC1, 0x00], None, false, &[ReservedBitsSet]),
            (&[0xC1, 0x00], None, true, &[]),
            (&[0xB1, 0x00], None, true, &[ReservedBitsSet]),
            (&[0xC0, 0x00], None, true, &[CompressedBitMisplaced]),
            (&[0xC9, 0x00], None, true, &[CompressedBitMisplaced]),
            (
                &[0x93, 0x00],
                None,
                false,
                &[ReservedBitsSet, ReservedOpcode(0x3)],
            ),
            (
                &[0x0B, 0x7E, 0x00, 0x7E],
                client,
                false,
                &[
                    ReservedOpcode(0xB),
                    FragmentedControlFrame,
                    ControlFrameTooLong(126),
                    UnmaskedFrame,
                ],
            ),
            (&[0x89, 0x7D], None, false, &[]),
            (
                &[0x89, 0x7E, 0x00, 0x7E],
                None,
                false,
                &[ControlFrameTooLong(126)],
            ),
            (
                &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                None,
                false,
                &[InvalidLength],
            ),
        ];
        for (bytes, sender, rsv1_negotiated, expected) in cases {
            let raw = parse_header(bytes).expect("a whole header");
            let rules = HeaderRules {
                sender: *sender,
                rsv1_negotiated: *rsv1_negotiated,
            };
            let found: Vec<ProtocolError> = header_violations(&raw, rules).collect();
            assert_eq!(&found, expected, "{bytes:02x?}");
            match expected.first() {
                Some(first) => assert_eq!(check_header(&raw, rules).as_ref(), Err(first)),
                None => assert!(check_header(&raw, rules).is_ok(), "{bytes:02x?}"),
            }
        }
    }
}
