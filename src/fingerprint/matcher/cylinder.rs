//! Minutia Cylinder-Code, bit version (Cappelli, Ferrara & Maltoni, IEEE TPAMI 32(12), 2010, §3): for
//! each minutia, a cylinder of `NS × NS` spatial cells (side `2R`, turned with the minutia) by `ND`
//! angular layers records which neighbouring minutiae lie near each cell with which relative direction.
//! Each cell is one bit (the paper's `Ψ_Bit`); a second bit set per spatial cell says whether the cell is
//! *valid*: within `R` of the minutia and inside the template's convex hull grown by `Ω`, so that the
//! comparison only looks where both fingers could have shown minutiae.

use super::Point;
use super::geometry::{Hull, SIDE_SLACK, Sides, angle_diff, normal_mass};
use super::params::{DELTA_D, DELTA_S, MIN_M, MIN_VC, MU_PSI, ND, NS, OMEGA, R, SIGMA_D, SIGMA_S, WORDS};

/// Cells of a cylinder as bits, with the spatial validity mask: `B` words of cells (layer `k` is words
/// `k·B/ND ..`), `M` words of mask (one layer's worth).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Code<const B: usize, const M: usize> {
    /// Cell `(i, j)` of layer `k` is bit `i·side + j` of layer `k`'s words.
    pub(crate) bits: [u64; B],
    /// Valid spatial cells, same numbering.
    pub(crate) mask: [u64; M],
    /// Bits set in `bits`.
    pub(crate) ones: u32,
    /// Bits set in `mask`.
    pub(crate) valid: u32,
}

/// Side of the coarse cylinder, in cells.
pub(crate) const COARSE_NS: usize = 8;
const _: () = assert!(NS.is_multiple_of(COARSE_NS) && COARSE_NS * COARSE_NS == 64);

/// A cylinder at full resolution.
pub(crate) type FineCode = Code<{ ND * WORDS }, WORDS>;
/// A cylinder at coarse resolution.
pub(crate) type CoarseCode = Code<ND, 1>;

/// One minutia's cylinder, at full resolution and at `COARSE_NS × COARSE_NS` (each coarse cell the OR
/// of the fine cells it covers), the coarse one to shortlist candidate pairs cheaply.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Cylinder {
    /// `NS × NS × ND` cells.
    pub(crate) fine: FineCode,
    /// `COARSE_NS × COARSE_NS × ND` cells, one word per layer.
    pub(crate) coarse: CoarseCode,
}

/// Written by hand: the bits describe a finger and must not reach a log.
impl std::fmt::Debug for Cylinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cylinder(..)")
    }
}

/// Spatial cells whose centre lies within `R` of the cylinder's centre (independent of any template).
pub(crate) fn disc_cells() -> u32 {
    GRID.disc_count
}

/// Coarse cells covering at least one fine cell of the disc.
pub(crate) fn coarse_disc_cells() -> u32 {
    let mut m = 0u64;
    for c in 0..NS * NS {
        if GRID.disc[c / 64] >> (c % 64) & 1 == 1 {
            m |= 1 << coarse_cell(c);
        }
    }
    m.count_ones()
}

/// The coarse cell covering fine cell `c`.
fn coarse_cell(c: usize) -> usize {
    let f = NS / COARSE_NS;
    (c / NS / f) * COARSE_NS + (c % NS) / f
}

/// What every cylinder shares, computed once.
struct Grid {
    /// Cell `(i, j)`'s centre in the cylinder's frame is `(coord[i], coord[j])`.
    coord: [f32; NS],
    /// The same by cell number: cell `c`'s centre is `(cell_u[c], cell_v[c])`.
    cell_u: [f32; NS * NS],
    /// See `cell_u`.
    cell_v: [f32; NS * NS],
    /// The cells whose centre lies within `R` of the cylinder's centre, numbered as in [`Code`].
    disc: [u64; WORDS],
    /// Cells in `disc`.
    disc_count: u32,
    /// Layer centres: −π + (k + ½)·ΔD.
    layer: [f32; ND],
}

