//! Fingerprint image files (PNG, TIFF, PGM, with our reading of their resolution) and raw reader frames,
//! decoded, rescaled to 500 dpi and extracted, on arbitrary input: must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tally::fingerprint::extract::fuzz_body(data);
});
