//! The one table of the server's flags: name, value, default and what the flag does.
//!
//! `wsmith --help` is printed from [`FLAGS`] ([`usage`]), the table in `docs/operating.md` is
//! checked against [`markdown_table`] by `tests/docs.rs`, and [`Config::from_args`] refuses any
//! flag that is not in it. A test below checks that every entry's default is the value
//! [`Config::default`] holds, and that the parser handles every entry.
//!
//! [`Config::from_args`]: super::Config::from_args
//! [`Config::default`]: super::Config::default

/// What a flag's value looks like; each says how to write one when a value does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// An IP address and port: `127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:8080`.
    Addr,
    /// A folder.
    Dir,
    /// A log level.
    Level,
    /// A whole number of bytes.
    Bytes,
    /// A whole number of things (messages, connections, per second).
    Count,
    /// Seconds, maybe fractional.
    Secs,
    /// Any text.
    Token,
    /// A browser origin.
    Origin,
    /// A host name, maybe with a port.
    Host,
    /// An IP address or a range of them.
    Prefix,
    /// `on` or `off`.
    OnOff,
    /// The name of a forwarding header field.
    Field,
}

impl Value {
    /// The placeholder shown after the flag's name: `--max-frame-size BYTES`.
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Addr => "IP:PORT",
            Self::Dir => "DIR",
            Self::Level => "LEVEL",
            Self::Bytes => "BYTES",
            Self::Count => "N",
            Self::Secs => "SECS",
            Self::Token => "TOKEN",
            Self::Origin => "ORIGIN",
            Self::Host => "NAME",
            Self::Prefix => "ADDR[/LEN]",
            Self::OnOff => "on|off",
            Self::Field => "x-forwarded-for|forwarded",
        }
    }

    /// How to write one, for the message when a value does not parse.
    pub fn accepted(self) -> &'static str {
        match self {
            Self::Addr => {
                "an IP address and a port, such as 127.0.0.1:8080, [::1]:8080 or 0.0.0.0:8080 \
                 (port 0: any free port)"
            }
            Self::Dir => "a folder",
            Self::Level => "one of error, warn, info, debug, trace, off",
            Self::Bytes => "a whole number of bytes, such as 65536",
            Self::Count => "a whole number, such as 100",
            Self::Secs => "a number of seconds, such as 5 or 0.5",
            Self::Token => "any text",
            Self::Origin => "an origin, such as https://example.com, or *",
            Self::Host => "a host name, such as example.com or example.com:8443",
            Self::Prefix => "an IP address or a range, such as 10.0.0.1, 10.0.0.0/8 or fd00::/8",
            Self::OnOff => "on or off",
            Self::Field => "x-forwarded-for or forwarded",
        }
    }
}

/// One flag of the server (and of `wsmith tutorial NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The flag itself, `--max-frame-size`.
    pub name: &'static str,
    /// What its value looks like.
    pub value: Value,
    /// Its default, written so that the parser reads it back (or `none`, `off`).
    pub default: &'static str,
    /// What it does, and what happens when its limit is exceeded; one line.
    pub help: &'static str,
}

const fn flag(name: &'static str, value: Value, default: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value,
        default,
        help,
    }
}