static GRID: std::sync::LazyLock<Grid> = std::sync::LazyLock::new(|| {
    let half = (NS as f32 - 1.0) / 2.0;
    let coord = std::array::from_fn(|i| DELTA_S * (i as f32 - half));
    let mut disc = [0u64; WORDS];
    for c in 0..NS * NS {
        let (u, v) = (coord[c / NS], coord[c % NS]);
        if u * u + v * v <= R * R {
            disc[c / 64] |= 1 << (c % 64);
        }
    }
    let disc_count = disc.iter().map(|w| w.count_ones()).sum();
    let layer = std::array::from_fn(|k| -std::f32::consts::PI + (k as f32 + 0.5) * DELTA_D);
    let (cell_u, cell_v) = (std::array::from_fn(|c| coord[c / NS]), std::array::from_fn(|c| coord[c % NS]));
    Grid { coord, cell_u, cell_v, disc, disc_count, layer }
});

/// A neighbour of a cylinder's minutia, in the cylinder's frame.
struct Near {
    u: f32,
    v: f32,
    /// Its direction relative to the minutia's (the paper's `dφ(θm, θt)`).
    d_theta: f32,
}

/// The cylinders of `points` (in the same order), or `None` for a minutia whose cylinder is invalid:
/// fewer than `MIN_M` neighbours within `R + 3σS`, or fewer than `MIN_VC` of its disc's cells valid.
///
/// Each neighbour adds to the cells within `3σS` of it (the paper's `C_S` is cut there), a patch of
/// about 7 × 7 cells: the cells' sums are the same as when each cell visits every neighbour, added in
/// the same order, so the bits are too (the test below compares with that direct form).
pub(crate) fn build(points: &[Point]) -> Vec<Option<Cylinder>> {
    let hull = Hull::new(points.iter().map(|p| (p.x, p.y)), OMEGA);
    let sides = hull.sides();
    let grid = &*GRID;
    let disc = grid.disc_count as f32;
    let reach = R + 3.0 * SIGMA_S;
    let mut near: Vec<Near> = Vec::new();
    let mut close_sides: Vec<(f32, f32, f32)> = Vec::new();
    let mut sums = vec![[0f32; ND]; NS * NS];
    points
        .iter()
        .enumerate()
        .map(|(mi, m)| {
            let (c, s) = (m.angle.cos(), m.angle.sin());
            near.clear();
            for (ti, t) in points.iter().enumerate() {
                let (dx, dy) = (t.x - m.x, t.y - m.y);
                if ti == mi || dx * dx + dy * dy > reach * reach {
                    continue;
                }
                // The cylinder's frame: u along the minutia's direction (cos a, −sin a) in pixel
                // coordinates, v across it; both unchanged when the whole finger turns or moves.
                let (u, v) = (dx * c - dy * s, dx * s + dy * c);
                near.push(Near { u, v, d_theta: angle_diff(t.angle, m.angle) });
            }
            if near.len() < MIN_M {
                return None;
            }
            let mask = valid_cells(m, (c, s), &hull, sides.as_ref(), &mut close_sides);
            let valid: u32 = mask.iter().map(|w| w.count_ones()).sum();
            if (valid as f32) < MIN_VC * disc {
                return None;
            }
            let mut touched = [0u64; WORDS];
            for n in &near {
                add_neighbour(n, &mask, &mut sums, &mut touched);
            }
            let mut cyl = Code::<{ ND * WORDS }, WORDS> { bits: [0; ND * WORDS], mask, ones: 0, valid };
            // Only valid cells are added to; the others' sums stay 0, below μΨ. Each sum read is reset
            // for the next cylinder.
            for (w, &t) in touched.iter().enumerate() {
                let mut t = t;
                while t != 0 {
                    let b = t.trailing_zeros() as usize;
                    t &= t - 1;
                    let sum = std::mem::take(&mut sums[w * 64 + b]);
                    for (k, &v) in sum.iter().enumerate() {
                        cyl.bits[k * WORDS + w] |= u64::from(v >= MU_PSI) << b;
                    }
                }
            }
            cyl.ones = cyl.bits.iter().map(|w| w.count_ones()).sum();
            Some(Cylinder { coarse: coarsen(&cyl), fine: cyl })
        })
        .collect()
}

