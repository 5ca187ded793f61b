//! The request-head parser and the §4.2.1 checks fed arbitrary bytes.
//!
//! Properties: no panic; the head parses the same whole or in two pieces; an accepted upgrade
//! answers with the accept key of its own Sec-WebSocket-Key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::handshake::{accept_key, check_request, response_101};
use wsmith::protocol::http::{parse_request_head, HeadLimits};

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits { max_head_bytes: 2048, max_headers: 16 };
    let whole = parse_request_head(data, &limits);
    let cut = data.len() / 2;
    // A prefix that is already a whole head must give the same answer; otherwise "need more".
    if let Ok(Some((head, len))) = parse_request_head(&data[..cut], &limits) {
        assert_eq!(Ok(Some((head, len))), whole);
    }
    if let Ok(Some((head, len))) = whole {
        assert!(len <= data.len() && len <= limits.max_head_bytes);
        if let Ok(upgrade) = check_request(&head, &["chat"]) {
            assert_eq!(upgrade.accept, accept_key(upgrade.key));
            let response = response_101(&upgrade);
            assert!(response.starts_with(b"HTTP/1.1 101 "));
        }
    }
});
