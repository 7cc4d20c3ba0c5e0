//! Small numeric and geometric helpers of the matcher: angle differences, a fast `atan2`, the normal
//! distribution's integral, the sigmoid the MCC paper writes `Z`, and the convex hull that bounds where a
//! template's cylinders are valid.

use std::f32::consts::{PI, TAU};

/// `a − b` wrapped into `[−π, π)` (the MCC paper's `dφ`).
#[inline]
pub(crate) fn angle_diff(a: f32, b: f32) -> f32 {
    let mut d = a - b;
    // The usual inputs differ by less than 3π: two corrections, no division.
    if d >= PI {
        d -= TAU;
    } else if d < -PI {
        d += TAU;
    }
    if (-PI..PI).contains(&d) {
        return d;
    }
    let d = (d + PI).rem_euclid(TAU) - PI;
    if (-PI..PI).contains(&d) { d } else { 0.0 }
}

/// `|a − b|` on the circle, in `[0, π]`.
pub(crate) fn angle_gap(a: f32, b: f32) -> f32 {
    angle_diff(a, b).abs()
}

/// [`angle_gap`] of two angles already in `[0, 2π)` (as a prepared template keeps them), without
/// branches: the same result, bit for bit.
#[inline]
pub(crate) fn angle_gap_wrapped(a: f32, b: f32) -> f32 {
    let d = (a - b).abs();
    if d >= PI { TAU - d } else { d }
}

/// `atan2(y, x)` within 1e-6 rad, about twice as fast as the library's; 0 at the origin or for
/// non-finite input.
#[inline]
pub(crate) fn fast_atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    let big = ax.max(ay);
    if big == 0.0 || !big.is_finite() {
        return 0.0;
    }
    let t = f64::from(ax.min(ay) / big);
    // atan(t)/t on [0, 1] as a polynomial in t², error below 2e-8 (Abramowitz & Stegun 4.4.49).
    const A: [f64; 8] = [
        -0.333_331_452_8,
        0.199_935_508_5,
        -0.142_088_994_4,
        0.106_562_639_3,
        -0.075_289_640_0,
        0.042_909_613_8,
        -0.016_165_736_7,
        0.002_866_225_7,
    ];
    let t2 = t * t;
    let p = A.iter().rev().fold(0.0, |acc, a| acc * t2 + a);
    let mut r = (t * (1.0 + p * t2)) as f32;
    if ay > ax {
        r = std::f32::consts::FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 { -r } else { r }
}

/// The error function within 1.5e-7 (Abramowitz & Stegun 7.1.26).
pub(crate) fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

/// The probability that a normal variable of mean 0 and deviation `sigma` falls in `[lo, hi]`.
pub(crate) fn normal_mass(lo: f64, hi: f64, sigma: f64) -> f64 {
    let s = sigma * std::f64::consts::SQRT_2;
    0.5 * (erf(hi / s) - erf(lo / s))
}

/// The sigmoid `Z(v, μ, τ) = 1 / (1 + e^{−τ(v − μ)})` of the MCC paper.
pub(crate) fn sigmoid(v: f32, mu: f32, tau: f32) -> f32 {
    1.0 / (1.0 + (-tau * (v - mu)).exp())
}

/// A convex polygon (counter-clockwise in a y-up sense; orientation does not matter to its users) and
/// a margin: the region within `margin` pixels of the polygon.
#[derive(Debug, Clone)]
pub(crate) struct Hull {
    points: Vec<(f32, f32)>,
    margin: f32,
}

impl Hull {
    /// The convex hull of `points` (Andrew's monotone chain), grown by `margin`. Non-finite points are
    /// ignored; an empty input gives a hull that contains nothing.
    pub(crate) fn new(points: impl IntoIterator<Item = (f32, f32)>, margin: f32) -> Hull {
        let mut p: Vec<(f32, f32)> = points.into_iter().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
        p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        p.dedup();
        if p.len() < 3 {
            return Hull { points: p, margin };
        }
        let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
        let mut hull: Vec<(f32, f32)> = Vec::with_capacity(2 * p.len());
        for pass in 0..2 {
            let start = hull.len();
            let iter: Box<dyn Iterator<Item = &(f32, f32)>> =
                if pass == 0 { Box::new(p.iter()) } else { Box::new(p.iter().rev()) };
            for &q in iter {
                while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0 {
                    hull.pop();
                }
                hull.push(q);
            }
            hull.pop();
        }
        Hull { points: hull, margin }
    }

