//! Minutia-pair keys: the invariant, quantised description of pairs of nearby minutiae that the index
//! files templates under and looks probes up by.
//!
//! A pair `(i, j)` of minutiae is described by three quantities that do not change when the finger
//! moves or turns on the reader: the distance `d` between them, the angle `α` from `i`'s direction to
//! the segment `i → j`, and the difference `β` of their directions (the transformation-invariant
//! features of geometric hashing, Germain, Califano & Colville, "Fingerprint matching using
//! transformation parameter clustering", IEEE Computational Science & Engineering 4(4), 1997, used
//! there on triplets; pairs, as here, in Tan & Bhanu's and later minutia-pair indexing work). Each of
//! the three is cut into bins; a key is the triple of bins, one `u32`.
//!
//! Only pairs of *near* minutiae are used (each minutia with its `NEIGHBOURS` nearest within
//! `[D_MIN, D_MAX)`): near pairs suffer least from elastic distortion, are most often both seen in a
//! partial impression, and bound the keys per template (and so memory) to `NEIGHBOURS · n`.
//!
//! A gallery pair is filed under its one key. A probe pair is looked up under its key and its
//! neighbours in each dimension, towards the nearer bin edge (or both edges for the angles), so that a
//! quantity measured near a bin edge in one impression and across it in another still meets.

use std::f32::consts::TAU;

use crate::fingerprint::template::Minutia;

/// Nearest neighbours paired with each minutia.
pub(crate) const NEIGHBOURS: usize = 6;
/// Pairs closer than this are dropped: their `α` is unstable (a few pixels of noise turn it far).
pub(crate) const D_MIN: f32 = 10.0;
/// Pairs this far apart or more are dropped (distortion grows with distance).
pub(crate) const D_MAX: f32 = 138.0;
/// Width of a distance bin, pixels at 500 dpi.
pub(crate) const D_BIN: f32 = 8.0;
/// Distance bins.
pub(crate) const D_BINS: u32 = ((D_MAX - D_MIN) / D_BIN) as u32;
/// Bins of `α` and of `β` over a full turn.
pub(crate) const ANGLE_BINS: u32 = 24;
/// Number of distinct keys.
pub(crate) const KEYS: usize = (D_BINS * ANGLE_BINS * ANGLE_BINS) as usize;

const _: () = assert!(D_MIN + D_BINS as f32 * D_BIN == D_MAX, "distance bins must tile [D_MIN, D_MAX)");

/// One pair's invariant description, before quantisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PairFeature {
    /// Distance, pixels.
    pub(crate) d: f32,
    /// Angle from the first minutia's direction to the segment towards the second, `[0, 2π)`.
    pub(crate) alpha: f32,
    /// Second minutia's direction minus the first's, `[0, 2π)`.
    pub(crate) beta: f32,
    /// The first minutia's own direction, `[0, 2π)`: not invariant, but the difference of it between
    /// a probe pair and a gallery pair is the rotation between the impressions, which the votes of
    /// a true mate agree on.
    pub(crate) theta: f32,
}

/// The features of every kept pair of `minutiae`: each minutia with its `NEIGHBOURS` nearest whose
/// distance lies in `[D_MIN, D_MAX)`, ties by index. Minutiae with non-finite values are skipped.
/// `out` is cleared first.
pub(crate) fn pair_features(minutiae: &[Minutia], out: &mut Vec<PairFeature>) {
    out.clear();
    let ok = |m: &Minutia| m.x.is_finite() && m.y.is_finite() && m.angle.is_finite();
    let mut near: Vec<(f32, usize)> = Vec::with_capacity(minutiae.len());
    for (i, a) in minutiae.iter().enumerate().filter(|(_, m)| ok(m)) {
        near.clear();
        for (j, b) in minutiae.iter().enumerate().filter(|(_, m)| ok(m)) {
            let d2 = (b.x - a.x).powi(2) + (b.y - a.y).powi(2);
            if j != i && (D_MIN * D_MIN..D_MAX * D_MAX).contains(&d2) {
                near.push((d2, j));
            }
        }
        let by_distance = |p: &(f32, usize), q: &(f32, usize)| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1));
        if near.len() > NEIGHBOURS {
            near.select_nth_unstable_by(NEIGHBOURS, by_distance);
            near.truncate(NEIGHBOURS);
        }
        for &(d2, j) in &near {
            let b = &minutiae[j];
            // Pixel rows grow downwards; angles count counter-clockwise as seen.
            let towards = (a.y - b.y).atan2(b.x - a.x);
            out.push(PairFeature {
                d: d2.sqrt(),
                alpha: turn(towards - a.angle),
                beta: turn(b.angle - a.angle),
                theta: turn(a.angle),
            });
        }
    }
}

/// `a` wrapped into `[0, 2π)`.
fn turn(a: f32) -> f32 {
    let w = a.rem_euclid(TAU);
    if w < TAU { w } else { 0.0 }
}

/// A quantity's bin and the neighbouring bin towards the nearer edge (`None` past the range's ends).
fn bins_linear(v: f32, lo: f32, width: f32, count: u32) -> (u32, Option<u32>) {
    let pos = ((v - lo) / width).clamp(0.0, count as f32 - 1e-3);
    let bin = pos as u32;
    let other = if pos.fract() < 0.5 { bin.checked_sub(1) } else { Some(bin + 1).filter(|&b| b < count) };
    (bin.min(count - 1), other)
}

