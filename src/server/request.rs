//! The first bytes of every connection: read the HTTP request head (size-limited, within
//! `--handshake-timeout`) and route it: a WebSocket upgrade (§4.2), `POST /publish/<channel>`,
//! or a static file from `www/`. What it refuses, it refuses with the true reason
//! ([`Refusal`]): a broken handshake rule, or the server's policy.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info};

use super::claim::Claim;
use super::conn::peer;
use super::conn::tap::{HandshakeRecord, Tap, TapInfo};
use super::hub::Command;
use super::metrics::{self, metrics};
use super::per_address::Place;
use super::refusal::{PublishError, Refusal};
use super::shared::Shared;
use super::trust::{self, Client};
use super::{exposition, health, static_files};
use crate::app::query;
use crate::app::{ClientId, Endpoint};
use crate::config::Config;
use crate::protocol::deflate::Params;
use crate::protocol::handshake::{self, Upgrade};
use crate::protocol::http::{parse_request_head, response, RequestHead};

/// The largest body `POST /publish` accepts.
pub(crate) const MAX_PUBLISH_BODY: usize = 64 * 1024;
/// Bytes asked for by each read of the request head.
const HEAD_READ: usize = 2048;
/// How long `POST /publish` waits for the hub to take it (see [`hand_to_hub`]).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long it then waits for the answer to a publish the hub has taken: one command's work.
const TAKEN_ANSWER_WAIT: Duration = Duration::from_secs(30);

/// What a listening socket serves: the routes [`handle`] offers on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    /// Everything: static files, `POST /publish`, WebSocket upgrades.
    Main,
    /// Static files only: a tutorial's page port (`--page-addr`), as its Express server was.
    Page,
}

/// Serves one connection from its first byte to its last.
///
/// The request is answered in a call of its own, so that once the connection is upgraded the
/// frames that read and checked its head are off the stack the reader then blocks on: an idle
/// connection touches fewer stack pages.
///
/// `head_place` is the connection's place among its address's unfinished request heads
/// (`--max-heads-per-address`): given back as soon as the head is read.
pub(crate) fn handle(
    stream: TcpStream,
    id: ClientId,
    shared: &Arc<Shared>,
    port: Port,
    head_place: Option<Place>,
) {
    if let Some(up) = answer(stream, id, shared, port, head_place) {
        let Upgraded {
            stream,
            response_101,
            leftover,
            endpoint,
            tap,
            deflate,
        } = up;
        let _open = metrics::endpoint(&endpoint).open();
        peer::serve(
            stream,
            response_101,
            leftover,
            endpoint,
            tap,
            deflate,
            shared,
        );
    }
}

/// An accepted upgrade whose 101 is ready: what [`peer::serve`] starts from.
struct Upgraded {
    stream: TcpStream,
    response_101: Vec<u8>,
    /// Bytes read past the request head: the first frames.
    leftover: Vec<u8>,
    endpoint: Endpoint,
    tap: Arc<Tap>,
    deflate: Option<Params>,
}

