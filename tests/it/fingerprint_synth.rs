//! Synthetic fingerprints end to end: `tally fingerprint synth` writes an FVC-layout folder of PNGs
//! that `tally fingerprint eval` runs on, refuses bad arguments clearly, and (ignored, a measurement
//! for the docs of `tally::fingerprint::synth`) the template generator's impostor scores beside real
//! FVC2002 impostor scores.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use tally::fingerprint::matcher::{PreparedTemplate, compare_prepared};
use tally::fingerprint::synth::templates;
use tally::fingerprint::template::Template;

use crate::util::{skip, tally_bin};

/// Runs `tally fingerprint ARGS…`.
fn fingerprint(args: &[&str]) -> Output {
    Command::new(tally_bin()).arg("fingerprint").args(args).env("TALLY_LOG", "warn").output().expect("run tally")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "tally failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn synth_writes_an_fvc_folder_that_eval_runs_on() {
    let root = tempfile::tempdir().expect("temp dir");
    let out = root.path().join("set");
    let out_s = out.display().to_string();
    let said =
        ok(&fingerprint(&["synth", "--fingers", "2", "--impressions", "3", "--fvc", "--seed", "7", "--out", &out_s]));
    assert!(said.contains("wrote 6 images"), "{said}");
    let mut names: Vec<String> = std::fs::read_dir(out.join("DB1_B"))
        .expect("DB1_B written")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["101_1.png", "101_2.png", "101_3.png", "102_1.png", "102_2.png", "102_3.png"]);
    assert_eq!(std::fs::read_dir(&out).expect("read").count(), 1, "only DB1_B");
    for name in &names {
        let bytes = std::fs::read(out.join("DB1_B").join(name)).expect("read png");
        // The pHYs chunk says 500 dpi: the hint (300) is not used.
        let img = tally::fingerprint::image::GrayImage::decode(&bytes, Some(300)).expect("decodes");
        assert_eq!((img.width, img.height, img.dpi), (300, 400, 500), "{name}");
    }
    let table = ok(&fingerprint(&["eval", &out_s, "--ext", "png"]));
    for want in ["DB1_B", "mean", "EER", "FMR0.1%", "Calibration on the 9 all-impostor pairs"] {
        assert!(table.contains(want), "{want:?} missing from:\n{table}");
    }
}

#[test]
fn synth_is_reproducible_from_its_seed() {
    let root = tempfile::tempdir().expect("temp dir");
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    for dir in [&a, &b] {
        let d = dir.display().to_string();
        ok(&fingerprint(&["synth", "--fingers", "1", "--impressions", "1", "--seed", "3", "--out", &d]));
    }
    let read = |d: &Path| std::fs::read(d.join("1_1.png")).expect("1_1.png written");
    assert_eq!(read(&a), read(&b));
}

#[test]
fn synth_refuses_bad_arguments_clearly() {
    let root = tempfile::tempdir().expect("temp dir");
    let out = root.path().join("x").display().to_string();
    for (args, want) in [
        (vec!["--fingers", "0"], "--fingers must be from 1"),
        (vec!["--impressions", "0"], "--impressions must be from 1"),
        (vec!["--variability", "9"], "--variability must be from 0"),
        (vec!["--fingers", "many"], "invalid value"),
    ] {
        let mut all = vec!["synth", "--out", &out];
        all.extend(args.iter().copied());
        let o = fingerprint(&all);
        assert!(!o.status.success(), "{all:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{all:?}: {err}");
    }
    assert!(!root.path().join("x").exists(), "nothing written on refusal");
    std::fs::write(root.path().join("taken"), b"").expect("write");
    let o = fingerprint(&["synth", "--out", &root.path().display().to_string()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
}

/// The score quantiles the docs quote: 50%, 90%, 99%, 99.9% and the maximum.
fn quantiles(mut v: Vec<f32>) -> String {
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f32::NAN);
    format!(
        "{:>8} pairs: 50% {:.4}  90% {:.4}  99% {:.4}  99.9% {:.4}  max {:.4}",
        v.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        at(1.0)
    )
}

/// Nearest-neighbour distance quantiles (25%, 50%, 75%), the share of nearest neighbours pointing
/// the opposite way (more than 90° apart), and the median distance to the minutiae's centroid.
fn structure<'a>(ts: impl Iterator<Item = &'a Template>) -> String {
    let (mut nn, mut opposite, mut radius) = (Vec::new(), 0usize, Vec::new());
    for t in ts {
        let n = t.minutiae.len().max(1) as f32;
        let (cx, cy) =
            (t.minutiae.iter().map(|m| m.x).sum::<f32>() / n, t.minutiae.iter().map(|m| m.y).sum::<f32>() / n);
        for (i, a) in t.minutiae.iter().enumerate() {
            radius.push((a.x - cx).hypot(a.y - cy));
            let near = t
                .minutiae
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .min_by(|x, y| (x.1.x - a.x).hypot(x.1.y - a.y).total_cmp(&(y.1.x - a.x).hypot(y.1.y - a.y)));
            if let Some((_, b)) = near {
                nn.push((b.x - a.x).hypot(b.y - a.y));
                let d = (a.angle - b.angle).rem_euclid(std::f32::consts::TAU);
                opposite += usize::from(d.min(std::f32::consts::TAU - d) > std::f32::consts::FRAC_PI_2);
            }
        }
    }
    let share = opposite as f32 / nn.len().max(1) as f32;
    nn.sort_by(f32::total_cmp);
    radius.sort_by(f32::total_cmp);
    let q = |v: &[f32], p: f64| v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f32::NAN);
    format!(
        "nearest neighbour 25/50/75%: {:.1} {:.1} {:.1} px, opposite {:.2}; median radius {:.0} px",
        q(&nn, 0.25),
        q(&nn, 0.5),
        q(&nn, 0.75),
        share,
        q(&radius, 0.5)
    )
}

