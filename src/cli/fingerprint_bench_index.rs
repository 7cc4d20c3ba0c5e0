//! `tally fingerprint bench-index --gallery N`: how the identification index ([`tally::fingerprint::index`])
//! does at prison scale, measured in one run on this machine.
//!
//! - **Gallery**: `N` templates: the first impression of fingers 1–8 of each FVC2002 set B database
//!   (32 real fingers, extracted by our extractor from the images, or the vendor's ISO records with
//!   `--ext iso`), planted among `N − 32` synthetic distractors from the template-level generator
//!   ([`tally::fingerprint::synth::templates`]), in a shuffled order.
//! - **Probes**: impressions 2–8 of the planted fingers (224 mated probes), and every impression of
//!   fingers 9 and 10 of each database (64 probes of fingers not enrolled).
//! - **Load**: from the gallery's encoded templates in memory (as the store would hand them over,
//!   decrypted) to an index ready to identify: decoding, keys, filing.
//! - **Latency**: each probe identified twice (both cores, the probe's template already extracted);
//!   p50 and p99 over all runs.
//! - **Rank-1**: the share of mated probes whose best candidate is their finger. The same share from
//!   exhaustive matching (every probe against every gallery template with the same matcher) is the
//!   yardstick: the index may lose only what its candidate selection misses. Exhaustive matching costs
//!   `N` comparisons per probe; `--exhaustive-probes M` runs it on `M` mated probes spread evenly over
//!   the four databases, and the index's rate on the same probes is printed beside it.
//! - **FPIR**: the share of probes of fingers not enrolled whose best candidate the gate would take: at
//!   the gate's operating point for a gallery of this size ([`OperatingPoint`], default rate), and
//!   beside it at the highest impostor score of the calibration set (a fixed threshold, for
//!   comparison). The probes are the 64 FVC2002 strangers and `--synthetic-strangers` synthetic
//!   fingers from another seed than the distractors'. TPIR is the share of mated probes identified
//!   correctly and taken.
//! - **Memory**: [`Index::heap_bytes`] per template after loading.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::fingerprint::load;
use tally::fingerprint::index::{Index, IndexConfig, TemplateId};
use tally::fingerprint::matcher::{self, PreparedTemplate, compare_prepared};
use tally::fingerprint::synth;
use tally::fingerprint::template::Template;
use tally::gate::operating_point::{DEFAULT_MAX_FPIR, OperatingPoint};
use tally::parallel;

#[derive(Debug, clap::Args)]
pub struct BenchIndexArgs {
    /// Templates in the gallery (at least 32: the planted real fingers).
    #[arg(long)]
    gallery: usize,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// The FVC2002 set B folder (DB1_B … DB4_B).
    #[arg(long, default_value = "../shared/data/fvc2002")]
    fvc: PathBuf,
    /// Use these files of the FVC folder: tif (our extractor) or iso (the vendor's records).
    #[arg(long, default_value = "tif")]
    ext: String,
    /// Seed of the synthetic distractors.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Templates compared in full after candidate selection.
    #[arg(long, default_value_t = IndexConfig::default().shortlist)]
    shortlist: usize,
    /// Synthetic fingers not enrolled, probed besides the FVC2002 strangers.
    #[arg(long, default_value_t = 1000)]
    synthetic_strangers: usize,
    /// Mated probes also matched exhaustively (all by default; 0 skips exhaustive matching, which
    /// costs N comparisons per probe).
    #[arg(long)]
    exhaustive_probes: Option<usize>,
}

/// Fingers per database planted in the gallery; the others are the strangers.
const PLANTED_FINGERS: usize = 8;
const DATABASES: [&str; 4] = ["DB1_B", "DB2_B", "DB3_B", "DB4_B"];

/// A probe and the template it should find (`None`: a finger not enrolled).
struct Probe {
    template: Template,
    mate: Option<TemplateId>,
}

/// What one run measured.
#[derive(Debug, serde::Serialize)]
struct Figures {
    gallery: usize,
    p50_ms: f64,
    p99_ms: f64,
    rank1: f64,
    rank1_exhaustive: Option<f64>,
    fpir: f64,
    fpir_synthetic: f64,
    load_s: f64,
    bytes_per_template: f64,
    #[serde(skip)]
    details: Details,
}

