//! What a connection's reader does with each event of the protocol state machine: a whole
//! message goes to the endpoint's [`Session`](crate::app::Session) first, on this thread, and
//! from there back to the client, on to the hub, or to a policy close; control frames are
//! counted against `--max-control-rate` (§10.4).

use std::time::Instant;

use log::{debug, info, trace};

use super::lanes::Control;
use super::reader::Reader;
use crate::app::{Input, Reading};
use crate::protocol::{CloseCode, CloseFrame, Event, Message};
use crate::server::close_record::CloseRecord;
use crate::server::hub::Command;
use crate::server::metrics::{metrics, RateLimit};

impl Reader<'_> {
    #[inline(never)]
    pub(super) fn handle(
        &mut self,
        event: Event,
        sent_close: Option<&CloseFrame>,
    ) -> Option<Box<CloseRecord>> {
        match event {
            Event::Message(message) => {
                self.counters.received_message();
                self.dispatch(message);
                None
            }
            // Everything else in a frame of its own: a message's path stays shallow.
            other => self.handle_other(other, sent_close),
        }
    }

    /// [`Reader::handle`] for every event but a whole message.
    #[inline(never)]
    fn handle_other(
        &mut self,
        event: Event,
        sent_close: Option<&CloseFrame>,
    ) -> Option<Box<CloseRecord>> {
        let id = self.id;
        match event {
            Event::Frame { header, offset } => trace!("peer {id} ← {header} (at byte {offset})"),
            Event::Message(message) => self.dispatch(message),
            Event::Ping(payload) => {
                debug!("peer {id}: ping of {} bytes, pong queued", payload.len());
                self.count_control_frame();
            }
            Event::Pong(payload) => {
                debug!("peer {id}: pong of {} bytes", payload.len());
                self.count_control_frame();
            }
            Event::Closed(close) => {
                return Some(Box::new(CloseRecord::handshake(&close, sent_close)))
            }
            Event::Failed { error, offset } => {
                return Some(Box::new(CloseRecord::protocol_error(&error, offset)))
            }
        }
        None
    }

    /// A whole message: its session reads it first, on this thread ([`Session::read`]), and
    /// answers it here, hands the hub what its app needs, or asks for a policy close. What
    /// the client sends after a policy close is dropped.
    #[inline(never)]
    pub(super) fn dispatch(&mut self, message: Message) {
        if self.closing_for_policy {
            return;
        }
        #[cfg(feature = "test-hooks")]
        self.inject_fault(&message);
        // Each outcome is a call of its own: this frame stays small, so that the stack an
        // echo touches stays within the two pages an idle connection keeps.
        match self.session.read(message) {
            Reading::Reply(reply) => self.reply(reply),
            Reading::Hub(input) => self.send_to_hub(input),
            Reading::Close(reason) => self.refuse(reason),
            Reading::Nothing => {}
        }
    }

    /// The session's input for its app, to the hub.
    #[inline(never)]
    fn send_to_hub(&mut self, input: Input) {
        if let Some(len) = input.relayed_len().filter(|&len| len > self.max_relay()) {
            return self.refuse_relay(len);
        }
        self.shared
            .hub_send(Command::Message { id: self.id, input });
    }

    /// The session asked for a policy close: the client kept sending past its rate.
    #[cold]
    #[inline(never)]
    fn refuse(&mut self, reason: String) {
        metrics().rate_limit_close(RateLimit::Messages);
        self.close_for_policy(reason);
    }

    /// The largest message relayed to other clients: half of what a receiver's backlog may
    /// hold (`--max-backlog-bytes`), so that two relays back to back fit beside each other in
    /// the outbox of a receiver that reads as fast as it can. A larger one would make every
    /// receiver a slow consumer (1008) for its sender's sake, out of a few KiB when compressed.
    fn max_relay(&self) -> usize {
        self.shared.config.max_backlog_bytes / 2
    }

    /// A relay over [`Reader::max_relay`]: its sender, not the receivers, is closed with 1009,
    /// and nothing is relayed. What the client sends after it is dropped.
    #[cold]
    #[inline(never)]
    fn refuse_relay(&mut self, len: usize) {
        if std::mem::replace(&mut self.closing_for_policy, true) {
            return;
        }
        let reason = format!(
            "§10.4 a relay of {len} bytes is over {} (--max-backlog-bytes / 2)",
            self.max_relay()
        );
        info!("peer {}: closing with 1009: {reason}", self.id);
        metrics().relay_refused();
        self.outbox.control(Control::Close {
            code: CloseCode::MESSAGE_TOO_BIG,
            reason,
            discard_queued: false,
        });
    }

    /// `--max-control-rate`: a Ping/Pong flood is closed with 1008.
    pub(super) fn count_control_frame(&mut self) {
        if !self.closing_for_policy && !self.control_rate.count(Instant::now()) {
            let limit = self.shared.config.max_control_rate;
            metrics().rate_limit_close(RateLimit::Control);
            self.close_for_policy(format!(
                "§10.4 control frame flood: over {limit} per second"
            ));
        }
    }

    /// Starts the close handshake with 1008, once: every excess frame that follows would
    /// otherwise queue (and log) another Close.
    pub(super) fn close_for_policy(&mut self, reason: String) {
        if std::mem::replace(&mut self.closing_for_policy, true) {
            return;
        }
        info!("peer {}: closing with 1008: {reason}", self.id);
        self.outbox.control(Control::Close {
            code: CloseCode::POLICY_VIOLATION,
            reason,
            discard_queued: false,
        });
    }

    /// Test builds can make this thread panic on purpose (`Config::panic_on_text`).
    #[inline(never)]
    #[cfg(feature = "test-hooks")]
    pub(super) fn inject_fault(&self, message: &Message) {
        if let (Some(trigger), Message::Text(text)) = (&self.shared.config.panic_on_text, message) {
            if trigger == text {
                panic!("fault injection: {trigger:?} received");
            }
        }
    }
}
