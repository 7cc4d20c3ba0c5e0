//! Plain containers the extraction stages pass to each other: a float image ([`Plane`]), a per-block
//! map ([`Grid`]) and a summed-area table ([`Integral`]) for fast window sums.
//!
//! Nothing here knows about fingerprints. Every accessor that takes signed coordinates clamps or
//! checks them, so stages can ask for samples near (or beyond) the image edge without panicking.

/// A row-major image of `f32` samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plane {
    /// Columns.
    pub w: usize,
    /// Rows.
    pub h: usize,
    /// `w × h` samples.
    pub data: Vec<f32>,
}

impl Plane {
    /// A plane of `w × h` copies of `value`.
    pub fn filled(w: usize, h: usize, value: f32) -> Self {
        Self { w, h, data: vec![value; w * h] }
    }

    /// The sample at `(x, y)`, or `0.0` outside the plane.
    pub fn get(&self, x: isize, y: isize) -> f32 {
        if x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h {
            return 0.0;
        }
        self.data[y as usize * self.w + x as usize]
    }

    /// Bilinear interpolation at a real position; `0.0` beyond the edge.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let (ix, iy) = (floor(x), floor(y));
        let (ax, ay) = (x - ix as f32, y - iy as f32);
        if ix >= 0 && iy >= 0 && (ix as usize) + 1 < self.w && (iy as usize) + 1 < self.h {
            let k = iy as usize * self.w + ix as usize;
            let (a, b) = (self.data[k], self.data[k + 1]);
            let (c, d) = (self.data[k + self.w], self.data[k + self.w + 1]);
            return (a * (1.0 - ax) + b * ax) * (1.0 - ay) + (c * (1.0 - ax) + d * ax) * ay;
        }
        let a = self.get(ix, iy);
        let b = self.get(ix + 1, iy);
        let c = self.get(ix, iy + 1);
        let d = self.get(ix + 1, iy + 1);
        (a * (1.0 - ax) + b * ax) * (1.0 - ay) + (c * (1.0 - ax) + d * ax) * ay
    }
}

/// A map with one value per square block of `block` pixels; block `(bx, by)` covers pixels
/// `[bx·block, (bx+1)·block) × [by·block, (by+1)·block)` (the last row and column may be partial).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid<T> {
    /// Blocks across.
    pub w: usize,
    /// Blocks down.
    pub h: usize,
    /// Block side in pixels.
    pub block: usize,
    /// `w × h` values.
    pub data: Vec<T>,
}

impl<T: Copy> Grid<T> {
    /// A grid covering an image of `img_w × img_h` pixels, filled with `value`.
    pub fn covering(img_w: usize, img_h: usize, block: usize, value: T) -> Self {
        let w = img_w.div_ceil(block);
        let h = img_h.div_ceil(block);
        Self { w, h, block, data: vec![value; w * h] }
    }

    /// A grid of the same shape as `self`, filled with `value`.
    pub fn like<U: Copy>(&self, value: U) -> Grid<U> {
        Grid { w: self.w, h: self.h, block: self.block, data: vec![value; self.w * self.h] }
    }

    /// The value of block `(bx, by)`, clamped to the nearest block when outside.
    pub fn at_clamped(&self, bx: isize, by: isize) -> T {
        let x = bx.clamp(0, self.w as isize - 1) as usize;
        let y = by.clamp(0, self.h as isize - 1) as usize;
        self.data[y * self.w + x]
    }

    /// The value of block `(bx, by)`, `None` outside the grid.
    pub fn get(&self, bx: isize, by: isize) -> Option<T> {
        if bx < 0 || by < 0 || bx as usize >= self.w || by as usize >= self.h {
            return None;
        }
        Some(self.data[by as usize * self.w + bx as usize])
    }

    /// The pixel coordinates of the centre of block `(bx, by)`.
    pub fn centre(&self, bx: usize, by: usize) -> (f32, f32) {
        let b = self.block as f32;
        ((bx as f32 + 0.5) * b, (by as f32 + 0.5) * b)
    }
}

