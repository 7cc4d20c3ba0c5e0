//! `tally fingerprint synth`: writes synthetic fingerprint images (belonging to no one) as 500 dpi
//! PNGs, for accuracy tests that need no one's biometric data. The images come from
//! [`tally::fingerprint::synth`]; this module only validates the arguments, shares the fingers among
//! the cores and writes the files.
//!
//! # Layout
//! - Without `--fvc`: `DIR/F_I.png`, finger `F` = 1…N, impression `I` = 1…K: one database.
//! - With `--fvc`: FVC's layout, databases of 10 fingers, `DIR/DB1_B/101_1.png` … `DIR/DB1_B/110_K.png`,
//!   then `DIR/DB2_B/101_1.png` for fingers 11–20, and so on (the last database may hold fewer).
//!
//! Either way `tally fingerprint eval DIR --ext png` runs the FVC protocol on the result (it needs at
//! least 2 fingers and 2 impressions per database). Finger `n` (from 0, across databases) is master
//! `n` of the seed, so the same seed always gives the same images, whatever the layout. Each PNG
//! carries a `pHYs` chunk saying 500 dpi.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use image::ImageEncoder as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::fingerprint::par_map;
use tally::fingerprint::image::GrayImage;
use tally::fingerprint::synth::{ImpressionSettings, Master};

/// Most fingers one run writes.
const MAX_FINGERS: u32 = 100_000;
/// Most impressions per finger.
const MAX_IMPRESSIONS: u32 = 100;
/// Highest `--variability`: beyond it, the tuned spreads give EERs above 10%.
const MAX_VARIABILITY: f32 = 1.5;
/// Fingers per database in the FVC layout.
const FVC_FINGERS: u32 = 10;

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Number of synthetic fingers.
    #[arg(long, default_value_t = 10)]
    fingers: u32,
    /// Impressions (images) per finger.
    #[arg(long, default_value_t = 8)]
    impressions: u32,
    /// Seed: the same seed gives the same images.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder; created if missing, and must be empty if it exists.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// FVC layout: DBn_B folders of 10 fingers, files 101_1.png … 110_K.png.
    #[arg(long)]
    fvc: bool,
    /// How much impressions of a finger differ: 1 is tuned to FVC2002-like difficulty, 0 gives identical
    /// impressions, at most 1.5.
    #[arg(long, default_value_t = 1.0)]
    variability: f32,
}

/// Validated arguments.
struct Plan {
    fingers: u32,
    impressions: u32,
    seed: u64,
    out: PathBuf,
    fvc: bool,
    settings: ImpressionSettings,
}

impl Plan {
    fn new(args: &SynthArgs) -> anyhow::Result<Plan> {
        if !(1..=MAX_FINGERS).contains(&args.fingers) {
            anyhow::bail!("--fingers must be from 1 to {MAX_FINGERS}, got {}", args.fingers);
        }
        if !(1..=MAX_IMPRESSIONS).contains(&args.impressions) {
            anyhow::bail!("--impressions must be from 1 to {MAX_IMPRESSIONS}, got {}", args.impressions);
        }
        if !(0.0..=MAX_VARIABILITY).contains(&args.variability) {
            anyhow::bail!("--variability must be from 0 to {MAX_VARIABILITY}, got {}", args.variability);
        }
        if args.out.exists() {
            if !args.out.is_dir() {
                anyhow::bail!("--out {} exists and is not a folder", args.out.display());
            }
            let mut entries =
                std::fs::read_dir(&args.out).with_context(|| format!("reading the folder {}", args.out.display()))?;
            if entries.next().is_some() {
                anyhow::bail!("--out {} is not empty: choose a new or empty folder", args.out.display());
            }
        }
        Ok(Plan {
            fingers: args.fingers,
            impressions: args.impressions,
            seed: args.seed,
            out: args.out.clone(),
            fvc: args.fvc,
            settings: ImpressionSettings { variability: args.variability, ..ImpressionSettings::default() },
        })
    }

