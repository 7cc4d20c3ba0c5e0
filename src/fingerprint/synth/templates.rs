//! Synthetic minutiae templates without images, fast enough for galleries of hundreds of thousands:
//! each "finger" is a class and orientation field ([`super::orientation`], evaluated only at the
//! minutiae), a fingertip outline ([`super::shape`]) and 25–60 minutiae spread over it at least
//! [`MIN_SPACING`] apart, pointing along the ridge flow. It owns the gallery ([`Gallery`], [`finger`])
//! and impressions of a template ([`impression`]); it does not draw images ([`super::master`] does).
//!
//! Every finger depends only on `(seed, index)`, so a gallery can be cut, resumed or shared out among
//! threads and still give the same templates, and a template's own impression only on the template,
//! the seed and the impression's index.

use crate::fingerprint::template::{Minutia, MinutiaKind, Template, wrap_angle};

use super::distortion::{Motion, Plastic, Rigid};
use super::noise::ValueNoise;
use super::orientation::{Class, OrientationField};
use super::rng::{Purpose, SynthRng};
use super::shape::Shape;

/// Width of every synthetic template, pixels at 500 dpi.
pub const WIDTH: u16 = 300;
/// Height of every synthetic template, pixels at 500 dpi.
pub const HEIGHT: u16 = 400;
/// Smallest distance between two minutiae of a finger, pixels.
pub const MIN_SPACING: f32 = 10.0;
/// Fewest minutiae in a finger's template.
pub const MIN_MINUTIAE: usize = 25;
/// Most minutiae in a finger's template.
pub const MAX_MINUTIAE: usize = 60;
/// Lattice spacing of the field that sets which way minutiae point, pixels.
const SENSE_SPACING: f32 = 60.0;
/// Noise added to that field before taking its sign (the field itself has standard deviation ~0.6).
const SENSE_NOISE: f32 = 0.6;
/// Distance kept between minutiae and the fingertip's outline or the frame, pixels.
const BORDER: f32 = 12.0;

/// An endless, reproducible sequence of synthetic templates: item `i` is [`finger`]`(seed, i)`.
#[derive(Debug, Clone)]
pub struct Gallery {
    seed: u64,
    next: u64,
}

impl Gallery {
    /// The gallery of `seed`, from its first finger.
    pub fn new(seed: u64) -> Gallery {
        Gallery { seed, next: 0 }
    }

    /// The same gallery from finger `index` on.
    pub fn starting_at(seed: u64, index: u64) -> Gallery {
        Gallery { seed, next: index }
    }
}

impl Iterator for Gallery {
    type Item = Template;

    fn next(&mut self) -> Option<Template> {
        let t = finger(self.seed, self.next);
        self.next = self.next.wrapping_add(1);
        Some(t)
    }
}

/// The synthetic finger `index` of the gallery `seed`: a template of [`WIDTH`] × [`HEIGHT`] pixels
/// with [`MIN_MINUTIAE`]–[`MAX_MINUTIAE`] minutiae (median 40), best quality first.
pub fn finger(seed: u64, index: u64) -> Template {
    let mut rng = SynthRng::new(seed, Purpose::TemplateFinger, &[index]);
    let (w, h) = (f32::from(WIDTH), f32::from(HEIGHT));
    let class = Class::draw(&mut rng);
    let centre = (w / 2.0 + rng.normal_in(0.0, 10.0, -25.0, 25.0), h / 2.0 + rng.normal_in(0.0, 12.0, -30.0, 30.0));
    let field = OrientationField::draw(class, centre, &mut rng);
    let shape = Shape::draw(centre.0, centre.1, rng.range(0.88, 1.05), &mut rng);
    // Which way minutiae point along their ridge is correlated over a region (ridges there end or
    // fork the same way): the sign of a slow field plus noise, about half each way overall.
    let sense = ValueNoise::new(w, h, SENSE_SPACING, &mut rng);
    let target = rng.normal_in(40.0, 9.0, MIN_MINUTIAE as f32, MAX_MINUTIAE as f32).round() as usize;

    let usable =
        |x: f32, y: f32| x >= BORDER && y >= BORDER && x < w - BORDER && y < h - BORDER && shape.depth(x, y) >= BORDER;
    let (x0, y0, x1, y1) = shape.bounds();
    let (x0, y0, x1, y1) = (x0.max(BORDER), y0.max(BORDER), x1.min(w - BORDER), y1.min(h - BORDER));
    let mut minutiae: Vec<Minutia> = Vec::with_capacity(target);
    // Dart throwing: uniform candidates, refused when too close to a minutia already placed.
    for _ in 0..target * 30 {
        if minutiae.len() == target {
            break;
        }
        let (x, y) = (rng.range(x0, x1), rng.range(y0, y1));
        if !usable(x, y) || too_close(&minutiae, x, y, MIN_SPACING) {
            continue;
        }
        let forward = sense.at(x, y) + SENSE_NOISE * rng.normal() > 0.0;
        minutiae.push(ridge_minutia(&field, x, y, forward, &mut rng));
    }
    finish(minutiae, rng.int(50, 90) as u8)
}

