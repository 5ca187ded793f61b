//! `/echo`: every message goes back to its sender unchanged (the Autobahn TestSuite's peer).
//!
//! Echo needs no shared state, so its replies never pass through the hub: the connection's own
//! reader answers ([`EchoSession`]), and a pipelined burst goes out in one write.

use super::seam::{App, Reading, Session};
use crate::protocol::Message;

/// The reply to `message`: the same type and the same bytes.
pub fn reply(message: Message) -> Message {
    message
}

/// Echo on the hub: nothing to keep.
#[derive(Debug, Default)]
pub struct Echo;

impl App for Echo {}

/// One `/echo` connection: every message is answered on its own thread.
#[derive(Debug, Default)]
pub struct EchoSession;

impl Session for EchoSession {
    fn read(&mut self, message: Message) -> Reading {
        Reading::Reply(reply(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_answers_with_the_same_type_and_bytes() {
        let mut session = EchoSession;
        for message in [Message::Text("hé".into()), Message::Binary(vec![0, 255])] {
            assert_eq!(session.read(message.clone()), Reading::Reply(message));
        }
    }
}