/// Adds neighbour `n`'s contributions (paper eq. 2–6: `C_S · C_D`) to the valid cells within `3σS` of
/// it, marking them in `touched`. The angular part is computed only if some cell takes it.
fn add_neighbour(n: &Near, mask: &[u64; WORDS], sums: &mut [[f32; ND]], touched: &mut [u64; WORDS]) {
    let grid = &*GRID;
    let cutoff2 = (3.0 * SIGMA_S) * (3.0 * SIGMA_S);
    let gs_norm = 1.0 / (SIGMA_S * (std::f32::consts::TAU).sqrt());
    // A cell counts when (n.u − u)² + (n.v − v)² ≤ cutoff2, rounded as below. The rows and, in each
    // row, the columns visited are a little wider (by far more than the rounding), so none is missed.
    let slack = 0.1;
    let half = (NS as f32 - 1.0) / 2.0;
    // The indices strictly between those of `centre ± radius` (a cell exactly there is beyond the
    // slack), as `floor(·) + 1` by truncation: `as` saturates (negatives and NaN to 0).
    let span = |centre: f32, radius: f32| {
        let lo = ((centre - radius) / DELTA_S + half + 1.0) as usize;
        let end = ((centre + radius) / DELTA_S + half + 1.0).min(NS as f32) as usize;
        lo..end
    };
    let mut gd: Option<[f32; ND]> = None;
    for i in span(n.u, 3.0 * SIGMA_S + slack) {
        let du = n.u - grid.coord[i];
        let du2 = du * du;
        for j in span(n.v, (cutoff2 - du2).max(0.0).sqrt() + slack) {
            let cell = i * NS + j;
            if mask[cell / 64] >> (cell % 64) & 1 == 0 {
                continue;
            }
            let dv = n.v - grid.coord[j];
            let d2 = du2 + dv * dv;
            if d2 <= cutoff2 {
                let gs = gs_norm * (-d2 / (2.0 * SIGMA_S * SIGMA_S)).exp();
                let g = gd.get_or_insert_with(|| angular(n.d_theta, &grid.layer));
                touched[cell / 64] |= 1 << (cell % 64);
                for (s, g) in sums[cell].iter_mut().zip(g.iter()) {
                    *s += gs * g;
                }
            }
        }
    }
}

/// A neighbour's contribution to each layer by its relative direction `d_theta` (paper eq. 6: the
/// normal density of deviation σD integrated over the layer).
fn angular(d_theta: f32, layer: &[f32; ND]) -> [f32; ND] {
    std::array::from_fn(|k| {
        let a = f64::from(angle_diff(layer[k], d_theta));
        let h = f64::from(DELTA_D) / 2.0;
        normal_mass(a - h, a + h, f64::from(SIGMA_D)) as f32
    })
}

