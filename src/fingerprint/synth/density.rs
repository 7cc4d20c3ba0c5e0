//! The ridge density map of a synthetic finger: the local ridge period, about 9 px at 500 dpi (a
//! frequency of 1/9 px⁻¹), varying smoothly over the finger and longer (ridges sparser) near the
//! singular points, as SFinGe's density model has it (Cappelli, Maio & Maltoni, ICPR 2000, §2.2; the
//! *Handbook*'s §6.5). It owns the period's evaluation at any point; nothing is rasterised here.

use super::orientation::SingularPoint;
use super::rng::SynthRng;

/// Shortest ridge period the map gives, pixels.
pub const MIN_PERIOD: f32 = 6.5;
/// Longest ridge period the map gives, pixels.
pub const MAX_PERIOD: f32 = 13.0;

/// A plane wave added to the base period.
#[derive(Debug, Clone, PartialEq)]
struct Wave {
    kx: f32,
    ky: f32,
    phase: f32,
    amplitude: f32,
}

/// The ridge period over a finger.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityMap {
    /// The finger's typical period, pixels.
    base: f32,
    /// Slow variations over the finger.
    waves: Vec<Wave>,
    /// Where the period lengthens: the singular points.
    points: Vec<(f32, f32)>,
    /// How much longer the period is at a singular point, pixels.
    lengthening: f32,
    /// Radius (standard deviation) of that lengthening, pixels.
    radius: f32,
}

impl DensityMap {
    /// A random map: a base period of 8–10 px, two slow waves (wavelengths 150–400 px) of ±0.4–0.9 px
    /// each, four ripples (wavelengths 50–120 px) of ±0.2–0.5 px each, and 1–2.2 px more within
    /// ~40 px of each singular point.
    pub(crate) fn draw(points: &[SingularPoint], rng: &mut SynthRng) -> DensityMap {
        let base = rng.normal_in(9.0, 0.5, 8.0, 10.0);
        // Two slow waves and four ripples.
        let waves = [(150.0, 400.0, 0.4, 0.9); 2]
            .into_iter()
            .chain([(50.0, 120.0, 0.2, 0.5); 4])
            .map(|(shortest, longest, low, high)| {
                let dir = rng.range(0.0, std::f32::consts::TAU);
                let k = std::f32::consts::TAU / rng.range(shortest, longest);
                Wave {
                    kx: k * dir.cos(),
                    ky: k * dir.sin(),
                    phase: rng.range(0.0, std::f32::consts::TAU),
                    amplitude: rng.range(low, high),
                }
            })
            .collect();
        DensityMap {
            base,
            waves,
            points: points.iter().map(|p| (p.x, p.y)).collect(),
            lengthening: rng.range(1.0, 2.2),
            radius: rng.range(30.0, 50.0),
        }
    }

    /// The ridge period at `(x, y)`, pixels, within [`MIN_PERIOD`]–[`MAX_PERIOD`].
    pub fn period(&self, x: f32, y: f32) -> f32 {
        let mut p = self.base;
        for w in &self.waves {
            p += w.amplitude * (w.kx * x + w.ky * y + w.phase).cos();
        }
        let s2 = 2.0 * self.radius * self.radius;
        for &(sx, sy) in &self.points {
            let d2 = (x - sx) * (x - sx) + (y - sy) * (y - sy);
            p += self.lengthening * (-d2 / s2).exp();
        }
        p.clamp(MIN_PERIOD, MAX_PERIOD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::synth::orientation::SingularKind;
    use crate::fingerprint::synth::rng::Purpose;

    #[test]
    fn period_is_about_nine_pixels_and_longer_at_singular_points() {
        let core = SingularPoint { x: 150.0, y: 150.0, kind: SingularKind::Core };
        for seed in 0..20 {
            let d = DensityMap::draw(&[core], &mut SynthRng::new(seed, Purpose::Master, &[]));
            // The same map without the singular point (the points draw no random numbers).
            let plain = DensityMap::draw(&[], &mut SynthRng::new(seed, Purpose::Master, &[]));
            let far: Vec<f32> = (0..50).map(|i| d.period(400.0 + 7.0 * i as f32, 20.0 * i as f32)).collect();
            let mean = far.iter().sum::<f32>() / far.len() as f32;
            assert!((7.5..10.5).contains(&mean), "{mean}");
            assert!(d.period(150.0, 150.0) > plain.period(150.0, 150.0) + 0.9);
            assert!((d.period(150.0, 400.0) - plain.period(150.0, 400.0)).abs() < 0.01);
        }
    }
}
