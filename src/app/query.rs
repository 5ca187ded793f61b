//! URL query strings (RFC 3986 §3.4), read as HTML forms write them
//! (`application/x-www-form-urlencoded`: `+` is a space, `%XX` is byte XX): the one parser behind
//! `/broadcast?self=false`, `/chat?name=…&resume=…&epoch=…` and every endpoint's `?tap=TOKEN`.
//!
//! Reading never fails: a malformed escape stays as it is, invalid UTF-8 becomes U+FFFD, a pair
//! without `=` has an empty value, and empty pairs (`a=1&&b=2`) are skipped. What a repeated key
//! means is the caller's choice ([`first`], or every pair from [`pairs`]).

/// Every `key=value` pair of `query` (the part after `?`; a leading `?` is allowed), decoded, in
/// order.
pub fn pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    let query = query.unwrap_or_default();
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
}

/// The decoded value of the first `key` in `query`.
pub fn first(query: Option<&str>, key: &str) -> Option<String> {
    pairs(query).find(|(k, _)| k == key).map(|(_, value)| value)
}

/// Whether some `key` in `query` has exactly `value` (after decoding).
pub fn has(query: Option<&str>, key: &str, value: &str) -> bool {
    pairs(query).any(|(k, v)| k == key && v == value)
}

/// Decodes `application/x-www-form-urlencoded` text: `+` → space, `%XX` → byte XX; a `%` not
/// followed by two hex digits stays as it is; invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match (byte, tail) {
            (b'+', _) => bytes.push(b' '),
            (b'%', [high, low, after @ ..]) => match (hex_value(*high), hex_value(*low)) {
                (Some(high), Some(low)) => {
                    bytes.push(high << 4 | low);
                    rest = after;
                }
                _ => bytes.push(b'%'),
            },
            _ => bytes.push(byte),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The value of one hexadecimal digit.
fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(query: &str) -> Vec<(String, String)> {
        pairs(Some(query)).collect()
    }

    fn pair(key: &str, value: &str) -> (String, String) {
        (key.to_owned(), value.to_owned())
    }

    #[test]
    fn percent_escapes_and_plus_are_decoded() {
        assert_eq!(
            percent_decode("general%3A41%2Cnews%3A7"),
            "general:41,news:7"
        );
        assert_eq!(percent_decode("a+b%20c"), "a b c");
        assert_eq!(percent_decode("%ED%95%9C"), "한");
        assert_eq!(percent_decode("%2b"), "+", "lower-case hex");
    }

    #[test]
    fn malformed_escapes_stay_as_they_are() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%%41"), "%A");
    }

    #[test]
    fn invalid_utf8_becomes_the_replacement_character() {
        assert_eq!(percent_decode("a%FFb"), "a\u{FFFD}b");
    }

    #[test]
    fn pairs_are_split_decoded_and_kept_in_order() {
        assert_eq!(
            all("?name=al%69ce&flag&&x=1=2"),
            [pair("name", "alice"), pair("flag", ""), pair("x", "1=2")]
        );
        assert_eq!(pairs(None).count(), 0);
        assert_eq!(all(""), []);
    }

    #[test]
    fn repeated_keys_are_all_kept_and_first_takes_the_first() {
        let query = Some("tap=one&tap=two");
        assert_eq!(
            all("tap=one&tap=two"),
            [pair("tap", "one"), pair("tap", "two")]
        );
        assert_eq!(first(query, "tap").as_deref(), Some("one"));
        assert!(has(query, "tap", "two"));
    }

    #[test]
    fn keys_match_whole_and_decoded() {
        assert_eq!(first(Some("name=a&tap=xyz"), "tap").as_deref(), Some("xyz"));
        assert_eq!(first(Some("tapx=1"), "tap"), None);
        assert_eq!(first(Some("t%61p=1"), "tap").as_deref(), Some("1"));
        assert_eq!(first(None, "tap"), None);
        assert!(has(Some("self=false"), "self", "false"));
        assert!(!has(Some("self=falsey&myself=false"), "self", "false"));
    }
}
