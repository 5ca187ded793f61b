//! `/echo`: every message goes back to its sender unchanged (the Autobahn TestSuite's peer).
//!
//! Echo needs no shared state, so its replies never pass through the hub: the connection's own
//! reader queues them for its writer, and a pipelined burst goes out in one write.

use crate::protocol::Message;

/// The reply to `message`: the same type and the same bytes.
pub fn reply(message: Message) -> Message {
    message
}