#[derive(Debug, Default)]
struct Details {
    mated: usize,
    strangers: usize,
    shortlist: usize,
    shortlist_hit: f64,
    tpir: f64,
    threshold: f32,
    /// The same at the fixed threshold of the highest calibration impostor: (threshold, FPIR of FVC
    /// strangers, FPIR of synthetic ones, TPIR).
    fixed: (f32, f64, f64, f64),
    synthetic_strangers: usize,
    exhaustive_probes: usize,
    rank1_same_probes: f64,
    exhaustive_s: f64,
    synth_s: f64,
    /// Share of mated probes whose mate comes within the first `n` of candidate selection.
    kept_within: [(usize, f64); 7],
}

pub fn run(args: &BenchIndexArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.gallery >= 32, "--gallery must be at least 32 (the planted FVC2002 fingers)");
    anyhow::ensure!(args.shortlist >= 1, "--shortlist must be at least 1");
    let progress = |what: &str| {
        if !args.json {
            eprintln!("bench-index: {what}");
        }
    };
    progress("reading the FVC2002 fingers");
    let (planted, probes) = fvc(&args.fvc, &args.ext)?;

    progress(&format!("making {} synthetic distractors", args.gallery - planted.len()));
    let started = Instant::now();
    let distractors: Vec<u64> = (0..(args.gallery - planted.len()) as u64).collect();
    let synthetic = on_all_cores(&distractors, |&i| synth::templates::finger(args.seed, i));
    let synth_s = started.elapsed().as_secs_f64();
    // Ids: the planted fingers and the distractors, interleaved in a fixed pseudo-random order, so
    // that the planted ones sit anywhere in the index's slots.
    let mut gallery: Vec<(TemplateId, Vec<u8>)> = planted
        .iter()
        .map(|(id, t)| (*id, t.to_bytes()))
        .chain(synthetic.iter().enumerate().map(|(i, t)| (TemplateId(1_000_000 + i as u64), t.to_bytes())))
        .collect();
    drop(synthetic);
    gallery.sort_by_key(|(id, _)| id.0.wrapping_mul(0x9e37_79b9_7f4a_7c15));

    progress("loading the index");
    let config = IndexConfig { shortlist: args.shortlist, ..IndexConfig::default() };
    let index = Index::new(config);
    let started = Instant::now();
    index.extend_encoded(&gallery)?;
    index.shrink_to_fit();
    let load_s = started.elapsed().as_secs_f64();
    let bytes_per_template = index.heap_bytes() as f64 / index.len() as f64;

    progress(&format!("identifying {} probes, twice", probes.len()));
    let threshold = OperatingPoint::default().threshold(index.len());
    let fixed = matcher::CALIBRATION.last().map_or(f32::INFINITY, |&(s, _)| s);
    let mut latencies = Vec::new();
    let (mut rank1, mut tpir, mut hits, mut false_positives) = (0usize, 0usize, 0usize, 0usize);
    let (mut tpir_fixed, mut false_positives_fixed) = (0usize, 0usize);
    let mut rank1_by_probe = Vec::new();
    let mut selection_ranks = Vec::new();
    for round in 0..2 {
        for p in &probes {
            let started = Instant::now();
            let found = index.identify(&p.template, 1)?;
            latencies.push(started.elapsed());
            if round > 0 {
                continue;
            }
            let best = found.first();
            match p.mate {
                Some(mate) => {
                    let right = best.is_some_and(|c| c.id == mate);
                    rank1 += usize::from(right);
                    tpir += usize::from(right && best.is_some_and(|c| c.score >= threshold));
                    tpir_fixed += usize::from(right && best.is_some_and(|c| c.score >= fixed));
                    let rank = index.selection_rank(&p.template, mate);
                    hits += usize::from(rank.is_some_and(|r| r < args.shortlist));
                    selection_ranks.push(rank);
                    rank1_by_probe.push(right);
                }
                None => {
                    false_positives += usize::from(best.is_some_and(|c| c.score >= threshold));
                    false_positives_fixed += usize::from(best.is_some_and(|c| c.score >= fixed));
                }
            }
        }
    }
    progress(&format!("identifying {} synthetic strangers", args.synthetic_strangers));
    let seeds: Vec<u64> = (0..args.synthetic_strangers as u64).collect();
    let stranger_seed = args.seed.wrapping_add(0x5eed);
    let best_of_strangers: Vec<f32> = parallel::map(&seeds, 1, |&i| {
        let probe = synth::templates::finger(stranger_seed, i);
        index.identify(&probe, 1).ok().and_then(|f| f.first().map(|c| c.score)).unwrap_or(0.0)
    });
    let named =
        |t: f32| best_of_strangers.iter().filter(|&&s| s >= t).count() as f64 / best_of_strangers.len().max(1) as f64;
    latencies.sort();
    let mated: Vec<&Probe> = probes.iter().filter(|p| p.mate.is_some()).collect();
    let strangers = probes.len() - mated.len();

    let exhaustive_n = args.exhaustive_probes.unwrap_or(mated.len()).min(mated.len());
    // A subset spread evenly over the mated probes (so over all four databases), not the first ones.
    let chosen: Vec<usize> = (0..exhaustive_n).map(|i| i * mated.len() / exhaustive_n.max(1)).collect();
    let subset: Vec<&Probe> = chosen.iter().map(|&i| mated[i]).collect();
    let (mut rank1_exhaustive, mut exhaustive_s) = (None, 0.0);
    if exhaustive_n > 0 {
        progress(&format!("matching {exhaustive_n} probes against all {} templates", gallery.len()));
        let started = Instant::now();
        let right = exhaustive(&subset, &gallery)?;
        exhaustive_s = started.elapsed().as_secs_f64();
        rank1_exhaustive = Some(right as f64 / exhaustive_n as f64);
    }
    let same = chosen.iter().filter(|&&i| rank1_by_probe[i]).count() as f64 / exhaustive_n.max(1) as f64;

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let figures = Figures {
        gallery: index.len(),
        p50_ms: ms(quantile(&latencies, 0.50)),
        p99_ms: ms(quantile(&latencies, 0.99)),
        rank1: rank1 as f64 / mated.len() as f64,
        rank1_exhaustive,
        fpir: false_positives as f64 / strangers.max(1) as f64,
        fpir_synthetic: named(threshold),
        load_s,
        bytes_per_template,
        details: Details {
            mated: mated.len(),
            strangers,
            shortlist: args.shortlist,
            shortlist_hit: hits as f64 / mated.len() as f64,
            tpir: tpir as f64 / mated.len() as f64,
            threshold,
            fixed: (
                fixed,
                false_positives_fixed as f64 / strangers.max(1) as f64,
                named(fixed),
                tpir_fixed as f64 / mated.len() as f64,
            ),
            synthetic_strangers: args.synthetic_strangers,
            exhaustive_probes: exhaustive_n,
            rank1_same_probes: same,
            exhaustive_s,
            synth_s,
            kept_within: [16, 32, 64, 128, 256, 512, 1024].map(|n| {
                (n, selection_ranks.iter().filter(|r| r.is_some_and(|r| r < n)).count() as f64 / mated.len() as f64)
            }),
        },
    };
    if args.json {
        outln!("{}", serde_json::to_string(&figures)?);
    } else {
        report(&figures, &args.ext);
    }
    Ok(())
}

