//! The ridge orientation field: which way the ridges run in each block, and how sure we are.
//!
//! Method: the gradient structure tensor averaged over a window with doubled angles, after Kass & Witkin
//! (1987, "Analyzing oriented patterns") and Bazen & Gerez (2002, "Systematic methods for the
//! computation of the directional fields and singular points of fingerprints", IEEE PAMI 24(7)).
//! Sobel gradients `(gx, gy)` are summed over a 16×16 window centred on each 8×8 block (twice the block side) into
//! `Gxx = Σgx²`, `Gyy = Σgy²`, `Gxy = Σgx·gy`. The dominant gradient direction is
//! `½·atan2(2Gxy, Gxx − Gyy)` and the ridges run perpendicular to it. The coherence
//! `|(Gxx − Gyy, 2Gxy)| / (Gxx + Gyy)` (Bazen & Gerez, eq. 6) is 1 for perfectly parallel ridges and 0
//! for isotropic texture; it is the local reliability used by segmentation and quality.
//! The field is then smoothed as a doubled-angle vector field with a Gaussian over foreground blocks,
//! which averages orientations without the 0/π wrap-around problem.
//!
//! Angles in this module are in pixel coordinates (x right, y down): a ridge direction `θ ∈ [0, π)`
//! is the axis `(cos θ, sin θ)`. Conversion to the ISO convention happens only when minutiae are
//! written out (see [`super::minutiae`]).

use super::raster::{Grid, smooth_grid, window_sums};
use crate::fingerprint::image::GrayImage;

/// Block side in pixels for every block map of the extractor.
pub(crate) const BLOCK: usize = 8;
/// Gaussian smoothing of the doubled-angle field, in blocks.
const SMOOTH_SIGMA: f32 = 1.5;

/// Per-block sums of the gradient structure tensor over the block's window.
#[derive(Debug, Clone)]
pub(crate) struct Tensors {
    /// `Σ gx²` per block.
    pub gxx: Grid<f32>,
    /// `Σ gy²` per block.
    pub gyy: Grid<f32>,
    /// `Σ gx·gy` per block.
    pub gxy: Grid<f32>,
    /// Coherence of the raw (unsmoothed) tensor, 0 to 1.
    pub coherence: Grid<f32>,
}

/// The smoothed orientation field.
#[derive(Debug, Clone)]
pub(crate) struct OrientationField {
    /// `cos 2θ` of the smoothed field per block, weighted by its consistency (for interpolation).
    cos2: Grid<f32>,
    /// `sin 2θ` of the smoothed field per block, weighted by its consistency.
    sin2: Grid<f32>,
}

impl OrientationField {
    /// The ridge direction at a pixel position, interpolated between blocks, in `[0, π)`.
    pub fn at(&self, x: f32, y: f32) -> f32 {
        let c = self.cos2.interpolate(x, y);
        let s = self.sin2.interpolate(x, y);
        half_angle(s, c)
    }

    /// Builds a field from per-block angles (tests only).
    #[cfg(test)]
    pub fn from_angles(angle: Grid<f32>) -> Self {
        let cos2 = Grid { data: angle.data.iter().map(|a| (2.0 * a).cos()).collect(), ..angle.clone() };
        let sin2 = Grid { data: angle.data.iter().map(|a| (2.0 * a).sin()).collect(), ..angle };
        Self { cos2, sin2 }
    }
}

/// `½·atan2(s, c)` folded into `[0, π)`.
pub(crate) fn half_angle(s: f32, c: f32) -> f32 {
    let a = 0.5 * s.atan2(c);
    let a = if a < 0.0 { a + std::f32::consts::PI } else { a };
    if a >= std::f32::consts::PI { 0.0 } else { a }
}

/// Sobel gradients of the image and their tensor sums per block.
pub(crate) fn tensors(img: &GrayImage) -> Tensors {
    let w = img.width as usize;
    let h = img.height as usize;
    let (gx, gy) = sobel(&img.pixels, w, h);
    let xx: Vec<f32> = gx.iter().map(|g| g * g).collect();
    let yy: Vec<f32> = gy.iter().map(|g| g * g).collect();
    let xy: Vec<f32> = gx.iter().zip(&gy).map(|(a, b)| a * b).collect();
    let (gxx, _) = window_sums(&xx, w, h, BLOCK);
    let (gyy, _) = window_sums(&yy, w, h, BLOCK);
    let (gxy, _) = window_sums(&xy, w, h, BLOCK);
    let mut coherence = gxx.like(0.0f32);
    for k in 0..gxx.data.len() {
        let (sxx, syy, sxy) = (f64::from(gxx.data[k]), f64::from(gyy.data[k]), f64::from(gxy.data[k]));
        let total = sxx + syy;
        coherence.data[k] =
            if total > 0.0 { (((sxx - syy).powi(2) + 4.0 * sxy * sxy).sqrt() / total).min(1.0) as f32 } else { 0.0 };
    }
    Tensors { gxx, gyy, gxy, coherence }
}

