//! Close records: every connection end, explained — who ended it, the code and reason, the
//! rule that fired with its RFC 6455 section, the limit and value for limit closes, the byte
//! offset of a protocol error. A 1006 (no Close frame) is explained too. Each record is logged
//! at info level and sent to the connection's Inspector watchers.

use std::fmt;

use crate::explain::inspector::{CloseExplained, LimitExceeded};
use crate::protocol::{CloseCode, CloseFrame, ProtocolError};

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClosedBy {
    /// The client sent the first Close frame.
    Client,
    /// The server sent the first Close frame (a protocol error, a limit, shutdown).
    Server,
    /// No close handshake: TCP went away, or a timeout fired.
    Network,
}

impl ClosedBy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
            Self::Network => "network",
        }
    }
}

/// How one connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloseRecord {
    /// Who ended it.
    pub(crate) by: ClosedBy,
    /// The status code of the first Close frame, or 1006 when there was none (§7.1.5).
    pub(crate) code: CloseCode,
    /// The reason sent with it, if any.
    pub(crate) reason: String,
    /// The rule that fired, quoted with its section.
    pub(crate) rule: Option<String>,
    /// For a protocol error: bytes received before the frame that broke the rule.
    pub(crate) offset: Option<u64>,
    /// For a limit close: the limit and the value that went over it.
    pub(crate) limit: Option<(u64, u64)>,
    /// One sentence for a human.
    pub(crate) explanation: String,
}

impl CloseRecord {
    /// The peer's Close frame arrived; `sent` is ours if we had sent one first.
    pub(crate) fn handshake(received: &CloseFrame, sent: Option<&CloseFrame>) -> Self {
        match sent {
            Some(ours) => Self {
                by: ClosedBy::Server,
                code: ours.code.unwrap_or(CloseCode::NO_STATUS_RECEIVED),
                reason: ours.reason.clone(),
                rule: None,
                offset: None,
                limit: None,
                explanation: "the server closed and the client answered the close handshake".into(),
            },
            None => Self {
                by: ClosedBy::Client,
                code: received.code.unwrap_or(CloseCode::NO_STATUS_RECEIVED),
                reason: received.reason.clone(),
                rule: None,
                offset: None,
                limit: None,
                explanation: match received.code {
                    Some(_) => "the client closed; the server echoed its code (§5.5.1)".into(),
                    None => {
                        "the client closed without a status code (reported as 1005, §7.1.5)".into()
                    }
                },
            },
        }
    }

    /// The server failed the connection because the client broke `error`'s rule (§7.1.7).
    pub(crate) fn protocol_error(error: &ProtocolError, offset: u64) -> Self {
        Self {
            by: ClosedBy::Server,
            code: error.close_code(),
            reason: format!("{} {error}", error.section()),
            rule: Some(error.rule()),
            offset: Some(offset),
            limit: error.limit(),
            explanation: format!("the client broke a rule at byte {offset}: {error}"),
        }
    }

    /// The server closed on purpose (`code`, `reason`), e.g. a slow consumer or a shutdown, and
    /// the connection ended before the client answered.
    pub(crate) fn server_close_unanswered(sent: &CloseFrame, what_happened: &str) -> Self {
        Self {
            by: ClosedBy::Server,
            code: sent.code.unwrap_or(CloseCode::NO_STATUS_RECEIVED),
            reason: sent.reason.clone(),
            rule: None,
            offset: None,
            limit: None,
            explanation: format!("the server closed ({}); {what_happened}", sent.reason),
        }
    }

    /// No Close frame was exchanged: 1006, with why (§7.1.5).
    pub(crate) fn abnormal(explanation: impl Into<String>) -> Self {
        Self {
            by: ClosedBy::Network,
            code: CloseCode::ABNORMAL_CLOSURE,
            reason: String::new(),
            rule: None,
            offset: None,
            limit: None,
            explanation: explanation.into(),
        }
    }

    /// The record as the Inspector's `close` event carries it.
    pub(crate) fn explained(&self) -> CloseExplained<'_> {
        CloseExplained {
            by: self.by.as_str(),
            code: self.code.0,
            code_name: self.code.name(),
            reason: &self.reason,
            rule: self.rule.as_deref(),
            offset: self.offset,
            limit: self
                .limit
                .map(|(limit, value)| LimitExceeded { limit, value }),
            explanation: &self.explanation,
        }
    }
}

impl fmt::Display for CloseRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "closed by {}, {}", self.by.as_str(), self.code)?;
        if !self.reason.is_empty() {
            write!(f, " {:?}", self.reason)?;
        }
        write!(f, ": {}", self.explanation)?;
        if let Some(rule) = &self.rule {
            write!(f, " [{rule}]")?;
        }
        if let Some((limit, value)) = self.limit {
            write!(f, " [limit {limit}, got {value}]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_error_record_names_rule_offset_and_limit() {
        let error = ProtocolError::MessageTooBig {
            size: 1001,
            limit: 1000,
        };
        let record = CloseRecord::protocol_error(&error, 42);
        assert_eq!(record.code, CloseCode::MESSAGE_TOO_BIG);
        assert_eq!(
            (record.offset, record.limit),
            (Some(42), Some((1000, 1001)))
        );
        let line = record.to_string();
        assert!(line.contains("§10.4") && line.contains("byte 42"), "{line}");
    }

    #[test]
    fn a_close_we_started_is_recorded_as_the_servers() {
        let ours = CloseFrame {
            code: Some(CloseCode::POLICY_VIOLATION),
            reason: "slow consumer".into(),
        };
        let reply = CloseFrame {
            code: Some(CloseCode::POLICY_VIOLATION),
            reason: String::new(),
        };
        let record = CloseRecord::handshake(&reply, Some(&ours));
        assert_eq!(
            (record.by, record.reason.as_str()),
            (ClosedBy::Server, "slow consumer")
        );
    }

    #[test]
    fn abnormal_closure_is_1006_with_its_explanation() {
        let record = CloseRecord::abnormal("ping timeout");
        let json = serde_json::to_value(record.explained()).expect("plain JSON");
        assert_eq!(
            (json["code"].as_u64(), json["by"].as_str()),
            (Some(1006), Some("network"))
        );
        assert_eq!(json["explanation"], "ping timeout");
    }
}
