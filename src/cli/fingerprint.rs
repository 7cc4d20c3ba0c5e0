//! `tally fingerprint …`: extract a template from an image, compare two fingerprints, score pairs in
//! bulk for evaluation tools, and run the accuracy protocol on an FVC-layout folder
//! ([`super::fingerprint_eval`]).
//!
//! Every command takes images or templates alike and tells them apart by content, never by name: an
//! ISO 19794-2 / ANSI 378 record starts with `FMR\0`, a tally template with `TFPT`, and anything else
//! is decoded as an image (PNG, TIFF, PGM), rescaled to 500 dpi and extracted. `extract` also reads a
//! raw 8-bit frame as a reader delivers it (`--raw WIDTHxHEIGHT`) and takes the resolution of a file
//! that does not record its own (`--dpi`).

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};

use tally::fingerprint::image::{DEFAULT_DPI, GrayImage};
use tally::fingerprint::matcher::{self, PreparedTemplate};
use tally::fingerprint::template::{self, MinutiaKind, Template};
use tally::fingerprint::{extract, iso};

#[derive(Debug, Subcommand)]
pub enum FingerprintCommand {
    /// Extract the minutiae of an image; without -o, print a summary.
    Extract {
        /// The image (PNG, TIFF or PGM, or a raw frame with --raw); a template is accepted too and
        /// converted.
        image: PathBuf,
        /// Write the template to this file.
        #[arg(short, long, value_name = "OUT")]
        out: Option<PathBuf>,
        /// Format of the written template.
        #[arg(long, value_enum, default_value_t = Format::Tally)]
        format: Format,
        /// The file is a raw 8-bit grey frame of this many pixels, row after row, as a reader
        /// delivers it (for example 384x290).
        #[arg(long, value_name = "WIDTHxHEIGHT", value_parser = parse_frame_size)]
        raw: Option<(u32, u32)>,
        /// The image's resolution, for a raw frame or a file that does not record its own (500 when
        /// neither says); anything but 500 dpi is rescaled to it.
        #[arg(long, value_name = "DPI")]
        dpi: Option<u32>,
    },
    /// Print the similarity score of two fingerprints (images or templates), 0 to 1.
    Compare {
        /// First image or template.
        a: PathBuf,
        /// Second image or template.
        b: PathBuf,
    },
    /// Read `pathA<TAB>pathB` lines on stdin, write one score per line on stdout, in order.
    CompareBatch,
    /// Run the accuracy protocol of FVC on a folder of DBn_B databases (or one database).
    Eval(super::fingerprint_eval::EvalArgs),
    /// Write synthetic fingerprint images (belonging to no one) in the FVC layout.
    Synth(super::fingerprint_synth::SynthArgs),
    /// Measure the identification index: latency, accuracy against exhaustive matching, memory, load time.
    BenchIndex(super::fingerprint_bench_index::BenchIndexArgs),
}

/// Template file formats `extract` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// tally's compact internal format.
    Tally,
    /// ISO/IEC 19794-2:2005.
    Iso,
    /// ANSI INCITS 378-2004.
    Ansi,
}

pub fn run(cmd: FingerprintCommand) -> anyhow::Result<()> {
    match cmd {
        FingerprintCommand::Extract { image, out, format, raw, dpi } => {
            extract_cmd(&image, raw, dpi, out.as_deref(), format)
        }
        FingerprintCommand::Compare { a, b } => {
            let (ta, tb) = (load(&a)?, load(&b)?);
            outln!("{:.6}", matcher::compare(&ta, &tb));
            Ok(())
        }
        FingerprintCommand::CompareBatch => compare_batch(),
        FingerprintCommand::Eval(args) => super::fingerprint_eval::run(&args),
        FingerprintCommand::Synth(args) => super::fingerprint_synth::run(&args),
        FingerprintCommand::BenchIndex(args) => super::fingerprint_bench_index::run(&args),
    }
}

// -------------------------------------------------------------------------------------------------
// Loading
// -------------------------------------------------------------------------------------------------

/// The template in `bytes`: a minutiae record, a tally template, or an image to extract (at `dpi` when
/// the file does not record its resolution).
pub(super) fn template_from_bytes(bytes: &[u8], dpi: Option<u32>) -> anyhow::Result<Template> {
    if bytes.starts_with(b"FMR\0") {
        Ok(iso::parse_record(bytes)?)
    } else if bytes.starts_with(&template::MAGIC) {
        Ok(Template::from_bytes(bytes)?)
    } else {
        let img = GrayImage::decode(bytes, dpi)?.to_500dpi();
        Ok(extract::extract(&img)?)
    }
}

