//! Which requests to believe: the rules that keep a web page from forging a publish or an
//! upgrade, and a client from passing itself off as a proxy.
//!
//! The HTTP it reads is parsed in `protocol` (`http::split_host_port`, `forwarded`); the
//! decisions here are policy, set by flags in [`Config`]:
//!
//! - **The `Host` is one of our names** (no DNS rebinding). A page on `http://evil.test:8080`
//!   whose name the attacker re-points at `127.0.0.1` can read a loopback server as its own
//!   origin: `Origin` and `Host` then agree, both chosen by the attacker. So while bound to
//!   loopback (or whenever `--allowed-host` is given) the `Host` name must be `localhost`,
//!   `127.0.0.1`, `[::1]` or an `--allowed-host`, with any port; else 421 Misdirected Request
//!   (RFC 9110 §15.5.20). A request without `Host` comes from a program, not a page.
//! - **`POST /publish` comes from no other site** (no cross-site request forgery). Any page can
//!   send `fetch(url, {method: 'POST', mode: 'no-cors'})`; the browser then says where it came
//!   from. `Sec-Fetch-Site: cross-site` is refused, and so is an `Origin` that an upgrade would
//!   refuse (`handshake::is_allowed_origin`), with 403, whether a token is given or not.
//! - **Behind a proxy, the client is who a trusted proxy says.** The one field the operator
//!   names (`--forwarded-header x-forwarded-for|forwarded`, [`ForwardingField`]) is believed
//!   only from a `--trusted-proxy` peer (an address or a range, [`IpPrefix`]); the other field
//!   is never read, so a proxy that overwrites one and passes the other through gives a client
//!   nothing to forge. The client is then the rightmost hop in the chain that is not itself a
//!   trusted proxy (each proxy appends, so only the hops right of the first untrusted one were
//!   written by proxies we trust). Such a request is *proxied*: it may have come from
//!   anywhere, so publishing it needs `--publish-token`.
//! - **Loopback privileges come from the socket.** The Inspector's list and watch-by-id, and a
//!   token-less publish, are for a client on this machine ([`Client::is_loopback`]): a direct
//!   loopback peer whose request carries no proxy field, or a client a trusted proxy named
//!   with a loopback address. A request that carries a proxy's fields (`Forwarded`,
//!   `X-Forwarded-For`, `X-Real-IP`, `Via`) from a peer not listed in `--trusted-proxy` came
//!   through a proxy nobody listed: its loopback peer proves nothing, and it gets no loopback
//!   privilege anywhere. Nor does a request from a trusted proxy that named nobody.

use std::net::{IpAddr, SocketAddr};

use crate::config::ip_prefix::IpPrefix;
use crate::config::Config;
use crate::protocol::forwarded::{forwarded_for, is_forwarded, ForwardingField};
use crate::protocol::handshake::is_allowed_origin;
use crate::protocol::http::{response, split_host_port, RequestHead};

/// The names a loopback server always answers to (its own, as the page would be opened).
const OWN_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// A request refused by one of these rules: its status and a one-line reason for the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// 403 or 421.
    pub(crate) status: u16,
    /// What was wrong and which flag changes it.
    pub(crate) reason: &'static str,
}

impl Refusal {
    /// The whole HTTP response: plain text, and the connection closed after it.
    pub(crate) fn response(&self) -> Vec<u8> {
        response(
            self.status,
            &[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Connection", "close"),
            ],
            format!("{}\n", self.reason).as_bytes(),
        )
    }
}

/// Refuses a request whose `Host` is not a name of this server (no DNS rebinding).
///
/// # Errors
///
/// 421 while bound to loopback (or with any `--allowed-host`) for a `Host` name other than
/// `localhost`, `127.0.0.1`, `[::1]` or an `--allowed-host` entry (`NAME` matches any port,
/// `NAME:PORT` that port only).
pub(crate) fn check_host(head: &RequestHead, config: &Config) -> Result<(), Refusal> {
    if !config.addr.ip().is_loopback() && config.allowed_hosts.is_empty() {
        return Ok(());
    }
    let Some(host) = head.header("Host") else {
        return Ok(());
    };
    let (name, _port) = split_host_port(host);
    let own = OWN_NAMES.iter().any(|own| own.eq_ignore_ascii_case(name));
    let listed = config
        .allowed_hosts
        .iter()
        .any(|entry| entry.eq_ignore_ascii_case(name) || entry.eq_ignore_ascii_case(host));
    if own || listed {
        Ok(())
    } else {
        Err(Refusal {
            status: 421,
            reason: "this server does not answer to that Host name (DNS rebinding?); \
                     add it with --allowed-host",
        })
    }
}

