//! Local ridge frequency (given here as its inverse, the ridge period in pixels) per block.
//!
//! Method: the oriented "x-signature" of Hong, Wan & Jain (1998, "Fingerprint image enhancement:
//! algorithm and performance evaluation", IEEE PAMI 20(8), §2.4). Around each block centre an oriented
//! window is laid 32 pixels across the ridges and 16 pixels along them; averaging the normalised image
//! along the ridges gives a one-dimensional sinusoid-like signature whose period is the ridge period.
//! Instead of Hong's peak spacing we measure the spacing of the signature's mean crossings (with
//! sub-pixel interpolation), which is less sensitive to flat or double peaks. A block is reliable when
//! the signature is strong compared with the samples it averages, its crossings are regular, and the
//! period is plausible for 500 dpi (5 to 15 pixels). Unreliable blocks are filled from reliable
//! neighbours by repeated Gaussian-weighted averaging, and the map is low-pass filtered, both as Hong et
//! al. describe (§2.4, steps 4–5).

use super::orientation::OrientationField;
use super::raster::{Grid, Plane, smooth_grid};

/// Shortest plausible ridge period at 500 dpi, pixels.
pub(crate) const MIN_PERIOD: f32 = 5.0;
/// Longest plausible ridge period at 500 dpi, pixels.
pub(crate) const MAX_PERIOD: f32 = 15.0;
/// Period assumed when no block of the image is reliable (a typical adult finger at 500 dpi).
const DEFAULT_PERIOD: f32 = 9.0;
/// Signature length across the ridges, samples one pixel apart.
const LENGTH: usize = 32;
/// Samples along the ridge averaged into each signature value (two pixels apart).
const ALONG: usize = 8;
/// Minimum ratio of the signature's spread to the spread of the samples it averages.
const MIN_CLARITY: f32 = 0.45;

/// The ridge period map.
#[derive(Debug, Clone)]
pub(crate) struct PeriodMap {
    /// Ridge period in pixels per block, within `[MIN_PERIOD, MAX_PERIOD]` everywhere.
    pub period: Grid<f32>,
    /// How clearly the ridges stood out in the block's signature, 0 to 1.
    pub clarity: Grid<f32>,
}

impl PeriodMap {
    /// The period at a pixel position, interpolated between blocks.
    pub fn at(&self, x: f32, y: f32) -> f32 {
        self.period.interpolate(x, y).clamp(MIN_PERIOD, MAX_PERIOD)
    }
}

/// Estimates the ridge period over the foreground blocks. The signature is taken once per 16×16
/// block (2×2 blocks of `mask`), Hong et al.'s block size, and the result interpolated back to `mask`'s
/// blocks.
pub(crate) fn estimate(img: &Plane, field: &OrientationField, mask: &Grid<bool>) -> PeriodMap {
    let b = mask.block;
    let coarse_mask = {
        let mut m = Grid::covering(mask.w * b, mask.h * b, 2 * b, false);
        for by in 0..mask.h {
            for bx in 0..mask.w {
                if mask.data[by * mask.w + bx] {
                    m.data[(by / 2) * m.w + bx / 2] = true;
                }
            }
        }
        m
    };
    let mut period = coarse_mask.like(0.0f32);
    let mut clarity = coarse_mask.like(0.0f32);
    let mut measured = coarse_mask.like(false);
    let mut sig = [0.0f32; LENGTH];
    for by in 0..coarse_mask.h {
        for bx in 0..coarse_mask.w {
            let k = by * coarse_mask.w + bx;
            if !coarse_mask.data[k] {
                continue;
            }
            let (cx, cy) = coarse_mask.centre(bx, by);
            let theta = field.at(cx, cy);
            let (c, p) = block_period(img, cx, cy, theta, &mut sig);
            clarity.data[k] = c;
            if let Some(p) = p {
                period.data[k] = p;
                measured.data[k] = true;
            }
        }
    }
    let filled = fill_unmeasured(&period, &measured, &coarse_mask);
    let weight = Grid { data: coarse_mask.data.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect(), ..filled.clone() };
    let smooth = smooth_grid(&filled, &weight, 1.0);
    let clarity = smooth_grid(&clarity, &weight, 0.5);
    // Back to the fine blocks.
    let mut fine_period = mask.like(0.0f32);
    let mut fine_clarity = mask.like(0.0f32);
    for by in 0..mask.h {
        for bx in 0..mask.w {
            let (cx, cy) = mask.centre(bx, by);
            let k = by * mask.w + bx;
            fine_period.data[k] = smooth.interpolate(cx, cy).clamp(MIN_PERIOD, MAX_PERIOD);
            fine_clarity.data[k] = clarity.interpolate(cx, cy).clamp(0.0, 1.0);
        }
    }
    PeriodMap { period: fine_period, clarity: fine_clarity }
}

