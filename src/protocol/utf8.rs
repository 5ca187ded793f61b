//! UTF-8 validation of Text messages (RFC 6455 §8.1), incremental and fail-fast.
//!
//! "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is
//! not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_."
//! A Text message may arrive in many fragments and each fragment in many reads, and a
//! character may be split anywhere, so [`Utf8Validator`] keeps the bytes of a character begun
//! in one piece and finishes it with the next. It fails at the first byte that can never be
//! part of valid UTF-8, without waiting for the message to end.
//!
//! The byte-level rules are `std`'s: [`std::str::from_utf8`] reports, with
//! [`Utf8Error::error_len`](std::str::Utf8Error::error_len), whether the input ended in the
//! middle of a character that more bytes could still complete (`None`) or holds a byte that no
//! continuation can fix (`Some`). That is exactly the distinction fail-fast needs.

use super::error::ProtocolError;

/// Validates a stream of UTF-8 bytes fed in arbitrary pieces.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The bytes of a character that started in an earlier piece (at most 3).
    partial: [u8; 4],
    partial_len: usize,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of the stream.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] as soon as the bytes so far cannot be the start of valid
    /// UTF-8, whatever comes next.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ProtocolError> {
        // First finish a character carried over from the previous piece, byte by byte.
        while self.partial_len > 0 {
            let Some((&byte, rest)) = bytes.split_first() else {
                return Ok(());
            };
            bytes = rest;
            let slot = self
                .partial
                .get_mut(self.partial_len)
                .ok_or(ProtocolError::InvalidUtf8)?;
            *slot = byte;
            self.partial_len += 1;
            let pending = self.partial.get(..self.partial_len).unwrap_or_default();
            match std::str::from_utf8(pending) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_none() => {}
                Err(_) => return Err(ProtocolError::InvalidUtf8),
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                // The piece ends inside a character: keep its bytes for the next piece.
                let tail = bytes.get(e.valid_up_to()..).unwrap_or_default();
                self.partial_len = tail.len();
                if let Some(slot) = self.partial.get_mut(..tail.len()) {
                    slot.copy_from_slice(tail);
                }
                Ok(())
            }
            Err(_) => Err(ProtocolError::InvalidUtf8),
        }
    }

    /// Checks that the stream ended on a character boundary.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] if the last character is incomplete.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        if self.partial_len == 0 {
            Ok(())
        } else {
            Err(ProtocolError::InvalidUtf8)
        }
    }

    /// Starts over for the next message.
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }
}

/// Validates a whole buffer at once, e.g. a Close reason.
///
/// # Errors
///
/// [`ProtocolError::InvalidUtf8`] if `bytes` is not valid UTF-8.
pub fn validate_whole(bytes: &[u8]) -> Result<&str, ProtocolError> {
    std::str::from_utf8(bytes).map_err(|_| ProtocolError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(bytes: &[u8], cut: usize) -> Result<(), ProtocolError> {
        let mut validator = Utf8Validator::new();
        validator.feed(&bytes[..cut])?;
        validator.feed(&bytes[cut..])?;
        validator.finish()
    }

    #[test]
    fn valid_text_split_at_every_byte_is_accepted() {
        let text = "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 €".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(feed_split(text, cut), Ok(()), "cut {cut}");
        }
    }

    #[test]
    fn validator_agrees_with_std_on_every_split() {
        let samples: &[&[u8]] = &[
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xed\x9f\xbf",
            b"\xef\xbf\xbf",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xf0\x8f\xbf\xbf",
            b"\xce\xba\xe1\xbd",
            b"\x80",
            b"ok\xff",
        ];
        for sample in samples {
            let expected = std::str::from_utf8(sample).is_ok();
            for cut in 0..=sample.len() {
                assert_eq!(
                    feed_split(sample, cut).is_ok(),
                    expected,
                    "{sample:x?} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn invalid_byte_fails_before_the_message_ends() {
        // Autobahn 6.4.1: the bad sequence arrives in the middle of a message.
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(validator.feed(b"\xf4\x90"), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn surrogate_fails_on_its_second_byte_even_across_pieces() {
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(b"a\xed"), Ok(()));
        assert_eq!(validator.feed(b"\xa0"), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn truncated_character_at_the_end_fails_on_finish() {
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(b"\xe2\x82"), Ok(()));
        assert_eq!(validator.finish(), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn bytes_fed_one_at_a_time_are_validated() {
        let text = "€𝄞 ok".as_bytes();
        let mut validator = Utf8Validator::new();
        for byte in text {
            assert_eq!(validator.feed(std::slice::from_ref(byte)), Ok(()));
        }
        assert_eq!(validator.finish(), Ok(()));
    }
}
