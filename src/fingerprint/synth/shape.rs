//! The silhouette of a synthetic fingertip: SFinGe's model of a fingerprint area as a central band
//! closed above and below by half-ellipses (Cappelli, Maio & Maltoni, ICPR 2000, §2; Maltoni et al.,
//! *Handbook of Fingerprint Recognition*, 2nd ed., §6.4). It owns the membership test and a
//! signed distance to the outline; nothing else.

use super::rng::SynthRng;

/// A fingertip outline in pixels at 500 dpi: a band `2·band` rows high whose half-width runs from
/// `top_half_width` to `bottom_half_width`, capped by half-ellipses of heights `top` and `bottom`.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Centre column, pixels.
    pub cx: f32,
    /// Centre row, pixels.
    pub cy: f32,
    /// Half-width at the upper end of the band (and of the upper half-ellipse), pixels.
    pub top_half_width: f32,
    /// Half-width at the lower end of the band (and of the lower half-ellipse), pixels.
    pub bottom_half_width: f32,
    /// Height of the upper half-ellipse, pixels.
    pub top: f32,
    /// Height of the lower half-ellipse, pixels.
    pub bottom: f32,
    /// Half-height of the central band, pixels.
    pub band: f32,
}

impl Shape {
    /// A random fingertip centred at `(cx, cy)` scaled by `scale` (1 for a whole fingertip as a
    /// 500 dpi flat sensor sees it, about 210–260 px wide and 270–400 px high).
    pub(crate) fn draw(cx: f32, cy: f32, scale: f32, rng: &mut SynthRng) -> Shape {
        let top_half_width = scale * rng.range(105.0, 128.0);
        Shape {
            cx,
            cy,
            top_half_width,
            bottom_half_width: top_half_width * rng.range(0.92, 1.05),
            top: scale * rng.range(120.0, 155.0),
            bottom: scale * rng.range(100.0, 140.0),
            band: scale * rng.range(25.0, 50.0),
        }
    }

    /// The half-width at row `y` inside the band, or of the cap's ellipse.
    fn half_width(&self, dy: f32) -> f32 {
        let t = ((dy + self.band) / (2.0 * self.band).max(1e-3)).clamp(0.0, 1.0);
        self.top_half_width + (self.bottom_half_width - self.top_half_width) * t
    }

    /// The distance from `(x, y)` to the outline, pixels: positive inside, negative outside. Exact in
    /// the band, approximated along the ray from the cap's centre in the caps.
    pub fn depth(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let cap = |ry: f32, cap_h: f32, a: f32| {
            let (u, v) = (dx / a, ry / cap_h);
            let rho = (u * u + v * v).sqrt();
            let r = (dx * dx + ry * ry).sqrt();
            if rho < 1e-6 { a.min(cap_h) } else { r / rho - r }
        };
        if dy < -self.band {
            cap(dy + self.band, self.top, self.top_half_width)
        } else if dy > self.band {
            cap(dy - self.band, self.bottom, self.bottom_half_width)
        } else {
            let side = self.half_width(dy) - dx.abs();
            side.min(self.band - dy.abs() + self.top.min(self.bottom))
        }
    }

    /// Whether `(x, y)` lies inside the outline.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        self.depth(x, y) >= 0.0
    }

    /// The bounding box `(x0, y0, x1, y1)`, pixels.
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        let w = self.top_half_width.max(self.bottom_half_width);
        (self.cx - w, self.cy - self.band - self.top, self.cx + w, self.cy + self.band + self.bottom)
    }

    /// The area enclosed, square pixels.
    pub fn area(&self) -> f32 {
        let caps =
            std::f32::consts::FRAC_PI_2 * (self.top_half_width * self.top + self.bottom_half_width * self.bottom);
        caps + 2.0 * self.band * (self.top_half_width + self.bottom_half_width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::synth::rng::Purpose;

    #[test]
    fn depth_is_positive_inside_negative_outside_and_matches_the_area() {
        let mut rng = SynthRng::new(1, Purpose::Master, &[]);
        let s = Shape::draw(200.0, 250.0, 1.0, &mut rng);
        assert!(s.contains(200.0, 250.0));
        let (x0, y0, x1, y1) = s.bounds();
        assert!(!s.contains(x0 - 1.0, y0 - 1.0) && !s.contains(x1 + 1.0, 250.0) && !s.contains(200.0, y1 + 1.0));
        assert!(s.contains(200.0, y0 + 1.0) && s.contains(200.0, y1 - 1.0));
        let mut inside = 0;
        for y in (y0 as i32 - 2)..(y1 as i32 + 2) {
            for x in (x0 as i32 - 2)..(x1 as i32 + 2) {
                inside += usize::from(s.contains(x as f32, y as f32));
            }
        }
        let area = s.area();
        assert!((inside as f32 - area).abs() < 0.02 * area, "{inside} vs {area}");
        // Depth grows inwards.
        assert!(s.depth(200.0, 250.0) > s.depth(200.0 + 0.5 * s.top_half_width, 250.0));
        assert!(s.depth(x0 - 20.0, 250.0) < -19.0);
    }
}