/// The planted templates and their ids.
type Planted = Vec<(TemplateId, Template)>;

/// The planted templates (impression 1 of fingers 1–8 of each database) and the probes.
fn fvc(dir: &Path, ext: &str) -> anyhow::Result<(Planted, Vec<Probe>)> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{} is missing: bench-index plants the FVC2002 set B fingers in its gallery (see ../shared/data/README.md)",
            dir.display()
        );
    }
    let mut files = Vec::new();
    for (d, db) in DATABASES.iter().enumerate() {
        for finger in 1..=10usize {
            for impression in 1..=8usize {
                files.push((d, finger, impression, dir.join(db).join(format!("1{finger:02}_{impression}.{ext}"))));
            }
        }
    }
    let templates = on_all_cores(&files, |(.., path)| load(path));
    let (mut planted, mut probes) = (Vec::new(), Vec::new());
    for ((d, finger, impression, _), t) in files.iter().zip(templates) {
        let template = t?;
        let id = TemplateId((d * 100 + finger) as u64);
        if *finger > PLANTED_FINGERS {
            probes.push(Probe { template, mate: None });
        } else if *impression == 1 {
            planted.push((id, template));
        } else {
            probes.push(Probe { template, mate: Some(id) });
        }
    }
    Ok((planted, probes))
}

