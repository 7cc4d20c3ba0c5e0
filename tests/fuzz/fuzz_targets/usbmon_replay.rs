//! usbmon capture parsing (pcapng blocks, the usbmon header) and strict replay of whatever parses
//! against the U.are.U driver: must never panic or hang, whatever the file holds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tally_uru4000::fuzz_replay(data);
});
