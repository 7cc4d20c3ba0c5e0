//! Fingerprint file formats against real data: the FVC2002 TIFFs, the SecuGen ISO 19794-2 records
//! beside them and the truncated records in ../shared/data/iso-invalid; hand-made PNG and PGM files;
//! and the `iso_record` fuzz target's body on seeded mutations of the real records.

use std::path::{Path, PathBuf};

use tally::fingerprint::image::{GrayImage, ImageError};
use tally::fingerprint::iso::{self, RecordError, RecordFormat};
use tally::fingerprint::template::Template;

use crate::util::{mutate, skip};

/// ../shared/data beside the project, or a skip (a failure under CI).
fn data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("fvc2002").is_dir() { Some(dir) } else { skip(&format!("test data not found at {}", dir.display())) }
}

/// The files of one extension in DB1_B … DB4_B, sorted, with their database name.
fn fvc_files(data: &Path, ext: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for db in ["DB1_B", "DB2_B", "DB3_B", "DB4_B"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("fvc2002").join(db))
            .expect("read the FVC folder")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|p| (db.to_owned(), p)));
    }
    out
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

// -------------------------------------------------------------------------------------------------
// Images
// -------------------------------------------------------------------------------------------------

#[test]
fn every_fvc2002_tiff_decodes_to_its_documented_size() {
    let Some(data) = data() else { return };
    let files = fvc_files(&data, "tif");
    assert_eq!(files.len(), 320);
    for (db, path) in &files {
        let img = GrayImage::decode(&read(path), None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let size = match db.as_str() {
            "DB1_B" => (388, 374),
            "DB2_B" => (296, 560),
            "DB3_B" => (300, 300),
            _ => (288, 384),
        };
        assert_eq!((img.width, img.height), size, "{}", path.display());
        assert_eq!(img.pixels.len() as u32, img.width * img.height);
        // The FVC TIFFs carry no resolution tags: the default applies, or the caller's hint.
        assert_eq!(img.dpi, 500);
    }
    let hinted = GrayImage::decode(&read(&files[0].1), Some(569)).expect("decodes");
    assert_eq!(hinted.dpi, 569);
    assert_eq!((hinted.to_500dpi().width, hinted.to_500dpi().height), (341, 329));
}

#[test]
fn damaged_or_foreign_files_are_refused_clearly() {
    let garbage = b"this is not an image at all, just text".to_vec();
    assert!(matches!(GrayImage::decode(&garbage, None), Err(ImageError::UnknownFormat)));
    assert!(matches!(GrayImage::decode(&[], None), Err(ImageError::UnknownFormat)));
    assert!(matches!(GrayImage::decode(b"GIF89a\x01\x00\x01\x00", None), Err(ImageError::UnsupportedFormat { .. })));
    // A header claiming 100,000 × 100,000 pixels is refused before any pixel is read.
    let huge = b"P5\n100000 100000\n255\n".to_vec();
    assert!(matches!(GrayImage::decode(&huge, None), Err(ImageError::TooLarge { width: 100000, .. })));
    let huge_png = png_with(&[0u8; 16], 4, 4, 8, 0, None, Some((50_000, 50_000)));
    assert!(matches!(GrayImage::decode(&huge_png, None), Err(ImageError::TooLarge { width: 50_000, .. })));
    let mut small_tiff = tiff_header(64, 64);
    small_tiff.resize(122 + 64 * 64, 77);
    assert_eq!(GrayImage::decode(&small_tiff, None).expect("the same header, small, decodes").width, 64);
    let huge_tiff = tiff_header(60_000, 60_000);
    assert!(matches!(GrayImage::decode(&huge_tiff, None), Err(ImageError::TooLarge { width: 60_000, .. })));
    let tiny = pgm_p5(32, 32, &[128; 32 * 32]);
    assert!(matches!(GrayImage::decode(&tiny, None), Err(ImageError::TooSmall { .. })));
    assert!(matches!(GrayImage::decode(&pgm_p5(64, 64, &[0; 64 * 64]), Some(5)), Err(ImageError::BadDpi { dpi: 5 })));
    let Some(data) = data() else { return };
    let tif = read(&data.join("fvc2002/DB1_B/101_1.tif"));
    for cut in [4, 16, 100, tif.len() / 2, tif.len() - 1] {
        let err = GrayImage::decode(&tif[..cut], None).expect_err("truncated TIFF refused");
        assert!(matches!(err, ImageError::Decode { format: "TIFF", .. }), "cut at {cut}: {err}");
    }
    let mut scrambled = tif.clone();
    scrambled[4..8].copy_from_slice(&u32::MAX.to_le_bytes()); // IFD offset past the end
    assert!(GrayImage::decode(&scrambled, None).is_err());
}

#[test]
fn png_round_trip_and_its_resolution() {
    let (w, h) = (120u32, 90u32);
    let pixels: Vec<u8> = (0..w * h).map(|i| ((i * 7) % 256) as u8).collect();
    let png = png_with(&pixels, w, h, 8, 0, None, None);
    let img = GrayImage::decode(&png, None).expect("grey PNG");
    assert_eq!((img.width, img.height, img.dpi), (w, h, 500));
    assert_eq!(img.pixels, pixels);
    // pHYs at 600 dpi (23,622 pixels per metre) is read and wins over the hint.
    let png600 = png_with(&pixels, w, h, 8, 0, Some(23_622), None);
    let img = GrayImage::decode(&png600, Some(1000)).expect("PNG at 600 dpi");
    assert_eq!(img.dpi, 600);
    let at500 = img.to_500dpi();
    assert_eq!((at500.width, at500.height, at500.dpi), (100, 75, 500));
    // A 72 dpi placeholder is ignored: the hint applies.
    let png72 = png_with(&pixels, w, h, 8, 0, Some(2835), None);
    assert_eq!(GrayImage::decode(&png72, Some(1000)).expect("decodes").dpi, 1000);
    // Colour becomes luma; alpha is composited over white.
    let rgb: Vec<u8> = pixels.iter().flat_map(|&p| [p, p, p]).collect();
    let img = GrayImage::decode(&png_with(&rgb, w, h, 8, 2, None, None), None).expect("RGB PNG");
    assert!(img.pixels.iter().zip(&pixels).all(|(a, b)| a.abs_diff(*b) <= 1));
    let rgba: Vec<u8> = pixels.iter().flat_map(|&p| [p, p, p, 0]).collect();
    let img = GrayImage::decode(&png_with(&rgba, w, h, 8, 6, None, None), None).expect("RGBA PNG");
    assert!(img.pixels.iter().all(|&p| p == 255));
    // 16-bit samples are refused with the reason.
    let deep: Vec<u8> = pixels.iter().flat_map(|&p| [p, 0]).collect();
    let err = GrayImage::decode(&png_with(&deep, w, h, 16, 0, None, None), None).expect_err("16-bit refused");
    assert!(matches!(err, ImageError::UnsupportedPixels { .. }), "{err}");
    assert!(err.to_string().contains("8-bit grey"), "{err}");
}

#[test]
fn pgm_binary_and_ascii_and_raw_frames() {
    let (w, h) = (64u32, 70u32);
    let pixels: Vec<u8> = (0..w * h).map(|i| (i % 200) as u8).collect();
    let img = GrayImage::decode(&pgm_p5(w, h, &pixels), None).expect("P5");
    assert_eq!((img.width, img.height, img.dpi, &img.pixels), (w, h, 500, &pixels));
    let mut ascii = format!("P2\n# a comment\n{w} {h}\n255\n").into_bytes();
    for p in &pixels {
        ascii.extend_from_slice(format!("{p}\n").as_bytes());
    }
    let img = GrayImage::decode(&ascii, Some(1000)).expect("P2");
    assert_eq!((img.dpi, &img.pixels), (1000, &pixels));
    let raw = GrayImage::from_raw(pixels.clone(), w, h, 500).expect("raw frame");
    assert_eq!(raw.pixels, pixels);
    assert!(matches!(GrayImage::from_raw(pixels, w, h + 1, 500), Err(ImageError::RawLength { .. })));
}

#[test]
fn a_600_dpi_image_is_rescaled_to_500_dpi() {
    // Vertical stripes 12 pixels apart at 600 dpi become 10 pixels apart at 500 dpi.
    let (w, h) = (600u32, 480u32);
    let pixels: Vec<u8> = (0..w * h).map(|i| if (i % w) % 12 < 6 { 40 } else { 220 }).collect();
    let img = GrayImage::from_raw(pixels, w, h, 600).expect("valid").to_500dpi();
    assert_eq!((img.width, img.height, img.dpi), (500, 400, 500));
    let row = &img.pixels[200 * 500..201 * 500];
    let dark: Vec<usize> = (1..500).filter(|&x| row[x] < 130 && row[x - 1] >= 130).collect();
    let spacing: Vec<usize> = dark.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(spacing.iter().all(|&s| s == 10), "{spacing:?}");
}

// -------------------------------------------------------------------------------------------------
// ISO/ANSI records
// -------------------------------------------------------------------------------------------------

#[test]
fn every_secugen_record_parses() {
    let Some(data) = data() else { return };
    let files = fvc_files(&data, "iso");
    assert_eq!(files.len(), 320);
    let (mut fewest, mut most, mut total) = (usize::MAX, 0, 0);
    for (_, path) in &files {
        let bytes = read(path);
        assert_eq!(iso::detect_format(&bytes), Ok(RecordFormat::Iso), "{}", path.display());
        let t = iso::parse_record(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(iso::parse_iso(&bytes).as_ref(), Ok(&t));
        assert!(iso::parse_ansi(&bytes).is_err());
        assert_eq!((t.width, t.height), (300, 400), "{}", path.display());
        assert!(t.minutiae.iter().all(|m| m.x < 300.0 && m.y < 400.0));
        (fewest, most, total) = (fewest.min(t.minutiae.len()), most.max(t.minutiae.len()), total + t.minutiae.len());
    }
    eprintln!("SecuGen records: {fewest}–{most} minutiae, mean {:.1}", total as f64 / 320.0);
    assert!(fewest >= 10 && most <= 100);
}

#[test]
fn the_truncated_records_are_refused_with_a_clear_error() {
    let Some(data) = data() else { return };
    for (name, actual) in
        [("101_1_truncate_1_byte.iso", 29), ("101_1_truncate_2_bytes.iso", 28), ("101_1_truncate_3_bytes.iso", 27)]
    {
        let bytes = read(&data.join("iso-invalid").join(name));
        let expected = RecordError::Truncated { format: RecordFormat::Iso, declared: 30, actual };
        assert_eq!(iso::parse_record(&bytes), Err(expected.clone()), "{name}");
        assert_eq!(iso::parse_iso(&bytes), Err(expected.clone()), "{name}");
        assert!(iso::parse_ansi(&bytes).is_err(), "{name}");
        let message = expected.to_string();
        assert!(message.contains("truncated") && message.contains("30") && message.contains(&actual.to_string()));
    }
}

#[test]
fn real_records_survive_writing_in_both_formats_and_the_internal_encoding() {
    let Some(data) = data() else { return };
    let tau = std::f32::consts::TAU;
    let gap = |a: f32, b: f32| {
        let d = (a - b).rem_euclid(tau);
        d.min(tau - d)
    };
    for (_, path) in fvc_files(&data, "iso") {
        let original = read(&path);
        let t = iso::parse_iso(&original).expect("parses");
        // Writing an ISO record back reproduces SecuGen's bytes exactly (same fields, no extras).
        assert_eq!(iso::write_iso(&t), original, "{}", path.display());
        for (bytes, unit) in [(iso::write_iso(&t), tau / 256.0), (iso::write_ansi(&t), tau / 180.0)] {
            let back = iso::parse_record(&bytes).expect("our record parses");
            assert_eq!((back.width, back.height, back.minutiae.len()), (t.width, t.height, t.minutiae.len()));
            for (a, b) in t.minutiae.iter().zip(&back.minutiae) {
                assert!((a.x - b.x).abs() <= 1.0 && (a.y - b.y).abs() <= 1.0);
                assert!(gap(a.angle, b.angle) <= unit + 1e-5);
                assert_eq!((a.kind, a.quality), (b.kind, b.quality));
            }
        }
        assert_eq!(Template::from_bytes(&t.to_bytes()).as_ref(), Ok(&t));
    }
}

/// The shared mutations with values that matter in records, plus rewriting a header field (length,
/// size, resolution, view count) as a random u16.
fn mutate_record(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>) {
    mutate(rng, &[0, 1, 0x7f, 0x80, 0xc0, 0xff, 180, 197], bytes);
    if bytes.len() >= 28 && rng.bool() {
        let at = *rng.choice(&[8usize, 10, 14, 16, 18, 20, 22, 26]).unwrap_or(&8);
        bytes[at..at + 2].copy_from_slice(&rng.u16(..).to_be_bytes());
    }
}

#[test]
fn the_iso_record_fuzz_body_survives_mutated_real_records() {
    let Some(data) = data() else { return };
    let mut seeds: Vec<Vec<u8>> = fvc_files(&data, "iso").iter().map(|(_, p)| read(p)).collect();
    let more: Vec<Vec<u8>> = seeds
        .iter()
        .take(8)
        .flat_map(|b| {
            let t = iso::parse_iso(b).expect("parses");
            [iso::write_ansi(&t), t.to_bytes()]
        })
        .collect();
    seeds.extend(more);
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x150);
    eprintln!("fuzz seed {seed} (set FUZZ_SEED to change)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut accepted = 0;
    for _ in 0..5000 {
        let mut bytes = rng.choice(&seeds).cloned().unwrap_or_default();
        mutate_record(&mut rng, &mut bytes);
        // Keep the length field honest half of the time, so mutations reach past the length check.
        if rng.bool() && bytes.len() >= 12 && bytes.starts_with(b"FMR\0") {
            let len = bytes.len() as u32;
            if bytes[8..10] == [0, 0] || rng.bool() {
                bytes[8..12].copy_from_slice(&len.to_be_bytes());
            } else {
                bytes[8..10].copy_from_slice(&(len as u16).to_be_bytes());
            }
        }
        iso::fuzz_body(&bytes);
        accepted += usize::from(iso::parse_record(&bytes).is_ok());
    }
    eprintln!("{accepted} of 5000 mutated records still parsed");
}

#[test]
fn the_image_decoder_survives_mutated_files() {
    let Some(data) = data() else { return };
    let pixels: Vec<u8> = (0..100u32 * 80).map(|i| (i % 256) as u8).collect();
    let seeds = [
        read(&data.join("fvc2002/DB3_B/101_1.tif")),
        png_with(&pixels, 100, 80, 8, 0, Some(19_685), None),
        pgm_p5(100, 80, &pixels),
    ];
    let mut rng = fastrand::Rng::with_seed(0x1a6e);
    for i in 0..1500 {
        let mut bytes = seeds[i % 3].clone();
        mutate_record(&mut rng, &mut bytes);
        if let Ok(img) = GrayImage::decode(&bytes, None) {
            assert_eq!(img.pixels.len() as u32, img.width * img.height);
            let _ = img.to_500dpi();
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Hand-made files
// -------------------------------------------------------------------------------------------------

fn pgm_p5(w: u32, h: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = format!("P5\n{w} {h}\n255\n").into_bytes();
    out.extend_from_slice(pixels);
    out
}

/// A little-endian baseline TIFF header and IFD for an 8-bit grey `w × h` image, without pixel data.
fn tiff_header(w: u32, h: u32) -> Vec<u8> {
    let entries: [(u16, u16, u32); 8] =
        [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 122), (278, 4, h), (279, 4, w * h)];
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(if kind == 3 { u32::from(value as u16).to_le_bytes() } else { value.to_le_bytes() });
    }
    out.extend(0u32.to_le_bytes());
    out.extend([0u8; 64]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG made with the image crate's encoder, then given a `pHYs` chunk (pixels per metre) and/or a
/// different size in its IHDR (with a correct CRC), both placed right after IHDR.
fn png_with(
    samples: &[u8],
    w: u32,
    h: u32,
    depth: u8,
    colour: u8,
    ppm: Option<u32>,
    fake_size: Option<(u32, u32)>,
) -> Vec<u8> {
    use image::ImageEncoder as _;
    let kind = match (depth, colour) {
        (8, 0) => image::ExtendedColorType::L8,
        (8, 2) => image::ExtendedColorType::Rgb8,
        (8, 6) => image::ExtendedColorType::Rgba8,
        _ => image::ExtendedColorType::L16,
    };
    let samples: Vec<u8> = if depth == 16 {
        // The encoder takes native-endian 16-bit samples.
        samples.chunks_exact(2).flat_map(|c| u16::from_be_bytes([c[0], c[1]]).to_ne_bytes()).collect()
    } else {
        samples.to_vec()
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out).write_image(&samples, w, h, kind).expect("encode PNG");
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&crc32(&c[4..]).to_be_bytes());
        c
    };
    if let Some((fw, fh)) = fake_size {
        let mut ihdr = out[16..29].to_vec();
        ihdr[0..4].copy_from_slice(&fw.to_be_bytes());
        ihdr[4..8].copy_from_slice(&fh.to_be_bytes());
        out.splice(8..33, chunk(b"IHDR", &ihdr));
    }
    if let Some(ppm) = ppm {
        let mut phys = ppm.to_be_bytes().to_vec();
        phys.extend_from_slice(&ppm.to_be_bytes());
        phys.push(1);
        out.splice(33..33, chunk(b"pHYs", &phys));
    }
    out
}
