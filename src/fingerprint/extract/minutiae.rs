//! Minutiae candidates on the skeleton: where, which kind, and which way.
//!
//! Detection is the crossing number of Arcelli & Sanniti di Baja (1985) as used throughout the
//! literature (Maltoni et al., *Handbook of Fingerprint Recognition*, 2nd ed., §3.7.2): on a one-pixel
//! skeleton a pixel whose ring of eight neighbours changes between ridge and background twice is a ridge
//! ending (crossing number 1), six times a bifurcation (crossing number 3).
//!
//! Direction follows ISO/IEC 19794-2 and the conventions of [`crate::fingerprint`]:
//! - a ridge ending points along its ridge, into the ridge (away from the open side): the direction of
//!   the skeleton walked from the ending for about one ridge period;
//! - a bifurcation is the ending of the valley between its two branches, so it points along that valley,
//!   towards the branches and away from the stem: the three branches are walked, the two closest in
//!   direction are the fork, and the direction is the bisector of the fork.
//!
//! The walked direction is then snapped to the smoothed orientation field (whose axis is more precise
//! than a short, pixel-quantised walk) when the two agree within 30°; the walk only chooses the sense.
//! Internally angles are in pixel coordinates (y down); [`to_iso_angle`] converts to the convention of
//! [`crate::fingerprint`] (counter-clockwise as the image is seen).

use std::f32::consts::{PI, TAU};

use super::orientation::OrientationField;
use super::skeleton::Skeleton;
use super::trace::{branches, walk};
use crate::fingerprint::template::MinutiaKind;

/// A minutia candidate, in pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    /// Column.
    pub x: isize,
    /// Row.
    pub y: isize,
    /// Ending or bifurcation.
    pub kind: MinutiaKind,
    /// Direction in pixel coordinates: the unit vector `(cos a, sin a)` with y downwards, `[0, 2π)`.
    pub angle: f32,
}

/// The walked direction is replaced by the orientation field's axis when they agree within this angle.
const SNAP: f32 = 30.0 * PI / 180.0;

/// Finds the endings and bifurcations of the skeleton at foreground pixels, with their directions.
/// `steps` is how far (in skeleton pixels) each ridge is walked to read a direction.
pub(crate) fn detect(s: &Skeleton, mask: &[bool], field: &OrientationField, steps: usize) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (x, y) in s.pixels() {
        if !mask[y as usize * s.w + x as usize] {
            continue;
        }
        let kind = match s.crossing_number(x, y) {
            1 => MinutiaKind::Ending,
            3 => MinutiaKind::Bifurcation,
            _ => continue,
        };
        let Some(walked) = walked_direction(s, x, y, kind, steps) else { continue };
        let axis = field.at(x as f32 + 0.5, y as f32 + 0.5);
        out.push(Candidate { x, y, kind, angle: snap(walked, axis) });
    }
    out
}

/// The direction read from the skeleton (pixel coordinates), or `None` when the branches are too short
/// to tell.
fn walked_direction(s: &Skeleton, x: isize, y: isize, kind: MinutiaKind, steps: usize) -> Option<f32> {
    let heads = branches(s, x, y);
    let dirs: Vec<(f32, f32)> = heads
        .iter()
        .filter_map(|&h| {
            let w = walk(s, (x, y), h, steps);
            let (ex, ey) = w.point_at(steps)?;
            let (dx, dy) = ((ex - x) as f32, (ey - y) as f32);
            let n = (dx * dx + dy * dy).sqrt();
            (n > 0.0).then(|| (dx / n, dy / n))
        })
        .collect();
    match kind {
        MinutiaKind::Ending => {
            let &(dx, dy) = dirs.first()?;
            Some(angle_of(dx, dy))
        }
        _ => {
            if dirs.len() != 3 {
                return None;
            }
            // The fork is the pair of branches with the largest dot product (closest directions).
            let pairs = [(0usize, 1usize), (0, 2), (1, 2)];
            let (i, j) = pairs
                .iter()
                .copied()
                .max_by(|&(a, b), &(c, d)| dot(dirs[a], dirs[b]).total_cmp(&dot(dirs[c], dirs[d])))?;
            let (bx, by) = (dirs[i].0 + dirs[j].0, dirs[i].1 + dirs[j].1);
            if bx == 0.0 && by == 0.0 {
                return None;
            }
            Some(angle_of(bx, by))
        }
    }
}

fn dot(a: (f32, f32), b: (f32, f32)) -> f32 {
    a.0 * b.0 + a.1 * b.1
}

/// The angle of a vector in `[0, 2π)`.
pub(crate) fn angle_of(dx: f32, dy: f32) -> f32 {
    wrap(dy.atan2(dx))
}

/// An angle folded into `[0, 2π)`.
pub(crate) fn wrap(a: f32) -> f32 {
    // `+ 0.0` turns −0.0 into 0.0.
    let r = a.rem_euclid(TAU) + 0.0;
    if r >= TAU || !r.is_finite() { 0.0 } else { r }
}

/// The smallest difference between two directions, in `[0, π]`.
pub(crate) fn direction_difference(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(TAU);
    d.min(TAU - d)
}

/// Replaces `walked` by whichever sense of the field's `axis` is nearer, when that is within [`SNAP`].
fn snap(walked: f32, axis: f32) -> f32 {
    let a = if direction_difference(walked, axis) <= PI / 2.0 { axis } else { axis + PI };
    let a = wrap(a);
    if direction_difference(walked, a) <= SNAP { a } else { walked }
}

/// Converts a pixel-coordinate direction (y down) to the ISO convention (counter-clockwise as seen).
pub(crate) fn to_iso_angle(pixel_angle: f32) -> f32 {
    wrap(-pixel_angle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_angle_flips_the_vertical() {
        // Pointing down the image (pixel angle π/2) is 270° counter-clockwise as seen.
        assert!((to_iso_angle(PI / 2.0) - 1.5 * PI).abs() < 1e-5);
        assert_eq!(to_iso_angle(0.0), 0.0);
        let a = to_iso_angle(-1e-9);
        assert!((0.0..TAU).contains(&a));
    }

    #[test]
    fn snapping_keeps_the_walked_sense() {
        let a = snap(PI + 0.2, 0.1);
        assert!((a - (PI + 0.1)).abs() < 1e-5);
        let b = snap(1.5, 0.1);
        assert!((b - 1.5).abs() < 1e-5);
    }
}
