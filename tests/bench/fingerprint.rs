//! Speed of tally's fingerprint engine side by side with NIST NBIS (mindtct + bozorth3), on the
//! FVC2002 set B images in `../shared/data/fvc2002`, in one process on one core.
//!
//! ```text
//! cargo bench --features nbis-bench --bench fingerprint
//! ```
//!
//! It owns the measurement only: the extractor and the matcher are the product's, and NBIS comes from
//! the `nbis-rs` crate, which the `nbis-bench` feature pulls in for this benchmark alone (nothing in
//! `src/` may use it). What it measures:
//!
//! 1. **Extraction**: for every image, from the same TIFF bytes in memory to minutiae. Ours is
//!    `GrayImage::decode` + `to_500dpi` + `extract::extract`; NBIS is `nbis::extract_minutiae`, which
//!    decodes with the `image` crate and runs mindtct (LFS v2). Decoding is a fraction of a
//!    millisecond, so both sides pay it alike; our extraction alone is printed too. Each image is
//!    timed over several rounds, ours and NBIS back to back in alternating order, so that machine
//!    noise hits both alike; an image's time is its median over the rounds, and the table gives the
//!    median and 95th percentile over images. Failed extractions are counted, never fatal.
//! 2. **Comparisons per second** with templates already extracted and decoded: ours on
//!    `PreparedTemplate`s through `compare_prepared`, NBIS through `Minutiae::compare` (bozorth3; the
//!    crate converts to NIST's x-y-θ layout on each call, a few microseconds against bozorth's
//!    hundreds). Per database, the protocol's genuine pairs (280) and all-impostor pairs (2,880) are
//!    timed apart, since bozorth3 costs several times more on a genuine pair than on an impostor one;
//!    only images both extractors handled take part. The two sides run in alternating slices of about
//!    equal wall time, each for at least `TALLY_BENCH_SECONDS` (default 1) and one whole pass per set.
//!
//! The process pins itself to one CPU, so "one core" holds even if a library spawned threads.
//! Knobs: `TALLY_BENCH_ROUNDS` (extraction rounds, default 3), `TALLY_BENCH_SECONDS`,
//! `TALLY_FVC_DIR` (default `../shared/data/fvc2002` beside the project's root).

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tally::fingerprint::extract;
use tally::fingerprint::image::GrayImage;
use tally::fingerprint::matcher::{PreparedTemplate, compare_prepared};
use tally::fingerprint::template::Template;

#[path = "pin.rs"]
mod pin;
use pin::pin_to_one_core;

/// The four databases of FVC2002 set B.
const DATABASES: [&str; 4] = ["DB1_B", "DB2_B", "DB3_B", "DB4_B"];
/// Fingers per database, numbered 101…110 in the file names.
const FINGERS: u32 = 10;
/// Impressions per finger.
const IMPRESSIONS: u32 = 8;
/// Acceptance (issue 3): median extraction time per image.
const TARGET_EXTRACT_MS: f64 = 30.0;
/// Acceptance (issue 3): comparisons per second on one core.
const TARGET_COMPARISONS_PER_S: f64 = 20_000.0;
/// How to run this again.
const REPRODUCE: &str = "cargo bench --features nbis-bench --bench fingerprint";

/// One image of the set, as bytes in memory.
struct Sample {
    /// Index into [`DATABASES`].
    db: usize,
    /// Finger, 1…10.
    finger: u32,
    /// Impression, 1…8.
    impression: u32,
    /// The TIFF file's bytes.
    bytes: Vec<u8>,
}

/// What extraction gave for one image on both sides.
struct Extracted {
    /// Our template, `None` if our extractor failed.
    ours: Option<Template>,
    /// NBIS's minutiae, `None` if mindtct failed.
    nbis: Option<nbis::Minutiae>,
    /// Our decode + extract time in each round, ms.
    ours_ms: Vec<f64>,
    /// Our extract-only time in each round, ms.
    ours_extract_ms: Vec<f64>,
    /// NBIS decode + mindtct time in each round, ms.
    nbis_ms: Vec<f64>,
}

