//! Every setting and limit of the server. Each flag, its default and what happens when it is
//! exceeded are written once, in [`flags::FLAGS`]: `wsmith --help` prints that table and
//! `docs/operating.md` holds it, checked by a test.

pub mod flags;
pub mod ip_prefix;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::app::lab::LabLimits;
use crate::app::tutorial::Tutorial;
use crate::app::SessionConfig;
use crate::protocol::forwarded::ForwardingField;
use crate::protocol::http::HeadLimits;
use crate::protocol::Limits;
use ip_prefix::IpPrefix;

/// The server's configuration, built from command-line flags by [`Config::from_args`].
#[derive(Debug, Clone)]
pub struct Config {
    /// `--addr`: where to listen. Loopback by default: exposing the server is a choice.
    pub addr: SocketAddr,
    /// Where the page's files come from: the copy of `www/` built into the binary, or `--www`.
    pub www: Www,
    /// `--log-level` (or `RUST_LOG`): error, warn, info, debug, trace.
    pub log_level: log::LevelFilter,
    /// Frame, message and fragment limits of the protocol core (answered with 1009 / 1008).
    pub limits: Limits,
    /// `--max-head-size`, `--max-headers`: request head limits (answered with 431).
    pub head_limits: HeadLimits,
    /// `--handshake-timeout`: time for a request head to arrive whole (answered with 408).
    pub handshake_timeout: Duration,
    /// `--max-connections`: open connections at once; more are answered with 503.
    pub max_connections: usize,
    /// `--max-backlog`: messages queued for one client before it is a slow consumer (1008).
    pub max_backlog: usize,
    /// `--max-backlog-bytes`: bytes queued (or being written) for one client before it is a
    /// slow consumer (1008). With it, what slow clients pin is at most connections × this (a
    /// message larger than the limit is still accepted into an empty outbox).
    ///
    /// 4 MiB by default: the largest send buffer Linux grows a TCP socket to
    /// (`net.ipv4.tcp_wmem`'s maximum), so a client that falls this far behind on top of full
    /// socket buffers is not catching up; and sixteen of the hub's 256 KiB broadcast batches,
    /// so a client that reads at all is never cut off by one burst.
    pub max_backlog_bytes: usize,
    /// `--max-buffered-bytes`: bytes that the incomplete messages of every connection together
    /// may hold, inflated bytes included (§10.4). A message whose buffer would grow past it
    /// fails its own connection with 1013 Try Again Later; the others keep theirs. 1 GiB by
    /// default: 16 messages at the 64 MiB `--max-message-size`, a twentieth of this 24 GiB
    /// machine, where 400 connections each holding one would have taken all of it.
    pub max_buffered_bytes: u64,
    /// `--socket-send-buffer`: `SO_SNDBUF` of each WebSocket connection, the kernel memory one
    /// client's unsent bytes may hold (Linux doubles the value for its bookkeeping). `None`
    /// (off, the default) leaves the kernel's autotuning, up to `net.ipv4.tcp_wmem`'s maximum
    /// (4 MiB): on a machine with many clients that may stop reading, a bound here bounds what
    /// they pin in the kernel as `--max-backlog-bytes` bounds what they pin in the server.
    pub socket_send_buffer: Option<usize>,
    /// `--max-chat-message-size`: the largest message, in bytes, at the endpoints that take
    /// JSON commands (`/chat`, `/inspect`, `/notifications`), refused from the frame header
    /// with 1009 (§10.4). `--max-message-size` stays the limit of `/echo` and `/broadcast`.
    pub max_chat_message_size: u64,
    /// `--listen-backlog`: connections the kernel queues for `accept` (`listen(2)`); when
    /// full, it drops new SYNs and those clients retry after 1 s. Capped by
    /// `net.core.somaxconn` (4096 by default since Linux 5.4). 4096 by default: a burst of
    /// 2,000 connects at once overflowed 1024 (the bench's burst scenario), not 4096.
    pub listen_backlog: u32,
    /// `--ping-interval`: idle time before the server pings; a client that has not answered
    /// within another interval is dropped. 0 turns keepalive off.
    pub ping_interval: Duration,
    /// `--close-timeout`: how long to wait for the peer's Close after sending ours.
    pub close_timeout: Duration,
    /// `--write-timeout`: how long a write may make no progress (the peer stopped reading)
    /// before the connection is dropped.
    pub write_timeout: Duration,
    /// `--shutdown-timeout`: how long a graceful shutdown waits for clients' Close replies.
    pub shutdown_timeout: Duration,
    /// `--history`: messages kept per chat channel and replayed on subscribe.
    pub history: usize,
    /// `--notify-every`: seconds between periodic notifications; `None` is off.
    pub notify_every: Option<Duration>,
    /// `--publish-token`: if set, `POST /publish` needs `Authorization: Bearer <token>`;
    /// if not, it is allowed from loopback only.
    pub publish_token: Option<String>,
    /// `--allowed-origin` (repeatable): browser origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// `--allowed-host` (repeatable): `Host` names this server answers to besides `localhost`,
    /// `127.0.0.1` and `[::1]` (`NAME` for any port, `NAME:PORT` for one). Checked when bound
    /// to loopback or when any is given; another `Host` is answered 421 (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// `--trusted-proxy` (repeatable): peers whose `Forwarded` / `X-Forwarded-For` name the
    /// client, an address or a range (`10.0.0.0/8`, `fd00::/8`). A request through one is
    /// "proxied": publishing it needs `--publish-token`.
    pub trusted_proxies: Vec<IpPrefix>,
    /// `--forwarded-header`: the one field a trusted proxy names the client in
    /// (`X-Forwarded-For` by default, or `Forwarded`); the other is never read.
    pub forwarded_header: ForwardingField,
    /// `--max-heads-per-address`: connections from one address whose request head has not
    /// arrived whole yet; one more from it is answered 503 (slowloris). 0 is no cap.
    pub max_heads_per_address: usize,
    /// `--max-connections-per-address`: open connections from one peer address; one more from
    /// it is answered 503. Behind a proxy the peer is the proxy. 0 (the default) is no cap.
    pub max_connections_per_address: usize,
    /// `--rate-limit`: chat messages per second per connection (burst of twice that); excess
    /// gets an error event, and a client that keeps going is closed with 1008.
    pub rate_limit: u32,
    /// `--max-control-rate`: control frames per second per connection before 1008.
    pub max_control_rate: u32,
    /// `--inspect-rate`: `/inspect` commands per second per connection (burst of twice that);
    /// excess gets an error event, and a client that keeps going is closed with 1008.
    pub inspect_rate: u32,
    /// `--max-watchers`: Inspectors that may watch one connection at once; one more is refused
    /// with an error event.
    pub max_watchers: usize,
    /// `--max-replay-bytes`: the most bytes of messages one chat history replay carries; the
    /// oldest are left out (the reply says `truncated`).
    pub max_replay_bytes: usize,
    /// `--presence-lines-below`: chat rooms smaller than this get a presence line per join and
    /// leave; larger ones one coalesced count a second.
    pub presence_lines_below: usize,
    /// `--publish-creates on|off`: whether `POST /publish` to a channel that does not exist
    /// creates it (off: refused with 404).
    pub publish_creates: bool,
    /// `wsmith tutorial NAME`: the seed tutorial whose server this is; `None` for the normal
    /// endpoints.
    pub tutorial: Option<Tutorial>,
    /// `--page-addr` (tutorials with a page port of their own, `hello-chat` and `relay`):
    /// where the page is served, over plain HTTP only.
    pub page_addr: Option<SocketAddr>,
    /// Files served when `www` has no file of that name (the tutorials' Inspector page).
    pub www_fallback: Option<Www>,
    /// `--lab-max-input`, `--lab-rate`: the frame lab's input size and command rate (`/lab`).
    pub lab: LabLimits,
    /// `--deflate on|off`: accept `permessage-deflate` (RFC 7692) when a client offers it.
    pub deflate: bool,
    /// `--deflate-threshold`: messages shorter than this many bytes are sent uncompressed.
    pub deflate_threshold: usize,
    /// Fault injection for tests: a Text message equal to this makes the connection's thread
    /// panic. Not settable from the command line; only in builds with the `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub panic_on_text: Option<String>,
    /// How many commands the hub's queue holds, instead of the built-in 16,384: a small queue
    /// lets a test fill it. Not settable from the command line; `test-hooks` builds only.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub hub_queue: Option<usize>,
    /// The most threads the server may start, instead of what `vm.max_map_count` allows (an
    /// eighth still kept for writers): a small budget lets a test fill it. Not settable from
    /// the command line; `test-hooks` builds only.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub thread_budget: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            www: Www::BuiltIn(String::new()),
            log_level: log::LevelFilter::Info,
            limits: Limits::default(),
            head_limits: HeadLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_backlog: 1024,
            max_backlog_bytes: 4 << 20,
            max_buffered_bytes: 1 << 30,
            socket_send_buffer: None,
            max_chat_message_size: 64 << 10,
            listen_backlog: 4096,
            ping_interval: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(5),
            history: 50,
            notify_every: None,
            publish_token: None,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardingField::XForwardedFor,
            max_heads_per_address: 256,
            max_connections_per_address: 0,
            rate_limit: 20,
            max_control_rate: 100,
            inspect_rate: 5,
            max_watchers: 16,
            max_replay_bytes: 64 * 1024,
            publish_creates: false,
            presence_lines_below: crate::app::chat::PRESENCE_LINES_BELOW,
            tutorial: None,
            page_addr: None,
            www_fallback: None,
            lab: LabLimits::default(),
            deflate: true,
            deflate_threshold: crate::protocol::deflate::DEFAULT_THRESHOLD,
            #[cfg(feature = "test-hooks")]
            panic_on_text: None,
            #[cfg(feature = "test-hooks")]
            hub_queue: None,
            #[cfg(feature = "test-hooks")]
            thread_budget: None,
        }
    }
}

