//! Foreground segmentation: which part of the image is finger, and how far each pixel is from the
//! edge of that part.
//!
//! Method: block-wise classification on grey-level variance and gradient coherence (two of the features
//! of Bazen & Gerez, 2001, "Segmentation of fingerprint images", ProRISC), with fixed thresholds
//! relative to the image's own statistics instead of a trained classifier, then morphological
//! cleanup on the block map (opening, closing, largest connected component, hole filling), as
//! described in Maltoni, Maio, Jain & Prabhakar, *Handbook of Fingerprint Recognition* (2nd ed.,
//! §3.5). The block mask is interpolated to a smooth pixel mask, and a chamfer distance transform
//! (Borgefors 1986, 3-4 weights) gives each pixel its distance to the background, which later stages use
//! to drop minutiae at the edge of the print.

use super::orientation::{BLOCK, Tensors};
use super::raster::{Grid, window_sums};
use crate::fingerprint::image::GrayImage;

/// Absolute floor on the grey-level standard deviation of a foreground block.
const MIN_STD: f32 = 6.0;
/// A foreground block's standard deviation must reach this fraction of the image's 90th percentile.
const REL_STD: f32 = 0.3;
/// A foreground block's gradients must be at least this coherent (isotropic noise is near 0).
const MIN_COHERENCE: f32 = 0.15;

/// The foreground of an image.
#[derive(Debug, Clone)]
pub(crate) struct Segmentation {
    /// Foreground blocks.
    pub blocks: Grid<bool>,
    /// Foreground pixels, row-major.
    pub mask: Vec<bool>,
    /// Distance in pixels from each pixel to the nearest background pixel (0 in the background);
    /// the outside of the image counts as background.
    pub border_distance: Vec<f32>,
    /// Grey-level mean per block.
    pub mean: Grid<f32>,
    /// Grey-level standard deviation per block.
    pub std: Grid<f32>,
}

impl Segmentation {
    /// Number of foreground pixels.
    pub fn area(&self) -> usize {
        self.mask.iter().filter(|&&m| m).count()
    }
}

/// Grey-level mean and standard deviation per block, over the block's window (twice the block side,
/// centred on it).
pub(crate) fn block_stats(img: &GrayImage) -> (Grid<f32>, Grid<f32>) {
    let w = img.width as usize;
    let h = img.height as usize;
    let v: Vec<f32> = img.pixels.iter().map(|&p| f32::from(p)).collect();
    let v2: Vec<f32> = v.iter().map(|p| p * p).collect();
    let (s1, n) = window_sums(&v, w, h, BLOCK);
    let (s2, _) = window_sums(&v2, w, h, BLOCK);
    let mut mean = s1.like(0.0f32);
    let mut std = s1.like(0.0f32);
    for k in 0..mean.data.len() {
        let count = f64::from(n.data[k]);
        if count <= 0.0 {
            continue;
        }
        let m = f64::from(s1.data[k]) / count;
        let var = (f64::from(s2.data[k]) / count - m * m).max(0.0);
        mean.data[k] = m as f32;
        std.data[k] = var.sqrt() as f32;
    }
    (mean, std)
}

/// Segments the image into foreground and background.
pub(crate) fn segment(img: &GrayImage, t: &Tensors) -> Segmentation {
    let (mean, std) = block_stats(img);
    let mut sorted: Vec<f32> = std.data.clone();
    sorted.sort_by(f32::total_cmp);
    let p90 = sorted.get(sorted.len() * 9 / 10).copied().unwrap_or(0.0);
    let threshold = MIN_STD.max(REL_STD * p90);

    let mut blocks = std.like(false);
    for k in 0..blocks.data.len() {
        blocks.data[k] = std.data[k] >= threshold && t.coherence.data[k] >= MIN_COHERENCE;
    }
    let blocks = cleanup(blocks);
    let w = img.width as usize;
    let h = img.height as usize;
    let mask = pixel_mask(&blocks, w, h);
    let border_distance = distance_to_background(&mask, w, h);
    Segmentation { blocks, mask, border_distance, mean, std }
}

/// Morphological cleanup of a block mask: opening, closing, largest component, holes filled.
fn cleanup(mask: Grid<bool>) -> Grid<bool> {
    let m = dilate(&erode(&mask));
    let m = erode(&dilate(&m));
    let m = largest_component(&m);
    fill_holes(&m)
}

/// 3×3 erosion; beyond the edge the nearest block is repeated, so a print that runs off the image is
/// not eaten away from the edge (the distance transform still treats the image edge as background).
fn erode(m: &Grid<bool>) -> Grid<bool> {
    neighbourhood(m, |all, _any| all)
}

/// 3×3 dilation.
fn dilate(m: &Grid<bool>) -> Grid<bool> {
    neighbourhood(m, |_all, any| any)
}

fn neighbourhood(m: &Grid<bool>, rule: impl Fn(bool, bool) -> bool) -> Grid<bool> {
    let mut out = m.clone();
    for y in 0..m.h as isize {
        for x in 0..m.w as isize {
            let mut all = true;
            let mut any = false;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let v = m.at_clamped(x + dx, y + dy);
                    all &= v;
                    any |= v;
                }
            }
            out.data[y as usize * m.w + x as usize] = rule(all, any);
        }
    }
    out
}

