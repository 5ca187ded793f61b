//! How a name may be spelled, so that one name cannot pass for another: the name is
//! NFKC-normalised (Unicode UAX #15: `ｓｅｒｖｅｒ` and `server` are one name), then refused if it
//! holds a character nobody sees (zero-width, bidi controls), or letters of more than one
//! script.
//!
//! The script rule is a simpler cousin of Unicode UTS #39's "highly restrictive" level: **the
//! letters of a name come from one script**, and everything else in it is ASCII (digits, spaces,
//! punctuation) or a non-letter symbol. Han may join Hangul or Kana (Korean and Japanese write
//! with it), as UTS #39 allows. `аlice` (a Cyrillic `а`, then Latin) is refused; `алиса` and
//! `김 철수` pass. A letter outside the scripts named here counts as the script of its 128-code-
//! point block, so unknown scripts pass alone and still cannot mix.
//!
//! [`skeleton`] folds the letters of other scripts that look like Latin ones (Cyrillic `ѕ`,
//! Greek `ν`, the digit `0`) onto them, so the reserved `server` cannot be taken in disguise.

use unicode_normalization::UnicodeNormalization;

/// The scripts a name's letters are told apart by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Hebrew,
    Arabic,
    Devanagari,
    Thai,
    Hangul,
    Kana,
    Han,
    /// Any other letter, by its 128-code-point block.
    Block(u32),
}

impl Script {
    /// The script of a letter.
    fn of(c: char) -> Self {
        match u32::from(c) {
            0x0041..=0x024F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF => Self::Latin,
            0x0370..=0x03FF | 0x1F00..=0x1FFF => Self::Greek,
            0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Self::Cyrillic,
            0x0530..=0x058F => Self::Armenian,
            0x0590..=0x05FF => Self::Hebrew,
            0x0600..=0x06FF | 0x0750..=0x077F => Self::Arabic,
            0x0900..=0x097F => Self::Devanagari,
            0x0E00..=0x0E7F => Self::Thai,
            0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7FF => Self::Hangul,
            0x3040..=0x30FF | 0x31F0..=0x31FF => Self::Kana,
            0x2E80..=0x2FDF | 0x3005..=0x3007 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF => Self::Han,
            0xF900..=0xFAFF | 0x20000..=0x3FFFF => Self::Han,
            code => Self::Block(code / 0x80),
        }
    }

    /// Whether letters of `self` and `other` may share a name.
    fn goes_with(self, other: Self) -> bool {
        self == other
            || matches!(
                (self, other),
                (Self::Han, Self::Hangul | Self::Kana) | (Self::Hangul | Self::Kana, Self::Han)
            )
    }
}

/// Characters that show nothing, or reorder what is around them: zero-width spaces and joiners,
/// the bidi controls (Unicode UAX #9: U+202A–E, U+2066–9, the marks U+200E/F, U+061C), the soft
/// hyphen, variation selectors, fillers and tags.
fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F
            | 0x1160
            | 0x17B4
            | 0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFFB
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// Why a name's spelling is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Misspelling {
    /// A control character (`char::is_control`).
    Control,
    /// A character that shows nothing or reorders the text ([`is_invisible`]).
    Invisible,
    /// Letters of two scripts that may not mix.
    MixedScripts,
}

/// The name NFKC-normalised (UAX #15): compatibility forms (full-width letters, ligatures,
/// the ideographic space) become the characters they stand for.
pub(super) fn normalise(name: &str) -> String {
    name.nfkc().collect()
}

/// Checks the spelling of an already normalised name.
///
/// # Errors
///
/// The first [`Misspelling`] found.
pub(super) fn check_spelling(name: &str) -> Result<(), Misspelling> {
    let mut script: Option<Script> = None;
    for c in name.chars() {
        if c.is_control() {
            return Err(Misspelling::Control);
        }
        if is_invisible(c) {
            return Err(Misspelling::Invisible);
        }
        // Combining marks (U+0300–036F) inherit the script of the letter they sit on.
        if !c.is_alphabetic() || matches!(u32::from(c), 0x0300..=0x036F) {
            continue;
        }
        let this = Script::of(c);
        match script {
            Some(seen) if !seen.goes_with(this) => return Err(Misspelling::MixedScripts),
            // Han with Hangul: remember the more specific of the two.
            Some(Script::Han) | None => script = Some(this),
            Some(_) => {}
        }
    }
    Ok(())
}

/// What a name looks like: lowercase, the letters of other scripts that look like Latin ones
/// folded onto them, digits that look like letters too, separators and marks dropped. Two
/// names with one skeleton look alike (the idea of UTS #39's confusable skeletons, with a small
/// table).
pub(super) fn skeleton(name: &str) -> String {
    normalise(name)
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            'а' | 'α' => Some('a'),
            'с' | 'ϲ' => Some('c'),
            'е' | 'ε' | 'ё' => Some('e'),
            'һ' => Some('h'),
            'і' | 'ι' | 'ӏ' | '1' | '!' | '|' => Some('i'),
            'ј' => Some('j'),
            'к' | 'κ' => Some('k'),
            'ⅼ' => Some('l'),
            'о' | 'ο' | '0' => Some('o'),
            'р' | 'ρ' => Some('p'),
            'г' => Some('r'),
            'ѕ' | '5' | '$' => Some('s'),
            'т' | 'τ' => Some('t'),
            'υ' => Some('u'),
            'ν' | 'ѵ' => Some('v'),
            'х' | 'χ' => Some('x'),
            'у' | 'γ' => Some('y'),
            'l' => Some('i'),
            c if c.is_alphanumeric() && !matches!(u32::from(c), 0x0300..=0x036F) => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfkc_folds_compatibility_forms() {
        assert_eq!(normalise("ｓｅｒｖｅｒ"), "server");
        assert_eq!(normalise("ﬁona"), "fiona");
        assert_eq!(normalise("김\u{3000}철수"), "김 철수");
    }

    #[test]
    fn spelling_cases() {
        let cases: [(&str, Result<(), Misspelling>); 14] = [
            ("alice", Ok(())),
            ("alice-2_x.y", Ok(())),
            ("김 철수", Ok(())),
            ("алиса", Ok(())),
            ("José", Ok(())),
            ("田中さん", Ok(())),
            ("한국漢字", Ok(())),
            ("bob 🎉", Ok(())),
            ("\u{430}lice", Err(Misspelling::MixedScripts)),
            ("alice김", Err(Misspelling::MixedScripts)),
            ("server\u{200b}", Err(Misspelling::Invisible)),
            ("bob\u{202e}ecila", Err(Misspelling::Invisible)),
            ("a\u{2066}b", Err(Misspelling::Invisible)),
            ("al\u{7}ice", Err(Misspelling::Control)),
        ];
        for (name, expected) in cases {
            assert_eq!(check_spelling(&normalise(name)), expected, "{name:?}");
        }
    }

    #[test]
    fn look_alikes_of_server_share_its_skeleton() {
        for name in [
            "server",
            "Server",
            "ѕеrvеr",
            "SERVER",
            "s.e.r.v.e.r",
            "5erver",
            "ｓｅｒｖｅｒ",
        ] {
            assert_eq!(skeleton(name), skeleton("server"), "{name:?}");
        }
        for name in ["observer", "servers", "serve"] {
            assert_ne!(skeleton(name), skeleton("server"), "{name:?}");
        }
    }
}
