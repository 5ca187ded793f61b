//! `wsmith decode HEX…`: frames given as hex, explained field by field (RFC 6455 §5.2) and
//! unmasked (§5.3), with [`crate::protocol::inspect`].
//!
//! ```text
//! $ wsmith decode 81 85 37 fa 21 3d 7f 9f 4d 51 58
//! 11 bytes: 1 frame
//!
//! frame at byte 0: 6 byte header, 5 byte payload
//!   byte 0   81 = 1000 0001  FIN=1 RSV1=0 RSV2=0 RSV3=0  opcode=0x1 Text
//!   byte 1   85 = 1000 0101  MASK=1  payload len=5
//!   bytes 2-5  masking key 37 fa 21 3d
//!   payload, masked    7f 9f 4d 51 58
//!   payload, unmasked  48 65 6c 6c 6f
//!   as text            "Hello"
//!   message 1, fragment 1 (final)
//! ```
//!
//! The hex may be split over several arguments and separated by spaces, colons, commas or
//! dashes; a `0x` in front of a group is allowed. The bytes are one direction of a connection:
//! frames are numbered as messages and fragments (§5.4), and control frames between fragments
//! are marked. Nothing is refused: a frame that breaks a rule is explained with its problems
//! (`! §5.2 reserved opcode 0x3`), as a learner wants to see what it said.

use std::fmt::Write as _;

use super::Error;
use crate::protocol::frame::parse_header;
use crate::protocol::inspect::explain;

/// The help text of `wsmith decode`.
pub const USAGE: &str = "\
wsmith decode HEX...   explain WebSocket frames given as hex (RFC 6455 §5.2), unmasked

    HEX is one direction of a connection, e.g. 81 85 37 fa 21 3d 7f 9f 4d 51 58 (RFC 6455 §5.7).
    Spaces, colons, commas, dashes and 0x prefixes are allowed; arguments are concatenated.
    Exit status: 0 if every byte is part of a whole frame that breaks no rule, 1 otherwise,
    2 if the input is not hex.
";

/// Reads hex digits from `args`, ignoring separators and `0x` prefixes.
///
/// # Errors
///
/// [`Error::Usage`] naming the first group that is not hex, or has an odd number of digits.
pub fn parse_hex<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    let groups = args
        .iter()
        .flat_map(|arg| {
            arg.as_ref()
                .split(|c: char| c.is_whitespace() || ":,-".contains(c))
        })
        .filter(|group| !group.is_empty());
    for group in groups {
        let digits = group
            .strip_prefix("0x")
            .or_else(|| group.strip_prefix("0X"))
            .unwrap_or(group);
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(Error::Usage(format!("{group:?} is not hex (the {bad:?})")));
        }
        if digits.len() % 2 != 0 {
            return Err(Error::Usage(format!(
                "{group:?} has an odd number of hex digits; write each byte as two"
            )));
        }
        for pair in digits.as_bytes().chunks_exact(2) {
            let pair = std::str::from_utf8(pair).unwrap_or_default();
            let byte = u8::from_str_radix(pair, 16)
                .map_err(|_| Error::Usage(format!("{pair:?} is not a hex byte")))?;
            bytes.push(byte);
        }
    }
    Ok(bytes)
}

/// Explains `bytes` as frames: a summary line, each frame's anatomy, then any bytes left over.
///
/// Returns the text and whether the input was clean: only whole frames, none breaking a rule.
pub fn describe(bytes: &[u8]) -> (String, bool) {
    let (frames, leftover) = explain(bytes);
    let mut text = String::new();
    let plural = if frames.len() == 1 { "" } else { "s" };
    let _ = writeln!(
        text,
        "{} bytes: {} frame{plural}",
        bytes.len(),
        frames.len()
    );
    for frame in &frames {
        let _ = write!(text, "\n{frame}");
    }
    let rest = bytes
        .get(bytes.len().saturating_sub(leftover)..)
        .unwrap_or_default();
    if !rest.is_empty() {
        let _ = write!(text, "\n{}", describe_leftover(rest));
    }
    let clean = rest.is_empty() && frames.iter().all(|frame| frame.problems.is_empty());
    (text, clean)
}

/// Says why the bytes after the last whole frame are not a frame.
fn describe_leftover(rest: &[u8]) -> String {
    let hex: Vec<String> = rest.iter().take(32).map(|b| format!("{b:02x}")).collect();
    let more = if rest.len() > 32 { " …" } else { "" };
    let mut text = format!(
        "{} bytes left over, not a whole frame: {}{more}\n",
        rest.len(),
        hex.join(" ")
    );
    match parse_header(rest) {
        None => {
            // §5.2: 2 bytes, then 2 or 8 of extended length, then 4 of masking key if MASK=1.
            text.push_str("  an incomplete header (a header is 2 to 14 bytes, §5.2)\n");
        }
        Some(raw) => {
            let present = rest.len().saturating_sub(raw.header_len);
            let _ = writeln!(
                text,
                "  a {} byte header, then {present} of its {} payload bytes",
                raw.header_len, raw.payload_len
            );
        }
    }
    text
}

/// Runs `wsmith decode` with the arguments after `decode`: prints the explanation.
///
/// Returns whether the input was clean (see [`describe`]).
///
/// # Errors
///
/// [`Error::Usage`] when there is no hex, or it does not parse.
pub fn run<S: AsRef<str>>(args: &[S]) -> Result<bool, Error> {
    let bytes = parse_hex(args)?;
    if bytes.is_empty() {
        return Err(Error::Usage("decode needs the frame bytes as hex".into()));
    }
    let (text, clean) = describe(&bytes);
    print!("{text}");
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_may_be_spaced_coloned_prefixed_and_split_over_arguments() {
        let expected = vec![0x81, 0x05, 0x48, 0x65];
        for args in [
            vec!["81 05 48 65"],
            vec!["8105", "4865"],
            vec!["81:05:48:65"],
            vec!["0x81,0x05", "0X48-65"],
        ] {
            assert_eq!(parse_hex(&args).expect("hex"), expected, "{args:?}");
        }
    }

    #[test]
    fn hex_with_a_stray_character_or_odd_digits_is_refused() {
        for args in [["81 0g"], ["810"]] {
            assert!(matches!(parse_hex(&args), Err(Error::Usage(_))), "{args:?}");
        }
    }

    #[test]
    fn rfc_masked_hello_is_described_as_one_clean_frame() {
        let bytes = parse_hex(&["81 85 37 fa 21 3d 7f 9f 4d 51 58"]).expect("hex");
        let (text, clean) = describe(&bytes);
        assert!(clean);
        assert!(text.starts_with("11 bytes: 1 frame\n"), "{text}");
        assert!(text.contains("as text            \"Hello\""), "{text}");
    }

    #[test]
    fn leftover_bytes_say_how_much_of_the_frame_is_missing() {
        let (text, clean) = describe(&[0x81, 0x05, 0x48, 0x65]);
        assert!(!clean);
        assert!(text.contains("4 bytes left over"), "{text}");
        assert!(
            text.contains("a 2 byte header, then 2 of its 5 payload bytes"),
            "{text}"
        );
        let (text, _) = describe(&[0x82, 0x7e, 0x01]);
        assert!(text.contains("an incomplete header"), "{text}");
    }
}
