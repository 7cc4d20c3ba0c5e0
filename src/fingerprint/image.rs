//! Grey fingerprint images: decoding and scaling to 500 dpi.

/// An 8-bit grey image at a known resolution, row-major, one byte per pixel (0 black, 255 white).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Dots per inch.
    pub dpi: u32,
    /// `width × height` bytes.
    pub pixels: Vec<u8>,
}