/// Where the page's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Www {
    /// A folder of the copy of `www/` built into the binary: `""` is all of it,
    /// `"tutorials/relay"` one tutorial's page. It serves the same from any directory.
    BuiltIn(String),
    /// `--www DIR`: a folder on disk, read at every request, so that an edited page is served
    /// as soon as it is saved.
    Folder(PathBuf),
}

impl From<PathBuf> for Www {
    fn from(folder: PathBuf) -> Self {
        Self::Folder(folder)
    }
}

impl From<&str> for Www {
    fn from(folder: &str) -> Self {
        Self::Folder(folder.into())
    }
}

impl Config {
    /// Builds a configuration from command-line arguments (without the program name).
    ///
    /// # Errors
    ///
    /// A one-line message naming the flag for an unknown flag, a missing value or a value that
    /// does not parse.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Self, String> {
        Self::default().with_args(args)
    }

    /// The configuration of `wsmith tutorial NAME [FLAGS]`: the tutorial's ports on loopback,
    /// its page from `www/tutorials/NAME/`, its 5-s timer; then the same flags as the server,
    /// plus `--page-addr`.
    ///
    /// # Errors
    ///
    /// As [`Config::from_args`]; also `--page-addr` for a tutorial that serves its page on the
    /// WebSocket port.
    pub fn for_tutorial<I: IntoIterator<Item = String>>(
        tutorial: Tutorial,
        args: I,
    ) -> Result<Self, String> {
        let info = tutorial.info();
        let config = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], info.ws_port)),
            page_addr: info
                .page_port
                .map(|port| SocketAddr::from(([127, 0, 0, 1], port))),
            www: Www::BuiltIn(format!("tutorials/{}", info.name)),
            // With `--www DIR` (your own tutorial folder), our Inspector page is still served.
            www_fallback: Some(Www::BuiltIn("tutorials/common".into())),
            notify_every: (tutorial == Tutorial::Notifications).then_some(Duration::from_secs(5)),
            // As Node's `ws` server (`perMessageDeflate` is off unless asked for): every frame
            // stays readable in the Inspector. `--deflate on` turns it on.
            deflate: false,
            tutorial: Some(tutorial),
            ..Self::default()
        };
        let had_page = config.page_addr.is_some();
        let mut config = config.with_args(args)?;
        // The tutorials 000 and 001 open index.html from disk, whose pages send `Origin: null`;
        // a server only this machine can reach may accept them.
        if config.addr.ip().is_loopback() {
            config.allowed_origins.push("null".into());
        }
        if config.page_addr.is_some() && !had_page {
            return Err(format!(
                "--page-addr: {tutorial} serves its page on the WebSocket port (--addr)"
            ));
        }
        Ok(config)
    }

    fn with_args<I: IntoIterator<Item = String>>(self, args: I) -> Result<Self, String> {
        let mut config = self;
        if let Ok(level) = std::env::var("RUST_LOG") {
            if let Ok(level) = level.parse() {
                config.log_level = level;
            }
        }
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            // Only the flags of the table: `--help` and the docs list every one of them.
            let Some(known) = flags::find(&flag) else {
                return Err(format!("unknown flag {flag} (see --help)"));
            };
            let mut value = || {
                args.next()
                    .ok_or_else(|| format!("{flag} needs a value: {}", known.value.accepted()))
            };
            match flag.as_str() {
                "--addr" => config.addr = parse(&flag, &value()?)?,
                "--www" => config.www = Www::Folder(PathBuf::from(value()?)),
                "--log-level" => config.log_level = parse(&flag, &value()?)?,
                "--max-frame-size" => config.limits.max_frame_size = parse(&flag, &value()?)?,
                "--max-message-size" => config.limits.max_message_size = parse(&flag, &value()?)?,
                "--max-fragments" => config.limits.max_fragments = parse(&flag, &value()?)?,
                "--max-head-size" => config.head_limits.max_head_bytes = parse(&flag, &value()?)?,
                "--max-headers" => config.head_limits.max_headers = parse(&flag, &value()?)?,
                "--handshake-timeout" => config.handshake_timeout = seconds(&flag, &value()?)?,
                "--max-connections" => config.max_connections = parse(&flag, &value()?)?,
                "--max-backlog" => config.max_backlog = parse(&flag, &value()?)?,
                "--max-backlog-bytes" => config.max_backlog_bytes = parse(&flag, &value()?)?,
                "--max-buffered-bytes" => config.max_buffered_bytes = parse(&flag, &value()?)?,
                "--socket-send-buffer" => {
                    config.socket_send_buffer = match value()?.as_str() {
                        "off" => None,
                        bytes => Some(parse(&flag, bytes)?),
                    }
                }
                "--max-chat-message-size" => {
                    config.max_chat_message_size = parse(&flag, &value()?)?;
                }
                "--listen-backlog" => config.listen_backlog = parse(&flag, &value()?)?,
                "--ping-interval" => config.ping_interval = seconds(&flag, &value()?)?,
                "--close-timeout" => config.close_timeout = seconds(&flag, &value()?)?,
                "--write-timeout" => config.write_timeout = seconds(&flag, &value()?)?,
                "--shutdown-timeout" => config.shutdown_timeout = seconds(&flag, &value()?)?,
                "--history" => config.history = parse(&flag, &value()?)?,
                "--notify-every" => config.notify_every = Some(seconds(&flag, &value()?)?),
                "--publish-token" => config.publish_token = Some(value()?),
                "--allowed-origin" => config.allowed_origins.push(value()?),
                "--allowed-host" => config.allowed_hosts.push(value()?),
                "--trusted-proxy" => {
                    let text = value()?;
                    let prefix = text.parse().map_err(|e| {
                        format!("{flag} {text}: {e}; expected {}", known.value.accepted())
                    })?;
                    config.trusted_proxies.push(prefix);
                }
                "--forwarded-header" => {
                    let text = value()?;
                    config.forwarded_header = text.parse().map_err(|()| {
                        format!("{flag} {text}: expected {}", known.value.accepted())
                    })?;
                }
                "--max-heads-per-address" => {
                    config.max_heads_per_address = parse(&flag, &value()?)?;
                }
                "--max-connections-per-address" => {
                    config.max_connections_per_address = parse(&flag, &value()?)?;
                }
                "--rate-limit" => config.rate_limit = parse(&flag, &value()?)?,
                "--inspect-rate" => config.inspect_rate = parse(&flag, &value()?)?,
                "--presence-lines-below" => {
                    config.presence_lines_below = parse(&flag, &value()?)?;
                }
                "--max-watchers" => config.max_watchers = parse(&flag, &value()?)?,
                "--max-replay-bytes" => config.max_replay_bytes = parse(&flag, &value()?)?,
                "--max-control-rate" => config.max_control_rate = parse(&flag, &value()?)?,
                "--page-addr" if config.tutorial.is_some() => {
                    config.page_addr = Some(parse(&flag, &value()?)?);
                }
                "--lab-max-input" => config.lab.max_input = parse(&flag, &value()?)?,
                "--lab-rate" => config.lab.commands_per_second = parse(&flag, &value()?)?,
                "--deflate" => config.deflate = on_off(&flag, &value()?)?,
                "--publish-creates" => config.publish_creates = on_off(&flag, &value()?)?,
                "--deflate-threshold" => config.deflate_threshold = parse(&flag, &value()?)?,
                other => return Err(format!("unknown flag {other} (see --help)")),
            }
        }
        for (flag, zero) in [
            ("--max-backlog", config.max_backlog == 0),
            ("--max-backlog-bytes", config.max_backlog_bytes == 0),
            ("--max-buffered-bytes", config.max_buffered_bytes == 0),
            ("--max-connections", config.max_connections == 0),
            ("--listen-backlog", config.listen_backlog == 0),
        ] {
            if zero {
                return Err(format!("{flag} 0: expected at least 1"));
            }
        }
        for (flag, zero) in [
            ("--write-timeout", config.write_timeout.is_zero()),
            ("--handshake-timeout", config.handshake_timeout.is_zero()),
        ] {
            if zero {
                return Err(format!("{flag} 0: expected more than 0 seconds"));
            }
        }
        Ok(config)
    }
}

