//! Grey fingerprint images: decoding PNG, TIFF and PGM files, accepting raw 8-bit frames from readers,
//! and scaling to 500 dpi. It owns nothing else: no extraction, no file or device I/O.
//!
//! # What is accepted
//! - **Formats**, told apart by their first bytes, never by a file name: PNG, TIFF (baseline, first
//!   page) and PNM (PGM `P5` and `P2`; PPM and PBM decode too). Anything else is refused.
//! - **Pixels**: 8 bits per sample. Grey is taken as is; colour (RGB, palette) is converted to luma
//!   (Rec. 709 weights); an alpha channel is composited over white. 16-bit and floating-point samples
//!   are refused with [`ImageError::UnsupportedPixels`]: convert such images to 8-bit grey first.
//! - **Size**: from [`MIN_SIDE`] to [`MAX_SIDE`] pixels on each side. The size is read from the header
//!   and checked *before* any pixel is decoded, and the decoders run with an allocation limit, so a
//!   hostile file cannot make us allocate more than a few megabytes.
//!
//! # Resolution
//! Taken from the file when it carries one (PNG `pHYs` in pixels per metre; TIFF `XResolution`,
//! `YResolution` and `ResolutionUnit`, inch or centimetre), else from the caller's hint, else 500 dpi.
//! A file resolution outside [`MIN_DPI`]–[`MAX_DPI`] is treated as absent: image editors write 72 or
//! 96 dpi as a placeholder, and no fingerprint sensor works at such a resolution. A file whose
//! horizontal and vertical resolutions differ by more than 2% is refused (non-square pixels would
//! distort every distance and angle). The FVC2002 TIFFs carry no resolution tags at all.
//! [`GrayImage::to_500dpi`] then rescales with a linear (tent) filter whose support widens when
//! shrinking, so a 1000 dpi image is averaged rather than sub-sampled.

use std::io::Cursor;

use ::image::{ColorType, DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits};

/// Smallest accepted width and height, in pixels.
pub const MIN_SIDE: u32 = 64;
/// Largest accepted width and height, in pixels.
pub const MAX_SIDE: u32 = 2000;
/// Lowest resolution accepted from a caller, and believed from a file.
pub const MIN_DPI: u32 = 250;
/// Highest resolution accepted from a caller, and believed from a file.
pub const MAX_DPI: u32 = 2000;
/// Resolution assumed when neither the file nor the caller gives one.
pub const DEFAULT_DPI: u32 = 500;
/// Allocation ceiling handed to the decoders: 2000 × 2000 RGBA at 8 bits plus working room.
const MAX_DECODER_ALLOC: u64 = 64 * 1024 * 1024;

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The first bytes are not those of any image format we know.
    #[error("not a PNG, TIFF or PGM image (unrecognised first bytes)")]
    UnknownFormat,
    /// A known image format that we do not decode.
    #[error("{format} images are not accepted: use PNG, TIFF or PGM")]
    UnsupportedFormat {
        /// The format recognised from the first bytes.
        format: String,
    },
    /// Width or height above [`MAX_SIDE`].
    #[error("the image is {width}×{height} pixels, larger than the {MAX_SIDE}×{MAX_SIDE} limit")]
    TooLarge {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
    },
    /// Width or height below [`MIN_SIDE`].
    #[error("the image is {width}×{height} pixels, smaller than the {MIN_SIDE}×{MIN_SIDE} minimum")]
    TooSmall {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
    },
    /// A pixel layout other than 8 bits per sample.
    #[error("{pixels} pixels are not accepted: convert the image to 8-bit grey")]
    UnsupportedPixels {
        /// The layout the file declares, as the decoder names it.
        pixels: String,
    },
    /// The decoder found the file corrupt, truncated or beyond its limits.
    #[error("cannot decode the {format} image")]
    Decode {
        /// PNG, TIFF or PNM.
        format: &'static str,
        /// The decoder's own account.
        #[source]
        source: ::image::ImageError,
    },
    /// The in-memory reader failed (never expected with a byte slice).
    #[error("cannot read the image data")]
    Read(#[source] std::io::Error),
    /// A resolution outside [`MIN_DPI`]–[`MAX_DPI`] given by the caller.
    #[error("a resolution of {dpi} dpi is outside the accepted {MIN_DPI}–{MAX_DPI} dpi")]
    BadDpi {
        /// The resolution given.
        dpi: u32,
    },
    /// The file gives different horizontal and vertical resolutions.
    #[error("the file gives non-square pixels ({x_dpi} dpi across, {y_dpi} dpi down)")]
    NonSquarePixels {
        /// Horizontal resolution, dots per inch.
        x_dpi: u32,
        /// Vertical resolution, dots per inch.
        y_dpi: u32,
    },
    /// A raw frame whose length is not width × height.
    #[error("a raw {width}×{height} image needs {expected} bytes, got {actual}")]
    RawLength {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
        /// `width × height`.
        expected: u64,
        /// Bytes given.
        actual: usize,
    },
}

