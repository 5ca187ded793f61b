//! What a connection's reader writes back itself: Pongs, its session's replies (an echo, a
//! lab report, an error), and its last frame, in wire order, in one vectored write when the
//! writer is idle, or queued for it.

use super::lanes::{Control, Frame};
use super::reader::Reader;
use super::writer::WriteNow;
use crate::protocol::deflate::{message_frame, StatelessCompressor};
use crate::protocol::{FrameHeader, Message, Opcode};
use crate::server::deflaters::with_deflater;

impl Reader<'_> {
    /// A reply to this client, for [`Reader::send_replies`]: compressed on this thread when
    /// permessage-deflate was agreed (RFC 7692 §6.1: RSV1 on its only frame).
    #[inline(never)]
    pub(super) fn reply(&mut self, reply: Message) {
        let opcode = reply.opcode();
        let payload = reply.into_bytes();
        // A compressor is lent from the pool only for a message that will be compressed.
        let (header, payload) = match &self.compressor {
            Some(compressor) if compressor.compresses(payload.len()) => {
                compressed(compressor, opcode, payload)
            }
            _ => message_frame(opcode, payload, None),
        };
        self.replies.push(Frame::Owned(header.encode(), payload));
    }

    /// Sends what one read produced, in wire order: Pongs, echo replies, then (when `finish`)
    /// the last bytes before TCP is closed. Written right here in one vectored write when the
    /// writer is idle; queued for it otherwise.
    #[inline(never)]
    pub(super) fn send_replies(&mut self, pongs: Vec<u8>, last: Vec<u8>, finish: bool) {
        let echoes = std::mem::take(&mut self.replies);
        if pongs.is_empty() && echoes.is_empty() && last.is_empty() && !finish {
            return;
        }
        match self.write_replies(&pongs, &echoes, &last, finish) {
            WriteNow::Written => return self.counters.sent_messages(echoes.len()),
            // Nothing is counted as sent; the reader sees TCP closed and leaves.
            WriteNow::Failed => return,
            WriteNow::Busy => {}
        }
        self.queue_replies(pongs, echoes, last, finish);
    }

    /// [`Reader::send_replies`] when the writer is idle: one vectored write from this thread.
    /// [`WriteNow::Busy`] if the writer was busy, and nothing was written.
    #[inline(never)]
    pub(super) fn write_replies(
        &self,
        pongs: &[u8],
        echoes: &[Frame],
        last: &[u8],
        finish: bool,
    ) -> WriteNow {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + 2 * echoes.len());
        parts.push(pongs);
        for echo in echoes {
            let [header, payload] = echo.parts();
            parts.push(header);
            parts.push(payload);
        }
        parts.push(last);
        self.writer.write_now(&parts, finish)
    }

    /// [`Reader::send_replies`] when the writer is busy: queued for it, in the same order.
    #[inline(never)]
    pub(super) fn queue_replies(
        &self,
        pongs: Vec<u8>,
        echoes: Vec<Frame>,
        last: Vec<u8>,
        finish: bool,
    ) {
        if !pongs.is_empty() {
            self.outbox.control(Control::Bytes(pongs));
        }
        for frame in echoes {
            let _ = self.outbox.send(frame);
        }
        if finish {
            self.outbox.control(if last.is_empty() {
                Control::Finish
            } else {
                Control::Final(last)
            });
        }
    }
}

/// A reply's frame compressed with a compressor lent from the pool. Not inlined: lending one
/// takes a deep frame, and a reply that is not compressed (an echo of a chat-sized message)
/// should not touch that stack.
#[inline(never)]
fn compressed(
    compressor: &StatelessCompressor,
    opcode: Opcode,
    payload: Vec<u8>,
) -> (FrameHeader, Vec<u8>) {
    with_deflater(compressor, |deflater| {
        message_frame(opcode, payload, Some(deflater))
    })
}
