//! What an app may ask of the server's registry of connections ([`Directory`]): the Inspector's
//! access rules read it, on the hub thread, through [`Context`](super::Context).

use std::net::SocketAddr;

use super::clients::ClientId;
use super::endpoint::Endpoint;

/// A connection as the server's registry describes it to an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The endpoint's name.
    pub endpoint: &'static str,
    /// The client's address, as the trusted-proxy rules see it.
    pub peer: Option<SocketAddr>,
    /// Whether its URL carried a `tap=` token.
    pub tapped: bool,
    /// Whether an Inspector watches it now.
    pub watched: bool,
}

/// What apps may ask of the server's registry of connections (the Inspector's rules use it).
pub trait Directory {
    /// The endpoint `id` is connected at, if it is connected.
    fn endpoint(&self, id: ClientId) -> Option<&Endpoint>;
    /// Whether `id` connected from a loopback address.
    fn is_loopback(&self, id: ClientId) -> bool;
    /// Every connection whose URL carried `tap=token`.
    fn carrying_token(&self, token: &str) -> Vec<ClientId>;
    /// Every connection.
    fn ids(&self) -> Vec<ClientId>;
    /// What the registry knows of `id`.
    fn describe(&self, id: ClientId) -> Option<ConnectionInfo>;
}
