//! Client frames through a server `Connection` with `permessage-deflate` agreed (RFC 7692),
//! compressed and not, fed three ways: all at once, in chunks, and in chunks with every payload
//! byte that can be appended straight to the message lent out (`take_message_buffer` /
//! `receive_payload`, as the server's reader does for large payloads).
//!
//! Properties: no panic; the three feeds give the same events and the same output; no message
//! is larger than the limit; the budget never holds more than the message limit beyond the
//! bytes it leaves uncounted (`budget::UNCOUNTED_BYTES`), and holds nothing once the connection
//! is dropped.
//!
//! Input: a byte of parameters, a byte choosing the cuts, then frame specs: a spec byte
//! (kind, FIN, RSV1, size class), a length byte, and that many payload bytes.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::deflate::{Deflater, Params};
use wsmith::protocol::mask::apply_mask_bytewise;
use wsmith::protocol::{Connection, Event, FrameHeader, Limits, MemoryBudget, Opcode};

/// A plaintext larger than this is not built: it would only slow the fuzzer.
const MAX_PLAINTEXT: usize = 80 << 10;

fn limits(large: bool) -> Limits {
    // The large one is over the budget's uncounted 64 KiB, so that the budget counts.
    let max = if large { 72 << 10 } else { 4 << 10 };
    Limits {
        max_frame_size: max,
        max_message_size: max,
        max_fragments: 16,
    }
}

fn params(byte: u8) -> Params {
    // 8..=15 window bits (RFC 7692 §7.1.2), or none.
    let bits = (byte >> 2) & 15;
    Params {
        client_no_context_takeover: byte & 1 != 0,
        server_no_context_takeover: byte & 2 != 0,
        client_max_window_bits: (bits >= 8).then_some(bits),
        server_max_window_bits: None,
    }
}

/// One client frame, masked with `key`.
fn frame(opcode: Opcode, fin: bool, rsv1: bool, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv1,
        masking_key: Some(key),
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    let mut bytes = header.encode().as_slice().to_vec();
    let start = bytes.len();
    bytes.extend_from_slice(payload);
    if let Some(masked) = bytes.get_mut(start..) {
        apply_mask_bytewise(masked, key, 0);
    }
    bytes
}

/// The byte stream the specs describe.
fn stream(mut specs: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut deflater = Deflater::new(15, true);
    while let [spec, len, rest @ ..] = specs {
        let len = usize::from(*len).min(rest.len());
        let (payload, rest) = rest.split_at(len);
        specs = rest;
        let (fin, rsv1) = (spec & 8 != 0, spec & 16 != 0);
        let key = [*spec, len as u8, 0x5a, 0xa5];
        let opcode = match spec & 7 {
            0 => Opcode::Text,
            1 => Opcode::Binary,
            2 => Opcode::Continuation,
            3 => Opcode::Ping,
            4 => Opcode::Close,
            5 => {
                // Raw bytes: whatever the fuzzer makes of them.
                out.extend_from_slice(payload);
                continue;
            }
            _ => {
                // A message compressed for real, its plaintext repeated up to 2^15 times (a
                // small frame that inflates large), in one frame or split in two.
                let times = 1usize << ((spec >> 5) * 5).min(15);
                let plain = payload.repeat(times.min(MAX_PLAINTEXT / len.max(1)));
                let opcode = if spec & 1 == 0 {
                    Opcode::Text
                } else {
                    Opcode::Binary
                };
                let compressed = deflater.compress(&plain);
                if fin {
                    out.extend(frame(opcode, true, true, &compressed, key));
                } else {
                    let (first, second) = compressed.split_at(compressed.len() / 2);
                    out.extend(frame(opcode, false, true, first, key));
                    out.extend(frame(Opcode::Continuation, true, false, second, key));
                }
                continue;
            }
        };
        // A length over 125 breaks §5.5 for control frames: the core must say so, not panic.
        let payload = if spec & 32 != 0 {
            payload.repeat(4)
        } else {
            payload.to_vec()
        };
        out.extend(frame(opcode, fin, rsv1, &payload, key));
    }
    out
}

