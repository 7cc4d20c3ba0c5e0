//! From scores to false match rates, and the accuracy figures of an evaluation (EER, FNMR at a given
//! FMR). Pure computation on lists of scores.
//!
//! # The calibration table
//! [`CALIBRATION`] maps score thresholds to the false match rate measured at each: the share of
//! impostor comparisons scoring at or above it. Operators choose a threshold by the FMR they accept
//! (1% … 0.01%), never by a bare number.
//!
//! | FMR | threshold |
//! |---|---|
//! | 10% | 0.0683 |
//! | 1% | 0.0916 |
//! | 0.1% | 0.1121 |
//! | 0.01% | 0.1374 (the highest impostor score) |
//! | 10⁻⁶ | 0.1832 (extrapolated) |
//! | 10⁻⁸ | 0.2304 (extrapolated) |
//!
//! **How it was measured**: our extractor's templates of the FVC2002 set B images (DB1–DB4, 80 images
//! each), all-impostor pairs of the protocol in `../shared/data/README.md` (every impression of a finger
//! against every impression of every other finger of the same database: 2,880 per database, 11,520 in
//! all, pooled), with this matcher. An FMR of 0.01% is one impostor pair in 11,520, the finest this set
//! can tell; "0" means that no impostor pair scored that high, and the true FMR there is only known to
//! be below about 0.026% (3 / 11,520, the 95% "rule of three"). Figures on other fingers, readers or
//! extractors differ: on the SecuGen ISO templates of the same images, FMR 1% and 0.1% fall at 0.093
//! and 0.110.
//!
//! # Beyond the table: the tail
//! A 1:N search compares a probe with every enrolled template, so the chance that a finger nobody
//! enrolled is named is up to `templates × FMR` (the union bound): 100,000 templates at 10⁻⁴ name
//! someone almost every time. The gate therefore needs rates far below what 11,520 impostor pairs can
//! show, and [`fmr_for_score`] extrapolates above the table's last point instead of saying 0. Method:
//! peaks over threshold (Balkema & de Haan; Pickands, "Statistical inference using extreme order
//! statistics", Ann. Statist. 3(1), 1975): the impostor scores above the table's 1% point are fitted
//! with an exponential (the generalised Pareto with shape 0; the 114 excesses of this set give a shape
//! near 0, −0.01 by moments), its scale taken at the upper one-sided 95% bound rather than the maximum
//! likelihood estimate, so that a thin set errs towards a slower fall: the FMR falls tenfold every
//! [`TAIL_DECADE`] (0.0236) of score. The fitted line passes above the observed rates, at 0.1% (1.3·10⁻³
//! against 9.5·10⁻⁴) and at the single highest impostor score (1.1·10⁻⁴ against 8.7·10⁻⁵); the
//! extrapolation starts from that last observed point with the fitted slope. It remains an extrapolation:
//! the true tail of other fingers, readers or extractors may be heavier, and only impostor sets of
//! millions of pairs could measure 10⁻⁶ and below.
//!
//! **Regenerate it** whenever the extractor or the matcher changes, from the project's root:
//! `cargo build --release && target/release/tally fingerprint eval --calibration-source ../shared/data/fvc2002`,
//! then paste the printed `CALIBRATION` and `TAIL_DECADE` constants here and update the table above.

/// Score thresholds and the false match rate measured at each (the share of impostor comparisons
/// scoring at or above it), by increasing score. See the module docs for how it was measured.
pub const CALIBRATION: &[(f32, f64)] = &[
    (0.06834982, 1.0000e-1),
    (0.0755237, 5.0000e-2),
    (0.08408373, 1.9965e-2),
    (0.09161923, 9.9826e-3),
    (0.097527474, 4.9479e-3),
    (0.10695006, 1.9965e-3),
    (0.11208938, 9.5486e-4),
    (0.12271682, 4.3403e-4),
    (0.12960054, 1.7361e-4),
    (0.13740143, 8.6806e-5),
];

/// Beyond the table's last point, the score that lowers the false match rate tenfold: the impostor
/// tail as an exponential fitted to the scores above the table's 1% point, at the upper 95% bound of
/// its scale (see the module docs).
pub const TAIL_DECADE: f32 = 0.0236;

/// The false match rate expected at `score` as a threshold: interpolated (log-linearly in the FMR)
/// between the points of [`CALIBRATION`]; 1 below the first point (a conservative bound: the table
/// starts at 10%); above the last, extrapolated along the fitted tail ([`TAIL_DECADE`]), so that it is
/// never 0 and a 1:N search can be held to `templates × FMR` (see the module docs for what that rests
/// on).
pub fn fmr_for_score(score: f32) -> f64 {
    fmr_in(CALIBRATION, TAIL_DECADE, score)
}

/// The lowest threshold whose expected false match rate is at most `fmr`: the inverse of
/// [`fmr_for_score`] (the table's first score for rates at or above its first point's).
pub fn score_for_fmr(fmr: f64) -> f32 {
    score_in(CALIBRATION, TAIL_DECADE, fmr)
}