/// Reads the request head and answers it; an accepted upgrade is returned, not yet answered.
#[inline(never)]
fn answer(
    mut stream: TcpStream,
    id: ClientId,
    shared: &Arc<Shared>,
    port: Port,
    head_place: Option<Place>,
) -> Option<Upgraded> {
    let _ = stream.set_nodelay(true);
    let read = read_head(&mut stream, shared);
    drop(head_place);
    let RequestRead { head, leftover } = match read {
        Ok(Some(read)) => read,
        Ok(None) => return None, // closed before sending a request
        Err(refusal) => {
            debug!("peer {id}: bad request head: {refusal}");
            metrics().handshake_failed(refusal.status());
            let _ = stream.write_all(&refusal.response());
            return None;
        }
    };
    if let Some(answer) = health::answer(head.method(), head.path(), shared.is_shutting_down()) {
        let _ = stream.write_all(&answer);
        return None;
    }
    if let Err(refusal) = trust::check_host(&head, &shared.config) {
        info!("peer {id}: refused, {} {}", refusal.status, refusal.reason);
        if handshake::is_upgrade_request(&head) {
            metrics().handshake_failed(refusal.status);
        }
        let _ = stream.write_all(&refusal.response());
        return None;
    }
    if let Some(answer) = exposition::answer(head.method(), head.path(), shared) {
        let _ = stream.write_all(&answer);
        return None;
    }
    let client = trust::client(
        stream.peer_addr().ok(),
        &head,
        &shared.config.trusted_proxies,
        shared.config.forwarded_header,
    );
    match route(&head, port) {
        Route::Refused(refusal) => {
            info!("peer {id}: refused, {} {refusal}", refusal.status());
            metrics().handshake_failed(refusal.status());
            let _ = stream.write_all(&refusal.response());
        }
        Route::Upgrade => match check_upgrade(&head, &shared.config, shared.is_shutting_down()) {
            Ok((upgrade, endpoint)) => {
                info!(
                    "peer {id}: upgraded at {} ({})",
                    head.path(),
                    endpoint.name()
                );
                let response = handshake::response_101(&upgrade);
                let peer = client.inspector_peer();
                let tap = tap_for(id, &head, &upgrade, &response, &endpoint, peer);
                return Some(Upgraded {
                    stream,
                    response_101: response,
                    leftover,
                    endpoint,
                    tap,
                    deflate: upgrade.deflate,
                });
            }
            Err(refusal) => {
                info!(
                    "peer {id}: handshake refused, {} {refusal}",
                    refusal.status()
                );
                metrics().handshake_failed(refusal.status());
                let _ = stream.write_all(&refusal.response());
            }
        },
        Route::Publish { channel } => {
            let answer = publish(&mut stream, &head, &client, channel, leftover, shared);
            let _ = stream.write_all(&answer);
        }
        Route::Static => {
            let answer = serve_static(&head, shared);
            let _ = stream.write_all(&answer);
        }
    }
    None
}

/// Where a request goes once the server's own endpoints (health, metrics) and the `Host` check
/// have had it.
#[derive(Debug, PartialEq, Eq)]
enum Route<'h> {
    /// A WebSocket upgrade (§4.2.1), judged by [`check_upgrade`].
    Upgrade,
    /// `POST /publish/<channel>` (any other method is answered 405).
    Publish {
        /// The channel named by the path.
        channel: &'h str,
    },
    /// A file from `www/`.
    Static,
    /// Refused as it is.
    Refused(Refusal),
}

/// Routes `head`, received on `port`: upgrades, publishing and files; the page port serves
/// files only.
fn route(head: &RequestHead, port: Port) -> Route<'_> {
    let upgrade = handshake::is_upgrade_request(head);
    match port {
        Port::Page if upgrade => Route::Refused(Refusal::PagePort),
        Port::Page => Route::Static,
        Port::Main if upgrade => Route::Upgrade,
        Port::Main => match head.path().strip_prefix("/publish/") {
            Some(channel) => Route::Publish { channel },
            None => Route::Static,
        },
    }
}

/// A file from `--www`, or else from the fallback folder (the tutorials' Inspector page).
fn serve_static(head: &RequestHead, shared: &Shared) -> Vec<u8> {
    let root = match &shared.www_fallback {
        Some(fallback)
            if static_files::resolve(&shared.www_root, head.path()).is_err()
                && static_files::resolve(fallback, head.path()).is_ok() =>
        {
            fallback
        }
        _ => &shared.www_root,
    };
    static_files::serve(root, head.method(), head.path())
}

/// A request head as read from the socket.
struct RequestRead {
    head: RequestHead,
    /// Bytes read past the head: a body, or the first frames.
    leftover: Vec<u8>,
}

/// Reads until the request head is whole. `Ok(None)` if the peer closed first.
///
/// # Errors
///
/// [`Refusal::Timeout`] when the head is not whole by `--handshake-timeout`, and
/// [`Refusal::Handshake`] for a head that breaks an HTTP rule or a limit.
fn read_head(stream: &mut TcpStream, shared: &Shared) -> Result<Option<RequestRead>, Refusal> {
    let limits = &shared.config.head_limits;
    let deadline = Instant::now() + shared.config.handshake_timeout;
    // Read straight into the heap buffer (no chunk on the stack: see `handle`).
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return Err(Refusal::Timeout);
        }
        let filled = buf.len();
        buf.resize(filled + HEAD_READ, 0);
        let read = stream.read(buf.get_mut(filled..).unwrap_or_default());
        buf.truncate(filled + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Refusal::Timeout)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(None),
        }
        if let Some((head, len)) = parse_request_head(&buf, limits)? {
            let leftover = buf.get(len..).unwrap_or_default().to_vec();
            return Ok(Some(RequestRead { head, leftover }));
        }
    }
}

