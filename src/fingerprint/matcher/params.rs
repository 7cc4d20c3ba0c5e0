//! Every constant of the matcher in one place, with where it comes from. Lengths are pixels at 500 dpi,
//! angles radians.

use std::f32::consts::PI;

// --- Cylinders (MCC paper, Table 1, unless said otherwise) ---------------------------------------

/// Cylinder radius.
pub(crate) const R: f32 = 70.0;
/// Spatial cells along each side of a cylinder.
pub(crate) const NS: usize = 16;
/// Angular layers.
pub(crate) const ND: usize = 6;
/// Side of a spatial cell, `2R / NS`.
pub(crate) const DELTA_S: f32 = 2.0 * R / NS as f32;
/// Height of an angular layer, `2π / ND`.
pub(crate) const DELTA_D: f32 = 2.0 * PI / ND as f32;
/// Spatial spread of a neighbour's contribution.
pub(crate) const SIGMA_S: f32 = 28.0 / 3.0;
/// Angular spread of a neighbour's contribution.
pub(crate) const SIGMA_D: f32 = 2.0 * PI / 9.0;
/// A cell's bit is set when the contributions reach this (the paper's `μΨ`).
pub(crate) const MU_PSI: f32 = 0.01;
/// The convex hull of the minutiae, grown by this, bounds the valid cells.
pub(crate) const OMEGA: f32 = 50.0;
/// A cylinder needs this share of its disc's cells valid.
pub(crate) const MIN_VC: f32 = 0.75;
/// A cylinder needs this many neighbours within `R + 3σS`.
pub(crate) const MIN_M: usize = 2;
/// u64 words per layer.
pub(crate) const WORDS: usize = (NS * NS).div_ceil(64);

// --- Local similarities --------------------------------------------------------------------------

/// Two cylinders are compared only when their minutiae's directions differ by at most this.
pub(crate) const DELTA_THETA: f32 = PI / 2.0;
/// ... and when they share this share of a disc's cells as valid.
pub(crate) const MIN_ME: f32 = 0.60;
/// Pairs per usable minutia of the smaller template compared at full resolution, after a shortlist by
/// the coarse cylinders (a speed-up of ours, not in the paper).
pub(crate) const SHORTLIST: usize = 5;

// --- Consolidation: LSS-R (MCC paper §4) ---------------------------------------------------------

/// Fewest and most pairs averaged into the score, and the sigmoid choosing between them by the
/// smaller template's size.
pub(crate) const MIN_NP: usize = 4;
/// See [`MIN_NP`].
pub(crate) const MAX_NP: usize = 12;
/// See [`MIN_NP`].
pub(crate) const MU_P: f32 = 20.0;
/// See [`MIN_NP`].
pub(crate) const TAU_P: f32 = 2.0 / 5.0;
/// Relaxation iterations.
pub(crate) const N_REL: usize = 5;
/// Weight of a pair's own previous strength in each iteration.
pub(crate) const W_R: f32 = 0.5;
/// Compatibility of two pairs: distance agreement (pixels).
pub(crate) const MU_RHO_1: f32 = 5.0;
/// See [`MU_RHO_1`].
pub(crate) const TAU_RHO_1: f32 = -8.0 / 5.0;
/// Compatibility: agreement of the directions' difference.
pub(crate) const MU_RHO_2: f32 = PI / 12.0;
/// See [`MU_RHO_2`].
pub(crate) const TAU_RHO_2: f32 = -30.0;
/// Compatibility: agreement of the radial angles.
pub(crate) const MU_RHO_3: f32 = PI / 12.0;
/// See [`MU_RHO_3`].
pub(crate) const TAU_RHO_3: f32 = -30.0;

// --- Global pairing -----------------------------------------------------------------------------

/// Two aligned minutiae pair when they lie this close ...
pub(crate) const PAIR_DIST: f32 = 12.0;
/// ... plus this share of their distance from the reference pair (distortion grows with it) ...
pub(crate) const PAIR_DIST_SLOPE: f32 = 0.1;
/// ... and point within this of each other.
pub(crate) const PAIR_ANGLE: f32 = PI / 6.0;
/// A pair of an ending and a bifurcation counts this much (extractors often confuse the two, and
/// other vendors' extractors decide differently).
pub(crate) const PAIR_KIND_MISMATCH: f32 = 0.8;
/// Overlap counts below this are raised to it, so that a tiny overlap cannot score high.
pub(crate) const PAIR_MIN_OVERLAP: usize = 8;
/// The margin of a template's area (the convex hull of its minutiae) when counting overlap.
pub(crate) const AREA_MARGIN: f32 = 10.0;
/// Alignment hypotheses tried: the strongest pairs after relaxation.
pub(crate) const HYPOTHESES: usize = 3;

// --- Templates -----------------------------------------------------------------------------------

/// Most minutiae a prepared template keeps (the best by quality, then by position). Cylinders
/// saturate long before this; the cap bounds the time of one comparison.
pub(crate) const MAX_MINUTIAE: usize = 100;