/// The valid cells of the cylinder of `m` (direction's cosine and sine `cs`): within `R` of `m` and in
/// `hull`. Most cells are decided by their distances from the few sides of the hull that pass near `m`
/// ([`Sides::verdict`]); only those near the edge of the grown hull ask `hull` itself.
fn valid_cells(
    m: &Point,
    (c, s): (f32, f32),
    hull: &Hull,
    sides: Option<&Sides>,
    close: &mut Vec<(f32, f32, f32)>,
) -> [u64; WORDS] {
    let grid = &*GRID;
    // The cell's centre in pixel coordinates, computed as the hull has always been asked.
    let contains = |cell: usize| {
        let (u, v) = (grid.cell_u[cell], grid.cell_v[cell]);
        hull.contains(m.x + u * c + v * s, m.y - u * s + v * c)
    };
    let mut mask = [0u64; WORDS];
    let Some(sides) = sides else {
        for cell in 0..NS * NS {
            if grid.disc[cell / 64] >> (cell % 64) & 1 == 1 && contains(cell) {
                mask[cell / 64] |= 1 << (cell % 64);
            }
        }
        return mask;
    };
    // A side whose line passes farther than R − inner from `m` leaves every disc cell far enough
    // inside it to be contained as far as that side can tell: the verdict hangs on the others.
    close.clear();
    for side in sides.iter() {
        let base = side.distance(m.x, m.y);
        if base < R + sides.contained_from() + SIDE_SLACK {
            // The distance as a function of the cell's offset (u, v) in the cylinder's frame.
            let (nx, ny) = side.normal();
            close.push((base, nx * c - ny * s, nx * s + ny * c));
        }
    }
    if close.is_empty() {
        return grid.disc;
    }
    let mut d = [f32::INFINITY; NS * NS];
    for &(base, a, b) in close.iter() {
        for ((d, &u), &v) in d.iter_mut().zip(&grid.cell_u).zip(&grid.cell_v) {
            *d = d.min(base + a * u + b * v);
        }
    }
    for (cell, &d) in d.iter().enumerate() {
        let (w, b) = (cell / 64, cell % 64);
        if grid.disc[w] >> b & 1 == 1 {
            let inside = sides.verdict(d).unwrap_or_else(|| contains(cell));
            mask[w] |= u64::from(inside) << b;
        }
    }
    mask
}

/// The coarse code of a fine one.
fn coarsen(fine: &Code<{ ND * WORDS }, WORDS>) -> Code<ND, 1> {
    let mut out = Code { bits: [0; ND], mask: [coarse_word(&fine.mask)], ones: 0, valid: 0 };
    for (k, b) in out.bits.iter_mut().enumerate() {
        *b = coarse_word(&std::array::from_fn(|w| fine.bits[k * WORDS + w]));
    }
    out.ones = out.bits.iter().map(|w| w.count_ones()).sum();
    out.valid = out.mask[0].count_ones();
    out
}

/// One layer of fine cells (`NS` rows of `NS` bits, four rows a word) to coarse cells, each the OR of
/// the 2 × 2 fine cells it covers ([`coarse_cell`]).
fn coarse_word(fine: &[u64; WORDS]) -> u64 {
    const _: () = assert!(NS == 16 && COARSE_NS == 8 && WORDS == 4);
    let mut out = 0;
    for (w, &x) in fine.iter().enumerate() {
        // OR each pair of columns into its even bit, then gather the even bits of each 16-bit row into
        // its low byte.
        let x = (x | x >> 1) & 0x5555_5555_5555_5555;
        let x = (x | x >> 1) & 0x3333_3333_3333_3333;
        let x = (x | x >> 2) & 0x0f0f_0f0f_0f0f_0f0f;
        let x = (x | x >> 4) & 0x00ff_00ff_00ff_00ff;
        // Rows 4w, 4w+1 make coarse row 2w; rows 4w+2, 4w+3 coarse row 2w+1.
        let rows = (x | x >> 16) & 0x0000_00ff_0000_00ff;
        out |= ((rows & 0xff) | ((rows >> 32) << COARSE_NS)) << (2 * COARSE_NS * w);
    }
    out
}

/// The bit-based MCC similarity of two cylinders (paper eq. 11 over the cells valid in both), or 0 when
/// they share fewer than `min_common` valid spatial cells or either is empty there.
///
/// With `a|b` the bits of `a` in cells valid in `b` (and conversely), the similarity is
/// `1 − √|a|b ⊕ b|a| / (√|a|b| + √|b|a|)`, and `|a|b ⊕ b|a| = |a|b| + |b|a| − 2|a ∧ b|`.
#[inline]
pub(crate) fn similarity<const B: usize, const M: usize>(a: &Code<B, M>, b: &Code<B, M>, min_common: u32) -> f32 {
    let (na, nb, both) = if HARDWARE_POPCOUNT { counts_direct(a, b) } else { counts_nested(a, b) };
    let common: u32 = (0..M).map(|w| (a.mask[w] & b.mask[w]).count_ones()).sum();
    if common < min_common || na == 0 || nb == 0 {
        return 0.0;
    }
    let nx = (na + nb).saturating_sub(2 * both);
    let root = |n: u32| SQRT.get(n as usize).copied().unwrap_or_else(|| (n as f32).sqrt());
    1.0 - root(nx) / (root(na) + root(nb))
}

