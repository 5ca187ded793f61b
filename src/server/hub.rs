//! The hub thread: the one owner of who is connected, on which endpoint, with what name and
//! subscriptions. Connection threads send it [`Command`]s over a crossbeam channel; it runs the
//! apps and fans their output out.
//!
//! Fan-out encodes each outgoing frame **once** into an `Arc<[u8]>` and hands every recipient
//! a reference to the same bytes. It never waits on a client: `try_send` into the client's
//! bounded outbox, and a full outbox makes the client a slow consumer, closed with 1008 and
//! removed (with presence updated), while everyone else keeps receiving every message in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use log::{debug, info, warn};

use super::outbox::{Control, Frame, Outbox, SendError};
use crate::app::broadcast::Broadcast;
use crate::app::chat::{Chat, ChatConfig, ChatQuery, Delivery};
use crate::app::notifications::{self, Notifications};
use crate::app::{ClientId, Endpoint};
use crate::protocol::frame::encode_frame;
use crate::protocol::{CloseCode, Message, Opcode};

/// What connection threads, the HTTP side and timers ask of the hub.
#[derive(Debug)]
pub enum Command {
    /// A client upgraded at `endpoint`; its frames go to `outbox`.
    Join {
        /// The connection's id.
        id: ClientId,
        /// Where it connected.
        endpoint: Endpoint,
        /// Its outbox.
        outbox: Outbox,
    },
    /// A client's connection ended, for `reason`.
    Leave {
        /// The connection's id.
        id: ClientId,
        /// How it ended, for the log.
        reason: String,
    },
    /// A whole message from a client.
    Message {
        /// The sender.
        id: ClientId,
        /// The message.
        message: Message,
    },
    /// `POST /publish/<channel>`: deliver `text`; the reply is the number of recipients.
    Publish {
        /// The chat channel.
        channel: String,
        /// The body.
        text: String,
        /// Where the result goes.
        reply: Sender<Result<usize, String>>,
    },
    /// The `--notify-every` timer fired.
    Notify,
    /// Graceful shutdown: send Close 1001 to everyone.
    Shutdown,
    /// A question for tests and the benchmark: how many clients are connected.
    Count {
        /// Where the answer goes.
        reply: Sender<usize>,
    },
}

/// A registered client.
struct Client {
    endpoint: Endpoint,
    outbox: Outbox,
}

/// The hub's state. Runs on one thread; see [`run`].
pub struct Hub {
    clients: HashMap<ClientId, Client>,
    broadcast: Broadcast,
    chat: Chat,
    notifications: Notifications,
    max_backlog: usize,
}

