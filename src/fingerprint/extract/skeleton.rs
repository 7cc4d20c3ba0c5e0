//! From the enhanced image to a one-pixel-wide ridge skeleton.
//!
//! Binarisation takes the sign of the Gabor response (ridges positive) inside the foreground. Before
//! thinning, small valley holes inside ridges (pores, dirt) are filled and tiny ridge fragments removed,
//! the pre-processing recommended in Maltoni et al., *Handbook of Fingerprint Recognition* (2nd ed.,
//! §3.7.1), which prevents many false minutiae. Thinning is the parallel algorithm of Zhang & Suen (1984,
//! "A fast parallel algorithm for thinning digital patterns", CACM 27(3)). Zhang–Suen leaves two-pixel
//! "staircase" corners on diagonal lines, where the crossing number would report false bifurcations; a
//! final sequential pass deletes every such corner pixel whose removal keeps the local connectivity
//! (a simple-point test on the 3×3 neighbourhood).
//!
//! The skeleton is stored with a one-pixel frame of background so that neighbourhood reads never leave
//! the buffer.

use std::sync::OnceLock;

use super::raster::Plane;
use super::segment::components;

/// Valley holes up to this fraction of the squared ridge period are filled.
const HOLE_FRACTION: f32 = 0.25;
/// Ridge fragments up to this fraction of the squared ridge period are removed.
const FRAGMENT_FRACTION: f32 = 0.5;

/// A binary skeleton with a one-pixel background frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Skeleton {
    /// Image columns (without the frame).
    pub w: usize,
    /// Image rows (without the frame).
    pub h: usize,
    /// `(w+2) × (h+2)` cells, 1 on the skeleton.
    cells: Vec<u8>,
}

/// Offsets of the eight neighbours in ring order: E, SE, S, SW, W, NW, N, NE.
pub(crate) const RING: [(isize, isize); 8] = [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)];

impl Skeleton {
    /// An empty skeleton of `w × h`.
    pub fn empty(w: usize, h: usize) -> Self {
        Self { w, h, cells: vec![0; (w + 2) * (h + 2)] }
    }

    /// From a row-major binary image.
    pub fn from_binary(bin: &[bool], w: usize, h: usize) -> Self {
        let mut s = Self::empty(w, h);
        for y in 0..h {
            for x in 0..w {
                if bin[y * w + x] {
                    s.cells[(y + 1) * (w + 2) + x + 1] = 1;
                }
            }
        }
        s
    }

    /// Whether `(x, y)` is on the skeleton (false outside the image).
    pub fn at(&self, x: isize, y: isize) -> bool {
        if x < -1 || y < -1 || x > self.w as isize || y > self.h as isize {
            return false;
        }
        self.cells[(y + 1) as usize * (self.w + 2) + (x + 1) as usize] != 0
    }

    /// The 8-bit ring code of `(x, y)`: bit `i` set when neighbour `RING[i]` is on the skeleton.
    pub fn ring(&self, x: isize, y: isize) -> u8 {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            return self.ring_at((y as usize + 1) * (self.w + 2) + x as usize + 1);
        }
        let mut code = 0u8;
        for (i, (dx, dy)) in RING.iter().enumerate() {
            if self.at(x + dx, y + dy) {
                code |= 1 << i;
            }
        }
        code
    }

    /// The crossing number of `(x, y)`: half the number of on/off transitions around its ring
    /// (1 = ridge ending, 2 = ridge continues, 3 or more = bifurcation or crossing).
    pub fn crossing_number(&self, x: isize, y: isize) -> u8 {
        crossing_number(self.ring(x, y))
    }

    /// The ring code of the cell at framed index `k`, which must lie inside the image (not on the frame).
    fn ring_at(&self, k: usize) -> u8 {
        let pw = self.w + 2;
        let c = &self.cells;
        c[k + 1]
            | c[k + pw + 1] << 1
            | c[k + pw] << 2
            | c[k + pw - 1] << 3
            | c[k - 1] << 4
            | c[k - pw - 1] << 5
            | c[k - pw] << 6
            | c[k - pw + 1] << 7
    }

    /// Framed indices of the skeleton pixels, in raster order.
    fn indices(&self) -> Vec<usize> {
        let pw = self.w + 2;
        let mut out = Vec::new();
        for y in 1..=self.h {
            for k in y * pw + 1..y * pw + 1 + self.w {
                if self.cells[k] != 0 {
                    out.push(k);
                }
            }
        }
        out
    }

    /// Image coordinates of a framed index.
    fn coords(&self, k: usize) -> (isize, isize) {
        let pw = self.w + 2;
        ((k % pw) as isize - 1, (k / pw) as isize - 1)
    }

    /// Every skeleton pixel, in raster order.
    pub fn pixels(&self) -> impl Iterator<Item = (isize, isize)> + '_ {
        self.indices().into_iter().map(|k| self.coords(k))
    }
}