/// The FVC2002 set B templates, per database and finger: ISO records, or our extraction of the images.
fn real_templates(fvc: &Path, ext: &str) -> Vec<Vec<Vec<Template>>> {
    let mut dbs = Vec::new();
    for db in ["DB1_B", "DB2_B", "DB3_B", "DB4_B"] {
        let mut fingers = Vec::new();
        for f in 101..=110 {
            let mut imps = Vec::new();
            for i in 1..=8 {
                let bytes = std::fs::read(fvc.join(db).join(format!("{f}_{i}.{ext}"))).expect("read FVC2002 file");
                let t = if ext == "iso" {
                    tally::fingerprint::iso::parse_record(&bytes).expect("ISO record")
                } else {
                    let img = tally::fingerprint::image::GrayImage::decode(&bytes, None).expect("image").to_500dpi();
                    tally::fingerprint::extract::extract(&img).expect("extract")
                };
                imps.push(t);
            }
            fingers.push(imps);
        }
        dbs.push(fingers);
    }
    dbs
}

/// The measurement quoted in the docs of `tally::fingerprint::synth`. Run it with
/// `cargo test --release --test it fingerprint_synth::impostor_scores -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement (about a minute in release), not a check"]
fn impostor_scores_of_synthetic_and_real_templates() {
    let fvc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fvc2002");
    let t0 = Instant::now();
    let n = 100_000;
    let minutiae: usize = templates::Gallery::new(1).take(n).map(|t| t.minutiae.len()).sum();
    let took = t0.elapsed().as_secs_f64();
    println!(
        "template generator: {:.0} templates/s on one core ({} minutiae on average)",
        n as f64 / took,
        minutiae / n
    );

    let synth: Vec<PreparedTemplate> =
        templates::Gallery::new(7).take(450).map(|t| PreparedTemplate::new(&t)).collect();
    let mut ss = Vec::new();
    for (i, a) in synth.iter().enumerate() {
        for b in &synth[i + 1..] {
            ss.push(compare_prepared(a, b));
        }
    }
    println!("(b) synthetic vs synthetic  {}", quantiles(ss));
    let gallery: Vec<Template> = templates::Gallery::new(7).take(450).collect();
    println!("    synthetic structure: {}", structure(gallery.iter()));
    if !fvc.join("DB1_B").is_dir() {
        return skip(&format!("FVC2002 not found at {}: no comparison with real templates", fvc.display()))
            .unwrap_or(());
    }
    for ext in ["iso", "tif"] {
        let real = real_templates(&fvc, ext);
        let mut rr = Vec::new();
        let mut counts = Vec::new();
        for db in &real {
            let p: Vec<Vec<PreparedTemplate>> =
                db.iter().map(|f| f.iter().map(PreparedTemplate::new).collect()).collect();
            counts.extend(db.iter().flatten().map(|t| t.minutiae.len()));
            for (i, a) in p.iter().enumerate() {
                for b in &p[i + 1..] {
                    for x in a {
                        for y in b {
                            rr.push(compare_prepared(x, y));
                        }
                    }
                }
            }
        }
        counts.sort_unstable();
        println!("(a) real vs real, .{ext}      {}  (median {} minutiae)", quantiles(rr), counts[counts.len() / 2]);
        let mut sr = Vec::new();
        for t in real.iter().flatten().flatten() {
            let r = PreparedTemplate::new(t);
            for s in synth.iter().take(300) {
                sr.push(compare_prepared(&r, s));
            }
        }
        println!("(c) synthetic vs real, .{ext} {}", quantiles(sr));
        println!("    real structure, .{ext}: {}", structure(real.iter().flatten().flatten()));
    }
}
