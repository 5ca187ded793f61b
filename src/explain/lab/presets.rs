//! The classic mistakes, and RFC 6455 §5.7's examples, as lab experiments: each with the answer
//! the RFC gives (a close code and the section of the rule, or the events of a valid exchange).
//!
//! Defined once, here: the page loads them with `{"type":"presets"}` into its builder, and the
//! unit tests below run every one through [`run`](super::run), the lab's own code path.

use super::builder::{BuiltFrame, LengthForm};
use super::{Experiment, Step, Verdict};
use crate::protocol::connection::Limits;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// What the RFC says a server does with a preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// _Fail the WebSocket Connection_ with this close code, by the rule of this section.
    Fail {
        /// The close code (§7.4.1).
        code: u16,
        /// The section whose rule is broken.
        section: &'static str,
    },
    /// Accept it: these steps happen, in order (reads and frames left out).
    Accept(&'static [&'static str]),
}

/// One preset experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    /// A stable name (`unmasked`, `ping-126`, …).
    pub id: &'static str,
    /// The button's label.
    pub title: &'static str,
    /// What it teaches, with the rule it tests.
    pub lesson: &'static str,
    /// The frames, as the builder describes them.
    pub frames: Vec<BuiltFrame>,
    /// Read sizes (the rest is one last read).
    pub reads: Vec<usize>,
    /// A lowered frame limit, if the preset needs one (§10.4).
    pub max_frame_size: Option<u64>,
    /// Run as if `permessage-deflate` had been agreed (RFC 7692).
    pub deflate: bool,
    /// The RFC's answer.
    pub answer: Answer,
}

impl Preset {
    /// The bytes the frames make.
    pub fn bytes(&self) -> Vec<u8> {
        self.frames.iter().flat_map(BuiltFrame::encode).collect()
    }

    /// The experiment, with the server's `limits` lowered as the preset asks.
    pub fn experiment(&self, limits: Limits) -> Experiment {
        let mut limits = limits;
        if let Some(max) = self.max_frame_size {
            limits.max_frame_size = limits.max_frame_size.min(max);
        }
        Experiment {
            bytes: self.bytes(),
            reads: self.reads.clone(),
            limits,
            deflate: self.deflate,
        }
    }

    /// Whether `verdict` and the report's events are the RFC's answer.
    pub fn is_answered_by(&self, report: &super::Report) -> bool {
        match (&self.answer, &report.verdict) {
            (Answer::Fail { code, section }, Verdict::Failed { error, .. }) => {
                error.close_code().0 == *code && error.section() == *section
            }
            (Answer::Accept(_), Verdict::Failed { .. }) | (Answer::Fail { .. }, _) => false,
            (Answer::Accept(expected), _) => {
                let events: Vec<&str> = report
                    .steps
                    .iter()
                    .filter(|step| !matches!(step, Step::Read { .. } | Step::Frame(_)))
                    .map(Step::kind)
                    .collect();
                events == *expected
            }
        }
    }
}

/// The preset called `id`.
pub fn find(id: &str) -> Option<Preset> {
    presets().into_iter().find(|preset| preset.id == id)
}

fn frame(opcode: u8, payload: &[u8]) -> BuiltFrame {
    BuiltFrame::masked(opcode, payload)
}

fn fail(code: u16, section: &'static str) -> Answer {
    Answer::Fail { code, section }
}

