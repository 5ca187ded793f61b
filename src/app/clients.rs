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

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, so an error never echoes a long input,
/// with control characters escaped (`\n`), so an error stays one line.
pub(crate) fn quote(text: &str) -> String {
    let mut quoted = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX_QUOTED_CHARS {
            quoted.push('…');
            break;
        }
        if c.is_control() {
            quoted.extend(c.escape_default());
        } else {
            quoted.push(c);
        }
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_is_one_line_of_at_most_64_characters_of_input() {
        assert_eq!(quote("a\nb"), "a\\nb");
        let long = "x".repeat(100);
        assert_eq!(quote(&long), format!("{}…", "x".repeat(64)));
        assert_eq!(quote("héllo"), "héllo");
    }
}
