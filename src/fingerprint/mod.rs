//! The fingerprint engine: pure computation, no I/O.
//!
//! - [`image`]: grey images, decoding (PNG, TIFF, PGM, raw) and scaling to 500 dpi;
//! - [`template`]: minutiae and the compact, versioned internal template format;
//! - [`iso`]: ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 minutiae records;
//! - [`extract`]: from an image to a template (orientation, frequency, enhancement, minutiae);
//! - [`matcher`]: comparing two templates into a calibrated score;
//! - [`index`]: the in-memory 1:N identification index (candidate selection by minutia-pair hashing,
//!   then full matching of a short list);
//! - [`synth`]: synthetic fingerprints after SFinGe: images for accuracy tests, templates for galleries.
//!
//! Conventions shared by every part: coordinates are pixels at 500 dpi, origin at the top-left corner,
//! x to the right and y downwards; a minutia's angle is in radians in `[0, 2π)`, measured
//! counter-clockwise from the x axis as the image is seen (so its direction vector is `(cos a, −sin a)`
//! in pixel coordinates), the ISO 19794-2 convention: a ridge ending points along its ridge, and a
//! bifurcation along the valley that ends between its branches, towards the branches.

pub mod extract;
pub mod image;
pub mod index;
pub mod iso;
pub mod matcher;
pub mod synth;
pub mod template;