/// Every preset, in the order the page shows them.
pub fn presets() -> Vec<Preset> {
    let preset = |id, title, lesson, frames: Vec<BuiltFrame>, answer| Preset {
        id,
        title,
        lesson,
        frames,
        reads: Vec::new(),
        max_frame_size: None,
        deflate: false,
        answer,
    };
    let rsv1 = BuiltFrame {
        rsv: [true, false, false],
        ..frame(TEXT, b"Hello")
    };
    let long_length = BuiltFrame {
        length_form: LengthForm::Bits64,
        declared_len: Some(1 << 63),
        ..frame(BINARY, b"")
    };
    let sixteen_bit = BuiltFrame {
        length_form: LengthForm::Bits16,
        ..frame(BINARY, &[0; 256])
    };
    let mut list = vec![
        preset(
            "unmasked",
            "Unmasked client frame",
            "§5.1: a client MUST mask all frames it sends; the server MUST close the connection \
             upon receiving a frame that is not masked. These are §5.7's first example bytes.",
            vec![frame(TEXT, b"Hello").unmasked()],
            fail(1002, "§5.1"),
        ),
        preset(
            "rsv1",
            "RSV1 without an extension",
            "§5.2: RSV1-3 MUST be 0 unless an extension defines them; none was negotiated.",
            vec![rsv1],
            fail(1002, "§5.2"),
        ),
        preset(
            "reserved-opcode",
            "Reserved opcode 0x3",
            "§5.2: opcodes 0x3-0x7 are reserved for further data frames; an unknown opcode \
             MUST fail the connection.",
            vec![frame(0x3, b"")],
            fail(1002, "§5.2"),
        ),
        preset(
            "fragmented-ping",
            "Fragmented Ping",
            "§5.5: control frames MUST NOT be fragmented (FIN must be 1).",
            vec![frame(PING, b"hi").not_final()],
            fail(1002, "§5.5"),
        ),
        preset(
            "ping-126",
            "Ping of 126 bytes",
            "§5.5: control frames MUST have a payload of 125 bytes or less; this one needs the \
             16-bit length form to say 126.",
            vec![frame(PING, &[b'p'; 126])],
            fail(1002, "§5.5"),
        ),
        preset(
            "lone-continuation",
            "Continuation without a start",
            "§5.4: a continuation frame continues a fragmented message; here there is none.",
            vec![frame(CONTINUATION, b"lo")],
            fail(1002, "§5.4"),
        ),
        preset(
            "new-message-inside",
            "New message inside a fragmented one",
            "§5.4: the fragments of one message MUST NOT be interleaved with another message; \
             only control frames may come between them.",
            vec![frame(TEXT, b"Hel").not_final(), frame(TEXT, b"lo")],
            fail(1002, "§5.4"),
        ),
        preset(
            "utf8-split-invalid",
            "Invalid UTF-8 split across fragments",
            "§8.1: the first fragment ends with 0xCE, the start of a 2-byte character; the next \
             begins with 'A', not a continuation byte. The whole message is not UTF-8: 1007, \
             decided at the first bad byte.",
            vec![frame(TEXT, b"caf\xce").not_final(), frame(CONTINUATION, b"A")],
            fail(1007, "§8.1"),
        ),
        preset(
            "utf8-split-valid",
            "Valid UTF-8 split across fragments",
            "§5.4, §8.1: a character may be split between fragments (κ = CE BA); only the whole \
             message must be UTF-8.",
            vec![
                frame(TEXT, b"\xce").not_final(),
                frame(CONTINUATION, b"\xba"),
            ],
            Answer::Accept(&["message"]),
        ),
        preset(
            "close-1005",
            "Close code 1005",
            "§7.4.1: 1005 means \"no status code was present\" and MUST NOT be sent in a Close frame.",
            vec![frame(CLOSE, &1005u16.to_be_bytes())],
            fail(1002, "§7.4"),
        ),
        preset(
            "close-999",
            "Close code 999",
            "§7.4.2: codes 0-999 are not used.",
            vec![frame(CLOSE, &999u16.to_be_bytes())],
            fail(1002, "§7.4"),
        ),
        preset(
            "close-5000",
            "Close code 5000",
            "§7.4.2: codes end at 4999 (3000-4999 for libraries and applications).",
            vec![frame(CLOSE, &5000u16.to_be_bytes())],
            fail(1002, "§7.4"),
        ),
        preset(
            "close-1-byte",
            "Close with a 1-byte payload",
            "§5.5.1: a Close body starts with a 2-byte status code; one byte is not a code.",
            vec![frame(CLOSE, &[0x03])],
            fail(1002, "§5.5.1"),
        ),
        preset(
            "length-top-bit",
            "64-bit length with the top bit set",
            "§5.2: the most significant bit of a 64-bit payload length MUST be 0.",
            vec![long_length],
            fail(1002, "§5.2"),
        ),
        Preset {
            max_frame_size: Some(16),
            ..preset(
                "too-big",
                "Frame over a lowered limit (16 bytes)",
                "§10.4: a server limits frame and message sizes; 1009 \"message too big\" is \
                 decided from the header alone, before the payload arrives.",
                vec![frame(BINARY, &[0xAB; 17])],
                fail(1009, "§10.4"),
            )
        },
        preset(
            "close-normal",
            "Normal close 1000 \"bye\"",
            "§5.5.1: the server answers a Close with a Close echoing the code; then it closes TCP \
             first (§7.1.1).",
            vec![frame(CLOSE, b"\x03\xe8bye")],
            Answer::Accept(&["close", "reply"]),
        ),
        preset(
            "rfc-masked-hello",
            "§5.7 masked \"Hello\"",
            "§5.7: a single-frame masked text message, key 37 fa 21 3d.",
            vec![frame(TEXT, b"Hello")],
            Answer::Accept(&["message"]),
        ),
        Preset {
            reads: vec![9, 6],
            ..preset(
                "rfc-fragmented-ping",
                "§5.7 fragmented \"Hello\", a Ping between",
                "§5.7's fragmented message, masked as a client must send it, with a Ping between \
                 the fragments (§5.4: control frames MAY be injected in the middle of a \
                 fragmented message). One read per frame: the Pong leaves before the message is whole.",
                vec![
                    frame(TEXT, b"Hel").not_final(),
                    frame(PING, b""),
                    frame(CONTINUATION, b"lo"),
                ],
                Answer::Accept(&["ping", "reply", "message"]),
            )
        },
        Preset {
            reads: vec![11],
            ..preset(
                "rfc-ping-pong",
                "§5.7 Ping \"Hello\", then a masked Pong",
                "§5.5.2: a Ping is answered with a Pong carrying the same payload; §5.5.3: a Pong \
                 needs no answer. The second frame is §5.7's masked Pong byte for byte.",
                vec![frame(PING, b"Hello"), frame(PONG, b"Hello")],
                Answer::Accept(&["ping", "reply", "pong"]),
            )
        },
        preset(
            "rfc-256-binary",
            "§5.7 256-byte Binary (16-bit length)",
            "§5.7: 256 bytes need the 16-bit length form: 7E 01 00.",
            vec![sixteen_bit],
            Answer::Accept(&["message"]),
        ),
        Preset {
            reads: vec![1, 3],
            ..preset(
                "split-header",
                "Masked \"Hello\" in 3 reads",
                "TCP is a byte stream: a frame may arrive in any pieces, even a header split \
                 after one byte. The core waits for the rest and reads the same frame.",
                vec![frame(TEXT, b"Hello")],
                Answer::Accept(&["message"]),
            )
        },
    ];
    let compressed = |opcode, payload: &[u8]| BuiltFrame {
        rsv: [true, false, false],
        ..frame(opcode, payload)
    };
    list.push(Preset {
        deflate: true,
        ..preset(
            "compressed-message",
            "Compressed \"Hello\" (permessage-deflate)",
            "RFC 7692 §6: once permessage-deflate is agreed, RSV1 on a message's first frame means \
             \"Per-Message Compressed\". These 7 bytes are §7.2.3.1's DEFLATE of \"Hello\".",
            vec![compressed(TEXT, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])],
            Answer::Accept(&["message"]),
        )
    });
    list.push(Preset {
        deflate: true,
        ..preset(
            "compressed-control",
            "Compressed control frame (permessage-deflate)",
            "RFC 7692 §6: an endpoint MUST NOT set the \"Per-Message Compressed\" bit of control \
             frames; even with the extension agreed, a Ping with RSV1 fails the connection.",
            vec![compressed(PING, b"hi")],
            fail(1002, "RFC 7692 §6"),
        )
    });
    list.push(preset(
        "rfc-64k-binary",
        "§5.7 64 KiB Binary (64-bit length)",
        "§5.7: 65,536 bytes need the 64-bit length form: 7F 00 00 00 00 00 01 00 00.",
        vec![BuiltFrame {
            length_form: LengthForm::Bits64,
            // Written as text in the builder: 64 KiB of hex would be 192 KiB of page.
            ..frame(BINARY, &[b'x'; 65536])
        }],
        Answer::Accept(&["message"]),
    ));
    list
}

