//! The hub thread: the one owner of who is connected, on which endpoint, with what name and
//! subscriptions. Connection threads send it [`Command`]s over a crossbeam channel; it runs the
//! apps and fans their output out.
//!
//! Fan-out encodes each outgoing frame **once** into an `Arc<[u8]>` and hands every recipient
//! a reference to the same bytes. It never waits on a client: `try_send` into the client's
//! bounded outbox, and an outbox over `--max-backlog` messages or `--max-backlog-bytes` bytes
//! makes the client a slow consumer, closed with 1008 and removed (with presence updated),
//! while everyone else keeps receiving every message in order. Broadcasts for the same
//! recipients are written by a [`Sweep`], a chunk of recipients at a time between commands, so
//! messages that arrive meanwhile leave in the same writes (one per recipient).
//!
//! # The hub's two rules
//!
//! 1. **Nothing the hub does for one command re-enters the hub.** Fan-out never removes a
//!    client; it puts a full outbox on the slow-consumer worklist. After the command, the hub
//!    closes every client on the list, removes them all from the registry, and only then tells
//!    the apps (one presence `leave` each, with the count after it). New full outboxes found
//!    while sending that presence go on the same list, worked off in the same loop: however
//!    many clients stop reading at once, the stack stays as deep as for one.
//! 2. **Nothing blocks the hub:** no socket write that can wait (`try_send` into an outbox, or,
//!    to a connection with nothing queued and no writer running, one `send` with
//!    `MSG_DONTWAIT` whose unsent rest is queued), no thread creation (an idle connection's
//!    writer is started by the [`spawner`](super::spawner) thread), no parsing of client JSON
//!    (the reader thread does that), no network round trip.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use log::{debug, info, warn};

use super::conn::lanes::{Control, Frame};
use super::conn::outbox::{Outbox, Overflow, SendError};
use super::conn::tap::Tap;
use super::metrics::{metrics, HubTimer};
use super::sweep::Sweep;
use crate::app::broadcast::Broadcast;
use crate::app::chat::{Chat, ChatConfig, ChatQuery, Delivery};
use crate::app::inspect::{Connections, Decision, InspectorCommand};
use crate::app::notifications::{self, Notifications};
use crate::app::tutorial::{Output, Tutorial, TutorialApp};
use crate::app::Input;
use crate::app::{ClientId, Endpoint};
use crate::protocol::frame::encode_frame;
use crate::protocol::{CloseCode, Opcode};
use serde_json::json;

/// What connection threads, the HTTP side and timers ask of the hub.
#[derive(Debug)]
pub enum Command {
    /// A client upgraded at `endpoint`; its frames go to `outbox`.
    Join {
        /// Where it connected.
        endpoint: Endpoint,
        /// Its outbox.
        outbox: Outbox,
        /// Its Inspector tap, which also says who it is (id, address, `tap=` token).
        tap: Arc<Tap>,
    },
    /// A client's connection ended, for `reason`.
    Leave {
        /// The connection's id.
        id: ClientId,
        /// How it ended, for the log.
        reason: String,
    },
    /// A whole message from a client, already typed by its reader thread
    /// ([`Input::from_message`]): the hub never parses a client's bytes.
    Message {
        /// The sender.
        id: ClientId,
        /// The message, as its endpoint's app reads it.
        input: Input,
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
    tap: Arc<Tap>,
    /// On the slow-consumer worklist: nothing more is queued for it.
    is_slow: bool,
}

/// What the hub needs to know of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// `--history`.
    pub history: usize,
    /// `--max-backlog`: the most messages in one broadcast batch.
    pub max_backlog: usize,
    /// `--max-backlog-bytes`: the most bytes in one broadcast batch (with `MAX_BATCH_BYTES`).
    pub max_backlog_bytes: usize,
    /// `wsmith tutorial NAME`: the tutorial's app, if one runs.
    pub tutorial: Option<Tutorial>,
}

impl From<&crate::config::Config> for HubConfig {
    fn from(config: &crate::config::Config) -> Self {
        Self {
            history: config.history,
            max_backlog: config.max_backlog,
            max_backlog_bytes: config.max_backlog_bytes,
            tutorial: config.tutorial,
        }
    }
}

/// The hub's state. Runs on one thread; see [`run`].
pub struct Hub {
    clients: HashMap<ClientId, Client>,
    broadcast: Broadcast,
    chat: Chat,
    notifications: Notifications,
    /// The server of `wsmith tutorial NAME`, if that is what runs.
    tutorial: Option<TutorialApp>,
    /// Which connection each Inspector watches.
    watching: HashMap<ClientId, ClientId>,
    /// Broadcast frames for the same recipients, being written (see [`run`]).
    pending: Option<Sweep>,
    /// Slow consumers found by fan-out, not yet closed and removed (rule 1 of the module doc).
    slow: Vec<(ClientId, Overflow)>,
    max_backlog: usize,
    max_batch_bytes: usize,
}

