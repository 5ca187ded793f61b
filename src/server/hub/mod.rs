//! The hub thread: the one owner of who is connected and on which endpoint. Connection
//! threads send it [`Command`]s over a crossbeam channel; it hands each to the app of the
//! client's endpoint ([`App`], routed by [`Endpoint::index`], never by name)
//! and carries out what the app answers: each message encoded once and fanned out, an
//! Inspector's tap attached or detached.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Command`], the loop ([`run`]), routing to the apps, fan-out, slow consumers |
//! | `registry.rs` | who is connected; what the apps may ask of it; what the hub needs of an outbox |
//! | `sweep.rs` | broadcast frames for the same recipients, written a chunk of recipients at a time |
//! | `tests.rs` | the hub driven with fake outboxes: order, slow consumers, sweeps, shutdown |
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

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use log::{debug, error, info, warn};

use crate::app::{self, App, AppsConfig, ClientId, Context, Endpoint, Input, Output, PublishError};
use crate::explain::inspector::InspectorEvent;
use crate::protocol::deflate::encode_message;
use crate::protocol::{CloseCode, Message};
use crate::server::claim::Claim;
use crate::server::conn::lanes::{Control, Frame};
use crate::server::conn::outbox::{Outbox, Overflow, SendError};
use crate::server::conn::tap::Tap;
use crate::server::metrics::{metrics, Budget, HubTimer};
use registry::{Client, Mailbox, Registry};
use sweep::Sweep;

mod registry;
pub(crate) mod sweep;
#[cfg(test)]
mod tests;

/// What connection threads, the HTTP side and timers ask of the hub. `O` is the clients'
/// outbox (a fake in the hub's unit tests).
#[derive(Debug)]
pub(crate) enum Command<O = Outbox> {
    /// A client upgraded at `endpoint`; its frames go to `outbox`.
    Join {
        /// Where it connected, with what its URL asked for.
        endpoint: Endpoint,
        /// Its outbox.
        outbox: O,
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
    /// A whole message from a client, already read by its [`Session`](crate::app::Session)
    /// on its reader thread: the hub never parses a client's bytes.
    Message {
        /// The sender.
        id: ClientId,
        /// The message, as its endpoint's app reads it.
        input: Input,
    },
    /// `POST /publish/<channel>`: deliver `text`; the reply is the number of recipients.
    Publish {
        /// The channel.
        channel: String,
        /// The body.
        text: String,
        /// Where the result goes.
        reply: Sender<Result<usize, PublishError>>,
        /// Taken by the hub before it publishes; a requester that gave up first (and
        /// answered 503) has it dropped, never delivered late.
        claim: Claim,
    },
    /// The `--notify-every` timer fired.
    Notify,
    /// Graceful shutdown: send Close 1001 to everyone.
    Shutdown,
    /// A question for tests: how many clients are connected.
    #[cfg(feature = "test-hooks")]
    Count {
        /// Where the answer goes.
        reply: Sender<usize>,
    },
}

/// What the hub needs to know of the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HubConfig {
    /// What the apps take from it.
    pub(crate) apps: AppsConfig,
    /// `--max-backlog`: the most messages in one broadcast batch.
    pub(crate) max_backlog: usize,
    /// `--max-backlog-bytes`: the most bytes in one broadcast batch (with `MAX_BATCH_BYTES`).
    pub(crate) max_backlog_bytes: usize,
    /// `--max-watchers`: Inspectors watching one connection at once.
    pub(crate) max_watchers: usize,
}

impl From<&crate::config::Config> for HubConfig {
    fn from(config: &crate::config::Config) -> Self {
        Self {
            apps: AppsConfig {
                history: config.history,
                publish_creates: config.publish_creates,
                max_replay_bytes: config.max_replay_bytes,
                presence_lines_below: config.presence_lines_below,
                epoch: now_ms(),
                tutorial: config.tutorial,
            },
            max_backlog: config.max_backlog,
            max_backlog_bytes: config.max_backlog_bytes,
            max_watchers: config.max_watchers,
        }
    }
}

/// The hub's state. Runs on one thread; see [`run`].
pub(crate) struct Hub<O: Mailbox = Outbox> {
    clients: Registry<O>,
    /// One app per endpoint, in the order of [`app::NAMES`] ([`Endpoint::index`]).
    apps: Vec<Box<dyn App>>,
    /// Which connection each Inspector watches.
    watching: std::collections::HashMap<ClientId, ClientId>,
    /// Broadcast frames for the same recipients, being written (see [`run`]).
    pending: Option<Sweep>,
    /// Slow consumers found by fan-out, not yet closed and removed (rule 1 of the module doc).
    slow: Vec<(ClientId, Overflow)>,
    max_backlog: usize,
    max_batch_bytes: usize,
    /// `--max-watchers`.
    max_watchers: usize,
    /// After [`Command::Shutdown`]: everyone has been asked to close with 1001, and nothing new
    /// is relayed (a leave's presence, a late message), so no client closing for the shutdown
    /// can become a slow consumer.
    shutting_down: bool,
}