/// Every flag of the server, in the order `--help` lists them.
#[rustfmt::skip]
pub const FLAGS: &[Flag] = &[
    flag("--addr", Value::Addr, "127.0.0.1:8080", "where to listen (loopback unless you say otherwise)"),
    flag("--www", Value::Dir, "built in", "serve the page from this folder instead of the copy built into the binary (for editing it)"),
    flag("--log-level", Value::Level, "info", "error|warn|info|debug|trace (trace logs every frame header); or RUST_LOG"),
    flag("--max-frame-size", Value::Bytes, "67108864", "larger frame → close 1009, decided from its header before any payload is read"),
    flag("--max-message-size", Value::Bytes, "67108864", "larger message (inflated size, with permessage-deflate) → close 1009"),
    flag("--max-chat-message-size", Value::Bytes, "65536", "larger message at /chat, /inspect, /notifications → close 1009"),
    flag("--max-fragments", Value::Count, "131072", "more fragments in one message → close 1008"),
    flag("--max-buffered-bytes", Value::Bytes, "1073741824", "incomplete messages of all clients together (inflated bytes included) held over this → the client whose message grows closed 1013"),
    flag("--max-head-size", Value::Bytes, "8192", "larger HTTP request head → 431"),
    flag("--max-headers", Value::Count, "64", "more header fields → 431"),
    flag("--handshake-timeout", Value::Secs, "10", "request head not complete in time → 408"),
    flag("--max-connections", Value::Count, "10000", "more connections → 503 (lowered at start to what the kernel allows)"),
    flag("--max-backlog", Value::Count, "1024", "more messages queued for one client → close 1008 (slow consumer)"),
    flag("--max-backlog-bytes", Value::Bytes, "4194304", "more bytes queued for one client → close 1008 (slow consumer)"),
    flag("--socket-send-buffer", Value::Bytes, "off", "SO_SNDBUF of each WebSocket connection: the most kernel memory one client's unsent bytes may hold (off: the kernel's autotuning, up to net.ipv4.tcp_wmem's maximum)"),
    flag("--listen-backlog", Value::Count, "4096", "more connects waiting for accept → SYN dropped, client retries in 1 s (capped by net.core.somaxconn)"),
    flag("--ping-interval", Value::Secs, "30", "idle client is pinged; no answer within another interval → dropped (0 = off)"),
    flag("--close-timeout", Value::Secs, "5", "no Close reply in time → TCP closed"),
    flag("--write-timeout", Value::Secs, "5", "a write that makes no progress this long (peer stopped reading) → dropped"),
    flag("--shutdown-timeout", Value::Secs, "5", "SIGINT/SIGTERM: Close 1001 to everyone, then wait this long for their replies"),
    flag("--history", Value::Count, "50", "chat messages kept per channel and replayed on subscribe"),
    flag("--notify-every", Value::Secs, "off", "a periodic notification to /notifications"),
    flag("--publish-token", Value::Token, "none", "POST /publish needs 'Authorization: Bearer TOKEN' (else loopback only)"),
    flag("--allowed-origin", Value::Origin, "none", "browser Origin allowed besides the server's own (repeatable; else 403)"),
    flag("--allowed-host", Value::Host, "none", "Host name (or NAME:PORT) served besides localhost, 127.0.0.1, [::1] (repeatable; else 421)"),
    flag("--trusted-proxy", Value::Prefix, "none", "peer whose --forwarded-header names the client (repeatable; else ignored, and a forwarded request gets no loopback privilege)"),
    flag("--forwarded-header", Value::Field, "x-forwarded-for", "the one field a --trusted-proxy sets to name the client; the other is never read"),
    flag("--max-heads-per-address", Value::Count, "256", "more request heads still arriving from one address → 503 (0 = no cap)"),
    flag("--max-connections-per-address", Value::Count, "0", "more open connections from one address (behind a proxy: the proxy's) → 503 (0 = no cap)"),
    flag("--rate-limit", Value::Count, "20", "chat messages per second per client (burst 40) → error event, then close 1008"),
    flag("--inspect-rate", Value::Count, "5", "/inspect commands per second per client (burst 10) → error event, then close 1008"),
    flag("--max-watchers", Value::Count, "16", "Inspectors watching one connection → the next gets an error event"),
    flag("--max-replay-bytes", Value::Bytes, "65536", "bytes of messages in one chat history replay → the oldest left out, truncated: true"),
    flag("--presence-lines-below", Value::Count, "100", "chat rooms this large get one presence count a second instead of a line per join and leave"),
    flag("--publish-creates", Value::OnOff, "off", "POST /publish to a channel that does not exist creates it (off: 404)"),
    flag("--max-control-rate", Value::Count, "100", "Pings and Pongs per second per client → close 1008"),
    flag("--lab-max-input", Value::Bytes, "131072", "/lab: more frame bytes in one experiment → error event (its own message limit: 4 × this + 4096)"),
    flag("--lab-rate", Value::Count, "10", "/lab commands per second per client → error event, command dropped"),
    flag("--deflate", Value::OnOff, "on", "accept permessage-deflate (RFC 7692) when a client offers it (wsmith tutorial: off)"),
    flag("--deflate-threshold", Value::Bytes, "256", "shorter messages are sent uncompressed"),
    flag("--page-addr", Value::Addr, "the tutorial's", "wsmith tutorial hello-chat and relay only: where their page listens"),
];

