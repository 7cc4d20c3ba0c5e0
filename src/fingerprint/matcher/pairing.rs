//! Global consolidation: align one template on the other by a hypothesis (one minutia pair: the rotation
//! between their directions and the translation between their positions), pair minutiae one-to-one
//! greedily, closest first, within a tolerance that grows with the distance from the reference pair,
//! and weigh the pairs against the minutiae each template has inside the other's area (Jiang & Yau,
//! ICPR 2000, for the greedy pairing under the best local pair's alignment; Tico & Kuosmanen, IEEE PAMI
//! 25(8) 2003, for the tolerance growing with distance and the overlap-normalised count); the best
//! placement is then refined by the least-squares rigid motion of its pairs (Arun, Huang & Blostein,
//! IEEE TPAMI 9(5), 1987, in two dimensions) and kept if it pairs more.

use super::geometry::{angle_diff, angle_gap};
use super::params::{PAIR_ANGLE, PAIR_DIST, PAIR_DIST_SLOPE, PAIR_KIND_MISMATCH, PAIR_MIN_OVERLAP};
use super::{Point, PreparedTemplate};
use crate::fingerprint::template::MinutiaKind;

/// A rigid motion taking `b`'s coordinates into `a`'s: the reference minutia `rb` of `b` onto `ra` of
/// `a`, turned by the difference of their directions.
#[derive(Debug, Clone, Copy)]
struct Alignment {
    ra: (f32, f32),
    rb: (f32, f32),
    rot: f32,
    cos: f32,
    sin: f32,
}

impl Alignment {
    fn new(pa: &Point, pb: &Point) -> Alignment {
        let rot = angle_diff(pa.angle, pb.angle);
        Alignment { ra: (pa.x, pa.y), rb: (pb.x, pb.y), rot, cos: rot.cos(), sin: rot.sin() }
    }

    /// A point of `b` in `a`'s frame. Adding `rot` to every angle (counter-clockwise as seen, y
    /// downwards) turns pixel vectors by `[[c, s], [−s, c]]`.
    fn a_from_b(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.rb.0, y - self.rb.1);
        (self.ra.0 + self.cos * dx + self.sin * dy, self.ra.1 - self.sin * dx + self.cos * dy)
    }

    /// A point of `a` in `b`'s frame.
    fn b_from_a(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.ra.0, y - self.ra.1);
        (self.rb.0 + self.cos * dx - self.sin * dy, self.rb.1 + self.sin * dx + self.cos * dy)
    }
}

/// Working space reused across hypotheses.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    moved: Vec<(f32, f32)>,
    candidates: Vec<(f32, u16, u16)>,
    used_a: Vec<bool>,
    used_b: Vec<bool>,
    pairs: Vec<(u16, u16)>,
}

/// The pairing score of `a` and `b` under the best of the given reference pairs (indices into their
/// `points`), in `[0, 1]`: `w² / (oA · oB)`, where `w` counts the paired minutiae (an ending paired with
/// a bifurcation counts `PAIR_KIND_MISMATCH`) and `oA`, `oB` the minutiae of each inside the other's
/// area after alignment (at least `w` and at least `PAIR_MIN_OVERLAP`, so that a tiny overlap cannot
/// score high). The hypothesis pairing most minutiae is kept; only its overlap is measured.
pub(crate) fn score(a: &PreparedTemplate, b: &PreparedTemplate, references: &[(usize, usize)]) -> f32 {
    let mut scratch = Scratch::default();
    let mut best: Option<(f32, Alignment)> = None;
    let mut best_pairs = Vec::new();
    for &(ra, rb) in references {
        let (Some(pa), Some(pb)) = (a.points.get(ra), b.points.get(rb)) else { continue };
        let al = Alignment::new(pa, pb);
        let w = paired(a, b, &al, &mut scratch);
        if best.is_none_or(|(bw, _)| w > bw) {
            best = Some((w, al));
            best_pairs.clone_from(&scratch.pairs);
        }
    }
    let Some((mut w, mut al)) = best else { return 0.0 };
    if w <= 0.0 {
        return 0.0;
    }
    // Refine the best placement: the rigid motion that fits its pairs best in the least-squares
    // sense (one minutia pair fixes a placement only roughly; the pairs found under it fix it
    // better), and pair again under that.
    if let Some(refined) = fit(a, b, &best_pairs) {
        let again = paired(a, b, &refined, &mut scratch);
        if again > w {
            (w, al) = (again, refined);
        }
    }
    let overlap_a = a.points.iter().filter(|p| {
        let (x, y) = al.b_from_a(p.x, p.y);
        b.area.contains(x, y)
    });
    let overlap_b = scratch_moved(b, &al).filter(|&(x, y)| a.area.contains(x, y));
    let floor = w.max(PAIR_MIN_OVERLAP as f32);
    let (oa, ob) = ((overlap_a.count() as f32).max(floor), (overlap_b.count() as f32).max(floor));
    (w * w / (oa * ob)).clamp(0.0, 1.0)
}

fn scratch_moved<'a>(b: &'a PreparedTemplate, al: &'a Alignment) -> impl Iterator<Item = (f32, f32)> + 'a {
    b.points.iter().map(|q| al.a_from_b(q.x, q.y))
}