/// Runs the hub until every sender of `commands` is gone.
pub(crate) fn run(commands: &Receiver<Command>, config: &HubConfig) {
    let mut hub = Hub::new(config);
    // Everything already waiting is handled before the hub sleeps again, so consecutive
    // broadcasts can leave as one batch: one wake-up and one write per recipient, not one per
    // message. A broadcast is written a chunk of recipients at a time, with the commands that
    // arrived in between taken after each chunk: the hub sleeps only when nothing is left to
    // write.
    // Each command is timed for `/metrics`, the chunk written after it counting in its time;
    // chunks written while no command came are not commands and are not timed.
    // The apps' tick (work coalesced over a second, such as a large room's count) runs
    // between commands when it is due: one clock read per round.
    let mut next_tick = Instant::now() + TICK;
    loop {
        let command = if hub.pending.is_some() {
            match commands.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            match commands.recv_deadline(next_tick) {
                Ok(command) => Some(command),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        if Instant::now() >= next_tick {
            hub.tick();
            next_tick = Instant::now() + TICK;
        }
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

/// How often the apps' [`App::tick`] runs.
const TICK: Duration = Duration::from_secs(1);
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

impl<O: Mailbox> Hub<O> {
    /// A hub with nobody connected, running the apps `config` asks for.
    fn new(config: &HubConfig) -> Self {
        Self {
            clients: Registry::new(),
            apps: app::apps(&config.apps),
            watching: std::collections::HashMap::new(),
            pending: None,
            slow: Vec::new(),
            max_backlog: config.max_backlog,
            max_batch_bytes: MAX_BATCH_BYTES.min(config.max_backlog_bytes),
            max_watchers: config.max_watchers,
            shutting_down: false,
        }
    }

    /// Runs one command to the end: its output queued, the slow consumers it found removed.
    /// The apps' tick: what they coalesced over the last second goes out now.
    fn tick(&mut self) {
        let outputs = self.each_app(|app, cx| app.tick(cx));
        self.carry_out(outputs);
        self.drop_slow_consumers();
    }

    fn handle(&mut self, command: Command<O>) {
        self.run_command(command);
        self.drop_slow_consumers();
    }

    fn run_command(&mut self, command: Command<O>) {
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
                claim,
            } => {
                if claim.take() {
                    let answer = if self.shutting_down {
                        Err(PublishError::ShuttingDown)
                    } else {
                        self.publish(&channel, &text)
                    };
                    let _ = reply.send(answer);
                } else {
                    debug!("hub: publish to {channel} dropped: its requester gave up");
                    metrics().publish_expired();
                }
            }
            Command::Notify => {
                let outputs = self.each_app(|app, cx| app.timer(cx));
                self.carry_out(outputs);
            }
            Command::Shutdown => {
                // What was broadcast before goes out before the Close.
                self.flush_broadcast();
                self.shutting_down = true;
                info!("hub: closing {} clients with 1001", self.clients.len());
                for client in self.clients.values() {
                    client.outbox.control(going_away());
                }
            }
            #[cfg(feature = "test-hooks")]
            Command::Count { reply } => {
                let _ = reply.send(self.clients.len());
            }
        }
    }

    fn join(&mut self, endpoint: Endpoint, outbox: O, tap: Arc<Tap>) {
        let id = tap.info.conn;
        if self.shutting_down {
            // Upgraded as the server began to shut down: closed like everyone else.
            outbox.control(going_away());
            return;
        }
        debug!("hub: client {id} joined {}", endpoint.name());
        let index = endpoint.index();
        self.clients.insert(
            id,
            Client {
                endpoint,
                outbox,
                tap,
                is_slow: false,
            },
        );
        let outputs = self.call(index, |app, cx, clients| {
            let endpoint = clients.get(&id).map(|c| &c.endpoint);
            endpoint.map_or_else(Vec::new, |endpoint| app.join(cx, id, endpoint))
        });
        self.carry_out(outputs);
    }

    /// Forgets `id` everywhere, telling its app.
    fn remove(&mut self, id: ClientId) {
        if let Some(client) = self.clients.remove(&id) {
            self.forget(id, &client);
        }
    }

    /// Tells the app that `id`, already out of the registry, is gone.
    fn forget(&mut self, id: ClientId, client: &Client<O>) {
        self.forget_watches(id, client);
        let outputs = self.call(client.endpoint.index(), |app, cx, _| app.leave(cx, id));
        self.carry_out(outputs);
    }

    fn message(&mut self, id: ClientId, input: Input) {
        let Some(index) = self.clients.get(&id).map(|c| c.endpoint.index()) else {
            return;
        };
        let outputs = self.call(index, |app, cx, _| app.message(cx, id, input));
        self.carry_out(outputs);
    }

    /// `POST /publish`: every app that publishes on `channel` does, in the order of the
    /// apps; the first refusal is the answer (the chat, first, checks the channel and text).
    fn publish(&mut self, channel: &str, text: &str) -> Result<usize, PublishError> {
        let mut recipients = 0;
        let mut outputs = Vec::new();
        let mut handled = false;
        for published in
            self.each_app(|app, cx| app.publish(cx, channel, text).into_iter().collect())
        {
            let published = published.map_err(PublishError::Refused)?;
            handled = true;
            recipients += published.recipients;
            outputs.extend(published.outputs);
        }
        if !handled {
            metrics().budget_refused(Budget::UnknownChannel);
            return Err(PublishError::UnknownChannel(channel.to_owned()));
        }
        self.carry_out(outputs);
        Ok(recipients)
    }

    /// Calls the app at `index` with the hub's clock and registry.
    fn call<T: Default>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut dyn App, &Context<'_>, &Registry<O>) -> T,
    ) -> T {
        let cx = Context {
            now_ms: now_ms(),
            directory: &self.clients,
        };
        match self.apps.get_mut(index) {
            Some(app) => f(app.as_mut(), &cx, &self.clients),
            None => {
                error!("bug: no app at endpoint index {index}");
                T::default()
            }
        }
    }

    /// Calls every app in turn, collecting what each returns.
    fn each_app<T>(&mut self, mut f: impl FnMut(&mut dyn App, &Context<'_>) -> Vec<T>) -> Vec<T> {
        let cx = Context {
            now_ms: now_ms(),
            directory: &self.clients,
        };
        self.apps
            .iter_mut()
            .flat_map(|app| f(app.as_mut(), &cx))
            .collect()
    }

    /// Does what an app asked, in order. Once the server shuts down, nothing more is sent.
    fn carry_out(&mut self, outputs: Vec<Output>) {
        if self.shutting_down {
            return;
        }
        for output in outputs {
            match output {
                Output::Send { to, message } => self.fan_out(to.as_slice(), encode(&message)),
                Output::Relay { to, message } => {
                    let frame = encode_message(message.opcode(), message.as_bytes(), None, None);
                    self.gather_broadcast(to, frame);
                }
                Output::Watch { inspector, target } => self.watch(inspector, target),
                Output::Unwatch { inspector } => self.unwatch(inspector),
                Output::Console(line) => info!(target: "tutorial", "{line}"),
            }
        }
    }

    /// `inspector` watches `target` from now on, and nothing it watched before.
    fn watch(&mut self, inspector: ClientId, target: ClientId) {
        self.unwatch(inspector);
        let full = self
            .clients
            .get(&target)
            .is_some_and(|client| client.tap.watcher_count() >= self.max_watchers);
        if full {
            metrics().budget_refused(Budget::Watchers);
            let limit = self.max_watchers;
            let message = format!(
                "connection {target} has {limit} watchers already, the limit (--max-watchers)"
            );
            self.send_json(
                inspector,
                &InspectorEvent::Error {
                    error: Some("too_many_watchers"),
                    message: &message,
                },
            );
            return;
        }
        if let (Some(client), Some(watcher)) =
            (self.clients.get(&target), self.clients.get(&inspector))
        {
            client.tap.attach(inspector, watcher.outbox.clone());
        }
        self.watching.insert(inspector, target);
    }

    /// `inspector` stops watching whatever it watched.
    fn unwatch(&mut self, inspector: ClientId) {
        if let Some(target) = self.watching.remove(&inspector) {
            if let Some(client) = self.clients.get(&target) {
                client.tap.detach(inspector);
            }
            self.send_json(
                inspector,
                &InspectorEvent::Detached {
                    conn: target,
                    why: "unwatched",
                },
            );
        }
    }

    /// `id` left: it no longer watches, and whoever watched it is told.
    fn forget_watches(&mut self, id: ClientId, client: &Client<O>) {
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
                &InspectorEvent::Detached {
                    conn: id,
                    why: "connection closed",
                },
            );
        }
    }

    /// One JSON event to one client.
    fn send_json(&mut self, id: ClientId, event: &InspectorEvent<'_>) {
        self.fan_out(&[id], encode(&Message::Text(event.to_json().to_string())));
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
    /// slow-consumer worklist (never removed from here: rule 1). Nothing once the server
    /// shuts down.
    fn fan_out_frame(&mut self, recipients: &[ClientId], frame: Frame) {
        if self.shutting_down {
            return;
        }
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
            let removed: Vec<(ClientId, Client<O>)> = slow
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
fn send_to<O: Mailbox>(
    clients: &mut Registry<O>,
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

/// The Close every client gets when the server shuts down.
fn going_away() -> Control {
    Control::Close {
        code: CloseCode::GOING_AWAY,
        reason: "server shutting down".into(),
        discard_queued: false,
    }
}

/// One message, encoded once, to be shared (uncompressed: each writer takes the compressed
/// form its connection agreed, made once per window size, [`SharedBytes::deflated`]).
///
/// [`SharedBytes::deflated`]: crate::server::conn::lanes::SharedBytes::deflated
fn encode(message: &Message) -> Arc<[u8]> {
    encode_message(message.opcode(), message.as_bytes(), None, None).into()
}