/// Another impression of the finger `finger` (from [`finger`] or any template of [`WIDTH`] ×
/// [`HEIGHT`]), as a second capture and extraction would give it: the finger placed again (rotation of
/// standard deviation 8°, at most 20°; translation of 12 px per axis), with a mild plastic distortion
/// (ICAPR 2001 model), seen through a partial contact ellipse, 12% of the minutiae lost, 0–6 spurious
/// ones added, positions jittered by 1.5 px and directions by 4°, 8% of the types swapped.
/// Reproducible from `(finger, seed, index)`; different indices give different impressions.
pub fn impression(finger: &Template, seed: u64, index: u64) -> Template {
    let mut rng = SynthRng::new(seed, Purpose::TemplateImpression, &[fingerprint_of(finger), index]);
    let (w, h) = (f32::from(finger.width.max(1)), f32::from(finger.height.max(1)));
    let n = finger.minutiae.len().max(1) as f32;
    let centre =
        (finger.minutiae.iter().map(|m| m.x).sum::<f32>() / n, finger.minutiae.iter().map(|m| m.y).sum::<f32>() / n);
    let motion = Motion {
        plastic: Plastic::draw(
            (centre.0 + rng.normal_in(0.0, 15.0, -40.0, 40.0), centre.1 + rng.normal_in(0.0, 15.0, -40.0, 40.0)),
            0.7,
            &mut rng,
        ),
        rigid: Rigid {
            pivot: centre,
            rotation: rng.normal_in(0.0, 8f32.to_radians(), -20f32.to_radians(), 20f32.to_radians()),
            shift: (rng.normal_in(0.0, 12.0, -35.0, 35.0), rng.normal_in(0.0, 12.0, -35.0, 35.0)),
        },
    };
    // The contact area, in the finger's frame.
    let contact = (centre.0 + rng.normal_in(0.0, 15.0, -40.0, 40.0), centre.1 + rng.normal_in(0.0, 20.0, -50.0, 50.0));
    let axes = (rng.range(100.0, 150.0), rng.range(130.0, 200.0));
    let touches = |x: f32, y: f32| ((x - contact.0) / axes.0).powi(2) + ((y - contact.1) / axes.1).powi(2) <= 1.0;
    let in_frame = |x: f32, y: f32| x >= 4.0 && y >= 4.0 && x < w - 4.0 && y < h - 4.0;

    let mut out: Vec<Minutia> = Vec::with_capacity(finger.minutiae.len() + 6);
    for m in &finger.minutiae {
        if !touches(m.x, m.y) || rng.chance(0.12) {
            continue;
        }
        let (x, y) = motion.forward(m.x, m.y);
        let (x, y) = (x + 1.5 * rng.normal(), y + 1.5 * rng.normal());
        if !in_frame(x, y) {
            continue;
        }
        let angle = motion.direction(m.x, m.y, m.angle) + 4f32.to_radians() * rng.normal();
        let kind = match (m.kind, rng.chance(0.08)) {
            (MinutiaKind::Ending, true) => MinutiaKind::Bifurcation,
            (MinutiaKind::Bifurcation, true) => MinutiaKind::Ending,
            (k, _) => k,
        };
        let quality = (i32::from(m.quality) + rng.int(0, 20) as i32 - 10).clamp(1, 100) as u8;
        out.push(Minutia { x, y, angle: wrap_angle(angle), kind, quality });
    }
    // Spurious minutiae near the real ones (inside their bounding box), pointing anywhere.
    if !out.is_empty() {
        let (lo_x, hi_x) = out.iter().fold((w, 0.0f32), |(a, b), m| (a.min(m.x), b.max(m.x)));
        let (lo_y, hi_y) = out.iter().fold((h, 0.0f32), |(a, b), m| (a.min(m.y), b.max(m.y)));
        for _ in 0..rng.int(0, 6) {
            let (x, y) = (rng.range(lo_x, hi_x.max(lo_x + 1.0)), rng.range(lo_y, hi_y.max(lo_y + 1.0)));
            if in_frame(x, y) && !too_close(&out, x, y, MIN_SPACING) {
                let kind = if rng.chance(0.5) { MinutiaKind::Ending } else { MinutiaKind::Bifurcation };
                let angle = rng.range(0.0, std::f32::consts::TAU);
                out.push(Minutia { x, y, angle: wrap_angle(angle), kind, quality: rng.int(20, 70) as u8 });
            }
        }
    }
    let mut t = finish(out, finger.quality);
    (t.width, t.height) = (finger.width, finger.height);
    t
}