impl Grid<f32> {
    /// Bilinear interpolation between block centres at pixel `(x, y)`.
    pub fn interpolate(&self, x: f32, y: f32) -> f32 {
        let b = self.block as f32;
        let gx = x / b - 0.5;
        let gy = y / b - 0.5;
        let (ix, iy) = (floor(gx), floor(gy));
        let (ax, ay) = (gx - ix as f32, gy - iy as f32);
        let a = self.at_clamped(ix, iy);
        let bb = self.at_clamped(ix + 1, iy);
        let c = self.at_clamped(ix, iy + 1);
        let d = self.at_clamped(ix + 1, iy + 1);
        (a * (1.0 - ax) + bb * ax) * (1.0 - ay) + (c * (1.0 - ax) + d * ax) * ay
    }
}

impl Grid<f32> {
    /// The grid interpolated bilinearly between block centres at every pixel centre of a `w × h`
    /// image (the same values as [`Grid::interpolate`] at `(x + 0.5, y + 0.5)`, computed separably).
    pub fn upsample(&self, w: usize, h: usize) -> Vec<f32> {
        if self.w == 0 || self.h == 0 {
            return vec![0.0; w * h];
        }
        let axis = |n: usize, cells: usize| -> Vec<(usize, usize, f32)> {
            (0..n)
                .map(|i| {
                    let g = (i as f32 + 0.5) / self.block as f32 - 0.5;
                    let f = floor(g);
                    let a = g - f as f32;
                    let last = cells as isize - 1;
                    (f.clamp(0, last) as usize, (f + 1).clamp(0, last) as usize, a)
                })
                .collect()
        };
        let xs = axis(w, self.w);
        let ys = axis(h, self.h);
        // Interpolate each grid row along x, then mix rows along y.
        let mut rows = vec![0.0f32; self.h * w];
        for gy in 0..self.h {
            let src = &self.data[gy * self.w..(gy + 1) * self.w];
            for (x, &(i0, i1, a)) in xs.iter().enumerate() {
                rows[gy * w + x] = src[i0] * (1.0 - a) + src[i1] * a;
            }
        }
        let mut out = vec![0.0f32; w * h];
        for (y, &(j0, j1, a)) in ys.iter().enumerate() {
            let (r0, r1) = (&rows[j0 * w..(j0 + 1) * w], &rows[j1 * w..(j1 + 1) * w]);
            for ((o, &p), &q) in out[y * w..(y + 1) * w].iter_mut().zip(r0).zip(r1) {
                *o = p * (1.0 - a) + q * a;
            }
        }
        out
    }
}

/// `⌊v⌋` as an integer without a libm call (NaN gives 0, huge values saturate).
pub(crate) fn floor(v: f32) -> isize {
    let i = v as isize;
    if (i as f32) > v { i - 1 } else { i }
}

/// For every block of a `block`-pixel grid over a `w × h` image, the sum of `values` over the window of
/// `2·block` pixels centred on the block (clipped to the image), and the number of pixels summed.
/// The windows are aligned to cells of `block / 2` pixels, so each is the sum of 4×4 cell sums.
pub(crate) fn window_sums(values: &[f32], w: usize, h: usize, block: usize) -> (Grid<f32>, Grid<f32>) {
    let cell = (block / 2).max(1);
    let (cw, ch) = (w.div_ceil(cell), h.div_ceil(cell));
    let mut cells = vec![0.0f64; cw * ch];
    for (y, row) in values.chunks_exact(w.max(1)).take(h).enumerate() {
        let line = &mut cells[(y / cell) * cw..(y / cell + 1) * cw];
        for (x, &v) in row.iter().enumerate() {
            line[x / cell] += f64::from(v);
        }
    }
    let mut sums = Grid::covering(w, h, block, 0.0f32);
    let mut counts = sums.clone();
    for by in 0..sums.h {
        for bx in 0..sums.w {
            // Cells 2b−1 ..= 2b+2 cover pixels [block·b − block/2, block·b + 3·block/2).
            let (cx0, cy0) = ((2 * bx).saturating_sub(1), (2 * by).saturating_sub(1));
            let (cx1, cy1) = ((2 * bx + 3).min(cw), (2 * by + 3).min(ch));
            let mut s = 0.0f64;
            for cy in cy0..cy1 {
                for v in &cells[cy * cw + cx0..cy * cw + cx1] {
                    s += v;
                }
            }
            let half = (block / 2) as isize;
            let (x0, y0) = ((bx * block) as isize - half, (by * block) as isize - half);
            let span = |lo: isize, len: usize| -> f32 {
                let a = lo.max(0);
                let b = (lo + 2 * block as isize).min(len as isize);
                (b - a).max(0) as f32
            };
            let k = by * sums.w + bx;
            sums.data[k] = s as f32;
            counts.data[k] = span(x0, w) * span(y0, h);
        }
    }
    (sums, counts)
}

