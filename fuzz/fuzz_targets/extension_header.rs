//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and the `permessage-deflate` negotiation
//! (RFC 7692 §5, §7), both sides.
//!
//! Properties: no panic; a parsed value written back with `extensions::format` parses to the
//! same extensions; every name and parameter name is a token; reading the lines one by one
//! gives what reading them together does; the agreed parameters have window bits in 8..=15, are
//! the server's answer stated back (`to_extension` read by the client's `accept_response`), and
//! make a compressor and a connection that compress and send without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::deflate::{
    accept_response, negotiate, Deflater, Params, StatelessCompressor, MAX_WINDOW_BITS,
    MIN_WINDOW_BITS,
};
use wsmith::protocol::extensions::{format, is_token, parse, parse_lines};
use wsmith::protocol::{Connection, Limits, Message, Role};

fn check_params(params: &Params) {
    for bits in [params.server_max_window_bits, params.client_max_window_bits]
        .into_iter()
        .flatten()
    {
        assert!(
            (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&bits),
            "window bits {bits}"
        );
    }
    for role in [Role::Server, Role::Client] {
        assert!((9..=MAX_WINDOW_BITS).contains(&params.compressor_window_bits(role)));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let whole = parse_lines(lines.iter().copied());
    // Line by line: the first error, or all the extensions in order.
    let mut by_line = Ok(Vec::new());
    for line in &lines {
        match (&mut by_line, parse(line)) {
            (Ok(all), Ok(some)) => all.extend(some),
            (Ok(_), Err(e)) => by_line = Err(e),
            (Err(_), _) => {}
        }
    }
    assert_eq!(whole, by_line);
    let Ok(offers) = whole else { return };
    for offer in &offers {
        assert!(is_token(&offer.name), "{:?}", offer.name);
        for (name, value) in &offer.params {
            assert!(is_token(name), "{name:?}");
            if let Some(value) = value {
                assert!(is_token(value), "{value:?}");
            }
        }
    }
    let formatted = format(&offers);
    assert_eq!(parse(&formatted).as_ref(), Ok(&offers), "{formatted:?}");

    // The server's side: the agreed parameters are valid and say what the 101 will say.
    let negotiation = negotiate(&offers);
    if let Some(agreed) = negotiation.agreed {
        check_params(&agreed);
        let answer = agreed.to_extension();
        assert_eq!(accept_response(&answer), Ok(agreed), "{answer}");
        assert_eq!(parse(&answer.to_string()), Ok(vec![answer.clone()]));
        // The server can compress with them, statelessly and on a connection.
        let payload = b"Hello, Hello, Hello";
        if let Some(compressor) = StatelessCompressor::for_server(&agreed, 0) {
            let mut deflater = compressor.new_deflater();
            assert!(compressor.compress(&mut deflater, payload).is_some());
        }
        let mut conn = Connection::server(Limits::default()).with_deflate(agreed, 0);
        conn.send_message(&Message::Binary(payload.to_vec()));
        assert!(!conn.take_output().is_empty());
    }
    // The client's side: each element read as a response.
    for element in &offers {
        if let Ok(params) = accept_response(element) {
            check_params(&params);
            assert_eq!(accept_response(&params.to_extension()), Ok(params));
            let bits = params.compressor_window_bits(Role::Client);
            let mut deflater = Deflater::new(bits, params.client_no_context_takeover);
            let _ = deflater.compress(b"Hello");
        }
    }
});
