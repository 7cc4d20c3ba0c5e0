//! ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 finger minutiae records: parsing them into a
//! [`Template`] and writing a [`Template`] as either. It owns the byte layouts and the unit
//! conversions; it does not match, extract or read files. Layouts: PROTOCOLS.md §6.
//!
//! # Reading
//! - Both formats begin `FMR\0` ` 20\0`. [`parse_record`] tells them apart by the length field, the
//!   one place their headers differ before the image size: ISO has a u32 total length at byte 8, ANSI
//!   a u16 there (or `0x0000` followed by a u32 when the record exceeds 65,535 bytes). The record is
//!   ISO when the u32 at byte 8 equals the buffer's length, ANSI when its own length field does. For
//!   any non-empty buffer at most one of the two can hold (the ANSI reading of an ISO length is the
//!   ISO value shifted by 16 bits, and conversely), so the rule never has to guess. When neither
//!   holds, the error is the one of the interpretation whose length is closer to the buffer's
//!   (usually "truncated").
//! - Coordinates are converted to 500 dpi when the record's resolution (pixels per centimetre) is not
//!   197 ± 1, and the image size with them (rounded up). Angles: ISO in units of 360/256 degrees,
//!   ANSI in units of 2 degrees (0–179); both count counter-clockwise from the x axis, our convention.
//!   Types: `01` ending, `10` bifurcation, `00` other.
//! - Only the **first finger view** is returned; every view is still checked, so a record is accepted
//!   whole or not at all. The template's quality is that view's finger quality.
//! - Extended data (ridge counts, cores, deltas, vendor blocks) is skipped, after checking that its
//!   blocks (type, length including their 4-byte header, data) exactly fill the declared area.
//! - Refused, each with its own [`RecordError`]: bad magic or version, a total length that is not the
//!   buffer's, a header or view cut short, minutiae or extended data beyond the data, bytes after the
//!   last view, no views, a zero image side, a resolution of zero or outside 98–788 px/cm (250–2000
//!   dpi), non-square pixels (x and y resolutions more than 2% apart), minutia type `11`, an ANSI angle
//!   above 179, a quality above 100, a minutia outside width × height.
//! - Tolerated, because real vendors write them loosely and nothing here depends on them: the
//!   certification flags and device/product ids, the reserved header byte, the two reserved bits above
//!   y, finger position, view number and impression type.
//!
//! # Writing
//! [`write_iso`] and [`write_ansi`] never fail and always produce a record their parser accepts: one
//! finger view (position 0 "unknown", live-scan plain), 197 px/cm, no extended data. Coordinates are
//! rounded to whole pixels and clamped into the image (at most 16,383, the 14-bit limit), qualities to
//! 100, and when a template holds more than 255 minutiae (the u8 count) the 255 of highest quality are
//! kept, in their original order.

use super::template::{Minutia, MinutiaKind, Template, wrap_angle};
use std::f32::consts::TAU;

/// `FMR\0`, the first four bytes of both formats.
const MAGIC: &[u8; 4] = b"FMR\0";
/// ` 20\0`, the version of ISO 19794-2:2005 and ANSI 378-2004 alike.
const VERSION: &[u8; 4] = b" 20\0";
/// Lowest resolution accepted, pixels per centimetre (250 dpi).
const MIN_PPCM: u16 = 98;
/// Highest resolution accepted, pixels per centimetre (2000 dpi).
const MAX_PPCM: u16 = 788;
/// 500 dpi in pixels per centimetre, as the standards round it.
const PPCM_500: u16 = 197;
/// Largest coordinate a 14-bit field holds.
const MAX_COORD: u16 = 0x3fff;

/// Which standard a record follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    /// ISO/IEC 19794-2:2005.
    Iso,
    /// ANSI INCITS 378-2004.
    Ansi,
}

impl std::fmt::Display for RecordFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordFormat::Iso => "ISO 19794-2",
            RecordFormat::Ansi => "ANSI 378",
        })
    }
}

