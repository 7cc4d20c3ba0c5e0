//! Master fingerprints: the ridge pattern of a whole synthetic fingertip, grown as SFinGe grows it
//! (Cappelli, Maio & Maltoni, ICPR 2000, §2.3; *Handbook*, §6.6) — starting from a few isolated spikes
//! on an empty canvas and filtering the canvas again and again with Gabor filters tuned, pixel by
//! pixel, to the orientation ([`super::orientation`]) and ridge period ([`super::density`]) of the
//! finger, until the pattern stops changing. Where fronts grown from different seeds meet out of
//! phase, or the period changes, ridges end and fork: the minutiae are not placed, they appear. It owns
//! the filter bank and the growth; impressions are [`super::impression`]'s.
//!
//! The growth is computed in 8 × 8 blocks and only where something changed within a filter's reach at
//! the previous step, so its cost follows the moving fronts rather than the whole canvas.

use std::f32::consts::PI;

use super::density::{DensityMap, MAX_PERIOD, MIN_PERIOD};
use super::noise::ValueNoise;
use super::orientation::{Class, OrientationField};
use super::rng::{Purpose, SynthRng};
use super::shape::Shape;

/// Width of a master's canvas, pixels at 500 dpi.
pub const CANVAS_WIDTH: usize = 400;
/// Height of a master's canvas, pixels at 500 dpi.
pub const CANVAS_HEIGHT: usize = 520;
/// Radius of the growth filters, pixels (kernels are 13 × 13).
const RADIUS: usize = 6;
/// Kernel side.
const SIDE: usize = 2 * RADIUS + 1;
/// Orientations in the filter bank (over π).
const ORIENTATIONS: usize = 32;
/// Step between the bank's periods, pixels.
const PERIOD_STEP: f32 = 0.5;
/// Periods in the filter bank.
const PERIODS: usize = ((MAX_PERIOD - MIN_PERIOD) / PERIOD_STEP) as usize + 1;
/// Gaussian envelope of the filters, in ridge periods.
const SIGMA_PERIODS: f32 = 0.38;
/// Standard deviation of the ridge flow's wander about the orientation field, radians.
const WANDER: f32 = 0.15;
/// Gain before clipping to `[−1, 1]`: above 1, so that a faint pattern grows until it saturates.
const GAIN: f32 = 2.0;
/// Block side for the sparse update, pixels (above [`RADIUS`], so a change reaches only neighbours).
const BLOCK: usize = 8;
/// A block counts as changed when a pixel moved by more than this.
const SETTLED: f32 = 0.02;
/// Most filtering steps.
const MAX_STEPS: usize = 300;
/// A block is reached by the pattern once a value in it passes this.
const REACHED: f32 = 0.3;
/// Steps a block is filtered after the pattern reached it.
const MATURE: usize = 16;
/// Height of the starting spikes.
const SPIKE: f32 = 40.0;
/// How far beyond the fingertip's outline ridges are grown, pixels.
const MARGIN: f32 = 8.0;

/// A synthetic finger: its class, orientation and density, outline, and grown ridge pattern.
#[derive(Clone)]
pub struct Master {
    seed: u64,
    index: u64,
    /// The fingertip's outline on the canvas.
    pub shape: Shape,
    /// The ridge orientation field.
    pub field: OrientationField,
    /// The ridge period map.
    pub density: DensityMap,
    /// `CANVAS_WIDTH × CANVAS_HEIGHT` values in `[−1, 1]`, positive on ridges, 0 where nothing grew;
    /// lightly smoothed so that thresholds at different levels thicken or thin the ridges.
    ridges: Vec<f32>,
    /// Filtering steps the growth took.
    steps: usize,
}

/// Written by hand: the ridge pattern is large and says nothing in a log.
impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("seed", &self.seed)
            .field("index", &self.index)
            .field("class", &self.field.class())
            .field("steps", &self.steps)
            .finish()
    }
}

impl Master {
    /// Finger `index` of the set `seed`, its class drawn with natural frequencies.
    pub fn generate(seed: u64, index: u64) -> Master {
        let mut rng = SynthRng::new(seed, Purpose::Master, &[index]);
        let class = Class::draw(&mut rng);
        Master::grow(seed, index, class, rng)
    }

    /// Finger `index` of the set `seed`, of the given class.
    pub fn generate_class(seed: u64, index: u64, class: Class) -> Master {
        let mut rng = SynthRng::new(seed, Purpose::Master, &[index]);
        let _ = Class::draw(&mut rng); // the same stream position as `generate`
        Master::grow(seed, index, class, rng)
    }