/// A minutia at `(x, y)` along the field, in the sense `forward` or the opposite (a ridge ending or
/// bifurcation points one way or the other along its ridge), a few degrees off as extracted
/// directions are.
fn ridge_minutia(field: &OrientationField, x: f32, y: f32, forward: bool, rng: &mut SynthRng) -> Minutia {
    let flip = if forward { 0.0 } else { std::f32::consts::PI };
    let angle = field.at(x, y) + flip + 2f32.to_radians() * rng.normal();
    let kind = if rng.chance(0.5) { MinutiaKind::Ending } else { MinutiaKind::Bifurcation };
    Minutia { x, y, angle: wrap_angle(angle), kind, quality: rng.int(40, 100) as u8 }
}

/// Whether a minutia of `placed` lies within `spacing` of `(x, y)`.
fn too_close(placed: &[Minutia], x: f32, y: f32, spacing: f32) -> bool {
    placed.iter().any(|m| (m.x - x) * (m.x - x) + (m.y - y) * (m.y - y) < spacing * spacing)
}

/// A template of [`WIDTH`] × [`HEIGHT`] with `minutiae` in the extractor's order (best quality first,
/// then by row and column).
fn finish(mut minutiae: Vec<Minutia>, quality: u8) -> Template {
    minutiae.sort_by(|a, b| b.quality.cmp(&a.quality).then(a.y.total_cmp(&b.y)).then(a.x.total_cmp(&b.x)));
    Template { width: WIDTH, height: HEIGHT, quality, minutiae }
}

