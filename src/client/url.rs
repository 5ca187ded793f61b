//! `ws://` URLs (RFC 6455 §3): where `wsmith connect` connects and which resource it asks for.
//!
//! ```text
//! ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ]
//! ```
//!
//! "The port component is OPTIONAL; the default for "ws" is port 80" (§3). The path and query
//! become the /resource name/ of the request line (§4.1 item 3), "/" when the path is empty.
//! `wss://` (WebSocket over TLS, port 443) is refused: wsmith implements no TLS. An `http://`
//! URL gets a suggestion: a WebSocket does start as an HTTP request, but its URL says `ws://`
//! (`http://host/path` → "did you mean ws://host/path?"; `https://` → `wss://`).

use std::fmt;

/// The port of a `ws://` URL that names none (§3).
pub const DEFAULT_PORT: u16 = 80;

/// A parsed `ws://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// The host to connect to: a name, an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// `host` or `host:port` as written in the URL: the `Host` header field (§4.1 item 4).
    pub authority: String,
    /// The path and query, `/` when the path is empty: the request target (§3, §4.1 item 3).
    pub resource_name: String,
}

/// Why a string is not a `ws://` URL wsmith can connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// `wss://` needs TLS (§3, §4.1 item 2), which wsmith does not implement.
    Secure,
    /// Not `ws://` at all (e.g. `http://`, or no scheme).
    NotWebSocket(String),
    /// §3: "Fragment identifiers ... MUST NOT be used on these URIs."
    Fragment,
    /// The URL names no host.
    MissingHost,
    /// `user@host`: the ws-URI grammar of §3 has no user information.
    UserInfo,
    /// The port is not a number from 1 to 65535.
    InvalidPort(String),
    /// A space or control character, which cannot go into a request line (§4.1 item 2).
    InvalidCharacter,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secure => f.write_str(
                "wss:// needs TLS, which wsmith does not implement; use a ws:// URL (or a TLS proxy)",
            ),
            Self::NotWebSocket(url) => match suggestion(url) {
                Some(better) if better.starts_with("wss:") => write!(
                    f,
                    "{url:?} is not a WebSocket URL: did you mean {better}? (wsmith has no TLS: use ws:// or a TLS proxy)"
                ),
                Some(better) => write!(f, "{url:?} is not a WebSocket URL: did you mean {better}?"),
                None => write!(f, "{url:?} is not a ws:// URL: expected ws://HOST[:PORT]/PATH"),
            },
            Self::Fragment => f.write_str("a WebSocket URL must not have a #fragment (§3)"),
            Self::MissingHost => f.write_str("the URL names no host"),
            Self::UserInfo => f.write_str("a WebSocket URL has no user@ part (§3)"),
            Self::InvalidPort(port) => write!(f, "{port:?} is not a port number"),
            Self::InvalidCharacter => {
                f.write_str("the URL contains a space or control character; percent-encode it")
            }
        }
    }
}

impl std::error::Error for UrlError {}

/// The WebSocket URL someone probably meant: `http://` → `ws://`, `https://` → `wss://` (the
/// schemes §3 pairs with them: "ws" uses port 80 like "http", "wss" 443 like "https"), and
/// `host/path` with no scheme → `ws://host/path`.
fn suggestion(url: &str) -> Option<String> {
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => Some(format!("ws://{rest}")),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
            Some(format!("wss://{rest}"))
        }
        Some(_) => None,
        None if (!url.is_empty() && !url.contains(':')) || has_port(url) => {
            Some(format!("ws://{url}"))
        }
        None => None,
    }
}

/// Whether a URL without a scheme starts with `host:port` (`localhost:8080/echo`).
fn has_port(url: &str) -> bool {
    let authority = url.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

impl fmt::Display for WsUrl {
    /// The URL again, as it is used: `ws://` + authority + resource name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ws://{}{}", self.authority, self.resource_name)
    }
}

