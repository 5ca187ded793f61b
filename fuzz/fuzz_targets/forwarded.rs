//! Who a proxy says the client is: `X-Forwarded-For` and `Forwarded` (RFC 7239), read by
//! `protocol::forwarded` from a request head.
//!
//! Properties: no panic; every address read is written in the request (no address is made
//! up); a request carrying the field is one `is_forwarded` sees; and for a chain the target
//! writes itself (addresses in every form RFC 7239 §6 and nginx use, `unknown`, obfuscated
//! nodes, other parameters around `for=`, the list split over two field lines), the chain read
//! is exactly the chain written, client first: the order the rightmost-untrusted rule of
//! `server::trust` depends on.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::forwarded::{forwarded_for, is_forwarded, ForwardingField};
use wsmith::protocol::http::{parse_request_head, HeadLimits, RequestHead};

fn head(fields: &[u8]) -> Option<RequestHead> {
    let mut request = b"GET /chat HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    request.extend_from_slice(fields);
    request.extend_from_slice(b"\r\n\r\n");
    let limits = HeadLimits {
        max_head_bytes: 8192,
        max_headers: 32,
    };
    parse_request_head(&request, &limits)
        .ok()
        .flatten()
        .map(|(head, _)| head)
}

/// Every address the text spells, as a node of either field may spell it: alone, before a
/// `:port`, or inside `[...]`.
fn spelled(text: &str) -> Vec<IpAddr> {
    text.split(|c: char| c.is_whitespace() || ",;=\"[]".contains(c))
        .flat_map(|token| [Some(token), token.split_once(':').map(|(host, _)| host)])
        .flatten()
        .filter_map(|token| token.parse().ok())
        .collect()
}

/// Arbitrary field lines: every address read must be one their values spell.
fn arbitrary_fields(fields: &[u8]) {
    let Some(head) = head(fields) else { return };
    let text = String::from_utf8_lossy(fields);
    let written: Vec<IpAddr> = head
        .fields()
        .flat_map(|(_, value)| spelled(&String::from_utf8_lossy(value)))
        .collect();
    for field in [ForwardingField::XForwardedFor, ForwardingField::Forwarded] {
        let Some(chain) = forwarded_for(&head, field) else {
            continue;
        };
        assert!(
            is_forwarded(&head),
            "{field:?} read from a request is_forwarded denies"
        );
        for address in chain.into_iter().flatten() {
            assert!(written.contains(&address), "{address} is not in {text:?}");
        }
    }
}

/// One node of a generated chain: what to write and what it must read as.
fn node(
    kind: u8,
    bytes: &mut impl Iterator<Item = u8>,
    forwarded: bool,
) -> (String, Option<IpAddr>) {
    let mut next = || bytes.next().unwrap_or(0);
    let port = u16::from_be_bytes([next(), next()]);
    match kind % 6 {
        0 | 1 => {
            let ip = IpAddr::V4(Ipv4Addr::new(next(), next(), next(), next()));
            let text = if kind % 6 == 1 {
                format!("{ip}:{port}")
            } else {
                ip.to_string()
            };
            let text = if forwarded && kind % 6 == 1 {
                format!("\"{text}\"")
            } else {
                text
            };
            (text, Some(ip))
        }
        2 | 3 => {
            let mut octets = [0u8; 16];
            octets.iter_mut().for_each(|o| *o = next());
            let ip = IpAddr::V6(Ipv6Addr::from(octets));
            // RFC 7239 §6: bracketed and quoted; X-Forwarded-For: bare, or bracketed with a port.
            let text = match (forwarded, kind % 6 == 3) {
                (true, false) => format!("\"[{ip}]\""),
                (true, true) => format!("\"[{ip}]:{port}\""),
                (false, false) => ip.to_string(),
                (false, true) => format!("[{ip}]:{port}"),
            };
            (text, Some(ip))
        }
        4 => ("unknown".to_owned(), None),
        _ => (format!("_hidden{port}"), None),
    }
}

/// A generated chain, written in one field: it must read back exactly, client first.
fn generated_chain(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let forwarded = control & 1 != 0;
    let mut bytes = rest.iter().copied();
    let mut nodes = Vec::new();
    while let Some(kind) = bytes.next() {
        if nodes.len() == 12 {
            break;
        }
        nodes.push(node(kind, &mut bytes, forwarded));
    }
    if nodes.is_empty() {
        return;
    }
    let elements: Vec<String> = nodes
        .iter()
        .enumerate()
        .map(|(i, (text, _))| match (forwarded, i % 3) {
            (false, _) => text.clone(),
            (true, 0) => format!("for={text}"),
            (true, 1) => format!("proto=https;For={text};by=198.51.100.1"),
            (true, _) => format!("by=\"[2001:db8::1]\"; for={text}"),
        })
        .collect();
    // The list in one line, or cut in two lines of the same field (RFC 9110 §5.3).
    let name = if forwarded {
        "Forwarded"
    } else {
        "X-Forwarded-For"
    };
    let cut = usize::from(control >> 1) % (elements.len() + 1);
    let (first, second) = elements.split_at(cut);
    let mut fields = String::new();
    for line in [first, second].into_iter().filter(|line| !line.is_empty()) {
        fields.push_str(&format!("{name}: {}\r\n", line.join(", ")));
    }
    let fields = fields.trim_end();
    let head = head(fields.as_bytes()).expect("bug: the target wrote a malformed head");
    let field = if forwarded {
        ForwardingField::Forwarded
    } else {
        ForwardingField::XForwardedFor
    };
    let other = if forwarded {
        ForwardingField::XForwardedFor
    } else {
        ForwardingField::Forwarded
    };
    let expected: Vec<Option<IpAddr>> = nodes.iter().map(|(_, ip)| *ip).collect();
    assert_eq!(forwarded_for(&head, field), Some(expected), "{fields:?}");
    assert_eq!(
        forwarded_for(&head, other),
        None,
        "the other field was read: {fields:?}"
    );
    assert!(is_forwarded(&head));
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((&mode, rest)) if mode & 1 == 0 => arbitrary_fields(rest),
        Some((_, rest)) => generated_chain(rest),
        None => {}
    }
});
