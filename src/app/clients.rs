//! How every app names its clients: [`ClientId`], [`Recipients`] (who a delivery goes to), and
//! `quote` (how much of a client's own input an error may echo back to it).

/// The id the server gave a connection; unique while the server runs. Every app, the hub, the
/// Inspector and the logs name a client by it.
pub type ClientId = u64;

/// Who receives a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// A single client: a reply, a replay or an error.
    One(ClientId),
    /// Several clients, in the order they receive it.
    Many(Vec<ClientId>),
}

impl Recipients {
    /// The recipients' ids as a slice, whichever variant this is.
    pub fn as_slice(&self) -> &[ClientId] {
        match self {
            Recipients::One(id) => std::slice::from_ref(id),
            Recipients::Many(ids) => ids,
        }
    }
}

/// How many characters of a peer's own input an error message may quote back.
const MAX_QUOTED_CHARS: usize = 64;

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, so an error never echoes a long input.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or(text)),
        None => text.to_owned(),
    }
}
