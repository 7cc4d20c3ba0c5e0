//! Impressions of a master fingerprint as a 500 dpi optical sensor would give them, following
//! SFinGe's impression stage (Cappelli, Maio & Maltoni, ICPR 2000, §3; *Handbook*, §6.7): a partial,
//! irregular contact region; pressure and skin condition (ridges thickened when the finger is wet or
//! pressed hard, thinned and broken when it is dry); the non-linear plastic distortion of
//! [`super::distortion`]; a rigid placement on the sensor; and sensor noise over a light background.
//! It owns the rendering to a [`GrayImage`]; the ridge pattern itself is [`super::master`]'s.

use std::f32::consts::TAU;

use crate::fingerprint::image::GrayImage;

use super::distortion::{Motion, Plastic, Rigid};
use super::master::{CANVAS_HEIGHT, CANVAS_WIDTH, Master};
use super::noise::ValueNoise;
use super::rng::{Purpose, SynthRng};

/// The spreads below are written for this multiple of [`ImpressionSettings::variability`]. Sets of 30
/// fingers × 8 impressions evaluated with `tally fingerprint eval` gave EERs of 0.9%, 3.8% and 8.5% at
/// 1.5, 2.0 and 2.5; at 1.6, 100 fingers × 8 give 2.1% (see the module docs of [`super`]), near ours on
/// FVC2002 (1.8%).
const TUNED_SPREAD: f32 = 1.6;

/// How impressions are rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpressionSettings {
    /// Image width, pixels at 500 dpi.
    pub width: u32,
    /// Image height, pixels at 500 dpi.
    pub height: u32,
    /// Scales how much impressions of one finger differ (placement, distortion, contact, skin
    /// condition, noise): 1 is the default, tuned to an FVC2002-like difficulty (see the module docs
    /// of [`super`]); 0 gives the same centred, undistorted, clean impression every time. Placement
    /// and contact stay within limits at any value, so that every impression shows enough finger.
    pub variability: f32,
}

impl Default for ImpressionSettings {
    /// 300 × 400 pixels (FVC2002's sensors range from 288 × 384 to 388 × 374), variability 1.
    fn default() -> ImpressionSettings {
        ImpressionSettings { width: 300, height: 400, variability: 1.0 }
    }
}

/// The irregular contact region of one impression, in the master's frame: an ellipse whose radius
/// wavers with the angle.
struct Contact {
    centre: (f32, f32),
    axes: (f32, f32),
    /// (amplitude, harmonic, phase) of the radius's wavering.
    waves: [(f32, f32, f32); 3],
}

impl Contact {
    /// Approximate distance inside the region's outline, pixels (negative outside).
    fn depth(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = ((x - self.centre.0) / self.axes.0, (y - self.centre.1) / self.axes.1);
        let rho = (dx * dx + dy * dy).sqrt();
        let phi = dy.atan2(dx);
        let r = 1.0 + self.waves.iter().map(|&(a, k, p)| a * (k * phi + p).cos()).sum::<f32>();
        (r - rho) * self.axes.0.min(self.axes.1)
    }
}