fn main() {
    let dir = std::env::var_os("TALLY_FVC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fvc2002"));
    let rounds = env_number("TALLY_BENCH_ROUNDS", 3.0).max(1.0) as usize;
    let seconds = env_number("TALLY_BENCH_SECONDS", 1.0).max(0.01);

    let samples = match load(&dir) {
        Ok(s) => s,
        Err(why) => {
            println!("fingerprint bench skipped: {why}");
            println!("It needs the FVC2002 set B images (see ../shared/data/README.md); then run: {REPRODUCE}");
            return;
        }
    };
    let core = pin_to_one_core();

    eprintln!("extraction: {} images × {rounds} rounds, ours and NBIS interleaved…", samples.len());
    let extracted = extract_all(&samples, rounds);

    eprintln!("comparisons: ≥ {seconds} s per side per database, interleaved…");
    let speeds: Vec<Speed> = (0..DATABASES.len()).map(|db| compare_db(db, &samples, &extracted, seconds)).collect();

    report(&samples, &extracted, &speeds, rounds, seconds, core);
}

/// Reads every `1FF_I.tif` of the four databases; an error says what is missing.
fn load(dir: &Path) -> Result<Vec<Sample>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is missing", dir.display()));
    }
    let mut samples = Vec::new();
    let mut missing = Vec::new();
    for (db, name) in DATABASES.iter().enumerate() {
        for finger in 1..=FINGERS {
            for impression in 1..=IMPRESSIONS {
                let path = dir.join(name).join(format!("1{finger:02}_{impression}.tif"));
                match std::fs::read(&path) {
                    Ok(bytes) => samples.push(Sample { db, finger, impression, bytes }),
                    Err(_) => missing.push(path),
                }
            }
        }
    }
    if samples.is_empty() {
        return Err(format!("no FVC2002 image found under {}", dir.display()));
    }
    if let Some(first) = missing.first() {
        eprintln!("warning: {} images missing (first: {}); measuring the rest", missing.len(), first.display());
    }
    Ok(samples)
}

/// Our side of one extraction: decode + rescale + extract. Returns the template (or `None` on any
/// failure, panics included) and the times (total, extract only) in ms.
fn ours_once(bytes: &[u8]) -> (Option<Template>, f64, f64) {
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let img = GrayImage::decode(bytes, None).ok()?.to_500dpi();
        let decoded = Instant::now();
        let template = extract::extract(&img).ok();
        Some((template, decoded.elapsed()))
    }));
    let total = ms(start.elapsed());
    match result {
        Ok(Some((template, extract_only))) => (template, total, ms(extract_only)),
        _ => (None, total, total),
    }
}

/// NBIS's side of one extraction: decode + mindtct. `None` on any failure, panics included.
fn nbis_once(bytes: &[u8]) -> (Option<nbis::Minutiae>, f64) {
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| nbis::extract_minutiae(bytes, Some(500.0)).ok()));
    (result.ok().flatten(), ms(start.elapsed()))
}

/// Extracts every image `rounds` times on both sides, interleaved image by image and alternating which
/// side goes first. Templates are kept from the first round (both extractors are deterministic).
fn extract_all(samples: &[Sample], rounds: usize) -> Vec<Extracted> {
    // Warm-up: caches, lazy statics, the allocator.
    for s in samples.iter().take(4) {
        black_box(ours_once(&s.bytes));
        black_box(nbis_once(&s.bytes));
    }
    let mut out: Vec<Extracted> = samples
        .iter()
        .map(|_| Extracted {
            ours: None,
            nbis: None,
            ours_ms: Vec::with_capacity(rounds),
            ours_extract_ms: Vec::with_capacity(rounds),
            nbis_ms: Vec::with_capacity(rounds),
        })
        .collect();
    for round in 0..rounds {
        for (i, (s, e)) in samples.iter().zip(out.iter_mut()).enumerate() {
            let ours_first = (i + round) % 2 == 0;
            let mut ours = None;
            let mut nbis = None;
            for side in [ours_first, !ours_first] {
                if side {
                    ours = Some(ours_once(&s.bytes));
                } else {
                    nbis = Some(nbis_once(&s.bytes));
                }
            }
            if let Some((template, total, extract_only)) = ours {
                e.ours_ms.push(total);
                e.ours_extract_ms.push(extract_only);
                if round == 0 {
                    e.ours = template;
                }
            }
            if let Some((minutiae, total)) = nbis {
                e.nbis_ms.push(total);
                if round == 0 {
                    e.nbis = minutiae;
                }
            }
        }
        eprintln!("  round {}/{rounds} done", round + 1);
    }
    out
}

/// Comparisons run and the time they took.
#[derive(Clone, Copy, Default)]
struct Run {
    count: u64,
    time: Duration,
}

impl Run {
    fn add(&mut self, other: Run) {
        self.count += other.count;
        self.time += other.time;
    }

    /// Comparisons per second; NaN when nothing ran.
    fn rate(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.count as f64 / self.time.as_secs_f64() }
    }
}

