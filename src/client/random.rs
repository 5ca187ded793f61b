//! Unpredictable bytes for a client: masking keys (RFC 6455 §5.3, §10.3) and the handshake
//! nonce (§4.1 item 7), read from the operating system's generator through `/dev/urandom`.
//!
//! "The masking key needs to be unpredictable; thus, the masking key MUST be derived from a
//! strong source of entropy, and the masking key for a given frame MUST NOT make it simple for
//! a server/proxy to predict the masking key for a subsequent frame" (§5.3). §10.3 says why:
//! a script that could predict the key could choose the bytes on the wire and poison a proxy's
//! cache. A counter or a seeded PRNG would be predictable; the kernel's CSPRNG is not. std can
//! read it as a file, so no dependency is needed.

use std::fs::File;
use std::io::{self, Read};

use crate::protocol::connection::MaskingKeySource;
use crate::protocol::handshake::KEY_NONCE_LEN;

/// Where the bytes come from: the kernel's cryptographically secure generator.
pub const SOURCE: &str = "/dev/urandom";

/// How many bytes are read from [`SOURCE`] at a time (1024 masking keys).
const BATCH_BYTES: usize = 4096;

/// A buffered reader of [`SOURCE`].
#[derive(Debug)]
pub struct Entropy {
    file: File,
    batch: Vec<u8>,
    /// Bytes of `batch` already handed out.
    used: usize,
}

impl Entropy {
    /// Opens [`SOURCE`] and reads a first batch, so that a missing source fails here, before
    /// anything is sent.
    ///
    /// # Errors
    ///
    /// The `io::Error` of opening or reading [`SOURCE`].
    pub fn open() -> io::Result<Self> {
        let mut entropy = Self {
            file: File::open(SOURCE)?,
            batch: vec![0; BATCH_BYTES],
            used: BATCH_BYTES,
        };
        entropy.refill()?;
        Ok(entropy)
    }

    fn refill(&mut self) -> io::Result<()> {
        self.file.read_exact(&mut self.batch)?;
        self.used = 0;
        Ok(())
    }

    /// Fills `out` with fresh bytes; no byte is ever handed out twice.
    ///
    /// # Errors
    ///
    /// The `io::Error` of reading [`SOURCE`] when a new batch is needed.
    pub fn fill(&mut self, mut out: &mut [u8]) -> io::Result<()> {
        while !out.is_empty() {
            if self.used == self.batch.len() {
                self.refill()?;
            }
            let available = self.batch.get(self.used..).unwrap_or_default();
            let take = available.len().min(out.len());
            let (now, later) = out.split_at_mut(take);
            now.copy_from_slice(available.get(..take).unwrap_or_default());
            self.used += take;
            out = later;
        }
        Ok(())
    }

    /// The 16-byte nonce of `Sec-WebSocket-Key`: "The nonce MUST be selected randomly for each
    /// connection" (§4.1 item 7).
    ///
    /// # Errors
    ///
    /// The `io::Error` of reading [`SOURCE`].
    pub fn nonce(&mut self) -> io::Result<[u8; KEY_NONCE_LEN]> {
        let mut nonce = [0; KEY_NONCE_LEN];
        self.fill(&mut nonce)?;
        Ok(nonce)
    }

    /// A fresh 4-byte masking key (§5.3).
    ///
    /// # Errors
    ///
    /// The `io::Error` of reading [`SOURCE`].
    pub fn masking_key(&mut self) -> io::Result<[u8; 4]> {
        let mut key = [0; 4];
        self.fill(&mut key)?;
        Ok(key)
    }

    /// Turns this into the key source a client [`Connection`](crate::protocol::Connection)
    /// calls for every frame it sends.
    ///
    /// The source cannot return an error, and sending a frame with a predictable key is not
    /// an option (§10.3), so if [`SOURCE`] stops working mid-connection the process says so
    /// and exits with status 1. (A source that opened and read once does not, in practice.)
    pub fn into_masking_key_source(mut self) -> MaskingKeySource {
        Box::new(move || match self.masking_key() {
            Ok(key) => key,
            Err(error) => {
                eprintln!("wsmith: cannot read {SOURCE} for a masking key: {error}");
                std::process::exit(1);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_masking_keys_differ() {
        let mut entropy = Entropy::open().expect("/dev/urandom");
        let keys: Vec<[u8; 4]> = (0..8)
            .map(|_| entropy.masking_key().expect("key"))
            .collect();
        // Eight equal 32-bit keys from a CSPRNG: about one chance in 2^224.
        assert!(keys.windows(2).any(|pair| pair[0] != pair[1]), "{keys:?}");
    }

    #[test]
    fn filling_across_batches_hands_out_new_bytes() {
        let mut entropy = Entropy::open().expect("/dev/urandom");
        let mut big = vec![0u8; BATCH_BYTES * 2 + 3];
        entropy.fill(&mut big).expect("fill");
        // Reading past a batch refills it; 8 KiB of zeros would mean it did not.
        assert!(big.iter().filter(|&&b| b != 0).count() > BATCH_BYTES);
        assert_eq!(entropy.used, 3);
    }

    #[test]
    fn the_key_source_gives_keys() {
        let mut source = Entropy::open()
            .expect("/dev/urandom")
            .into_masking_key_source();
        assert_ne!([source(), source(), source()], [[0; 4]; 3]);
    }
}
