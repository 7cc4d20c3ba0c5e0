//! `tally fingerprint eval DIR`: the FVC accuracy protocol of ../shared/data/README.md, run in process on
//! a folder of `DBn_B` databases (or on one database), with the calibration table operators choose a
//! threshold from.
//!
//! A database is a folder of `F_I.EXT` files, finger `F` and impression `I` both numbers (FVC2002 set B:
//! `101_1.tif` … `110_8.tif`). The protocol compares
//! - genuine pairs: every two impressions of the same finger;
//! - FVC impostor pairs: the first impression of every two different fingers;
//! - all-impostor pairs: every impression of a finger with every impression of every other finger;
//!
//! and reports the EER and the FNMR at FMR 1%, 0.1% and 0 for both impostor sets, per database and as
//! the mean, with load (extraction) times and comparisons per second per core. The calibration table is
//! measured on all databases' all-impostor pairs together.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::fingerprint::{load, par_map};
use tally::fingerprint::matcher::calibration::{Accuracy, accuracy, fit_tail_decade, threshold_for_fmr};
use tally::fingerprint::matcher::{PreparedTemplate, compare_prepared};
use tally::gate::operating_point::OperatingPoint;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A folder of DBn_B databases, or one database.
    dir: PathBuf,
    /// Extension of the files to use: tif (images) or iso (templates), or any other the loader reads.
    #[arg(long, default_value = "tif")]
    ext: String,
    /// Also print the calibration table as Rust source for `matcher::calibration::CALIBRATION`.
    #[arg(long)]
    calibration_source: bool,
}

/// FMR levels at which the calibration table gives a threshold.
const FMR_LEVELS: &[f64] = &[0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001];

/// One database's files: `files[f][i]` is impression `i` of finger `f`, both in numeric order.
struct Database {
    name: String,
    files: Vec<Vec<PathBuf>>,
}

/// One database's results.
struct Outcome {
    name: String,
    fvc: Accuracy,
    all: Accuracy,
    genuine: Vec<f32>,
    impostor: Vec<f32>,
    load: Vec<Duration>,
    comparisons: usize,
    compare_time: Duration,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    if args.ext.is_empty() || !args.ext.chars().all(|c| c.is_ascii_alphanumeric()) {
        anyhow::bail!("--ext must be a file extension such as tif or iso, got {:?}", args.ext);
    }
    let dbs = databases(&args.dir, &args.ext)?;
    let files: usize = dbs.iter().map(|d| d.files.iter().map(Vec::len).sum::<usize>()).sum();
    let comparisons: usize = dbs.iter().map(|d| protocol(d).0.len() + protocol(d).1.len()).sum();
    let bar = ProgressBar::new((files + comparisons) as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut outcomes = Vec::new();
    for db in &dbs {
        bar.set_message(db.name.clone());
        outcomes.push(evaluate(db, &bar)?);
    }
    bar.finish_and_clear();
    report(&args.dir, &args.ext, &outcomes, args.calibration_source);
    Ok(())
}

/// The databases under `dir`: its `DB*` subfolders holding `F_I.EXT` files, or `dir` itself.
fn databases(dir: &Path, ext: &str) -> anyhow::Result<Vec<Database>> {
    let entries = |d: &Path| -> anyhow::Result<Vec<PathBuf>> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(d).with_context(|| format!("reading the folder {}", d.display()))? {
            v.push(e.with_context(|| format!("reading the folder {}", d.display()))?.path());
        }
        v.sort();
        Ok(v)
    };
    let mut dbs = Vec::new();
    for p in entries(dir)? {
        let is_db = p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("DB"));
        if is_db && let Some(db) = database(&p, ext, &entries(&p)?) {
            dbs.push(db);
        }
    }
    if dbs.is_empty()
        && let Some(db) = database(dir, ext, &entries(dir)?)
    {
        dbs.push(db);
    }
    if dbs.is_empty() {
        anyhow::bail!(
            "no database in {}: expected DB* folders (or the folder itself) holding F_I.{ext} files, at least 2 fingers × 2 impressions",
            dir.display()
        );
    }
    Ok(dbs)
}

fn database(dir: &Path, ext: &str, entries: &[PathBuf]) -> Option<Database> {
    let mut found: std::collections::BTreeMap<u32, std::collections::BTreeMap<u32, PathBuf>> = Default::default();
    for p in entries {
        if p.extension().and_then(|e| e.to_str()) != Some(ext) {
            continue;
        }
        let Some((f, i)) = p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.split_once('_')) else { continue };
        if let (Ok(f), Ok(i)) = (f.parse::<u32>(), i.parse::<u32>()) {
            found.entry(f).or_default().insert(i, p.clone());
        }
    }
    let files: Vec<Vec<PathBuf>> =
        found.into_values().map(|m| m.into_values().collect::<Vec<_>>()).filter(|v| v.len() >= 2).collect();
    let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    (files.len() >= 2).then_some(Database { name, files })
}

