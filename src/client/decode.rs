//! `wsmith decode HEX…`: frames given as hex, explained field by field (RFC 6455 §5.2) and
//! unmasked (§5.3), with [`crate::explain::frames`].
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
//!
//! `wsmith decode --as-server HEX…` asks the other question: what would a server do with these
//! bytes from a client? They are fed to a fresh server-role protocol core by the frame lab
//! ([`crate::explain::lab`], the same code as the page's Lab tab), and its verdict is printed
//! step by step: each frame, each event, the replies, and the failure with its close code, rule
//! and offset (`verdict: 1002 — §5.1 a client must mask every frame`).

use std::fmt::Write as _;

use super::Error;
use crate::explain::frames::{self, explain, FrameSplitter};
use crate::explain::lab::{self, Experiment, Verdict};
use crate::protocol::frame::parse_header;

/// The help text of `wsmith decode`.
pub const USAGE: &str = "\
wsmith decode HEX...   explain WebSocket frames given as hex (RFC 6455 §5.2), unmasked
wsmith decode --deflate HEX...
                       the same on a connection that agreed permessage-deflate (RFC 7692): RSV1
                       on a message's first frame means compressed, and it is shown inflated
wsmith decode --as-server HEX...
                       feed them to a server's protocol core, as if a client had sent them,
                       and print what it does: frames, events, replies, the close code and rule

    HEX is one direction of a connection, e.g. 81 85 37 fa 21 3d 7f 9f 4d 51 58 (RFC 6455 §5.7).
    Spaces, colons, commas, dashes and 0x prefixes are allowed; arguments are concatenated.
    Exit status: 0 if every byte is part of a whole frame that breaks no rule, 1 otherwise,
    2 if the input is not hex. With --as-server: 0 unless the server fails the connection.
";

/// Reads hex digits from `args`, ignoring separators and `0x` prefixes.
///
/// # Errors
///
/// [`Error::Usage`] naming the first group that is not hex, or has an odd number of digits.
pub fn parse_hex<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, Error> {
    frames::parse_hex(args).map_err(Error::Usage)
}

/// Explains `bytes` as frames: a summary line, each frame's anatomy, then any bytes left over.
///
/// Returns the text and whether the input was clean: only whole frames, none breaking a rule.
pub fn describe(bytes: &[u8]) -> (String, bool) {
    describe_with(bytes, false)
}

/// [`describe`], with `deflate`: as on a connection that agreed `permessage-deflate`, so that
/// compressed messages are marked and shown inflated (RFC 7692 §6).
pub fn describe_with(bytes: &[u8], deflate: bool) -> (String, bool) {
    let (frames, leftover) = if deflate {
        let frames = FrameSplitter::new().with_deflate(false).feed(bytes);
        let used: u64 = frames
            .iter()
            .map(|f| f.header.len() as u64 + f.payload_len)
            .sum();
        let used = usize::try_from(used)
            .unwrap_or(bytes.len())
            .min(bytes.len());
        (frames, bytes.len() - used)
    } else {
        explain(bytes)
    };
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
    let (as_server, args) = match args.split_first() {
        Some((first, rest)) if first.as_ref() == "--as-server" => (true, rest),
        _ => (false, args),
    };
    let (deflate, args) = match args.split_first() {
        Some((first, rest)) if first.as_ref() == "--deflate" && !as_server => (true, rest),
        _ => (false, args),
    };
    let bytes = parse_hex(args)?;
    if bytes.is_empty() {
        return Err(Error::Usage("decode needs the frame bytes as hex".into()));
    }
    let (text, clean) = if as_server {
        judge(bytes)
    } else {
        describe_with(&bytes, deflate)
    };
    print!("{text}");
    Ok(clean)
}

/// What a server's core does with `bytes` from a client, in one read (see the module doc).
///
/// Returns the report and whether the connection survived (no failure).
pub fn judge(bytes: Vec<u8>) -> (String, bool) {
    match lab::run(&Experiment::whole(bytes)) {
        Ok(report) => {
            let survived = !matches!(report.verdict, Verdict::Failed { .. });
            (report.to_string(), survived)
        }
        Err(e) => (format!("{e}\n"), false),
    }
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
    fn as_server_prints_the_cores_verdict() {
        let (text, survived) = judge(vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert!(!survived);
        assert!(
            text.contains("verdict: 1002 — §5.1 a client must mask every frame"),
            "{text}"
        );
        assert!(text.contains("reply: the server would write 88"), "{text}");
        let (text, survived) =
            judge(parse_hex(&["81 85 37 fa 21 3d 7f 9f 4d 51 58"]).expect("hex"));
        assert!(survived);
        assert!(
            text.contains("event: Text message of 5 bytes: \"Hello\""),
            "{text}"
        );
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

    #[test]
    fn with_deflate_rfc_7692_hello_is_marked_compressed_and_shown_inflated() {
        // RFC 7692 §7.2.3.1, then its two fragments.
        let bytes = [
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x41, 0x03, 0xf2, 0x48, 0xcd,
            0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        let (text, clean) = describe_with(&bytes, true);
        assert!(clean, "{text}");
        assert!(
            text.contains("compressed (permessage-deflate, RFC 7692 §6)"),
            "{text}"
        );
        assert_eq!(
            text.matches("inflated as text   \"Hello\"").count(),
            2,
            "{text}"
        );
        let (text, clean) = describe(&bytes);
        assert!(!clean && text.contains("RSV bits set"), "{text}");
    }
}
