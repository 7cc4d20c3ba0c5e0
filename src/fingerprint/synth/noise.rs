//! Smooth random fields ("value noise"): random normal values on a square lattice, interpolated with
//! smoothstep weights. Used wherever the generator needs a quantity that wanders slowly over the
//! finger or the image (ridge flow irregularities, skin condition, pores, sensor shading).

use super::rng::SynthRng;

/// Smooth random values on a lattice of `spacing` pixels, bilinearly interpolated ("value noise").
pub(crate) struct ValueNoise {
    spacing: f32,
    cols: usize,
    rows: usize,
    values: Vec<f32>,
}

impl ValueNoise {
    /// Standard normal values covering `width × height` pixels.
    pub(crate) fn new(width: f32, height: f32, spacing: f32, rng: &mut SynthRng) -> ValueNoise {
        let cols = (width / spacing).ceil() as usize + 2;
        let rows = (height / spacing).ceil() as usize + 2;
        let values = (0..cols * rows).map(|_| rng.normal()).collect();
        ValueNoise { spacing, cols, rows, values }
    }

    /// The value at `(x, y)`.
    pub(crate) fn at(&self, x: f32, y: f32) -> f32 {
        let (gx, gy) = ((x / self.spacing).max(0.0), (y / self.spacing).max(0.0));
        let (x0, y0) = ((gx as usize).min(self.cols - 2), (gy as usize).min(self.rows - 2));
        let (fx, fy) = ((gx - x0 as f32).min(1.0), (gy - y0 as f32).min(1.0));
        // Smoothstep weights hide the lattice.
        let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
        let v = |c: usize, r: usize| self.values[r * self.cols + c];
        let top = v(x0, y0) + (v(x0 + 1, y0) - v(x0, y0)) * sx;
        let bottom = v(x0, y0 + 1) + (v(x0 + 1, y0 + 1) - v(x0, y0 + 1)) * sx;
        top + (bottom - top) * sy
    }
}