/// Whether this build counts bits with one instruction (x86-64 with `popcnt` enabled, as
/// `.cargo/config.toml` asks, or any other architecture); otherwise [`swar_count`] does it.
const HARDWARE_POPCOUNT: bool = cfg!(any(target_feature = "popcnt", not(target_arch = "x86_64")));

/// `(|a|b|, |b|a|, |a ∧ b|)`, each counted in full: with a counting instruction, three counts per word
/// cost less than the branches that could skip two of them.
#[inline(always)]
fn counts_direct<const B: usize, const M: usize>(a: &Code<B, M>, b: &Code<B, M>) -> (u32, u32, u32) {
    let (mut na, mut nb, mut both) = (0, 0, 0);
    for i in 0..B {
        na += (a.bits[i] & b.mask[i % M]).count_ones();
        nb += (b.bits[i] & a.mask[i % M]).count_ones();
        both += (a.bits[i] & b.bits[i]).count_ones();
    }
    (na, nb, both)
}

/// The same counts when counting is dear: when one cylinder's valid cells all lie within the other's
/// (the usual case away from the fingers' edges), its restricted count is its precomputed total.
#[inline(always)]
fn counts_nested<const B: usize, const M: usize>(a: &Code<B, M>, b: &Code<B, M>) -> (u32, u32, u32) {
    let (mut a_out, mut b_out) = (0u64, 0u64);
    for w in 0..M {
        a_out |= a.mask[w] & !b.mask[w];
        b_out |= b.mask[w] & !a.mask[w];
    }
    let restricted = |c: &Code<B, M>, other: &Code<B, M>| swar_count::<B>(|i| c.bits[i] & other.mask[i % M]);
    let na = if a_out == 0 { a.ones } else { restricted(a, b) };
    let nb = if b_out == 0 { b.ones } else { restricted(b, a) };
    (na, nb, swar_count::<B>(|i| a.bits[i] & b.bits[i]))
}

/// Square roots of every count a cylinder can hold: a table lookup instead of three `sqrt`s per pair.
static SQRT: std::sync::LazyLock<Vec<f32>> =
    std::sync::LazyLock::new(|| (0..=ND * NS * NS).map(|n| (n as f32).sqrt()).collect());

/// The bits set in the `N` words `word(0) …`, counted a pair of words at a time with the
/// bit-slicing of Wegner / "SWAR" population counts, adding byte-wide partial sums and multiplying once
/// at the end: without a hardware `popcnt` (not in the x86-64 baseline) this is about half the work of
/// `count_ones` per word, and the compiler vectorises it.
#[inline(always)]
fn swar_count<const N: usize>(word: impl Fn(usize) -> u64) -> u32 {
    const M1: u64 = 0x5555_5555_5555_5555;
    const M2: u64 = 0x3333_3333_3333_3333;
    const M4: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const M8: u64 = 0x00ff_00ff_00ff_00ff;
    const ONES16: u64 = 0x0001_0001_0001_0001;
    // Each pair of words adds at most 16 to a byte: 15 pairs fit before a byte could overflow.
    const { assert!(N <= 30) };
    let mut acc = 0u64;
    for p in 0..N / 2 {
        let (x, y) = (word(2 * p), word(2 * p + 1));
        let (x, y) = (x - ((x >> 1) & M1), y - ((y >> 1) & M1));
        let s = (x & M2) + ((x >> 2) & M2) + (y & M2) + ((y >> 2) & M2);
        acc += (s & M4) + ((s >> 4) & M4);
    }
    // Bytes to 16-bit lanes (a whole cylinder counts up to ND·WORDS·64 < 2^16), then one multiply
    // adds the four lanes into the top one.
    let lanes = (acc & M8) + ((acc >> 8) & M8);
    let mut total = (lanes.wrapping_mul(ONES16) >> 48) as u32;
    if N % 2 == 1 {
        total += word(N - 1).count_ones();
    }
    total
}