/// Runs the hub until every sender of `commands` is gone.
pub fn run(commands: &Receiver<Command>, config: &HubConfig) {
    let chat = Chat::new(ChatConfig {
        history_limit: config.history,
        epoch: now_ms(),
        ..ChatConfig::default()
    });
    let mut hub = Hub {
        clients: HashMap::new(),
        broadcast: Broadcast::new(),
        chat,
        notifications: Notifications::new(),
        tutorial: config.tutorial.map(TutorialApp::new),
        watching: HashMap::new(),
        pending: None,
        slow: Vec::new(),
        max_backlog: config.max_backlog,
        max_batch_bytes: MAX_BATCH_BYTES.min(config.max_backlog_bytes),
    };
    // Everything already waiting is handled before the hub sleeps again, so consecutive
    // broadcasts can leave as one batch: one wake-up and one write per recipient, not one per
    // message. A broadcast is written a chunk of recipients at a time, with the commands that
    // arrived in between taken after each chunk: the hub sleeps only when nothing is left to
    // write.
    // Each command is timed for `/metrics`, the chunk written after it counting in its time;
    // chunks written while no command came are not commands and are not timed.
    loop {
        let command = if hub.pending.is_some() {
            match commands.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            match commands.recv() {
                Ok(command) => Some(command),
                Err(_) => break,
            }
        };
        let mut timer = command.is_some().then(HubTimer::start);
        if let Some(command) = command {
            hub.handle(command);
            for command in commands.try_iter().take(DRAIN_COMMANDS) {
                timer.as_mut().map(HubTimer::lap);
                hub.handle(command);
            }
        }
        hub.advance_broadcast(SWEEP_CHUNK);
        hub.drop_slow_consumers();
        timer.as_mut().map(HubTimer::lap);
    }
    hub.flush_broadcast();
}