fn fmr_in(table: &[(f32, f64)], decade: f32, score: f32) -> f64 {
    let (Some(&(first, _)), Some(&(last, last_fmr))) = (table.first(), table.last()) else { return 1.0 };
    if score.is_nan() || score < first {
        return 1.0;
    }
    if score > last {
        return last_fmr * 10f64.powf(-f64::from((score - last) / decade));
    }
    for w in table.windows(2) {
        let ((s0, f0), (s1, f1)) = (w[0], w[1]);
        if score < s1 {
            let t = f64::from((score - s0) / (s1 - s0)).clamp(0.0, 1.0);
            return (f0.ln() + t * (f1.ln() - f0.ln())).exp();
        }
    }
    last_fmr
}

fn score_in(table: &[(f32, f64)], decade: f32, fmr: f64) -> f32 {
    let (Some(&(first, first_fmr)), Some(&(last, last_fmr))) = (table.first(), table.last()) else {
        return f32::INFINITY;
    };
    if fmr.is_nan() || fmr <= 0.0 {
        return f32::INFINITY;
    }
    if fmr >= first_fmr {
        return first;
    }
    if fmr < last_fmr {
        return last + decade * (last_fmr / fmr).log10() as f32;
    }
    for w in table.windows(2) {
        let ((s0, f0), (s1, f1)) = (w[0], w[1]);
        if fmr >= f1 {
            let t = ((f0.ln() - fmr.ln()) / (f0.ln() - f1.ln())) as f32;
            return s0 + t * (s1 - s0);
        }
    }
    last
}

/// The tail of `impostor` scores above `from` as an exponential: the score per tenfold fall of the
/// false match rate at the upper one-sided 95% bound of the scale (`2kβ̂ / χ²₀.₀₅(2k)` for `k`
/// exceedances of mean excess `β̂`, with the Wilson–Hilferty approximation of the χ² quantile), so
/// that a thin set errs towards a slower fall. `None` without scores above `from`.
pub fn fit_tail_decade(impostor: &[f32], from: f32) -> Option<(f32, usize)> {
    let excess: Vec<f64> = impostor.iter().filter(|&&s| s > from).map(|&s| f64::from(s - from)).collect();
    let k = excess.len();
    if k == 0 {
        return None;
    }
    let mean = excess.iter().sum::<f64>() / k as f64;
    let nu = 2.0 * k as f64;
    let c = 2.0 / (9.0 * nu);
    let chi2 = nu * (1.0 - c - 1.644_854 * c.sqrt()).max(0.05).powi(3);
    let scale = nu * mean / chi2;
    Some(((scale * std::f64::consts::LN_10) as f32, k))
}

/// Accuracy figures of one set of genuine and impostor scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Equal error rate, 0–1: where FMR and FNMR cross (their mean at the closest threshold).
    pub eer: f64,
    /// False non-match rate at the lowest threshold giving FMR ≤ 1%.
    pub fnmr_at_fmr_1e2: f64,
    /// False non-match rate at the lowest threshold giving FMR ≤ 0.1%.
    pub fnmr_at_fmr_1e3: f64,
    /// False non-match rate at the lowest threshold giving FMR = 0.
    pub fnmr_at_fmr_0: f64,
}

/// `(threshold, FMR, FNMR)` at every distinct score and above the highest, by increasing threshold;
/// a comparison matches when its score is at or above the threshold.
pub fn error_curve(genuine: &[f32], impostor: &[f32]) -> Vec<(f32, f64, f64)> {
    let mut g: Vec<f32> = genuine.iter().copied().filter(|s| !s.is_nan()).collect();
    let mut i: Vec<f32> = impostor.iter().copied().filter(|s| !s.is_nan()).collect();
    g.sort_by(f32::total_cmp);
    i.sort_by(f32::total_cmp);
    let mut th: Vec<f32> = g.iter().chain(&i).copied().collect();
    th.sort_by(f32::total_cmp);
    th.dedup();
    th.push(f32::INFINITY);
    let (ng, ni) = (g.len().max(1) as f64, i.len().max(1) as f64);
    th.into_iter()
        .map(|t| {
            let below_g = g.partition_point(|&s| s < t);
            let below_i = i.partition_point(|&s| s < t);
            (t, (i.len() - below_i) as f64 / ni, below_g as f64 / ng)
        })
        .collect()
}

/// EER and FNMR at FMR 1%, 0.1% and 0, as the FVC protocol defines them.
pub fn accuracy(genuine: &[f32], impostor: &[f32]) -> Accuracy {
    let curve = error_curve(genuine, impostor);
    let eer = curve
        .iter()
        .min_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
        .map_or(1.0, |&(_, fmr, fnmr)| (fmr + fnmr) / 2.0);
    let fnmr_at = |limit: f64| curve.iter().filter(|c| c.1 <= limit).map(|c| c.2).fold(1.0, f64::min);
    Accuracy { eer, fnmr_at_fmr_1e2: fnmr_at(0.01), fnmr_at_fmr_1e3: fnmr_at(0.001), fnmr_at_fmr_0: fnmr_at(0.0) }
}

