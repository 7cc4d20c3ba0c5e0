//! An off-site copy's MANIFEST, as a restore reads it, on arbitrary input: must never panic, and what
//! parses prints back to the same manifest.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tally::offsite::manifest::fuzz_body(data);
});
