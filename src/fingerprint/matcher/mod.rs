//! Comparing two templates into a calibrated score. Pure computation: deterministic, no I/O, no
//! panics, no allocation beyond the comparison's own working space.
//!
//! # Method
//! A hybrid of local structures and a global consolidation, both from the published literature; every
//! constant is in `params.rs` with its source.
//!
//! 1. **Preparation** ([`PreparedTemplate::new`]). Minutiae with non-finite values are dropped and at
//!    most 100 are kept, the best by quality (the only use of minutia quality: our extractor's figures
//!    did not help as weights, and other vendors often write 0 for "unknown"). Each minutia gets a
//!    **Minutia Cylinder-Code** in its bit form (Cappelli, Ferrara & Maltoni, "Minutia Cylinder-Code: a
//!    new representation and matching technique for fingerprint recognition", IEEE TPAMI 32(12), 2010,
//!    §3, with the paper's parameters: radius 70 px, 16 × 16 cells × 6 direction layers, σS = 28/3,
//!    σD = 2π/9, μΨ = 0.01). Cells are valid inside the convex hull of the minutiae grown by 50 px, so
//!    that no minutia is expected where the finger was not seen; a cylinder with under 75% of its
//!    cells valid or fewer than 2 neighbours is not used. An 8 × 8 × 6 coarse copy (each cell the OR of
//!    four) is kept for a fast first pass.
//! 2. **Local similarities** (`cylinder.rs`). Cylinders whose minutiae point within 90° of each
//!    other and share at least 60% of their cells as valid are compared by the paper's bit-based
//!    similarity over the cells valid in both. All such pairs are compared by the coarse codes and the
//!    best 5 per usable minutia at full resolution (our speed-up; it does not change the accuracy
//!    measurably).
//! 3. **LSS-R** (`consolidate.rs`, MCC paper §4.4): the best `nR = min(nA, nB)` pairs, one-to-one,
//!    go through 5 rounds of relaxation that strengthen pairs agreeing with other pairs on distance,
//!    relative direction and radial angle; the local score is the mean strength of the 4–12 pairs
//!    (by template size) that kept most of their initial strength.
//! 4. **Global pairing** (`pairing.rs`): the 3 strongest relaxed pairs are tried as alignments
//!    (rotation and translation of one minutia onto another, Jiang & Yau, "Fingerprint minutiae
//!    matching based on the local and global structures", ICPR 2000); under each, minutiae are paired
//!    one-to-one, closest first, within 12 px plus 10% of their distance from the reference pair (the
//!    tolerance growing with distance of Jain, Hong & Bolle, "On-line fingerprint verification", IEEE
//!    TPAMI 19(4), 1997) and 30°; a pair of an ending with a bifurcation counts 0.8 (type used softly).
//!    The best alignment is then refined: the rigid motion that fits its pairs in the least-squares
//!    sense (2-D Procrustes about their centroids; Arun, Huang & Blostein, IEEE TPAMI 9(5), 1987)
//!    replaces the one-pair placement when pairing again under it pairs more (a single minutia pair
//!    fixes the placement only roughly, and the error grows with distance from it; with the extractor
//!    of the time this lowered the mean EER from 1.78% to 1.69%, most on the partial, distorted prints
//!    of DB3, and left the ISO templates' unchanged).
//!    The best alignment scores `w² / (oA · oB)`, `w` the weighted pairs and `oA`, `oB` the minutiae of
//!    each template inside the other's area (its convex hull grown by 10 px), at least 8: the
//!    normalisation of Jain, Hong & Bolle restricted to the overlap, so that a partial impression is
//!    not penalised for minutiae the other could not show.
//! 5. **Score**: the geometric mean of the local and global scores. Relaxation rewards many mutually
//!    consistent local matches, even under distortion; the pairing asks that they also agree with one
//!    placement of the whole finger. Each alone does worse at low false match rates.
//!
//! Robustness: translation and rotation (up to 90° between impressions, the MCC direction gate) leave
//! cylinders unchanged; elastic distortion is absorbed by the cylinders' tolerance, by relaxation's
//! pairwise (local) checks and by the growing pairing tolerance; partial overlap by the valid-cell masks
//! and the overlap-restricted normalisation. The score is symmetric up to ties and rounding (every step
//! treats the two templates alike), and deterministic: ties are broken by indices, never by sort order.
//!
//! # Accuracy and speed
//! FVC2002 set B, protocol of `../shared/data/README.md` (mean over DB1–DB4, all-impostor pairs):
//!
//! | templates | EER | FNMR at FMR 0.1% | FNMR at FMR 0 |
//! |---|---|---|---|
//! | our extractor (images) | 1.14% | 2.41% | 3.39% |
//! | SecuGen ISO 19794-2 records | 2.25% | 5.27% | 9.55% |
//! | NIST NBIS on images, for reference | 5.23% | 16.5% | — |
//!
//! About 28,000 comparisons per second on one core of the 2-core development machine (prepared
//! templates of a median 23–41 minutiae by database, all FVC2002 pairs, 13.5 times NBIS's bozorth3 in
//! the same run; the placement refinement of step 4 costs about a tenth of that), with
//! `POPCNT` enabled as `.cargo/config.toml` asks; preparing a template (its cylinders) takes about
//! 130–250 µs. Speed: `cargo bench --features nbis-bench --bench fingerprint`. Accuracy: reproduce with
//! `tally fingerprint eval ../shared/data/fvc2002 [--ext iso]` or, independently of this code,
//! `../shared/tools/fp-eval --cmd 'target/release/tally fingerprint compare-batch' ../shared/data/fvc2002`.
//!
//! # Use
//! [`compare`] takes two [`Template`]s. To compare one template with many, prepare each once with
//! [`PreparedTemplate::new`] and call [`compare_prepared`]: preparing builds the cylinders, which costs
//! far more than a comparison. Scores are in `[0, 1]`, higher is more similar, 0 when the templates have
//! nothing in common (or either has too few minutiae to compare). Choose a threshold by the false match
//! rate it gives, with [`calibration::CALIBRATION`] and [`calibration::fmr_for_score`].