#[cfg(test)]
mod swar_tests {
    use super::*;
    #[test]
    fn swar_matches_count_ones() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let words: Vec<u64> = (0..ND * WORDS)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                })
                .collect();
            let m: Vec<u64> = (0..WORDS)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x | 0xffff_0000_ffff_0000
                })
                .collect();
            let naive: u32 = (0..ND * WORDS).map(|i| (words[i] & m[i % WORDS]).count_ones()).sum();
            assert_eq!(swar_count::<{ ND * WORDS }>(|i| words[i] & m[i % WORDS]), naive);
            let all: u32 = words.iter().map(|w| w.count_ones()).sum();
            assert_eq!(swar_count::<{ ND * WORDS }>(|i| words[i]), all);
        }
    }

    /// Both ways of counting give the same three counts, nested masks or not: the build decides which
    /// runs, and the scores must not depend on it.
    #[test]
    fn direct_and_nested_counts_agree() {
        let mut x = 0x0bad_cafe_f00d_1234u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..2000 {
            let mut code = |nest: Option<&FineCode>| {
                let mut c = FineCode { bits: std::array::from_fn(|_| next()), mask: [0; WORDS], ones: 0, valid: 0 };
                for w in 0..WORDS {
                    c.mask[w] = match nest {
                        Some(outer) => outer.mask[w] & next(),
                        None => next() | next(),
                    };
                }
                for (i, b) in c.bits.iter_mut().enumerate() {
                    *b &= c.mask[i % WORDS];
                }
                c.ones = c.bits.iter().map(|w| w.count_ones()).sum();
                c.valid = c.mask.iter().map(|w| w.count_ones()).sum();
                c
            };
            let a = code(None);
            let b = code(if round % 2 == 0 { Some(&a) } else { None });
            assert_eq!(counts_direct(&a, &b), counts_nested(&a, &b));
            assert_eq!(counts_direct(&b, &a), counts_nested(&b, &a));
        }
    }
}

#[cfg(test)]
mod build_tests {
    use super::*;
    use crate::fingerprint::template::MinutiaKind;

    /// Each cell's centre in the cylinder's frame and whether it lies within `R` of the centre.
    fn cell_offsets() -> [(f32, f32, bool); NS * NS] {
        let mut out = [(0.0, 0.0, false); NS * NS];
        let half = (NS as f32 - 1.0) / 2.0;
        for (c, o) in out.iter_mut().enumerate() {
            let (i, j) = ((c / NS) as f32, (c % NS) as f32);
            let (u, v) = (DELTA_S * (i - half), DELTA_S * (j - half));
            *o = (u, v, u * u + v * v <= R * R);
        }
        out
    }