/// Sobel derivatives along x and y, the edge pixels replicated outwards.
fn sobel(pixels: &[u8], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let mut gx = vec![0.0f32; w * h];
    let mut gy = vec![0.0f32; w * h];
    if w == 0 || h == 0 {
        return (gx, gy);
    }
    let row = |y: isize| -> &[u8] {
        let y = y.clamp(0, h as isize - 1) as usize;
        &pixels[y * w..(y + 1) * w]
    };
    for y in 0..h {
        let (up, mid, down) = (row(y as isize - 1), row(y as isize), row(y as isize + 1));
        for x in 0..w {
            let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let f = |s: &[u8], i: usize| f32::from(s[i]);
            let k = y * w + x;
            gx[k] = (f(up, r) + 2.0 * f(mid, r) + f(down, r)) - (f(up, l) + 2.0 * f(mid, l) + f(down, l));
            gy[k] = (f(down, l) + 2.0 * f(down, x) + f(down, r)) - (f(up, l) + 2.0 * f(up, x) + f(up, r));
        }
    }
    (gx, gy)
}

/// The smoothed ridge orientation field over the foreground blocks in `mask`.
pub(crate) fn field(t: &Tensors, mask: &Grid<bool>) -> OrientationField {
    // Doubled-angle vector of the ridge direction: the gradient's doubled angle turned by π.
    let mut c = t.gxx.like(0.0f32);
    let mut s = t.gxx.like(0.0f32);
    for k in 0..c.data.len() {
        // Normalise each block by its energy so that one high-contrast block does not dominate.
        let total = t.gxx.data[k] + t.gyy.data[k];
        if total > 0.0 {
            c.data[k] = -(t.gxx.data[k] - t.gyy.data[k]) / total;
            s.data[k] = -2.0 * t.gxy.data[k] / total;
        }
    }
    let weight = Grid { data: mask.data.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect(), ..c.clone() };
    let cs = smooth_grid(&c, &weight, SMOOTH_SIGMA);
    let ss = smooth_grid(&s, &weight, SMOOTH_SIGMA);
    OrientationField { cos2: cs, sin2: ss }
}

/// The smallest difference between two axes (angles modulo π), in `[0, π/2]`.
#[cfg(test)]
fn axis_difference(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(std::f32::consts::PI);
    d.min(std::f32::consts::PI - d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    /// Sinusoidal ridges whose crests run along `theta` (pixel coordinates), with the given period.
    pub(crate) fn ridges(w: u32, h: u32, theta: f32, period: f32) -> GrayImage {
        let (nx, ny) = (-theta.sin(), theta.cos());
        let mut pixels = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                let d = x as f32 * nx + y as f32 * ny;
                let v = 128.0 + 100.0 * (2.0 * PI * d / period).cos();
                pixels.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
        GrayImage { width: w, height: h, dpi: 500, pixels }
    }

    #[test]
    fn parallel_ridges_give_their_orientation() {
        for deg in [0.0f32, 20.0, 45.0, 90.0, 130.0, 170.0] {
            let theta = deg.to_radians();
            let img = ridges(128, 128, theta, 9.0);
            let t = tensors(&img);
            let mask = t.gxx.like(true);
            let f = field(&t, &mask);
            let a = f.at(64.0, 64.0);
            assert!(axis_difference(a, theta) < 2f32.to_radians(), "{deg}°: got {}", a.to_degrees());
            let k = 8 * t.coherence.w + 8;
            assert!(t.coherence.data[k] > 0.9, "coherence {}", t.coherence.data[k]);
        }
    }

    #[test]
    fn axis_difference_wraps() {
        assert!((axis_difference(0.05, PI - 0.05) - 0.1).abs() < 1e-5);
        assert!((axis_difference(0.0, PI / 2.0) - PI / 2.0).abs() < 1e-5);
    }
}