impl Config {
    /// What each connection's [`Session`](crate::app::Session) and its protocol limits
    /// ([`Endpoint::limits`](crate::app::Endpoint::limits)) take from the configuration.
    pub fn session_config(&self) -> SessionConfig {
        SessionConfig {
            rate_limit: self.rate_limit,
            inspect_rate: self.inspect_rate,
            lab: self.lab,
            limits: self.limits,
            max_json_message: self.max_chat_message_size,
        }
    }
}

/// The message for a value that cannot be used: the flag, the value, and what is accepted.
fn bad_value(flag: &str, value: &str) -> String {
    let accepted = flags::find(flag).map_or("see --help", |known| known.value.accepted());
    format!("{flag}: cannot use {value:?}: expected {accepted}")
}

fn parse<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| bad_value(flag, value))
}

/// `on` or `off`.
fn on_off(flag: &str, value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(bad_value(flag, value)),
    }
}

/// Seconds, possibly fractional (`0.5`), as a duration.
fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    let secs: f64 = parse(flag, value)?;
    Duration::try_from_secs_f64(secs).map_err(|_| bad_value(flag, value))
}

/// Why an address given to `flag` cannot be listened on, and what to do about it.
///
/// `Address already in use (os error 98)` alone names neither the address nor the flag.
pub fn listen_error(flag: &str, addr: SocketAddr, e: &std::io::Error) -> std::io::Error {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "; another program (another wsmith?) listens there: stop it, or choose another \
             port with {flag} IP:PORT ({flag} 127.0.0.1:0 takes any free port)"
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            format!("; no interface of this machine has that address: try {flag} 127.0.0.1:8080")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("; ports below 1024 need privileges: try {flag} 127.0.0.1:8080")
        }
        _ => String::new(),
    };
    std::io::Error::new(
        e.kind(),
        format!("cannot listen on {addr} ({flag}): {e}{hint}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Endpoint;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_bind_loopback_port_8080() {
        let config = Config::from_args(args(&[])).expect("no flags");
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.limits.max_message_size, 64 << 20);
    }

    #[test]
    fn flags_set_their_values() {
        let config = Config::from_args(args(&[
            "--addr",
            "127.0.0.1:0",
            "--max-message-size",
            "1000",
            "--allowed-origin",
            "http://a",
            "--allowed-origin",
            "http://b",
            "--ping-interval",
            "0.5",
            "--notify-every",
            "2",
        ]))
        .expect("valid flags");
        assert_eq!(config.limits.max_message_size, 1000);
        assert_eq!(config.allowed_origins, ["http://a", "http://b"]);
        assert_eq!(config.ping_interval, Duration::from_millis(500));
        assert_eq!(config.notify_every, Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_tutorial_has_its_ports_page_and_origins_by_default() {
        let relay = Config::for_tutorial(Tutorial::Relay, args(&[])).expect("no flags");
        assert_eq!(relay.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(
            relay.page_addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:3000")
        );
        assert_eq!(relay.www, Www::BuiltIn("tutorials/relay".into()));
        assert_eq!(relay.allowed_origins, ["null"]);
        let exposed =
            Config::for_tutorial(Tutorial::Relay, args(&["--addr", "0.0.0.0:8080"])).expect("ok");
        assert!(
            exposed.allowed_origins.is_empty(),
            "Origin: null only on loopback"
        );
        let notifications = Config::for_tutorial(Tutorial::Notifications, args(&[])).expect("ok");
        assert_eq!(notifications.notify_every, Some(Duration::from_secs(5)));
        assert!(!notifications.deflate, "off, as in Node's ws server");
        let deflate = Config::for_tutorial(Tutorial::Chat, args(&["--deflate", "on"])).expect("ok");
        assert!(deflate.deflate);
        assert!(
            Config::for_tutorial(Tutorial::Chat, args(&["--page-addr", "127.0.0.1:1"]))
                .unwrap_err()
                .contains("--page-addr")
        );
        assert!(Config::from_args(args(&["--page-addr", "127.0.0.1:1"])).is_err());
    }

    #[test]
    fn json_endpoints_get_the_chat_message_size_and_the_others_the_large_one() {
        let config = Config::from_args(args(&["--max-chat-message-size", "1000"])).expect("ok");
        let limits = |config: &Config, path| {
            let endpoint = Endpoint::route(path, None).expect("an endpoint");
            endpoint.limits(&config.session_config())
        };
        let chat = limits(&config, "/chat");
        assert_eq!((chat.max_frame_size, chat.max_message_size), (1000, 1000));
        assert_eq!(limits(&config, "/inspect"), chat);
        assert_eq!(limits(&config, "/echo"), config.limits);
        assert_eq!(limits(&config, "/broadcast").max_message_size, 64 << 20);
        // The smaller of the two wins: --max-message-size still caps every endpoint.
        let small = Config::from_args(args(&["--max-message-size", "10"])).expect("ok");
        assert_eq!(limits(&small, "/chat").max_message_size, 10);
    }

    #[test]
    fn hosts_and_proxies_are_repeatable_and_proxies_are_addresses_or_ranges() {
        let config = Config::from_args(args(&[
            "--allowed-host",
            "example.com",
            "--allowed-host",
            "chat.example.com:8443",
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy",
            "::1",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "fd00::/8",
        ]))
        .expect("valid flags");
        assert_eq!(
            config.allowed_hosts,
            ["example.com", "chat.example.com:8443"]
        );
        let proxies: Vec<String> = config
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            proxies,
            ["127.0.0.1/32", "::1/128", "10.0.0.0/8", "fd00::/8"]
        );
        for (bad, why) in [
            ("localhost", "not an IP address"),
            ("1.2.3.4:80", "not an IP address"),
            ("10.0.0.0/33", "longer than the address's 32 bits"),
            ("fd00::/129", "longer than the address's 128 bits"),
            ("10.0.0.0/x", "not a number of bits"),
            ("10.0.0.1/8", "written 10.0.0.0/8"),
        ] {
            let error = Config::from_args(args(&["--trusted-proxy", bad])).unwrap_err();
            assert!(
                error.starts_with(&format!("--trusted-proxy {bad}: ")) && error.contains(why),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn memory_bounds_are_set_by_their_flags() {
        let defaults = Config::from_args(args(&[])).expect("defaults");
        assert_eq!(defaults.max_buffered_bytes, 1 << 30);
        assert_eq!(defaults.socket_send_buffer, None);
        let set = Config::from_args(args(&[
            "--max-buffered-bytes",
            "1000",
            "--socket-send-buffer",
            "65536",
        ]))
        .expect("valid flags");
        assert_eq!(
            (set.max_buffered_bytes, set.socket_send_buffer),
            (1000, Some(65536))
        );
        let off = Config::from_args(args(&["--socket-send-buffer", "off"])).expect("valid");
        assert_eq!(off.socket_send_buffer, None);
        assert!(Config::from_args(args(&["--max-buffered-bytes", "0"])).is_err());
        assert!(Config::from_args(args(&["--socket-send-buffer", "lots"])).is_err());
    }

    #[test]
    fn deflate_is_on_unless_turned_off() {
        assert!(Config::from_args(args(&[])).expect("defaults").deflate);
        let off = Config::from_args(args(&["--deflate", "off", "--deflate-threshold", "0"]));
        let off = off.expect("valid flags");
        assert!(!off.deflate);
        assert_eq!(off.deflate_threshold, 0);
        assert!(Config::from_args(args(&["--deflate", "maybe"]))
            .unwrap_err()
            .contains("--deflate"));
    }

    #[test]
    fn bad_flags_are_reported_by_name() {
        assert!(Config::from_args(args(&["--nope"]))
            .unwrap_err()
            .contains("--nope"));
        assert!(Config::from_args(args(&["--addr"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(Config::from_args(args(&["--max-backlog", "x"]))
            .unwrap_err()
            .contains("--max-backlog"));
        assert!(Config::from_args(args(&["--max-backlog-bytes", "0"]))
            .unwrap_err()
            .contains("--max-backlog-bytes"));
    }

    #[test]
    fn listen_backlog_defaults_to_4096_and_is_set_by_its_flag() {
        assert_eq!(
            Config::from_args(args(&[]))
                .expect("no flags")
                .listen_backlog,
            4096
        );
        let config = Config::from_args(args(&["--listen-backlog", "1024"])).expect("valid");
        assert_eq!(config.listen_backlog, 1024);
        for bad in ["0", "-1", "x", "4294967296"] {
            assert!(Config::from_args(args(&["--listen-backlog", bad]))
                .unwrap_err()
                .contains("--listen-backlog"));
        }
    }

    #[test]
    fn every_flag_the_parser_matches_is_in_the_table_and_no_other_is_accepted() {
        // The parser's arms, read from this file: `"--name" =>` or `"--name" if`.
        let source = include_str!("config.rs");
        let parsed: Vec<&str> = source
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("\"--"))
            .filter_map(|rest| rest.split_once('"'))
            .filter(|(_, after)| after.starts_with(" =>") || after.starts_with(" if "))
            .map(|(name, _)| name)
            .collect();
        assert!(parsed.len() >= 30, "arms found: {parsed:?}");
        for name in parsed {
            let flag = format!("--{name}");
            assert!(
                flags::find(&flag).is_some(),
                "{flag} is parsed but not in FLAGS"
            );
        }
        let error = Config::from_args(args(&["--not-a-flag", "1"])).unwrap_err();
        assert_eq!(error, "unknown flag --not-a-flag (see --help)");
    }

    #[test]
    fn a_value_that_cannot_be_used_names_the_flag_the_value_and_the_accepted_form() {
        for (flags, expected) in [
            (
                ["--addr", "localhost:80"],
                "--addr: cannot use \"localhost:80\": expected an IP address and a port",
            ),
            (
                ["--max-frame-size", "1k"],
                "--max-frame-size: cannot use \"1k\": expected a whole number of bytes",
            ),
            (
                ["--ping-interval", "soon"],
                "--ping-interval: cannot use \"soon\": expected a number of seconds",
            ),
            (
                ["--ping-interval", "-1"],
                "--ping-interval: cannot use \"-1\": expected a number of seconds",
            ),
            (
                ["--log-level", "loud"],
                "--log-level: cannot use \"loud\": expected one of error, warn",
            ),
            (
                ["--deflate", "yes"],
                "--deflate: cannot use \"yes\": expected on or off",
            ),
            (
                ["--max-connections", "0"],
                "--max-connections 0: expected at least 1",
            ),
            (
                ["--write-timeout", "0"],
                "--write-timeout 0: expected more than 0 seconds",
            ),
        ] {
            let error = Config::from_args(args(&flags)).unwrap_err();
            assert!(error.starts_with(expected), "{flags:?}: {error}");
        }
        let error = Config::from_args(args(&["--history"])).unwrap_err();
        assert_eq!(
            error,
            "--history needs a value: a whole number, such as 100"
        );
    }
}
