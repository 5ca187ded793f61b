//! Close codes and the Close frame's payload (RFC 6455 §5.5.1, §7.4).
//!
//! A Close frame's payload is empty, or a 2-byte big-endian status code followed by a UTF-8
//! reason. The whole payload is a control-frame payload, so at most 125 bytes: the reason gets
//! at most [`MAX_REASON_LEN`] = 123 of them. The status codes themselves are [`CloseCode`]
//! ([`super::close_code`]).

pub use super::close_code::CloseCode;
use super::error::ProtocolError;
use super::utf8;

/// The longest close reason that fits a control frame: 125 − 2 bytes of code (§5.5).
pub const MAX_REASON_LEN: usize = 123;

/// A parsed Close frame payload (§5.5.1): the code and reason, or nothing at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code, or `None` for an empty payload (reported as 1005 by APIs, §7.1.5).
    pub code: Option<CloseCode>,
    /// The reason, UTF-8; empty when absent.
    pub reason: String,
}

impl CloseFrame {
    /// Parses a Close frame's (unmasked) payload.
    ///
    /// # Errors
    ///
    /// - [`ProtocolError::CloseCodeTruncated`] for a 1-byte payload: "If there is a body, the
    ///   first two bytes of the body MUST be a 2-byte unsigned integer" (§5.5.1).
    /// - [`ProtocolError::InvalidCloseCode`] for a code that must not be sent (§7.4).
    /// - [`ProtocolError::InvalidCloseReason`] if the reason is not UTF-8: "the data ... is not
    ///   guaranteed to be human readable", but it MUST be UTF-8 (§5.5.1).
    pub fn parse(payload: &[u8]) -> Result<Self, ProtocolError> {
        let Some((code, reason)) = payload.split_first_chunk::<2>() else {
            return if payload.is_empty() {
                Ok(Self {
                    code: None,
                    reason: String::new(),
                })
            } else {
                Err(ProtocolError::CloseCodeTruncated)
            };
        };
        let code = CloseCode(u16::from_be_bytes(*code));
        if !code.is_sendable() {
            return Err(ProtocolError::InvalidCloseCode(code.0));
        }
        let reason = utf8::validate_whole(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
        Ok(Self {
            code: Some(code),
            reason: reason.to_owned(),
        })
    }

    /// Encodes a Close payload: the code big-endian, then the reason cut to
    /// [`MAX_REASON_LEN`] bytes at a character boundary.
    pub fn encode_payload(code: CloseCode, reason: &str) -> Vec<u8> {
        let reason = truncate_reason(reason);
        let mut payload = Vec::with_capacity(2 + reason.len());
        payload.extend_from_slice(&code.0.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
        payload
    }
}

/// Cuts `reason` to at most [`MAX_REASON_LEN`] bytes without splitting a character.
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_close_payload_has_no_code() {
        assert_eq!(
            CloseFrame::parse(&[]),
            Ok(CloseFrame {
                code: None,
                reason: String::new()
            })
        );
    }

    #[test]
    fn close_with_one_byte_payload_is_protocol_error() {
        assert_eq!(
            CloseFrame::parse(&[0x03]),
            Err(ProtocolError::CloseCodeTruncated)
        );
    }

    #[test]
    fn close_code_and_reason_are_parsed() {
        let parsed = CloseFrame::parse(b"\x03\xe8bye").expect("valid payload");
        assert_eq!(parsed.code, Some(CloseCode::NORMAL_CLOSURE));
        assert_eq!(parsed.reason, "bye");
    }

    #[test]
    fn every_code_is_classified_as_the_rfc_says() {
        let invalid = [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for code in invalid {
            assert_eq!(
                CloseFrame::parse(&u16::to_be_bytes(code)),
                Err(ProtocolError::InvalidCloseCode(code)),
                "code {code}"
            );
        }
        let valid = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ];
        for code in valid {
            assert!(
                CloseFrame::parse(&u16::to_be_bytes(code)).is_ok(),
                "code {code}"
            );
        }
    }

    #[test]
    fn close_reason_must_be_utf8() {
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8\xff"),
            Err(ProtocolError::InvalidCloseReason)
        );
    }

    #[test]
    fn long_reason_is_cut_at_a_character_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let payload = CloseFrame::encode_payload(CloseCode::GOING_AWAY, &reason);
        assert!(payload.len() <= 125);
        assert_eq!(payload.len(), 2 + 122);
        assert!(CloseFrame::parse(&payload).is_ok());
    }
}
