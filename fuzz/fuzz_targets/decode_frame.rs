//! The server's state machine fed arbitrary bytes in arbitrary chunkings.
//!
//! Properties: no panic; the events and output do not depend on how the bytes were cut;
//! no message is larger than the limit; every decoded header encodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmith::protocol::frame::decode_header;
use wsmith::protocol::{Connection, Event, Limits};

const LIMITS: Limits = Limits { max_frame_size: 4096, max_message_size: 8192, max_fragments: 64 };

fn run(chunks: &[&[u8]]) -> (Vec<Event>, Vec<u8>) {
    let mut conn = Connection::server(LIMITS);
    let mut output = Vec::new();
    for chunk in chunks {
        conn.receive_data(chunk);
        output.extend(conn.take_output());
    }
    (std::iter::from_fn(|| conn.next_event()).collect(), output)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else { return };
    let whole = run(&[stream]);
    // Cut the same bytes into pieces of 1..=seed bytes.
    let step = usize::from(seed % 17) + 1;
    let pieces: Vec<&[u8]> = stream.chunks(step).collect();
    assert_eq!(run(&pieces), whole, "chunking changed the result");
    for event in &whole.0 {
        if let Event::Message(message) = event {
            assert!(message.as_bytes().len() as u64 <= LIMITS.max_message_size);
        }
    }
    if let Ok(Some((header, _))) = decode_header(stream) {
        let encoded = header.encode();
        assert_eq!(decode_header(encoded.as_slice()), Ok(Some((header, encoded.as_slice().len()))));
    }
});