    /// Whether `(x, y)` lies inside the hull or within the margin of it.
    pub(crate) fn contains(&self, x: f32, y: f32) -> bool {
        let n = self.points.len();
        if n == 0 {
            return false;
        }
        let m2 = self.margin * self.margin;
        if n == 1 {
            let (px, py) = self.points[0];
            return (x - px).powi(2) + (y - py).powi(2) <= m2;
        }
        let mut inside = n >= 3;
        for i in 0..n {
            let a = self.points[i];
            let b = self.points[(i + 1) % n];
            let (ex, ey) = (b.0 - a.0, b.1 - a.1);
            let (wx, wy) = (x - a.0, y - a.1);
            // The hull is counter-clockwise in the (x, y) frame used by `cross`: inside is to the left.
            if ex * wy - ey * wx < 0.0 {
                inside = false;
            }
            let len2 = ex * ex + ey * ey;
            let t = if len2 > 0.0 { ((wx * ex + wy * ey) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let (dx, dy) = (wx - t * ex, wy - t * ey);
            if dx * dx + dy * dy <= m2 {
                return true;
            }
        }
        inside
    }

    /// The hull's sides as half-planes, to sort many points quickly ([`Sides`]), or `None` when the
    /// hull has fewer than 3 vertices (or a side too short to give a direction): then only
    /// [`Hull::contains`] answers.
    pub(crate) fn sides(&self) -> Option<Sides> {
        let n = self.points.len();
        if n < 3 {
            return None;
        }
        let mut sides = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b) = (self.points[i], self.points[(i + 1) % n]);
            let (ex, ey) = (b.0 - a.0, b.1 - a.1);
            let len = (ex * ex + ey * ey).sqrt();
            if !(len > 0.0 && len.is_finite()) {
                return None;
            }
            // Counter-clockwise: the inside is to the left of each side, as in `contains`.
            sides.push(Side { ax: a.0, ay: a.1, nx: -ey / len, ny: ex / len });
        }
        // The mitred offset of the polygon by `t` (every side moved out by `t`) reaches t / cos(φ/2)
        // from a vertex whose sides turn by φ; a convex function (the distance to the polygon) is
        // largest at a vertex, so the whole mitred offset lies within the margin when
        // t ≤ margin · min cos(φ/2).
        let mut min_cos = 1.0f32;
        for i in 0..n {
            let (e, f) = (&sides[i], &sides[(i + 1) % n]);
            let half_turn_cos = ((1.0 + e.nx * f.nx + e.ny * f.ny) / 2.0).max(0.0).sqrt();
            min_cos = min_cos.min(half_turn_cos);
        }
        let inner = (self.margin * min_cos - SIDE_SLACK).max(-SIDE_SLACK);
        Some(Sides { sides, inner, outer: self.margin + SIDE_SLACK })
    }
}

/// Distances (pixels) this far from where [`Hull::contains`] changes its answer decide a point by
/// [`Sides::verdict`] alone. The coordinates are at most a few thousand pixels, so the rounding of
/// either computation is below 0.001 px: a slack of 0.5 px makes the verdicts agree exactly.
pub(crate) const SIDE_SLACK: f32 = 0.5;

/// One side of a hull: a vertex and the unit normal pointing inside.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side {
    ax: f32,
    ay: f32,
    nx: f32,
    ny: f32,
}

impl Side {
    /// The signed distance of `(x, y)` from the side's line, positive inside.
    pub(crate) fn distance(&self, x: f32, y: f32) -> f32 {
        self.nx * (x - self.ax) + self.ny * (y - self.ay)
    }

    /// The unit normal pointing inside.
    pub(crate) fn normal(&self) -> (f32, f32) {
        (self.nx, self.ny)
    }
}

/// A hull of at least 3 vertices as half-planes. With `d` the smallest signed distance of a point from
/// the sides' lines (positive inside), [`Sides::verdict`] gives [`Hull::contains`]'s answer without
/// asking it whenever `d` is clear of the boundary of the grown hull: inside the polygon or within
/// its mitred offset by `inner` (which the margin covers), or beyond the margin from one side.
#[derive(Debug, Clone)]
pub(crate) struct Sides {
    sides: Vec<Side>,
    /// Points with `d ≥ −inner` are contained.
    inner: f32,
    /// Points with `d < −outer` are not.
    outer: f32,
}

