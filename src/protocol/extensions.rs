//! The `Sec-WebSocket-Extensions` header field (RFC 6455 §9.1): a list of extensions, each a
//! name with parameters.
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-token = registered-token
//! registered-token = token
//! extension-param = token [ "=" (token | quoted-string) ]
//!     ;When using the quoted-string syntax variant, the value
//!     ;after quoted-string unescaping MUST conform to the
//!     ;'token' ABNF.
//! ```
//!
//! `token` and `quoted-string` are RFC 7230's (§3.2.6), and `1#` is its list rule (§7): elements
//! separated by commas with optional whitespace, empty elements allowed and ignored. A client
//! may send the field on several lines; they form one list in order (RFC 6455 §9.1: "...can be
//! split into multiple header fields"). Each element is one *offer*: the same extension may be
//! offered several times with different parameters, in order of preference (RFC 7692 §5).
//!
//! This module knows the grammar only. What the parameters of `permessage-deflate` mean is
//! [`super::deflate`]'s business.

use std::fmt;

/// One element of the list: an extension's name and its parameters, in order (RFC 6455 §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension-token, e.g. `permessage-deflate`.
    pub name: String,
    /// Each `extension-param`: its name and, if it had `=`, its value (unquoted).
    pub params: Vec<(String, Option<String>)>,
}

/// Why a `Sec-WebSocket-Extensions` value does not follow §9.1's grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionSyntaxError {
    /// Where a token was expected (a name, a parameter, a value) something else came.
    ExpectedToken(usize),
    /// A quoted string that never ends, or ends with a lone backslash.
    UnterminatedQuote(usize),
    /// A quoted value that is not a token once unescaped (§9.1's comment in the ABNF).
    QuotedValueNotToken(usize),
    /// After a parameter, neither `;`, `,` nor the end.
    UnexpectedCharacter(usize),
}

impl fmt::Display for ExtensionSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExpectedToken(at) => write!(f, "expected a token at byte {at}"),
            Self::UnterminatedQuote(at) => write!(f, "quoted string at byte {at} never ends"),
            Self::QuotedValueNotToken(at) => {
                write!(f, "quoted value at byte {at} is not a token once unquoted")
            }
            Self::UnexpectedCharacter(at) => write!(f, "unexpected character at byte {at}"),
        }
    }
}

impl std::error::Error for ExtensionSyntaxError {}

/// Whether `byte` is a `tchar` (RFC 7230 §3.2.6): "!" / "#" / "$" / "%" / "&" / "'" / "*" /
/// "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
pub fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Whether `text` is a `token`: one or more `tchar`s.
pub fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_tchar)
}

/// Parses every line of the field, in order, into one list of offers.
///
/// # Errors
///
/// The first [`ExtensionSyntaxError`] of any line; positions count from the start of that line.
pub fn parse_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Extension>, ExtensionSyntaxError> {
    let mut all = Vec::new();
    for line in lines {
        all.extend(parse(line)?);
    }
    Ok(all)
}