/// The weighted count of minutiae paired under `al`.
fn paired(a: &PreparedTemplate, b: &PreparedTemplate, al: &Alignment, s: &mut Scratch) -> f32 {
    s.moved.clear();
    s.moved.extend(scratch_moved(b, al));
    s.candidates.clear();
    for (i, p) in a.points.iter().enumerate() {
        let r = ((p.x - al.ra.0).powi(2) + (p.y - al.ra.1).powi(2)).sqrt();
        let tol = PAIR_DIST + PAIR_DIST_SLOPE * r;
        // Most of `b`'s minutiae lie far from `p`: find the few within the tolerance box first, as
        // bits and without branches, then look closer at those alone.
        for (w, chunk) in s.moved.chunks(64).enumerate() {
            let mut near = 0u64;
            for (k, &(qx, qy)) in chunk.iter().enumerate() {
                near |= u64::from(((p.x - qx).abs() <= tol) & ((p.y - qy).abs() <= tol)) << k;
            }
            while near != 0 {
                let j = w * 64 + near.trailing_zeros() as usize;
                near &= near - 1;
                let ((qx, qy), q) = (s.moved[j], &b.points[j]);
                let (dx, dy) = (p.x - qx, p.y - qy);
                let d = (dx * dx + dy * dy).sqrt();
                let da = angle_gap(p.angle, q.angle + al.rot);
                if d <= tol && da <= PAIR_ANGLE {
                    s.candidates.push((d / tol + da / PAIR_ANGLE, i as u16, j as u16));
                }
            }
        }
    }
    s.candidates.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    s.used_a.clear();
    s.used_a.resize(a.points.len(), false);
    s.used_b.clear();
    s.used_b.resize(b.points.len(), false);
    let mut w = 0f32;
    s.pairs.clear();
    for &(_, i, j) in &s.candidates {
        let (i, j) = (usize::from(i), usize::from(j));
        if !s.used_a[i] && !s.used_b[j] {
            s.used_a[i] = true;
            s.used_b[j] = true;
            s.pairs.push((i as u16, j as u16));
            let (ka, kb) = (a.points[i].kind, b.points[j].kind);
            let agree = ka == kb || ka == MinutiaKind::Other || kb == MinutiaKind::Other;
            w += if agree { 1.0 } else { PAIR_KIND_MISMATCH };
        }
    }
    w
}

/// The least-squares rigid motion taking the paired minutiae of `b` onto those of `a` (2-D Procrustes
/// about the centroids); `None` under three pairs.
fn fit(a: &PreparedTemplate, b: &PreparedTemplate, pairs: &[(u16, u16)]) -> Option<Alignment> {
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f32;
    let (mut ca, mut cb) = ((0f32, 0f32), (0f32, 0f32));
    for &(i, j) in pairs {
        let (p, q) = (&a.points[usize::from(i)], &b.points[usize::from(j)]);
        ca = (ca.0 + p.x / n, ca.1 + p.y / n);
        cb = (cb.0 + q.x / n, cb.1 + q.y / n);
    }
    // a − ca = R (b − cb), R = [[c, s], [−s, c]]: maximise Σ (c (ux·vx + uy·vy) + s (ux·vy − uy·vx)).
    let (mut dot, mut cross) = (0f32, 0f32);
    for &(i, j) in pairs {
        let (p, q) = (&a.points[usize::from(i)], &b.points[usize::from(j)]);
        let (ux, uy) = (q.x - cb.0, q.y - cb.1);
        let (vx, vy) = (p.x - ca.0, p.y - ca.1);
        dot += ux * vx + uy * vy;
        cross += ux * vy - uy * vx;
    }
    if dot == 0.0 && cross == 0.0 {
        return None;
    }
    let rot = (-cross).atan2(dot);
    Some(Alignment { ra: ca, rb: cb, rot, cos: rot.cos(), sin: rot.sin() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::template::{Minutia, Template};

    fn prepared(points: &[(f32, f32)]) -> PreparedTemplate {
        let minutiae =
            points.iter().map(|&(x, y)| Minutia { x, y, angle: 0.5, kind: MinutiaKind::Ending, quality: 60 }).collect();
        PreparedTemplate::new(&Template { width: 400, height: 400, quality: 60, minutiae })
    }

    #[test]
    fn the_fit_recovers_a_rigid_motion_and_needs_three_pairs() {
        let a_points = [(100.0, 120.0), (180.0, 90.0), (240.0, 200.0), (130.0, 260.0), (300.0, 310.0)];
        // b = a turned by 0.3 rad and moved; the fit must take b back onto a.
        let rot = 0.3f32;
        let (c, s) = (rot.cos(), rot.sin());
        let b_points: Vec<(f32, f32)> =
            a_points.iter().map(|&(x, y)| (c * x - s * y + 40.0, s * x + c * y - 25.0)).collect();
        let (a, b) = (prepared(&a_points), prepared(&b_points));
        // `points` are sorted by quality then position: pair them back by nearest after the fit.
        let pairs: Vec<(u16, u16)> = (0..a_points.len())
            .map(|k| {
                let i = a.points.iter().position(|p| (p.x, p.y) == a_points[k]).unwrap();
                let j = b.points.iter().position(|p| (p.x, p.y) == b_points[k]).unwrap();
                (i as u16, j as u16)
            })
            .collect();
        let al = fit(&a, &b, &pairs).expect("a fit");
        for &(i, j) in &pairs {
            let (p, q) = (&a.points[usize::from(i)], &b.points[usize::from(j)]);
            let (x, y) = al.a_from_b(q.x, q.y);
            assert!((x - p.x).abs() < 1e-2 && (y - p.y).abs() < 1e-2, "({x}, {y}) for ({}, {})", p.x, p.y);
        }
        assert!(fit(&a, &b, &pairs[..2]).is_none());
    }
}