/// Runs the hub until every sender of `commands` is gone.
pub fn run(commands: &Receiver<Command>, history: usize, max_backlog: usize) {
    let chat = Chat::new(ChatConfig {
        history_limit: history,
        epoch: now_ms(),
        ..ChatConfig::default()
    });
    let mut hub = Hub {
        clients: HashMap::new(),
        broadcast: Broadcast::new(),
        chat,
        notifications: Notifications::new(),
        max_backlog,
    };
    for command in commands {
        hub.handle(command);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Hub {
    fn handle(&mut self, command: Command) {
        match command {
            Command::Join {
                id,
                endpoint,
                outbox,
            } => self.join(id, endpoint, outbox),
            Command::Leave { id, reason } => {
                if self.clients.contains_key(&id) {
                    debug!("hub: client {id} left ({reason})");
                    self.remove(id);
                }
            }
            Command::Message { id, message } => self.message(id, message),
            Command::Publish {
                channel,
                text,
                reply,
            } => {
                let _ = reply.send(self.publish(&channel, &text));
            }
            Command::Notify => {
                let text = self.notifications.periodic_text();
                let json = self.notifications.notify(&text, now_ms());
                let recipients = self.notifications.recipients();
                self.fan_out(&recipients, text_frame(&json));
            }
            Command::Shutdown => {
                info!("hub: closing {} clients with 1001", self.clients.len());
                for client in self.clients.values() {
                    client.outbox.control(Control::Close {
                        code: CloseCode::GOING_AWAY,
                        reason: "server shutting down".into(),
                        discard_queued: false,
                    });
                }
            }
            Command::Count { reply } => {
                let _ = reply.send(self.clients.len());
            }
        }
    }

    fn join(&mut self, id: ClientId, endpoint: Endpoint, outbox: Outbox) {
        debug!("hub: client {id} joined {}", endpoint.name());
        self.clients.insert(
            id,
            Client {
                endpoint: endpoint.clone(),
                outbox,
            },
        );
        match endpoint {
            Endpoint::Echo => {}
            Endpoint::Broadcast { include_self } => self.broadcast.join(id, include_self),
            Endpoint::Chat { query } => {
                let deliveries =
                    self.chat
                        .connect(id, ChatQuery::parse(query.as_deref()), now_ms());
                self.deliver(deliveries);
            }
            Endpoint::Notifications => self.notifications.join(id),
        }
    }

    /// Forgets `id` everywhere, telling chat clients about it.
    fn remove(&mut self, id: ClientId) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        match client.endpoint {
            Endpoint::Echo => {}
            Endpoint::Broadcast { .. } => self.broadcast.leave(id),
            Endpoint::Chat { .. } => {
                let deliveries = self.chat.disconnect(id);
                self.deliver(deliveries);
            }
            Endpoint::Notifications => self.notifications.leave(id),
        }
    }

    fn message(&mut self, id: ClientId, message: Message) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        match client.endpoint {
            Endpoint::Broadcast { .. } => {
                // Verbatim: the same opcode and bytes, encoded once for everyone.
                let frame: Arc<[u8]> = encode_frame(message.opcode(), message.as_bytes()).into();
                let recipients = self.broadcast.recipients(id);
                self.fan_out(&recipients, frame);
            }
            Endpoint::Chat { .. } => {
                let deliveries = match &message {
                    Message::Text(text) => self.chat.receive_text(id, text, now_ms()),
                    Message::Binary(_) => self.chat.receive_binary(id),
                };
                self.deliver(deliveries);
            }
            Endpoint::Echo | Endpoint::Notifications => {
                debug!(
                    "hub: ignoring a message from client {id} on {}",
                    client.endpoint.name()
                );
            }
        }
    }

    fn publish(&mut self, channel: &str, text: &str) -> Result<usize, String> {
        let now = now_ms();
        let (deliveries, mut recipients) = self.chat.publish(channel, text, now)?;
        self.deliver(deliveries);
        if channel == notifications::CHANNEL {
            let json = self.notifications.notify(text, now);
            let listeners = self.notifications.recipients();
            recipients += listeners.len();
            self.fan_out(&listeners, text_frame(&json));
        }
        Ok(recipients)
    }

    /// Sends each chat delivery: serialized and encoded once, shared by its recipients.
    fn deliver(&mut self, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            let frame = text_frame(&delivery.event.to_json());
            self.fan_out(delivery.to.as_slice(), frame);
        }
    }

    /// Queues `frame` for each recipient without waiting; slow consumers are closed with 1008.
    fn fan_out(&mut self, recipients: &[ClientId], frame: Arc<[u8]>) {
        let mut slow = Vec::new();
        for id in recipients {
            let Some(client) = self.clients.get(id) else {
                continue;
            };
            match client.outbox.try_send(Frame::Shared(Arc::clone(&frame))) {
                Ok(()) => {}
                Err(SendError::Full) => slow.push(*id),
                Err(SendError::Gone) => {} // its Leave is on the way
            }
        }
        for id in slow {
            self.drop_slow_consumer(id);
        }
    }

    fn drop_slow_consumer(&mut self, id: ClientId) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let reason = format!(
            "slow consumer: {} messages queued, limit {}",
            client.outbox.backlog(),
            self.max_backlog
        );
        warn!("hub: closing client {id} with 1008: {reason}");
        client.outbox.control(Control::Close {
            code: CloseCode::POLICY_VIOLATION,
            reason,
            discard_queued: true,
        });
        self.remove(id);
    }
}

/// One Text frame, encoded once, to be shared.
fn text_frame(text: &str) -> Arc<[u8]> {
    encode_frame(Opcode::Text, text.as_bytes()).into()
}
