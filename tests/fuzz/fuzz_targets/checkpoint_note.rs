//! Signed-note and verifier-key parsing on arbitrary input: must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tally::ledger::note::Verifier::parse(text);
        let key = tally::ledger::note::Verifier::parse(
            "makala/gate-1+7391540f+AZ6Tyz/WG0flqc59yp6JHXOo2rWTYKzd8v++Ec4Yytjz",
        );
        let keys: Vec<_> = key.into_iter().collect();
        let _ = tally::ledger::note::open_checkpoint(text, &keys);
    }
});
