//! The list of tutorials: each one's name, seed, section (English and Korean), default ports,
//! and what to try once it runs. `wsmith tutorial` prints it; README repeats it.

use std::fmt;

/// One tutorial's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tutorial {
    /// Seed 000, 기본 사용법 / 연습문제 1.
    WelcomeEcho,
    /// Seed 000, 채팅 애플리케이션 / 연습문제 2.
    Chat,
    /// Seed 000, 실시간 알림 시스템 / 연습문제 3.
    Notifications,
    /// Seed 001, 기본 WebSocket 서버 / 연습문제 1–2.
    ServerReceived,
    /// Seed 001, Broadcast 메시지 / 연습문제 3.
    Broadcast,
    /// Seed 001, 채널 기반 멀티플렉싱 / 연습문제 4.
    Channels,
    /// Seed 002, 기능/과제 1–3.
    HelloChat,
    /// Seed 003, Create a real-time chat application.
    Relay,
    /// Seed 004, 예제 코드.
    JsonRelay,
}

/// What `wsmith tutorial` says about a tutorial.
#[derive(Debug)]
pub struct Info {
    /// The name on the command line.
    pub name: &'static str,
    /// The seed tutorial's number.
    pub seed: &'static str,
    /// The seed tutorial's title, as written.
    pub seed_title: &'static str,
    /// The section, in English.
    pub section: &'static str,
    /// The section, as the tutorial titles it.
    pub section_ko: &'static str,
    /// The WebSocket port the tutorial's client opens.
    pub ws_port: u16,
    /// The separate port of the page, when the tutorial serves it apart (Express).
    pub page_port: Option<u16>,
    /// What to try once it runs, a line or two.
    pub try_this: &'static str,
}

const SEED_000: &str = "8.5. 웹 소켓과 실시간 통신";
const SEED_001: &str = "4.2.4. 웹소켓과 실시간 통신";

impl Tutorial {
    /// Every tutorial, in the order of the seeds.
    pub const ALL: [Self; 9] = [
        Self::WelcomeEcho,
        Self::Chat,
        Self::Notifications,
        Self::ServerReceived,
        Self::Broadcast,
        Self::Channels,
        Self::HelloChat,
        Self::Relay,
        Self::JsonRelay,
    ];

    /// The tutorial called `name` on the command line.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Everything `wsmith tutorial` says about it.
    pub fn info(self) -> Info {
        let info =
            |name, seed, seed_title, section, section_ko, ws_port, page_port, try_this| Info {
                name,
                seed,
                seed_title,
                section,
                section_ko,
                ws_port,
                page_port,
                try_this,
            };
        match self {
            Self::WelcomeEcho => info(
                "welcome-echo", "000", SEED_000,
                "Basic usage / Exercise 1", "기본 사용법 / 연습문제 1", 8080, None,
                "the page shows 'Welcome to the WebSocket server!'; type hi and Send: 'You said: hi' \
                 comes back and this console logs 'Received message => hi'",
            ),
            Self::Chat => info(
                "chat", "000", SEED_000,
                "Chat application / Exercise 2", "채팅 애플리케이션 / 연습문제 2", 8080, None,
                "open the page in two tabs; what one sends appears in both, the sender's too",
            ),
            Self::Notifications => info(
                "notifications", "000", SEED_000,
                "Real-time notification system / Exercise 3", "실시간 알림 시스템 / 연습문제 3",
                8080, None,
                "'This is a real-time notification' arrives every 5 s (--notify-every SECS changes it)",
            ),
            Self::ServerReceived => info(
                "server-received", "001", SEED_001,
                "Basic WebSocket server / Exercises 1–2", "기본 WebSocket 서버 / 연습문제 1–2", 8080,
                None,
                "the page sends 'Hello Server!' and gets 'Server received: Hello Server!'; this \
                 console logs Client connected / Received message: … / Client disconnected",
            ),
            Self::Broadcast => info(
                "broadcast", "001", SEED_001,
                "Broadcast messages / Exercise 3", "Broadcast 메시지 / 연습문제 3", 8080, None,
                "open two tabs and send hi: both show 'Broadcast: hi', the sender's too",
            ),
            Self::Channels => info(
                "channels", "001", SEED_001,
                "Channel-based multiplexing / Exercise 4", "채널 기반 멀티플렉싱 / 연습문제 4", 8080,
                None,
                "subscribe to news ('Subscribed to channel: news'), then send to news: every \
                 subscriber of news gets 'Channel news: …'",
            ),
            Self::HelloChat => info(
                "hello-chat", "002", "Websocket 통신 실습",
                "Features/Tasks 1–3", "기능/과제 1–3", 8001, Some(8000),
                "click 전송: 'Hello' reaches the server (this console shows it); open a second \
                 tab: everyone sees '새로운 유저 접속 [현재: 2명]'; a name and a message reach everyone",
            ),
            Self::Relay => info(
                "relay", "003", "WebSocket을 이용한 실시간 웹 애플리케이션 개발",
                "Create a real-time chat application", "실시간 채팅 애플리케이션 만들기", 8080,
                Some(3000),
                "open two tabs; what one sends appears in the other only (client !== ws)",
            ),
            Self::JsonRelay => info(
                "json-relay", "004", "자바스크립트 웹 소켓을 활용한 채팅 기능",
                "Example code", "예제 코드", 3000, None,
                "open two tabs; each sends {\"user\":\"John\",\"content\":\"Hello, World!\"} on \
                 open, and the other one shows it",
            ),
        }
    }
}

impl fmt::Display for Tutorial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `wsmith tutorial` without a name: one line per tutorial.
pub fn listing() -> String {
    let mut out = String::from(
        "wsmith tutorial NAME [FLAGS] runs the server of a seed tutorial, as its client expects:\n\n",
    );
    for tutorial in Tutorial::ALL {
        let info = tutorial.info();
        let ports = match info.page_port {
            Some(page) => format!("page {page}, ws {}", info.ws_port),
            None => format!("page + ws {}", info.ws_port),
        };
        out.push_str(&format!(
            "  {:<16} seed {}  {} ({})  [{ports}]\n",
            info.name, info.seed, info.section, info.section_ko
        ));
    }
    out.push_str("\nseeds:");
    let mut seen = Vec::new();
    for info in Tutorial::ALL.map(Tutorial::info) {
        if !seen.contains(&info.seed) {
            seen.push(info.seed);
            out.push_str(&format!("\n  {}  {}", info.seed, info.seed_title));
        }
    }
    out.push('\n');
    out.push_str(
        "\nFLAGS: --addr HOST:PORT (the WebSocket port), --page-addr HOST:PORT (hello-chat, relay),\n\
         --www DIR (your own index.html and client.js), --notify-every SECS, and every flag of\n\
         `wsmith --help`.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_finds_its_tutorial() {
        for tutorial in Tutorial::ALL {
            assert_eq!(Tutorial::from_name(tutorial.name()), Some(tutorial));
        }
        assert_eq!(Tutorial::from_name("nope"), None);
    }

    #[test]
    fn listing_has_one_line_per_tutorial_with_both_titles_and_ports() {
        let listing = listing();
        for tutorial in Tutorial::ALL {
            let info = tutorial.info();
            let line = listing
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{} ", info.name)))
                .unwrap_or_default();
            assert!(line.contains(info.section_ko), "{line}");
            assert!(line.contains(info.section), "{line}");
            assert!(line.contains(&info.ws_port.to_string()), "{line}");
        }
        assert!(listing.contains("page 8000, ws 8001"));
        assert!(listing.contains("page 3000, ws 8080"));
    }
}