/// Comparison speed on one set of pairs.
#[derive(Clone, Copy, Default)]
struct Race {
    /// Pairs in the set (both sides compare the same pairs).
    pairs: usize,
    ours: Run,
    nbis: Run,
}

/// Comparison speed in one database.
struct Speed {
    /// Genuine pairs: every two impressions of a finger.
    genuine: Race,
    /// All-impostor pairs: every impression of a finger against every impression of every other.
    impostor: Race,
    /// Time to prepare one of our templates, µs (median).
    prepare_us: f64,
    /// Mean minutiae per template, ours and NBIS's (bozorth3 uses at most 200 of them).
    minutiae: (f64, f64),
}

/// Two images, as indices into the samples.
type Pair = (usize, usize);

/// The protocol's genuine and all-impostor pairs in database `db` (as indices into `samples`),
/// restricted to images both sides extracted.
fn pairs_of(db: usize, samples: &[Sample], extracted: &[Extracted]) -> (Vec<Pair>, Vec<Pair>) {
    let usable: Vec<(usize, u32, u32)> = samples
        .iter()
        .enumerate()
        .filter(|&(i, s)| s.db == db && extracted[i].ours.is_some() && extracted[i].nbis.is_some())
        .map(|(i, s)| (i, s.finger, s.impression))
        .collect();
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    for (k, &(a, finger_a, _)) in usable.iter().enumerate() {
        for &(b, finger_b, _) in &usable[k + 1..] {
            if finger_a == finger_b {
                genuine.push((a, b));
            } else {
                impostor.push((a, b));
            }
        }
    }
    (genuine, impostor)
}