/// Commands handled between two flushes of the broadcast batch.
const DRAIN_COMMANDS: usize = 256;
/// The most bytes of broadcast frames gathered into one shared batch.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Recipients a broadcast sweep writes to between two looks at the commands.
const SWEEP_CHUNK: usize = 16;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Hub {
    /// Runs one command to the end: its output queued, the slow consumers it found removed.
    fn handle(&mut self, command: Command) {
        self.run_command(command);
        self.drop_slow_consumers();
    }

    fn run_command(&mut self, command: Command) {
        match command {
            Command::Join {
                endpoint,
                outbox,
                tap,
            } => self.join(endpoint, outbox, tap),
            Command::Leave { id, reason } => {
                if self.clients.contains_key(&id) {
                    debug!("hub: client {id} left ({reason})");
                    self.remove(id);
                }
            }
            Command::Message { id, input } => self.message(id, input),
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
                let outputs = self.tutorial.as_mut().map(TutorialApp::tick);
                self.tutorial_outputs(outputs);
            }
            Command::Shutdown => {
                // What was broadcast before goes out before the Close.
                self.flush_broadcast();
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

    fn join(&mut self, endpoint: Endpoint, outbox: Outbox, tap: Arc<Tap>) {
        let id = tap.info.conn;
        debug!("hub: client {id} joined {}", endpoint.name());
        self.clients.insert(
            id,
            Client {
                endpoint: endpoint.clone(),
                outbox,
                tap,
                is_slow: false,
            },
        );
        match endpoint {
            Endpoint::Echo | Endpoint::Inspect | Endpoint::Lab => {}
            Endpoint::Broadcast { include_self } => self.broadcast.join(id, include_self),
            Endpoint::Chat { query } => {
                let deliveries =
                    self.chat
                        .connect(id, ChatQuery::parse(query.as_deref()), now_ms());
                self.deliver(deliveries);
            }
            Endpoint::Notifications => self.notifications.join(id),
            Endpoint::Tutorial(_) => {
                let outputs = self.tutorial.as_mut().map(|app| app.connect(id));
                self.tutorial_outputs(outputs);
            }
        }
    }

    /// Forgets `id` everywhere, telling chat clients about it.
    fn remove(&mut self, id: ClientId) {
        if let Some(client) = self.clients.remove(&id) {
            self.forget(id, &client);
        }
    }

    /// Tells the apps that `id`, already out of the registry, is gone.
    fn forget(&mut self, id: ClientId, client: &Client) {
        self.forget_watches(id, client);
        match &client.endpoint {
            Endpoint::Echo | Endpoint::Inspect | Endpoint::Lab => {}
            Endpoint::Broadcast { .. } => self.broadcast.leave(id),
            Endpoint::Chat { .. } => {
                let deliveries = self.chat.disconnect(id);
                self.deliver(deliveries);
            }
            Endpoint::Notifications => self.notifications.leave(id),
            Endpoint::Tutorial(_) => {
                let outputs = self.tutorial.as_mut().map(|app| app.disconnect(id));
                self.tutorial_outputs(outputs);
            }
        }
    }

    fn message(&mut self, id: ClientId, input: Input) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        match input {
            Input::Broadcast(message) => {
                // Verbatim: the same opcode and bytes, encoded once for everyone.
                let frame = encode_frame(message.opcode(), message.as_bytes());
                let recipients = self.broadcast.recipients(id);
                self.gather_broadcast(recipients, frame);
            }
            Input::Chat(command) => {
                let deliveries = self.chat.receive(id, command, now_ms());
                self.deliver(deliveries);
            }
            Input::Inspect(command) => {
                if let Err(message) = command.and_then(|command| self.inspect(id, command)) {
                    self.send_json(id, &json!({"type": "error", "message": message}));
                }
            }
            Input::Tutorial(input) => {
                let outputs = self.tutorial.as_mut().map(|app| app.receive(id, input));
                self.tutorial_outputs(outputs);
            }
            Input::Ignored => {
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

    /// Runs an Inspector's command: the rules are the app's ([`InspectorCommand::decide`]);
    /// the hub attaches the tap and answers.
    fn inspect(&mut self, inspector: ClientId, command: InspectorCommand) -> Result<(), String> {
        match command.decide(inspector, &self.clients)? {
            Decision::Watch(target) => {
                self.unwatch(inspector);
                if let (Some(client), Some(watcher)) =
                    (self.clients.get(&target), self.clients.get(&inspector))
                {
                    client.tap.attach(inspector, watcher.outbox.clone());
                }
                self.watching.insert(inspector, target);
            }
            Decision::Unwatch => self.unwatch(inspector),
            Decision::List(ids) => {
                let connections: Vec<_> = ids
                    .iter()
                    .filter_map(|id| self.clients.get(id).map(|c| (id, c)))
                    .map(|(&id, c)| {
                        json!({"conn": id, "endpoint": c.endpoint.name(),
                               "peer": c.tap.info.peer.map(|p| p.to_string()),
                               "tapped": c.tap.info.token.is_some(), "watched": c.tap.is_active()})
                    })
                    .collect();
                self.send_json(
                    inspector,
                    &json!({"type": "connections", "connections": connections}),
                );
            }
        }
        Ok(())
    }

    /// `inspector` stops watching whatever it watched.
    fn unwatch(&mut self, inspector: ClientId) {
        if let Some(target) = self.watching.remove(&inspector) {
            if let Some(client) = self.clients.get(&target) {
                client.tap.detach(inspector);
            }
            self.send_json(
                inspector,
                &json!({"type": "detached", "conn": target, "why": "unwatched"}),
            );
        }
    }

    /// `id` left: it no longer watches, and whoever watched it is told.
    fn forget_watches(&mut self, id: ClientId, client: &Client) {
        if let Some(target) = self.watching.remove(&id) {
            if let Some(watched) = self.clients.get(&target) {
                watched.tap.detach(id);
            }
        }
        let watchers: Vec<ClientId> = self
            .watching
            .iter()
            .filter(|&(_, &t)| t == id)
            .map(|(&w, _)| w)
            .collect();
        for watcher in watchers {
            self.watching.remove(&watcher);
            client.tap.detach(watcher);
            self.send_json(
                watcher,
                &json!({"type": "detached", "conn": id, "why": "connection closed"}),
            );
        }
    }

    /// One JSON event to one client.
    fn send_json(&mut self, id: ClientId, event: &serde_json::Value) {
        self.fan_out(&[id], text_frame(&event.to_string()));
    }

    /// Sends each chat delivery: serialized and encoded once, shared by its recipients.
    fn deliver(&mut self, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            let frame = text_frame(&delivery.event.to_json());
            self.fan_out(delivery.to.as_slice(), frame);
        }
    }

    /// Does what the tutorial's server asked: each message encoded once for its recipients,
    /// each console line logged (where the tutorial's `console.log` prints).
    fn tutorial_outputs(&mut self, outputs: Option<Vec<Output>>) {
        for output in outputs.unwrap_or_default() {
            match output {
                Output::Send { to, message } => {
                    let frame = encode_frame(message.opcode(), message.as_bytes());
                    self.fan_out(&to, frame.into());
                }
                Output::Console(line) => info!(target: "tutorial", "{line}"),
            }
        }
    }

    /// Adds a broadcast frame to the sweep under way (see [`Sweep`]), or starts a new sweep
    /// when the recipients differ or the sweep is full (after finishing the one under way).
    fn gather_broadcast(&mut self, recipients: Vec<ClientId>, frame: Vec<u8>) {
        let room_for_it = |sweep: &Sweep| {
            sweep.recipients() == recipients
                && sweep.messages() < self.max_backlog
                && sweep.bytes() + frame.len() <= self.max_batch_bytes
        };
        match self.pending.as_mut() {
            Some(sweep) if room_for_it(sweep) => sweep.push(&frame),
            _ => {
                self.flush_broadcast();
                self.pending = Some(Sweep::new(recipients, frame));
            }
        }
    }

    /// Writes the broadcast sweep under way to `writes` more recipients; drops it once
    /// everyone has had everything.
    fn advance_broadcast(&mut self, writes: usize) {
        let Hub {
            pending,
            clients,
            slow,
            ..
        } = self;
        let Some(sweep) = pending.as_mut() else {
            return;
        };
        sweep.advance(writes, |id, frame| {
            send_to(clients, slow, id, frame);
        });
        if sweep.is_done() {
            *pending = None;
        }
    }

    /// Finishes the broadcast sweep under way: everyone gets every frame gathered so far.
    fn flush_broadcast(&mut self) {
        self.advance_broadcast(usize::MAX);
    }

    /// Queues `frame` for each recipient without waiting; slow consumers are closed with 1008.
    fn fan_out(&mut self, recipients: &[ClientId], frame: Arc<[u8]>) {
        self.fan_out_frame(recipients, Frame::Shared(frame.into()));
    }

    /// Queues `frame` for each recipient without waiting; a full outbox goes on the
    /// slow-consumer worklist (never removed from here: rule 1).
    fn fan_out_frame(&mut self, recipients: &[ClientId], frame: Frame) {
        // Anything gathered earlier goes first: every client sees the hub's order.
        self.flush_broadcast();
        for &id in recipients {
            send_to(&mut self.clients, &mut self.slow, id, frame.clone());
        }
    }

    /// Works off the slow-consumer worklist: closes every client on it with 1008, removes them
    /// all, then sends the presence their leaving causes. Slow consumers found while sending it
    /// join the list and are handled by the next turn of this loop, never by recursion.
    fn drop_slow_consumers(&mut self) {
        while !self.slow.is_empty() {
            let slow = std::mem::take(&mut self.slow);
            for (id, overflow) in &slow {
                let Some(client) = self.clients.get(id) else {
                    continue;
                };
                let reason = format!("slow consumer: {overflow}");
                warn!("hub: closing client {id} with 1008: {reason}");
                metrics().slow_consumer(overflow.unit);
                client.outbox.control(Control::Close {
                    code: CloseCode::POLICY_VIOLATION,
                    reason,
                    discard_queued: true,
                });
            }
            let removed: Vec<(ClientId, Client)> = slow
                .iter()
                .filter_map(|(id, _)| Some((*id, self.clients.remove(id)?)))
                .collect();
            for (id, client) in removed {
                self.forget(id, &client);
            }
        }
    }
}

/// Queues `frame` for client `id` without waiting; a full outbox puts it on the slow-consumer
/// worklist `slow` (rule 1: never removed from here).
fn send_to(
    clients: &mut HashMap<ClientId, Client>,
    slow: &mut Vec<(ClientId, Overflow)>,
    id: ClientId,
    frame: Frame,
) {
    let Some(client) = clients.get_mut(&id) else {
        return;
    };
    if client.is_slow {
        return; // its queue is dropped with the Close
    }
    match client.outbox.try_send(frame) {
        Ok(()) => {}
        Err(SendError::Full(overflow)) => {
            client.is_slow = true;
            slow.push((id, overflow));
        }
        Err(SendError::Gone) => {} // its Leave is on the way
    }
}

/// What the Inspector's rules ask about the registry.
impl Connections for HashMap<ClientId, Client> {
    fn endpoint(&self, id: ClientId) -> Option<&Endpoint> {
        self.get(&id).map(|c| &c.endpoint)
    }

    fn is_loopback(&self, id: ClientId) -> bool {
        self.get(&id)
            .is_some_and(|c| c.tap.info.peer.is_some_and(|p| p.ip().is_loopback()))
    }

    fn carrying_token(&self, token: &str) -> Vec<ClientId> {
        self.iter()
            .filter(|(_, c)| c.tap.info.token.as_deref() == Some(token))
            .map(|(&id, _)| id)
            .collect()
    }

    fn ids(&self) -> Vec<ClientId> {
        self.keys().copied().collect()
    }
}

/// One Text frame, encoded once, to be shared.
fn text_frame(text: &str) -> Arc<[u8]> {
    encode_frame(Opcode::Text, text.as_bytes()).into()
}
