//! From a 500 dpi grey image to a minutiae template: our own extractor. Pure computation, no I/O,
//! deterministic (no randomness, no threads, a fixed order everywhere), and total: any image gives a
//! template or an [`ExtractError`], never a panic. It does not decode or rescale images
//! ([`crate::fingerprint::image`] does) nor encode templates ([`crate::fingerprint::template`],
//! [`crate::fingerprint::iso`]).
//!
//! # Pipeline and the published methods it follows
//! | stage | file | method |
//! |---|---|---|
//! | gradient tensor, orientation field, coherence | `orientation.rs` | Kass & Witkin 1987; Bazen & Gerez 2002 (IEEE PAMI 24(7)) |
//! | foreground mask | `segment.rs` | block variance and coherence (Bazen & Gerez 2001), morphological cleanup, chamfer distance (Borgefors 1986) |
//! | normalisation | `normalise.rs` | Hong, Wan & Jain 1998 (IEEE PAMI 20(8)) §2.1, made local |
//! | ridge period | `frequency.rs` | Hong, Wan & Jain 1998 §2.4, oriented x-signature |
//! | enhancement | `enhance.rs` | Hong, Wan & Jain 1998 §2.5, oriented Gabor filter bank |
//! | binarisation and thinning | `skeleton.rs` | Zhang & Suen 1984, plus staircase removal |
//! | minutiae and directions | `minutiae.rs`, `trace.rs` | crossing number (Arcelli & Sanniti di Baja 1985; Maltoni et al., *Handbook of Fingerprint Recognition*, §3.7) |
//! | false minutiae | `filter.rs` | Maltoni et al. §3.8; Xiao & Raafat 1991; Ratha, Chen & Jain 1995 |
//! | quality | `quality.rs` | coherence, ridge clarity, distance to the edge (Maltoni et al. §3.10) |
//!
//! Shared containers live in `raster.rs`. Every length is in pixels at 500 dpi and most are expressed in
//! local ridge periods, so the same rules hold for fine and coarse ridges. Angles inside the extractor
//! are in pixel coordinates (y down); the template carries the ISO convention of
//! [`crate::fingerprint`].

mod enhance;
mod filter;
mod frequency;
mod minutiae;
mod normalise;
mod orientation;
mod quality;
mod raster;
mod segment;
mod skeleton;
mod trace;

#[cfg(test)]
mod tests;

use crate::fingerprint::image::GrayImage;
use crate::fingerprint::template::{Minutia, Template};

/// Smallest width or height we extract from, pixels (about 3 mm at 500 dpi).
pub const MIN_SIDE: u32 = 64;
/// Largest width or height we extract from, pixels (4 inches at 500 dpi).
pub const MAX_SIDE: u32 = 2000;
/// Lowest and highest resolutions accepted as "500 dpi" (the caller rescales anything else).
pub const DPI_RANGE: std::ops::RangeInclusive<u32> = 475..=525;
/// Smallest foreground area, pixels, that is treated as a fingerprint (about 5 × 5 mm).
pub const MIN_AREA: usize = 100 * 100;
/// Most minutiae kept in one template (the best by quality).
pub const MAX_MINUTIAE: usize = 150;

/// Why no template could be extracted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    /// The pixel buffer does not hold `width × height` bytes.
    #[error("the image claims {width}×{height} pixels but holds {actual} bytes")]
    PixelCount {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
        /// Bytes present.
        actual: usize,
    },
    /// The image is too small or too large to be a fingerprint at 500 dpi.
    #[error("a {width}×{height} image is outside the {MIN_SIDE}–{MAX_SIDE} pixel range the extractor accepts")]
    Size {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
    },
    /// The image is not at 500 dpi.
    #[error("the extractor needs a 500 dpi image, got {dpi} dpi (rescale it first)")]
    Resolution {
        /// The image's resolution.
        dpi: u32,
    },
    /// No part of the image looks like ridges.
    #[error("no fingerprint found: {area} pixels look like ridges, at least {MIN_AREA} are needed")]
    NoFingerprint {
        /// Foreground pixels found.
        area: usize,
    },
}