    /// The file of impression `i` (from 0) of finger `f` (from 0).
    fn path(&self, f: u32, i: u32) -> PathBuf {
        if self.fvc {
            let db = format!("DB{}_B", f / FVC_FINGERS + 1);
            self.out.join(db).join(format!("{}_{}.png", 101 + f % FVC_FINGERS, i + 1))
        } else {
            self.out.join(format!("{}_{}.png", f + 1, i + 1))
        }
    }
}

pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let plan = Plan::new(args)?;
    let total = u64::from(plan.fingers) * u64::from(plan.impressions);
    std::fs::create_dir_all(&plan.out).with_context(|| format!("creating {}", plan.out.display()))?;
    if plan.fvc {
        for db in 0..plan.fingers.div_ceil(FVC_FINGERS) {
            let dir = plan.out.join(format!("DB{}_B", db + 1));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("synth");
    let started = Instant::now();
    let fingers: Vec<u32> = (0..plan.fingers).collect();
    let results = par_map(
        &fingers,
        |&f| -> anyhow::Result<()> {
            let master = Master::generate(plan.seed, u64::from(f));
            for i in 0..plan.impressions {
                let img = master.impression(u64::from(i), &plan.settings);
                write_png(&plan.path(f, i), &img)?;
                bar.inc(1);
            }
            Ok(())
        },
        || (),
    );
    bar.finish_and_clear();
    for r in results {
        r?;
    }
    let took = started.elapsed().as_secs_f64();
    outln!(
        "wrote {total} images ({} fingers × {} impressions, {}×{} pixels at 500 dpi) to {} in {took:.1} s ({:.1} images/s)",
        plan.fingers,
        plan.impressions,
        plan.settings.width,
        plan.settings.height,
        plan.out.display(),
        total as f64 / took.max(1e-9)
    );
    if plan.fvc {
        outln!(
            "layout: FVC, DB1_B … DB{}_B; evaluate with `tally fingerprint eval {} --ext png`",
            plan.fingers.div_ceil(FVC_FINGERS),
            plan.out.display()
        );
    }
    Ok(())
}

/// Writes `img` as an 8-bit grey PNG with a 500 dpi `pHYs` chunk.
pub(super) fn write_png(path: &Path, img: &GrayImage) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&img.pixels, img.width, img.height, image::ExtendedColorType::L8)
        .with_context(|| format!("encoding {}", path.display()))?;
    let bytes = with_phys(&bytes, img.dpi);
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `png` with a `pHYs` chunk (pixels per metre, both axes) inserted after `IHDR`, which the `image`
/// crate's encoder does not write. The signature (8 bytes) and `IHDR` (25 bytes) always come first.
fn with_phys(png: &[u8], dpi: u32) -> Vec<u8> {
    const AFTER_IHDR: usize = 8 + 25;
    if png.len() < AFTER_IHDR || &png[12..16] != b"IHDR" {
        return png.to_vec();
    }
    let ppm = (f64::from(dpi) / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(&9u32.to_be_bytes());
    chunk.extend_from_slice(b"pHYs");
    chunk.extend_from_slice(&ppm.to_be_bytes());
    chunk.extend_from_slice(&ppm.to_be_bytes());
    chunk.push(1); // unit: metre
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..AFTER_IHDR]);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[AFTER_IHDR..]);
    out
}

/// The CRC-32 of PNG chunks (ISO 3309, polynomial 0xEDB88320, reflected), bit by bit: a chunk of 13
/// bytes per file does not need a table.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_png_specification_example() {
        // The CRC of "IEND" with no data, as every PNG ends with.
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
    }

    #[test]
    fn written_pngs_decode_at_500_dpi() {
        let img =
            GrayImage { width: 64, height: 64, dpi: 500, pixels: (0..64 * 64).map(|i| (i % 251) as u8).collect() };
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(&img.pixels, 64, 64, image::ExtendedColorType::L8)
            .expect("encode");
        let back = GrayImage::decode(&with_phys(&bytes, 500), Some(300)).expect("decode");
        assert_eq!(back.dpi, 500);
        assert_eq!(back.pixels, img.pixels);
    }
}