/// The connection's Inspector tap. A `tap=TOKEN` in the URL lets whoever knows the token
/// watch it, and keeps its handshake to show step by step. `peer` is the client as
/// [`trust::client`] sees it ([`Client::inspector_peer`]), so the Inspector's loopback rule
/// judges the real client, and a forwarded request from an unlisted proxy gets no privilege.
fn tap_for(
    id: ClientId,
    head: &RequestHead,
    upgrade: &Upgrade<'_>,
    response: &[u8],
    endpoint: &Endpoint,
    peer: Option<SocketAddr>,
) -> Arc<Tap> {
    let token = query::first(head.query(), "tap").filter(|t| !t.is_empty());
    let handshake = token.as_ref().map(|_| {
        Box::new(HandshakeRecord {
            request: String::from_utf8_lossy(head.as_bytes()).into_owned(),
            key: upgrade.key.to_owned(),
            response: String::from_utf8_lossy(response).into_owned(),
            deflate: upgrade.deflate,
        })
    });
    Tap::new(TapInfo {
        conn: id,
        endpoint: endpoint.name(),
        peer,
        token,
        handshake,
        deflate: upgrade.deflate,
    })
}

/// §4.2.1: is this an upgrade we accept, and to which endpoint? A server `shutting_down`
/// accepts none.
fn check_upgrade<'h>(
    head: &'h RequestHead,
    config: &Config,
    shutting_down: bool,
) -> Result<(Upgrade<'h>, Endpoint), Refusal> {
    let mut upgrade = handshake::check_request(head, &[])?;
    let endpoint = endpoint_at(head, config)?;
    if config.deflate {
        let (negotiation, malformed) = handshake::negotiate_extensions(head);
        if let Some(error) = malformed {
            debug!("Sec-WebSocket-Extensions declined: {error}");
        }
        for (offer, why) in &negotiation.declined {
            debug!("extension offer declined (RFC 7692 §7): {offer}: {why}");
        }
        upgrade.deflate = negotiation.agreed;
    }
    handshake::check_origin(&upgrade, &config.allowed_origins)?;
    if shutting_down {
        return Err(Refusal::ShuttingDown);
    }
    Ok((upgrade, endpoint))
}

/// The endpoint at the request's path: under a tutorial, the tutorial's at every path (but
/// `/inspect`); otherwise the one [`Endpoint::route`] names, or a 404 listing the paths.
fn endpoint_at(head: &RequestHead, config: &Config) -> Result<Endpoint, Refusal> {
    match config.tutorial {
        Some(tutorial) => Ok(Endpoint::route_tutorial(tutorial, head.path())),
        None => Endpoint::route(head.path(), head.query()).ok_or(Refusal::NotFound {
            paths: crate::app::paths(),
        }),
    }
}

