//! Minutiae templates: the in-memory form every part of the engine shares, and its compact, versioned
//! binary encoding for storage. It does not read or write ISO/ANSI records (that is [`super::iso`]).
//!
//! # Encoding, version 1
//! Big-endian throughout; [`Template::to_bytes`] writes it, [`Template::from_bytes`] reads it.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `TFPT` |
//! | 4 | 1 | version, 1 |
//! | 5 | 2 | width, pixels at 500 dpi |
//! | 7 | 2 | height, pixels at 500 dpi |
//! | 9 | 1 | quality, 0–100 |
//! | 10 | 2 | minutiae count *n* |
//! | 12 | 8 × *n* | minutiae |
//!
//! Each minutia, 8 bytes: x (u16) and y (u16) in 1/8 pixel, angle (u16) in units of 2π/65536, kind
//! (u8: 0 ending, 1 bifurcation, 2 other), quality (u8, 0–100). Nothing follows the last minutia.
//! Decoding refuses any other length, magic or version, unknown kind codes, qualities above 100 and
//! minutiae outside `[0, width) × [0, height)`. A later version gets a new version byte; this one is
//! never reinterpreted.

/// What kind of ridge event a minutia is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MinutiaKind {
    /// A ridge ends.
    Ending,
    /// A ridge forks.
    Bifurcation,
    /// Unknown or other (ISO type 00).
    Other,
}

/// One minutia, in the conventions of [`crate::fingerprint`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minutia {
    /// Column, pixels at 500 dpi.
    pub x: f32,
    /// Row, pixels at 500 dpi.
    pub y: f32,
    /// Direction in radians, `[0, 2π)`, counter-clockwise from the x axis as the image is seen.
    pub angle: f32,
    /// Ending, bifurcation or other.
    pub kind: MinutiaKind,
    /// Reliability, 0 (unknown/worst) to 100 (best).
    pub quality: u8,
}

/// A finger's minutiae with the size of the image they came from. `Debug` prints the size, quality and
/// count only: a template is biometric data and never reaches a log.
#[derive(Clone, PartialEq, Default)]
pub struct Template {
    /// Image width in pixels at 500 dpi.
    pub width: u16,
    /// Image height in pixels at 500 dpi.
    pub height: u16,
    /// Overall quality of the impression, 0 to 100.
    pub quality: u8,
    /// The minutiae.
    pub minutiae: Vec<Minutia>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("quality", &self.quality)
            .field("minutiae", &self.minutiae.len())
            .finish()
    }
}

// -------------------------------------------------------------------------------------------------
// The internal binary encoding
// -------------------------------------------------------------------------------------------------

/// First four bytes of an encoded template.
pub const MAGIC: [u8; 4] = *b"TFPT";
/// The encoding version written by [`Template::to_bytes`].
pub const VERSION: u8 = 1;
/// Bytes before the first minutia.
const HEADER_LEN: usize = 12;
/// Bytes per minutia.
const MINUTIA_LEN: usize = 8;
/// Sub-pixel steps per pixel in encoded coordinates.
const SUBPIXEL: f32 = 8.0;
/// Angle steps per turn in encoded angles.
const ANGLE_STEPS: f32 = 65536.0;

/// Why bytes are not an encoded template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// Shorter than the fixed header.
    #[error("a template needs at least {HEADER_LEN} bytes, got {0}")]
    Short(usize),
    /// The first four bytes are not [`MAGIC`].
    #[error("not a tally template (bad magic)")]
    Magic,
    /// A version this build does not read.
    #[error("template encoding version {0} is not supported (this build reads version {VERSION})")]
    Version(u8),
    /// The length does not match the minutiae count.
    #[error("a template of {count} minutiae is {expected} bytes long, got {actual}")]
    Length {
        /// Minutiae count from the header.
        count: u16,
        /// Length that count implies.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A quality above 100 (`index` is `None` for the template's own quality).
    #[error("quality {value} above 100 (minutia {index:?})")]
    Quality {
        /// The offending minutia, or `None` for the template's quality.
        index: Option<usize>,
        /// The value found.
        value: u8,
    },
    /// A minutia kind code other than 0, 1 or 2.
    #[error("minutia {index} has unknown kind code {code}")]
    Kind {
        /// The offending minutia.
        index: usize,
        /// The code found.
        code: u8,
    },
    /// A minutia outside the template's width × height.
    #[error("minutia {index} at ({x}, {y}) lies outside the {width}×{height} image")]
    Outside {
        /// The offending minutia.
        index: usize,
        /// Column, pixels.
        x: f32,
        /// Row, pixels.
        y: f32,
        /// Template width.
        width: u16,
        /// Template height.
        height: u16,
    },
}