/// Labels the connected components (8- or 4-connected) where `m` equals `value`; returns labels
/// (0 = other value) and the size of each component (index = label − 1).
pub(crate) fn components(m: &[bool], w: usize, h: usize, value: bool, eight: bool) -> (Vec<u32>, Vec<usize>) {
    // Work in a frame one pixel wider on every side, so neighbours never need a bounds check.
    let pw = w + 2;
    let mut open = vec![false; pw * (h + 2)];
    for y in 0..h {
        for x in 0..w {
            open[(y + 1) * pw + x + 1] = m[y * w + x] == value;
        }
    }
    let p = pw as isize;
    let offsets: &[isize] = if eight { &[1, -1, p, -p, p + 1, p - 1, -p + 1, -p - 1] } else { &[1, -1, p, -p] };
    let mut framed = vec![0u32; pw * (h + 2)];
    let mut sizes = Vec::new();
    let mut stack = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let start = (y + 1) * pw + x + 1;
            if !open[start] {
                continue;
            }
            let label = sizes.len() as u32 + 1;
            let mut size = 0usize;
            open[start] = false;
            framed[start] = label;
            stack.push(start);
            while let Some(k) = stack.pop() {
                size += 1;
                for &o in offsets {
                    let n = (k as isize + o) as usize;
                    if open[n] {
                        open[n] = false;
                        framed[n] = label;
                        stack.push(n);
                    }
                }
            }
            sizes.push(size);
        }
    }
    let mut labels = vec![0u32; w * h];
    for y in 0..h {
        labels[y * w..(y + 1) * w].copy_from_slice(&framed[(y + 1) * pw + 1..(y + 1) * pw + 1 + w]);
    }
    (labels, sizes)
}

fn largest_component(m: &Grid<bool>) -> Grid<bool> {
    let (labels, sizes) = components(&m.data, m.w, m.h, true, true);
    let mut out = m.like(false);
    let Some((best, _)) = sizes.iter().enumerate().max_by_key(|&(i, &s)| (s, usize::MAX - i)) else {
        return out;
    };
    let best = best as u32 + 1;
    for (o, &l) in out.data.iter_mut().zip(&labels) {
        *o = l == best;
    }
    out
}

fn fill_holes(m: &Grid<bool>) -> Grid<bool> {
    let (labels, sizes) = components(&m.data, m.w, m.h, false, false);
    let mut touches = vec![false; sizes.len()];
    for y in 0..m.h {
        for x in 0..m.w {
            if x == 0 || y == 0 || x + 1 == m.w || y + 1 == m.h {
                let l = labels[y * m.w + x];
                if l > 0 {
                    touches[l as usize - 1] = true;
                }
            }
        }
    }
    let mut out = m.clone();
    for (o, &l) in out.data.iter_mut().zip(&labels) {
        if l > 0 && !touches[l as usize - 1] {
            *o = true;
        }
    }
    out
}

/// Interpolates the block mask to pixels (smooth edges rather than 8-pixel steps).
fn pixel_mask(blocks: &Grid<bool>, w: usize, h: usize) -> Vec<bool> {
    let f = Grid {
        w: blocks.w,
        h: blocks.h,
        block: blocks.block,
        data: blocks.data.iter().map(|&b| if b { 1.0f32 } else { 0.0 }).collect(),
    };
    f.upsample(w, h).into_iter().map(|v| v >= 0.5).collect()
}

/// Chamfer (3-4) distance from each pixel to the nearest background pixel, in pixels.
pub(crate) fn distance_to_background(mask: &[bool], w: usize, h: usize) -> Vec<f32> {
    const BIG: u32 = u32::MAX / 4;
    let mut d: Vec<u32> = mask.iter().map(|&m| if m { BIG } else { 0 }).collect();
    let at = |d: &[u32], x: isize, y: isize| -> u32 {
        if x < 0 || y < 0 || x as usize >= w || y as usize >= h { 0 } else { d[y as usize * w + x as usize] }
    };
    for y in 0..h as isize {
        for x in 0..w as isize {
            let k = y as usize * w + x as usize;
            if d[k] == 0 {
                continue;
            }
            let v = d[k]
                .min(at(&d, x - 1, y) + 3)
                .min(at(&d, x, y - 1) + 3)
                .min(at(&d, x - 1, y - 1) + 4)
                .min(at(&d, x + 1, y - 1) + 4);
            d[k] = v;
        }
    }
    for y in (0..h as isize).rev() {
        for x in (0..w as isize).rev() {
            let k = y as usize * w + x as usize;
            if d[k] == 0 {
                continue;
            }
            let v = d[k]
                .min(at(&d, x + 1, y) + 3)
                .min(at(&d, x, y + 1) + 3)
                .min(at(&d, x + 1, y + 1) + 4)
                .min(at(&d, x - 1, y + 1) + 4);
            d[k] = v;
        }
    }
    d.into_iter().map(|v| v as f32 / 3.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_grows_inwards() {
        let (w, h) = (9, 9);
        let mask = vec![true; w * h];
        let d = distance_to_background(&mask, w, h);
        assert_eq!(d[0], 1.0);
        assert_eq!(d[4 * w + 4], 5.0);
    }

    #[test]
    fn holes_are_filled_and_specks_dropped() {
        let mut g = Grid::covering(96, 96, 8, false);
        for y in 2..10 {
            for x in 2..10 {
                g.data[y * 12 + x] = true;
            }
        }
        g.data[5 * 12 + 5] = false;
        g.data[12 + 11] = true;
        let out = cleanup(g);
        assert!(out.data[5 * 12 + 5], "hole filled");
        assert!(out.data[3 * 12 + 3]);
        assert!(!out.data[12 + 11], "speck dropped");
        assert!(!out.data[0]);
    }

    #[test]
    fn a_print_filling_the_image_keeps_its_edge() {
        let g = Grid::covering(64, 64, 8, true);
        assert_eq!(cleanup(g.clone()), g);
    }
}
