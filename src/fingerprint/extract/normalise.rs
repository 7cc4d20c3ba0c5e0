//! Local grey-level normalisation: zero mean and unit variance around every pixel, ridges positive.
//!
//! Hong, Wan & Jain (1998, "Fingerprint image enhancement: algorithm and performance evaluation",
//! IEEE PAMI 20(8), §2.1) normalise to a prescribed mean and variance over the whole image; we use the
//! same formula with the mean and standard deviation of each pixel's neighbourhood (the block statistics
//! of [`super::segment`], interpolated between block centres), which also evens out the uneven pressure
//! and contrast of capacitive sensors. The sign is flipped so that dark ridges become positive values.

use super::raster::{Grid, Plane};

use super::segment::Segmentation;

/// Floor on the local standard deviation, so flat areas are not blown up into noise.
const MIN_STD: f32 = 4.0;

/// The locally normalised image, ridges positive.
pub(crate) fn normalise(pixels: &[u8], w: usize, h: usize, seg: &Segmentation) -> Plane {
    let fg: Vec<f32> = seg.std.data.iter().zip(&seg.blocks.data).filter(|&(_, &m)| m).map(|(&s, _)| s).collect();
    let typical = median(fg).unwrap_or(MIN_STD);
    let floor = MIN_STD.max(0.25 * typical);
    let std: Grid<f32> = Grid { data: seg.std.data.iter().map(|&s| s.max(floor)).collect(), ..seg.std.clone() };
    let mean = seg.mean.upsample(w, h);
    let std = std.upsample(w, h);
    let data = pixels
        .iter()
        .zip(mean.iter().zip(&std))
        .map(|(&p, (&m, &s))| ((m - f32::from(p)) / s).clamp(-4.0, 4.0))
        .collect();
    Plane { w, h, data }
}

fn median(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied()
}
