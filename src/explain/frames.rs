//! Frame anatomy (RFC 6455 §5.2): every field of a frame's bytes, explained, for the Inspector,
//! `wsmith decode` and `wsmith connect --trace`.
//!
//! Unlike [`check_header`](crate::protocol::frame::check_header), nothing here refuses a frame:
//! a learner wants to see what a broken frame said, so every rule the header breaks (the core's
//! own [`header_violations`](crate::protocol::frame::header_violations), each quoted with its section) becomes one of
//! [`FrameAnatomy::problems`] instead of an error. [`FrameSplitter`](super::splitter::FrameSplitter) cuts a byte stream (one
//! direction of a connection) into frames, however it arrives. The Inspector, the frame lab
//! ([`super::lab`]), `wsmith decode` and `wsmith connect --trace` all explain frames with this
//! one piece of code: the same fields, the same problems, the same JSON ([`FrameAnatomy::to_json`]).

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::protocol::CloseCode;

/// How many payload bytes an anatomy keeps for display.
pub const SHOWN_PAYLOAD: usize = 1024;

/// One frame, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameAnatomy {
    /// Bytes of this direction of the connection before the frame.
    pub offset: u64,
    /// The header bytes as sent.
    pub header: Vec<u8>,
    /// FIN: the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3.
    pub rsv: [bool; 3],
    /// The 4-bit opcode.
    pub opcode: u8,
    /// MASK.
    pub masked: bool,
    /// The 7-bit length field: the length itself, or 126/127 for an extended length.
    pub len7: u8,
    /// The 16- or 64-bit extended length, with its width in bits, when present.
    pub extended_len: Option<(u8, u64)>,
    /// The payload length.
    pub payload_len: u64,
    /// The masking key.
    pub masking_key: Option<[u8; 4]>,
    /// The first [`SHOWN_PAYLOAD`] payload bytes as they were on the wire (masked, if masked).
    pub wire_payload: Vec<u8>,
    /// The same bytes unmasked.
    pub payload: Vec<u8>,
    /// Which message this frame belongs to (counted from 1), and which fragment of it.
    pub message: u64,
    /// The fragment number within the message (1 for the first); 0 for a control frame.
    pub fragment: u32,
    /// Whether a data message was in progress around this control frame (§5.4 interleaving).
    pub between_fragments: bool,
    /// The rules this frame breaks, with their sections.
    pub problems: Vec<String>,
    /// RSV1 on the first frame of a message on a connection with `permessage-deflate`: the
    /// message is compressed (RFC 7692 §6).
    pub compressed: bool,
    /// On the final frame of a compressed message: the first [`SHOWN_PAYLOAD`] bytes of the
    /// whole message inflated, and its inflated length; or why it could not be inflated.
    pub inflated: Option<Result<(Vec<u8>, u64), String>>,
}

/// The opcode's name (§5.2, §11.8).
pub fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        0x0 => "Continuation",
        0x1 => "Text",
        0x2 => "Binary",
        0x8 => "Close",
        0x9 => "Ping",
        0xA => "Pong",
        0x3..=0x7 => "reserved (data)",
        _ => "reserved (control)",
    }
}

impl FrameAnatomy {
    /// The opcode's name.
    pub fn opcode_name(&self) -> &'static str {
        opcode_name(self.opcode)
    }

    /// Whether this is a control frame (opcode 0x8 and up, §5.5).
    pub fn is_control(&self) -> bool {
        self.opcode >= 0x8
    }

    /// Whether the payload was cut to [`SHOWN_PAYLOAD`] bytes for display.
    pub fn is_truncated(&self) -> bool {
        (self.payload.len() as u64) < self.payload_len
    }

    /// The payload as text, if it is UTF-8 (a Text frame may end inside a character).
    pub fn payload_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }

    /// For a Close frame: its status code and reason (§5.5.1).
    pub fn close_code(&self) -> Option<u16> {
        let (code, _) = self.payload.split_first_chunk::<2>()?;
        (self.opcode == 0x8).then(|| u16::from_be_bytes(*code))
    }

    /// Every field as JSON, as the Inspector's `frame` events and the lab's reports carry it
    /// (keys in alphabetical order, serde_json's map order).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("bug: a frame's fields are strings, numbers and lists")
    }
}