/// `POST /publish/<channel>`: the body goes to the channel's subscribers; `202` with the count.
fn publish(
    stream: &mut TcpStream,
    head: &RequestHead,
    client: &Client,
    channel: &str,
    leftover: Vec<u8>,
    shared: &Shared,
) -> Vec<u8> {
    let plain = |status: u16, text: &str| {
        response(
            status,
            &[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Connection", "close"),
            ],
            format!("{text}\n").as_bytes(),
        )
    };
    if head.method() != "POST" {
        return response(
            405,
            &[("Allow", "POST"), ("Connection", "close")],
            b"use POST\n",
        );
    }
    if let Err(refusal) = trust::check_publish_origin(head, &shared.config) {
        return refusal.response();
    }
    match authorize(client, head, shared) {
        Ok(()) => {}
        // RFC 6750 §3: a 401 names the scheme the client should use.
        Err((401, why)) => {
            return response(
                401,
                &[
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("WWW-Authenticate", "Bearer realm=\"wsmith publish\""),
                    ("Connection", "close"),
                ],
                format!("{why}\n").as_bytes(),
            )
        }
        Err((status, why)) => return plain(status, why),
    }
    let Some(length) = head
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<usize>().ok())
    else {
        return plain(411, "Content-Length required");
    };
    if length > MAX_PUBLISH_BODY {
        return plain(413, &format!("body over {MAX_PUBLISH_BODY} bytes"));
    }
    let body = match read_body(stream, leftover, length, shared.config.handshake_timeout) {
        Ok(body) => body,
        Err(_) => return plain(408, "body did not arrive in time"),
    };
    let Ok(text) = String::from_utf8(body) else {
        return plain(400, "body must be UTF-8 text");
    };
    let recipients = match hand_to_hub(channel, text, shared) {
        Ok(recipients) => recipients,
        Err(error) => return plain(error.status(), &error.to_string()),
    };
    response(
        202,
        &[
            ("Content-Type", "application/json"),
            ("Connection", "close"),
        ],
        format!(
            "{{\"channel\":{},\"recipients\":{recipients}}}\n",
            serde_json::Value::from(channel)
        )
        .as_bytes(),
    )
}

/// Hands a publish to the hub and waits for its answer, until [`PUBLISH_TIMEOUT`]: the number
/// of recipients, or why nothing was published. A publish the hub has not taken by then is
/// abandoned ([`Claim`]): the hub drops it when it gets there, so a 503 means "not published"
/// and a retry publishes once.
///
/// # Errors
///
/// [`PublishError::HubBusy`] when the hub did not take the publish in time (its queue was full,
/// or it did not get to it); [`PublishError::Hub`] with the hub's own answer (no such channel,
/// refused, shutting down);
/// [`PublishError::Unanswered`] in the one case where the hub took it and did not answer.
fn hand_to_hub(channel: &str, text: String, shared: &Shared) -> Result<usize, PublishError> {
    let deadline = Instant::now() + PUBLISH_TIMEOUT;
    let claim = Claim::default();
    let (reply, answer) = crossbeam_channel::bounded(1);
    let command = Command::Publish {
        channel: channel.to_owned(),
        text,
        reply,
        claim: claim.clone(),
    };
    if !shared.hub_send_before(command, deadline) {
        return Err(PublishError::HubBusy);
    }
    let answered = match answer.recv_deadline(deadline) {
        Err(_) if claim.abandon() => return Err(PublishError::HubBusy),
        // Taken just now: the hub is publishing it, its answer is on the way.
        Err(_) => answer.recv_timeout(TAKEN_ANSWER_WAIT),
        Ok(answered) => Ok(answered),
    };
    match answered {
        Ok(Ok(recipients)) => Ok(recipients),
        Ok(Err(why)) => Err(PublishError::from(why)),
        Err(_) => Err(PublishError::Unanswered),
    }
}

/// Publishing needs the bearer token if one is set, else a client on loopback that reached us
/// directly ([`trust::check_tokenless_publish`]).
fn authorize(
    client: &Client,
    head: &RequestHead,
    shared: &Shared,
) -> Result<(), (u16, &'static str)> {
    match &shared.config.publish_token {
        Some(token) => {
            // RFC 7235 §2.1: the scheme name is case-insensitive.
            let given = head
                .header("Authorization")
                .and_then(|value| value.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, credentials)| credentials.trim());
            if given == Some(token.as_str()) {
                Ok(())
            } else {
                Err((401, "missing or wrong bearer token"))
            }
        }
        None => trust::check_tokenless_publish(client, head)
            .map_err(|refusal| (refusal.status, refusal.reason)),
    }
}

