//! The lab's frame builder (RFC 6455 §5.2): every header field chosen by hand, including the
//! ones a browser's WebSocket API never lets you choose: RSV bits, reserved opcodes, no mask, a
//! non-minimal length form, a length that lies about the payload.
//!
//! The page's builder (`www/js/lab.js`) encodes exactly like [`BuiltFrame::encode`]; the presets
//! ([`super::presets`]) are written with it, and the browser test checks that the page builds
//! each preset's bytes.

use crate::protocol::frame::MAX_CONTROL_PAYLOAD;
use crate::protocol::mask::apply_mask;

/// How the payload length is written (§5.2): "in bytes: if 0-125, that is the payload length.
/// If 126, the following 2 bytes ... are the payload length. If 127, the following 8 bytes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    /// The shortest form, as §5.2 requires ("the minimal number of bytes MUST be used").
    Shortest,
    /// The 7-bit field alone (lengths up to 125; longer ones fall back to the shortest form).
    Bits7,
    /// 126, then a 16-bit length (lengths up to 65,535; longer ones use 64 bits).
    Bits16,
    /// 127, then a 64-bit length.
    Bits64,
}

impl LengthForm {
    /// The name the page and the presets' JSON use: `auto`, `7`, `16`, `64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shortest => "auto",
            Self::Bits7 => "7",
            Self::Bits16 => "16",
            Self::Bits64 => "64",
        }
    }
}

/// One frame as the builder describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltFrame {
    /// FIN.
    pub fin: bool,
    /// RSV1, RSV2, RSV3.
    pub rsv: [bool; 3],
    /// Any of the 16 opcodes, reserved ones included (only the low 4 bits are used).
    pub opcode: u8,
    /// The masking key; `None` sends the frame unmasked (MASK=0).
    pub masking_key: Option<[u8; 4]>,
    /// How the length is written.
    pub length_form: LengthForm,
    /// A length to announce instead of the payload's real one: a lie the receiver believes.
    pub declared_len: Option<u64>,
    /// The payload, before masking.
    pub payload: Vec<u8>,
    /// Whether the page shows the payload as text (it is UTF-8) or as hex.
    pub payload_as_text: bool,
}

/// The key §5.7's masked examples use.
pub const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

impl BuiltFrame {
    /// A final frame of `opcode` carrying `payload`, masked with §5.7's key, as a client must
    /// send it (§5.1).
    pub fn masked(opcode: u8, payload: &[u8]) -> Self {
        Self {
            fin: true,
            rsv: [false; 3],
            opcode,
            masking_key: Some(RFC_KEY),
            length_form: LengthForm::Shortest,
            declared_len: None,
            payload: payload.to_vec(),
            payload_as_text: std::str::from_utf8(payload)
                .is_ok_and(|t| !t.is_empty() && t.chars().all(|c| !c.is_control())),
        }
    }

    /// The same frame with FIN cleared: a fragment that more will follow (§5.4).
    pub fn not_final(mut self) -> Self {
        self.fin = false;
        self
    }

    /// The same frame without a mask.
    pub fn unmasked(mut self) -> Self {
        self.masking_key = None;
        self
    }

    /// The frame's bytes: header, then the payload, masked if a key is set (§5.3).
    pub fn encode(&self) -> Vec<u8> {
        let len = self.declared_len.unwrap_or(self.payload.len() as u64);
        let mut bytes = vec![
            u8::from(self.fin) << 7
                | u8::from(self.rsv[0]) << 6
                | u8::from(self.rsv[1]) << 5
                | u8::from(self.rsv[2]) << 4
                | (self.opcode & 0x0F),
        ];
        let mask_bit = if self.masking_key.is_some() { 0x80 } else { 0 };
        let form = match self.length_form {
            LengthForm::Bits7 if len <= MAX_CONTROL_PAYLOAD => LengthForm::Bits7,
            LengthForm::Bits16 if len <= 0xFFFF => LengthForm::Bits16,
            LengthForm::Bits64 => LengthForm::Bits64,
            _ if len <= MAX_CONTROL_PAYLOAD => LengthForm::Bits7,
            _ if len <= 0xFFFF => LengthForm::Bits16,
            _ => LengthForm::Bits64,
        };
        match form {
            LengthForm::Bits16 => {
                bytes.push(mask_bit | 126);
                bytes.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
            }
            LengthForm::Bits64 => {
                bytes.push(mask_bit | 127);
                bytes.extend_from_slice(&len.to_be_bytes());
            }
            _ => bytes.push(mask_bit | u8::try_from(len).unwrap_or(0)),
        }
        let mut payload = self.payload.clone();
        if let Some(key) = self.masking_key {
            bytes.extend_from_slice(&key);
            apply_mask(&mut payload, key, 0);
        }
        bytes.extend_from_slice(&payload);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_masked_hello_is_built_byte_for_byte() {
        assert_eq!(
            BuiltFrame::masked(0x1, b"Hello").encode(),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        assert_eq!(
            BuiltFrame::masked(0x1, b"Hello").unmasked().encode(),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
    }

    #[test]
    fn length_forms_are_written_as_chosen() {
        let mut frame = BuiltFrame::masked(0x2, &[0; 5]).unmasked();
        frame.length_form = LengthForm::Bits16;
        assert_eq!(frame.encode()[..4], [0x82, 126, 0, 5]);
        frame.length_form = LengthForm::Bits64;
        assert_eq!(frame.encode()[..10], [0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5]);
        // The 7-bit form cannot say 256: the shortest form that can is used.
        let mut frame = BuiltFrame::masked(0x2, &[0; 256]).unmasked();
        frame.length_form = LengthForm::Bits7;
        assert_eq!(frame.encode()[..4], [0x82, 126, 1, 0]);
    }

    #[test]
    fn a_declared_length_may_lie_about_the_payload() {
        let mut frame = BuiltFrame::masked(0x1, b"hi").unmasked();
        frame.declared_len = Some(10);
        assert_eq!(frame.encode(), [0x81, 10, b'h', b'i']);
    }

    #[test]
    fn rsv_bits_and_reserved_opcodes_are_written_as_given() {
        let mut frame = BuiltFrame::masked(0xB, b"").unmasked();
        frame.rsv = [true, false, true];
        frame.fin = false;
        assert_eq!(frame.encode(), [0x5B, 0x00]);
    }
}
