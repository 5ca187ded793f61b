//! Publishing and upgrades that a web page cannot forge, over real sockets: the `Host` of a
//! loopback server (DNS rebinding), the `Origin` and `Sec-Fetch-Site` of `POST /publish`
//! (cross-site requests), an ambiguous body length (request smuggling, RFC 9112 §6.1), and
//! who the client is behind a `--trusted-proxy`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;
use support::{
    http_exchange, inspector_may_list, status_of, upgrade_request, RawClient, TestServer,
};

/// `POST /publish/notifications` with `body` and extra header lines; returns the whole answer.
fn publish(addr: SocketAddr, host: &str, headers: &str, body: &str) -> String {
    let request = format!(
        "POST /publish/notifications HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    http_exchange(addr, request.as_bytes())
}

/// The body of an answer.
fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// A `/notifications` listener the hub has registered.
fn listener(server: &TestServer) -> RawClient {
    let client = RawClient::connect(server.addr, "/notifications");
    server.wait_for_hub_clients(1);
    client
}

/// The text of the next notification `client` receives.
fn next_notification(client: &mut RawClient) -> String {
    let event: Value = serde_json::from_str(&client.read_text()).expect("JSON notification");
    event["text"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn publish_from_another_origin_or_site_is_403_with_or_without_a_token() {
    for token in [None, Some("s3cret")] {
        let server = TestServer::with(|c| c.publish_token = token.map(str::to_owned));
        let mut notifications = listener(&server);
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let refused = [
            ("another origin", "Origin: http://evil.test\r\n", "Origin"),
            ("an opaque origin", "Origin: null\r\n", "Origin"),
            (
                "a cross-site fetch",
                "Sec-Fetch-Site: cross-site\r\n",
                "cross-site",
            ),
            (
                "cross-site from a listed-looking origin",
                "Origin: http://localhost\r\nSec-Fetch-Site: cross-site\r\n",
                "cross-site",
            ),
        ];
        for (what, headers, reason) in refused {
            let answer = publish(server.addr, "localhost", &format!("{auth}{headers}"), what);
            assert_eq!(status_of(&answer), 403, "{what} ({token:?}): {answer}");
            assert!(body(&answer).contains(reason), "{what}: {answer}");
        }
        // The server's own page, and a program (no Origin), may publish.
        let own = "Origin: http://localhost\r\nSec-Fetch-Site: same-origin\r\n";
        let answer = publish(
            server.addr,
            "localhost",
            &format!("{auth}{own}"),
            "from the page",
        );
        assert_eq!(status_of(&answer), 202, "{answer}");
        let answer = publish(server.addr, "localhost", &auth, "from curl");
        assert_eq!(status_of(&answer), 202, "{answer}");
        // Nothing refused reached the listener: the first two it sees are the allowed ones.
        assert_eq!(next_notification(&mut notifications), "from the page");
        assert_eq!(next_notification(&mut notifications), "from curl");
    }
}

#[test]
fn allowed_origin_may_publish_unless_cross_site() {
    let server = TestServer::with(|c| c.allowed_origins = vec!["http://admin.localhost".into()]);
    let listed = "Origin: http://admin.localhost\r\nSec-Fetch-Site: same-site\r\n";
    assert_eq!(
        status_of(&publish(server.addr, "localhost", listed, "x")),
        202
    );
}

/// Writes `request` and reads the whole answer, which must end with the server closing.
fn answer_then_close(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("write");
    let mut answer = Vec::new();
    // Ends with Ok at the server's FIN; a timeout would mean it kept the connection open.
    stream
        .read_to_end(&mut answer)
        .expect("the server closes the connection after its answer");
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn content_length_with_transfer_encoding_is_400_and_the_connection_closes() {
    let server = TestServer::start();
    let mut notifications = listener(&server);
    // Read by Content-Length, the body is "0\r\n\r\n" plus a smuggled second request; read
    // as chunked, it ends after "0\r\n\r\n" and the second request is real.
    let smuggled = "POST /publish/notifications HTTP/1.1\r\nHost: localhost\r\n\
                    Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                    POST /publish/notifications HTTP/1.1\r\nHost: localhost\r\n\
                    Content-Length: 8\r\n\r\nsmuggled";
    let answer = answer_then_close(server.addr, smuggled.as_bytes());
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert!(body(&answer).contains("Transfer-Encoding"), "{answer}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    assert_eq!(
        answer.matches("HTTP/1.1 ").count(),
        1,
        "one answer: {answer}"
    );

    // The same rule before an upgrade, and for lengths that disagree.
    let upgrade = upgrade_request(
        "/echo",
        "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
    );
    assert_eq!(
        status_of(&answer_then_close(server.addr, upgrade.as_bytes())),
        400
    );
    let two = "POST /publish/notifications HTTP/1.1\r\nHost: localhost\r\n\
               Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    assert_eq!(
        status_of(&answer_then_close(server.addr, two.as_bytes())),
        400
    );

    assert_eq!(
        status_of(&publish(server.addr, "localhost", "", "after")),
        202
    );
    assert_eq!(next_notification(&mut notifications), "after");
}

#[test]
fn loopback_server_answers_421_to_a_host_that_is_not_its_name() {
    let server = TestServer::start();
    let port = server.addr.port();
    let page = |host: &str| format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "LocalHost".to_owned(),
    ] {
        let answer = http_exchange(server.addr, page(&host).as_bytes());
        assert_eq!(status_of(&answer), 200, "{host}: {answer:.200}");
    }
    let rebound = format!("evil.test:{port}");
    let answer = http_exchange(server.addr, page(&rebound).as_bytes());
    assert_eq!(status_of(&answer), 421, "{answer}");
    assert!(body(&answer).contains("--allowed-host"), "{answer}");
    assert!(
        !answer.contains("<html"),
        "the page was served: {answer:.300}"
    );

    // An upgrade, even with Origin and Host agreeing as a rebinding page makes them.
    let origin = format!("Origin: http://{rebound}\r\n");
    let upgrade =
        upgrade_request("/chat", &origin).replace("Host: localhost", &format!("Host: {rebound}"));
    assert_eq!(
        status_of(&http_exchange(server.addr, upgrade.as_bytes())),
        421
    );
    // And a publish.
    assert_eq!(status_of(&publish(server.addr, &rebound, "", "x")), 421);
}

#[test]
fn allowed_host_is_served() {
    let server = TestServer::with(|c| c.allowed_hosts = vec!["chat.example.com".into()]);
    for (host, status) in [("chat.example.com:8443", 200), ("www.example.com", 421)] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let answer = http_exchange(server.addr, request.as_bytes());
        assert_eq!(status_of(&answer), status, "{host}: {answer:.200}");
    }
}

#[test]
fn proxied_publish_needs_the_token() {
    let proxied = TestServer::with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]);
    for headers in [
        "",
        "X-Forwarded-For: 127.0.0.1\r\n",
        "Forwarded: for=203.0.113.7\r\n",
    ] {
        let answer = publish(proxied.addr, "localhost", headers, "x");
        assert_eq!(status_of(&answer), 403, "{headers:?}: {answer}");
        assert!(body(&answer).contains("--publish-token"), "{answer}");
    }
    let with_token = TestServer::with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
        c.publish_token = Some("s3cret".into());
    });
    let auth = "Authorization: Bearer s3cret\r\nX-Forwarded-For: 203.0.113.7\r\n";
    assert_eq!(
        status_of(&publish(with_token.addr, "localhost", auth, "x")),
        202
    );
}

