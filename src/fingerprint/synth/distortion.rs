//! How a finger lands on the sensor: a rigid placement (rotation and translation) after the
//! non-linear plastic distortion of Cappelli, Maio & Maltoni, "Modelling plastic distortion in
//! fingerprint images" (ICAPR 2001). It owns the forward map (finger → impression), its inverse, and
//! the transport of a direction; images and templates both use it.
//!
//! # The plastic model (ICAPR 2001, §2)
//! The finger touches the sensor first in a *close-contact region*, an ellipse that does not move; as
//! it is pressed and dragged, the skin beyond a *transitional region* of width `k` follows a rigid
//! motion `T` (rotation `θ` about the contact centre and translation `d`), and in between it is
//! dragged partially: `Δ(v) = v + (T(v) − v) · brake(shapedist(v), k)`, where `shapedist` is the
//! distance from `v` to the close-contact region and `brake(d, k) = ½(1 − cos(π d / k))` for
//! `0 ≤ d ≤ k` (0 inside, 1 beyond `k`). Our `shapedist` to the ellipse is measured along the ray
//! from its centre (exact on the axes, a close approximation elsewhere).

use super::rng::SynthRng;

/// A rigid motion: rotation by `rotation` (radians, counter-clockwise as seen) about `pivot`, then a
/// translation by `shift`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rigid {
    /// Centre of rotation, pixels.
    pub pivot: (f32, f32),
    /// Radians, counter-clockwise as seen.
    pub rotation: f32,
    /// Translation after the rotation, pixels.
    pub shift: (f32, f32),
}

impl Rigid {
    /// The motion that leaves every point in place.
    pub const IDENTITY: Rigid = Rigid { pivot: (0.0, 0.0), rotation: 0.0, shift: (0.0, 0.0) };

    /// Where `(x, y)` goes.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (s, c) = self.rotation.sin_cos();
        let (dx, dy) = (x - self.pivot.0, y - self.pivot.1);
        // Counter-clockwise as seen, with y down.
        (self.pivot.0 + c * dx + s * dy + self.shift.0, self.pivot.1 - s * dx + c * dy + self.shift.1)
    }

    /// Where `(x, y)` came from.
    pub fn invert(&self, x: f32, y: f32) -> (f32, f32) {
        let (s, c) = self.rotation.sin_cos();
        let (dx, dy) = (x - self.shift.0 - self.pivot.0, y - self.shift.1 - self.pivot.1);
        (self.pivot.0 + c * dx - s * dy, self.pivot.1 + s * dx + c * dy)
    }
}

/// Cappelli, Maio & Maltoni's plastic distortion (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plastic {
    /// Centre of the close-contact ellipse, pixels.
    pub centre: (f32, f32),
    /// Its semi-axes (horizontal, vertical), pixels.
    pub axes: (f32, f32),
    /// Width of the transitional region, pixels.
    pub k: f32,
    /// The rigid motion `T` of the skin beyond the transitional region (pivot at `centre`).
    pub motion: Rigid,
}

impl Plastic {
    /// No distortion.
    pub const NONE: Plastic = Plastic { centre: (0.0, 0.0), axes: (1.0, 1.0), k: 1.0, motion: Rigid::IDENTITY };

    /// A random distortion about `centre`: close-contact semi-axes 40–80 × 50–100 px, transitional
    /// width 70–130 px, and `T` a rotation of standard deviation `strength`·3° and a translation of
    /// standard deviation `strength`·6 px per axis (at most 3 standard deviations).
    pub(crate) fn draw(centre: (f32, f32), strength: f32, rng: &mut SynthRng) -> Plastic {
        let s = strength.max(0.0);
        let rot = 3f32.to_radians() * s;
        Plastic {
            centre,
            axes: (rng.range(40.0, 80.0), rng.range(50.0, 100.0)),
            k: rng.range(70.0, 130.0),
            motion: Rigid {
                pivot: centre,
                rotation: rng.normal_in(0.0, rot, -3.0 * rot, 3.0 * rot),
                shift: (
                    rng.normal_in(0.0, 6.0 * s, -18.0 * s, 18.0 * s),
                    rng.normal_in(0.0, 6.0 * s, -18.0 * s, 18.0 * s),
                ),
            },
        }
    }

