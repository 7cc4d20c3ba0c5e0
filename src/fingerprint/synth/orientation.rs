//! Ridge orientation of a synthetic finger: the five Henry classes, where their singular points fall,
//! and the field they induce — Sherlock & Monro's zero-pole model with Vizcaya & Gerhardt's piecewise
//! linear correction, and a bump model for the plain arch, which has no singular point. It owns the
//! field's evaluation at any point (nothing is rasterised here) and the Poincaré index used to check
//! it; it does not know about ridges, minutiae or images.
//!
//! Coordinates are pixels at 500 dpi in the caller's frame (x right, y down); orientations are in
//! radians in `[0, π)`, counter-clockwise from the x axis as the image is seen, the convention of
//! [`crate::fingerprint`].

use std::f32::consts::{FRAC_PI_2, PI, TAU};

use super::rng::SynthRng;

/// A fingerprint class of the Henry system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Plain arch: ridges enter on one side, rise and leave on the other; no singular point.
    Arch,
    /// Tented arch: a core directly above a delta.
    TentedArch,
    /// Left loop (as seen): ridges enter and leave on the left; the delta lies below right of the core.
    LeftLoop,
    /// Right loop (as seen): the mirror image of a left loop.
    RightLoop,
    /// Whorl: two cores and two deltas (plain whorls and double loops alike).
    Whorl,
}

impl Class {
    /// Every class, in the order of [`Class::frequency`]'s table.
    pub const ALL: [Class; 5] = [Class::Arch, Class::TentedArch, Class::LeftLoop, Class::RightLoop, Class::Whorl];

    /// How often the class occurs in nature: the figures for a large FBI sample quoted by Maltoni et
    /// al., *Handbook of Fingerprint Recognition* (2nd ed., §5.1): arch 3.7%, tented arch 2.9%, left
    /// loop 33.8%, right loop 31.7%, whorl 27.9%.
    pub fn frequency(self) -> f64 {
        match self {
            Class::Arch => 0.037,
            Class::TentedArch => 0.029,
            Class::LeftLoop => 0.338,
            Class::RightLoop => 0.317,
            Class::Whorl => 0.279,
        }
    }

    /// The number of (cores, deltas) the class has.
    pub fn singularities(self) -> (usize, usize) {
        match self {
            Class::Arch => (0, 0),
            Class::TentedArch | Class::LeftLoop | Class::RightLoop => (1, 1),
            Class::Whorl => (2, 2),
        }
    }

    /// A class drawn with the natural frequencies.
    pub(crate) fn draw(rng: &mut SynthRng) -> Class {
        let weights = Class::ALL.map(Class::frequency);
        Class::ALL[rng.weighted(&weights)]
    }
}

/// The kind of a singular point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SingularKind {
    /// A loop (Poincaré index +½).
    Core,
    /// A delta (Poincaré index −½).
    Delta,
}

/// A singular point of the orientation field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingularPoint {
    /// Column, pixels.
    pub x: f32,
    /// Row, pixels.
    pub y: f32,
    /// Core or delta.
    pub kind: SingularKind,
}

/// Nodes of Vizcaya & Gerhardt's piecewise linear correction, per singular point.
const VG_NODES: usize = 8;
/// Largest shift of a correction node, radians (below half the node spacing, so the corrected angle
/// stays increasing and each point keeps its Poincaré index).
const VG_SHIFT: f32 = 0.28;

/// One singular point of the model with its angle correction.
#[derive(Debug, Clone, PartialEq)]
struct Pole {
    /// Column, row (pixels) before the field's rotation.
    x: f32,
    y: f32,
    /// +1 for a core, −1 for a delta.
    sign: f32,
    /// `g(α) − α` at `α = −π + 2πi/VG_NODES`, periodic.
    shift: [f32; VG_NODES],
}

impl Pole {
    /// Vizcaya & Gerhardt's `g(α)`: α plus a piecewise linear, periodic correction.
    fn corrected(&self, alpha: f32) -> f32 {
        let t = (alpha + PI) / TAU * VG_NODES as f32;
        let i = (t.floor() as usize).min(VG_NODES - 1);
        let f = t - i as f32;
        let (a, b) = (self.shift[i], self.shift[(i + 1) % VG_NODES]);
        alpha + a + (b - a) * f
    }
}

/// The plain arch's ridges, as the family `y = −h·w(y)·exp(−x²/2σ²)` bulging upwards.
#[derive(Debug, Clone, PartialEq)]
struct ArchBump {
    /// Height of the bulge, pixels.
    height: f32,
    /// Horizontal spread, pixels.
    sigma: f32,
    /// Row of the strongest bulge, pixels (before rotation).
    row: f32,
    /// Vertical extent of the bulge, pixels.
    extent: f32,
}

