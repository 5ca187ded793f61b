//! The chat's reading of what a client sends: `ClientCommand::parse` (a Text message), the
//! upgrade URL's query (`ChatQuery::parse`), and the name rules a name passes through on
//! `connect` and on a `join` command.
//!
//! Properties: no panic; plain text is a `message` to `general` exactly when it fits the text
//! limit; JSON over `max_command_bytes` is refused as too long whatever it holds (so before it
//! is parsed); an error quotes at most 64 characters of the input; a name the chat gives is
//! NFKC-normalised, within the name limit, holds no control, invisible or bidi character, is
//! not `server` in any disguise, and differs from every other client's name in more than case.
#![no_main]

use libfuzzer_sys::fuzz_target;
use unicode_normalization::is_nfkc;
use wsmith::app::chat::{
    max_command_bytes, Chat, ChatConfig, ChatError, ChatQuery, ClientCommand, GENERAL,
};

/// How many characters an error may quote, and the `…` that says it was cut.
const MAX_QUOTED_CHARS: usize = 64 + 1;

/// Zero-width characters, joiners, bidi controls (UAX #9) and the other characters that show
/// nothing: a list written apart from the chat's own.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
            | 0x2060..=0x2064 | 0x2066..=0x2069 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0
            | 0xE0000..=0xE007F
    )
}

/// `server` in a disguise a reader would still read as `server`: another case, a compatibility
/// form (the name is NFKC already), punctuation, spaces or combining marks around its letters,
/// `5` or `$` for `s`, Cyrillic or Greek letters drawn like `s`, `e`, `r`, `v`. What reads as
/// another letter (`0` as `o`; `1`, `!`, `|` as `i`) makes it another word.
fn reads_as_server(name: &str) -> bool {
    let letters: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            '5' | '$' | 'ѕ' => Some('s'),
            '0' => Some('o'),
            '1' | '!' | '|' => Some('i'),
            'е' | 'ε' | 'ё' => Some('e'),
            'г' => Some('r'),
            'ν' | 'ѵ' => Some('v'),
            c if c.is_alphanumeric() && !matches!(u32::from(c), 0x0300..=0x036F) => Some(c),
            _ => None,
        })
        .collect();
    letters == "server"
}

fn check_name(name: &str, config: &ChatConfig) {
    assert!(is_nfkc(name), "{name:?} is not NFKC");
    assert_eq!(name, name.trim(), "{name:?} is not trimmed");
    assert!(!name.is_empty());
    assert!(
        name.chars().count() <= config.max_name_chars,
        "{name:?} is too long"
    );
    assert!(
        !name.chars().any(char::is_control),
        "{name:?} has a control character"
    );
    assert!(
        !name.chars().any(is_invisible_or_bidi),
        "{name:?} has an invisible character"
    );
    assert!(!reads_as_server(name), "{name:?} reads as server");
}

fn check_quote(error: &ChatError) {
    if let ChatError::BadJson(quoted) | ChatError::UnknownType(Some(quoted)) = error {
        assert!(
            quoted.chars().count() <= MAX_QUOTED_CHARS,
            "{quoted:?} quotes too much"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit_byte, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let max_text_bytes = usize::from(limit_byte) * 2;

    // A Text message.
    let parsed = ClientCommand::parse(&text, max_text_bytes);
    if let Err(error) = &parsed {
        check_quote(error);
    }
    if text.trim_start().starts_with('{') {
        let limit = max_command_bytes(max_text_bytes);
        let too_long = matches!(parsed, Err(ChatError::CommandTooLong { .. }));
        assert_eq!(
            too_long,
            text.len() > limit,
            "{parsed:?} for {} bytes of JSON",
            text.len()
        );
    } else if text.len() <= max_text_bytes {
        let expected = ClientCommand::Message {
            channel: GENERAL.to_owned(),
            text: text.to_string(),
        };
        assert_eq!(parsed, Ok(expected));
    } else {
        assert!(
            matches!(parsed, Err(ChatError::TextTooLong { .. })),
            "{parsed:?}"
        );
    }

    // Names: asked for on connect (raw, and through the query string), then by `join`.
    let config = ChatConfig::default();
    let mut chat = Chat::new(config.clone());
    let query = ChatQuery {
        name: Some(text.to_string()),
        ..ChatQuery::default()
    };
    chat.connect(1, query, 0);
    chat.connect(2, ChatQuery::parse(Some(&text)), 0);
    chat.connect(
        3,
        ChatQuery {
            name: Some(text.to_uppercase()),
            ..ChatQuery::default()
        },
        0,
    );
    let join = serde_json::json!({"type": "join", "name": text}).to_string();
    chat.receive_text(2, &join, 1);
    chat.receive_text(3, &text, 2);
    let names: Vec<String> = (1..=3)
        .filter_map(|id| chat.name_of(id).map(str::to_owned))
        .collect();
    assert_eq!(names.len(), 3, "a connected client has no name");
    for name in &names {
        check_name(name, &config);
    }
    for (i, a) in names.iter().enumerate() {
        for b in names.iter().skip(i + 1) {
            assert_ne!(
                a.to_lowercase(),
                b.to_lowercase(),
                "two clients are named {a:?}"
            );
        }
    }
});