impl Sides {
    /// The sides, in the hull's order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Side> {
        self.sides.iter()
    }

    /// Points whose smallest signed distance from the sides is at least this are contained (the
    /// distance is −inner, or SIDE_SLACK when the hull's corners are too sharp for the mitred offset).
    pub(crate) fn contained_from(&self) -> f32 {
        -self.inner
    }

    /// [`Hull::contains`] for a point whose smallest signed distance from the sides is `d` (taken
    /// over all sides, or over those that can be the smallest), or `None` when too close to call.
    pub(crate) fn verdict(&self, d: f32) -> Option<bool> {
        if d >= -self.inner {
            Some(true)
        } else if d < -self.outer {
            Some(false)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_atan2_is_close_to_the_exact_one() {
        for i in 0..720 {
            let a = i as f32 * TAU / 720.0 - PI;
            for r in [0.5f32, 3.0, 100.0] {
                let (y, x) = (r * a.sin(), r * a.cos());
                assert!(angle_gap(fast_atan2(y, x), y.atan2(x)) < 1e-5, "{a} {r}");
            }
        }
        assert_eq!(fast_atan2(0.0, 0.0), 0.0);
    }

    #[test]
    fn erf_and_normal_mass() {
        assert!(erf(0.0).abs() < 1e-7);
        assert!((erf(1.0) - 0.842_700_79).abs() < 1e-6);
        assert!((erf(-2.0) + 0.995_322_27).abs() < 1e-6);
        assert!((normal_mass(-1.0, 1.0, 1.0) - 0.682_689_5).abs() < 1e-6);
    }

    #[test]
    fn angle_helpers_wrap() {
        assert!((angle_diff(0.1, TAU - 0.1) - 0.2).abs() < 1e-5);
        assert!((angle_diff(TAU - 0.1, 0.1) + 0.2).abs() < 1e-5);
        assert!(angle_gap(PI, 0.0) <= PI);
        assert_eq!(angle_diff(f32::NAN, 0.0), 0.0);
    }

    #[test]
    fn hull_contains_inside_and_margin_only() {
        let h = Hull::new([(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0), (50.0, 50.0)], 10.0);
        assert!(h.contains(50.0, 50.0));
        assert!(h.contains(-5.0, 50.0));
        assert!(h.contains(105.0, 105.0));
        assert!(!h.contains(-15.0, 50.0));
        assert!(!h.contains(150.0, 50.0));
        assert!(!Hull::new([], 10.0).contains(0.0, 0.0));
        let seg = Hull::new([(0.0, 0.0), (10.0, 0.0)], 5.0);
        assert!(seg.contains(5.0, 4.0) && !seg.contains(5.0, 6.0));
        let dot = Hull::new([(1.0, 1.0), (1.0, 1.0)], 2.0);
        assert!(dot.contains(2.0, 2.0) && !dot.contains(4.0, 1.0));
        assert!(seg.sides().is_none() && dot.sides().is_none());
    }

    /// Wherever the half-plane verdict answers, it is the hull's answer; and it answers for most points.
    #[test]
    fn sides_verdict_agrees_with_contains() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        };
        let (mut answered, mut total) = (0, 0);
        for round in 0..300 {
            let n = 3 + round % 40;
            let pts: Vec<(f32, f32)> = (0..n).map(|_| (400.0 * next(), 400.0 * next())).collect();
            let hull = Hull::new(pts, 50.0);
            let Some(sides) = hull.sides() else { continue };
            for _ in 0..500 {
                let (px, py) = (600.0 * next() - 100.0, 600.0 * next() - 100.0);
                let d = sides.iter().map(|s| s.distance(px, py)).fold(f32::INFINITY, f32::min);
                total += 1;
                if let Some(v) = sides.verdict(d) {
                    answered += 1;
                    assert_eq!(v, hull.contains(px, py), "{px} {py} {d}");
                }
            }
        }
        assert!(answered * 10 > total * 8, "{answered} of {total}");
    }
}