/// How a feed hands the bytes over.
#[derive(Clone, Copy, PartialEq)]
enum Feed {
    /// `receive_data` only.
    Copy,
    /// Payload bytes appended to the lent message buffer; with `past_frame`, the whole chunk,
    /// even the bytes after the frame's payload.
    Lent { past_frame: bool },
}

struct Run {
    events: Vec<Event>,
    output: Vec<u8>,
}

fn run(bytes: &[u8], cuts: &[usize], feed: Feed, params: Params, limits: Limits) -> Run {
    let budget = Arc::new(MemoryBudget::new(u64::MAX));
    let mut conn = Connection::server(limits)
        .with_deflate(params, 0)
        .with_budget(Arc::clone(&budget));
    let mut events = Vec::new();
    let mut output = Vec::new();
    let mut rest = bytes;
    let mut cut = cuts.iter().cycle();
    while !rest.is_empty() {
        let size = cut
            .next()
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let expected = usize::try_from(conn.payload_expected()).unwrap_or(usize::MAX);
        match feed {
            Feed::Lent { past_frame } if expected > 0 => {
                let take = if past_frame {
                    chunk.len()
                } else {
                    chunk.len().min(expected)
                };
                let (lent, copied) = chunk.split_at(take);
                let mut buffer = conn.take_message_buffer();
                buffer.extend_from_slice(lent);
                conn.receive_payload(buffer);
                conn.receive_data(copied);
            }
            _ => conn.receive_data(chunk),
        }
        // §10.4: the message being received holds at most the limit, counted.
        assert_eq!(conn.budget_held(), budget.held());
        assert!(
            budget.held() <= limits.max_message_size,
            "budget holds {} of a {}-byte message limit",
            budget.held(),
            limits.max_message_size
        );
        events.extend(std::iter::from_fn(|| conn.next_event()));
        output.extend(conn.take_output());
    }
    drop(conn);
    assert_eq!(budget.held(), 0, "a dropped connection still holds budget");
    Run { events, output }
}

/// Asserts that `other` did what `whole` did; names the first event that differs (a message's
/// first bytes only: it may be large).
fn same(whole: &Run, other: &Run, how: &str) {
    let short = |event: Option<&Event>| match event {
        Some(Event::Message(message)) => {
            let bytes = message.as_bytes();
            format!(
                "Message of {} bytes, {:?}…",
                bytes.len(),
                bytes.get(..32).unwrap_or(bytes)
            )
        }
        other => format!("{other:?}"),
    };
    if let Some(at) = (0..whole.events.len().max(other.events.len()))
        .find(|&i| whole.events.get(i) != other.events.get(i))
    {
        panic!(
            "{how} changed event {at}: {} instead of {}",
            short(other.events.get(at)),
            short(whole.events.get(at))
        );
    }
    assert!(other.output == whole.output, "{how} changed the output");
}

fuzz_target!(|data: &[u8]| {
    let [param_byte, cut_byte, specs @ ..] = data else {
        return;
    };
    let (params, limits) = (params(*param_byte), limits(param_byte & 0x80 != 0));
    let bytes = stream(specs);
    // Cuts of 1..=64 bytes from a small generator seeded by the input, some of them large.
    let mut state = u32::from(*cut_byte) | 1;
    let cuts: Vec<usize> = (0..16)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let n = (state >> 16) as usize;
            if n.is_multiple_of(5) {
                n % 80_000 + 1
            } else {
                n % 64 + 1
            }
        })
        .collect();
    let whole = run(&bytes, &[], Feed::Copy, params, limits);
    for event in &whole.events {
        if let Event::Message(message) = event {
            assert!(message.as_bytes().len() as u64 <= limits.max_message_size);
        }
    }
    let chunked = run(&bytes, &cuts, Feed::Copy, params, limits);
    same(&whole, &chunked, "chunking");
    let past_frame = cut_byte & 1 != 0;
    let lent = run(&bytes, &cuts, Feed::Lent { past_frame }, params, limits);
    same(&whole, &lent, "the lent buffer");
});