/// Why a minutiae record was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than the fixed header.
    #[error("a minutiae record needs a {needed}-byte header, got {actual} bytes")]
    TooShort {
        /// Header length of the format.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The first four bytes are not `FMR\0`.
    #[error("not a finger minutiae record (it does not start with \"FMR\\0\")")]
    Magic,
    /// A version other than ` 20\0`.
    #[error("unsupported record version {found:?} (only \" 20\\0\": ISO 19794-2:2005 / ANSI 378-2004)")]
    Version {
        /// The four version bytes, lossily as text.
        found: String,
    },
    /// The length field says more than the buffer holds.
    #[error("truncated {format} record: its header says {declared} bytes, only {actual} given")]
    Truncated {
        /// The format read.
        format: RecordFormat,
        /// Total length from the header.
        declared: u64,
        /// Bytes given.
        actual: usize,
    },
    /// The buffer holds more than the length field says.
    #[error("{format} record length mismatch: its header says {declared} bytes, {actual} given")]
    Oversized {
        /// The format read.
        format: RecordFormat,
        /// Total length from the header.
        declared: u64,
        /// Bytes given.
        actual: usize,
    },
    /// A view's header, extended-data length or extended data runs past the record's end.
    #[error("finger view {view}: its {part} needs {needed} bytes but only {remaining} remain in the record")]
    Overrun {
        /// 1-based view number in the record.
        view: usize,
        /// Which part: "header", "extended data length" or "extended data".
        part: &'static str,
        /// Bytes that part needs.
        needed: usize,
        /// Bytes left in the record.
        remaining: usize,
    },
    /// A view's minutiae count goes beyond the record's data.
    #[error("finger view {view} declares {count} minutiae ({} bytes) but only {remaining} bytes remain", 6 * count)]
    MinutiaeBeyondData {
        /// 1-based view number.
        view: usize,
        /// Declared minutiae count.
        count: usize,
        /// Bytes left in the record.
        remaining: usize,
    },
    /// An extended-data block whose length does not fit its area.
    #[error(
        "finger view {view}: extended data block at offset {offset} claims {length} bytes, its area has {remaining} left"
    )]
    ExtendedBlock {
        /// 1-based view number.
        view: usize,
        /// Offset of the block inside the extended data area.
        offset: usize,
        /// The block's length field (including its 4-byte header).
        length: usize,
        /// Bytes left in the area from the block's start.
        remaining: usize,
    },
    /// Bytes left over after the last finger view.
    #[error("{unused} bytes follow the last finger view")]
    TrailingData {
        /// How many.
        unused: usize,
    },
    /// The header declares no finger view.
    #[error("the record holds no finger view (view count zero)")]
    NoViews,
    /// Width or height is zero.
    #[error("the record gives a {width}×{height} image: a side of zero")]
    ZeroSize {
        /// Width field.
        width: u16,
        /// Height field.
        height: u16,
    },
    /// The image is larger than 65,535 pixels on a side once at 500 dpi.
    #[error("the record's {width}×{height} image at {ppcm} px/cm is too large once at 500 dpi")]
    TooLarge {
        /// Width field.
        width: u16,
        /// Height field.
        height: u16,
        /// The lower of the two resolutions, pixels per cm.
        ppcm: u16,
    },
    /// A resolution of zero or outside 98–788 pixels per centimetre.
    #[error("resolution {x_ppcm}×{y_ppcm} px/cm is zero or outside {MIN_PPCM}–{MAX_PPCM} (250–2000 dpi)")]
    Resolution {
        /// Horizontal, pixels per cm.
        x_ppcm: u16,
        /// Vertical, pixels per cm.
        y_ppcm: u16,
    },
    /// Horizontal and vertical resolutions more than 2% apart.
    #[error("non-square pixels: {x_ppcm} px/cm across, {y_ppcm} px/cm down")]
    NonSquare {
        /// Horizontal, pixels per cm.
        x_ppcm: u16,
        /// Vertical, pixels per cm.
        y_ppcm: u16,
    },
    /// A minutia with the reserved type code `11`.
    #[error("finger view {view}, minutia {index}: reserved type code 11")]
    MinutiaType {
        /// 1-based view number.
        view: usize,
        /// 0-based minutia index in the view.
        index: usize,
    },
    /// A minutia outside the image.
    #[error("finger view {view}, minutia {index} at ({x}, {y}) lies outside the {width}×{height} image")]
    Outside {
        /// 1-based view number.
        view: usize,
        /// 0-based minutia index.
        index: usize,
        /// Column, record pixels.
        x: u16,
        /// Row, record pixels.
        y: u16,
        /// Width field.
        width: u16,
        /// Height field.
        height: u16,
    },
    /// An ANSI angle above 179 (2-degree units).
    #[error("finger view {view}, minutia {index}: angle {value} is above 179 (ANSI 2-degree units)")]
    Angle {
        /// 1-based view number.
        view: usize,
        /// 0-based minutia index.
        index: usize,
        /// The value found.
        value: u8,
    },
    /// A finger or minutia quality above 100.
    #[error("finger view {view}: quality {value} above 100 (minutia {index:?}; None is the finger's)")]
    Quality {
        /// 1-based view number.
        view: usize,
        /// 0-based minutia index, or `None` for the finger quality.
        index: Option<usize>,
        /// The value found.
        value: u8,
    },
}

