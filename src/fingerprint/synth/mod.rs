//! Synthetic fingerprints, belonging to no one: images for accuracy tests that need no one's biometric
//! data, and minutiae templates for distractor galleries of any size. Pure computation, no I/O, no
//! `unsafe`; every output is a function of a `u64` seed and an index, the same on every platform
//! (ChaCha8 streams, `rng.rs`). It does not write files (`tally fingerprint synth` does) nor extract
//! or match (the images go through [`crate::fingerprint::extract`] like any other).
//!
//! # Layout and the published methods followed
//! | part | file | method |
//! |---|---|---|
//! | classes, singular points, orientation | [`orientation`] | Sherlock & Monro, "A model for interpreting fingerprint topology", *Pattern Recognition* 26(7), 1993 (zero-pole model); Vizcaya & Gerhardt, "A nonlinear orientation model for global description of fingerprints", *Pattern Recognition* 29(7), 1996 (piecewise-linear correction, here with random node shifts); class frequencies from Maltoni et al., *Handbook of Fingerprint Recognition*, 2nd ed., §5.1 |
//! | fingertip outline | [`shape`] | SFinGe's area model: Cappelli, Maio & Maltoni, "Synthetic fingerprint-image generation", ICPR 2000, §2; *Handbook* ch. 6 |
//! | ridge density | [`density`] | SFinGe's density map (ICPR 2000; *Handbook* ch. 6): about 1/9 px⁻¹, sparser near singular points |
//! | master ridge pattern | [`master`] | SFinGe's iterative space-variant Gabor filtering from a few spikes (ICPR 2000; *Handbook* ch. 6) |
//! | placement and distortion | [`distortion`] | Cappelli, Maio & Maltoni, "Modelling plastic distortion in fingerprint images", ICAPR 2001 |
//! | impressions | [`impression`] | SFinGe's impression stage (ICPR 2000; *Handbook* ch. 6): contact region, pressure and dryness, distortion, placement, noise and background |
//! | minutiae templates without images | [`templates`] | ours: the orientation model above evaluated only at the minutiae |
//!
//! Only the papers were read; no code of SFinGe, Anguli or any other generator was consulted. Where
//! we depart from them: the arch, which Sherlock & Monro's model cannot express without singular
//! points, is a family of bumps ([`orientation`]); the Gabor growth updates only blocks near a change,
//! for at most 16 steps after the pattern reaches them ([`master`]); the ridge flow wanders slightly
//! (±0.15 rad) about the model field so that ridges crowd and spread as real ones do; dryness breaks
//! ridges with fine value noise, wetness thickens them by lowering the binarisation level.
//!
//! # Use
//! - Images: [`Master::generate`]`(seed, finger)` grows a finger (about 0.2 s), then
//!   [`Master::impression`]`(k, &`[`ImpressionSettings`]`)` renders impression `k` as a 300 × 400, 500 dpi
//!   [`GrayImage`](crate::fingerprint::image::GrayImage), dark ridges on a light background as in FVC.
//! - Templates: [`templates::Gallery::new`]`(seed)` is an endless iterator of
//!   [`Template`](crate::fingerprint::template::Template)s and [`templates::finger`]`(seed, i)` gives
//!   any one of them directly; [`templates::impression`] makes another capture of one for tests.
//!
//! # Measurements
//! On the 2-core development machine, shared with other work (release build):
//!
//! - **Images**: about 0.2 s per master and 0.1 s per impression on one core; `tally fingerprint synth
//!   --fingers 100 --impressions 8 --fvc` wrote 800 images in 18 s (44 images/s on both cores).
//! - **Accuracy on images** (that set, seed 1, `tally fingerprint eval DIR --ext png`, mean of the ten
//!   databases, all impostor pairs): EER 2.62%, FNMR at FMR 0.1% 5.39%, at FMR 0 7.29%. Ours on
//!   FVC2002: 1.14%, 2.41%, 3.39%. The ten databases' EERs range from 0.35% to 7.2%. (The extractor's
//!   enhancement is tuned on real prints; with its narrower envelope of before, these images gave
//!   2.09%: see `extract/enhance.rs`.)
//! - **Templates**: 58,000–77,000 per second on one core ([`templates::Gallery`], 40 minutiae on
//!   average).
//! - **Template impostor scores** ([`crate::fingerprint::matcher::compare_prepared`]; quantiles 50%,
//!   90%, 99%, 99.9%, maximum):
//!
//! | pairs | count | 50% | 90% | 99% | 99.9% | max |
//! |---|---|---|---|---|---|---|
//! | (a) FVC2002 set B, all impostors, SecuGen ISO records | 11,520 | 0.0475 | 0.0697 | 0.0928 | 0.1095 | 0.1352 |
//! | (a) FVC2002 set B, all impostors, our extraction of the images | 11,520 | 0.0467 | 0.0683 | 0.0915 | 0.1101 | 0.1374 |
//! | (b) synthetic vs synthetic (450 fingers, every pair) | 101,025 | 0.0420 | 0.0612 | 0.0816 | 0.0975 | 0.1204 |
//! | (c) synthetic vs real (300 synthetic × 320 ISO records) | 96,000 | 0.0396 | 0.0574 | 0.0780 | 0.0952 | 0.1232 |
//! | (c) synthetic vs real (300 synthetic × 320 extracted) | 96,000 | 0.0390 | 0.0568 | 0.0767 | 0.0933 | 0.1213 |
//!
//! Plainly: real impostor scores are **higher** than synthetic ones, by 10–15% at every quantile, so
//! a synthetic gallery is a slightly easier distractor set than real fingers, and an FMR measured on
//! it is somewhat optimistic. The local structure is close to real (nearest
//! neighbour at a median 19 px, real 20–21; 35% of nearest neighbours point opposite ways, real
//! 37–40%; median distance to the centroid 87 px, real 85–87); more minutiae per template raise the
//! scores (a median of 33 gave 0.039 at 50%, 40 gives 0.041), and the remaining gap is likely the
//! structure real fingers share beyond our model (same sensor and placement habits within an FVC
//! database, and ridge-flow detail the zero-pole model lacks).
//!
//! Reproduce: `cargo build --release`, then `tally fingerprint synth --fingers 100 --impressions 8
//! --seed 1 --fvc --out DIR` and `tally fingerprint eval DIR --ext png`; and `cargo test --release
//! --test it fingerprint_synth::impostor_scores -- --ignored --nocapture` for the template figures
//! (it reads `../shared/data/fvc2002`).

pub mod density;
pub mod distortion;
pub mod impression;
pub mod master;
mod noise;
pub mod orientation;
mod rng;
pub mod shape;
pub mod templates;

#[cfg(test)]
mod tests;

pub use impression::ImpressionSettings;
pub use master::Master;
pub use orientation::Class;
