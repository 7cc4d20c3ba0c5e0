//! When the best candidate of a 1:N search is taken for the person at the lane: the identification
//! operating point. It owns the rule, not the figures behind it (the calibration is the matcher's,
//! [`crate::fingerprint::matcher::calibration`]).
//!
//! A search compares the probe with every enrolled template, so a finger nobody enrolled is named
//! with a chance of up to `templates × FMR(threshold)`: the false positive identification rate
//! (FPIR). The gate holds that to [`OperatingPoint::max_fpir`], so the per-comparison false match
//! rate it accepts shrinks as the gallery grows: with the default one in a thousand, about 10⁻⁵ for 100
//! templates and 5·10⁻⁹ for 200,000 (scores of about 0.160 and 0.237 on the calibration of this
//! build). The price is paid by genuine touches that score between the two: see the README's
//! "Identification at gallery scale" for what it costs and how it was measured.

use crate::fingerprint::matcher::calibration::{fmr_for_score, score_for_fmr};

/// The default: one touch in a thousand of a finger nobody enrolled names someone.
pub const DEFAULT_MAX_FPIR: f64 = 1e-3;

/// The identification operating point (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    /// The largest false positive identification rate accepted: the chance that a finger nobody
    /// enrolled is named, per touch.
    pub max_fpir: f64,
}

impl Default for OperatingPoint {
    fn default() -> Self {
        OperatingPoint { max_fpir: DEFAULT_MAX_FPIR }
    }
}

impl OperatingPoint {
    /// The largest per-comparison false match rate accepted when `templates` are searched.
    pub fn max_fmr(&self, templates: usize) -> f64 {
        self.max_fpir / templates.max(1) as f64
    }

    /// The score a best candidate needs when `templates` are searched.
    pub fn threshold(&self, templates: usize) -> f32 {
        score_for_fmr(self.max_fmr(templates))
    }

    /// Whether a best candidate of `score` is taken when `templates` are searched.
    pub fn accepts(&self, score: f32, templates: usize) -> bool {
        fmr_for_score(score) <= self.max_fmr(templates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_rises_with_the_gallery() {
        let op = OperatingPoint::default();
        let mut last = 0.0;
        for n in [1, 100, 1_000, 20_000, 200_000] {
            let t = op.threshold(n);
            assert!(t > last, "{n}: {t} after {last}");
            assert!(op.accepts(t + 1e-4, n) && !op.accepts(t - 1e-3, n), "{n}: {t}");
            last = t;
        }
        // Within the calibration table for one template; at prison scale, well above every impostor
        // the calibration set holds (its last point is the highest impostor score).
        let table = crate::fingerprint::matcher::calibration::CALIBRATION;
        let (lowest, highest) = (table[0].0, table[table.len() - 1].0);
        assert!(op.threshold(1) > lowest && op.threshold(1) < highest, "{}", op.threshold(1));
        assert!(op.threshold(200_000) > highest + 0.05, "{} against {highest}", op.threshold(200_000));
        assert_eq!(op.max_fmr(0), op.max_fmr(1), "an empty gallery is searched as one template");
    }

    #[test]
    fn a_stricter_point_asks_more() {
        let loose = OperatingPoint { max_fpir: 1e-2 };
        let strict = OperatingPoint { max_fpir: 1e-4 };
        assert!(strict.threshold(10_000) > loose.threshold(10_000));
    }
}
