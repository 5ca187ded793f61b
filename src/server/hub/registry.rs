//! The hub's registry: who is connected, at which endpoint, with which outbox and tap; what the
//! apps may ask of it ([`Directory`]); and what the hub needs of an outbox ([`Mailbox`]), so
//! that its unit tests can stand a fake in for a socket.

use std::collections::HashMap;
use std::sync::Arc;

use crate::app::ConnectionInfo;
use crate::app::{ClientId, Directory, Endpoint};
use crate::server::conn::lanes::{Control, Frame};
use crate::server::conn::outbox::{Outbox, SendError};
use crate::server::conn::tap::{EventSink, Tap};

/// What the hub needs of a client's outbox: queue without waiting, and ask for a close.
pub(crate) trait Mailbox: EventSink + Clone + 'static {
    /// Queues `frame` without waiting; a full outbox says by how much.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when the frame would take the backlog over its limit,
    /// [`SendError::Gone`] when the connection is closing.
    fn try_send(&self, frame: Frame) -> Result<(), SendError>;
    /// Queues a control instruction (never refused).
    fn control(&self, control: Control);
}

impl Mailbox for Outbox {
    fn try_send(&self, frame: Frame) -> Result<(), SendError> {
        Outbox::try_send(self, frame)
    }

    fn control(&self, control: Control) {
        Outbox::control(self, control);
    }
}

/// A registered client.
#[derive(Debug)]
pub(crate) struct Client<O> {
    pub(crate) endpoint: Endpoint,
    pub(crate) outbox: O,
    pub(crate) tap: Arc<Tap>,
    /// On the slow-consumer worklist: nothing more is queued for it.
    pub(crate) is_slow: bool,
}

/// Every registered client, by id.
pub(crate) type Registry<O> = HashMap<ClientId, Client<O>>;

/// What the apps (the Inspector's rules) may ask about the registry.
impl<O: Mailbox> Directory for Registry<O> {
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

    fn describe(&self, id: ClientId) -> Option<ConnectionInfo> {
        self.get(&id).map(|c| ConnectionInfo {
            endpoint: c.endpoint.name(),
            peer: c.tap.info.peer,
            tapped: c.tap.info.token.is_some(),
            watched: c.tap.is_active(),
        })
    }
}
