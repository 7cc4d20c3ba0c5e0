//! The export reader and verifier on arbitrary input: must never panic, whatever the files hold.
//! Input layout: checkpoint text, 0x00, keys.vkey text, 0x00, entries.jsonl bytes, 0x00, previous checkpoint.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tally::ledger::verify::fuzz_body(data);
});