/// Crossing number of a ring code.
pub(crate) fn crossing_number(ring: u8) -> u8 {
    static TABLE: OnceLock<[u8; 256]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|code| crossing_number_of(code as u8)))[ring as usize]
}

fn crossing_number_of(ring: u8) -> u8 {
    let mut t = 0u8;
    for i in 0..8 {
        let a = (ring >> i) & 1;
        let b = (ring >> ((i + 1) % 8)) & 1;
        t += a ^ b;
    }
    t / 2
}

/// Binarises the enhanced image inside the mask, cleans it, and thins it.
pub(crate) fn skeletonise(enhanced: &Plane, mask: &[bool], typical_period: f32) -> Skeleton {
    let (w, h) = (enhanced.w, enhanced.h);
    let mut bin: Vec<bool> = enhanced.data.iter().zip(mask).map(|(&v, &m)| m && v > 0.0).collect();
    let area = typical_period * typical_period;
    // Fill small valley holes (4-connected background regions enclosed by ridge).
    let (labels, sizes) = components(&bin, w, h, false, false);
    let hole_max = (HOLE_FRACTION * area) as usize;
    for (k, b) in bin.iter_mut().enumerate() {
        let l = labels[k];
        if l > 0 && sizes[l as usize - 1] <= hole_max && mask[k] {
            *b = true;
        }
    }
    // Remove small ridge fragments.
    let (labels, sizes) = components(&bin, w, h, true, true);
    let frag_max = (FRAGMENT_FRACTION * area) as usize;
    for (k, b) in bin.iter_mut().enumerate() {
        let l = labels[k];
        if l > 0 && sizes[l as usize - 1] <= frag_max {
            *b = false;
        }
    }
    let mut s = Skeleton::from_binary(&bin, w, h);
    zhang_suen(&mut s);
    remove_staircases(&mut s);
    s
}

/// Zhang–Suen thinning, in place.
fn zhang_suen(s: &mut Skeleton) {
    let mut candidates = s.indices();
    let mut delete = Vec::new();
    loop {
        let mut changed = false;
        for pass in 0..2 {
            delete.clear();
            for &k in &candidates {
                if s.cells[k] == 0 {
                    continue;
                }
                let ring = s.ring_at(k);
                // Zhang & Suen name the neighbours P2 (north) clockwise to P9 (north-west).
                let bit = |i: usize| (ring >> i) & 1 == 1;
                let (e, south, west, north) = (bit(0), bit(2), bit(4), bit(6));
                let b = ring.count_ones();
                if !(2..=6).contains(&b) || crossing_number(ring) != 1 {
                    continue;
                }
                // Pass 1: not (N·E·S) and not (E·S·W); pass 2: not (N·E·W) and not (N·S·W).
                let ok = if pass == 0 { !(e && south && (north || west)) } else { !(north && west && (e || south)) };
                if ok {
                    delete.push(k);
                }
            }
            for &k in &delete {
                s.cells[k] = 0;
            }
            changed |= !delete.is_empty();
        }
        if !changed {
            break;
        }
        candidates.retain(|&k| s.cells[k] != 0);
    }
}