/// The lowest threshold whose FMR on `impostor` is at most `fmr` (with the FMR it gives), i.e. the
/// operating point an operator asking for that FMR gets.
pub fn threshold_for_fmr(impostor: &[f32], fmr: f64) -> (f32, f64) {
    error_curve(&[], impostor).into_iter().find(|c| c.1 <= fmr).map_or((f32::INFINITY, 0.0), |c| (c.0, c.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_of_separated_and_overlapping_scores() {
        let a = accuracy(&[0.8, 0.9, 0.7], &[0.1, 0.2, 0.3]);
        assert_eq!(a.eer, 0.0);
        assert_eq!(a.fnmr_at_fmr_0, 0.0);
        let b = accuracy(&[0.1, 0.9], &[0.5, 0.0]);
        assert!((b.eer - 0.5).abs() < 1e-9, "{b:?}");
        assert_eq!(b.fnmr_at_fmr_0, 0.5);
    }

    #[test]
    fn thresholds_and_interpolation() {
        let imp: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let (t, f) = threshold_for_fmr(&imp, 0.01);
        assert!((t - 0.990).abs() < 1e-6 && (f - 0.01).abs() < 1e-9, "{t} {f}");
        let table = [(0.1f32, 0.1f64), (0.2, 0.01), (0.3, 0.001)];
        assert_eq!(fmr_in(&table, 0.1, 0.05), 1.0);
        assert!((fmr_in(&table, 0.1, 0.15) - 0.1f64.powf(1.5)).abs() < 1e-6);
        // Beyond the last point: a decade per 0.1 of score.
        assert!((fmr_in(&table, 0.1, 0.5) - 1e-5).abs() < 1e-9, "{}", fmr_in(&table, 0.1, 0.5));
        assert_eq!(fmr_in(&table, 0.1, f32::NAN), 1.0);
        assert_eq!(fmr_in(&[], 0.1, 0.5), 1.0);
        for f in [0.05, 0.01, 0.003, 1e-3, 1e-5, 1e-9] {
            let s = score_in(&table, 0.1, f);
            assert!((fmr_in(&table, 0.1, s) / f - 1.0).abs() < 1e-4, "{f}: {s}");
        }
        assert_eq!(score_in(&table, 0.1, 0.5), 0.1);
        assert_eq!(score_in(&table, 0.1, 0.0), f32::INFINITY);
        assert_eq!(score_in(&[], 0.1, 0.5), f32::INFINITY);
    }

    #[test]
    fn the_calibration_table_is_ordered_and_fmr_for_score_decreases() {
        assert!(CALIBRATION.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1), "{CALIBRATION:?}");
        let mut last = 1.0;
        for i in 0..=300 {
            let f = fmr_for_score(i as f32 / 1000.0);
            assert!((0.0..=1.0).contains(&f) && f <= last, "{i}: {f} after {last}");
            last = f;
        }
        for &(score, fmr) in CALIBRATION {
            assert!((fmr_for_score(score) - fmr).abs() < 1e-9, "at a listed threshold the listed FMR");
        }
        assert!(fmr_for_score(1.0) > 0.0, "never 0: the tail is extrapolated");
        assert!(fmr_for_score(0.3) < 1e-9 && fmr_for_score(0.2) < 1e-6);
    }

    #[test]
    fn an_exponential_tail_is_fitted_and_errs_towards_a_slow_fall() {
        // Scores 0.5 + excess, the excesses of an exponential of scale 0.01 by their quantiles.
        let k = 400;
        let imp: Vec<f32> = (0..k).map(|i| 0.5 + (-0.01 * (1.0 - (i as f64 + 0.5) / k as f64).ln()) as f32).collect();
        let (decade, n) = fit_tail_decade(&imp, 0.5).expect("a fit");
        assert_eq!(n, k);
        let exact = 0.01 * std::f32::consts::LN_10;
        assert!(decade > exact && decade < exact * 1.15, "{decade} against {exact}");
        // Fewer exceedances, a wider margin over the plain estimate (mean excess × ln 10).
        let margin = |x: &[f32]| {
            let mean = x.iter().map(|s| s - 0.5).sum::<f32>() / x.len() as f32;
            fit_tail_decade(x, 0.5).map_or(0.0, |f| f.0) / (mean * std::f32::consts::LN_10)
        };
        let (thin, thick) = (margin(&imp[..20]), margin(&imp));
        assert!(thin > thick && thick > 1.0, "{thin} {thick}");
        assert_eq!(fit_tail_decade(&imp, 2.0), None);
    }
}