impl MinutiaKind {
    fn code(self) -> u8 {
        match self {
            MinutiaKind::Ending => 0,
            MinutiaKind::Bifurcation => 1,
            MinutiaKind::Other => 2,
        }
    }
}

/// `v` in steps of `1/SUBPIXEL` pixel, clamped into `[0, side)` and to what a u16 holds; NaN is 0.
fn encode_coordinate(v: f32, side: u16) -> u16 {
    let top = (f32::from(side) * SUBPIXEL - 1.0).clamp(0.0, f32::from(u16::MAX));
    let steps = (v * SUBPIXEL).round();
    if steps.is_nan() { 0 } else { steps.clamp(0.0, top) as u16 }
}

/// `a` (radians, any value) in steps of 2π/65536, wrapped into one turn; NaN is 0.
pub(crate) fn wrap_angle(a: f32) -> f32 {
    let tau = std::f32::consts::TAU;
    let w = a.rem_euclid(tau);
    // rem_euclid can round up to exactly τ for tiny negative inputs.
    if w.is_finite() && w < tau { w } else { 0.0 }
}

impl Template {
    /// The compact, versioned encoding for storage (layout in the module docs).
    ///
    /// Encoding never fails and its output always decodes: coordinates are clamped into
    /// `[0, width) × [0, height)` (and below 8192 pixels), a template with minutiae but a zero side is
    /// given a side of 1, qualities above 100 become 100, NaN becomes 0, and at most 65,535 minutiae
    /// are written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let minutiae = &self.minutiae[..self.minutiae.len().min(usize::from(u16::MAX))];
        let grow = |side: u16| if minutiae.is_empty() { side } else { side.max(1) };
        let (width, height) = (grow(self.width), grow(self.height));
        let mut out = Vec::with_capacity(HEADER_LEN + MINUTIA_LEN * minutiae.len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.push(self.quality.min(100));
        out.extend_from_slice(&(minutiae.len() as u16).to_be_bytes());
        for m in minutiae {
            out.extend_from_slice(&encode_coordinate(m.x, width).to_be_bytes());
            out.extend_from_slice(&encode_coordinate(m.y, height).to_be_bytes());
            let angle = (wrap_angle(m.angle) / std::f32::consts::TAU * ANGLE_STEPS).round() as u32 % 65536;
            out.extend_from_slice(&(angle as u16).to_be_bytes());
            out.push(m.kind.code());
            out.push(m.quality.min(100));
        }
        out
    }

    /// Decodes [`to_bytes`](Self::to_bytes)'s output, refusing anything malformed: short or
    /// over-long input, bad magic, unknown version, unknown kind codes, qualities above 100, or
    /// minutiae outside the template's size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Template, TemplateError> {
        let header: &[u8; HEADER_LEN] =
            bytes.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(TemplateError::Short(bytes.len()))?;
        if header[..4] != MAGIC {
            return Err(TemplateError::Magic);
        }
        if header[4] != VERSION {
            return Err(TemplateError::Version(header[4]));
        }
        let width = u16::from_be_bytes([header[5], header[6]]);
        let height = u16::from_be_bytes([header[7], header[8]]);
        let quality = header[9];
        let count = u16::from_be_bytes([header[10], header[11]]);
        let expected = HEADER_LEN + MINUTIA_LEN * usize::from(count);
        if bytes.len() != expected {
            return Err(TemplateError::Length { count, expected, actual: bytes.len() });
        }
        if quality > 100 {
            return Err(TemplateError::Quality { index: None, value: quality });
        }
        let mut minutiae = Vec::with_capacity(usize::from(count));
        for (index, m) in bytes[HEADER_LEN..].chunks_exact(MINUTIA_LEN).enumerate() {
            let field = |at: usize| u16::from_be_bytes([m[at], m[at + 1]]);
            let (x, y) = (f32::from(field(0)) / SUBPIXEL, f32::from(field(2)) / SUBPIXEL);
            if x >= f32::from(width) || y >= f32::from(height) {
                return Err(TemplateError::Outside { index, x, y, width, height });
            }
            let angle = f32::from(field(4)) * (std::f32::consts::TAU / ANGLE_STEPS);
            let kind = match m[6] {
                0 => MinutiaKind::Ending,
                1 => MinutiaKind::Bifurcation,
                2 => MinutiaKind::Other,
                code => return Err(TemplateError::Kind { index, code }),
            };
            if m[7] > 100 {
                return Err(TemplateError::Quality { index: Some(index), value: m[7] });
            }
            minutiae.push(Minutia { x, y, angle: wrap_angle(angle), kind, quality: m[7] });
        }
        Ok(Template { width, height, quality, minutiae })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn sample() -> Template {
        let kinds = [MinutiaKind::Ending, MinutiaKind::Bifurcation, MinutiaKind::Other];
        let minutiae = (0..40)
            .map(|i| Minutia {
                x: (i as f32 * 7.31) % 388.0,
                y: (i as f32 * 13.77) % 374.0,
                angle: (i as f32 * 0.517) % TAU,
                kind: kinds[i % 3],
                quality: (i * 3 % 101) as u8,
            })
            .collect();
        Template { width: 388, height: 374, quality: 71, minutiae }
    }

