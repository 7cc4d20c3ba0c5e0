//! Checks across the image generator's parts: masters and impressions are reproducible from their
//! seed, the grown ridges fill the fingertip, and two impressions of one finger differ pixel by pixel
//! yet give minutiae that our own extractor and matcher recognise as the same finger.

use super::{Class, ImpressionSettings, Master};
use crate::fingerprint::extract::extract;
use crate::fingerprint::matcher::compare;

#[test]
fn masters_and_impressions_are_reproducible_from_the_seed() {
    let settings = ImpressionSettings::default();
    let a = Master::generate(5, 0);
    let again = Master::generate(5, 0);
    assert_eq!(a.impression(1, &settings), again.impression(1, &settings));
    assert_ne!(a.impression(1, &settings).pixels, a.impression(2, &settings).pixels);
    let other = Master::generate(5, 1);
    assert_ne!(a.impression(1, &settings).pixels, other.impression(1, &settings).pixels);
}

#[test]
fn ridges_fill_the_fingertip_and_the_class_is_kept() {
    let m = Master::generate_class(3, 7, Class::Whorl);
    assert_eq!(m.class(), Class::Whorl);
    let s = &m.shape;
    let (x0, y0, x1, y1) = s.bounds();
    let (mut inside, mut ridged) = (0usize, 0usize);
    for y in (y0 as i32..y1 as i32).step_by(3) {
        for x in (x0 as i32..x1 as i32).step_by(3) {
            let (fx, fy) = (x as f32, y as f32);
            if s.depth(fx, fy) > 5.0 {
                inside += 1;
                ridged += usize::from(m.ridge(fx, fy).abs() > 0.2);
            }
        }
    }
    assert!(ridged as f64 > 0.85 * inside as f64, "{ridged} of {inside} samples have ridges");
}

#[test]
fn impressions_differ_but_extract_to_the_same_finger() {
    let settings = ImpressionSettings::default();
    let m = Master::generate(11, 2);
    let (a, b) = (m.impression(0, &settings), m.impression(1, &settings));
    assert_eq!((a.width, a.height, a.dpi), (300, 400, 500));
    let differing = a.pixels.iter().zip(&b.pixels).filter(|(p, q)| p.abs_diff(**q) > 40).count();
    assert!(differing > a.pixels.len() / 10, "only {differing} pixels differ");
    // Dark ridges on a light background.
    let mut sorted = a.pixels.clone();
    sorted.sort_unstable();
    let (dark, middle) = (sorted[sorted.len() / 20], sorted[sorted.len() / 2]);
    assert!(middle > 150 && dark + 60 < middle, "grey levels: 5% {dark}, 50% {middle}");

    let (ta, tb) = (extract(&a).expect("extracts"), extract(&b).expect("extracts"));
    assert!(
        ta.minutiae.len() >= 12 && tb.minutiae.len() >= 12,
        "{} and {} minutiae",
        ta.minutiae.len(),
        tb.minutiae.len()
    );
    let genuine = compare(&ta, &tb);
    let stranger = extract(&Master::generate(11, 3).impression(0, &settings)).expect("extracts");
    let impostor = compare(&ta, &stranger);
    assert!(genuine > 0.2 && genuine > 2.0 * impostor, "genuine {genuine}, impostor {impostor}");
}