/// An impression: (finger, impression), both 0-based.
type Key = (usize, usize);
/// Two impressions to compare.
type Comparison = (Key, Key);

/// The protocol's comparisons: genuine pairs, then all impostor pairs. The FVC impostors are the
/// all-impostor pairs between first impressions.
fn protocol(db: &Database) -> (Vec<Comparison>, Vec<Comparison>) {
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    for (f, imps) in db.files.iter().enumerate() {
        for a in 0..imps.len() {
            for b in (a + 1)..imps.len() {
                genuine.push(((f, a), (f, b)));
            }
        }
        for (g, other) in db.files.iter().enumerate().skip(f + 1) {
            for a in 0..imps.len() {
                for b in 0..other.len() {
                    impostor.push(((f, a), (g, b)));
                }
            }
        }
    }
    (genuine, impostor)
}

fn evaluate(db: &Database, bar: &ProgressBar) -> anyhow::Result<Outcome> {
    let flat: Vec<(Key, &PathBuf)> =
        db.files.iter().enumerate().flat_map(|(f, v)| v.iter().enumerate().map(move |(i, p)| ((f, i), p))).collect();
    let loaded = par_map(
        &flat,
        |(_, p)| {
            let t0 = Instant::now();
            let t = load(p)?;
            let took = t0.elapsed();
            Ok::<_, anyhow::Error>((PreparedTemplate::new(&t), took))
        },
        || bar.inc(1),
    );
    let mut prepared: std::collections::HashMap<Key, PreparedTemplate> = Default::default();
    let mut load_times = Vec::new();
    for ((key, _), r) in flat.iter().zip(loaded) {
        let (p, took) = r?;
        prepared.insert(*key, p);
        load_times.push(took);
    }
    let (genuine, impostor) = protocol(db);
    let all: Vec<Comparison> = genuine.iter().chain(&impostor).copied().collect();
    let chunks: Vec<&[Comparison]> = all.chunks(64).collect();
    let timed = par_map(
        &chunks,
        |c| {
            let t0 = Instant::now();
            let s: Vec<f32> = c.iter().map(|(a, b)| compare_prepared(&prepared[a], &prepared[b])).collect();
            (s, t0.elapsed())
        },
        || (),
    );
    bar.inc(all.len() as u64);
    let compare_time = timed.iter().map(|t| t.1).sum();
    let scores: Vec<f32> = timed.into_iter().flat_map(|t| t.0).collect();
    let (g, i) = scores.split_at(genuine.len());
    let fvc: Vec<f32> = impostor.iter().zip(i).filter(|(p, _)| p.0.1 == 0 && p.1.1 == 0).map(|(_, &s)| s).collect();
    Ok(Outcome {
        name: db.name.clone(),
        fvc: accuracy(g, &fvc),
        all: accuracy(g, i),
        genuine: g.to_vec(),
        impostor: i.to_vec(),
        load: load_times,
        comparisons: all.len(),
        compare_time,
    })
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s.get(((s.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default()
}

fn report(dir: &Path, ext: &str, outcomes: &[Outcome], source: bool) {
    outln!("tally fingerprint eval: {} (*.{ext}), {} database(s)", dir.display(), outcomes.len());
    outln!();
    outln!(
        "{:<8} | {:>8} {:>8} {:>9} {:>8} | {:>8} {:>8} {:>9} {:>8} | {:>14} {:>11}",
        "",
        "FVC imp.",
        "",
        "",
        "",
        "all imp.",
        "",
        "",
        "",
        "load ms",
        "comparisons"
    );
    outln!(
        "{:<8} | {:>8} {:>8} {:>9} {:>8} | {:>8} {:>8} {:>9} {:>8} | {:>14} {:>11}",
        "database",
        "EER",
        "FMR1%",
        "FMR0.1%",
        "FMR0",
        "EER",
        "FMR1%",
        "FMR0.1%",
        "FMR0",
        "median / p95",
        "per s, core"
    );
    let row = |a: &Accuracy| {
        format!(
            "{:>8} {:>8} {:>9} {:>8}",
            pct(a.eer),
            pct(a.fnmr_at_fmr_1e2),
            pct(a.fnmr_at_fmr_1e3),
            pct(a.fnmr_at_fmr_0)
        )
    };
    let rate = |o: &Outcome| o.comparisons as f64 / o.compare_time.as_secs_f64().max(1e-9);
    for o in outcomes {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        outln!(
            "{:<8} | {} | {} | {:>6.1} / {:>5.1} {:>11.0}",
            o.name,
            row(&o.fvc),
            row(&o.all),
            ms(quantile(&o.load, 0.5)),
            ms(quantile(&o.load, 0.95)),
            rate(o)
        );
    }
    let n = outcomes.len() as f64;
    let mean = |f: &dyn Fn(&Outcome) -> Accuracy| Accuracy {
        eer: outcomes.iter().map(|o| f(o).eer).sum::<f64>() / n,
        fnmr_at_fmr_1e2: outcomes.iter().map(|o| f(o).fnmr_at_fmr_1e2).sum::<f64>() / n,
        fnmr_at_fmr_1e3: outcomes.iter().map(|o| f(o).fnmr_at_fmr_1e3).sum::<f64>() / n,
        fnmr_at_fmr_0: outcomes.iter().map(|o| f(o).fnmr_at_fmr_0).sum::<f64>() / n,
    };
    let loads: Vec<Duration> = outcomes.iter().flat_map(|o| o.load.iter().copied()).collect();
    let total_cmp: usize = outcomes.iter().map(|o| o.comparisons).sum();
    let total_time: f64 = outcomes.iter().map(|o| o.compare_time.as_secs_f64()).sum();
    outln!(
        "{:<8} | {} | {} | {:>6.1} / {:>5.1} {:>11.0}",
        "mean",
        row(&mean(&|o| o.fvc)),
        row(&mean(&|o| o.all)),
        quantile(&loads, 0.5).as_secs_f64() * 1e3,
        quantile(&loads, 0.95).as_secs_f64() * 1e3,
        total_cmp as f64 / total_time.max(1e-9)
    );
    outln!(
        "(FMRx: FNMR at that FMR. Load: reading, decoding and extracting one file. Comparisons on prepared templates.)"
    );

    let impostor: Vec<f32> = outcomes.iter().flat_map(|o| o.impostor.iter().copied()).collect();
    outln!();
    outln!("Calibration on the {} all-impostor pairs: choose the threshold by the FMR you accept.", impostor.len());
    outln!("{:>10} {:>12} {:>10}", "FMR asked", "threshold", "FMR there");
    let mut table = Vec::new();
    for &level in FMR_LEVELS {
        if level * (impostor.len() as f64) < 1.0 {
            continue;
        }
        let (t, f) = threshold_for_fmr(&impostor, level);
        outln!("{:>10} {:>12} {:>10}", format!("{}%", level * 100.0), t, format!("{:.4}%", f * 100.0));
        table.push((t, f));
    }
    let top = impostor.iter().copied().fold(0.0f32, f32::max);
    // Thresholds print in full (the shortest text that reads back as the same f32), so that the
    // table's scores are exactly those measured.
    let zero = top.next_up();
    outln!("{:>10} {:>12} {:>10}   (any threshold above the highest impostor score, {top})", "0", zero, "0%");
    let one_percent = table.iter().find(|&&(_, f)| f <= 0.01).map(|&(t, _)| t);
    let tail = one_percent.and_then(|from| fit_tail_decade(&impostor, from));
    match tail {
        Some((decade, k)) => outln!(
            "Beyond the highest impostor score: FMR falls tenfold every {decade:.4} of score (exponential tail of the {k} scores above the 1% point, upper 95% bound)."
        ),
        None => outln!("Too few impostor scores above the 1% point to fit the tail."),
    }
    outln!();
    let op = OperatingPoint::default();
    outln!(
        "What the gate's operating point (at most {} false identification per touch, this build's calibration) costs genuine touches:",
        op.max_fpir
    );
    outln!("{:>10} {:>12} {:>10} {:>16}", "templates", "FMR each", "threshold", "FNMR (mean)");
    for n in [100, 1_000, 10_000, 100_000, 200_000] {
        let t = op.threshold(n);
        let fnmr = outcomes
            .iter()
            .map(|o| o.genuine.iter().filter(|&&s| s < t).count() as f64 / o.genuine.len().max(1) as f64)
            .sum::<f64>()
            / outcomes.len().max(1) as f64;
        outln!("{n:>10} {:>12} {t:>10.4} {:>16}", format!("{:.1e}", op.max_fmr(n)), pct(fnmr));
    }
    if source {
        outln!();
        outln!("pub const CALIBRATION: &[(f32, f64)] = &[");
        let mut last = f32::NEG_INFINITY;
        for (t, f) in table {
            if t > last {
                outln!("    ({t}, {f:.4e}),");
                last = t;
            }
        }
        outln!("];");
        if let Some((decade, _)) = tail {
            outln!("pub const TAIL_DECADE: f32 = {decade:.4};");
        }
    }
}
