//! Tests of the whole pipeline: synthetic ridges with known minutiae, garbage that must not panic,
//! determinism, and (when ../shared/data is present) the FVC2002 images.

use std::f32::consts::PI;
use std::path::PathBuf;

use super::*;
use crate::fingerprint::template::{Minutia, MinutiaKind};

/// Horizontal sinusoidal ridges (dark crests at `y ≡ 0 mod period`) over the whole image.
fn horizontal_ridges(w: u32, h: u32, period: f32) -> Vec<f32> {
    let mut v = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for _ in 0..w {
            v.push(128.0 - 100.0 * (2.0 * PI * y as f32 / period).cos());
        }
    }
    v
}

fn to_image(w: u32, h: u32, v: &[f32]) -> GrayImage {
    let pixels = v.iter().map(|p| p.round().clamp(0.0, 255.0) as u8).collect();
    GrayImage { width: w, height: h, dpi: 500, pixels }
}

/// A small deterministic generator for noise images.
fn lcg(seed: &mut u64) -> u8 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*seed >> 56) as u8
}

/// Sinusoidal ridges running along `theta` (pixel coordinates, y down) with the given period.
fn oriented_ridges(w: u32, h: u32, theta: f32, period: f32) -> GrayImage {
    let (nx, ny) = (-theta.sin(), theta.cos());
    let mut v = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            v.push(128.0 - 100.0 * (2.0 * PI * (x as f32 * nx + y as f32 * ny) / period).cos());
        }
    }
    to_image(w, h, &v)
}

#[test]
fn parallel_ridges_give_their_orientation_and_period() {
    for (deg, period) in [(0.0f32, 6.0f32), (35.0, 9.0), (100.0, 12.0), (160.0, 14.0)] {
        let theta = deg.to_radians();
        let img = oriented_ridges(160, 160, theta, period);
        let tensors = orientation::tensors(&img);
        let seg = segment::segment(&img, &tensors);
        assert!(seg.area() > 150 * 150, "{deg}°: foreground {}", seg.area());
        let field = orientation::field(&tensors, &seg.blocks);
        let norm = normalise::normalise(&img.pixels, 160, 160, &seg);
        let periods = frequency::estimate(&norm, &field, &seg.blocks);
        for (x, y) in [(80.0f32, 80.0f32), (40.0, 120.0)] {
            let got = field.at(x, y);
            let diff = (got - theta).rem_euclid(PI).min((theta - got).rem_euclid(PI));
            assert!(diff < 2f32.to_radians(), "{deg}°: orientation {}°", got.to_degrees());
            let p = periods.at(x, y);
            assert!((p - period).abs() < 0.3, "{deg}°, period {period}: got {p}");
        }
    }
}

#[test]
fn parallel_ridges_have_no_minutiae() {
    let (w, h) = (160u32, 160u32);
    let img = to_image(w, h, &horizontal_ridges(w, h, 9.0));
    let t = extract(&img).expect("a ridge pattern is a fingerprint");
    assert!(t.minutiae.is_empty(), "{:?}", t.minutiae);
    assert!(t.quality > 50, "image quality {}", t.quality);
}

/// Straight ridges of period `period` running at `alpha` (radians, counter-clockwise as seen) with one
/// minutia at the image centre, after the spiral-phase model of Larkin & Fletcher (2007, "A coherent
/// framework for fingerprint analysis: are fingerprints holograms?"): the phase `2πv/T + φ0 + atan2(v, u)`
/// gains one ridge on the side the minutia points to. With `φ0 = 0` the extra ridge starts at the centre
/// (an ending pointing along `alpha`); with `φ0 = π` the extra valley does (a bifurcation whose branches
/// open along `alpha`).
fn spiral_minutia(w: u32, h: u32, period: f32, alpha: f32, phi0: f32) -> GrayImage {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut v = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            // (u, v): the pattern's own frame, u along the ridges; pixel y grows downwards.
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let u = dx * alpha.cos() - dy * alpha.sin();
            let vv = dx * alpha.sin() + dy * alpha.cos();
            v.push(128.0 - 100.0 * (2.0 * PI * vv / period + phi0 + vv.atan2(u)).cos());
        }
    }
    to_image(w, h, &v)
}

#[test]
fn a_ridge_ending_is_found_where_it_is() {
    for deg in [30.0f32, 290.0] {
        let img = spiral_minutia(160, 160, 9.0, deg.to_radians(), 0.0);
        let t = extract(&img).expect("a ridge pattern is a fingerprint");
        assert_eq!(t.minutiae.len(), 1, "{deg}°: {:?}", t.minutiae);
        let m = t.minutiae[0];
        assert_eq!(m.kind, MinutiaKind::Ending, "{deg}°");
        assert!((m.x - 80.0).abs() <= 4.0 && (m.y - 80.0).abs() <= 4.0, "{deg}°: at ({}, {})", m.x, m.y);
        let diff = minutiae::direction_difference(m.angle, deg.to_radians());
        assert!(diff < 8f32.to_radians(), "{deg}°: angle {}°", m.angle.to_degrees());
        assert!((1..=100).contains(&m.quality));
    }
}

