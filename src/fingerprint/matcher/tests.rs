//! Unit tests of the matcher on synthetic templates: random minutiae, moved, turned, distorted, thinned.

use super::*;
use crate::fingerprint::template::Minutia;
use std::f32::consts::TAU;

/// `n` minutiae spread over a `w × h` image at least 12 pixels apart, seeded.
fn random_template(seed: u64, n: usize, w: u16, h: u16) -> Template {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut minutiae: Vec<Minutia> = Vec::new();
    while minutiae.len() < n {
        let (x, y) = (20.0 + rng.f32() * (f32::from(w) - 40.0), 20.0 + rng.f32() * (f32::from(h) - 40.0));
        if minutiae.iter().any(|m| (m.x - x).powi(2) + (m.y - y).powi(2) < 144.0) {
            continue;
        }
        let kind = if rng.bool() { MinutiaKind::Ending } else { MinutiaKind::Bifurcation };
        minutiae.push(Minutia { x, y, angle: rng.f32() * TAU, kind, quality: 40 + rng.u8(..60) });
    }
    Template { width: w, height: h, quality: 60, minutiae }
}

/// Every minutia turned by `rot` about the image centre and moved by `(dx, dy)`, then displaced by
/// `warp(x, y)`; minutiae falling outside the image are dropped, as a sensor would.
fn transform(t: &Template, rot: f32, dx: f32, dy: f32, warp: impl Fn(f32, f32) -> (f32, f32)) -> Template {
    let (cx, cy) = (f32::from(t.width) / 2.0, f32::from(t.height) / 2.0);
    let (c, s) = (rot.cos(), rot.sin());
    let minutiae = t
        .minutiae
        .iter()
        .filter_map(|m| {
            // Adding `rot` to every angle turns pixel vectors by [[c, s], [−s, c]] (y downwards).
            let (ux, uy) = (m.x - cx, m.y - cy);
            let (x, y) = (cx + c * ux + s * uy + dx, cy - s * ux + c * uy + dy);
            let (wx, wy) = warp(x, y);
            let (x, y) = (x + wx, y + wy);
            let inside = x >= 0.0 && y >= 0.0 && x < f32::from(t.width) && y < f32::from(t.height);
            inside.then(|| Minutia { x, y, angle: crate::fingerprint::template::wrap_angle(m.angle + rot), ..*m })
        })
        .collect();
    Template { minutiae, ..t.clone() }
}

fn no_warp(_: f32, _: f32) -> (f32, f32) {
    (0.0, 0.0)
}

/// A second impression: moved, turned, smoothly distorted (up to 7 pixels), each minutia jittered,
/// 20% of them lost and a few spurious ones added.
fn second_impression(t: &Template, seed: u64) -> Template {
    let warp = |x: f32, y: f32| (6.0 * (y / 90.0).sin(), 6.0 * (x / 110.0).cos());
    let mut out = transform(t, 0.3, 15.0, -10.0, warp);
    let mut rng = fastrand::Rng::with_seed(seed);
    out.minutiae.retain(|_| rng.f32() >= 0.2);
    for m in &mut out.minutiae {
        m.x = (m.x + rng.f32() * 4.0 - 2.0).clamp(0.0, f32::from(t.width) - 1.0);
        m.y = (m.y + rng.f32() * 4.0 - 2.0).clamp(0.0, f32::from(t.height) - 1.0);
        m.angle = crate::fingerprint::template::wrap_angle(m.angle + rng.f32() * 0.2 - 0.1);
    }
    let spurious = random_template(seed ^ 0xabcdef, 5, t.width, t.height);
    out.minutiae.extend(spurious.minutiae);
    out
}

/// The highest score among `n` pairs of unrelated random templates.
fn best_impostor(n: u64) -> f32 {
    (0..n)
        .map(|i| compare(&random_template(1000 + i, 40, 300, 400), &random_template(5000 + i, 40, 300, 400)))
        .fold(0.0, f32::max)
}

#[test]
fn identical_templates_score_high() {
    let t = random_template(1, 40, 300, 400);
    let s = compare(&t, &t);
    assert!(s > 0.9, "{s}");
}

