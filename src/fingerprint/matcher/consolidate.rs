//! From cylinder similarities to one score: Local Similarity Sort with Relaxation (LSS-R, MCC paper
//! §4.4), fused with a global pairing ([`super::pairing`]).
//!
//! 1. Every cylinder of one template is compared with every cylinder of the other whose minutia points
//!    within `δθ` of its own, first at coarse resolution; the `SHORTLIST · n` most similar pairs are
//!    compared again at full resolution ([`cylinder::similarity`]).
//! 2. The best pairs are taken one-to-one, greedily by similarity, `nR = min(nA, nB)` of them.
//! 3. Relaxation: each pair's strength is pulled towards the strengths of the pairs it agrees with
//!    geometrically (distance between the two minutiae, difference of their directions, and the angle
//!    from one minutia's direction to the other), `N_REL` times.
//! 4. The local score is the mean strength of the `nP` pairs that kept most of their initial strength.
//! 5. The `HYPOTHESES` strongest pairs after relaxation are tried as alignments for the global pairing;
//!    the score is the geometric mean of the local score and the pairing score.

use super::cylinder;
use super::geometry::{angle_diff, angle_gap, angle_gap_wrapped, fast_atan2, sigmoid};
use super::params::*;
use super::{Point, PreparedTemplate};

/// One candidate pair: its similarity and the cylinder indices in each template.
#[derive(Debug, Clone, Copy)]
struct Pair {
    sim: f32,
    a: u16,
    b: u16,
}

/// A key that sorts pairs by similarity, then by indices, so that ties never depend on the sort.
fn key(p: &Pair) -> u64 {
    // Similarities are finite and non-negative: their bit patterns order like the numbers.
    (u64::from(p.sim.to_bits()) << 32) | (u64::from(u16::MAX - p.a) << 16) | u64::from(u16::MAX - p.b)
}

/// The number of pairs averaged into the local score for templates of `n` usable minutiae (paper
/// eq. 23).
pub(crate) fn n_p(n: usize) -> usize {
    let z = sigmoid(n as f32, MU_P, TAU_P);
    MIN_NP + ((MAX_NP - MIN_NP) as f32 * z).round() as usize
}

/// The score of two prepared templates, in [0, 1].
pub(crate) fn score(a: &PreparedTemplate, b: &PreparedTemplate) -> f32 {
    let (na, nb) = (a.fine.len(), b.fine.len());
    if na == 0 || nb == 0 {
        return 0.0;
    }
    let n_r = na.min(nb);
    let mut pairs = candidates(a, b, SHORTLIST * n_r);
    let chosen = one_to_one(&mut pairs, n_r, na, nb);
    if chosen.is_empty() {
        return 0.0;
    }
    let point_a = |p: &Pair| a.points[usize::from(a.cylinder_points[usize::from(p.a)])];
    let point_b = |p: &Pair| b.points[usize::from(b.cylinder_points[usize::from(p.b)])];
    let pa: Vec<Point> = chosen.iter().map(point_a).collect();
    let pb: Vec<Point> = chosen.iter().map(point_b).collect();
    let initial: Vec<f32> = chosen.iter().map(|p| p.sim).collect();
    let relaxed = relax(&pa, &pb, &initial);

    // Local score: the pairs that kept most of their initial strength ("efficiency"), averaged over nP.
    let eff: Vec<f32> = initial.iter().zip(&relaxed).map(|(i, r)| if *i > 0.0 { r / i } else { 0.0 }).collect();
    let mut order: Vec<usize> = (0..relaxed.len()).collect();
    order.sort_by(|&x, &y| eff[y].total_cmp(&eff[x]).then(x.cmp(&y)));
    let np = n_p(n_r);
    let local = (order.iter().take(np).map(|&t| relaxed[t]).sum::<f32>() / np as f32).clamp(0.0, 1.0);

    // Global score under the strongest relaxed pairs as alignment hypotheses.
    order.sort_by(|&x, &y| relaxed[y].total_cmp(&relaxed[x]).then(x.cmp(&y)));
    let references: Vec<(usize, usize)> = order
        .iter()
        .take(HYPOTHESES)
        .map(|&t| {
            (
                usize::from(a.cylinder_points[usize::from(chosen[t].a)]),
                usize::from(b.cylinder_points[usize::from(chosen[t].b)]),
            )
        })
        .collect();
    let global = super::pairing::score(a, b, &references);
    (local * global).sqrt()
}