/// Refuses a `POST /publish` sent by a page of another site or origin.
///
/// # Errors
///
/// 403 for `Sec-Fetch-Site: cross-site`, or an `Origin` that is neither this server's own
/// page nor an `--allowed-origin` (`null` included).
pub(crate) fn check_publish_origin(head: &RequestHead, config: &Config) -> Result<(), Refusal> {
    let cross_site = head
        .header("Sec-Fetch-Site")
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"));
    if cross_site {
        return Err(Refusal {
            status: 403,
            reason: "a page of another site cannot publish (Sec-Fetch-Site: cross-site)",
        });
    }
    if let Some(origin) = head.header("Origin") {
        let host = head.header("Host").unwrap_or_default();
        if !is_allowed_origin(origin, host, &config.allowed_origins) {
            return Err(Refusal {
                status: 403,
                reason: "this Origin may not publish (see --allowed-origin)",
            });
        }
    }
    Ok(())
}

/// Who sent a request, as far as this server can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Client {
    /// The peer, or the client a trusted proxy names (port 0 unless it is the peer); `None`
    /// when that proxy said `unknown` or sent an address that does not parse.
    pub(crate) addr: Option<SocketAddr>,
    /// Whether the request came through a `--trusted-proxy`.
    pub(crate) proxied: bool,
    /// Whether the client is known to be on this machine (see the module doc).
    loopback: bool,
}

impl Client {
    /// The peer itself, when no proxy is trusted or the peer is not one. It is on loopback
    /// only if its request carries no proxy field: one that does came through a proxy.
    fn direct(peer: Option<SocketAddr>, forwarded: bool) -> Self {
        Self {
            addr: peer,
            proxied: false,
            loopback: !forwarded && peer.is_some_and(|addr| addr.ip().is_loopback()),
        }
    }

    /// Whether the client is on this machine: a direct loopback peer whose request carries no
    /// proxy field, or a client a trusted proxy named with a loopback address.
    pub(crate) fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The address the Inspector shows and judges its loopback rule by: [`Client::addr`],
    /// unless that is a loopback address the client has no privilege of (a forwarded request
    /// from an unlisted proxy on this machine), which is then unknown.
    pub(crate) fn inspector_peer(&self) -> Option<SocketAddr> {
        self.addr
            .filter(|addr| self.loopback || !addr.ip().is_loopback())
    }
}

/// The client of a request that arrived from `peer`, read from the `field` a trusted proxy
/// sets (see the module doc).
pub(crate) fn client(
    peer: Option<SocketAddr>,
    head: &RequestHead,
    trusted: &[IpPrefix],
    field: ForwardingField,
) -> Client {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    let Some(peer) = peer.filter(|peer| is_trusted(peer.ip())) else {
        return Client::direct(peer, is_forwarded(head));
    };
    let addr = match forwarded_for(head, field) {
        // The proxy named nobody: it is all we know, and it is not the client.
        None => {
            return Client {
                addr: Some(peer),
                proxied: true,
                loopback: false,
            }
        }
        Some(chain) => {
            // Nearest hop first; skip the proxies we trust; if all are, the first client.
            let hop = chain
                .iter()
                .rev()
                .find(|hop| !hop.is_some_and(is_trusted))
                .or(chain.first());
            hop.copied()
                .flatten()
                .map(|ip| SocketAddr::new(ip.to_canonical(), 0))
        }
    };
    Client {
        addr,
        proxied: true,
        loopback: addr.is_some_and(|addr| addr.ip().is_loopback()),
    }
}