/// How many of `probes` have their mate as the best of all `gallery` templates by the matcher.
/// The gallery is prepared a slice at a time (cylinders take about 12 KiB per template), every
/// probe compared with the slice on all cores.
fn exhaustive(probes: &[&Probe], gallery: &[(TemplateId, Vec<u8>)]) -> anyhow::Result<usize> {
    let prepared_probes: Vec<PreparedTemplate> = probes.iter().map(|p| PreparedTemplate::new(&p.template)).collect();
    // Best (score, id) per probe so far; ties go to the smaller id, as the index's ranking does.
    let mut best: Vec<(f32, TemplateId)> = vec![(-1.0, TemplateId(u64::MAX)); probes.len()];
    let pairs: Vec<usize> = (0..probes.len()).collect();
    for slice in gallery.chunks(8192) {
        let prepared: Vec<PreparedTemplate> = on_all_cores(slice, |(_, b)| Template::from_bytes(b))
            .into_iter()
            .map(|t| t.map(|t| PreparedTemplate::new(&t)))
            .collect::<Result<_, _>>()
            .context("a gallery template does not decode")?;
        let slice_best = on_all_cores(&pairs, |&p| {
            let mut b = (-1.0f32, TemplateId(u64::MAX));
            for (g, (id, _)) in prepared.iter().zip(slice) {
                let s = compare_prepared(&prepared_probes[p], g);
                if s > b.0 || (s == b.0 && *id < b.1) {
                    b = (s, *id);
                }
            }
            b
        });
        for (b, s) in best.iter_mut().zip(slice_best) {
            if s.0 > b.0 || (s.0 == b.0 && s.1 < b.1) {
                *b = s;
            }
        }
    }
    Ok(probes.iter().zip(&best).filter(|(p, b)| p.mate == Some(b.1) && b.0 > 0.0).count())
}

fn on_all_cores<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    parallel::map(items, parallel::cores(), f)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn report(f: &Figures, ext: &str) {
    let d = &f.details;
    let pct = |v: f64| format!("{:.2}%", v * 100.0);
    outln!("Identification index, gallery of {} templates (32 FVC2002 fingers from .{ext} files planted)", f.gallery);
    outln!();
    outln!("| figure | value |");
    outln!("|---|---|");
    outln!("| identify latency p50 / p99 | {:.1} ms / {:.1} ms |", f.p50_ms, f.p99_ms);
    outln!("| rank-1, index ({} mated probes) | {} |", d.mated, pct(f.rank1));
    match f.rank1_exhaustive {
        Some(r) => outln!(
            "| rank-1, exhaustive matching ({} probes; index on the same probes {}) | {} |",
            d.exhaustive_probes,
            pct(d.rank1_same_probes),
            pct(r)
        ),
        None => outln!("| rank-1, exhaustive matching | not run |"),
    }
    outln!("| mate in the short list of {} | {} |", d.shortlist, pct(d.shortlist_hit));
    let kept: Vec<String> = d.kept_within.iter().map(|(n, v)| format!("{n}: {}", pct(*v))).collect();
    outln!("| mate within the first n of candidate selection | {} |", kept.join(", "));
    outln!("| gate's operating point at this size (FPIR ≤ {}): threshold | {:.4} |", DEFAULT_MAX_FPIR, d.threshold);
    outln!("| FPIR there, {} FVC2002 strangers | {} |", d.strangers, pct(f.fpir));
    outln!("| FPIR there, {} synthetic strangers | {} |", d.synthetic_strangers, pct(f.fpir_synthetic));
    outln!("| TPIR there | {} |", pct(d.tpir));
    let (t, fvc, synthetic, tpir) = d.fixed;
    outln!(
        "| fixed threshold {t:.4} (highest calibration impostor): FPIR FVC / synthetic, TPIR | {} / {} , {} |",
        pct(fvc),
        pct(synthetic),
        pct(tpir)
    );
    outln!("| load (decode + key + file) | {:.2} s |", f.load_s);
    outln!("| memory per template | {:.0} bytes |", f.bytes_per_template);
    outln!();
    outln!(
        "Synthetic distractors made in {:.1} s; exhaustive matching took {:.1} s. Reproduce: \
         `target/release/tally fingerprint bench-index --gallery {}`",
        d.synth_s,
        d.exhaustive_s,
        f.gallery
    );
}
