//! Unmasking (§5.3) in GB/s, next to `memcpy` of the same buffer: the machine's limit for
//! touching every byte once. wsmith's `apply_mask` (word at a time) and its byte-loop
//! reference `apply_mask_bytewise` are measured in place, on a buffer that fits in the caches
//! (64 KiB) and one that does not (16 MiB).

use std::hint::black_box;
use std::time::{Duration, Instant};

use wsmith::protocol::mask::{apply_mask, apply_mask_bytewise};

use super::Sample;
use crate::stats::median;

/// Each measurement repeats its operation for about this long.
const SLICE: Duration = Duration::from_millis(100);

/// GB/s (10^9 bytes per second) of `op` over a buffer of `len` bytes: median of `rounds`.
fn rate(len: usize, rounds: usize, mut op: impl FnMut()) -> f64 {
    op(); // warm the caches and fault the pages in
    let rates: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            let mut passes = 0u64;
            while start.elapsed() < SLICE {
                op();
                passes += 1;
            }
            passes as f64 * len as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    median(&rates)
}

/// Buffer sizes, with the keys of their figures: `apply_mask`, the byte loop, `memcpy`.
const SIZES: [(usize, [&str; 3]); 2] = [
    (64 << 10, ["unmask_64k", "bytewise_64k", "memcpy_64k"]),
    (16 << 20, ["unmask_16m", "bytewise_16m", "memcpy_16m"]),
];

/// Every figure for both buffer sizes.
pub fn run(rounds: usize) -> Sample {
    let mut sample = Sample::default();
    let key = [0x37, 0xfa, 0x21, 0x3d];
    for (len, [fast_key, bytewise_key, copy_key]) in SIZES {
        let mut buf: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut dst = vec![0u8; len];
        let fast = rate(len, rounds, || apply_mask(black_box(&mut buf), key, 0));
        let bytewise = rate(len, rounds, || {
            apply_mask_bytewise(black_box(&mut buf), key, 0);
        });
        let copy = rate(len, rounds, || {
            black_box(&mut dst).copy_from_slice(black_box(&buf));
        });
        sample.figures.push((fast_key, fast));
        sample.figures.push((bytewise_key, bytewise));
        sample.figures.push((copy_key, copy));
    }
    sample
}
