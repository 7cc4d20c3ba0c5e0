//! `tally fingerprint bench-index` end to end on a small gallery (small enough for a debug build): the
//! FVC2002 fingers planted among synthetic distractors are identified, exhaustive matching runs beside the index, and `--json`
//! gives exactly the documented keys. (The figures at prison scale come from running it by hand with
//! `--gallery 100000`; see the note.)

use crate::util::{fvc, tally_bin};

#[test]
fn bench_index_reports_every_figure_as_json() {
    let Some(fvc) = fvc() else { return };
    let out = std::process::Command::new(tally_bin())
        .args(["fingerprint", "bench-index", "--gallery", "64", "--ext", "iso", "--json"])
        .args(["--shortlist", "8", "--exhaustive-probes", "8", "--synthetic-strangers", "50"])
        .arg("--fvc")
        .arg(&fvc)
        .output()
        .expect("run tally");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
    let mut want = vec![
        "gallery",
        "p50_ms",
        "p99_ms",
        "rank1",
        "rank1_exhaustive",
        "fpir",
        "fpir_synthetic",
        "load_s",
        "bytes_per_template",
    ];
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(v["gallery"], 64);
    // The vendor's templates of the planted fingers are found: most mated probes at rank 1, both
    // through the index and exhaustively, and no stranger above the operating threshold.
    let rank1 = v["rank1"].as_f64().expect("rank1");
    let exhaustive = v["rank1_exhaustive"].as_f64().expect("rank1_exhaustive");
    assert!(rank1 > 0.8 && exhaustive > 0.8, "{v}");
    assert!(v["fpir"].as_f64().expect("fpir") <= 0.05, "{v}");
    assert!(v["fpir_synthetic"].as_f64().expect("fpir_synthetic") <= 0.05, "{v}");
    // (Per-template memory at scale is a unit test's business: at 64 templates the empty buckets
    // dominate.)
    assert!(v["bytes_per_template"].as_f64().expect("bytes") > 0.0, "{v}");
    assert!(v["p99_ms"].as_f64().expect("p99") >= v["p50_ms"].as_f64().expect("p50"), "{v}");
}

#[test]
fn bench_index_refuses_a_gallery_too_small_and_a_missing_folder() {
    let out = std::process::Command::new(tally_bin())
        .args(["fingerprint", "bench-index", "--gallery", "10"])
        .output()
        .expect("run tally");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"));
    let out = std::process::Command::new(tally_bin())
        .args(["fingerprint", "bench-index", "--gallery", "100", "--fvc", "/nonexistent/fvc"])
        .output()
        .expect("run tally");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fvc is missing"));
}
