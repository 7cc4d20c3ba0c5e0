//! The GROW packet decoder on arbitrary bytes, fed in arbitrary chunks: must never panic, and every
//! packet it yields must encode back to bytes that decode to the same packet.
#![no_main]

use tally_grow::packet::{Decoder, Packet};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, as bytes arrive from a serial port in pieces.
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let mut decoder = Decoder::new();
    let mut packets: Vec<Packet> = Vec::new();
    for piece in bytes.chunks(usize::from(chunk).max(1)) {
        decoder.push(piece);
        while let Some(result) = decoder.next_packet() {
            if let Ok(packet) = result {
                packets.push(packet);
            }
        }
        let _ = decoder.take_skipped();
    }
    for packet in packets {
        let mut again = Decoder::new();
        again.push(&packet.encode());
        assert_eq!(again.next_packet(), Some(Ok(packet)));
        assert_eq!(again.pending(), 0);
    }
});
