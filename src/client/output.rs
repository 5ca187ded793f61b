//! What `wsmith connect` prints on stdout, and how: plain lines into a pipe, marked lines on a
//! terminal.
//!
//! Into a pipe or a file, every message received is one line, as it is (`Hello`,
//! `[close] 1000 (normal closure) ""`): scripts and the Autobahn client tests read them so. On a
//! terminal, where your line and the server's reply would look the same, the client says who
//! spoke:
//!
//! ```text
//! connected to ws://127.0.0.1:8080/echo; type a line; Ctrl-D closes
//! > Hello
//! < Hello
//! >
//! < [close] 1000 (normal closure) ""
//! ```
//!
//! `< ` marks what the server sent. When stdin is the terminal too, `> ` is a prompt: the
//! terminal itself echoes what you type after it. When stdin is a pipe, the client prints each
//! line it sent after `> `. A message that arrives while you type is printed over the prompt
//! (`\r`, then erase to the end of the line); what you typed is still in the terminal's line
//! buffer and goes out when you press Enter, only no longer shown: a line editor would redraw
//! it, and this client has none.
//!
//! `--timestamps` puts the UTC time of day, to the millisecond, in front of every line:
//! `12:04:31.207 < Hello`.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sync::lock;

/// The prompt shown while the client waits for a line on a terminal.
pub const PROMPT: &str = "> ";

/// What the server sent, on a terminal.
pub const RECEIVED: &str = "< ";

/// What we sent, on a terminal whose stdin is a pipe.
pub const SENT: &str = "> ";

/// Go to the start of the line and erase it (ECMA-48 CR, then EL "erase in line").
const ERASE_LINE: &str = "\r\x1b[K";

/// How the lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// stdout is a terminal: a banner, and `<` / `>` in front of messages.
    pub markers: bool,
    /// stdin is a terminal too (and is read): the `> ` prompt.
    pub prompt: bool,
    /// `--timestamps`: the time of day in front of every line.
    pub timestamps: bool,
}

impl Style {
    /// The style for this process: markers when stdout is a terminal, a prompt when stdin is
    /// one too and `reads_stdin`.
    pub fn detect(timestamps: bool, reads_stdin: bool) -> Self {
        let markers = io::stdout().is_terminal();
        Self {
            markers,
            prompt: markers && reads_stdin && io::stdin().is_terminal(),
            timestamps,
        }
    }
}

/// The client's stdout, shared by the reader and the stdin thread (cloning shares it).
#[derive(Debug, Clone)]
pub struct Output {
    style: Style,
    screen: Arc<Mutex<Screen>>,
}

/// The state of the last line on the terminal.
#[derive(Debug, Default)]
struct Screen {
    /// Whether the prompt is wanted: stdin has not ended.
    prompting: bool,
    /// Whether the prompt is the last thing printed (so output must erase it first).
    prompt_shown: bool,
}

impl Output {
    /// Output in `style`; with a prompt, it is shown from [`Output::banner`] on.
    pub fn new(style: Style) -> Self {
        Self {
            style,
            screen: Arc::new(Mutex::new(Screen {
                prompting: style.prompt,
                prompt_shown: false,
            })),
        }
    }

    /// How the lines look.
    pub fn style(&self) -> Style {
        self.style
    }

    /// On a terminal, says where we are connected and what to do (`how`); nothing into a pipe.
    pub fn banner(&self, url: &str, how: &str) {
        if self.style.markers {
            self.write(&[format!("connected to {url}; {how}")]);
        }
    }

    /// A line about something the server sent: a message, a ping, a pong, its close.
    pub fn received(&self, text: &str) {
        let marker = if self.style.markers { RECEIVED } else { "" };
        self.write(&[self.stamp(&format!("{marker}{text}"))]);
    }

    /// A line we sent, shown only where nothing else shows it: on a terminal, with stdin a
    /// pipe (a terminal on stdin has echoed it already).
    pub fn sent(&self, text: &str) {
        if self.style.markers && !self.style.prompt {
            self.write(&[self.stamp(&format!("{SENT}{text}"))]);
        }
    }

    /// `--trace` lines, each after `direction` (`>>`, `<<`, or spaces for a comment).
    pub fn trace<'a>(&self, direction: &str, lines: impl IntoIterator<Item = &'a str>) {
        let lines: Vec<String> = lines
            .into_iter()
            .map(|line| match line {
                "" => self.stamp(direction),
                _ => self.stamp(&format!("{direction} {line}")),
            })
            .collect();
        if !lines.is_empty() {
            self.write(&lines);
        }
    }

    /// Called after a line was read from a terminal: Enter moved the cursor to a new line, so
    /// the prompt is no longer on screen. Shows it again for the next line.
    pub fn line_entered(&self) {
        let mut screen = lock(&self.screen);
        screen.prompt_shown = false;
        self.show_prompt(&mut screen, &mut io::stdout().lock());
    }

    /// stdin ended: no more prompt, and the one on screen is erased.
    pub fn stop_prompting(&self) {
        let mut screen = lock(&self.screen);
        screen.prompting = false;
        if screen.prompt_shown {
            screen.prompt_shown = false;
            let mut out = io::stdout().lock();
            let _ = out.write_all(ERASE_LINE.as_bytes());
            let _ = out.flush();
        }
    }

    /// `text` with the time in front, if `--timestamps`.
    fn stamp(&self, text: &str) -> String {
        match self.style.timestamps {
            true => format!("{} {text}", time_of_day(SystemTime::now())),
            false => text.to_owned(),
        }
    }

    /// Writes `lines` at once: over the prompt if it is shown, then the prompt again.
    fn write(&self, lines: &[String]) {
        let mut screen = lock(&self.screen);
        let mut out = io::stdout().lock();
        let mut text = String::new();
        if screen.prompt_shown {
            text.push_str(ERASE_LINE);
            screen.prompt_shown = false;
        }
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        // A closed stdout (`| head`) is not worth a panic.
        let _ = out.write_all(text.as_bytes());
        self.show_prompt(&mut screen, &mut out);
    }

    fn show_prompt(&self, screen: &mut Screen, out: &mut impl Write) {
        if screen.prompting && !screen.prompt_shown {
            let _ = out.write_all(PROMPT.as_bytes());
            screen.prompt_shown = true;
        }
        let _ = out.flush();
    }
}

/// `HH:MM:SS.mmm`, UTC.
pub fn time_of_day(now: SystemTime) -> String {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_is_utc_to_the_millisecond() {
        // 2026-01-02T03:04:05.678Z
        let at = UNIX_EPOCH + Duration::from_millis(1_767_323_045_678);
        assert_eq!(time_of_day(at), "03:04:05.678");
        assert_eq!(time_of_day(UNIX_EPOCH), "00:00:00.000");
    }

    #[test]
    fn timestamps_go_in_front_of_the_marker() {
        let output = Output::new(Style {
            markers: true,
            prompt: false,
            timestamps: true,
        });
        let line = output.stamp("< Hello");
        let (time, rest) = line.split_once(' ').expect("a space after the time");
        assert_eq!(rest, "< Hello");
        assert_eq!(time.len(), "00:00:00.000".len(), "{line}");
        assert!(time.chars().all(|c| c.is_ascii_digit() || ":.".contains(c)));
    }

    #[test]
    fn plain_style_stamps_nothing() {
        let output = Output::new(Style::default());
        assert_eq!(output.stamp("Hello"), "Hello");
    }
}
