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

/// The start of `text`, at most [`MAX_QUOTED_CHARS`] characters once control characters are
/// escaped (`\n`), then `…` if anything was left out: an error never echoes a long input, and
/// stays one line.
pub(crate) fn quote(text: &str) -> String {
    let mut quoted = String::new();
    let mut length = 0;
    for c in text.chars() {
        let shown: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.into()
        };
        length += shown.chars().count();
        if length > MAX_QUOTED_CHARS {
            quoted.push('…');
            break;
        }
        quoted.push_str(&shown);
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
        assert_eq!(quote(&"x".repeat(64)), "x".repeat(64));
        assert_eq!(quote("héllo"), "héllo");
        // Escapes count: 40 DELs are 240 characters once escaped.
        let escaped = quote(&"\u{7f}".repeat(40));
        assert_eq!(escaped.chars().count(), 10 * 6 + 1, "{escaped}");
    }
}