/// A bounds-checked big-endian reader over the record.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Checks magic and version, shared by both formats.
fn check_magic(bytes: &[u8]) -> Result<(), RecordError> {
    match bytes.get(..4) {
        Some(m) if m == MAGIC => {}
        Some(_) => return Err(RecordError::Magic),
        None if MAGIC.starts_with(bytes) => return Err(RecordError::TooShort { needed: 24, actual: bytes.len() }),
        None => return Err(RecordError::Magic),
    }
    match bytes.get(4..8) {
        Some(v) if v == VERSION => Ok(()),
        Some(v) => Err(RecordError::Version { found: String::from_utf8_lossy(v).into_owned() }),
        None => Err(RecordError::TooShort { needed: 24, actual: bytes.len() }),
    }
}

/// The total length each format's header declares: (format, declared length, header length).
fn declared_length(bytes: &[u8], format: RecordFormat) -> Option<(u64, usize)> {
    match format {
        RecordFormat::Iso => Some((u64::from(be32(bytes, 8)?), 24)),
        RecordFormat::Ansi => match be16(bytes, 8)? {
            0 => Some((u64::from(be32(bytes, 10)?), 30)),
            short => Some((u64::from(short), 26)),
        },
    }
}

/// Which format `bytes` is, by the rule in the module docs. When neither length field matches the
/// buffer, returns the error of the closer interpretation.
pub fn detect_format(bytes: &[u8]) -> Result<RecordFormat, RecordError> {
    check_magic(bytes)?;
    let actual = bytes.len() as u64;
    let iso = declared_length(bytes, RecordFormat::Iso).map(|(d, _)| d);
    let ansi = declared_length(bytes, RecordFormat::Ansi).map(|(d, _)| d);
    match (iso, ansi) {
        (Some(d), _) if d == actual => Ok(RecordFormat::Iso),
        (_, Some(d)) if d == actual => Ok(RecordFormat::Ansi),
        (Some(i), Some(a)) if a.abs_diff(actual) < i.abs_diff(actual) => {
            Err(length_error(RecordFormat::Ansi, a, bytes))
        }
        (Some(i), _) => Err(length_error(RecordFormat::Iso, i, bytes)),
        (None, _) => Err(RecordError::TooShort { needed: 24, actual: bytes.len() }),
    }
}

fn length_error(format: RecordFormat, declared: u64, bytes: &[u8]) -> RecordError {
    let actual = bytes.len();
    if declared > actual as u64 {
        RecordError::Truncated { format, declared, actual }
    } else {
        RecordError::Oversized { format, declared, actual }
    }
}

/// Parses an ISO 19794-2:2005 or ANSI 378-2004 record, whichever it is (see the module docs).
pub fn parse_record(bytes: &[u8]) -> Result<Template, RecordError> {
    parse(bytes, detect_format(bytes)?)
}

/// Parses an ISO/IEC 19794-2:2005 finger minutiae record.
pub fn parse_iso(bytes: &[u8]) -> Result<Template, RecordError> {
    parse(bytes, RecordFormat::Iso)
}

/// Parses an ANSI INCITS 378-2004 finger minutiae record (short or long length form).
pub fn parse_ansi(bytes: &[u8]) -> Result<Template, RecordError> {
    parse(bytes, RecordFormat::Ansi)
}

/// Pixels at 500 dpi per record pixel, for a resolution already checked to be in range.
fn scale_to_500(ppcm: u16) -> f32 {
    if ppcm.abs_diff(PPCM_500) <= 1 { 1.0 } else { 500.0 / (2.54 * f32::from(ppcm)) }
}

