//! `tally people import`'s reading of a registry's CSV export and its checks of each row on arbitrary
//! input: must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tally::people::import::fuzz_body(data);
});