/// Fills `sig` with the oriented signature at `(cx, cy)` and measures its clarity and, when reliable,
/// its period.
fn block_period(img: &Plane, cx: f32, cy: f32, theta: f32, sig: &mut [f32; LENGTH]) -> (f32, Option<f32>) {
    let clarity = signature(img, cx, cy, theta, sig);
    (clarity, period_of(sig, clarity))
}

/// Fills `sig` and returns its clarity: the spread of the signature over the spread of the samples.
fn signature(img: &Plane, cx: f32, cy: f32, theta: f32, sig: &mut [f32; LENGTH]) -> f32 {
    let (dx, dy) = (theta.cos(), theta.sin());
    let (nx, ny) = (-dy, dx);
    let mut total_sq = 0.0f32;
    for (i, s) in sig.iter_mut().enumerate() {
        let u = i as f32 - (LENGTH as f32 - 1.0) / 2.0;
        let mut acc = 0.0f32;
        for j in 0..ALONG {
            let v = 2.0 * (j as f32 - (ALONG as f32 - 1.0) / 2.0);
            let sample = img.sample(cx + u * nx + v * dx, cy + u * ny + v * dy);
            acc += sample;
            total_sq += sample * sample;
        }
        *s = acc / ALONG as f32;
    }
    let n = (LENGTH * ALONG) as f32;
    let (_, spread) = mean_and_spread(sig);
    let sample_rms = (total_sq / n).sqrt();
    if sample_rms.is_nan() || sample_rms <= 0.0 {
        return 0.0;
    }
    (spread / sample_rms).min(1.0)
}

/// The period of a signature, when it is clear and regular enough.
fn period_of(sig: &[f32; LENGTH], clarity: f32) -> Option<f32> {
    if clarity.is_nan() || clarity < MIN_CLARITY {
        return None;
    }
    let (mean, _) = mean_and_spread(sig);
    // Smooth lightly with [1 2 1] and find the mean crossings.
    let mut sm = [0.0f32; LENGTH];
    for i in 0..LENGTH {
        let a = sig[i.saturating_sub(1)];
        let b = sig[i];
        let c = sig[(i + 1).min(LENGTH - 1)];
        sm[i] = (a + 2.0 * b + c) / 4.0 - mean;
    }
    let mut crossings = [0.0f32; LENGTH];
    let mut count = 0usize;
    for i in 0..LENGTH - 1 {
        let (a, b) = (sm[i], sm[i + 1]);
        if (a < 0.0 && b >= 0.0) || (a >= 0.0 && b < 0.0) {
            let t = if a != b { a / (a - b) } else { 0.5 };
            crossings[count] = i as f32 + t;
            count += 1;
        }
    }
    if count < 3 {
        return None;
    }
    // Half-periods between consecutive crossings; a scar, a missing ridge or the window's edge makes a
    // few of them odd, so the period is the mean of those close to their median, and most must be.
    let mut gaps = [0.0f32; LENGTH];
    for i in 0..count - 1 {
        gaps[i] = crossings[i + 1] - crossings[i];
    }
    let gaps = &mut gaps[..count - 1];
    gaps.sort_by(f32::total_cmp);
    let median = gaps[gaps.len() / 2];
    let (mut sum, mut n) = (0.0f32, 0usize);
    for &g in gaps.iter() {
        if g >= 0.6 * median && g <= 1.5 * median {
            sum += g;
            n += 1;
        }
    }
    if n < 2 || n * 4 < gaps.len() * 3 {
        return None;
    }
    let half = sum / n as f32;
    let p = 2.0 * half;
    if !(MIN_PERIOD..=MAX_PERIOD).contains(&p) {
        return None;
    }
    Some(p)
}