#[cfg(test)]
mod tests {
    use super::super::run;
    use super::*;
    use crate::protocol::{CloseCode, ProtocolError};

    #[test]
    fn every_preset_gets_the_rfcs_answer_through_the_lab() {
        for preset in presets() {
            let report = run(&preset.experiment(Limits::default())).expect("a preset runs");
            assert!(
                preset.is_answered_by(&report),
                "{}: expected {:?}, the core said {:?}\n{report}",
                preset.id,
                preset.answer,
                report.verdict
            );
        }
    }

    #[test]
    fn failing_presets_name_their_rule_and_close_code() {
        let expected: &[(&str, ProtocolError)] = &[
            ("unmasked", ProtocolError::UnmaskedFrame),
            ("rsv1", ProtocolError::ReservedBitsSet),
            ("reserved-opcode", ProtocolError::ReservedOpcode(3)),
            ("fragmented-ping", ProtocolError::FragmentedControlFrame),
            ("ping-126", ProtocolError::ControlFrameTooLong(126)),
            ("lone-continuation", ProtocolError::UnexpectedContinuation),
            ("new-message-inside", ProtocolError::ExpectedContinuation),
            ("utf8-split-invalid", ProtocolError::InvalidUtf8),
            ("close-1005", ProtocolError::InvalidCloseCode(1005)),
            ("close-999", ProtocolError::InvalidCloseCode(999)),
            ("close-5000", ProtocolError::InvalidCloseCode(5000)),
            ("close-1-byte", ProtocolError::CloseCodeTruncated),
            ("length-top-bit", ProtocolError::InvalidLength),
            ("compressed-control", ProtocolError::CompressedBitMisplaced),
            (
                "too-big",
                ProtocolError::FrameTooBig {
                    size: 17,
                    limit: 16,
                },
            ),
        ];
        for (id, error) in expected {
            let preset = find(id).expect("the preset exists");
            let report = run(&preset.experiment(Limits::default())).expect("runs");
            let Verdict::Failed { error: got, offset } = &report.verdict else {
                panic!("{id}: {:?}", report.verdict)
            };
            assert_eq!(got, error, "{id}");
            // The failure points at the frame that broke the rule: the last one.
            let last = preset.frames.last().map_or(0, |f| f.encode().len());
            assert_eq!(*offset as usize, preset.bytes().len() - last, "{id}");
            // And the server's reply is a Close with the RFC's code.
            let Some(Step::Reply { frames, .. }) = report
                .steps
                .iter()
                .rev()
                .find(|s| matches!(s, Step::Reply { .. }))
            else {
                panic!("{id}: no Close reply")
            };
            assert_eq!(
                frames.last().and_then(|f| f.close_code()),
                Some(error.close_code().0),
                "{id}"
            );
        }
    }