    /// How far `(x, y)` lies outside the close-contact ellipse, pixels (0 inside).
    fn shapedist(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (x - self.centre.0, y - self.centre.1);
        let rho = ((dx / self.axes.0).powi(2) + (dy / self.axes.1).powi(2)).sqrt();
        if rho <= 1.0 { 0.0 } else { (dx * dx + dy * dy).sqrt() * (1.0 - 1.0 / rho) }
    }

    /// The share of `T`'s displacement applied at distance `d` from the close-contact region.
    fn brake(&self, d: f32) -> f32 {
        if d <= 0.0 {
            0.0
        } else if d >= self.k {
            1.0
        } else {
            0.5 * (1.0 - (std::f32::consts::PI * d / self.k).cos())
        }
    }

    /// `Δ(v)`: where the skin at `(x, y)` ends up.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (tx, ty) = self.motion.apply(x, y);
        let b = self.brake(self.shapedist(x, y));
        (x + (tx - x) * b, y + (ty - y) * b)
    }
}

/// The whole placement of a finger on the sensor: plastic distortion, then a rigid motion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    /// Applied first, in the finger's frame.
    pub plastic: Plastic,
    /// Applied second, from the finger's frame to the impression's.
    pub rigid: Rigid,
}

impl Motion {
    /// Where the finger's point `(x, y)` appears in the impression.
    pub fn forward(&self, x: f32, y: f32) -> (f32, f32) {
        let (u, v) = self.plastic.apply(x, y);
        self.rigid.apply(u, v)
    }

    /// The finger's point seen at `(x, y)` in the impression. The plastic map is inverted by
    /// fixed-point iteration, which converges because its displacement changes slowly (by at most
    /// about `|T − I| · π / 2k` per pixel).
    pub fn inverse(&self, x: f32, y: f32) -> (f32, f32) {
        let (u, v) = self.rigid.invert(x, y);
        let (mut px, mut py) = (u, v);
        for _ in 0..6 {
            let (fx, fy) = self.plastic.apply(px, py);
            px = u - (fx - px);
            py = v - (fy - py);
        }
        (px, py)
    }

    /// The direction (radians, counter-clockwise as seen) that `angle` at `(x, y)` in the finger
    /// takes in the impression.
    pub fn direction(&self, x: f32, y: f32, angle: f32) -> f32 {
        let (a, b) = self.forward(x, y);
        let (c, d) = self.forward(x + 2.0 * angle.cos(), y - 2.0 * angle.sin());
        (b - d).atan2(c - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::synth::rng::Purpose;

    #[test]
    fn rigid_motion_inverts_and_turns_counter_clockwise_as_seen() {
        let r = Rigid { pivot: (10.0, 20.0), rotation: std::f32::consts::FRAC_PI_2, shift: (0.0, 0.0) };
        let (x, y) = r.apply(11.0, 20.0);
        assert!((x - 10.0).abs() < 1e-5 && (y - 19.0).abs() < 1e-5, "right of the pivot goes up: {x} {y}");
        let r = Rigid { pivot: (50.0, 60.0), rotation: 0.3, shift: (7.0, -4.0) };
        let (x, y) = r.invert(r.apply(3.0, 99.0).0, r.apply(3.0, 99.0).1);
        assert!((x - 3.0).abs() < 1e-3 && (y - 99.0).abs() < 1e-3);
    }

    #[test]
    fn plastic_distortion_keeps_the_contact_region_and_moves_the_rest_rigidly() {
        let mut rng = SynthRng::new(5, Purpose::Impression, &[]);
        let p = Plastic::draw((150.0, 200.0), 2.0, &mut rng);
        assert_eq!(p.apply(150.0, 200.0), (150.0, 200.0));
        let far = (150.0 + p.axes.0 + p.k + 30.0, 200.0);
        let (a, b) = (p.apply(far.0, far.1), p.motion.apply(far.0, far.1));
        assert!((a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3);
        let m = Motion { plastic: p, rigid: Rigid { pivot: (150.0, 200.0), rotation: -0.2, shift: (12.0, 3.0) } };
        for &(x, y) in &[(40.0, 30.0), (150.0, 260.0), (290.0, 390.0), (210.0, 120.0)] {
            let (u, v) = m.forward(x, y);
            let (bx, by) = m.inverse(u, v);
            assert!((bx - x).abs() < 0.05 && (by - y).abs() < 0.05, "({x}, {y}) → ({bx}, {by})");
        }
    }
}