/// For each ring code, the number of 8-connected groups of set neighbours.
fn neighbour_groups() -> &'static [u8; 256] {
    static TABLE: OnceLock<[u8; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u8; 256];
        for (code, slot) in t.iter_mut().enumerate() {
            let mut parent: [usize; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
            fn find(p: &mut [usize; 8], mut i: usize) -> usize {
                while p[i] != i {
                    i = p[i];
                }
                i
            }
            for (i, a) in RING.iter().enumerate() {
                for (j, b) in RING.iter().enumerate().skip(i + 1) {
                    let on = (code >> i) & 1 == 1 && (code >> j) & 1 == 1;
                    let adjacent = (a.0 - b.0).abs() <= 1 && (a.1 - b.1).abs() <= 1;
                    if on && adjacent {
                        let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                        parent[ri] = rj;
                    }
                }
            }
            let mut roots = 0u8;
            for i in 0..8 {
                if (code >> i) & 1 == 1 && find(&mut parent, i) == i {
                    roots += 1;
                }
            }
            *slot = roots;
        }
        t
    })
}

/// Deletes staircase corner pixels: a pixel with two orthogonal neighbours at right angles (N and E,
/// E and S, S and W, or W and N) whose set neighbours form one connected group and which is not an end.
fn remove_staircases(s: &mut Skeleton) {
    let groups = neighbour_groups();
    for k in s.indices() {
        let ring = s.ring_at(k);
        let bit = |i: usize| (ring >> i) & 1 == 1;
        let (e, south, west, north) = (bit(0), bit(2), bit(4), bit(6));
        // Two orthogonal neighbours at a right angle: (N or S) and (E or W).
        let corner = (north || south) && (e || west);
        if corner && ring.count_ones() >= 2 && groups[ring as usize] == 1 {
            s.cells[k] = 0;
        }
    }
    // Isolated points are no ridge at all.
    for k in s.indices() {
        if s.ring_at(k) == 0 {
            s.cells[k] = 0;
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A skeleton drawn as text, `#` for ridge pixels.
    pub(in crate::fingerprint::extract) fn from_rows(rows: &[&str]) -> Skeleton {
        let h = rows.len();
        let w = rows[0].len();
        let bin: Vec<bool> = rows.iter().flat_map(|r| r.bytes().map(|b| b == b'#')).collect();
        Skeleton::from_binary(&bin, w, h)
    }

    #[test]
    fn thick_bar_thins_to_one_line() {
        let mut s = from_rows(&[
            "..............",
            ".############.",
            ".############.",
            ".############.",
            ".############.",
            "..............",
        ]);
        zhang_suen(&mut s);
        remove_staircases(&mut s);
        for x in 3..10 {
            let col: usize = (0..6).filter(|&y| s.at(x, y)).count();
            assert_eq!(col, 1, "column {x}");
        }
        let ends = s.pixels().filter(|&(x, y)| s.crossing_number(x, y) == 1).count();
        assert_eq!(ends, 2);
    }

    #[test]
    fn staircase_corners_are_removed() {
        let mut s = from_rows(&["##....", ".##...", "..##..", "...##.", "....##"]);
        remove_staircases(&mut s);
        let bad = s.pixels().filter(|&(x, y)| s.crossing_number(x, y) >= 3).count();
        assert_eq!(bad, 0);
        let ends = s.pixels().filter(|&(x, y)| s.crossing_number(x, y) == 1).count();
        assert_eq!(ends, 2);
    }

    #[test]
    fn crossing_numbers() {
        assert_eq!(crossing_number(0b0000_0001), 1);
        assert_eq!(crossing_number(0b0001_0001), 2);
        assert_eq!(crossing_number(0b0101_0001), 3);
        assert_eq!(crossing_number(0), 0);
    }
}