    fn angle_gap(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(TAU);
        d.min(TAU - d)
    }

    #[test]
    fn round_trip_keeps_minutiae_within_the_encoding_precision() {
        let t = sample();
        let bytes = t.to_bytes();
        assert_eq!(bytes.len(), 12 + 8 * 40);
        let back = Template::from_bytes(&bytes).expect("decodes");
        assert_eq!((back.width, back.height, back.quality), (388, 374, 71));
        for (a, b) in t.minutiae.iter().zip(&back.minutiae) {
            assert!((a.x - b.x).abs() <= 1.0 / 16.0 + 1e-4 && (a.y - b.y).abs() <= 1.0 / 16.0 + 1e-4, "{a:?} {b:?}");
            assert!(angle_gap(a.angle, b.angle) <= TAU / 65536.0, "{a:?} {b:?}");
            assert_eq!((a.kind, a.quality), (b.kind, b.quality));
        }
        // A decoded template re-encodes to the same bytes.
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn empty_and_odd_templates_encode_to_something_that_decodes() {
        for t in [
            Template::default(),
            Template {
                width: 0,
                height: 10,
                quality: 250,
                minutiae: vec![
                    Minutia { x: f32::NAN, y: -5.0, angle: -0.0001, kind: MinutiaKind::Ending, quality: 200 },
                    Minutia { x: 1e9, y: 9.99, angle: f32::INFINITY, kind: MinutiaKind::Other, quality: 5 },
                ],
            },
        ] {
            let back = Template::from_bytes(&t.to_bytes()).expect("always decodes");
            assert!(back.quality <= 100);
            assert!(back.minutiae.iter().all(|m| m.angle >= 0.0 && m.angle < TAU && m.quality <= 100));
        }
    }

    #[test]
    fn malformed_bytes_are_refused() {
        let good = sample().to_bytes();
        let with = |at: usize, v: u8| {
            let mut b = good.clone();
            b[at] = v;
            Template::from_bytes(&b)
        };
        assert_eq!(Template::from_bytes(&good[..5]), Err(TemplateError::Short(5)));
        assert_eq!(with(0, b'X'), Err(TemplateError::Magic));
        assert_eq!(with(4, 2), Err(TemplateError::Version(2)));
        assert!(matches!(Template::from_bytes(&good[..good.len() - 1]), Err(TemplateError::Length { .. })));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(Template::from_bytes(&longer), Err(TemplateError::Length { .. })));
        assert_eq!(with(9, 101), Err(TemplateError::Quality { index: None, value: 101 }));
        assert_eq!(with(12 + 6, 3), Err(TemplateError::Kind { index: 0, code: 3 }));
        assert_eq!(with(12 + 7, 101), Err(TemplateError::Quality { index: Some(0), value: 101 }));
        assert!(matches!(with(12, 0xff), Err(TemplateError::Outside { index: 0, .. })));
        for cut in 0..good.len() {
            assert!(Template::from_bytes(&good[..cut]).is_err());
        }
    }
}