/// An 8-bit grey image at a known resolution, row-major, one byte per pixel (0 black, 255 white).
#[derive(Clone, PartialEq, Eq)]
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

/// Written by hand: the pixels are biometric data and must not reach a log.
impl std::fmt::Debug for GrayImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrayImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("dpi", &self.dpi)
            .field("pixels", &format_args!("<{} bytes>", self.pixels.len()))
            .finish()
    }
}

impl GrayImage {
    /// Decodes a PNG, TIFF or PGM file held in memory (see the module docs for what is accepted).
    /// `dpi_hint` is used when the file carries no plausible resolution; it must itself lie within
    /// [`MIN_DPI`]–[`MAX_DPI`].
    pub fn decode(bytes: &[u8], dpi_hint: Option<u32>) -> Result<GrayImage, ImageError> {
        if let Some(dpi) = dpi_hint {
            check_dpi(dpi)?;
        }
        let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(ImageError::Read)?;
        let format = match reader.format() {
            Some(ImageFormat::Png) => "PNG",
            Some(ImageFormat::Tiff) => "TIFF",
            Some(ImageFormat::Pnm) => "PNM",
            Some(other) => return Err(ImageError::UnsupportedFormat { format: format!("{other:?}") }),
            None => return Err(ImageError::UnknownFormat),
        };
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_DECODER_ALLOC);
        reader.limits(limits);
        let decode_error = |source| ImageError::Decode { format, source };
        // Only the header is read here; the pixels are decoded after the checks below.
        let decoder = reader.into_decoder().map_err(decode_error)?;
        let (width, height) = decoder.dimensions();
        check_size(width, height)?;
        let color = decoder.color_type();
        if !matches!(color, ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8) {
            return Err(ImageError::UnsupportedPixels { pixels: format!("{:?}", decoder.original_color_type()) });
        }
        let decoded = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
        let pixels = to_grey(decoded);
        let dpi = match file_dpi(bytes)? {
            Some(dpi) => dpi,
            None => dpi_hint.unwrap_or(DEFAULT_DPI),
        };
        GrayImage::from_raw(pixels, width, height, dpi)
    }

    /// A raw 8-bit grey frame, row-major, as readers deliver it. Checks the size limits, the
    /// resolution range and that `pixels` holds exactly `width × height` bytes.
    pub fn from_raw(pixels: Vec<u8>, width: u32, height: u32, dpi: u32) -> Result<GrayImage, ImageError> {
        check_size(width, height)?;
        check_dpi(dpi)?;
        let expected = u64::from(width) * u64::from(height);
        if pixels.len() as u64 != expected {
            return Err(ImageError::RawLength { width, height, expected, actual: pixels.len() });
        }
        Ok(GrayImage { width, height, dpi, pixels })
    }

    /// The image at 500 dpi. Within 2% of 500 dpi the pixels are kept and only the resolution is
    /// relabelled; otherwise they are resampled (linear filter, widened when shrinking). The result has
    /// at most `MAX_SIDE × 500 / MIN_DPI` = 4000 pixels on a side (a 250 dpi input). An image
    /// whose public fields were set inconsistently (not built by [`decode`](Self::decode) or
    /// [`from_raw`](Self::from_raw)) is returned unchanged.
    pub fn to_500dpi(&self) -> GrayImage {
        let consistent = u64::from(self.width) * u64::from(self.height) == self.pixels.len() as u64
            && (MIN_DPI..=MAX_DPI).contains(&self.dpi)
            && self.width <= MAX_SIDE
            && self.height <= MAX_SIDE;
        if !consistent {
            return self.clone();
        }
        if self.dpi.abs_diff(DEFAULT_DPI) * 50 <= DEFAULT_DPI {
            return GrayImage { dpi: DEFAULT_DPI, ..self.clone() };
        }
        let scale = f64::from(DEFAULT_DPI) / f64::from(self.dpi);
        let out_w = ((f64::from(self.width) * scale).round() as u32).max(1);
        let out_h = ((f64::from(self.height) * scale).round() as u32).max(1);
        let pixels = resample(&self.pixels, self.width as usize, self.height as usize, out_w as usize, out_h as usize);
        GrayImage { width: out_w, height: out_h, dpi: DEFAULT_DPI, pixels }
    }
}

