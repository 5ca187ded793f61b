//! The first bytes of every connection: read the HTTP request head (size-limited, within
//! `--handshake-timeout`) and route it: a WebSocket upgrade (§4.2), `POST /publish/<channel>`,
//! or a static file from `www/`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info};

use super::conn::peer;
use super::conn::tap::{HandshakeRecord, Tap, TapInfo};
use super::hub::Command;
use super::metrics::{self, metrics};
use super::shared::Shared;
use super::trust::{self, Client};
use super::{exposition, health, static_files};
use crate::app::query;
use crate::app::{ClientId, Endpoint};
use crate::protocol::deflate::Params;
use crate::protocol::handshake::{self, Upgrade};
use crate::protocol::http::{error_response, parse_request_head, response, RequestHead};
use crate::protocol::HandshakeError;

/// The largest body `POST /publish` accepts.
pub const MAX_PUBLISH_BODY: usize = 64 * 1024;
/// Bytes asked for by each read of the request head.
const HEAD_READ: usize = 2048;
/// How long `POST /publish` waits for the hub's answer.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a listening socket serves: the routes [`handle`] offers on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
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
pub fn handle(stream: TcpStream, id: ClientId, shared: &Arc<Shared>, port: Port) {
    if let Some(up) = answer(stream, id, shared, port) {
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
) -> Option<Upgraded> {
    let _ = stream.set_nodelay(true);
    let RequestRead { head, leftover } = match read_head(&mut stream, shared) {
        Ok(Some(read)) => read,
        Ok(None) => return None, // closed before sending a request
        Err(error) => {
            debug!("peer {id}: bad request head: {error}");
            metrics().handshake_failed(error.status());
            let _ = stream.write_all(&error_response(&error));
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
    );
    if port == Port::Page {
        let answer = if handshake::is_upgrade_request(&head) {
            info!("peer {id}: upgrade on the page port refused (the WebSocket is on --addr)");
            metrics().handshake_failed(HandshakeError::NotFound.status());
            error_response(&HandshakeError::NotFound)
        } else {
            serve_static(&head, shared)
        };
        let _ = stream.write_all(&answer);
    } else if handshake::is_upgrade_request(&head) {
        match check_upgrade(&head, shared) {
            Ok((upgrade, endpoint)) => {
                info!(
                    "peer {id}: upgraded at {} ({})",
                    head.path(),
                    endpoint.name()
                );
                let response = handshake::response_101(&upgrade);
                let tap = tap_for(id, &head, &upgrade, &response, &endpoint, client.addr);
                return Some(Upgraded {
                    stream,
                    response_101: response,
                    leftover,
                    endpoint,
                    tap,
                    deflate: upgrade.deflate,
                });
            }
            Err(error) => {
                info!("peer {id}: handshake refused, {} {error}", error.status());
                metrics().handshake_failed(error.status());
                let _ = stream.write_all(&error_response(&error));
            }
        }
    } else if let Some(channel) = head.path().strip_prefix("/publish/") {
        let answer = publish(&mut stream, &head, &client, channel, leftover, shared);
        let _ = stream.write_all(&answer);
    } else {
        let answer = serve_static(&head, shared);
        let _ = stream.write_all(&answer);
    }
    None
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
fn read_head(
    stream: &mut TcpStream,
    shared: &Shared,
) -> Result<Option<RequestRead>, HandshakeError> {
    let limits = &shared.config.head_limits;
    let deadline = Instant::now() + shared.config.handshake_timeout;
    // Read straight into the heap buffer (no chunk on the stack: see `handle`).
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return Err(HandshakeError::Timeout);
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
                return Err(HandshakeError::Timeout)
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
/// [`trust::client`] sees it, so the Inspector's loopback rule judges the real client.
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
            accept: upgrade.accept.clone(),
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

/// §4.2.1: is this an upgrade we accept, and to which endpoint?
fn check_upgrade<'h>(
    head: &'h RequestHead,
    shared: &Shared,
) -> Result<(Upgrade<'h>, Endpoint), HandshakeError> {
    let mut upgrade = handshake::check_request(head, &[])?;
    let endpoint = match shared.config.tutorial {
        Some(tutorial) => Endpoint::route_tutorial(tutorial, head.path()),
        None => Endpoint::route(head.path(), head.query()).ok_or(HandshakeError::NotFound)?,
    };
    if shared.config.deflate {
        let (negotiation, malformed) = handshake::negotiate_extensions(head);
        if let Some(error) = malformed {
            debug!("Sec-WebSocket-Extensions declined: {error}");
        }
        for (offer, why) in &negotiation.declined {
            debug!("extension offer declined (RFC 7692 §7): {offer}: {why}");
        }
        upgrade.deflate = negotiation.agreed;
    }
    handshake::check_origin(&upgrade, &shared.config.allowed_origins)?;
    if shared.is_shutting_down() {
        return Err(HandshakeError::TooManyConnections);
    }
    Ok((upgrade, endpoint))
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
    let (reply, answer) = crossbeam_channel::bounded(1);
    shared.hub_send(Command::Publish {
        channel: channel.to_owned(),
        text,
        reply,
    });
    match answer.recv_timeout(PUBLISH_TIMEOUT) {
        Ok(Ok(recipients)) => response(
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
        ),
        Ok(Err(why)) => plain(400, &why),
        Err(_) => plain(503, "hub did not answer"),
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

fn read_body(
    stream: &mut TcpStream,
    mut body: Vec<u8>,
    length: usize,
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(timeout))?;
    if body.len() < length {
        let start = body.len();
        body.resize(length, 0);
        stream.read_exact(body.get_mut(start..).unwrap_or_default())?;
    }
    body.truncate(length);
    Ok(body)
}
