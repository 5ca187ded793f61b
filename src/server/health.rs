//! `GET /healthz` and `GET /readyz`, for load balancers and orchestrators (a Kubernetes
//! liveness and readiness probe, an nginx or HAProxy health check).
//!
//! - `/healthz`: the process serves HTTP: `200 ok`. A probe that gets no answer restarts it.
//! - `/readyz`: it accepts new clients: `200 ready`, and `503 shutting down` once a graceful
//!   shutdown (SIGTERM) has begun, so a balancer stops sending clients while those connected
//!   get their Close 1001.
//!
//! Both are plain text, never cached, answered whatever the `Host` (they reveal nothing), and
//! take GET or HEAD (RFC 9110 §9.3.2: the same head, no body); other methods get 405.

use crate::protocol::http::{response, response_head};

/// The liveness path.
pub(crate) const HEALTHZ: &str = "/healthz";
/// The readiness path.
pub(crate) const READYZ: &str = "/readyz";

/// The answer to a request for `path`, if it is one of the two; `None` for any other path.
pub(crate) fn answer(method: &str, path: &str, shutting_down: bool) -> Option<Vec<u8>> {
    let (status, body) = match path {
        HEALTHZ => (200, "ok\n"),
        READYZ if shutting_down => (503, "shutting down\n"),
        READYZ => (200, "ready\n"),
        _ => return None,
    };
    let headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Connection", "close"),
    ];
    Some(match method {
        "GET" => response(status, &headers, body.as_bytes()),
        "HEAD" => response_head(status, &headers, body.len()),
        _ => {
            // RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field".
            let mut headers = headers.to_vec();
            headers.push(("Allow", "GET, HEAD"));
            response(405, &headers, b"use GET\n")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Option<Vec<u8>>) -> String {
        String::from_utf8(bytes.expect("a health path")).expect("ascii")
    }

    #[test]
    fn healthz_is_ok_even_while_shutting_down_and_readyz_is_not() {
        for shutting_down in [false, true] {
            let health = text(answer("GET", "/healthz", shutting_down));
            assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
            assert!(health.ends_with("\r\n\r\nok\n"), "{health}");
        }
        let ready = text(answer("GET", "/readyz", false));
        assert!(ready.starts_with("HTTP/1.1 200 OK\r\n"), "{ready}");
        assert!(ready.ends_with("\r\n\r\nready\n"), "{ready}");
        let draining = text(answer("GET", "/readyz", true));
        assert!(
            draining.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{draining}"
        );
        assert!(draining.contains("\r\nCache-Control: no-store\r\n"));
    }

    #[test]
    fn head_gets_the_head_and_other_methods_405() {
        let get = answer("GET", "/readyz", false).expect("health path");
        let head = answer("HEAD", "/readyz", false).expect("health path");
        assert_eq!(get.strip_suffix(b"ready\n"), Some(&head[..]));
        let post = text(answer("POST", "/healthz", false));
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
    }

    #[test]
    fn other_paths_are_not_health_checks() {
        for path in ["/", "/healthz/", "/readyz.html", "/HEALTHZ", "/metrics"] {
            assert!(answer("GET", path, false).is_none(), "{path}");
        }
    }
}
