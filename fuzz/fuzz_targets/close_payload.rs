//! Close-frame payloads (§5.5.1, §7.4).
//!
//! Properties: a payload is accepted exactly when it is empty, or a sendable code followed by
//! UTF-8; an accepted one encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::{CloseCode, CloseFrame};

fuzz_target!(|data: &[u8]| {
    let parsed = CloseFrame::parse(data);
    let valid = match data {
        [] => true,
        [_] => false,
        [hi, lo, reason @ ..] => {
            CloseCode(u16::from_be_bytes([*hi, *lo])).is_sendable() && std::str::from_utf8(reason).is_ok()
        }
    };
    assert_eq!(parsed.is_ok(), valid, "{data:?}");
    if let Ok(CloseFrame { code: Some(code), reason }) = parsed {
        if reason.len() <= 123 {
            assert_eq!(CloseFrame::encode_payload(code, &reason), data);
        }
    }
});
