//! An off-site copy's people bundle (the plaintext inside people.age, as a restore reads it) on
//! arbitrary input: must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tally::offsite::bundle::fuzz_body(data);
});
