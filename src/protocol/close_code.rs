//! Close status codes (RFC 6455 §7.4): the registry's numbers, their names, and which of them
//! may ever be sent.
//!
//! Every error of the core knows the code that answers it
//! ([`ProtocolError::close_code`](super::ProtocolError::close_code)), so this file sits below
//! [`super::error`]; the Close frame's payload, code and reason together, is [`super::close`].

use std::fmt;

/// A close status code (§7.4), named as in the IANA "WebSocket Close Code Number Registry".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL_CLOSURE: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutting down, page navigated away).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the endpoint cannot accept this type of data.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: reserved; means "no status code was present". Never sent (§7.4.1).
    pub const NO_STATUS_RECEIVED: Self = Self(1005);
    /// 1006: reserved; means "closed without a Close frame". Never sent (§7.4.1).
    pub const ABNORMAL_CLOSURE: Self = Self(1006);
    /// 1007: data inconsistent with the message type, e.g. invalid UTF-8 in a Text message.
    pub const INVALID_DATA: Self = Self(1007);
    /// 1008: a message or behaviour violates the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: (client only) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway received an invalid response (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: reserved; means "the TLS handshake failed". Never sent (§7.4.1).
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether this code may appear in a Close frame on the wire (§7.4.1, §7.4.2).
    ///
    /// 1000–1003 and 1007–1014 are defined; 1004 is reserved; 1005, 1006 and 1015 "MUST NOT be
    /// set as a status code in a Close control frame"; 0–999 are not used; 1016–2999 are
    /// reserved for future revisions; 3000–4999 belong to libraries and applications.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The registry's name of this code, for traces and close records.
    pub fn name(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            3000..=3999 => "registered by a library",
            4000..=4999 => "private use",
            _ => "not a valid code",
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_never_sent_are_not_sendable() {
        for code in [
            CloseCode::NO_STATUS_RECEIVED,
            CloseCode::ABNORMAL_CLOSURE,
            CloseCode::TLS_HANDSHAKE,
        ] {
            assert!(!code.is_sendable(), "{code}");
        }
        assert!(CloseCode::NORMAL_CLOSURE.is_sendable());
        assert_eq!(CloseCode(4000).to_string(), "4000 (private use)");
    }
}
