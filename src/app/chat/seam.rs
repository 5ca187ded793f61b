//! The chat at the server's seam: [`Chat`] as the hub's [`App`], and [`ChatSession`], which
//! reads each client's messages on its own reader thread: the rate limit first, then the JSON.

use std::time::Instant;

use super::{Chat, ChatConfig, ChatError, ClientCommand, Delivery};
use crate::app::rate::{Metered, Verdict};
use crate::app::seam::{App, Context, Output, Published, Reading, Session};
use crate::app::{ClientId, Endpoint, Input};
use crate::protocol::Message;

/// Each delivery as one Text message: the event serialized once, for all its recipients.
fn outputs(deliveries: Vec<Delivery>) -> Vec<Output> {
    deliveries
        .into_iter()
        .map(|delivery| Output::Send {
            to: delivery.to,
            message: Message::Text(delivery.event.to_json()),
        })
        .collect()
}

impl App for Chat {
    fn join(&mut self, cx: &Context<'_>, id: ClientId, endpoint: &Endpoint) -> Vec<Output> {
        let Endpoint::Chat { query } = endpoint else {
            return Vec::new();
        };
        outputs(self.connect(id, query.clone(), cx.now_ms))
    }

    fn message(&mut self, cx: &Context<'_>, id: ClientId, input: Input) -> Vec<Output> {
        let Input::Chat(command) = input else {
            return Vec::new();
        };
        outputs(self.receive(id, command, cx.now_ms))
    }

    fn leave(&mut self, _cx: &Context<'_>, id: ClientId) -> Vec<Output> {
        outputs(self.disconnect(id))
    }

    fn tick(&mut self, _cx: &Context<'_>) -> Vec<Output> {
        outputs(Chat::tick(self))
    }

    fn publish(
        &mut self,
        cx: &Context<'_>,
        channel: &str,
        text: &str,
    ) -> Option<Result<Published, String>> {
        if !self.publishes_to(channel) {
            return None;
        }
        Some(
            Chat::publish(self, channel, text, cx.now_ms).map(|(deliveries, recipients)| {
                Published {
                    outputs: outputs(deliveries),
                    recipients,
                }
            }),
        )
    }
}

/// Reads a chat client's message: JSON text (sizes checked first), or why it is refused.
pub fn read_command(message: &Message) -> Result<ClientCommand, ChatError> {
    match message {
        Message::Text(text) => ClientCommand::parse(text, ChatConfig::default().max_text_bytes),
        Message::Binary(_) => Err(ChatError::BinaryUnsupported),
    }
}

/// One `/chat` connection's reader side: `--rate-limit` messages a second (a token bucket that
/// holds two seconds' worth), then the command parsed.
#[derive(Debug, Clone)]
pub struct ChatSession {
    meter: Metered,
}

impl ChatSession {
    /// A session allowed `limit` messages a second.
    pub fn new(limit: u32, now: Instant) -> Self {
        Self {
            meter: Metered::new(limit, now),
        }
    }
}

impl Session for ChatSession {
    fn read(&mut self, message: Message) -> Reading {
        self.read_at(message, Instant::now())
    }
}

impl ChatSession {
    /// Reads `message`, arrived at `now`. A message over the rate gets a `rate_limited` error
    /// event; a client that keeps sending for another second's worth is closed with 1008.
    pub fn read_at(&mut self, message: Message, now: Instant) -> Reading {
        match self.meter.check(now) {
            Verdict::Pass => Reading::Hub(Input::Chat(read_command(&message))),
            Verdict::Refuse => {
                let limit = self.meter.limit();
                let error = ChatError::RateLimited { limit }.to_event().to_json();
                Reading::Reply(Message::Text(error))
            }
            Verdict::Close(reason) => Reading::Close(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_a_command_and_plain_text_a_message_to_general() {
        let mut session = ChatSession::new(10, Instant::now());
        let now = Instant::now();
        assert_eq!(
            session.read_at(Message::Text(r#"{"type":"ping"}"#.into()), now),
            Reading::Hub(Input::Chat(Ok(ClientCommand::Ping)))
        );
        assert_eq!(
            session.read_at(Message::Text("hi".into()), now),
            Reading::Hub(Input::Chat(Ok(ClientCommand::Message {
                channel: "general".into(),
                text: "hi".into()
            })))
        );
        assert_eq!(
            session.read_at(Message::Binary(vec![1]), now),
            Reading::Hub(Input::Chat(Err(ChatError::BinaryUnsupported)))
        );
    }

    #[test]
    fn a_mebibyte_of_json_is_refused_unparsed_on_the_reader() {
        // Malformed past the `{`: a JSON parser would answer `bad_json`, so `text_too_long`
        // shows the size check refused it before any parsing (and before the hub).
        let huge = format!("{{{}", " ".repeat(1024 * 1024));
        let error = read_command(&Message::Text(huge)).expect_err("1 MiB must be refused");
        assert!(
            matches!(error, ChatError::CommandTooLong { .. }),
            "{error:?}"
        );
        assert_eq!(error.code(), "text_too_long");
    }

    #[test]
    fn over_the_rate_an_error_then_after_a_second_more_a_close() {
        let now = Instant::now();
        let mut session = ChatSession::new(2, now);
        let text = || Message::Text("hi".into());
        // The bucket holds two seconds' worth.
        for _ in 0..4 {
            assert!(matches!(session.read_at(text(), now), Reading::Hub(_)));
        }
        // Then one error per message, for a second's worth...
        for _ in 0..2 {
            let Reading::Reply(Message::Text(error)) = session.read_at(text(), now) else {
                panic!("an error event expected");
            };
            assert!(error.contains("rate_limited"), "{error}");
        }
        // ...and the next one closes.
        assert_eq!(
            session.read_at(text(), now),
            Reading::Close("rate limit: over 2 messages per second".into())
        );
    }
}