/// Whether `POST /publish` may go ahead without `--publish-token`: only for a client on this
/// machine that reached us directly.
///
/// # Errors
///
/// 403 for a proxied request, a request that carries a proxy's fields from a peer not listed
/// in `--trusted-proxy`, or a client that is not on loopback.
pub(crate) fn check_tokenless_publish(client: &Client, head: &RequestHead) -> Result<(), Refusal> {
    let reason = if client.proxied {
        "publishing through a proxy needs --publish-token"
    } else if is_forwarded(head) {
        "the request was forwarded by a proxy not listed in --trusted-proxy; \
         publishing needs --publish-token"
    } else if !client.is_loopback() {
        "publishing is allowed from loopback only (or set --publish-token)"
    } else {
        return Ok(());
    };
    Err(Refusal {
        status: 403,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::{parse_request_head, HeadLimits};

    const XFF: ForwardingField = ForwardingField::XForwardedFor;
    const FORWARDED: ForwardingField = ForwardingField::Forwarded;

    fn head(fields: &str) -> RequestHead {
        let request = format!("POST /publish/x HTTP/1.1\r\n{fields}\r\n");
        let (head, _) = parse_request_head(request.as_bytes(), &HeadLimits::default())
            .expect("valid")
            .expect("complete");
        head
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn loopback_server_answers_only_to_its_names() {
        let config = Config {
            allowed_hosts: vec!["chat.example.com".into(), "other.example:8443".into()],
            ..Config::default()
        };
        let cases = [
            ("localhost", true),
            ("LOCALHOST:8080", true),
            ("127.0.0.1:8080", true),
            ("[::1]:8080", true),
            ("[::1]", true),
            ("chat.example.com", true),
            ("chat.example.com:443", true),
            ("other.example:8443", true),
            ("other.example:8080", false),
            ("other.example", false),
            ("evil.test:8080", false),
            ("localhost.evil.test", false),
            ("127.0.0.2:8080", false),
            ("", false),
        ];
        for (host, ok) in cases {
            let result = check_host(&head(&format!("Host: {host}\r\n")), &config);
            assert_eq!(result.is_ok(), ok, "{host:?}: {result:?}");
            if let Err(refusal) = result {
                assert_eq!(refusal.status, 421);
            }
        }
        assert!(check_host(&head(""), &config).is_ok(), "no Host: a program");
    }

    #[test]
    fn public_server_checks_host_only_when_hosts_are_listed() {
        let mut config = Config {
            addr: addr("0.0.0.0:8080"),
            ..Config::default()
        };
        assert!(check_host(&head("Host: anything.example\r\n"), &config).is_ok());
        config.allowed_hosts = vec!["chat.example.com".into()];
        assert!(check_host(&head("Host: anything.example\r\n"), &config).is_err());
        assert!(check_host(&head("Host: chat.example.com\r\n"), &config).is_ok());
    }

    #[test]
    fn publish_from_another_site_or_origin_is_forbidden() {
        let config = Config {
            allowed_origins: vec!["https://admin.example.com".into()],
            ..Config::default()
        };
        let host = "Host: 127.0.0.1:8080\r\n";
        let cases = [
            ("", true),
            ("Origin: http://127.0.0.1:8080\r\n", true),
            ("Origin: https://admin.example.com\r\n", true),
            (
                "Origin: http://127.0.0.1:8080\r\nSec-Fetch-Site: same-origin\r\n",
                true,
            ),
            ("Sec-Fetch-Site: none\r\n", true),
            ("Origin: http://evil.test\r\n", false),
            ("Origin: null\r\n", false),
            ("Origin: http://localhost:8080\r\n", false),
            ("Sec-Fetch-Site: cross-site\r\n", false),
            (
                "Sec-Fetch-Site: Cross-Site\r\nOrigin: https://admin.example.com\r\n",
                false,
            ),
        ];
        for (fields, ok) in cases {
            let result = check_publish_origin(&head(&format!("{host}{fields}")), &config);
            assert_eq!(result.is_ok(), ok, "{fields:?}: {result:?}");
            if let Err(refusal) = result {
                assert_eq!(refusal.status, 403);
            }
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")].map(IpPrefix::from);
        let xff = head("X-Forwarded-For: 203.0.113.7\r\n");
        // An untrusted peer: the header is ignored.
        let direct = client(Some(addr("198.51.100.1:5000")), &xff, &trusted, XFF);
        assert_eq!(
            direct,
            Client::direct(Some(addr("198.51.100.1:5000")), false)
        );
        // The trusted proxy: its word is taken.
        let proxied = client(Some(addr("127.0.0.1:5000")), &xff, &trusted, XFF);
        assert_eq!(proxied.addr, Some(addr("203.0.113.7:0")));
        assert!(proxied.proxied);
        assert!(!proxied.is_loopback());
        // A chain: the nearest hop that is not a trusted proxy; a forged leftmost is skipped.
        let chain = head("X-Forwarded-For: 127.0.0.1, 203.0.113.7, 10.0.0.2\r\n");
        let hop = client(Some(addr("127.0.0.1:1")), &chain, &trusted, XFF);
        assert_eq!(hop.addr, Some(addr("203.0.113.7:0")));
        // Only trusted hops: the first.
        let inner = head("Forwarded: for=10.0.0.2, for=127.0.0.1\r\n");
        let hop = client(Some(addr("127.0.0.1:1")), &inner, &trusted, FORWARDED);
        assert_eq!(hop.addr, Some(addr("10.0.0.2:0")));
        // `unknown`: nobody we can name.
        let unknown = head("Forwarded: for=unknown\r\n");
        assert_eq!(
            client(Some(addr("127.0.0.1:1")), &unknown, &trusted, FORWARDED).addr,
            None
        );
        // No header from the proxy: the proxy itself, still proxied, with no privilege.
        let bare = client(Some(addr("127.0.0.1:1")), &head(""), &trusted, XFF);
        assert_eq!(bare.addr, Some(addr("127.0.0.1:1")));
        assert!(bare.proxied && !bare.is_loopback());
        // An IPv4-mapped peer is the same proxy.
        let mapped = client(Some(addr("[::ffff:127.0.0.1]:1")), &xff, &trusted, XFF);
        assert!(mapped.proxied);
    }

    #[test]
    fn a_trusted_range_trusts_every_proxy_in_it() {
        let trusted: [IpPrefix; 2] = ["10.0.0.0/8", "fd00::/8"].map(|r| r.parse().expect("range"));
        // Two proxies of the range in a row: the client is the hop before them.
        let chain = head("X-Forwarded-For: 198.51.100.9, 10.20.30.40\r\n");
        let hop = client(Some(addr("10.0.0.1:5000")), &chain, &trusted, XFF);
        assert_eq!(
            (hop.addr, hop.proxied),
            (Some(addr("198.51.100.9:0")), true)
        );
        let from_v6 = client(Some(addr("[fd12::7]:5000")), &chain, &trusted, XFF);
        assert_eq!(from_v6.addr, Some(addr("198.51.100.9:0")));
        // Just outside the range: the header is ignored.
        let outside = client(Some(addr("11.0.0.1:5000")), &chain, &trusted, XFF);
        assert_eq!(outside, Client::direct(Some(addr("11.0.0.1:5000")), false));
        let mapped = client(Some(addr("[::ffff:10.9.9.9]:1")), &chain, &trusted, XFF);
        assert!(mapped.proxied, "an IPv4-mapped peer in the range");
    }

    #[test]
    fn forwarding_fields_from_an_unlisted_peer_take_every_loopback_privilege() {
        let local = Some(addr("127.0.0.1:5000"));
        let none: [IpPrefix; 0] = [];
        assert!(client(local, &head(""), &none, XFF).is_loopback());
        for fields in [
            "Forwarded: for=127.0.0.1\r\n",
            "X-Forwarded-For: 127.0.0.1\r\n",
            "X-Real-IP: 127.0.0.1\r\n",
            "Via: 1.1 nginx\r\n",
        ] {
            let who = client(local, &head(fields), &none, XFF);
            assert!(!who.is_loopback(), "{fields:?}");
            assert_eq!(who.inspector_peer(), None, "{fields:?}");
        }
        // A remote peer keeps its address for the Inspector to show.
        let remote = client(
            Some(addr("198.51.100.1:5")),
            &head("Via: x\r\n"),
            &none,
            XFF,
        );
        assert_eq!(remote.inspector_peer(), Some(addr("198.51.100.1:5")));
    }

    #[test]
    fn a_forged_field_that_the_operator_did_not_name_gives_nothing() {
        let trusted = [IpPrefix::from(ip("127.0.0.1"))];
        let proxy = Some(addr("127.0.0.1:5000"));
        // nginx overwrote X-Forwarded-For with the address it saw and passed `Forwarded` on.
        let forged = head("Forwarded: for=127.0.0.1\r\nX-Forwarded-For: 203.0.113.7\r\n");
        let who = client(proxy, &forged, &trusted, XFF);
        assert_eq!(who.addr, Some(addr("203.0.113.7:0")));
        assert!(!who.is_loopback());
        // The other way round.
        let forged = head("X-Forwarded-For: 127.0.0.1\r\nForwarded: for=203.0.113.7\r\n");
        let who = client(proxy, &forged, &trusted, FORWARDED);
        assert_eq!(who.addr, Some(addr("203.0.113.7:0")));
        assert!(!who.is_loopback());
        // A client on this machine, named by the proxy: loopback.
        let named = client(
            proxy,
            &head("X-Forwarded-For: 127.0.0.1\r\n"),
            &trusted,
            XFF,
        );
        assert!(named.is_loopback());
    }

    #[test]
    fn only_a_direct_loopback_client_may_publish_without_a_token() {
        let local = Client::direct(Some(addr("127.0.0.1:5000")), false);
        let remote = Client::direct(Some(addr("198.51.100.1:5000")), false);
        let proxied = Client {
            addr: Some(addr("127.0.0.1:0")),
            proxied: true,
            loopback: true,
        };
        assert!(check_tokenless_publish(&local, &head("")).is_ok());
        let refused = [
            (remote, ""),
            (proxied, ""),
            (local, "X-Forwarded-For: 127.0.0.1\r\n"),
            (local, "Via: 1.1 nginx\r\n"),
        ];
        for (who, fields) in refused {
            let result = check_tokenless_publish(&who, &head(fields));
            assert_eq!(result.map_err(|r| r.status), Err(403), "{who:?} {fields:?}");
        }
    }
}