fn check_size(width: u32, height: u32) -> Result<(), ImageError> {
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooLarge { width, height });
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(ImageError::TooSmall { width, height });
    }
    Ok(())
}

fn check_dpi(dpi: u32) -> Result<(), ImageError> {
    if (MIN_DPI..=MAX_DPI).contains(&dpi) { Ok(()) } else { Err(ImageError::BadDpi { dpi }) }
}

/// 8-bit grey from the 8-bit layouts `decode` lets through; alpha is composited over white.
fn to_grey(image: DynamicImage) -> Vec<u8> {
    match image {
        DynamicImage::ImageLuma8(grey) => grey.into_raw(),
        other => other
            .to_luma_alpha8()
            .into_raw()
            .chunks_exact(2)
            .map(|la| {
                let (l, a) = (u32::from(la[0]), u32::from(la[1]));
                ((l * a + 255 * (255 - a) + 127) / 255) as u8
            })
            .collect(),
    }
}

// -------------------------------------------------------------------------------------------------
// Resolution from the file: PNG pHYs, TIFF XResolution/YResolution/ResolutionUnit
// -------------------------------------------------------------------------------------------------

/// The file's resolution in dpi when it gives a plausible one; `None` when absent or a placeholder.
fn file_dpi(bytes: &[u8]) -> Result<Option<u32>, ImageError> {
    let Some((x, y)) = png_dpi(bytes).or_else(|| tiff_dpi(bytes)) else { return Ok(None) };
    let plausible = |d: f64| d.is_finite() && d >= f64::from(MIN_DPI) && d <= f64::from(MAX_DPI);
    if !plausible(x) || !plausible(y) {
        return Ok(None);
    }
    let (x_dpi, y_dpi) = (x.round() as u32, y.round() as u32);
    if (x - y).abs() > 0.02 * x.max(y) {
        return Err(ImageError::NonSquarePixels { x_dpi, y_dpi });
    }
    Ok(Some(x_dpi))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// PNG `pHYs` with the metre unit, as (x, y) dpi. Chunks are walked up to the first `IDAT`.
fn png_dpi(b: &[u8]) -> Option<(f64, f64)> {
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let mut at = 8usize;
    loop {
        let len = be32(b, at)? as usize;
        let kind = b.get(at.checked_add(4)?..at.checked_add(8)?)?;
        let data = b.get(at + 8..(at + 8).checked_add(len)?)?;
        match kind {
            b"pHYs" if len == 9 && data[8] == 1 => {
                let per_metre = |v: u32| f64::from(v) * 0.0254;
                return Some((per_metre(be32(data, 0)?), per_metre(be32(data, 4)?)));
            }
            b"IDAT" | b"IEND" => return None,
            _ => at = at.checked_add(12)?.checked_add(len)?,
        }
    }
}

/// TIFF (classic, not BigTIFF) first-IFD resolution tags, as (x, y) dpi.
fn tiff_dpi(b: &[u8]) -> Option<(f64, f64)> {
    let little = match b.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if little { u16::from_le_bytes(s) } else { u16::from_be_bytes(s) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if little { u32::from_le_bytes(s) } else { u32::from_be_bytes(s) })
    };
    let ifd = u32_at(4)? as usize;
    let count = usize::from(u16_at(ifd)?);
    let (mut x, mut y, mut unit) = (None, None, 2u16);
    for i in 0..count {
        let entry = ifd.checked_add(2 + 12 * i)?;
        let field = |k: usize| entry.saturating_add(k);
        let (tag, kind, n) = (u16_at(entry)?, u16_at(field(2))?, u32_at(field(4))?);
        let rational = || -> Option<f64> {
            if kind != 5 || n != 1 {
                return None;
            }
            let at = u32_at(field(8))? as usize;
            let (num, den) = (u32_at(at)?, u32_at(at.checked_add(4)?)?);
            (den != 0).then(|| f64::from(num) / f64::from(den))
        };
        match tag {
            282 => x = rational(),
            283 => y = rational(),
            296 if kind == 3 => unit = u16_at(field(8))?,
            _ => {}
        }
    }
    let per_unit = match unit {
        2 => 1.0,
        3 => 2.54,
        _ => return None,
    };
    let x = x?;
    Some((x * per_unit, y.unwrap_or(x) * per_unit))
}

// -------------------------------------------------------------------------------------------------
// Resampling
// -------------------------------------------------------------------------------------------------