impl Master {
    /// Impression `index` of this finger: reproducible from the master's seed and index and `index`.
    pub fn impression(&self, index: u64, settings: &ImpressionSettings) -> GrayImage {
        let (seed, finger) = self.id();
        let mut rng = SynthRng::new(seed, Purpose::Impression, &[finger, index]);
        let var = TUNED_SPREAD * settings.variability.max(0.0);
        let (w, h) = (settings.width.max(1) as usize, settings.height.max(1) as usize);
        let shape = &self.shape;

        // Contact: the fingertip is never pressed whole; where and how much varies per impression.
        let spread_x = shape.top_half_width.min(shape.bottom_half_width);
        let spread_y = shape.band + 0.5 * (shape.top + shape.bottom);
        let contact = Contact {
            centre: (
                shape.cx + (var * 14.0 * rng.normal()).clamp(-35.0, 35.0),
                shape.cy + (var * 18.0 * rng.normal()).clamp(-45.0, 45.0),
            ),
            axes: (
                spread_x * (1.0 - (var * rng.range(0.0, 0.25)).min(0.35)),
                spread_y * (1.0 - (var * rng.range(0.0, 0.25)).min(0.35)),
            ),
            waves: [2.0, 3.0, 5.0].map(|k| (var * rng.range(0.0, 0.05), k, rng.range(0.0, TAU))),
        };
        // Placement: distortion about the contact centre, then rotation and translation onto the image.
        let rot_sd = 10f32.to_radians() * var;
        let motion = Motion {
            plastic: Plastic::draw(contact.centre, 1.5 * var, &mut rng),
            rigid: Rigid {
                pivot: (shape.cx, shape.cy),
                rotation: rng.normal_in(0.0, rot_sd, -20f32.to_radians(), 20f32.to_radians()),
                shift: (
                    w as f32 / 2.0 - shape.cx + (var * 14.0 * rng.normal()).clamp(-35.0, 35.0),
                    h as f32 / 2.0 - shape.cy + (var * 18.0 * rng.normal()).clamp(-45.0, 45.0),
                ),
            },
        };
        // Skin and pressure: a global level (positive: wet or pressed hard, ridges thicker) varying
        // slowly over the finger, and fine blotches that break dry ridges.
        let pressure = (var * 0.25 * rng.normal()).clamp(-0.45, 0.45);
        let wetness = ValueNoise::new(CANVAS_WIDTH as f32, CANVAS_HEIGHT as f32, 60.0, &mut rng);
        let wet_amp = var * rng.range(0.05, 0.25);
        let pores = ValueNoise::new(CANVAS_WIDTH as f32, CANVAS_HEIGHT as f32, 3.0, &mut rng);
        let dryness = ((-pressure).max(0.0) * 1.5 + var * rng.range(0.0, 0.2)).min(0.8);
        // The sensor: background, contrast, noise.
        let background = rng.range(200.0, 240.0);
        let contrast = rng.range(130.0, 190.0) * (1.0 + 0.4 * pressure).clamp(0.6, 1.3);
        let shading = ValueNoise::new(w as f32, h as f32, 80.0, &mut rng);
        let noise_sd = 3.0 + (var * rng.range(2.0, 10.0)).min(17.0);
        let edge = rng.range(6.0, 15.0);

        let mut ink = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let (u, v) = motion.inverse(x as f32 + 0.5, y as f32 + 0.5);
                let depth = shape.depth(u, v).min(contact.depth(u, v));
                if depth <= 0.0 {
                    continue;
                }
                let level = -pressure + wet_amp * wetness.at(u, v);
                let r = self.ridge(u, v);
                let mut s = smoothstep(-0.35, 0.35, r - level);
                if dryness > 0.0 {
                    s *= smoothstep(-0.5, 0.5, pores.at(u, v) + 2.0 - 2.0 * dryness);
                }
                // Pressure fades towards the contact's edge.
                ink[y * w + x] = s * smoothstep(0.0, edge, depth);
            }
        }
        let ink = blur(&ink, w, h);
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32, y as f32);
                let g = background + 8.0 * shading.at(fx, fy) - contrast * ink[y * w + x] + noise_sd * rng.normal();
                pixels.push(g.round().clamp(0.0, 255.0) as u8);
            }
        }
        GrayImage { width: w as u32, height: h as u32, dpi: 500, pixels }
    }
}

/// 0 below `a`, 1 above `b`, a smooth step between.
fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A 3 × 3 binomial blur (the sensor's optics), edges kept as they are.
fn blur(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut tmp = v.to_vec();
    for y in 0..h {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            tmp[i] = 0.25 * v[i - 1] + 0.5 * v[i] + 0.25 * v[i + 1];
        }
    }
    let mut out = tmp.clone();
    for y in 1..h.saturating_sub(1) {
        for x in 0..w {
            let i = y * w + x;
            out[i] = 0.25 * tmp[i - w] + 0.5 * tmp[i] + 0.25 * tmp[i + w];
        }
    }
    out
}
