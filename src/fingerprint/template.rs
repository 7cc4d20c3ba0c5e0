//! Minutiae templates: the in-memory form every part of the engine shares, and its compact, versioned
//! binary encoding for storage.

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

/// A finger's minutiae with the size of the image they came from.
#[derive(Debug, Clone, PartialEq, Default)]
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