fn parse(bytes: &[u8], format: RecordFormat) -> Result<Template, RecordError> {
    check_magic(bytes)?;
    let short =
        || RecordError::TooShort { needed: if format == RecordFormat::Iso { 24 } else { 26 }, actual: bytes.len() };
    let (declared, header_len) = declared_length(bytes, format).ok_or_else(short)?;
    if declared != bytes.len() as u64 {
        return Err(length_error(format, declared, bytes));
    }
    if bytes.len() < header_len {
        return Err(RecordError::TooShort { needed: header_len, actual: bytes.len() });
    }
    let mut r = Reader { bytes, at: header_len - 10 };
    let (width, height) = (r.u16().ok_or_else(short)?, r.u16().ok_or_else(short)?);
    let (x_ppcm, y_ppcm) = (r.u16().ok_or_else(short)?, r.u16().ok_or_else(short)?);
    let views = r.u8().ok_or_else(short)?;
    let _reserved = r.u8().ok_or_else(short)?;
    if !(MIN_PPCM..=MAX_PPCM).contains(&x_ppcm) || !(MIN_PPCM..=MAX_PPCM).contains(&y_ppcm) {
        return Err(RecordError::Resolution { x_ppcm, y_ppcm });
    }
    if u32::from(x_ppcm.abs_diff(y_ppcm)) * 50 > u32::from(x_ppcm.max(y_ppcm)) {
        return Err(RecordError::NonSquare { x_ppcm, y_ppcm });
    }
    if width == 0 || height == 0 {
        return Err(RecordError::ZeroSize { width, height });
    }
    if views == 0 {
        return Err(RecordError::NoViews);
    }
    let (sx, sy) = (scale_to_500(x_ppcm), scale_to_500(y_ppcm));
    let (w500, h500) = ((f32::from(width) * sx).ceil(), (f32::from(height) * sy).ceil());
    if w500 > f32::from(u16::MAX) || h500 > f32::from(u16::MAX) {
        return Err(RecordError::TooLarge { width, height, ppcm: x_ppcm.min(y_ppcm) });
    }
    let mut first = None;
    for view in 1..=usize::from(views) {
        let parsed = parse_view(&mut r, view, format, width, height)?;
        if first.is_none() {
            first = Some(parsed);
        }
    }
    if r.remaining() > 0 {
        return Err(RecordError::TrailingData { unused: r.remaining() });
    }
    let (quality, raw) = first.ok_or(RecordError::NoViews)?;
    let minutiae = raw
        .into_iter()
        .map(|(x, y, angle, kind, quality)| Minutia {
            x: f32::from(x) * sx,
            y: f32::from(y) * sy,
            angle,
            kind,
            quality,
        })
        .collect();
    Ok(Template { width: w500 as u16, height: h500 as u16, quality, minutiae })
}

/// One minutia as read: record pixels, radians, kind, quality.
type RawMinutia = (u16, u16, f32, MinutiaKind, u8);

/// Reads and checks one finger view; returns its finger quality and minutiae.
fn parse_view(
    r: &mut Reader<'_>,
    view: usize,
    format: RecordFormat,
    width: u16,
    height: u16,
) -> Result<(u8, Vec<RawMinutia>), RecordError> {
    let overrun = |part, needed, remaining| RecordError::Overrun { view, part, needed, remaining };
    let header = r.take(4).ok_or(overrun("header", 4, r.remaining()))?;
    let (quality, count) = (header[2], usize::from(header[3]));
    if quality > 100 {
        return Err(RecordError::Quality { view, index: None, value: quality });
    }
    let data = r.take(6 * count).ok_or(RecordError::MinutiaeBeyondData { view, count, remaining: r.remaining() })?;
    let mut minutiae = Vec::with_capacity(count);
    for (index, m) in data.chunks_exact(6).enumerate() {
        let (xw, yw) = (u16::from_be_bytes([m[0], m[1]]), u16::from_be_bytes([m[2], m[3]]));
        let kind = match xw >> 14 {
            0b01 => MinutiaKind::Ending,
            0b10 => MinutiaKind::Bifurcation,
            0b00 => MinutiaKind::Other,
            _ => return Err(RecordError::MinutiaType { view, index }),
        };
        // The two bits above y are reserved: ignored, as vendors do not all clear them.
        let (x, y) = (xw & MAX_COORD, yw & MAX_COORD);
        if x >= width || y >= height {
            return Err(RecordError::Outside { view, index, x, y, width, height });
        }
        let angle = match format {
            RecordFormat::Iso => f32::from(m[4]) * (TAU / 256.0),
            RecordFormat::Ansi if m[4] < 180 => f32::from(m[4]) * (TAU / 180.0),
            RecordFormat::Ansi => return Err(RecordError::Angle { view, index, value: m[4] }),
        };
        if m[5] > 100 {
            return Err(RecordError::Quality { view, index: Some(index), value: m[5] });
        }
        minutiae.push((x, y, wrap_angle(angle), kind, m[5]));
    }
    let ext_len = usize::from(r.u16().ok_or(overrun("extended data length", 2, r.remaining()))?);
    let ext = r.take(ext_len).ok_or(overrun("extended data", ext_len, r.remaining()))?;
    let mut offset = 0;
    while offset < ext.len() {
        let remaining = ext.len() - offset;
        let length = be16(ext, offset + 2).map_or(remaining + 1, usize::from);
        if length < 4 || length > remaining {
            return Err(RecordError::ExtendedBlock { view, offset, length, remaining });
        }
        offset += length;
    }
    Ok((quality, minutiae))
}