/// A 64-bit digest of a template's minutiae, so that two fingers' impressions of equal index differ.
fn fingerprint_of(t: &Template) -> u64 {
    t.minutiae.iter().fold(t.minutiae.len() as u64, |acc, m| {
        let word = (u64::from(m.x.to_bits()) << 32) | u64::from(m.y.to_bits() ^ m.angle.to_bits());
        acc.rotate_left(17) ^ word.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::matcher::{PreparedTemplate, compare_prepared};

    #[test]
    fn fingers_are_reproducible_by_index_and_differ_between_indices() {
        let g: Vec<Template> = Gallery::new(42).take(5).collect();
        assert_eq!(g[3], finger(42, 3));
        assert_eq!(Gallery::starting_at(42, 3).next(), Some(finger(42, 3)));
        assert_ne!(g[0], g[1]);
        assert_ne!(finger(42, 0), finger(43, 0));
        let t = finger(7, 1);
        assert_eq!(impression(&t, 1, 2), impression(&t, 1, 2));
        assert_ne!(impression(&t, 1, 2), impression(&t, 1, 3));
        assert_ne!(impression(&t, 1, 2), impression(&finger(7, 2), 1, 2));
    }

    #[test]
    fn counts_spacing_ranges_and_kinds_look_like_real_templates() {
        let mut counts = Vec::new();
        let (mut endings, mut total) = (0usize, 0usize);
        for t in Gallery::new(1).take(400) {
            assert_eq!((t.width, t.height), (WIDTH, HEIGHT));
            let n = t.minutiae.len();
            assert!((MIN_MINUTIAE..=MAX_MINUTIAE).contains(&n), "{n} minutiae");
            counts.push(n);
            for (i, a) in t.minutiae.iter().enumerate() {
                assert!(a.x >= 0.0 && a.y >= 0.0 && a.x < f32::from(WIDTH) && a.y < f32::from(HEIGHT));
                assert!((0.0..std::f32::consts::TAU).contains(&a.angle));
                assert!((40..=100).contains(&a.quality));
                assert!(a.kind != MinutiaKind::Other);
                for b in &t.minutiae[i + 1..] {
                    assert!(((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt() >= MIN_SPACING - 1e-3);
                }
            }
            endings += t.minutiae.iter().filter(|m| m.kind == MinutiaKind::Ending).count();
            total += n;
            // Encodes and decodes like any template.
            assert_eq!(Template::from_bytes(&t.to_bytes()).map(|b| b.minutiae.len()), Ok(n));
        }
        counts.sort_unstable();
        let median = counts[counts.len() / 2];
        assert!((37..=42).contains(&median), "median {median}");
        let share = endings as f64 / total as f64;
        assert!((0.46..0.54).contains(&share), "endings {share}");
    }

    #[test]
    fn directions_follow_the_ridge_flow_in_either_sense() {
        // Neighbouring minutiae point along nearly the same axis (the field is smooth), more often the
        // same way than not, as in real templates (FVC2002: 37–40% of nearest neighbours point
        // opposite ways).
        let (mut aligned, mut pairs, mut opposite) = (0usize, 0usize, 0usize);
        for t in Gallery::new(3).take(100) {
            for (i, a) in t.minutiae.iter().enumerate() {
                for b in &t.minutiae[i + 1..] {
                    if (a.x - b.x).hypot(a.y - b.y) > 25.0 {
                        continue;
                    }
                    let d = (a.angle - b.angle).rem_euclid(std::f32::consts::PI);
                    pairs += 1;
                    aligned += usize::from(d.min(std::f32::consts::PI - d) < 0.5);
                    let full = (a.angle - b.angle).rem_euclid(std::f32::consts::TAU);
                    opposite += usize::from(full.min(std::f32::consts::TAU - full) > std::f32::consts::FRAC_PI_2);
                }
            }
        }
        assert!(aligned as f64 > 0.85 * pairs as f64, "{aligned}/{pairs}");
        let share = opposite as f64 / pairs as f64;
        assert!((0.25..0.5).contains(&share), "{share}");
    }

    #[test]
    fn impressions_match_their_finger_and_not_others() {
        let mut genuine = Vec::new();
        let mut impostor = Vec::new();
        for i in 0..8 {
            let f = finger(11, i);
            let a = PreparedTemplate::new(&impression(&f, 11, 0));
            let b = PreparedTemplate::new(&impression(&f, 11, 1));
            genuine.push(compare_prepared(&a, &b));
            let other = PreparedTemplate::new(&impression(&finger(11, i + 100), 11, 0));
            impostor.push(compare_prepared(&a, &other));
        }
        let worst = genuine.iter().copied().fold(1.0, f32::min);
        let best = impostor.iter().copied().fold(0.0, f32::max);
        assert!(worst > best, "genuine {genuine:?} impostor {impostor:?}");
    }
}