    fn grow(seed: u64, index: u64, class: Class, mut rng: SynthRng) -> Master {
        let centre = (CANVAS_WIDTH as f32 / 2.0, CANVAS_HEIGHT as f32 / 2.0);
        let field = OrientationField::draw(class, centre, &mut rng);
        let density = DensityMap::draw(&field.singular_points(), &mut rng);
        let shape = Shape::draw(centre.0, centre.1, 1.0, &mut rng);
        let (ridges, steps) = grow_ridges(&shape, &field, &density, &mut rng);
        Master { seed, index, shape, field, density, ridges: smooth(&ridges), steps }
    }

    /// The set's seed and the finger's index.
    pub fn id(&self) -> (u64, u64) {
        (self.seed, self.index)
    }

    /// The finger's class.
    pub fn class(&self) -> Class {
        self.field.class()
    }

    /// Filtering steps the ridge growth took.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The ridge pattern at `(x, y)` on the canvas, bilinearly interpolated: in `[−1, 1]`, positive on
    /// ridges, 0 off the canvas and where nothing grew.
    pub fn ridge(&self, x: f32, y: f32) -> f32 {
        if !(x >= 0.0 && y >= 0.0) {
            return 0.0;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        if x0 + 1 >= CANVAS_WIDTH || y0 + 1 >= CANVAS_HEIGHT {
            return 0.0;
        }
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |xx: usize, yy: usize| self.ridges[yy * CANVAS_WIDTH + xx];
        let top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * fx;
        let bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * fx;
        top + (bottom - top) * fy
    }
}

/// The filter bank: `ORIENTATIONS × PERIODS` zero-mean Gabor kernels of `SIDE × SIDE`, each giving 1
/// on a unit cosine of its own orientation and period.
fn bank() -> Vec<f32> {
    let mut out = Vec::with_capacity(ORIENTATIONS * PERIODS * SIDE * SIDE);
    for o in 0..ORIENTATIONS {
        let theta = PI * o as f32 / ORIENTATIONS as f32;
        // Across the ridges: the normal of the ridge direction (cos θ, −sin θ) in pixel coordinates.
        let (nx, ny) = (theta.sin(), theta.cos());
        for p in 0..PERIODS {
            let period = MIN_PERIOD + PERIOD_STEP * p as f32;
            let sigma = SIGMA_PERIODS * period;
            let mut k = Vec::with_capacity(SIDE * SIDE);
            let mut env = Vec::with_capacity(SIDE * SIDE);
            for dy in 0..SIDE {
                for dx in 0..SIDE {
                    let (x, y) = (dx as f32 - RADIUS as f32, dy as f32 - RADIUS as f32);
                    let e = (-(x * x + y * y) / (2.0 * sigma * sigma)).exp();
                    env.push(e);
                    k.push(e * (2.0 * PI * (x * nx + y * ny) / period).cos());
                }
            }
            let mean = k.iter().sum::<f32>() / env.iter().sum::<f32>();
            for (v, e) in k.iter_mut().zip(&env) {
                *v -= mean * e;
            }
            let mut response = 0.0;
            for (i, v) in k.iter().enumerate() {
                let (x, y) = ((i % SIDE) as f32 - RADIUS as f32, (i / SIDE) as f32 - RADIUS as f32);
                response += v * (2.0 * PI * (x * nx + y * ny) / period).cos();
            }
            out.extend(k.iter().map(|v| v / response));
        }
    }
    out
}

/// Grows the ridge pattern; returns it and the number of filtering steps taken.
fn grow_ridges(shape: &Shape, field: &OrientationField, density: &DensityMap, rng: &mut SynthRng) -> (Vec<f32>, usize) {
    let (w, h) = (CANVAS_WIDTH, CANVAS_HEIGHT);
    let kernels = bank();
    // Real ridges do not follow a smooth field exactly: a slow wander of the flow makes them crowd and
    // spread, and ridges end or fork to keep their spacing.
    let wander = ValueNoise::new(w as f32, h as f32, 40.0, rng);
    // Each pixel's kernel, or none outside the growth area (and within a filter's reach of the edge).
    let mut which: Vec<Option<u32>> = vec![None; w * h];
    for y in RADIUS..h - RADIUS {
        for x in RADIUS..w - RADIUS {
            let (fx, fy) = (x as f32, y as f32);
            if shape.depth(fx, fy) < -MARGIN {
                continue;
            }
            let theta = field.at(fx, fy) + WANDER * wander.at(fx, fy);
            let o = (theta.rem_euclid(PI) / PI * ORIENTATIONS as f32).round() as usize % ORIENTATIONS;
            let p = ((density.period(fx, fy) - MIN_PERIOD) / PERIOD_STEP).round() as usize;
            which[y * w + x] = Some(((o * PERIODS + p.min(PERIODS - 1)) * SIDE * SIDE) as u32);
        }
    }
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut changed = vec![false; bw * bh];
    let mut cur = vec![0f32; w * h];
    // SFinGe's starting image: a few isolated spikes inside the fingertip.
    let seeds = rng.int(8, 16);
    let (x0, y0, x1, y1) = shape.bounds();
    let mut placed = 0;
    while placed < seeds {
        let (x, y) = (rng.range(x0, x1), rng.range(y0, y1));
        if shape.depth(x, y) < 25.0 {
            continue;
        }
        let (xi, yi) = (x as usize, y as usize);
        // Strong enough that the first filtering leaves a saturated wavelet of one kernel's size.
        cur[yi * w + xi] = SPIKE;
        changed[(yi / BLOCK) * bw + xi / BLOCK] = true;
        placed += 1;
    }
    let mut next = cur.clone();
    let mut steps = 0;
    let mut active = vec![false; bw * bh];
    // Blocks are filtered while something changed within reach, for at most MATURE steps after the
    // pattern first reaches them: by then their ridges have formed, and leaving them be lets the
    // cost follow the fronts.
    let mut age: Vec<Option<usize>> = vec![None; bw * bh];
    while steps < MAX_STEPS && changed.iter().any(|&c| c) {
        steps += 1;
        for by in 0..bh {
            for bx in 0..bw {
                let b = by * bw + bx;
                let mut any = false;
                for ny in by.saturating_sub(1)..(by + 2).min(bh) {
                    for nx in bx.saturating_sub(1)..(bx + 2).min(bw) {
                        any |= changed[ny * bw + nx];
                    }
                }
                active[b] = any && age[b].is_none_or(|a| a < MATURE);
            }
        }
        for by in 0..bh {
            for bx in 0..bw {
                let b = by * bw + bx;
                changed[b] = false;
                if !active[b] {
                    continue;
                }
                let (mut moved, mut strongest) = (0f32, 0f32);
                for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
                    for x in bx * BLOCK..((bx + 1) * BLOCK).min(w) {
                        let i = y * w + x;
                        let Some(k) = which[i] else { continue };
                        let k = &kernels[k as usize..k as usize + SIDE * SIDE];
                        let mut sum = 0.0;
                        for (ky, krow) in k.chunks_exact(SIDE).enumerate() {
                            let start = (y + ky - RADIUS) * w + x - RADIUS;
                            let row = &cur[start..start + SIDE];
                            sum += row.iter().zip(krow).map(|(a, b)| a * b).sum::<f32>();
                        }
                        let v = (GAIN * sum).clamp(-1.0, 1.0);
                        moved = moved.max((v - cur[i]).abs());
                        strongest = strongest.max(v.abs());
                        next[i] = v;
                    }
                }
                changed[b] = moved > SETTLED;
                age[b] = match age[b] {
                    Some(a) => Some(a + 1),
                    None if strongest > REACHED => Some(0),
                    None => None,
                };
            }
        }
        for by in 0..bh {
            for bx in 0..bw {
                if !active[by * bw + bx] {
                    continue;
                }
                for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
                    let (a, b) = (y * w + bx * BLOCK, y * w + ((bx + 1) * BLOCK).min(w));
                    cur[a..b].copy_from_slice(&next[a..b]);
                }
            }
        }
    }
    (cur, steps)
}

/// A 3 × 3 binomial smoothing, which rounds the clipped ridges' profile.
fn smooth(v: &[f32]) -> Vec<f32> {
    let (w, h) = (CANVAS_WIDTH, CANVAS_HEIGHT);
    let mut tmp = v.to_vec();
    for y in 0..h {
        for x in 1..w - 1 {
            let i = y * w + x;
            tmp[i] = 0.25 * v[i - 1] + 0.5 * v[i] + 0.25 * v[i + 1];
        }
    }
    let mut out = tmp.clone();
    for y in 1..h - 1 {
        for x in 0..w {
            let i = y * w + x;
            out[i] = 0.25 * tmp[i - w] + 0.5 * tmp[i] + 0.25 * tmp[i + w];
        }
    }
    out
}