/// A finger's ridge orientation field.
#[derive(Debug, Clone, PartialEq)]
pub struct OrientationField {
    class: Class,
    /// The pattern's centre (pixels), about which it is rotated.
    centre: (f32, f32),
    /// Rotation of the whole pattern, radians counter-clockwise as seen.
    rotation: f32,
    poles: Vec<Pole>,
    arch: Option<ArchBump>,
}

impl OrientationField {
    /// A random field of `class` for a finger centred at `centre`, its singular points placed within
    /// ranges typical of a 500 dpi print: loops' cores 10–70 px above the centre and deltas 80–150 px
    /// below the core and 60–120 px to the side; a tented arch's delta 45–100 px under its core; a
    /// whorl's cores 18–45 px apart with a delta to each side below them. The pattern is then turned by
    /// a random angle (standard deviation 6°), as fingers are not all held upright.
    pub(crate) fn draw(class: Class, centre: (f32, f32), rng: &mut SynthRng) -> OrientationField {
        let (cx, cy) = centre;
        let mut points: Vec<(f32, f32, f32)> = Vec::new();
        let mut arch = None;
        match class {
            Class::Arch => {
                arch = Some(ArchBump {
                    height: rng.range(25.0, 60.0),
                    sigma: rng.range(55.0, 90.0),
                    row: cy + rng.range(-40.0, 30.0),
                    extent: rng.range(60.0, 110.0),
                });
            }
            Class::TentedArch => {
                let core = (cx + rng.range(-20.0, 20.0), cy + rng.range(-50.0, 0.0));
                points.push((core.0, core.1, 1.0));
                points.push((core.0 + rng.range(-12.0, 12.0), core.1 + rng.range(45.0, 100.0), -1.0));
            }
            Class::LeftLoop | Class::RightLoop => {
                let side = if class == Class::LeftLoop { 1.0 } else { -1.0 };
                let core = (cx + rng.range(-25.0, 25.0), cy + rng.range(-70.0, -10.0));
                points.push((core.0, core.1, 1.0));
                points.push((core.0 + side * rng.range(60.0, 120.0), core.1 + rng.range(80.0, 150.0), -1.0));
            }
            Class::Whorl => {
                let upper = (cx + rng.range(-20.0, 20.0), cy + rng.range(-60.0, -15.0));
                let lower = (upper.0 + rng.range(-18.0, 18.0), upper.1 + rng.range(18.0, 45.0));
                points.push((upper.0, upper.1, 1.0));
                points.push((lower.0, lower.1, 1.0));
                let mid = ((upper.0 + lower.0) / 2.0, (upper.1 + lower.1) / 2.0);
                points.push((mid.0 - rng.range(70.0, 120.0), mid.1 + rng.range(60.0, 130.0), -1.0));
                points.push((mid.0 + rng.range(70.0, 120.0), mid.1 + rng.range(60.0, 130.0), -1.0));
            }
        }
        let poles = points
            .into_iter()
            .map(|(x, y, sign)| {
                let mut shift = [0.0; VG_NODES];
                for s in &mut shift {
                    *s = rng.range(-VG_SHIFT, VG_SHIFT);
                }
                Pole { x, y, sign, shift }
            })
            .collect();
        let rotation = rng.normal_in(0.0, 6f32.to_radians(), -0.3, 0.3);
        OrientationField { class, centre, rotation, poles, arch }
    }

    /// The class this field was drawn for.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The singular points, where they lie after the pattern's rotation.
    pub fn singular_points(&self) -> Vec<SingularPoint> {
        self.poles
            .iter()
            .map(|p| {
                let (x, y) = self.turn(p.x, p.y, self.rotation);
                SingularPoint { x, y, kind: if p.sign > 0.0 { SingularKind::Core } else { SingularKind::Delta } }
            })
            .collect()
    }

    /// `(x, y)` turned by `angle` counter-clockwise (as seen) about the centre.
    fn turn(&self, x: f32, y: f32, angle: f32) -> (f32, f32) {
        let (s, c) = angle.sin_cos();
        let (dx, dy) = (x - self.centre.0, self.centre.1 - y); // y up
        (self.centre.0 + c * dx - s * dy, self.centre.1 - (s * dx + c * dy))
    }

    /// The ridge orientation at `(x, y)`, radians in `[0, π)` counter-clockwise as seen.
    pub fn at(&self, x: f32, y: f32) -> f32 {
        let (x, y) = self.turn(x, y, -self.rotation);
        let mut theta = self.rotation;
        if let Some(b) = &self.arch {
            let dx = x - self.centre.0;
            let dy = (y - b.row) / b.extent;
            let slope = -b.height * dx / (b.sigma * b.sigma) * (-dx * dx / (2.0 * b.sigma * b.sigma)).exp();
            theta += (slope * (-dy * dy / 2.0).exp()).atan();
        }
        // Sherlock & Monro: θ = θ∞ + ½ Σ ±arg(z − zₖ), cores +, deltas −, in y-up coordinates.
        for p in &self.poles {
            let alpha = (p.y - y).atan2(x - p.x);
            theta += 0.5 * p.sign * p.corrected(alpha);
        }
        theta.rem_euclid(PI).min(PI - f32::EPSILON)
    }
}