impl WsUrl {
    /// Parses a `ws://host[:port][/path][?query]` URL (§3); the scheme is case-insensitive.
    ///
    /// ```
    /// use wsmith::client::WsUrl;
    ///
    /// let url = WsUrl::parse("ws://127.0.0.1:8080/chat?name=alice")?;
    /// assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 8080));
    /// assert_eq!(url.resource_name, "/chat?name=alice");
    /// # Ok::<(), wsmith::client::UrlError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`UrlError`] naming what is wrong; [`UrlError::Secure`] for `wss://`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::InvalidCharacter);
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| UrlError::NotWebSocket(url.to_owned()))?;
        if scheme.eq_ignore_ascii_case("wss") {
            return Err(UrlError::Secure);
        }
        if !scheme.eq_ignore_ascii_case("ws") {
            return Err(UrlError::NotWebSocket(url.to_owned()));
        }
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let (authority, resource) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(UrlError::MissingHost);
        }
        // §3: the resource name is "/" if the path component is empty, then "?" and the query.
        let resource_name = if resource.starts_with('/') {
            resource.to_owned()
        } else {
            format!("/{resource}")
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            resource_name,
        })
    }
}

/// Splits `host[:port]` or `[v6]:port`; the host comes back without brackets.
fn split_host_port(authority: &str) -> Result<(&str, u16), UrlError> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').ok_or(UrlError::MissingHost)?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(UrlError::InvalidPort(after.to_owned())),
                },
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse()
            .ok()
            .filter(|&port| port != 0)
            .ok_or_else(|| UrlError::InvalidPort(port.to_owned()))?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_without_port_or_path_means_port_80_and_slash() {
        let url = WsUrl::parse("ws://example.com").expect("valid");
        assert_eq!(url.port, DEFAULT_PORT);
        assert_eq!(url.authority, "example.com");
        assert_eq!(url.resource_name, "/");
    }

    #[test]
    fn query_without_path_gets_a_slash_in_front() {
        let url = WsUrl::parse("WS://h:9/?a=1").expect("valid");
        assert_eq!(url.resource_name, "/?a=1");
        let url = WsUrl::parse("ws://h:9?a=1").expect("valid");
        assert_eq!(url.resource_name, "/?a=1");
    }

    #[test]
    fn ipv6_host_loses_its_brackets_but_keeps_them_in_the_authority() {
        let url = WsUrl::parse("ws://[::1]:8080/echo").expect("valid");
        assert_eq!((url.host.as_str(), url.port), ("::1", 8080));
        assert_eq!(url.authority, "[::1]:8080");
    }

    #[test]
    fn unusable_urls_are_refused_with_their_reason() {
        let cases = [
            ("wss://example.com/", UrlError::Secure),
            (
                "http://example.com/",
                UrlError::NotWebSocket("http://example.com/".into()),
            ),
            ("example.com", UrlError::NotWebSocket("example.com".into())),
            ("ws://h/#top", UrlError::Fragment),
            ("ws:///path", UrlError::MissingHost),
            ("ws://u@h/", UrlError::UserInfo),
            ("ws://h:http/", UrlError::InvalidPort("http".into())),
            ("ws://h:0/", UrlError::InvalidPort("0".into())),
            ("ws://h:65536/", UrlError::InvalidPort("65536".into())),
            ("ws://h/a b", UrlError::InvalidCharacter),
        ];
        for (url, error) in cases {
            assert_eq!(WsUrl::parse(url), Err(error), "{url}");
        }
    }

    #[test]
    fn an_http_url_suggests_the_ws_url_it_probably_meant() {
        let cases = [
            (
                "http://127.0.0.1:8080/echo",
                Some("ws://127.0.0.1:8080/echo"),
            ),
            ("HTTP://h/chat?x=1", Some("ws://h/chat?x=1")),
            ("https://example.com/", Some("wss://example.com/")),
            ("localhost:8080/echo", Some("ws://localhost:8080/echo")),
            ("example.com", Some("ws://example.com")),
            ("ftp://h/", None),
            ("mailto:a@b", None),
        ];
        for (url, expected) in cases {
            assert_eq!(suggestion(url).as_deref(), expected, "{url}");
        }
        let error = WsUrl::parse("http://127.0.0.1:8080/echo").expect_err("not ws");
        assert!(
            error
                .to_string()
                .ends_with("did you mean ws://127.0.0.1:8080/echo?"),
            "{error}"
        );
        let error = WsUrl::parse("https://h/").expect_err("not ws");
        assert!(error
            .to_string()
            .contains("did you mean wss://h/? (wsmith has no TLS"));
    }

    #[test]
    fn a_url_displays_as_it_is_used() {
        let url = WsUrl::parse("WS://[::1]:8080?a=1").expect("valid");
        assert_eq!(url.to_string(), "ws://[::1]:8080/?a=1");
    }

    #[test]
    fn wss_error_says_tls_is_not_implemented() {
        assert!(UrlError::Secure.to_string().contains("TLS"));
    }
}