/// Mean and standard deviation of a signature.
fn mean_and_spread(sig: &[f32; LENGTH]) -> (f32, f32) {
    let n = LENGTH as f32;
    let mean = sig.iter().sum::<f32>() / n;
    let var = sig.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt())
}

/// Fills unmeasured foreground blocks from measured neighbours (Gaussian-weighted, repeated until every
/// block has a value or nothing changes); with no measured block at all, uses the default period.
fn fill_unmeasured(period: &Grid<f32>, measured: &Grid<bool>, mask: &Grid<bool>) -> Grid<f32> {
    let mut p = period.clone();
    let mut known = measured.clone();
    if !known.data.iter().any(|&k| k) {
        p.data.fill(DEFAULT_PERIOD);
        return p;
    }
    const W: [[f32; 3]; 3] = [[0.5, 1.0, 0.5], [1.0, 0.0, 1.0], [0.5, 1.0, 0.5]];
    loop {
        let mut next_p = p.clone();
        let mut next_known = known.clone();
        let mut changed = false;
        let mut missing = false;
        for by in 0..p.h as isize {
            for bx in 0..p.w as isize {
                let k = by as usize * p.w + bx as usize;
                if known.data[k] {
                    continue;
                }
                let mut sum = 0.0f32;
                let mut wsum = 0.0f32;
                for dy in -1..=1isize {
                    for dx in -1..=1isize {
                        if known.get(bx + dx, by + dy) == Some(true) {
                            sum += W[(dy + 1) as usize][(dx + 1) as usize] * p.at_clamped(bx + dx, by + dy);
                            wsum += W[(dy + 1) as usize][(dx + 1) as usize];
                        }
                    }
                }
                if wsum > 0.0 {
                    next_p.data[k] = sum / wsum;
                    next_known.data[k] = true;
                    changed = true;
                } else if mask.data[k] {
                    missing = true;
                }
            }
        }
        p = next_p;
        known = next_known;
        if !changed || !missing {
            break;
        }
    }
    for (v, &k) in p.data.iter_mut().zip(&known.data) {
        if !k {
            *v = DEFAULT_PERIOD;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    fn plane_of_ridges(w: usize, h: usize, theta: f32, period: f32) -> Plane {
        let (nx, ny) = (-theta.sin(), theta.cos());
        let mut p = Plane::filled(w, h, 0.0);
        for y in 0..h {
            for x in 0..w {
                let d = x as f32 * nx + y as f32 * ny;
                p.data[y * w + x] = (2.0 * PI * d / period).cos();
            }
        }
        p
    }

    #[test]
    fn parallel_ridges_give_their_period() {
        for (deg, period) in [(0.0f32, 6.0f32), (30.0, 8.0), (90.0, 10.5), (140.0, 13.0)] {
            let theta = deg.to_radians();
            let img = plane_of_ridges(128, 128, theta, period);
            let mask = Grid::covering(128, 128, 8, true);
            let field = OrientationField::from_angles(mask.like(theta));
            let map = estimate(&img, &field, &mask);
            let got = map.at(64.0, 64.0);
            assert!((got - period).abs() < 0.3, "{deg}° period {period}: got {got}");
            assert!(map.clarity.data[8 * 16 + 8] > 0.9, "clarity {}", map.clarity.data[8 * 16 + 8]);
        }
    }

    #[test]
    fn flat_image_falls_back_to_default() {
        let img = Plane::filled(64, 64, 0.0);
        let mask = Grid::covering(64, 64, 8, true);
        let field = OrientationField::from_angles(mask.like(0.0));
        let map = estimate(&img, &field, &mask);
        assert!(map.period.data.iter().all(|&p| (p - DEFAULT_PERIOD).abs() < 1e-4));
    }
}
