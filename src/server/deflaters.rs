//! A few `permessage-deflate` compressors lent to whichever thread compresses (readers for
//! echo replies, writers for the hub's shared frames), instead of one made per message.
//!
//! A DEFLATE compressor with a 2^15 window holds about 270 KiB. Made and freed for every
//! message, that memory stays in the allocator's arena of each thread that ever compressed,
//! about 275 KiB per connection thread (measured). Lent from here, compressors are made
//! once, at most [`KEPT`] are kept, and connection threads hold none between messages.

use std::sync::Mutex;

use crate::protocol::deflate::{Deflater, StatelessCompressor};
use crate::sync::lock;

/// Compressors kept for lending; more are made when more threads compress at once, and
/// dropped after use.
pub(crate) const KEPT: usize = 4;

/// The idle compressors, with their window bits.
static IDLE: Mutex<Vec<(u8, Deflater)>> = Mutex::new(Vec::new());

/// Runs `f` with a compressor for `compressor`'s window bits (no context takeover, so it is
/// as good as new after every message), then keeps it for the next caller.
pub(crate) fn with_deflater<R>(
    compressor: &StatelessCompressor,
    f: impl FnOnce(&mut Deflater) -> R,
) -> R {
    let lent = {
        let mut idle = lock(&IDLE);
        let found = idle
            .iter()
            .position(|(bits, _)| *bits == compressor.window_bits);
        found.map(|at| idle.swap_remove(at).1)
    };
    let mut deflater = lent.unwrap_or_else(|| compressor.new_deflater());
    let result = f(&mut deflater);
    let mut idle = lock(&IDLE);
    if idle.len() < KEPT {
        idle.push((compressor.window_bits, deflater));
    }
    result
}