/// Times comparisons in one database, genuine and impostor pairs apart.
fn compare_db(db: usize, samples: &[Sample], extracted: &[Extracted], seconds: f64) -> Speed {
    let (genuine, impostor) = pairs_of(db, samples, extracted);
    let mut prepared: Vec<Option<PreparedTemplate>> = vec![None; samples.len()];
    let mut prepare_us = Vec::new();
    for &(a, b) in genuine.iter().chain(&impostor) {
        for i in [a, b] {
            if prepared[i].is_none()
                && let Some(t) = &extracted[i].ours
            {
                let start = Instant::now();
                prepared[i] = Some(black_box(PreparedTemplate::new(t)));
                prepare_us.push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    let used: Vec<usize> = (0..samples.len()).filter(|&i| prepared[i].is_some()).collect();
    let mean = |count: &dyn Fn(usize) -> usize| used.iter().map(|&i| count(i) as f64).sum::<f64>() / used.len() as f64;
    let minutiae = (
        mean(&|i| extracted[i].ours.as_ref().map_or(0, |t| t.minutiae.len())),
        mean(&|i| extracted[i].nbis.as_ref().map_or(0, |m| m.get().len())),
    );
    let race_on = |pairs: &[Pair]| {
        let ours: Vec<(&PreparedTemplate, &PreparedTemplate)> =
            pairs.iter().filter_map(|&(a, b)| Some((prepared[a].as_ref()?, prepared[b].as_ref()?))).collect();
        let nbis: Vec<(&nbis::Minutiae, &nbis::Minutiae)> = pairs
            .iter()
            .filter_map(|&(a, b)| Some((extracted[a].nbis.as_ref()?, extracted[b].nbis.as_ref()?)))
            .collect();
        race(&ours, &nbis, seconds)
    };
    let speed = Speed {
        genuine: race_on(&genuine),
        impostor: race_on(&impostor),
        prepare_us: median(&mut prepare_us),
        minutiae,
    };
    eprintln!("  {} done", DATABASES[db]);
    speed
}

/// Comparisons per timed slice.
const SLICE: usize = 16;

/// Runs both sides over the same pairs, cycling through them a slice at a time: NBIS one slice, then
/// ours slices until it has used as much wall time as NBIS so far, so that both see the same stretch
/// of machine. Each side runs for at least `seconds` and at least one whole pass over the pairs.
fn race(
    ours: &[(&PreparedTemplate, &PreparedTemplate)],
    nbis: &[(&nbis::Minutiae, &nbis::Minutiae)],
    seconds: f64,
) -> Race {
    let mut result = Race { pairs: ours.len(), ..Race::default() };
    if ours.is_empty() || nbis.is_empty() {
        return result;
    }
    let ours_cmp = |&(a, b): &(&PreparedTemplate, &PreparedTemplate)| f64::from(compare_prepared(a, b));
    let nbis_cmp = |&(a, b): &(&nbis::Minutiae, &nbis::Minutiae)| f64::from(a.compare(b));
    let (mut ours_at, mut nbis_at) = (0, 0);
    // Warm-up: one slice each, not counted.
    slice(ours, &mut ours_at, ours_cmp);
    slice(nbis, &mut nbis_at, nbis_cmp);
    let target = Duration::from_secs_f64(seconds);
    let done = |run: &Run, pairs: usize| run.time >= target && run.count >= pairs as u64;
    while !done(&result.ours, ours.len()) || !done(&result.nbis, nbis.len()) {
        if !done(&result.nbis, nbis.len()) {
            result.nbis.add(slice(nbis, &mut nbis_at, nbis_cmp));
        }
        let nbis_done = done(&result.nbis, nbis.len());
        while if nbis_done { !done(&result.ours, ours.len()) } else { result.ours.time < result.nbis.time } {
            result.ours.add(slice(ours, &mut ours_at, ours_cmp));
        }
    }
    result
}

/// Compares the next [`SLICE`] pairs from `at` (wrapping around) and times them.
fn slice<T>(pairs: &[T], at: &mut usize, compare: impl Fn(&T) -> f64) -> Run {
    let start = Instant::now();
    let mut sum = 0.0;
    for _ in 0..SLICE {
        sum += compare(black_box(&pairs[*at]));
        *at = (*at + 1) % pairs.len();
    }
    let time = start.elapsed();
    black_box(sum);
    Run { count: SLICE as u64, time }
}

/// Extraction figures for a set of images.
struct ExtractRow {
    images: usize,
    ours_failed: usize,
    nbis_failed: usize,
    ours: (f64, f64),
    ours_extract: (f64, f64),
    nbis: (f64, f64),
}

/// Median and p95 over the images in `rows` that both sides extracted, of each image's median time.
fn extract_row<'a>(rows: impl Iterator<Item = &'a Extracted>) -> ExtractRow {
    let mut row = ExtractRow {
        images: 0,
        ours_failed: 0,
        nbis_failed: 0,
        ours: (f64::NAN, f64::NAN),
        ours_extract: (f64::NAN, f64::NAN),
        nbis: (f64::NAN, f64::NAN),
    };
    let (mut ours, mut ours_extract, mut nbis) = (Vec::new(), Vec::new(), Vec::new());
    for e in rows {
        row.images += 1;
        row.ours_failed += usize::from(e.ours.is_none());
        row.nbis_failed += usize::from(e.nbis.is_none());
        if e.ours.is_some() {
            ours.push(median(&mut e.ours_ms.clone()));
            ours_extract.push(median(&mut e.ours_extract_ms.clone()));
        }
        if e.nbis.is_some() {
            nbis.push(median(&mut e.nbis_ms.clone()));
        }
    }
    row.ours = (median(&mut ours), percentile(&mut ours, 0.95));
    row.ours_extract = (median(&mut ours_extract), percentile(&mut ours_extract, 0.95));
    row.nbis = (median(&mut nbis), percentile(&mut nbis, 0.95));
    row
}

/// Prints the results as Markdown.
fn report(
    samples: &[Sample],
    extracted: &[Extracted],
    speeds: &[Speed],
    rounds: usize,
    seconds: f64,
    core: Option<usize>,
) {
    println!();
    println!("## Fingerprint speed: tally vs NIST NBIS (FVC2002 set B)");
    println!();
    println!(
        "{} images; one process, {}; extraction {rounds} rounds per image, interleaved; comparisons ≥ {seconds} s per side per database. Reproduce: `{REPRODUCE}`",
        samples.len(),
        match core {
            Some(c) => format!("pinned to CPU {c}"),
            None => "NOT pinned to one CPU (sched_setaffinity failed)".to_string(),
        }
    );
    println!();
    println!("### Extraction, ms per image (TIFF bytes in memory → minutiae; per image the median of its rounds)");
    println!();
    println!(
        "| DB | images | ours failed | NBIS failed | ours median | ours p95 | ours median, extract only | NBIS median | NBIS p95 | ours/NBIS median | ours/NBIS p95 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<(String, ExtractRow)> = DATABASES
        .iter()
        .enumerate()
        .map(|(db, name)| {
            let row = extract_row(samples.iter().zip(extracted).filter(|(s, _)| s.db == db).map(|(_, e)| e));
            (name[..3].to_string(), row)
        })
        .collect();
    rows.push(("all".to_string(), extract_row(extracted.iter())));
    for (name, r) in &rows {
        println!(
            "| {name} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
            r.images,
            r.ours_failed,
            r.nbis_failed,
            r.ours.0,
            r.ours.1,
            r.ours_extract.0,
            r.nbis.0,
            r.nbis.1,
            r.ours.0 / r.nbis.0,
            r.ours.1 / r.nbis.1,
        );
    }
    let all = rows.last().map(|(_, r)| r);
    println!();
    if let Some(all) = all {
        println!(
            "Target: median ≤ {TARGET_EXTRACT_MS} ms → ours {:.1} ms: **{}**; no slower than NBIS → ours/NBIS {:.2} (NBIS {:.1} ms): **{}**",
            all.ours.0,
            verdict(all.ours.0 <= TARGET_EXTRACT_MS),
            all.ours.0 / all.nbis.0,
            all.nbis.0,
            verdict(all.ours.0 <= all.nbis.0)
        );
    }

    println!();
    println!("### Comparisons per second, one core (templates extracted and prepared beforehand)");
    println!();
    println!("| DB | pairs | count | ours cmp/s | NBIS cmp/s | ours/NBIS | ours µs/cmp | NBIS µs/cmp |");
    println!("|---|---|---|---|---|---|---|---|");
    let row = |db: &str, kind: &str, races: &[Race]| {
        let (pairs, ours, nbis) = mix(races);
        println!(
            "| {db} | {kind} | {pairs} | {ours:.0} | {nbis:.0} | {:.1} | {:.1} | {:.1} |",
            ours / nbis,
            1e6 / ours,
            1e6 / nbis
        );
        (ours, nbis)
    };
    for (db, s) in speeds.iter().enumerate() {
        let name = &DATABASES[db][..3];
        row(name, "genuine", &[s.genuine]);
        row(name, "impostor", &[s.impostor]);
        row(name, "all", &[s.genuine, s.impostor]);
    }
    let genuine: Vec<Race> = speeds.iter().map(|s| s.genuine).collect();
    let impostor: Vec<Race> = speeds.iter().map(|s| s.impostor).collect();
    let every: Vec<Race> = genuine.iter().chain(&impostor).copied().collect();
    let (genuine_ours, genuine_nbis) = row("all", "genuine", &genuine);
    row("all", "impostor", &impostor);
    let (ours, nbis) = row("all", "all", &every);
    println!();
    println!(
        "Rates over a set of pairs are pair-weighted (mean time per comparison over the set). Genuine: every two impressions of a finger; impostor: every impression against every impression of every other finger (the protocol's all-impostor pairs); only images both sides extracted."
    );
    println!();
    println!("| DB | ours: prepare µs per template (median) | minutiae per template, ours | NBIS |");
    println!("|---|---|---|---|");
    for (db, s) in speeds.iter().enumerate() {
        println!("| {} | {:.0} | {:.0} | {:.0} |", &DATABASES[db][..3], s.prepare_us, s.minutiae.0, s.minutiae.1);
    }
    println!();
    println!(
        "NBIS through nbis-rs 0.1.0: bozorth3 gets the 200 most reliable minutiae (the bozorth3 command's default is 150)."
    );
    println!();
    println!(
        "Target: ≥ {TARGET_COMPARISONS_PER_S:.0} comparisons/s on one core → all pairs, ours {ours:.0}/s: **{}**; no slower than NBIS → ours/NBIS {:.1} (NBIS {nbis:.0}/s): **{}**. Genuine pairs alone: ours {genuine_ours:.0}/s ({}), NBIS {genuine_nbis:.0}/s.",
        verdict(ours >= TARGET_COMPARISONS_PER_S),
        ours / nbis,
        verdict(ours >= nbis),
        verdict(genuine_ours >= TARGET_COMPARISONS_PER_S)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Pairs, and our and NBIS's comparisons per second over the union of `races`' pair sets, each pair
/// weighing the same: the inverse of the mean time per comparison.
fn mix(races: &[Race]) -> (usize, f64, f64) {
    let pairs: usize = races.iter().map(|r| r.pairs).sum();
    let seconds = |run: fn(&Race) -> Run| {
        races.iter().filter(|r| r.pairs > 0).map(|r| r.pairs as f64 / run(r).rate()).sum::<f64>()
    };
    (pairs, pairs as f64 / seconds(|r| r.ours), pairs as f64 / seconds(|r| r.nbis))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median (mean of the two middle values for an even count); NaN for no values.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The `q` quantile by nearest rank; NaN for no values.
fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A number from the environment, or `default` when unset or unreadable.
fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
