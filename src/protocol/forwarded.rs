//! Who a proxy says the client is: `Forwarded` (RFC 7239) and `X-Forwarded-For` (its de facto
//! predecessor, which nginx and most load balancers still send).
//!
//! Each proxy appends the address it received the request from, so the list reads client
//! first, nearest proxy last: `Forwarded: for=192.0.2.60, for=198.51.100.17` (RFC 7239 §4,
//! §7.1). Anyone can write these headers, so they mean something only when the peer that sent
//! them is a proxy the operator trusts; that decision belongs to the server
//! (`server::trust`), not here. This file only reads the list.
//!
//! Which of the two fields is read is the operator's choice ([`ForwardingField`], the flag
//! `--forwarded-header`), never the request's: a proxy that overwrites `X-Forwarded-For` but
//! passes `Forwarded` through untouched would otherwise hand the client a field to forge.

use core::net::IpAddr;

use super::http::{split_host_port, split_list, RequestHead};

/// The header fields a proxy adds to a request it forwards.
const FORWARDING_FIELDS: [&str; 4] = ["Forwarded", "X-Forwarded-For", "X-Real-IP", "Via"];

/// The one field a trusted proxy sets to name the client: the proxy's configuration decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardingField {
    /// `X-Forwarded-For: client, proxy1`: what nginx (`$remote_addr`), Caddy and most load
    /// balancers write.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardingField {
    /// The field's name as it is written in a request.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "X-Forwarded-For",
            Self::Forwarded => "Forwarded",
        }
    }
}

impl core::str::FromStr for ForwardingField {
    type Err = ();

    /// `x-forwarded-for` or `forwarded`, in any case.
    fn from_str(text: &str) -> Result<Self, ()> {
        [Self::XForwardedFor, Self::Forwarded]
            .into_iter()
            .find(|field| field.name().eq_ignore_ascii_case(text))
            .ok_or(())
    }
}

/// The chain of client addresses a request says it passed through, client first, read from
/// `field` only.
///
/// `Forwarded`'s `for=` parameters (RFC 7239 §5.2), or `X-Forwarded-For`'s comma-separated
/// addresses, across all the field's lines (RFC 9110 §5.3). An obfuscated or `unknown` node
/// (RFC 7239 §6), or one that does not parse, is `None`: it says a hop was there without saying
/// who. Returns `None` if the field is absent; the other field is never read.
pub fn forwarded_for(head: &RequestHead, field: ForwardingField) -> Option<Vec<Option<IpAddr>>> {
    head.header_values(field.name()).next()?;
    if field == ForwardingField::Forwarded {
        let chain = head
            .header_tokens("Forwarded")
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, value)| node_address(value.trim().trim_matches('"')))
            })
            .collect();
        return Some(chain);
    }
    let chain = head
        .header_values("X-Forwarded-For")
        .flat_map(split_list)
        .map(node_address)
        .collect();
    Some(chain)
}

/// Whether the request carries any field a proxy adds (`Forwarded`, `X-Forwarded-For`,
/// `X-Real-IP`, `Via`): it says it was forwarded, whoever sent it.
pub fn is_forwarded(head: &RequestHead) -> bool {
    FORWARDING_FIELDS.iter().any(|name| {
        head.fields()
            .any(|(field, _)| field.eq_ignore_ascii_case(name))
    })
}

/// The address of one node: `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8:cafe::17]` or
/// `[2001:db8:cafe::17]:4711` (RFC 7239 §6), or a bare IPv6 address as `X-Forwarded-For`
/// writes it.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, _port) = split_host_port(node);
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::{parse_request_head, HeadLimits};

    fn head(fields: &str) -> RequestHead {
        let request = format!("GET / HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n");
        let (head, _) = parse_request_head(request.as_bytes(), &HeadLimits::default())
            .expect("valid")
            .expect("complete");
        head
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn rfc_7239_examples_give_their_addresses() {
        let cases = [
            // §4 and §7.1.
            (
                "Forwarded: for=\"_gazonk\"\r\n",
                vec![None], // obfuscated (§6.3)
            ),
            (
                "Forwarded: For=\"[2001:db8:cafe::17]:4711\"\r\n",
                vec![ip("2001:db8:cafe::17")],
            ),
            (
                "Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43\r\n",
                vec![ip("192.0.2.60")],
            ),
            (
                "Forwarded: for=192.0.2.43, for=198.51.100.17\r\n",
                vec![ip("192.0.2.43"), ip("198.51.100.17")],
            ),
            (
                "Forwarded: for=192.0.2.43\r\nForwarded: for=unknown\r\n",
                vec![ip("192.0.2.43"), None],
            ),
            ("Forwarded: proto=https\r\n", vec![None]),
        ];
        for (fields, expected) in cases {
            let read = forwarded_for(&head(fields), ForwardingField::Forwarded);
            assert_eq!(read, Some(expected), "{fields:?}");
        }
    }

    #[test]
    fn x_forwarded_for_is_a_list_of_addresses() {
        let cases = [
            ("X-Forwarded-For: 203.0.113.7\r\n", vec![ip("203.0.113.7")]),
            (
                "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-For: ::1\r\n",
                vec![ip("203.0.113.7"), ip("10.0.0.1"), ip("::1")],
            ),
            (
                "X-Forwarded-For: 203.0.113.7:5000, [2001:db8::1]:80, nonsense\r\n",
                vec![ip("203.0.113.7"), ip("2001:db8::1"), None],
            ),
        ];
        for (fields, expected) in cases {
            let read = forwarded_for(&head(fields), ForwardingField::XForwardedFor);
            assert_eq!(read, Some(expected), "{fields:?}");
        }
    }

    #[test]
    fn only_the_named_field_is_read() {
        use ForwardingField::{Forwarded, XForwardedFor};
        let both = head("X-Forwarded-For: 10.9.9.9\r\nForwarded: for=192.0.2.1\r\n");
        assert_eq!(forwarded_for(&both, Forwarded), Some(vec![ip("192.0.2.1")]));
        assert_eq!(
            forwarded_for(&both, XForwardedFor),
            Some(vec![ip("10.9.9.9")])
        );
        let forged = head("Forwarded: for=127.0.0.1\r\n");
        assert_eq!(forwarded_for(&forged, XForwardedFor), None);
        let forged = head("X-Forwarded-For: 127.0.0.1\r\n");
        assert_eq!(forwarded_for(&forged, Forwarded), None);
        assert_eq!(forwarded_for(&head(""), XForwardedFor), None);
        for (text, field) in [
            ("x-forwarded-for", XForwardedFor),
            ("X-Forwarded-For", XForwardedFor),
            ("forwarded", Forwarded),
        ] {
            assert_eq!(text.parse(), Ok(field));
        }
        assert_eq!("x-real-ip".parse::<ForwardingField>(), Err(()));
    }

    #[test]
    fn any_proxy_field_says_the_request_was_forwarded() {
        assert!(!is_forwarded(&head("")));
        assert!(!is_forwarded(&head("X-Other: 1\r\n")));
        for fields in [
            "Forwarded: for=1.2.3.4\r\n",
            "x-forwarded-for: 1.2.3.4\r\n",
            "X-Real-IP: 1.2.3.4\r\n",
            "Via: 1.1 nginx\r\n",
        ] {
            assert!(is_forwarded(&head(fields)), "{fields:?}");
        }
    }
}
