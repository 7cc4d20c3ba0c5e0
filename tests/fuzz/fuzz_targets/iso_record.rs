//! ISO 19794-2 / ANSI 378 record parsing and the internal template decoding on arbitrary input: must
//! never panic, and whatever parses must write back into records that parse again.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tally::fingerprint::iso::fuzz_body(data);
});