pub mod calibration;
mod consolidate;
mod cylinder;
mod geometry;
mod pairing;
mod params;

#[cfg(test)]
mod tests;

use crate::fingerprint::template::{MinutiaKind, Template};

pub use calibration::{CALIBRATION, fmr_for_score};

/// A minutia as the matcher keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) angle: f32,
    pub(crate) kind: MinutiaKind,
    pub(crate) quality: u8,
}

/// A template made ready for fast comparison: its minutiae (at most `MAX_MINUTIAE`, the best by quality)
/// and one cylinder per minutia whose neighbourhood is rich enough.
#[derive(Clone)]
pub struct PreparedTemplate {
    /// The minutiae kept, best first.
    pub(crate) points: Vec<Point>,
    /// The valid cylinders at coarse resolution, kept apart from the fine ones so that the first pass,
    /// which reads every pair, walks contiguous memory (one cache line per cylinder).
    pub(crate) coarse: Vec<cylinder::CoarseCode>,
    /// The valid cylinders at full resolution, in the same order.
    pub(crate) fine: Vec<cylinder::FineCode>,
    /// For each cylinder, its minutia's direction.
    pub(crate) cylinder_angles: Vec<f32>,
    /// For each cylinder, its minutia's index in `points`.
    pub(crate) cylinder_points: Vec<u16>,
    /// The area where minutiae were found: their convex hull, grown by `AREA_MARGIN`.
    pub(crate) area: geometry::Hull,
}

/// Written by hand: the contents describe a finger and must not reach a log.
impl std::fmt::Debug for PreparedTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedTemplate")
            .field("minutiae", &self.points.len())
            .field("cylinders", &self.fine.len())
            .finish()
    }
}

impl PreparedTemplate {
    /// Prepares `t`: drops minutiae with non-finite coordinates or angles, keeps the best
    /// `MAX_MINUTIAE` by quality (ties by position, so the result never depends on the input order of
    /// equals), and builds their cylinders.
    pub fn new(t: &Template) -> PreparedTemplate {
        let mut points: Vec<Point> = t
            .minutiae
            .iter()
            .filter(|m| m.x.is_finite() && m.y.is_finite() && m.angle.is_finite())
            .map(|m| Point {
                x: m.x,
                y: m.y,
                angle: crate::fingerprint::template::wrap_angle(m.angle),
                kind: m.kind,
                quality: m.quality.min(100),
            })
            .collect();
        points.sort_by(|a, b| {
            b.quality
                .cmp(&a.quality)
                .then(a.y.total_cmp(&b.y))
                .then(a.x.total_cmp(&b.x))
                .then(a.angle.total_cmp(&b.angle))
        });
        points.truncate(params::MAX_MINUTIAE);
        let (mut coarse, mut fine, mut cylinder_angles, mut cylinder_points) = (vec![], vec![], vec![], vec![]);
        for (i, c) in cylinder::build(&points).into_iter().enumerate() {
            if let Some(c) = c {
                coarse.push(c.coarse);
                fine.push(c.fine);
                cylinder_angles.push(points[i].angle);
                cylinder_points.push(i as u16);
            }
        }
        let area = geometry::Hull::new(points.iter().map(|p| (p.x, p.y)), params::AREA_MARGIN);
        PreparedTemplate { points, coarse, fine, cylinder_angles, cylinder_points, area }
    }

    /// Minutiae kept for comparison.
    pub fn minutiae(&self) -> usize {
        self.points.len()
    }

    /// Minutiae whose neighbourhood is rich enough to take part in a comparison.
    pub fn usable(&self) -> usize {
        self.fine.len()
    }
}

/// The similarity of two templates, in `[0, 1]` (see the module docs).
pub fn compare(a: &Template, b: &Template) -> f32 {
    compare_prepared(&PreparedTemplate::new(a), &PreparedTemplate::new(b))
}

/// [`compare`] on prepared templates.
pub fn compare_prepared(a: &PreparedTemplate, b: &PreparedTemplate) -> f32 {
    consolidate::score(a, b)
}
