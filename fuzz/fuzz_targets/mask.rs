//! Word-at-a-time masking against the byte loop of §5.3, at any length, key and offset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::mask::{apply_mask, apply_mask_bytewise};

fuzz_target!(|data: &[u8]| {
    let Some((header, payload)) = data.split_first_chunk::<5>() else { return };
    let key = [header[0], header[1], header[2], header[3]];
    let offset = usize::from(header[4]);
    let mut fast = payload.to_vec();
    let mut reference = payload.to_vec();
    apply_mask(&mut fast, key, offset);
    apply_mask_bytewise(&mut reference, key, offset);
    assert_eq!(fast, reference);
});
