//! The fuzz targets' bodies (tests/fuzz) on seeded random mutations of a real export, so the ordinary
//! test run exercises every parser that reads outside input even where libFuzzer is not available.
//! A panic anywhere fails the test; the seed is printed to reproduce it.

use std::path::Path;

use crate::util::{mutate, tally_ok};

/// Bytes that matter in JSON lines and signed notes.
const TEXT_BYTES: &[u8] = b"{}[]\",:\n\\\x00\xff0-/+= ";

/// Builds a small real ledger and returns its export's files.
fn real_export(dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let data = dir.join("data");
    tally_ok(&data, &["ledger", "init"]);
    for text in ["Lane 2 jammed at 06:10", "Count in block C: 412", "rotation follows"] {
        tally_ok(&data, &["ledger", "note", "--author", "sgt.fuzz", text]);
    }
    tally_ok(&data, &["ledger", "rotate-key"]);
    tally_ok(&data, &["ledger", "note", "--author", "sgt.fuzz", "after rotation"]);
    let out = dir.join("export");
    tally_ok(&data, &["ledger", "export", "--out", out.to_str().expect("utf-8 path")]);
    let read = |n: &str| std::fs::read(out.join(n)).expect("export file");
    (read("checkpoint"), read("keys.vkey"), read("entries.jsonl"))
}

#[test]
fn export_reader_and_verifier_survive_mutated_exports() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (checkpoint, keys, entries) = real_export(dir.path());
    let join = |parts: &[&[u8]]| parts.join(&0u8);
    // The untouched export verifies through the fuzz body's own layout.
    tally::ledger::verify::verify(
        std::str::from_utf8(&checkpoint).expect("utf-8"),
        std::str::from_utf8(&keys).expect("utf-8"),
        entries.as_slice(),
        &Default::default(),
    )
    .expect("the real export verifies");
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7a11);
    eprintln!("fuzz seed {seed} (set FUZZ_SEED to change)");
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..4000 {
        let (mut c, mut k, mut e) = (checkpoint.clone(), keys.clone(), entries.clone());
        match rng.u8(0..4) {
            0 => mutate(&mut rng, TEXT_BYTES, &mut c),
            1 => mutate(&mut rng, TEXT_BYTES, &mut k),
            2 => mutate(&mut rng, TEXT_BYTES, &mut e),
            _ => {
                mutate(&mut rng, TEXT_BYTES, &mut c);
                mutate(&mut rng, TEXT_BYTES, &mut e);
            }
        }
        let previous = if rng.bool() { checkpoint.clone() } else { c.clone() };
        tally::ledger::verify::fuzz_body(&join(&[&c, &k, &e, &previous]));
        let text = String::from_utf8_lossy(&c);
        let _ = tally::ledger::entry::Entry::parse(&e[..e.len().min(600)]);
        let _ = tally::ledger::note::Verifier::parse(&String::from_utf8_lossy(&k));
        let _ = tally::ledger::note::open_checkpoint(&text, &[]);
    }
}

#[test]
fn image_decoding_and_extraction_survive_mutated_images_and_raw_frames() {
    use tally::fingerprint::synth::{ImpressionSettings, Master};
    let img = Master::generate(11, 0).impression(0, &ImpressionSettings::default());
    let mut pgm = format!("P5\n{} {}\n255\n", img.width, img.height).into_bytes();
    pgm.extend_from_slice(&img.pixels);
    // The untouched image extracts through the fuzz body's own path.
    let decoded = tally::fingerprint::image::GrayImage::decode(&pgm, None).expect("the PGM decodes");
    tally::fingerprint::extract::extract(&decoded).expect("the synthetic image extracts");
    // As a raw frame: two bytes of width, one of resolution (index 36: 250 + 36 × 7 = 502 dpi).
    let mut raw = (img.width as u16).to_le_bytes().to_vec();
    raw.push(36);
    raw.extend_from_slice(&img.pixels);
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x1a6e);
    let mut rng = fastrand::Rng::with_seed(seed);
    println!("FUZZ_SEED={seed}");
    for round in 0..24 {
        let mut bytes = if round % 2 == 0 { pgm.clone() } else { raw.clone() };
        // Header bytes matter most: mutate near the start more often than in the pixels.
        let keep = bytes.split_off(bytes.len().min(if round % 3 == 0 { bytes.len() } else { 24 }));
        crate::util::mutate(&mut rng, b"P5 0123456789\n\xff\x00", &mut bytes);
        bytes.extend_from_slice(&keep);
        tally::fingerprint::extract::fuzz_body(&bytes);
    }
}