/// The Poincaré index of an orientation field (radians modulo π) along the circle of radius `r`
/// about `(x, y)`, sampled at `steps` points: +½ around a core, −½ around a delta, 0 elsewhere.
pub fn poincare_index(field: impl Fn(f32, f32) -> f32, x: f32, y: f32, r: f32, steps: usize) -> f32 {
    let at = |i: usize| {
        // Counter-clockwise as seen: y decreases as the angle grows.
        let a = TAU * i as f32 / steps as f32;
        field(x + r * a.cos(), y - r * a.sin())
    };
    let mut total = 0.0;
    let mut prev = at(0);
    for i in 1..=steps {
        let cur = at(i % steps);
        let mut d = cur - prev;
        while d >= FRAC_PI_2 {
            d -= PI;
        }
        while d < -FRAC_PI_2 {
            d += PI;
        }
        total += d;
        prev = cur;
    }
    total / TAU
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::synth::rng::Purpose;

    /// Every point of a 12-px grid over a 360 × 480 frame whose small loop has a non-zero index.
    fn found(f: &OrientationField) -> Vec<(f32, f32, f32)> {
        let mut out = Vec::new();
        for gy in 0..40 {
            for gx in 0..30 {
                let (x, y) = (6.0 + 12.0 * gx as f32, 6.0 + 12.0 * gy as f32);
                let ix = poincare_index(|a, b| f.at(a, b), x, y, 9.0, 32);
                if ix.abs() > 0.25 {
                    out.push((x, y, ix));
                }
            }
        }
        out
    }

    #[test]
    fn every_class_has_its_singular_points_and_no_other() {
        for class in Class::ALL {
            for k in 0..6 {
                let mut rng = SynthRng::new(k, Purpose::Master, &[class as u64]);
                let f = OrientationField::draw(class, (180.0, 240.0), &mut rng);
                let expected = f.singular_points();
                let (cores, deltas) = class.singularities();
                assert_eq!(expected.iter().filter(|p| p.kind == SingularKind::Core).count(), cores);
                assert_eq!(expected.iter().filter(|p| p.kind == SingularKind::Delta).count(), deltas);
                for p in &expected {
                    let want = if p.kind == SingularKind::Core { 0.5 } else { -0.5 };
                    let ix = poincare_index(|a, b| f.at(a, b), p.x, p.y, 10.0, 64);
                    assert!((ix - want).abs() < 1e-3, "{class:?} {p:?}: index {ix}");
                }
                // Scanning the frame finds each of them (inside the frame) and nothing else.
                let inside = |x: f32, y: f32| (0.0..360.0).contains(&x) && (0.0..480.0).contains(&y);
                for (x, y, ix) in found(&f) {
                    let near = expected.iter().any(|p| (p.x - x).abs() <= 15.0 && (p.y - y).abs() <= 15.0);
                    assert!(near, "{class:?}: spurious singularity of index {ix} at ({x}, {y}); {expected:?}");
                }
                let scan = found(&f);
                for p in expected.iter().filter(|p| inside(p.x, p.y)) {
                    assert!(
                        scan.iter().any(|&(x, y, _)| (p.x - x).abs() <= 15.0 && (p.y - y).abs() <= 15.0),
                        "{class:?}: {p:?} not found by the scan"
                    );
                }
            }
        }
    }

    #[test]
    fn a_loop_opens_towards_its_delta_and_ridges_are_level_far_away() {
        let mut rng = SynthRng::new(3, Purpose::Master, &[]);
        let f = OrientationField::draw(Class::LeftLoop, (180.0, 240.0), &mut rng);
        let pts = f.singular_points();
        let (core, delta) = (pts[0], pts[1]);
        assert!(delta.x > core.x && delta.y > core.y, "a left loop's delta lies below right: {pts:?}");
        // Straight above the core the ridges run across (within the pattern's rotation and correction).
        let above = f.at(core.x, core.y - 60.0);
        let across = above.min(PI - above);
        assert!(across < 0.6, "orientation above the core {above}");
    }

    #[test]
    fn class_frequencies_follow_the_table() {
        let mut rng = SynthRng::new(9, Purpose::Master, &[]);
        let mut counts = [0usize; 5];
        for _ in 0..20_000 {
            let c = Class::draw(&mut rng);
            counts[Class::ALL.iter().position(|&k| k == c).unwrap_or(0)] += 1;
        }
        for (i, c) in Class::ALL.iter().enumerate() {
            let f = counts[i] as f64 / 20_000.0;
            assert!((f - c.frequency()).abs() < 0.012, "{c:?}: {f}");
        }
    }
}