/// The flag called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|flag| flag.name == name)
}

/// `--max-frame-size BYTES`.
fn with_placeholder(flag: &Flag) -> String {
    format!("{} {}", flag.name, flag.value.placeholder())
}

/// The text of `wsmith --help`: what to type, then one line per flag.
pub fn usage() -> String {
    let mut out = String::from(
        "wsmith — a WebSocket server written by hand (RFC 6455)\n\n\
         USAGE:\n    \
         wsmith [FLAGS]          serve the page and the WebSocket endpoints\n    \
         wsmith --help | -h      this text\n    \
         wsmith --version | -V   the version and the git commit it was built from\n\n\
         FLAGS (default → what happens when exceeded):\n",
    );
    let name_width = FLAGS.iter().map(|f| with_placeholder(f).len()).max();
    let default_width = FLAGS.iter().map(|f| f.default.chars().count()).max();
    let (name_width, default_width) = (name_width.unwrap_or(0), default_width.unwrap_or(0));
    for flag in FLAGS {
        let line = format!(
            "    {:name_width$}  {:default_width$}  {}",
            with_placeholder(flag),
            flag.default,
            flag.help
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The flags as a Markdown table, as `docs/operating.md` holds it.
pub fn markdown_table() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = String::from("| flag | default | what it does |\n|---|---|---|\n");
    for flag in FLAGS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            cell(&with_placeholder(flag)),
            cell(flag.default),
            cell(flag.help)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn every_flag_has_a_unique_name() {
        for (i, flag) in FLAGS.iter().enumerate() {
            assert!(flag.name.starts_with("--"), "{}", flag.name);
            assert!(
                FLAGS
                    .iter()
                    .skip(i + 1)
                    .all(|other| other.name != flag.name),
                "{} is listed twice",
                flag.name
            );
        }
    }

    /// A value each flag accepts, to see that the parser handles every entry.
    fn example(flag: &Flag) -> &'static str {
        match flag.value {
            Value::Addr => "127.0.0.1:0",
            Value::Dir => ".",
            Value::Level => "debug",
            Value::Bytes | Value::Count | Value::Secs => "7",
            Value::Token => "secret",
            Value::Origin => "https://example.com",
            Value::Host => "example.com",
            Value::Prefix => "10.0.0.0/8",
            Value::OnOff => "off",
            Value::Field => "forwarded",
        }
    }

    #[test]
    fn the_parser_handles_every_flag_in_the_table() {
        for flag in FLAGS {
            let args = [flag.name.to_string(), example(flag).to_string()];
            let parsed = match flag.name {
                "--page-addr" => {
                    Config::for_tutorial(crate::app::tutorial::Tutorial::Relay, args).map(|_| ())
                }
                _ => Config::from_args(args).map(|_| ()),
            };
            assert_eq!(parsed, Ok(()), "{}", flag.name);
        }
    }

    #[test]
    fn each_default_in_the_table_is_the_default_in_the_code() {
        // `Config::default()`, and `RUST_LOG` if it is set, as for every run.
        let defaults = format!("{:?}", Config::from_args([]).expect("no flags"));
        let mut checked = 0;
        for flag in FLAGS {
            // Defaults that are not values have tests of their own in config.rs.
            if ["none", "off", "built in", "the tutorial's"].contains(&flag.default) {
                continue;
            }
            let args = [flag.name.to_string(), flag.default.to_string()];
            let config = Config::from_args(args).expect(flag.name);
            assert_eq!(
                format!("{config:?}"),
                defaults,
                "{} {}",
                flag.name,
                flag.default
            );
            checked += 1;
        }
        assert_eq!(checked, 32, "defaults checked");
    }

    #[test]
    fn help_has_one_line_per_flag_with_its_default() {
        let usage = usage();
        for flag in FLAGS {
            let line = usage
                .lines()
                .find(|line| line.trim_start().starts_with(&format!("{} ", flag.name)))
                .unwrap_or_else(|| panic!("{} not in --help", flag.name));
            assert!(
                line.contains(flag.default) && line.contains(flag.help),
                "{line}"
            );
        }
        assert_eq!(markdown_table().lines().count(), FLAGS.len() + 2);
    }
}
