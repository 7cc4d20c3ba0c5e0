//! The generator's only source of randomness: a ChaCha8 stream keyed by the caller's seed and by the
//! path of what is being drawn (a finger's index, an impression's index, a purpose tag), so that any
//! finger or impression can be drawn again on its own, on any platform, with the same values. It owns
//! the handful of distributions the generator needs (uniform, normal, coin flips) and nothing else.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};

/// What a stream is drawn for: two purposes never share a stream, even with equal indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A master fingerprint (orientation, density, shape, ridge seeds).
    Master = 1,
    /// One impression image of a master.
    Impression = 2,
    /// A template-level finger.
    TemplateFinger = 3,
    /// One impression of a template-level finger.
    TemplateImpression = 4,
}

/// A deterministic random stream (ChaCha8, whose output is specified bit for bit).
pub(crate) struct SynthRng(ChaCha8Rng);

impl std::fmt::Debug for SynthRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SynthRng")
    }
}

/// SplitMix64's finaliser (Steele, Lea & Flood, OOPSLA 2014): spreads a 64-bit word over all bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SynthRng {
    /// The stream for `purpose` under `seed`, at the path `path` (finger index, impression index…).
    pub(crate) fn new(seed: u64, purpose: Purpose, path: &[u64]) -> SynthRng {
        let mut state = mix(seed ^ 0x7a11_5f1e_0000_0000) ^ mix(purpose as u64);
        for &p in path {
            state = mix(state.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ mix(p.wrapping_add(1)));
        }
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(
                &mix(state.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))).to_le_bytes(),
            );
        }
        SynthRng(ChaCha8Rng::from_seed(key))
    }

    /// A uniform `f64` in `[0, 1)` (53 random bits).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform `f32` in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit() as f32
    }

    /// A uniform integer in `[lo, hi]` (inclusive).
    pub(crate) fn int(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi.saturating_sub(lo)) + 1;
        lo + ((self.unit() * span as f64) as u64).min(span - 1) as u32
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A normal deviate with mean 0 and standard deviation 1 (Box–Muller).
    pub(crate) fn normal(&mut self) -> f32 {
        let u = 1.0 - self.unit(); // (0, 1]: the logarithm stays finite.
        let v = self.unit();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// A normal deviate with mean `mean` and standard deviation `sd`, clamped to `[lo, hi]`.
    pub(crate) fn normal_in(&mut self, mean: f32, sd: f32, lo: f32, hi: f32) -> f32 {
        (mean + sd * self.normal()).clamp(lo, hi)
    }

    /// An index drawn with probability proportional to `weights` (all ≥ 0, not all 0).
    pub(crate) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, purpose, path: &[u64]| {
            let mut r = SynthRng::new(seed, purpose, path);
            (0..4).map(|_| r.0.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, Purpose::Master, &[3]), draw(7, Purpose::Master, &[3]));
        assert_ne!(draw(7, Purpose::Master, &[3]), draw(8, Purpose::Master, &[3]));
        assert_ne!(draw(7, Purpose::Master, &[3]), draw(7, Purpose::Master, &[4]));
        assert_ne!(draw(7, Purpose::Master, &[3]), draw(7, Purpose::Impression, &[3]));
        assert_ne!(draw(7, Purpose::Impression, &[1, 2]), draw(7, Purpose::Impression, &[2, 1]));
    }

    #[test]
    fn distributions_have_their_moments_and_ranges() {
        let mut r = SynthRng::new(1, Purpose::Master, &[]);
        let n = 20_000;
        let v: Vec<f32> = (0..n).map(|_| r.normal()).collect();
        let mean = v.iter().sum::<f32>() / n as f32;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n as f32;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        for _ in 0..1000 {
            let i = r.int(3, 5);
            assert!((3..=5).contains(&i));
            let x = r.range(-2.0, 2.0);
            assert!((-2.0..2.0).contains(&x));
        }
        let picks = (0..3000).filter(|_| r.weighted(&[1.0, 0.0, 3.0]) == 2).count();
        assert!((2100..2400).contains(&picks), "{picks}");
    }
}