#[test]
fn a_turned_and_moved_copy_scores_nearly_as_high() {
    let t = random_template(2, 40, 300, 400);
    let same = compare(&t, &t);
    for (rot, dx, dy) in [(0.5f32, 20.0f32, -15.0f32), (-0.8, -10.0, 25.0), (1.3, 0.0, 0.0)] {
        // Turn about the centre of a larger canvas so that nothing falls off.
        let big = Template {
            width: 600,
            height: 600,
            minutiae: t.minutiae.iter().map(|m| Minutia { x: m.x + 150.0, y: m.y + 100.0, ..*m }).collect(),
            ..t.clone()
        };
        let moved = transform(&big, rot, dx, dy, no_warp);
        assert_eq!(moved.minutiae.len(), t.minutiae.len());
        let s = compare(&big, &moved);
        assert!(s > 0.9 * same, "rotation {rot}: {s} against {same}");
    }
}

#[test]
fn a_distorted_partial_copy_still_matches() {
    let impostor = best_impostor(30);
    for seed in 0..5 {
        let t = random_template(100 + seed, 40, 300, 400);
        let second = second_impression(&t, seed);
        let s = compare(&t, &second);
        assert!(s > 2.0 * impostor && s > 0.2, "seed {seed}: genuine {s}, best impostor {impostor}");
    }
}

#[test]
fn unrelated_templates_score_low() {
    let impostor = best_impostor(50);
    assert!(impostor < 0.15, "{impostor}");
}

#[test]
fn scores_are_symmetric() {
    for seed in 0..10 {
        let a = random_template(200 + seed, 35, 300, 400);
        let b = if seed % 2 == 0 { second_impression(&a, seed) } else { random_template(300 + seed, 45, 300, 400) };
        let (ab, ba) = (compare(&a, &b), compare(&b, &a));
        assert!((ab - ba).abs() < 0.03, "seed {seed}: {ab} vs {ba}");
    }
}

#[test]
fn input_order_and_repetition_do_not_change_the_score() {
    let a = random_template(7, 40, 300, 400);
    let b = second_impression(&a, 7);
    let mut shuffled = b.clone();
    shuffled.minutiae.reverse();
    let s = compare(&a, &b);
    assert_eq!(s, compare(&a, &shuffled));
    assert_eq!(s, compare(&a, &b));
}

#[test]
fn empty_tiny_and_odd_templates_give_zero_or_a_score_without_panicking() {
    let empty = Template::default();
    let t = random_template(3, 40, 300, 400);
    assert_eq!(compare(&empty, &empty), 0.0);
    assert_eq!(compare(&empty, &t), 0.0);
    assert_eq!(compare(&t, &empty), 0.0);
    let one = Template { minutiae: t.minutiae[..1].to_vec(), ..t.clone() };
    let two = Template { minutiae: t.minutiae[..2].to_vec(), ..t.clone() };
    assert_eq!(compare(&one, &t), 0.0);
    assert!((0.0..=1.0).contains(&compare(&two, &t)));
    let mut odd = t.clone();
    odd.minutiae[0].x = f32::NAN;
    odd.minutiae[1].angle = f32::INFINITY;
    odd.minutiae[2].y = -1e30;
    odd.minutiae.extend(t.minutiae.iter().take(5).copied()); // duplicates
    let s = compare(&odd, &t);
    assert!(s.is_finite() && (0.0..=1.0).contains(&s), "{s}");
    let crowd = random_template(4, 400, 2000, 2000);
    let s = compare(&crowd, &crowd);
    assert!(s > 0.9, "{s}");
    assert_eq!(PreparedTemplate::new(&crowd).minutiae(), params::MAX_MINUTIAE);
}

#[test]
fn a_prepared_template_debug_shows_no_coordinates() {
    let p = PreparedTemplate::new(&random_template(5, 20, 300, 400));
    let d = format!("{p:?}");
    assert!(d.contains("minutiae: 20") && !d.contains('.'), "{d}");
}