/// Reads and decodes (or extracts) the file at `path`.
pub(super) fn load(path: &Path) -> anyhow::Result<Template> {
    load_at(path, None)
}

/// [`load`], with the resolution of an image that does not record its own.
fn load_at(path: &Path, dpi: Option<u32>) -> anyhow::Result<Template> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    template_from_bytes(&bytes, dpi).with_context(|| format!("{} is not a usable image or template", path.display()))
}

/// `f` over `items` on every core, results in the items' order; `tick` after each item.
pub(super) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync, tick: impl Fn() + Sync) -> Vec<R> {
    tally::parallel::map(items, tally::parallel::cores(), |item| {
        let r = f(item);
        tick();
        r
    })
}

// -------------------------------------------------------------------------------------------------
// Commands
// -------------------------------------------------------------------------------------------------

/// `WIDTHxHEIGHT`, both positive.
fn parse_frame_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{text:?} is not WIDTHxHEIGHT (for example 384x290)");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    match (w.parse::<u32>(), h.parse::<u32>()) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(bad()),
    }
}

fn extract_cmd(
    image: &Path,
    raw: Option<(u32, u32)>,
    dpi: Option<u32>,
    out: Option<&Path>,
    format: Format,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let t = match raw {
        None => load_at(image, dpi)?,
        Some((w, h)) => {
            let bytes = std::fs::read(image).with_context(|| format!("reading {}", image.display()))?;
            let img = GrayImage::from_raw(bytes, w, h, dpi.unwrap_or(DEFAULT_DPI))
                .with_context(|| format!("{} is not a usable raw frame", image.display()))?;
            extract::extract(&img.to_500dpi()).with_context(|| format!("extracting {}", image.display()))?
        }
    };
    let took = started.elapsed();
    let Some(out) = out else {
        let count = |k: MinutiaKind| t.minutiae.iter().filter(|m| m.kind == k).count();
        outln!(
            "minutiae: {} ({} endings, {} bifurcations, {} other)",
            t.minutiae.len(),
            count(MinutiaKind::Ending),
            count(MinutiaKind::Bifurcation),
            count(MinutiaKind::Other)
        );
        outln!("quality: {}", t.quality);
        outln!("size: {}×{} pixels at 500 dpi", t.width, t.height);
        outln!("usable for matching: {}", PreparedTemplate::new(&t).usable());
        outln!("time: {:.1} ms", took.as_secs_f64() * 1e3);
        return Ok(());
    };
    let bytes = match format {
        Format::Tally => t.to_bytes(),
        Format::Iso => iso::write_iso(&t),
        Format::Ansi => iso::write_ansi(&t),
    };
    write_whole(out, &bytes)?;
    outln!("wrote {} minutiae ({} bytes, {format:?} format) to {}", t.minutiae.len(), bytes.len(), out.display());
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, so that a failure leaves no partial file.
fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// `compare-batch`: the interface evaluation tools use. Reads every line first, loads each distinct
/// file once (in parallel), then scores the pairs (in parallel) and prints the scores in input order.
/// Any unreadable line or file fails the whole batch before anything is printed.
fn compare_batch() -> anyhow::Result<()> {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let Some((a, b)) = line.split_once('\t') else {
            anyhow::bail!("stdin line {}: expected `pathA<TAB>pathB`, got {line:?}", n + 1);
        };
        let mut id = |p: &str| {
            *index.entry(p.to_owned()).or_insert_with(|| {
                paths.push(PathBuf::from(p));
                paths.len() - 1
            })
        };
        pairs.push((id(a), id(b)));
    }
    let loaded = par_map(&paths, |p| load(p).map(|t| PreparedTemplate::new(&t)), || ());
    let mut prepared = Vec::with_capacity(loaded.len());
    for r in loaded {
        prepared.push(r?);
    }
    let chunks: Vec<&[(usize, usize)]> = pairs.chunks(256).collect();
    let scores = par_map(
        &chunks,
        |c| c.iter().map(|&(a, b)| matcher::compare_prepared(&prepared[a], &prepared[b])).collect::<Vec<f32>>(),
        || (),
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for s in scores.into_iter().flatten() {
        writeln!(out, "{s:.6}").context("writing stdout")?;
    }
    out.flush().context("writing stdout")?;
    Ok(())
}
