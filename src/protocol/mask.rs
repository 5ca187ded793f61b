//! Client-to-server masking (RFC 6455 §5.3).
//!
//! "The masked data is the XOR of the unmasked data with the masking key: octet i of the
//! transformed data is octet i of the original data XOR octet (i MOD 4) of the masking key."
//! Masking and unmasking are the same operation.
//!
//! [`apply_mask_bytewise`] is that sentence, one byte at a time: the reference.
//! [`apply_mask`] is what wsmith uses: it turns the key into a 64-bit word and XORs whole
//! words, which the compiler further vectorises; the tests prove it equal to the reference at
//! every length and offset. Neither needs `unsafe`.

/// Masks or unmasks `buf` in place, one byte at a time (§5.3): the reference implementation.
///
/// `offset` is the position of `buf[0]` within the frame's payload, so a payload that arrives
/// in pieces can be unmasked piece by piece.
pub fn apply_mask_bytewise(buf: &mut [u8], masking_key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= masking_key[(offset + i) % 4];
    }
}

/// Bytes XORed per step of the fast loop: eight 64-bit words, which the compiler turns into
/// vector instructions.
const BLOCK: usize = 64;

/// Masks or unmasks `buf` in place, a word at a time (§5.3). Same result as
/// [`apply_mask_bytewise`].
///
/// ```
/// use wsmith::protocol::mask::apply_mask;
/// // §5.7: "Hello" masked with 37 fa 21 3d.
/// let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(&payload, b"Hello");
/// ```
pub fn apply_mask(buf: &mut [u8], masking_key: [u8; 4], offset: usize) {
    // Rotate the key so that key[0] lines up with buf[0].
    let key = masking_key_at(masking_key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        for chunk in block.chunks_exact_mut(8) {
            let masked = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8])) ^ word;
            chunk.copy_from_slice(&masked.to_ne_bytes());
        }
    }
    // Every block is a multiple of 4 bytes long, so the remainder starts at key[0] again.
    apply_mask_bytewise(blocks.into_remainder(), key, 0)
}

/// The masking key rotated so that it starts at payload position `offset`.
fn masking_key_at(masking_key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut key = masking_key;
    key.rotate_left(offset % 4);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_mask_equals_the_bytewise_reference_at_every_length_and_offset() {
        let key = [0x6d, 0xb6, 0xb2, 0x80];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            for offset in 0..8 {
                let mut fast = data[..len].to_vec();
                let mut reference = fast.clone();
                apply_mask(&mut fast, key, offset);
                apply_mask_bytewise(&mut reference, key, offset);
                assert_eq!(fast, reference, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn fast_mask_equals_the_reference_at_every_alignment() {
        let key = [1, 2, 3, 4];
        let data = vec![0xA5u8; 200];
        for start in 0..16 {
            let mut fast = data.clone();
            let mut reference = data.clone();
            apply_mask(&mut fast[start..], key, 0);
            apply_mask_bytewise(&mut reference[start..], key, 0);
            assert_eq!(fast, reference, "start {start}");
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..=255).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for cut in 0..data.len() {
            let mut pieces = data.clone();
            let (front, back) = pieces.split_at_mut(cut);
            apply_mask(front, key, 0);
            apply_mask(back, key, cut);
            assert_eq!(pieces, whole, "cut {cut}");
        }
    }

    #[test]
    fn masking_twice_restores_the_payload() {
        let mut data = b"the quick brown fox jumps over the lazy dog".to_vec();
        apply_mask(&mut data, [9, 8, 7, 6], 3);
        apply_mask(&mut data, [9, 8, 7, 6], 3);
        assert_eq!(data, b"the quick brown fox jumps over the lazy dog");
    }
}