/// Extracts the minutiae of a 500 dpi fingerprint image.
pub fn extract(img: &GrayImage) -> Result<Template, ExtractError> {
    check(img)?;
    let (w, h) = (img.width as usize, img.height as usize);

    let tensors = orientation::tensors(img);
    let seg = segment::segment(img, &tensors);
    let area = seg.area();
    if area < MIN_AREA {
        return Err(ExtractError::NoFingerprint { area });
    }
    let field = orientation::field(&tensors, &seg.blocks);
    let norm = normalise::normalise(&img.pixels, w, h, &seg);
    let periods = frequency::estimate(&norm, &field, &seg.blocks);
    let enhanced = enhance::enhance(&norm, &field, &periods, &seg.mask);
    let typical = median_period(&periods, &seg.blocks);
    let skel = skeleton::skeletonise(&enhanced, &seg.mask, typical);
    let steps = typical.round() as usize;
    let cands = minutiae::detect(&skel, &seg.mask, &field, steps);
    let ctx = filter::Context { skeleton: &skel, periods: &periods, border_distance: &seg.border_distance };
    let kept = filter::filter(cands, &ctx);

    let mut out: Vec<Minutia> = kept
        .iter()
        .map(|c| {
            let (fx, fy) = (c.x as f32 + 0.5, c.y as f32 + 0.5);
            let d = seg.border_distance.get(c.y as usize * w + c.x as usize).copied().unwrap_or(0.0);
            let r = quality::NEIGHBOUR_PERIODS * periods.at(fx, fy);
            let neighbours = kept
                .iter()
                .filter(|o| {
                    let (dx, dy) = ((o.x - c.x) as f32, (o.y - c.y) as f32);
                    dx * dx + dy * dy <= r * r
                })
                .count()
                .saturating_sub(1);
            Minutia {
                x: c.x as f32,
                y: c.y as f32,
                angle: minutiae::to_iso_angle(c.angle),
                kind: c.kind,
                quality: quality::minutia(&tensors, &periods, fx, fy, d, neighbours),
            }
        })
        .collect();
    // Best first; ties broken by position so the order never depends on anything else.
    out.sort_by(|a, b| b.quality.cmp(&a.quality).then(a.y.total_cmp(&b.y)).then(a.x.total_cmp(&b.x)));
    out.truncate(MAX_MINUTIAE);
    Ok(Template {
        width: img.width as u16,
        height: img.height as u16,
        quality: quality::image(&tensors, &periods, &seg.blocks, area),
        minutiae: out,
    })
}

/// Refuses images the extractor cannot work on.
fn check(img: &GrayImage) -> Result<(), ExtractError> {
    let expected = u64::from(img.width) * u64::from(img.height);
    if expected != img.pixels.len() as u64 {
        return Err(ExtractError::PixelCount { width: img.width, height: img.height, actual: img.pixels.len() });
    }
    let side = MIN_SIDE..=MAX_SIDE;
    if !side.contains(&img.width) || !side.contains(&img.height) {
        return Err(ExtractError::Size { width: img.width, height: img.height });
    }
    if !DPI_RANGE.contains(&img.dpi) {
        return Err(ExtractError::Resolution { dpi: img.dpi });
    }
    Ok(())
}

/// The median ridge period over the foreground.
fn median_period(periods: &frequency::PeriodMap, blocks: &raster::Grid<bool>) -> f32 {
    let mut v: Vec<f32> = periods.period.data.iter().zip(&blocks.data).filter(|&(_, &m)| m).map(|(&p, _)| p).collect();
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(9.0)
}

/// Largest image (pixels, after rescaling) the fuzz body extracts, so that each run stays short.
const FUZZ_MAX_PIXELS: usize = 160_000;

/// The fuzz target `image_file`'s body: `data` as an image file, and as a raw frame (two bytes of
/// width, one of resolution, then pixels row after row, the last partial row dropped). Decoding,
/// rescaling and extracting must return without panicking; extraction is tried on images of at most
/// `FUZZ_MAX_PIXELS` after rescaling.
#[doc(hidden)]
pub fn fuzz_body(data: &[u8]) {
    let extract_small = |img: &GrayImage| {
        let img = img.to_500dpi();
        if img.pixels.len() <= FUZZ_MAX_PIXELS {
            let _ = extract(&img);
        }
    };
    if let Ok(img) = GrayImage::decode(data, None) {
        extract_small(&img);
    }
    if let [w0, w1, dpi, pixels @ ..] = data {
        let width = usize::from(u16::from_le_bytes([*w0, *w1])).max(1);
        let height = pixels.len() / width;
        let dpi = 250 + u32::from(*dpi) * 7;
        let frame = pixels[..width * height].to_vec();
        if let Ok(img) = GrayImage::from_raw(frame, width as u32, height as u32, dpi) {
            extract_small(&img);
        }
    }
}