/// A frame's fields as the browser reads them (`www/js/frames.js`): bytes as hex strings,
/// the payload also as text when it is UTF-8, the inflated message beside it.
#[derive(Serialize)]
struct FrameFields<'a> {
    offset: u64,
    header_hex: String,
    fin: bool,
    rsv: [bool; 3],
    opcode: u8,
    opcode_name: &'static str,
    mask: bool,
    len7: u8,
    extended_len: Option<ExtendedLen>,
    payload_len: u64,
    masking_key_hex: Option<String>,
    wire_payload_hex: String,
    payload_hex: String,
    payload_text: Option<&'a str>,
    truncated: bool,
    message: u64,
    fragment: u32,
    control: bool,
    between_fragments: bool,
    problems: &'a [String],
    compressed: bool,
    inflated_len: Option<u64>,
    inflated_hex: Option<String>,
    inflated_text: Option<&'a str>,
    inflate_error: Option<&'a str>,
}

/// The 16- or 64-bit extended payload length (§5.2).
#[derive(Serialize)]
struct ExtendedLen {
    bits: u8,
    value: u64,
}

impl Serialize for FrameAnatomy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let inflated = self.inflated.as_ref().and_then(|i| i.as_ref().ok());
        FrameFields {
            offset: self.offset,
            header_hex: hex(&self.header),
            fin: self.fin,
            rsv: self.rsv,
            opcode: self.opcode,
            opcode_name: self.opcode_name(),
            mask: self.masked,
            len7: self.len7,
            extended_len: self
                .extended_len
                .map(|(bits, value)| ExtendedLen { bits, value }),
            payload_len: self.payload_len,
            masking_key_hex: self.masking_key.map(|key| hex(&key)),
            wire_payload_hex: hex(&self.wire_payload),
            payload_hex: hex(&self.payload),
            payload_text: self.payload_text(),
            truncated: self.is_truncated(),
            message: self.message,
            fragment: self.fragment,
            control: self.is_control(),
            between_fragments: self.between_fragments,
            problems: &self.problems,
            compressed: self.compressed,
            inflated_len: inflated.map(|(_, len)| *len),
            inflated_hex: inflated.map(|(bytes, _)| hex(bytes)),
            inflated_text: inflated.and_then(|(bytes, _)| std::str::from_utf8(bytes).ok()),
            inflate_error: self
                .inflated
                .as_ref()
                .and_then(|i| i.as_ref().err())
                .map(String::as_str),
        }
        .serialize(serializer)
    }
}

/// Reads bytes written as hex: pairs of digits, separated or not by spaces, colons, commas or
/// dashes, each group with an optional `0x` (`81 85`, `8185`, `0x81:0x85`).
///
/// # Errors
///
/// A one-line reason naming the first group that is not hex or has an odd number of digits.
pub fn parse_hex<S: AsRef<str>>(groups: &[S]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let groups = groups
        .iter()
        .flat_map(|arg| {
            arg.as_ref()
                .split(|c: char| c.is_whitespace() || ":,-".contains(c))
        })
        .filter(|group| !group.is_empty());
    for group in groups {
        let digits = group
            .strip_prefix("0x")
            .or_else(|| group.strip_prefix("0X"))
            .unwrap_or(group);
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("{group:?} is not hex (the {bad:?})"));
        }
        if digits.len() % 2 != 0 {
            return Err(format!(
                "{group:?} has an odd number of hex digits; write each byte as two"
            ));
        }
        // Every character is an ASCII hex digit (checked above), so each pair is one byte.
        let nibble = |c: u8| char::from(c).to_digit(16).map_or(0, |d| d as u8);
        bytes.extend(digits.as_bytes().chunks_exact(2).map(|pair| match pair {
            [high, low] => nibble(*high) << 4 | nibble(*low),
            _ => 0,
        }));
    }
    Ok(bytes)
}

/// Bytes as lowercase hex pairs separated by spaces (`81 85 37 fa`), as traces show them.
pub fn hex(bytes: &[u8]) -> String {
    let digit = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
    let mut text = String::with_capacity(bytes.len() * 3);
    for (i, &byte) in bytes.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push(digit(byte >> 4));
        text.push(digit(byte & 0x0F));
    }
    text
}