    /// The direct form `build` must equal: every valid cell visits every neighbour, and asks the hull.
    fn reference_build(points: &[Point]) -> Vec<Option<Cylinder>> {
        let hull = Hull::new(points.iter().map(|p| (p.x, p.y)), OMEGA);
        let offsets = cell_offsets();
        let disc = offsets.iter().filter(|o| o.2).count() as f32;
        let reach = R + 3.0 * SIGMA_S;
        let cutoff2 = (3.0 * SIGMA_S) * (3.0 * SIGMA_S);
        let gs_norm = 1.0 / (SIGMA_S * (std::f32::consts::TAU).sqrt());
        // Layer centres: −π + (k + ½)·ΔD.
        let layer: [f32; ND] = std::array::from_fn(|k| -std::f32::consts::PI + (k as f32 + 0.5) * DELTA_D);

        struct Near {
            u: f32,
            v: f32,
            gd: [f32; ND],
        }
        let mut near: Vec<Near> = Vec::new();
        points
            .iter()
            .enumerate()
            .map(|(mi, m)| {
                let (c, s) = (m.angle.cos(), m.angle.sin());
                near.clear();
                for (ti, t) in points.iter().enumerate() {
                    let (dx, dy) = (t.x - m.x, t.y - m.y);
                    if ti == mi || dx * dx + dy * dy > reach * reach {
                        continue;
                    }
                    // The cylinder's frame: u along the minutia's direction (cos a, −sin a) in pixel
                    // coordinates, v across it; both unchanged when the whole finger turns or moves.
                    let (u, v) = (dx * c - dy * s, dx * s + dy * c);
                    let d_theta = angle_diff(t.angle, m.angle);
                    let gd = std::array::from_fn(|k| {
                        let a = f64::from(angle_diff(layer[k], d_theta));
                        let h = f64::from(DELTA_D) / 2.0;
                        normal_mass(a - h, a + h, f64::from(SIGMA_D)) as f32
                    });
                    near.push(Near { u, v, gd });
                }
                if near.len() < MIN_M {
                    return None;
                }
                let mut cyl =
                    Code::<{ ND * WORDS }, WORDS> { bits: [0; ND * WORDS], mask: [0; WORDS], ones: 0, valid: 0 };
                let mut valid = 0usize;
                for (cell, &(cu, cv, in_disc)) in offsets.iter().enumerate() {
                    if !in_disc {
                        continue;
                    }
                    // Back to pixel coordinates to ask the hull.
                    let (px, py) = (m.x + cu * c + cv * s, m.y - cu * s + cv * c);
                    if !hull.contains(px, py) {
                        continue;
                    }
                    valid += 1;
                    let (w, b) = (cell / 64, cell % 64);
                    cyl.mask[w] |= 1 << b;
                    let mut sum = [0f32; ND];
                    for n in &near {
                        let d2 = (n.u - cu) * (n.u - cu) + (n.v - cv) * (n.v - cv);
                        if d2 <= cutoff2 {
                            let gs = gs_norm * (-d2 / (2.0 * SIGMA_S * SIGMA_S)).exp();
                            for (s, g) in sum.iter_mut().zip(&n.gd) {
                                *s += gs * g;
                            }
                        }
                    }
                    for (k, &v) in sum.iter().enumerate() {
                        if v >= MU_PSI {
                            cyl.bits[k * WORDS + w] |= 1 << b;
                        }
                    }
                }
                cyl.ones = cyl.bits.iter().map(|w| w.count_ones()).sum();
                cyl.valid = valid as u32;
                (valid as f32 >= MIN_VC * disc).then(|| Cylinder { coarse: coarsen(&cyl), fine: cyl })
            })
            .collect()
    }

    /// `build` gives exactly the cylinders of the direct form, on random minutia sets of every size:
    /// spread or crowded, with directions continuous or quantised as in ISO records, with repeated and
    /// collinear points.
    #[test]
    fn build_equals_the_direct_form() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut built = 0;
        for round in 0..400 {
            let n = round % 61;
            let (w, h) = (150.0 + 300.0 * next(), 150.0 + 300.0 * next());
            let mut points: Vec<Point> = (0..n)
                .map(|_| {
                    let angle = if round % 3 == 0 {
                        (next() * 256.0).floor() * std::f32::consts::TAU / 256.0
                    } else {
                        next() * std::f32::consts::TAU * 0.999_999
                    };
                    let kind = if next() < 0.5 { MinutiaKind::Ending } else { MinutiaKind::Bifurcation };
                    Point { x: 20.0 + w * next(), y: 20.0 + h * next(), angle, kind, quality: 50 }
                })
                .collect();
            if round % 7 == 1 && n > 2 {
                points[1] = points[0];
            }
            if round % 11 == 2 {
                for (i, p) in points.iter_mut().enumerate() {
                    (p.x, p.y) = (30.0 + 9.0 * i as f32, 40.0 + 4.5 * i as f32);
                }
            }
            let (fast, direct) = (build(&points), reference_build(&points));
            assert_eq!(fast.len(), direct.len());
            for (i, (a, b)) in fast.iter().zip(&direct).enumerate() {
                assert!(a == b, "round {round}, minutia {i}: {} vs {}", a.is_some(), b.is_some());
                built += usize::from(a.is_some());
            }
        }
        assert!(built > 2000, "{built}");
    }
}