/// Parses one field value: `permessage-deflate; client_max_window_bits, foo; bar="baz"`.
///
/// # Errors
///
/// An [`ExtensionSyntaxError`] at the first byte that breaks §9.1's grammar.
///
/// ```
/// use wsmith::protocol::extensions::parse;
///
/// let offers = parse("permessage-deflate; client_max_window_bits, permessage-deflate")?;
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[0].params, [("client_max_window_bits".to_string(), None)]);
/// # Ok::<(), wsmith::protocol::extensions::ExtensionSyntaxError>(())
/// ```
pub fn parse(value: &str) -> Result<Vec<Extension>, ExtensionSyntaxError> {
    let mut cursor = Cursor {
        bytes: value.as_bytes(),
        at: 0,
    };
    let mut extensions = Vec::new();
    loop {
        cursor.skip_whitespace();
        match cursor.peek() {
            None => return Ok(extensions),
            // RFC 7230 §7: empty list elements are allowed and do not count.
            Some(b',') => {
                cursor.at += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = cursor.token()?;
        let mut params = Vec::new();
        loop {
            cursor.skip_whitespace();
            match cursor.peek() {
                None | Some(b',') => break,
                Some(b';') => {
                    cursor.at += 1;
                    cursor.skip_whitespace();
                    params.push(cursor.param()?);
                }
                Some(_) => return Err(ExtensionSyntaxError::UnexpectedCharacter(cursor.at)),
            }
        }
        extensions.push(Extension { name, params });
    }
}

/// Writes extensions as a field value, the form [`parse`] reads: `name; p; q=v`.
pub fn format(extensions: &[Extension]) -> String {
    extensions
        .iter()
        .map(Extension::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            match value {
                Some(value) => write!(f, "; {name}={value}")?,
                None => write!(f, "; {name}")?,
            }
        }
        Ok(())
    }
}

/// A position in a field value.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// OWS (RFC 7230 §3.2.3): spaces and tabs.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn token(&mut self) -> Result<String, ExtensionSyntaxError> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        let token = self.bytes.get(start..self.at).unwrap_or_default();
        if token.is_empty() {
            return Err(ExtensionSyntaxError::ExpectedToken(start));
        }
        Ok(String::from_utf8_lossy(token).into_owned())
    }

    /// `extension-param = token [ "=" (token | quoted-string) ]`, with OWS around `=` as
    /// browsers and servers accept it.
    fn param(&mut self) -> Result<(String, Option<String>), ExtensionSyntaxError> {
        let name = self.token()?;
        self.skip_whitespace();
        if self.peek() != Some(b'=') {
            return Ok((name, None));
        }
        self.at += 1;
        self.skip_whitespace();
        let value = if self.peek() == Some(b'"') {
            let start = self.at;
            let value = self.quoted_string()?;
            if !is_token(&value) {
                return Err(ExtensionSyntaxError::QuotedValueNotToken(start));
            }
            value
        } else {
            self.token()?
        };
        Ok((name, Some(value)))
    }

    /// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE` with `quoted-pair = "\"
    /// ( HTAB / SP / VCHAR / obs-text )` (RFC 7230 §3.2.6); returns the unescaped text.
    fn quoted_string(&mut self) -> Result<String, ExtensionSyntaxError> {
        let start = self.at;
        self.at += 1; // the opening DQUOTE
        let mut text = Vec::new();
        loop {
            match self.peek() {
                None => return Err(ExtensionSyntaxError::UnterminatedQuote(start)),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&text).into_owned());
                }
                Some(b'\\') => {
                    let escaped = self
                        .bytes
                        .get(self.at + 1)
                        .copied()
                        .ok_or(ExtensionSyntaxError::UnterminatedQuote(start))?;
                    text.push(escaped);
                    self.at += 2;
                }
                Some(byte) => {
                    text.push(byte);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        Extension {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    #[test]
    fn what_browsers_send_parses() {
        // Chrome, then Firefox.
        assert_eq!(
            parse("permessage-deflate; client_max_window_bits"),
            Ok(vec![ext(
                "permessage-deflate",
                &[("client_max_window_bits", None)]
            )])
        );
        assert_eq!(
            parse("permessage-deflate"),
            Ok(vec![ext("permessage-deflate", &[])])
        );
    }

    #[test]
    fn several_offers_values_and_quoted_strings_parse_in_order() {
        let value =
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=\"10\", \
                     ,x-foo;a = b , permessage-deflate ;server_no_context_takeover";
        assert_eq!(
            parse(value),
            Ok(vec![
                ext(
                    "permessage-deflate",
                    &[
                        ("server_max_window_bits", Some("10")),
                        ("client_max_window_bits", Some("10"))
                    ]
                ),
                ext("x-foo", &[("a", Some("b"))]),
                ext(
                    "permessage-deflate",
                    &[("server_no_context_takeover", None)]
                ),
            ])
        );
    }

    #[test]
    fn quoted_pairs_are_unescaped() {
        assert_eq!(
            parse(r#"x; v="a\bc""#),
            Ok(vec![ext("x", &[("v", Some("abc"))])])
        );
    }

    #[test]
    fn several_lines_form_one_list() {
        let offers = parse_lines(["permessage-deflate; client_max_window_bits", "x-other"]);
        assert_eq!(
            offers.map(|o| o.into_iter().map(|e| e.name).collect::<Vec<_>>()),
            Ok(vec!["permessage-deflate".into(), "x-other".into()])
        );
    }

    #[test]
    fn empty_value_is_an_empty_list() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse(" , ,"), Ok(vec![]));
    }

    #[test]
    fn each_broken_rule_is_refused_with_its_position() {
        let cases = [
            (";x", ExtensionSyntaxError::ExpectedToken(0)),
            ("a; ", ExtensionSyntaxError::ExpectedToken(3)),
            ("a; b=", ExtensionSyntaxError::ExpectedToken(5)),
            ("a; b=\"c", ExtensionSyntaxError::UnterminatedQuote(5)),
            ("a; b=\"c\\", ExtensionSyntaxError::UnterminatedQuote(5)),
            ("a; b=\"c d\"", ExtensionSyntaxError::QuotedValueNotToken(5)),
            ("a; b=\"\"", ExtensionSyntaxError::QuotedValueNotToken(5)),
            ("a b", ExtensionSyntaxError::UnexpectedCharacter(2)),
            ("a; b=c d", ExtensionSyntaxError::UnexpectedCharacter(7)),
            ("a; b=(c)", ExtensionSyntaxError::ExpectedToken(5)),
            ("ä", ExtensionSyntaxError::ExpectedToken(0)),
        ];
        for (value, error) in cases {
            assert_eq!(parse(value), Err(error), "{value:?}");
        }
    }

    #[test]
    fn format_writes_what_parse_reads() {
        let offers = vec![
            ext(
                "permessage-deflate",
                &[
                    ("server_no_context_takeover", None),
                    ("server_max_window_bits", Some("10")),
                ],
            ),
            ext("x", &[]),
        ];
        let text = format(&offers);
        assert_eq!(
            text,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10, x"
        );
        assert_eq!(parse(&text), Ok(offers));
    }
}