/// The minutiae a record can hold: all of them, or the 255 of highest quality in original order.
fn selected(t: &Template) -> Vec<&Minutia> {
    let mut order: Vec<usize> = (0..t.minutiae.len()).collect();
    if order.len() > 255 {
        order.sort_by_key(|&i| std::cmp::Reverse(t.minutiae[i].quality));
        order.truncate(255);
        order.sort_unstable();
    }
    order.into_iter().map(|i| &t.minutiae[i]).collect()
}

/// A coordinate rounded to a whole pixel and clamped into `[0, side)` and 14 bits; NaN is 0.
fn coordinate(v: f32, side: u16) -> u16 {
    let top = f32::from(side.saturating_sub(1).min(MAX_COORD));
    let r = v.round();
    if r.is_nan() { 0 } else { r.clamp(0.0, top) as u16 }
}

fn write(t: &Template, format: RecordFormat) -> Vec<u8> {
    let minutiae = selected(t);
    let (width, height) = (t.width.max(1), t.height.max(1));
    let body_len = 4 + 6 * minutiae.len() + 2;
    let mut out = Vec::with_capacity(30 + body_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(VERSION);
    match format {
        RecordFormat::Iso => {
            out.extend_from_slice(&((24 + body_len) as u32).to_be_bytes());
            out.extend_from_slice(&[0, 0]); // certification flags, capture device id
        }
        RecordFormat::Ansi => {
            if 26 + body_len <= usize::from(u16::MAX) {
                out.extend_from_slice(&((26 + body_len) as u16).to_be_bytes());
            } else {
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&((30 + body_len) as u32).to_be_bytes());
            }
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // CBEFF product id, capture equipment
        }
    }
    for v in [width, height, PPCM_500, PPCM_500] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&[1, 0]); // one finger view, reserved
    out.extend_from_slice(&[0, 0, t.quality.min(100), minutiae.len() as u8]);
    for m in minutiae {
        let kind: u16 = match m.kind {
            MinutiaKind::Ending => 0b01,
            MinutiaKind::Bifurcation => 0b10,
            MinutiaKind::Other => 0b00,
        };
        out.extend_from_slice(&(kind << 14 | coordinate(m.x, width)).to_be_bytes());
        out.extend_from_slice(&coordinate(m.y, height).to_be_bytes());
        let angle = match format {
            RecordFormat::Iso => (wrap_angle(m.angle) * (256.0 / TAU)).round() as u32 % 256,
            RecordFormat::Ansi => (wrap_angle(m.angle) * (180.0 / TAU)).round() as u32 % 180,
        };
        out.extend_from_slice(&[angle as u8, m.quality.min(100)]);
    }
    out.extend_from_slice(&[0, 0]); // no extended data
    out
}

/// The template as an ISO/IEC 19794-2:2005 record (see the module docs for what is written).
pub fn write_iso(t: &Template) -> Vec<u8> {
    write(t, RecordFormat::Iso)
}

/// The template as an ANSI INCITS 378-2004 record (see the module docs for what is written).
pub fn write_ansi(t: &Template) -> Vec<u8> {
    write(t, RecordFormat::Ansi)
}