#[test]
fn a_bifurcation_points_towards_its_branches() {
    for deg in [0.0f32, 200.0] {
        let img = spiral_minutia(160, 160, 9.0, deg.to_radians(), PI);
        let t = extract(&img).expect("a ridge pattern is a fingerprint");
        assert_eq!(t.minutiae.len(), 1, "{deg}°: {:?}", t.minutiae);
        let m = t.minutiae[0];
        assert_eq!(m.kind, MinutiaKind::Bifurcation, "{deg}°");
        assert!((m.x - 80.0).abs() <= 4.0 && (m.y - 80.0).abs() <= 4.0, "{deg}°: at ({}, {})", m.x, m.y);
        let diff = minutiae::direction_difference(m.angle, deg.to_radians());
        assert!(diff < 8f32.to_radians(), "{deg}°: angle {}°", m.angle.to_degrees());
    }
}

#[test]
fn garbage_never_panics() {
    let mut seed = 7u64;
    let mut cases: Vec<GrayImage> = vec![
        GrayImage { width: 0, height: 0, dpi: 500, pixels: vec![] },
        GrayImage { width: 1, height: 1, dpi: 500, pixels: vec![0] },
        GrayImage { width: 63, height: 63, dpi: 500, pixels: vec![0; 63 * 63] },
        GrayImage { width: 100, height: 100, dpi: 500, pixels: vec![0; 10] },
        GrayImage { width: u32::MAX, height: u32::MAX, dpi: 500, pixels: vec![] },
        GrayImage { width: 100, height: 100, dpi: 0, pixels: vec![0; 100 * 100] },
        GrayImage { width: 64, height: 64, dpi: 500, pixels: vec![0; 64 * 64] },
        GrayImage { width: 300, height: 300, dpi: 500, pixels: vec![0; 300 * 300] },
        GrayImage { width: 300, height: 300, dpi: 500, pixels: vec![255; 300 * 300] },
        GrayImage { width: 2000, height: 64, dpi: 500, pixels: vec![128; 2000 * 64] },
    ];
    for (w, h) in [(64u32, 64u32), (300, 300), (388, 374), (65, 1999)] {
        let pixels = (0..w * h).map(|_| lcg(&mut seed)).collect();
        cases.push(GrayImage { width: w, height: h, dpi: 500, pixels });
    }
    // Checkerboard, ramp, isolated dots, vertical stripes one pixel wide.
    let (w, h) = (256u32, 256u32);
    let grid =
        |f: &dyn Fn(u32, u32) -> u8| (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect();
    cases.push(GrayImage {
        width: w,
        height: h,
        dpi: 500,
        pixels: grid(&|x, y| if (x + y) % 2 == 0 { 0 } else { 255 }),
    });
    cases.push(GrayImage { width: w, height: h, dpi: 500, pixels: grid(&|x, _| x as u8) });
    cases.push(GrayImage {
        width: w,
        height: h,
        dpi: 500,
        pixels: grid(&|x, y| if x % 17 == 0 && y % 13 == 0 { 0 } else { 255 }),
    });
    cases.push(GrayImage { width: w, height: h, dpi: 500, pixels: grid(&|x, _| if x % 2 == 0 { 0 } else { 255 }) });
    cases.push(GrayImage {
        width: w,
        height: h,
        dpi: 500,
        pixels: grid(&|x, y| if (x / 40 + y / 40) % 2 == 0 { 0 } else { 255 }),
    });
    for img in &cases {
        match extract(img) {
            Ok(t) => {
                assert_eq!((u32::from(t.width), u32::from(t.height)), (img.width, img.height));
                assert!(t.minutiae.len() <= MAX_MINUTIAE);
                for m in &t.minutiae {
                    assert!(m.x >= 0.0 && m.y >= 0.0 && m.x < img.width as f32 && m.y < img.height as f32);
                    assert!((0.0..std::f32::consts::TAU).contains(&m.angle));
                    assert!(m.quality <= 100);
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    assert_eq!(extract(&cases[1]), Err(ExtractError::Size { width: 1, height: 1 }));
    assert!(matches!(extract(&cases[8]), Err(ExtractError::NoFingerprint { .. })));
    assert!(matches!(extract(&cases[5]), Err(ExtractError::Resolution { dpi: 0 })));
    assert!(matches!(extract(&cases[3]), Err(ExtractError::PixelCount { .. })));
}

#[test]
fn same_input_same_output() {
    // A minutia, a blot and a diagonal scar.
    let mut img = spiral_minutia(160, 160, 8.0, 1.0, 0.0);
    for y in 0..160usize {
        for x in 0..160usize {
            let (dx, dy) = (x as f32 - 50.0, y as f32 - 110.0);
            if dx * dx + dy * dy < 150.0 || x.abs_diff(y) < 2 {
                img.pixels[y * 160 + x] = 220;
            }
        }
    }
    let a = extract(&img);
    assert!(a.as_ref().is_ok_and(|t| !t.minutiae.is_empty()), "{a:?}");
    assert_eq!(a, extract(&img.clone()));
}

/// `../shared/data/fvc2002`, or `None` (with a note, or a panic under CI) when it is missing.
fn fvc_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fvc2002");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{} is missing", dir.display());
    }
    eprintln!("SKIPPED: {} is missing", dir.display());
    None
}

/// One FVC2002 impression and the SecuGen ISO record made from it.
struct Sample {
    db: u32,
    name: String,
    image: GrayImage,
    secugen: Template,
}

/// Impressions of FVC2002 set B: in a release build all 80 of each database, in a debug build (where
/// extraction is some fifty times slower) impression 1 of finger 101 only.
fn fvc_samples() -> Vec<Sample> {
    let Some(dir) = fvc_dir() else { return Vec::new() };
    let names: Vec<String> = if cfg!(debug_assertions) {
        vec!["101_1".to_owned()]
    } else {
        (1..=10).flat_map(|f| (1..=8).map(move |i| format!("1{f:02}_{i}"))).collect()
    };
    let mut out = Vec::new();
    for db in 1..=4 {
        for name in &names {
            let path = dir.join(format!("DB{db}_B/{name}.tif"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let image = GrayImage::decode(&bytes, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let path = dir.join(format!("DB{db}_B/{name}.iso"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let secugen =
                crate::fingerprint::iso::parse_iso(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push(Sample { db, name: name.clone(), image: image.to_500dpi(), secugen });
        }
    }
    out
}

/// How many of `theirs` have one of `ours` within 10 pixels and 30° once `ours` is scaled by `scale`
/// and moved by the translation that pairs the most. The SecuGen records were made from images cropped
/// (or padded) to 300×400 pixels around the finger, so the translation differs from image to image; it
/// is found by a vote over minutia pairs in 6-pixel bins, refined pixel by pixel around the best bins.
fn agreement(ours: &Template, theirs: &Template, scale: f32) -> usize {
    let close = |a: &Minutia, b: &Minutia, dx: f32, dy: f32| {
        let (x, y) = (a.x * scale + dx, a.y * scale + dy);
        (x - b.x).powi(2) + (y - b.y).powi(2) <= 100.0
            && minutiae::direction_difference(a.angle, b.angle) <= 30f32.to_radians()
    };
    let count =
        |dx: f32, dy: f32| theirs.minutiae.iter().filter(|t| ours.minutiae.iter().any(|o| close(o, t, dx, dy))).count();
    let mut votes: std::collections::BTreeMap<(i32, i32), usize> = std::collections::BTreeMap::new();
    for o in &ours.minutiae {
        for t in &theirs.minutiae {
            if minutiae::direction_difference(o.angle, t.angle) <= 30f32.to_radians() {
                let (dx, dy) = (t.x - o.x * scale, t.y - o.y * scale);
                *votes.entry(((dx / 6.0).round() as i32, (dy / 6.0).round() as i32)).or_default() += 1;
            }
        }
    }
    let mut bins: Vec<((i32, i32), usize)> = votes.into_iter().collect();
    bins.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut best = 0;
    for ((bx, by), _) in bins.into_iter().take(5) {
        for ry in -5..=5 {
            for rx in -5..=5 {
                best = best.max(count((bx * 6 + rx) as f32, (by * 6 + ry) as f32));
            }
        }
    }
    best
}

#[test]
fn fvc_images_give_plausible_templates() {
    let samples = fvc_samples();
    let mut per_db = [(0usize, 0usize, 0usize); 4];
    for (k, s) in samples.iter().enumerate() {
        let t = extract(&s.image).unwrap_or_else(|e| panic!("DB{} {}: {e}", s.db, s.name));
        assert!((5..=MAX_MINUTIAE).contains(&t.minutiae.len()), "DB{} {}: {} minutiae", s.db, s.name, t.minutiae.len());
        assert!(t.quality > 5, "DB{} {}: quality {}", s.db, s.name, t.quality);
        if k == 0 {
            assert_eq!(Ok(&t), extract(&s.image).as_ref(), "not deterministic");
        }
        // SecuGen's DB2 records were made from the 560-row images shrunk to 400 rows.
        let scale = if s.image.height > 400 { 400.0 / s.image.height as f32 } else { 1.0 };
        let slot = &mut per_db[(s.db - 1) as usize];
        slot.0 += agreement(&t, &s.secugen, scale);
        slot.1 += s.secugen.minutiae.len();
        slot.2 += t.minutiae.len();
    }
    // Not ground truth, but a strong hint: on the clean synthetic DB4 most of SecuGen's minutiae are ours.
    let floor = [35.0, 30.0, 25.0, 75.0];
    for (db, &(hit, theirs, ours)) in per_db.iter().enumerate() {
        if theirs == 0 {
            continue;
        }
        let pct = 100.0 * hit as f32 / theirs as f32;
        eprintln!("DB{}: {hit} of SecuGen's {theirs} minutiae found ({pct:.1}%), {ours} of ours", db + 1);
        assert!(pct >= floor[db], "DB{}: only {pct:.1}% of SecuGen's minutiae found", db + 1);
    }
}