impl fmt::Display for FrameAnatomy {
    /// A byte-by-byte explanation, as `wsmith decode` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b0 = self.header.first().copied().unwrap_or(0);
        let b1 = self.header.get(1).copied().unwrap_or(0);
        writeln!(
            f,
            "frame at byte {}: {} byte header, {} byte payload",
            self.offset,
            self.header.len(),
            self.payload_len
        )?;
        let compressed = if self.compressed {
            "  compressed (permessage-deflate, RFC 7692 §6)"
        } else {
            ""
        };
        writeln!(
            f,
            "  byte 0   {b0:02x} = {:04b} {:04b}  FIN={} RSV1={} RSV2={} RSV3={}  opcode={:#x} {}{compressed}",
            b0 >> 4,
            b0 & 0xF,
            u8::from(self.fin),
            u8::from(self.rsv[0]),
            u8::from(self.rsv[1]),
            u8::from(self.rsv[2]),
            self.opcode,
            self.opcode_name()
        )?;
        let len_note = match self.len7 {
            126 => "126: a 16-bit length follows".to_owned(),
            127 => "127: a 64-bit length follows".to_owned(),
            n => format!("{n}"),
        };
        writeln!(
            f,
            "  byte 1   {b1:02x} = {:04b} {:04b}  MASK={}  payload len={len_note}",
            b1 >> 4,
            b1 & 0xF,
            u8::from(self.masked)
        )?;
        let mut at = 2;
        if let Some((bits, len)) = self.extended_len {
            let width = usize::from(bits / 8);
            writeln!(
                f,
                "  bytes {}-{}  extended payload length ({bits}-bit) = {len}",
                at,
                at + width - 1
            )?;
            at += width;
        }
        if let Some(key) = self.masking_key {
            writeln!(f, "  bytes {}-{}  masking key {}", at, at + 3, hex(&key))?;
        }
        let more = if self.is_truncated() { " …" } else { "" };
        if self.masked {
            writeln!(f, "  payload, masked    {}{more}", hex(&self.wire_payload))?;
            writeln!(f, "  payload, unmasked  {}{more}", hex(&self.payload))?;
        } else if !self.payload.is_empty() {
            writeln!(f, "  payload            {}{more}", hex(&self.payload))?;
        }
        match &self.inflated {
            Some(Ok((inflated, len))) => {
                let more = if (inflated.len() as u64) < *len {
                    " …"
                } else {
                    ""
                };
                writeln!(
                    f,
                    "  message inflated   {len} bytes (RFC 7692 §6.2: + 00 00 ff ff, then DEFLATE)"
                )?;
                writeln!(f, "  inflated           {}{more}", hex(inflated))?;
                if let Ok(text) = std::str::from_utf8(inflated) {
                    writeln!(f, "  inflated as text   {text:?}{more}")?;
                }
            }
            Some(Err(why)) => writeln!(f, "  not inflated: {why}")?,
            None => {}
        }
        let compressed_payload = self.compressed || self.inflated.is_some();
        match (self.opcode, self.close_code()) {
            _ if compressed_payload => {}
            (0x8, Some(code)) => {
                let reason = String::from_utf8_lossy(self.payload.get(2..).unwrap_or_default());
                writeln!(
                    f,
                    "  close code {code} ({}), reason {reason:?}",
                    CloseCode(code).name()
                )?;
            }
            (0x1 | 0x0, _) | (0x9 | 0xA, _) => {
                if let Some(text) = self.payload_text().filter(|t| !t.is_empty()) {
                    writeln!(f, "  as text            {text:?}{more}")?;
                }
            }
            _ => {}
        }
        if self.is_control() {
            let place = if self.between_fragments {
                ", between fragments of a message"
            } else {
                ""
            };
            writeln!(f, "  control frame{place}")?;
        } else {
            let last = if self.fin { " (final)" } else { "" };
            writeln!(
                f,
                "  message {}, fragment {}{last}",
                self.message, self.fragment
            )?;
        }
        for problem in &self.problems {
            writeln!(f, "  ! {problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::splitter::{explain, FrameSplitter};
    use crate::protocol::frame::Role;

    #[test]
    fn rfc_masked_hello_is_explained_field_by_field() {
        let (frames, rest) = explain(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(rest, 0);
        let frame = &frames[0];
        assert_eq!(
            (frame.fin, frame.opcode, frame.masked, frame.len7),
            (true, 1, true, 5)
        );
        assert_eq!(frame.masking_key, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(frame.payload_text(), Some("Hello"));
        let text = frame.to_string();
        assert!(
            text.contains("byte 0   81 = 1000 0001  FIN=1 RSV1=0 RSV2=0 RSV3=0  opcode=0x1 Text"),
            "{text}"
        );
        assert!(text.contains("masking key 37 fa 21 3d"), "{text}");
        assert!(text.contains("payload, unmasked  48 65 6c 6c 6f"), "{text}");
    }

    #[test]
    fn fragments_and_interleaved_control_frames_are_numbered() {
        let mut stream = vec![0x01, 0x03, b'H', b'e', b'l'];
        stream.extend([0x89, 0x00]);
        stream.extend([0x80, 0x02, b'l', b'o']);
        let (frames, _) = explain(&stream);
        let places: Vec<(u64, u32, bool)> = frames
            .iter()
            .map(|f| (f.message, f.fragment, f.between_fragments))
            .collect();
        assert_eq!(places, [(1, 1, false), (1, 0, true), (1, 2, false)]);
        assert_eq!(frames[2].offset, 7);
    }

    #[test]
    fn extended_lengths_are_shown_with_their_width() {
        let mut frame = vec![0x82, 0x7E, 0x01, 0x00];
        frame.extend([0u8; 256]);
        assert_eq!(explain(&frame).0[0].extended_len, Some((16, 256)));
        let mut frame = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
        frame.extend(vec![0u8; 65536]);
        let (frames, _) = explain(&frame);
        assert_eq!(frames[0].extended_len, Some((64, 65536)));
        assert_eq!(frames[0].payload.len(), SHOWN_PAYLOAD);
        assert!(frames[0].is_truncated());
    }

    #[test]
    fn an_empty_frame_at_the_end_of_the_input_is_complete() {
        let (frames, rest) = explain(&[0x88, 0x00]);
        assert_eq!((frames.len(), rest), (1, 0));
    }

    #[test]
    fn masking_is_checked_against_the_sender() {
        let unmasked = [0x81, 0x00];
        let from_client = FrameSplitter::for_sender(Role::Client, 40).feed(&unmasked);
        assert!(
            from_client[0].problems[0].starts_with("§5.1 a client MUST mask"),
            "{:?}",
            from_client[0].problems
        );
        assert_eq!(from_client[0].offset, 40);
        let from_server = FrameSplitter::for_sender(Role::Server, 0).feed(&unmasked);
        assert!(from_server[0].problems.is_empty());
    }

    #[test]
    fn a_frame_still_arriving_is_explained_as_pending() {
        let mut splitter = FrameSplitter::for_sender(Role::Client, 0);
        let frames = splitter.feed(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f]);
        assert!(frames.is_empty());
        let pending = splitter.pending().expect("a header has arrived");
        assert_eq!(pending.payload, b"He");
        assert!(pending.is_truncated());
        assert!(FrameSplitter::new().pending().is_none());
    }

    #[test]
    fn hex_is_written_and_read_back() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = hex(&bytes);
        assert!(text.starts_with("00 01 02") && text.ends_with("fe ff"));
        assert_eq!(parse_hex(&[text]), Ok(bytes));
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn json_carries_every_field() {
        let (frames, _) = explain(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        let json = frames[0].to_json();
        assert_eq!(json["opcode_name"], "Close");
        assert_eq!(json["masking_key_hex"], "00 00 00 00");
        assert_eq!(json["payload_hex"], "03 e8");
    }

    #[test]
    fn broken_frames_are_explained_with_their_problems() {
        let (frames, _) = explain(&[0x93, 0x00]);
        assert_eq!(frames[0].problems.len(), 2, "{:?}", frames[0].problems);
    }

    #[test]
    fn any_split_gives_the_same_frames() {
        let stream = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x88, 0x02, 0x03,
            0xe8,
        ];
        let (whole, _) = explain(&stream);
        for cut in 0..=stream.len() {
            let mut splitter = FrameSplitter::new();
            let mut frames = splitter.feed(&stream[..cut]);
            frames.extend(splitter.feed(&stream[cut..]));
            assert_eq!(frames, whole, "cut {cut}");
        }
        assert_eq!(whole[1].close_code(), Some(1000));
    }
}