/// Reads the rest of a `Content-Length` body, all of it by `timeout` from now: a deadline for
/// the whole body, not for each read, so a client that sends a byte at a time cannot hold the
/// connection longer.
fn read_body(
    stream: &mut TcpStream,
    mut body: Vec<u8>,
    length: usize,
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut filled = body.len().min(length);
    body.resize(length, 0);
    while filled < length {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(remaining))?;
        match stream.read(body.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    body.truncate(length);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tutorial::Tutorial;
    use crate::protocol::http::HeadLimits;
    use crate::protocol::HandshakeError;

    /// A request head with the §1.3 example's upgrade fields, at `path`, plus `extra` lines.
    fn upgrade_to(path: &str, extra: &str) -> RequestHead {
        let text = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        head_of(&text)
    }

    fn head_of(text: &str) -> RequestHead {
        let parsed = parse_request_head(text.as_bytes(), &HeadLimits::default());
        let (head, _) = parsed.expect("valid head").expect("whole head");
        head
    }

    #[test]
    fn an_upgrade_to_each_known_path_reaches_its_endpoint() {
        let config = Config::default();
        for path in crate::app::paths() {
            let head = upgrade_to(path, "");
            assert_eq!(route(&head, Port::Main), Route::Upgrade, "{path}");
            let (upgrade, endpoint) = check_upgrade(&head, &config, false).expect("accepted");
            assert_eq!(upgrade.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
            assert_eq!(
                Some(&endpoint),
                Endpoint::route(path, None).as_ref(),
                "{path}"
            );
        }
    }

    #[test]
    fn an_upgrade_to_an_unknown_path_is_404_listing_the_endpoints() {
        let head = upgrade_to("/nope", "");
        let refusal = check_upgrade(&head, &Config::default(), false).expect_err("no endpoint");
        assert_eq!(refusal.status(), 404);
        let body = String::from_utf8(refusal.response()).expect("ascii");
        assert!(
            body.ends_with(
                "the endpoints are / /echo /broadcast /chat /notifications /inspect /lab\n"
            ),
            "{body}"
        );
    }

    #[test]
    fn a_tutorial_takes_every_path() {
        let config = Config {
            tutorial: Some(Tutorial::WelcomeEcho),
            ..Config::default()
        };
        let head = upgrade_to("/anything", "");
        assert!(check_upgrade(&head, &config, false).is_ok());
    }

    #[test]
    fn refusals_carry_their_own_status() {
        let config = Config::default();
        let echo = upgrade_to("/echo", "");
        let shutting_down = check_upgrade(&echo, &config, true).expect_err("refused");
        assert_eq!(shutting_down, Refusal::ShuttingDown);
        assert_eq!(shutting_down.status(), 503);
        let head = head_of("GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n");
        let refusal = check_upgrade(&head, &config, false).expect_err("no Connection: Upgrade");
        assert_eq!(
            refusal,
            Refusal::Handshake(HandshakeError::MissingConnectionUpgrade)
        );
        assert_eq!(refusal.status(), 400);
        let strict = Config {
            allowed_origins: vec!["https://example.com".to_owned()],
            ..Config::default()
        };
        let foreign = upgrade_to("/echo", "Origin: https://evil.example\r\n");
        let refusal = check_upgrade(&foreign, &strict, false).expect_err("foreign origin");
        assert_eq!(refusal.status(), 403);
    }

    #[test]
    fn gets_are_files_and_posts_to_publish_are_published() {
        let cases = [
            ("GET / HTTP/1.1", Port::Main, Route::Static),
            ("GET /js/main.js HTTP/1.1", Port::Main, Route::Static),
            (
                "POST /publish/news HTTP/1.1",
                Port::Main,
                Route::Publish { channel: "news" },
            ),
            // Any method reaches `publish`, which answers 405 to all but POST.
            (
                "GET /publish/news HTTP/1.1",
                Port::Main,
                Route::Publish { channel: "news" },
            ),
            ("GET /publish/news HTTP/1.1", Port::Page, Route::Static),
        ];
        for (line, port, expected) in cases {
            let head = head_of(&format!("{line}\r\nHost: localhost\r\n\r\n"));
            assert_eq!(route(&head, port), expected, "{line} on {port:?}");
        }
    }

    #[test]
    fn the_page_port_refuses_upgrades_with_404() {
        let head = upgrade_to("/echo", "");
        assert_eq!(route(&head, Port::Page), Route::Refused(Refusal::PagePort));
        assert_eq!(Refusal::PagePort.status(), 404);
    }
}