    #[test]
    fn rfc_examples_are_byte_for_byte() {
        let hex = |id: &str| crate::explain::frames::hex(&find(id).expect("exists").bytes());
        assert_eq!(hex("unmasked"), "81 05 48 65 6c 6c 6f");
        assert_eq!(hex("rfc-masked-hello"), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
        assert!(hex("rfc-ping-pong").ends_with("8a 85 37 fa 21 3d 7f 9f 4d 51 58"));
        assert!(hex("rfc-256-binary").starts_with("82 fe 01 00"));
        assert!(hex("rfc-64k-binary").starts_with("82 ff 00 00 00 00 00 01 00 00"));
    }

    #[test]
    fn ids_are_unique_and_the_json_carries_the_answer() {
        let list = presets();
        let mut ids: Vec<&str> = list.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), list.len());
        let json = find("unmasked").expect("exists").to_json(Limits::default());
        assert_eq!(json["answer"]["fail"]["code"], 1002);
        assert_eq!(json["frames"][0]["payload"]["text"], "Hello");
        assert_eq!(
            json["frames"][0]["masking_key_hex"],
            serde_json::Value::Null
        );
        let json = find("too-big").expect("exists").to_json(Limits::default());
        assert_eq!(json["limits"]["max_frame_size"], 16);
        assert_eq!(
            CloseCode(json["answer"]["fail"]["code"].as_u64().unwrap_or(0) as u16),
            CloseCode::MESSAGE_TOO_BIG
        );
    }
}