/// Gaussian smoothing of a block grid, counting only blocks where `weight` is positive; blocks with no
/// weighted neighbour keep their value. Computed separably as `G∗(w·v) / G∗w`.
pub(crate) fn smooth_grid(grid: &Grid<f32>, weight: &Grid<f32>, sigma: f32) -> Grid<f32> {
    let r = (2.0 * sigma).ceil().max(1.0) as isize;
    let taps: Vec<f32> = (-r..=r).map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let (gw, gh) = (grid.w, grid.h);
    let wv: Vec<f32> = grid.data.iter().zip(&weight.data).map(|(&v, &w)| if w > 0.0 { v * w } else { 0.0 }).collect();
    let ww: Vec<f32> = weight.data.iter().map(|&w| w.max(0.0)).collect();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut dst = vec![0.0f32; gw * gh];
        for y in 0..gh as isize {
            for x in 0..gw as isize {
                let mut acc = 0.0f32;
                for (i, &t) in taps.iter().enumerate() {
                    let d = i as isize - r;
                    let (sx, sy) = if horizontal { (x + d, y) } else { (x, y + d) };
                    if sx < 0 || sy < 0 || sx as usize >= gw || sy as usize >= gh {
                        continue;
                    }
                    acc += t * src[sy as usize * gw + sx as usize];
                }
                dst[y as usize * gw + x as usize] = acc;
            }
        }
        dst
    };
    let num = pass(&pass(&wv, true), false);
    let den = pass(&pass(&ww, true), false);
    let mut out = grid.clone();
    for ((o, &n), &d) in out.data.iter_mut().zip(&num).zip(&den) {
        if d > 1e-6 {
            *o = n / d;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsample_matches_interpolate() {
        let g = Grid { w: 3, h: 2, block: 8, data: vec![1.0, 5.0, 2.0, -3.0, 0.5, 7.0] };
        let up = g.upsample(21, 13);
        for y in 0..13 {
            for x in 0..21 {
                let a = up[y * 21 + x];
                let b = g.interpolate(x as f32 + 0.5, y as f32 + 0.5);
                assert!((a - b).abs() < 1e-4, "({x}, {y}): {a} vs {b}");
            }
        }
    }

    #[test]
    fn floor_without_libm() {
        assert_eq!(floor(1.5), 1);
        assert_eq!(floor(-1.5), -2);
        assert_eq!(floor(-2.0), -2);
        assert_eq!(floor(f32::NAN), 0);
    }

    #[test]
    fn window_sums_match_brute_force() {
        let (w, h, block) = (37usize, 29usize, 8usize);
        let vals: Vec<f32> = (0..w * h).map(|i| (i % 7) as f32 - 2.0).collect();
        let (sums, counts) = window_sums(&vals, w, h, block);
        for by in 0..sums.h {
            for bx in 0..sums.w {
                let (mut s, mut n) = (0.0f32, 0.0f32);
                let (x0, y0) = (bx as isize * 8 - 4, by as isize * 8 - 4);
                for y in y0..y0 + 16 {
                    for x in x0..x0 + 16 {
                        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                            s += vals[y as usize * w + x as usize];
                            n += 1.0;
                        }
                    }
                }
                let k = by * sums.w + bx;
                assert_eq!((sums.data[k], counts.data[k]), (s, n), "block ({bx}, {by})");
            }
        }
    }

    #[test]
    fn bilinear_sample_is_exact_on_pixels_and_zero_outside() {
        let mut p = Plane::filled(3, 3, 0.0);
        p.data[4] = 4.0;
        assert_eq!(p.sample(1.0, 1.0), 4.0);
        assert_eq!(p.sample(1.5, 1.0), 2.0);
        assert_eq!(p.sample(-5.0, 1.0), 0.0);
    }
}