/// The `keep` most similar cylinder pairs whose minutiae's directions agree within `DELTA_THETA`:
/// shortlisted by the coarse cylinders, then scored by the fine ones (pairs scoring 0 dropped).
fn candidates(a: &PreparedTemplate, b: &PreparedTemplate, keep: usize) -> Vec<Pair> {
    let min_coarse = (MIN_ME * cylinder::coarse_disc_cells() as f32).ceil() as u32;
    let min_fine = (MIN_ME * cylinder::disc_cells() as f32).ceil() as u32;
    let mut pairs: Vec<Pair> = Vec::with_capacity(a.fine.len() * b.fine.len() / 2);
    // Which of `b`'s cylinders pass the direction gate, as bits: computed without branches, since
    // about half pass at random, and a branch per pair would be mispredicted half the time.
    const { assert!(MAX_MINUTIAE <= 128) };
    for (i, (ca, &ta)) in a.coarse.iter().zip(&a.cylinder_angles).enumerate() {
        let mut gate = [0u64; 2];
        for (j, &tb) in b.cylinder_angles.iter().enumerate() {
            gate[j / 64] |= u64::from(angle_gap_wrapped(ta, tb) <= DELTA_THETA) << (j % 64);
        }
        for (w, mut bits) in gate.into_iter().enumerate() {
            while bits != 0 {
                let j = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let sim = cylinder::similarity(ca, &b.coarse[j], min_coarse);
                if sim > 0.0 {
                    pairs.push(Pair { sim, a: i as u16, b: j as u16 });
                }
            }
        }
    }
    if keep < pairs.len() {
        pairs.select_nth_unstable_by(keep, |x, y| key(y).cmp(&key(x)));
        pairs.truncate(keep);
    }
    for p in &mut pairs {
        p.sim = cylinder::similarity(&a.fine[usize::from(p.a)], &b.fine[usize::from(p.b)], min_fine);
    }
    pairs.retain(|p| p.sim > 0.0);
    pairs
}

/// Up to `n` pairs, each cylinder used at most once, taken greedily from the most similar.
fn one_to_one(pairs: &mut [Pair], n: usize, na: usize, nb: usize) -> Vec<Pair> {
    pairs.sort_unstable_by_key(|p| std::cmp::Reverse(key(p)));
    let mut used_a = vec![false; na];
    let mut used_b = vec![false; nb];
    let mut out = Vec::with_capacity(n);
    for p in pairs.iter() {
        if out.len() >= n {
            break;
        }
        let (ia, ib) = (usize::from(p.a), usize::from(p.b));
        if !used_a[ia] && !used_b[ib] {
            used_a[ia] = true;
            used_b[ib] = true;
            out.push(*p);
        }
    }
    out
}

/// The angle from `p`'s direction to the segment from `p` to `q` (the paper's radial angle `dR`).
#[inline]
fn radial(p: &Point, q: &Point) -> f32 {
    // Our angles count counter-clockwise as the image is seen, with y downwards.
    angle_diff(p.angle, fast_atan2(p.y - q.y, q.x - p.x))
}

/// Relaxation (paper eq. 25–26): the strengths after `N_REL` iterations.
fn relax(pa: &[Point], pb: &[Point], initial: &[f32]) -> Vec<f32> {
    let n = initial.len();
    if n < 2 {
        return initial.iter().map(|l| l * W_R.powi(N_REL as i32)).collect();
    }
    // rho[t * n + k]: compatibility of pair t with pair k, as seen from t. A sigmoid below 1e-3 is
    // taken as 0 without computing the others (distance disagreement over 9.4 pixels, direction
    // disagreement over 0.49 rad): it changes no score by more than 1e-3 and skips most impostor work.
    let mut rho = vec![0f32; n * n];
    let d1_cut = MU_RHO_1 + (999f32).ln() / -TAU_RHO_1;
    let d2_cut = MU_RHO_2 + (999f32).ln() / -TAU_RHO_2;
    for t in 0..n {
        for k in (t + 1)..n {
            let (at, ak, bt, bk) = (&pa[t], &pa[k], &pb[t], &pb[k]);
            let da = ((at.x - ak.x).powi(2) + (at.y - ak.y).powi(2)).sqrt();
            let db = ((bt.x - bk.x).powi(2) + (bt.y - bk.y).powi(2)).sqrt();
            let d1 = (da - db).abs();
            if d1 > d1_cut {
                continue;
            }
            let d2 = angle_gap(angle_diff(at.angle, ak.angle), angle_diff(bt.angle, bk.angle));
            if d2 > d2_cut {
                continue;
            }
            let z12 = sigmoid(d1, MU_RHO_1, TAU_RHO_1) * sigmoid(d2, MU_RHO_2, TAU_RHO_2);
            let d3_t = angle_gap(radial(at, ak), radial(bt, bk));
            let d3_k = angle_gap(radial(ak, at), radial(bk, bt));
            rho[t * n + k] = z12 * sigmoid(d3_t, MU_RHO_3, TAU_RHO_3);
            rho[k * n + t] = z12 * sigmoid(d3_k, MU_RHO_3, TAU_RHO_3);
        }
    }
    let mut lambda = initial.to_vec();
    let mut next = vec![0f32; n];
    let norm = (1.0 - W_R) / (n - 1) as f32;
    for _ in 0..N_REL {
        for t in 0..n {
            let row = &rho[t * n..(t + 1) * n];
            next[t] = W_R * lambda[t] + norm * dot(row, &lambda);
        }
        std::mem::swap(&mut lambda, &mut next);
    }
    lambda
}

/// `Σ a[i]·b[i]` with eight partial sums, so that the compiler can keep them in vector registers.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}