#[test]
fn forwarded_request_from_an_unlisted_proxy_cannot_publish_without_a_token() {
    let server = TestServer::start();
    for headers in ["X-Forwarded-For: 203.0.113.7\r\n", "Via: 1.1 nginx\r\n"] {
        let answer = publish(server.addr, "localhost", headers, "x");
        assert_eq!(status_of(&answer), 403, "{headers:?}: {answer}");
        assert!(body(&answer).contains("--trusted-proxy"), "{answer}");
    }
}

#[test]
fn client_address_comes_from_forwarded_for_only_through_a_trusted_proxy() {
    let remote = "X-Forwarded-For: 203.0.113.7\r\n";
    // Not trusted: the header names nobody, and its loopback peer is a proxy nobody listed,
    // so the request has no loopback privilege, whatever the header says; without it, it has.
    let direct = TestServer::start();
    assert!(!inspector_may_list(direct.addr, remote));
    assert!(!inspector_may_list(
        direct.addr,
        "X-Forwarded-For: 127.0.0.1\r\n"
    ));
    assert!(!inspector_may_list(
        direct.addr,
        "Forwarded: for=127.0.0.1\r\n"
    ));
    assert!(inspector_may_list(direct.addr, ""));
    // Trusted: the client is 203.0.113.7, not on loopback.
    let proxied = TestServer::with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]);
    assert!(!inspector_may_list(proxied.addr, remote));
    assert!(inspector_may_list(
        proxied.addr,
        "X-Forwarded-For: 127.0.0.1\r\n"
    ));
    // The field the operator did not name is never read: a forged `Forwarded` behind a proxy
    // that sets X-Forwarded-For gives nothing, and the other way round.
    let forged = "Forwarded: for=127.0.0.1\r\nX-Forwarded-For: 203.0.113.7\r\n";
    assert!(!inspector_may_list(proxied.addr, forged));
    let rfc_7239 = TestServer::with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
        c.forwarded_header = wsmith::protocol::forwarded::ForwardingField::Forwarded;
    });
    let forged = "X-Forwarded-For: 127.0.0.1\r\nForwarded: for=203.0.113.7\r\n";
    assert!(!inspector_may_list(rfc_7239.addr, forged));
    assert!(inspector_may_list(
        rfc_7239.addr,
        "Forwarded: for=127.0.0.1\r\n"
    ));
}

#[test]
fn a_trusted_proxy_range_covers_the_peer_and_one_just_outside_does_not() {
    let remote = "X-Forwarded-For: 203.0.113.7\r\n";
    // 127.0.0.0/8 holds the test's peer, 127.0.0.1: its X-Forwarded-For is believed.
    let range =
        TestServer::with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("range")]);
    assert!(!inspector_may_list(range.addr, remote));
    let answer = publish(range.addr, "localhost", "", "x");
    assert_eq!(status_of(&answer), 403, "proxied: {answer}");
    // 127.0.0.2/31 is 127.0.0.2 and 127.0.0.3: the peer is not in it, so the header is not
    // believed (and takes the loopback privilege), and a plain publish from it is a direct
    // loopback one.
    let beside =
        TestServer::with(|c| c.trusted_proxies = vec!["127.0.0.2/31".parse().expect("range")]);
    assert!(!inspector_may_list(beside.addr, remote));
    assert!(inspector_may_list(beside.addr, ""));
    assert_eq!(status_of(&publish(beside.addr, "localhost", "", "x")), 202);
}