/// The fuzz target's body (also run on mutations of real records by the test suite): every parser on
/// `data` must return without panicking, and whatever parses must write back into records (and an
/// internal encoding) that parse again.
#[doc(hidden)]
pub fn fuzz_body(data: &[u8]) {
    let parsed = [parse_record(data), parse_iso(data), parse_ansi(data)];
    let internal = Template::from_bytes(data);
    for t in parsed.into_iter().flatten().chain(internal) {
        assert!(parse_iso(&write_iso(&t)).is_ok(), "write_iso output refused");
        assert!(parse_ansi(&write_ansi(&t)).is_ok(), "write_ansi output refused");
        assert!(parse_record(&write_ansi(&t)).is_ok(), "ANSI output not detected");
        assert!(Template::from_bytes(&t.to_bytes()).is_ok(), "to_bytes output refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Template {
        let kinds = [MinutiaKind::Ending, MinutiaKind::Bifurcation, MinutiaKind::Other];
        let minutiae = (0..30)
            .map(|i| Minutia {
                x: (i as f32 * 9.37) % 300.0,
                y: (i as f32 * 12.91) % 400.0,
                angle: (i as f32 * 0.731) % TAU,
                kind: kinds[i % 3],
                quality: (i * 7 % 101) as u8,
            })
            .collect();
        Template { width: 300, height: 400, quality: 64, minutiae }
    }

    fn gap(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(TAU);
        d.min(TAU - d)
    }

    #[test]
    fn both_formats_round_trip_within_their_precision() {
        let t = sample();
        for (bytes, unit, format) in
            [(write_iso(&t), TAU / 256.0, RecordFormat::Iso), (write_ansi(&t), TAU / 180.0, RecordFormat::Ansi)]
        {
            assert_eq!(detect_format(&bytes), Ok(format));
            let back = parse_record(&bytes).expect("parses");
            assert_eq!((back.width, back.height, back.quality, back.minutiae.len()), (300, 400, 64, 30));
            for (a, b) in t.minutiae.iter().zip(&back.minutiae) {
                assert!((a.x - b.x).abs() <= 0.5 && (a.y - b.y).abs() <= 0.5, "{a:?} {b:?}");
                assert!(gap(a.angle, b.angle) <= unit / 2.0 + 1e-5, "{a:?} {b:?}");
                assert_eq!((a.kind, a.quality), (b.kind, b.quality));
            }
        }
        assert_eq!(write_iso(&t).len(), 24 + 4 + 6 * 30 + 2);
        assert_eq!(write_ansi(&t).len(), 26 + 4 + 6 * 30 + 2);
    }

    #[test]
    fn ansi_long_length_form_and_other_resolutions_are_read() {
        // Long form: 0x0000 then a u32, so the header is 30 bytes; 394 px/cm is 1000 dpi.
        let short = write_ansi(&sample());
        let mut long = short[..8].to_vec();
        long.extend_from_slice(&[0, 0]);
        long.extend_from_slice(&((short.len() + 4) as u32).to_be_bytes());
        long.extend_from_slice(&short[10..]);
        let (xr, yr) = (30 - 10 + 4, 30 - 10 + 6);
        long[xr..xr + 2].copy_from_slice(&394u16.to_be_bytes());
        long[yr..yr + 2].copy_from_slice(&394u16.to_be_bytes());
        assert_eq!(detect_format(&long), Ok(RecordFormat::Ansi));
        let t = parse_ansi(&long).expect("long form parses");
        let half = parse_ansi(&short).expect("short form parses");
        assert_eq!((t.width, t.height), (150, 200));
        for (a, b) in t.minutiae.iter().zip(&half.minutiae) {
            assert!((a.x - b.x * 500.0 / (2.54 * 394.0)).abs() < 1e-3);
        }
    }

    #[test]
    fn extended_data_is_checked_and_skipped() {
        let mut bytes = write_iso(&sample());
        let n = bytes.len();
        // Replace the zero extended-data length by two blocks: 4+3 and 4+0 bytes.
        bytes.truncate(n - 2);
        bytes.extend_from_slice(&[0, 11, 0, 1, 0, 7, 9, 9, 9, 0, 2, 0, 4]);
        let len = bytes.len() as u32;
        bytes[8..12].copy_from_slice(&len.to_be_bytes());
        assert_eq!(parse_iso(&bytes).expect("parses").minutiae.len(), 30);
        let at = n - 2 + 4; // the first block's length field, after the area length and its type
        bytes[at + 1] = 12;
        assert!(matches!(parse_iso(&bytes), Err(RecordError::ExtendedBlock { view: 1, offset: 0, length: 12, .. })));
        bytes[at + 1] = 8; // leaves 3 bytes: too few for the next block's header
        assert!(matches!(parse_iso(&bytes), Err(RecordError::ExtendedBlock { offset: 8, remaining: 3, .. })));
        bytes[at + 1] = 3;
        assert!(matches!(parse_iso(&bytes), Err(RecordError::ExtendedBlock { length: 3, .. })));
    }

    #[test]
    fn every_refusal_has_its_own_error() {
        let good = write_iso(&sample());
        let with = |at: usize, v: &[u8]| {
            let mut b = good.clone();
            b[at..at + v.len()].copy_from_slice(v);
            parse_iso(&b)
        };
        let m0 = 28; // first minutia
        assert_eq!(parse_iso(b"FM"), Err(RecordError::TooShort { needed: 24, actual: 2 }));
        assert_eq!(parse_iso(b"GIF89a"), Err(RecordError::Magic));
        assert!(matches!(with(4, b" 30\0"), Err(RecordError::Version { .. })));
        assert!(matches!(parse_iso(&good[..good.len() - 1]), Err(RecordError::Truncated { declared: 210, .. })));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(parse_iso(&longer), Err(RecordError::Oversized { actual: 211, .. })));
        assert!(matches!(with(18, &[0, 0]), Err(RecordError::Resolution { x_ppcm: 0, .. })));
        assert!(matches!(with(20, &[4, 0]), Err(RecordError::Resolution { .. })));
        assert!(matches!(with(20, &[0, 210]), Err(RecordError::NonSquare { .. })));
        assert!(matches!(with(14, &[0, 0]), Err(RecordError::ZeroSize { .. })));
        assert_eq!(with(22, &[0]), Err(RecordError::NoViews));
        assert!(matches!(with(22, &[2]), Err(RecordError::Overrun { view: 2, part: "header", .. })));
        assert!(matches!(with(27, &[31]), Err(RecordError::MinutiaeBeyondData { view: 1, count: 31, .. })));
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0, 0, 0]);
        trailing[8..12].copy_from_slice(&213u32.to_be_bytes());
        assert_eq!(parse_iso(&trailing), Err(RecordError::TrailingData { unused: 3 }));
        assert!(matches!(with(26, &[101]), Err(RecordError::Quality { index: None, .. })));
        assert!(matches!(with(m0 + 5, &[101]), Err(RecordError::Quality { index: Some(0), .. })));
        assert!(matches!(with(m0, &[0xc0]), Err(RecordError::MinutiaType { index: 0, .. })));
        assert!(matches!(with(m0, &[0x41, 0x2c]), Err(RecordError::Outside { x: 300, .. })));
        assert!(matches!(with(good.len() - 2, &[0, 9]), Err(RecordError::Overrun { part: "extended data", .. })));
        // Reserved bits above y are tolerated.
        assert!(with(m0 + 2, &[good[m0 + 2] | 0xc0]).is_ok());
        let ansi = write_ansi(&sample());
        let mut bad_angle = ansi.clone();
        bad_angle[30 + 4] = 180;
        assert!(matches!(parse_ansi(&bad_angle), Err(RecordError::Angle { value: 180, .. })));
        // Each parser refuses the other's records by their length field.
        assert!(matches!(parse_iso(&ansi), Err(RecordError::Oversized { .. } | RecordError::Truncated { .. })));
        assert!(matches!(parse_ansi(&good), Err(RecordError::Truncated { .. } | RecordError::Oversized { .. })));
        for cut in 0..good.len() {
            assert!(parse_record(&good[..cut]).is_err() && parse_record(&ansi[..cut]).is_err());
        }
    }

    #[test]
    fn writing_clamps_what_a_record_cannot_hold() {
        let mut t = sample();
        t.width = 0;
        t.quality = 255;
        t.minutiae[0] = Minutia { x: f32::NAN, y: -3.0, angle: f32::NAN, kind: MinutiaKind::Ending, quality: 255 };
        let other = t.minutiae[1];
        t.minutiae.extend((0..300).map(|i| Minutia { quality: (i % 90) as u8, ..other }));
        for bytes in [write_iso(&t), write_ansi(&t)] {
            let back = parse_record(&bytes).expect("always parses");
            assert_eq!((back.width, back.quality, back.minutiae.len()), (1, 100, 255));
            assert!(back.minutiae.iter().all(|m| m.x == 0.0));
        }
    }
}
