//! Fragmented Text messages through the whole state machine, checked against std.
//!
//! Properties: the message is delivered exactly when `std::str::from_utf8` accepts its bytes,
//! with the same text, however it is fragmented and however the bytes are cut; otherwise the
//! connection fails with 1007.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::frame::{encode_masked_frame, Opcode};
use wsmith::protocol::utf8::Utf8Validator;
use wsmith::protocol::{Connection, Event, Limits, Message, ProtocolError};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, text)) = data.split_first() else { return };
    let fragment_len = usize::from(seed % 7) + 1;
    let fragments: Vec<&[u8]> = if text.is_empty() { vec![text] } else { text.chunks(fragment_len).collect() };
    let mut stream = Vec::new();
    for (i, fragment) in fragments.iter().enumerate() {
        let opcode = if i == 0 { Opcode::Text } else { Opcode::Continuation };
        stream.extend(encode_masked_frame(opcode, i + 1 == fragments.len(), fragment, [seed, 1, 2, 3]));
    }
    let mut conn = Connection::server(Limits::default());
    for piece in stream.chunks(usize::from(seed % 5) + 1) {
        conn.receive_data(piece);
    }
    let event = conn.next_event();
    match std::str::from_utf8(text) {
        Ok(expected) => assert_eq!(event, Some(Event::Message(Message::Text(expected.to_owned())))),
        Err(_) => assert!(matches!(event, Some(Event::Failed { error: ProtocolError::InvalidUtf8, .. }))),
    }
    // The validator alone, in the same pieces, agrees with std too.
    let mut validator = Utf8Validator::new();
    let fed = fragments.iter().try_for_each(|f| validator.feed(f)).and_then(|()| validator.finish());
    assert_eq!(fed.is_ok(), std::str::from_utf8(text).is_ok());
});