/// For each output position along one axis: the first input index and the normalised tent weights.
fn axis_weights(n_in: usize, n_out: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = n_in as f64 / n_out as f64;
    let radius = scale.max(1.0);
    (0..n_out)
        .map(|o| {
            let centre = (o as f64 + 0.5) * scale - 0.5;
            let lo = ((centre - radius).floor() as i64 + 1).max(0);
            let hi = ((centre + radius).ceil() as i64 - 1).min(n_in as i64 - 1).max(lo);
            let mut w: Vec<f32> =
                (lo..=hi).map(|i| (1.0 - (i as f64 - centre).abs() / radius).max(0.0) as f32).collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            } else {
                w = vec![1.0];
            }
            (lo as usize, w)
        })
        .collect()
}

/// Separable tent-filter resampling of a `w × h` grey image to `out_w × out_h`.
fn resample(pixels: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    let xs = axis_weights(w, out_w);
    let ys = axis_weights(h, out_h);
    let mut rows = vec![0f32; out_w * h];
    for y in 0..h {
        let src = &pixels[y * w..(y + 1) * w];
        for (x, (start, weights)) in xs.iter().enumerate() {
            rows[y * out_w + x] = weights.iter().zip(&src[*start..]).map(|(k, p)| k * f32::from(*p)).sum();
        }
    }
    let mut out = vec![0u8; out_w * out_h];
    for (y, (start, weights)) in ys.iter().enumerate() {
        for x in 0..out_w {
            let v: f32 = weights.iter().enumerate().map(|(k, wt)| wt * rows[(start + k) * out_w + x]).sum();
            out[y * out_w + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_flat_images_flat_and_sizes_right() {
        let img = GrayImage::from_raw(vec![90; 120 * 100], 120, 100, 1000).expect("valid");
        let out = img.to_500dpi();
        assert_eq!((out.width, out.height, out.dpi), (60, 50, 500));
        assert!(out.pixels.iter().all(|&p| p == 90));
        let up = GrayImage::from_raw(vec![200; 80 * 64], 80, 64, 250).expect("valid").to_500dpi();
        assert_eq!((up.width, up.height), (160, 128));
        assert!(up.pixels.iter().all(|&p| p == 200));
    }

    #[test]
    fn near_500_dpi_is_relabelled_not_resampled() {
        let pixels: Vec<u8> = (0..64 * 64).map(|i| (i % 251) as u8).collect();
        let img = GrayImage::from_raw(pixels.clone(), 64, 64, 508).expect("valid");
        let out = img.to_500dpi();
        assert_eq!((out.dpi, out.pixels), (500, pixels));
    }

    #[test]
    fn inconsistent_public_fields_do_not_panic() {
        let bad = GrayImage { width: 4000, height: 4000, dpi: 0, pixels: vec![] };
        assert_eq!(bad.to_500dpi(), bad);
    }

    #[test]
    fn raw_frames_are_checked() {
        assert!(matches!(GrayImage::from_raw(vec![0; 10], 64, 64, 500), Err(ImageError::RawLength { .. })));
        assert!(matches!(GrayImage::from_raw(vec![0; 64 * 64], 64, 64, 72), Err(ImageError::BadDpi { dpi: 72 })));
        assert!(matches!(GrayImage::from_raw(vec![], 2001, 64, 500), Err(ImageError::TooLarge { .. })));
        assert!(matches!(GrayImage::from_raw(vec![], 63, 64, 500), Err(ImageError::TooSmall { .. })));
    }

    #[test]
    fn tiff_resolution_tags_are_read() {
        // Little-endian TIFF header with an IFD of three entries: XResolution, YResolution (rational
        // 1000/1 at offset 50) and ResolutionUnit = inch.
        let mut b = b"II*\0".to_vec();
        b.extend(8u32.to_le_bytes());
        b.extend(3u16.to_le_bytes());
        for tag in [282u16, 283] {
            b.extend(tag.to_le_bytes());
            b.extend(5u16.to_le_bytes());
            b.extend(1u32.to_le_bytes());
            b.extend(50u32.to_le_bytes());
        }
        b.extend(296u16.to_le_bytes());
        b.extend(3u16.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(2u32.to_le_bytes());
        b.resize(50, 0);
        b.extend(1000u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        assert_eq!(tiff_dpi(&b), Some((1000.0, 1000.0)));
        assert_eq!(file_dpi(&b).expect("square"), Some(1000));
        for cut in 0..b.len() {
            let _ = tiff_dpi(&b[..cut]);
        }
    }
}