/// An angle's bin.
fn angle_bin(a: f32) -> u32 {
    ((a / TAU * ANGLE_BINS as f32) as u32).min(ANGLE_BINS - 1)
}

fn key_of(d: u32, alpha: u32, beta: u32) -> u32 {
    (d * ANGLE_BINS + alpha) * ANGLE_BINS + beta
}

/// Bins of a minutia's own direction, as filed with each pair (6 bits).
pub(crate) const THETA_BINS: u32 = 64;

/// A direction's bin among [`THETA_BINS`].
pub(crate) fn theta_bin(theta: f32) -> u32 {
    ((theta / TAU * THETA_BINS as f32) as u32).min(THETA_BINS - 1)
}

/// The one key a gallery pair is filed under.
pub(crate) fn gallery_key(f: &PairFeature) -> u32 {
    key_of(bins_linear(f.d, D_MIN, D_BIN, D_BINS).0, angle_bin(f.alpha), angle_bin(f.beta))
}

/// The keys a probe pair is looked up under, appended to `out`: in each of the three quantities,
/// its own bin and the neighbouring bin towards the nearer edge (8 keys), so that a value within half
/// a bin of the gallery's always meets it.
pub(crate) fn probe_keys(f: &PairFeature, out: &mut Vec<u32>) {
    let (d, d_other) = bins_linear(f.d, D_MIN, D_BIN, D_BINS);
    let around = |a: f32| {
        let pos = a / TAU * ANGLE_BINS as f32;
        let b = angle_bin(a);
        let other = if pos.fract() < 0.5 { (b + ANGLE_BINS - 1) % ANGLE_BINS } else { (b + 1) % ANGLE_BINS };
        [b, other]
    };
    let (alphas, betas) = (around(f.alpha), around(f.beta));
    for d in std::iter::once(d).chain(d_other) {
        for &a in &alphas {
            for &b in &betas {
                out.push(key_of(d, a, b));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::template::MinutiaKind;

    fn m(x: f32, y: f32, angle: f32) -> Minutia {
        Minutia { x, y, angle, kind: MinutiaKind::Ending, quality: 60 }
    }

    #[test]
    fn features_are_invariant_under_rotation_and_translation() {
        let base = [m(100.0, 100.0, 0.3), m(130.0, 110.0, 1.2), m(90.0, 150.0, 4.0), m(160.0, 60.0, 2.5)];
        let (rot, dx, dy) = (0.7f32, 40.0f32, -25.0f32);
        let (c, s) = (rot.cos(), rot.sin());
        // Turning the finger by `rot` counter-clockwise as seen (y down) maps (x, y) to (c·x + s·y, −s·x + c·y).
        let moved: Vec<Minutia> =
            base.iter().map(|p| m(c * p.x + s * p.y + dx, -s * p.x + c * p.y + dy, turn(p.angle + rot))).collect();
        let (mut fa, mut fb) = (vec![], vec![]);
        pair_features(&base, &mut fa);
        pair_features(&moved, &mut fb);
        assert_eq!(fa.len(), fb.len());
        for (a, b) in fa.iter().zip(&fb) {
            assert!((a.d - b.d).abs() < 1e-3);
            let gap = |x: f32, y: f32| (x - y).abs().min(TAU - (x - y).abs());
            assert!(gap(a.alpha, b.alpha) < 1e-3, "{a:?} {b:?}");
            assert!(gap(a.beta, b.beta) < 1e-3, "{a:?} {b:?}");
        }
    }

    #[test]
    fn each_minutia_keeps_its_nearest_neighbours_within_range() {
        // A row of minutiae 12 px apart: the first one's neighbours are the next five.
        let row: Vec<Minutia> = (0..10).map(|i| m(10.0 + 12.0 * i as f32, 50.0, 0.0)).collect();
        let mut f = vec![];
        pair_features(&row, &mut f);
        assert_eq!(f.len(), 10 * NEIGHBOURS);
        assert!(f.iter().all(|p| p.d >= D_MIN && p.d < D_MAX));
        // Too close (5 px) or too far (200 px): no pairs.
        pair_features(&[m(0.0, 0.0, 0.0), m(5.0, 0.0, 0.0), m(205.0, 0.0, 0.0)], &mut f);
        assert!(f.is_empty());
    }

    #[test]
    fn a_probe_pair_meets_its_gallery_key_across_small_changes() {
        let mut keys = vec![];
        for &(d, a, b) in &[(10.0, 0.0, 0.0), (57.9, 3.0, 6.2), (137.9, TAU - 1e-4, 1.0), (80.0, 1.5, 4.6)] {
            let f = PairFeature { d, alpha: a, beta: b, theta: 0.0 };
            let g = gallery_key(&f);
            assert!((g as usize) < KEYS);
            // Moved by up to 3 px and 0.12 rad (about 7°, under half a bin), the probe still looks
            // under the gallery key.
            for (dd, da, db) in [(3.0, 0.12, -0.12), (-3.0, -0.12, 0.12), (0.0, 0.0, 0.0)] {
                let p = PairFeature {
                    d: (d + dd).clamp(D_MIN, D_MAX - 0.01),
                    alpha: turn(a + da),
                    beta: turn(b + db),
                    theta: 0.0,
                };
                keys.clear();
                probe_keys(&p, &mut keys);
                assert!(keys.len() <= 8 && keys.iter().all(|&k| (k as usize) < KEYS));
                assert!(keys.contains(&g), "{f:?} vs {p:?}");
            }
        }
    }
}
