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
//! dashes; a `0x` in front of a group is allowed. `wsmith decode -` reads stdin instead: hex,
//! as `xxd -p` writes it, when stdin holds nothing else, or else the raw bytes themselves
//! (`xxd -p frame.bin | wsmith decode -`, `wsmith decode - < frame.bin`). The bytes are one direction of a connection:
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
use std::io::{self, Read};

use super::Error;
use crate::explain::frames;
use crate::explain::lab::{self, Experiment, Verdict};
use crate::explain::splitter::{explain, FrameSplitter};
use crate::protocol::frame::parse_header;

/// The help text of `wsmith decode`.
pub const USAGE: &str = "\
wsmith decode HEX...   explain WebSocket frames given as hex (RFC 6455 §5.2), unmasked
wsmith decode --deflate HEX...
                       the same on a connection that agreed permessage-deflate (RFC 7692): RSV1
                       on a message's first frame means compressed, and it is shown inflated
wsmith decode [--deflate | --as-server] -
                       the same, reading stdin: hex (xxd -p) if it is only hex digits and
                       separators, else the raw bytes (wsmith decode - < frame.bin)
wsmith decode --as-server HEX...
                       feed them to a server's protocol core, as if a client had sent them,
                       and print what it does: frames, events, replies, the close code and rule

    HEX is one direction of a connection, e.g. 81 85 37 fa 21 3d 7f 9f 4d 51 58 (RFC 6455 §5.7).
    Spaces, colons, commas, dashes and 0x prefixes are allowed; arguments are concatenated.
    Exit status: 0 if every byte is part of a whole frame that breaks no rule, 1 otherwise,
    2 if the input is not hex. With --as-server: 0 unless the server fails the connection.
";

/// The most `wsmith decode -` reads from stdin, in bytes.
pub const MAX_STDIN_BYTES: usize = 16 * 1024 * 1024;

/// The argument that means "read stdin".
const STDIN: &str = "-";

/// Reads hex digits from `args`, ignoring separators and `0x` prefixes.
///
/// # Errors
///
/// [`Error::Usage`] naming the first group that is not hex, or has an odd number of digits.
pub fn parse_hex<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, Error> {
    frames::parse_hex(args).map_err(Error::Usage)
}

/// Reads the frames of `wsmith decode -` from `input`: hex if `input` holds only hex digits,
/// whitespace, the separators `:,-` and `0x` prefixes (what `xxd -p` writes, or a copied hex
/// dump); otherwise the bytes as they are.
///
/// # Errors
///
/// [`Error::Usage`] for more than [`MAX_STDIN_BYTES`], or hex text that does not parse (an odd
/// number of digits); [`Error::Io`] if stdin cannot be read.
pub fn read_input(input: impl Read) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_STDIN_BYTES).unwrap_or(u64::MAX);
    input
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_STDIN_BYTES {
        return Err(Error::Usage(format!(
            "stdin holds more than {} MiB; decode fewer frames at a time",
            MAX_STDIN_BYTES / (1024 * 1024)
        )));
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) if is_hex_text(text) => parse_hex(&[text]),
        _ => Ok(bytes),
    }
}

/// Whether `text` is hex as [`parse_hex`] reads it (digits, separators, `0x`), not raw bytes.
fn is_hex_text(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_hexdigit() || c.is_ascii_whitespace() || ":,-xX".contains(c))
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
/// [`Error::Usage`] when there is no hex, or it does not parse; see also [`read_input`] for
/// `-`.
pub fn run<S: AsRef<str>>(args: &[S]) -> Result<bool, Error> {
    let (as_server, args) = match args.split_first() {
        Some((first, rest)) if first.as_ref() == "--as-server" => (true, rest),
        _ => (false, args),
    };
    let (deflate, args) = match args.split_first() {
        Some((first, rest)) if first.as_ref() == "--deflate" && !as_server => (true, rest),
        _ => (false, args),
    };
    let reads_stdin = args.iter().any(|arg| arg.as_ref() == STDIN);
    let bytes = match args {
        [_] if reads_stdin => read_input(io::stdin().lock())?,
        _ if reads_stdin => {
            return Err(Error::Usage(
                "'-' reads the frames from stdin; give no hex with it".into(),
            ))
        }
        _ => parse_hex(args)?,
    };
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
    fn stdin_is_read_as_hex_when_it_is_hex_and_as_raw_bytes_otherwise() {
        let hello = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let cases: &[(&str, &[u8])] = &[
            ("xxd -p", b"8105\n48656c6c6f\n"),
            ("spaced, with 0x", b"0x81 0x05 48:65:6c-6c,6f"),
            ("raw", &hello),
        ];
        for (name, input) in cases {
            assert_eq!(read_input(*input).expect(name), hello, "{name}");
        }
        // Raw bytes that are not UTF-8 are never taken for hex.
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(read_input(&masked[..]).expect("raw"), masked);
        assert!(matches!(read_input(&b"810"[..]), Err(Error::Usage(_))));
        assert_eq!(read_input(&b"\n"[..]).expect("empty"), Vec::<u8>::new());
    }

    #[test]
    fn stdin_over_the_limit_is_refused() {
        let input = io::repeat(0x82).take(MAX_STDIN_BYTES as u64 + 1);
        assert!(matches!(read_input(input), Err(Error::Usage(_))));
    }

    #[test]
    fn dash_with_hex_beside_it_is_a_usage_error() {
        assert!(matches!(run(&["-", "81 00"]), Err(Error::Usage(_))));
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
