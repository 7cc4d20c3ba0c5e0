//! `tally fingerprint …` driven as a user (or an evaluation tool) would: compare-batch's exact interface
//! on the SecuGen ISO records beside the FVC2002 images, compare, extract and its formats, eval on a
//! small FVC-layout folder, and clear failures on missing or malformed input.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::util::{fvc, skip, tally_bin};

/// Runs `tally fingerprint ARGS…` with `stdin` as its standard input.
fn fingerprint(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(tally_bin())
        .arg("fingerprint")
        .args(args)
        .env("TALLY_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tally");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for tally")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "tally failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn scores(stdout: &str) -> Vec<f32> {
    stdout.lines().map(|l| l.trim().parse::<f32>().unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}

fn iso(fvc: &Path, db: &str, finger: u32, impression: u32) -> String {
    fvc.join(db).join(format!("{finger}_{impression}.iso")).display().to_string()
}

#[test]
fn compare_batch_scores_genuine_pairs_above_impostors_one_line_per_pair_in_order() {
    let Some(fvc) = fvc() else { return };
    let mut lines = Vec::new();
    let mut genuine = Vec::new();
    for db in ["DB1_B", "DB2_B", "DB4_B"] {
        for f in 101..=104 {
            genuine.push(lines.len());
            lines.push((iso(&fvc, db, f, 1), iso(&fvc, db, f, 2)));
            lines.push((iso(&fvc, db, f, 1), iso(&fvc, db, f + 1, 2)));
        }
    }
    // A repeated pair and a pair in the other order: same file, same score, in place.
    lines.push(lines[0].clone());
    lines.push((lines[0].1.clone(), lines[0].0.clone()));
    let input: String = lines.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let s = scores(&ok(&fingerprint(&["compare-batch"], &input)));
    assert_eq!(s.len(), lines.len());
    assert!(s.iter().all(|v| (0.0..=1.0).contains(v)), "{s:?}");
    let n = s.len();
    assert_eq!(s[n - 2], s[0]);
    assert!((s[n - 1] - s[0]).abs() < 0.03, "symmetry: {} vs {}", s[n - 1], s[0]);
    let g: Vec<f32> = genuine.iter().map(|&i| s[i]).collect();
    let imp: Vec<f32> = genuine.iter().map(|&i| s[i + 1]).collect();
    let (gmin, imax) = (g.iter().copied().fold(1.0, f32::min), imp.iter().copied().fold(0.0, f32::max));
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(mean(&g) > 3.0 * mean(&imp), "genuine {g:?}, impostor {imp:?}");
    // The pairs chosen are easy ones: every genuine score above every impostor score.
    assert!(gmin > imax, "genuine {g:?}, impostor {imp:?}");

    // `compare` prints the same score as the batch.
    let single = scores(&ok(&fingerprint(&["compare", &lines[0].0, &lines[0].1], "")));
    assert_eq!(single, vec![s[0]]);
}

#[test]
fn compare_batch_on_empty_input_prints_nothing() {
    assert_eq!(ok(&fingerprint(&["compare-batch"], "")), "");
}

#[test]
fn compare_batch_fails_clearly_on_a_missing_file_or_a_bad_line() {
    let Some(fvc) = fvc() else { return };
    let good = iso(&fvc, "DB1_B", 101, 1);
    let missing = fvc.join("DB1_B").join("999_9.iso").display().to_string();
    let out = fingerprint(&["compare-batch"], &format!("{good}\t{good}\n{good}\t{missing}\n"));
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing is printed before the failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("999_9.iso") && err.contains("No such file"), "{err}");

    let out = fingerprint(&["compare-batch"], &format!("{good} {good}\n"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("pathA<TAB>pathB"), "{err}");
}

#[test]
fn truncated_iso_records_are_refused_with_the_reason() {
    let Some(fvc) = fvc() else { return };
    let invalid = fvc.join("../iso-invalid");
    let Ok(entries) = std::fs::read_dir(&invalid) else {
        skip::<()>(&format!("no {}", invalid.display()));
        return;
    };
    let good = iso(&fvc, "DB1_B", 101, 1);
    for e in entries {
        let p = e.expect("entry").path().display().to_string();
        let out = fingerprint(&["compare", &good, &p], "");
        assert!(!out.status.success(), "{p} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&p) && err.contains("truncated"), "{p}: {err}");
    }
}

#[test]
fn extract_summarises_and_writes_every_format_that_compares_alike() {
    let Some(fvc) = fvc() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let src = iso(&fvc, "DB2_B", 103, 4);
    let summary = ok(&fingerprint(&["extract", &src], ""));
    assert!(summary.contains("minutiae: ") && summary.contains("size: 300×400"), "{summary}");
    let other = iso(&fvc, "DB2_B", 103, 5);
    let reference = scores(&ok(&fingerprint(&["compare", &src, &other], "")))[0];
    for (format, magic) in [("tally", &b"TFPT"[..]), ("iso", b"FMR\0"), ("ansi", b"FMR\0")] {
        let out = dir.path().join(format!("t.{format}"));
        let out_s = out.display().to_string();
        ok(&fingerprint(&["extract", &src, "-o", &out_s, "--format", format], ""));
        let bytes = std::fs::read(&out).expect("written");
        assert!(bytes.starts_with(magic), "{format}");
        let s = scores(&ok(&fingerprint(&["compare", &out_s, &other], "")))[0];
        // Whole-pixel (ISO/ANSI) and 2-degree (ANSI) rounding may move the score a little.
        assert!((s - reference).abs() < 0.05, "{format}: {s} against {reference}");
    }
    assert!(!dir.path().join("t.tally.tmp").exists());
}

#[test]
fn an_image_is_extracted_and_matches_its_own_template() {
    let Some(fvc) = fvc() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let tif = fvc.join("DB1_B/101_1.tif").display().to_string();
    let out = dir.path().join("101_1.tfpt").display().to_string();
    ok(&fingerprint(&["extract", &tif, "-o", &out], ""));
    let s = scores(&ok(&fingerprint(&["compare", &tif, &out], "")))[0];
    assert!(s > 0.9, "{s}");
    let other = fvc.join("DB1_B/101_2.tif").display().to_string();
    let impostor = fvc.join("DB1_B/102_1.tif").display().to_string();
    let input = format!("{tif}\t{other}\n{tif}\t{impostor}\n");
    let s = scores(&ok(&fingerprint(&["compare-batch"], &input)));
    assert!(s[0] > s[1], "{s:?}");
}

#[test]
fn eval_runs_the_protocol_on_a_small_folder() {
    let Some(fvc) = fvc() else { return };
    let root = tempfile::tempdir().expect("temp dir");
    for db in ["DB1_B", "DB4_B"] {
        std::fs::create_dir(root.path().join(db)).expect("mkdir");
        for f in 101..=104 {
            for i in 1..=3 {
                let name = format!("{f}_{i}.iso");
                std::fs::copy(fvc.join(db).join(&name), root.path().join(db).join(&name)).expect("copy");
            }
        }
    }
    let root_s = root.path().display().to_string();
    let out = ok(&fingerprint(&["eval", &root_s, "--ext", "iso", "--calibration-source"], ""));
    for want in [
        "DB1_B",
        "DB4_B",
        "mean",
        "EER",
        "Calibration on the 108 all-impostor pairs",
        "pub const CALIBRATION",
        "What the gate's operating point",
        "    200000       5.0e-9",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    let out = fingerprint(&["eval", &root_s], "");
    assert!(!out.status.success(), "no .tif files there");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly_not_with_a_panic() {
    // `tally … | head -1`: the reader closes the pipe before tally prints. `println!` would panic
    // ("failed printing to stdout"); a command ends quietly with 141, as a tool killed by SIGPIPE does.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("synth");
    let mut child = Command::new(tally_bin())
        .args(["fingerprint", "synth", "--fingers", "1", "--impressions", "1", "--out"])
        .arg(&out)
        .env("TALLY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tally");
    drop(child.stdout.take());
    let done = child.wait_with_output().expect("wait for tally");
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(std::fs::read_dir(&out).expect("the images were written").count() > 0);
}

#[test]
fn extract_reads_a_raw_frame_of_the_size_given_and_rescales_other_resolutions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let synth = dir.path().join("synth");
    let made = Command::new(tally_bin())
        .args(["fingerprint", "synth", "--fingers", "1", "--impressions", "1", "--seed", "3", "--out"])
        .arg(&synth)
        .output()
        .expect("run tally");
    ok(&made);
    let png = std::fs::read_dir(&synth).expect("images").next().expect("one image").expect("entry").path();
    let img = tally::fingerprint::image::GrayImage::decode(&std::fs::read(&png).expect("read png"), None)
        .expect("decode the synthetic image");
    let raw = dir.path().join("frame.raw");
    std::fs::write(&raw, &img.pixels).expect("write raw frame");
    let (png_s, raw_s) = (png.display().to_string(), raw.display().to_string());
    let size = format!("{}x{}", img.width, img.height);

    // The same pixels as a raw frame give the same minutiae as the PNG.
    let minutiae = |summary: &str| summary.lines().next().unwrap_or_default().to_string();
    let from_png = ok(&fingerprint(&["extract", &png_s], ""));
    let from_raw = ok(&fingerprint(&["extract", &raw_s, "--raw", &size], ""));
    assert_eq!(minutiae(&from_raw), minutiae(&from_png), "{from_raw}\n{from_png}");
    assert!(from_raw.contains(&format!("size: {}×{}", img.width, img.height)), "{from_raw}");

    // Said to be 1000 dpi, it is halved to 500 dpi before extraction.
    let halved = ok(&fingerprint(&["extract", &raw_s, "--raw", &size, "--dpi", "1000"], ""));
    assert!(halved.contains(&format!("size: {}×{}", img.width / 2, img.height / 2)), "{halved}");

    // A frame of another size, a malformed size, a resolution out of range: refused, saying why.
    let wrong = fingerprint(&["extract", &raw_s, "--raw", &format!("{}x{}", img.width + 1, img.height)], "");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success() && err.contains("needs") && err.contains("bytes"), "{err}");
    let malformed = fingerprint(&["extract", &raw_s, "--raw", "384by290"], "");
    let err = String::from_utf8_lossy(&malformed.stderr);
    assert!(!malformed.status.success() && err.contains("WIDTHxHEIGHT"), "{err}");
    let far = fingerprint(&["extract", &raw_s, "--raw", &size, "--dpi", "100"], "");
    assert!(!far.status.success(), "100 dpi was accepted");
    assert!(!String::from_utf8_lossy(&far.stderr).contains("panicked"));
}
