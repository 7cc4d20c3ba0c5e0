//! The OSDP frame decoder and the reply and command parsers on arbitrary bytes, fed in arbitrary
//! chunks: must never panic; every frame it yields must encode back to bytes that decode to the
//! same frame, and its code and data must parse (or fail) without panicking.
#![no_main]

use tally_osdp::frame::{Decoder, Frame};
use tally_osdp::message::{Command, Reply};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, as bytes arrive from a serial port in pieces.
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let mut decoder = Decoder::new();
    let mut frames: Vec<Frame> = Vec::new();
    for piece in bytes.chunks(usize::from(chunk).max(1)) {
        decoder.push(piece);
        while let Some(result) = decoder.next_frame() {
            if let Ok(frame) = result {
                frames.push(frame);
            }
        }
        let _ = decoder.take_skipped();
    }
    for frame in frames {
        let _ = Reply::parse(frame.code, &frame.data);
        let _ = Command::parse(frame.code, &frame.data);
        let encoded = frame.encode().expect("a decoded frame encodes");
        let mut again = Decoder::new();
        again.push(&encoded);
        assert_eq!(again.next_frame(), Some(Ok(frame)));
        assert_eq!(again.pending(), 0);
    }
    // The parsers alone, on the raw bytes.
    if let Some((&code, rest)) = bytes.split_first() {
        let _ = Reply::parse(code, rest);
        let _ = Command::parse(code, rest);
    }
});
