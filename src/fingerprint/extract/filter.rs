//! Removal of false minutiae: the structural rules of Maltoni et al., *Handbook of Fingerprint
//! Recognition* (2nd ed., §3.8, "Minutiae filtering", figure 3.36) after Xiao & Raafat (1991) and
//! Ratha, Chen & Jain (1995), with lengths measured in local ridge periods rather than fixed pixels.
//!
//! - **border**: minutiae closer than about a ridge period to the edge of the foreground are where the
//!   print (or the mask) stops, not where a ridge does;
//! - **spur**: an ending whose ridge reaches a junction within a ridge period is a short branch; both the
//!   ending and the junction go;
//! - **short ridge (island)**: an ending whose ridge ends again within about 1.5 periods; both go;
//! - **bridge and hole**: two bifurcations joined by a skeleton path shorter than a period are a bridge
//!   between ridges or the two sides of a small lake; both go;
//! - **broken ridge**: two endings closer than a period that face each other along the ridge flow are one
//!   ridge with a gap; both go;
//! - **cluster**: a minutia with three or more others within one period lies in noise and goes.
//!
//! Adjacent bifurcation pixels (a junction drawn two pixels wide) are merged into one first.

use super::frequency::PeriodMap;
use super::minutiae::{Candidate, angle_of, direction_difference};
use super::skeleton::Skeleton;
use super::trace::{Stop, branches, walk};
use crate::fingerprint::template::MinutiaKind;
use std::f32::consts::PI;

/// Border margin, in ridge periods.
const BORDER: f32 = 1.25;
/// Spur length, in ridge periods.
const SPUR: f32 = 1.0;
/// Longest island (short ridge), in ridge periods.
const ISLAND: f32 = 1.6;
/// Longest bridge, in ridge periods.
const BRIDGE: f32 = 1.0;
/// Widest gap of a broken ridge, in ridge periods.
const GAP: f32 = 1.2;
/// Tolerance on the facing directions of a broken ridge.
const FACING: f32 = 40.0 * PI / 180.0;
/// Cluster radius, in ridge periods.
const CLUSTER_RADIUS: f32 = 1.0;
/// A minutia with this many others within the cluster radius is in a cluster.
const CLUSTER_COUNT: usize = 3;

/// What the filter needs to know about the image.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    /// The skeleton the candidates were found on.
    pub skeleton: &'a Skeleton,
    /// Ridge period map.
    pub periods: &'a PeriodMap,
    /// Distance of each pixel to the background.
    pub border_distance: &'a [f32],
}

/// Removes false minutiae from `cands`; the survivors keep their order.
pub(crate) fn filter(cands: Vec<Candidate>, ctx: &Context<'_>) -> Vec<Candidate> {
    let cands = merge_adjacent_bifurcations(cands);
    let w = ctx.skeleton.w;
    let h = ctx.skeleton.h;
    let period = |c: &Candidate| ctx.periods.at(c.x as f32 + 0.5, c.y as f32 + 0.5);
    // Index from pixel to candidate, for the far ends of walks.
    let mut at = vec![u32::MAX; w * h];
    for (i, c) in cands.iter().enumerate() {
        at[c.y as usize * w + c.x as usize] = i as u32;
    }
    let find = |p: (isize, isize), kind: MinutiaKind| -> Option<usize> {
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (x, y) = (p.0 + dx, p.1 + dy);
                if x < 0 || y < 0 || x as usize >= w || y as usize >= h {
                    continue;
                }
                let i = at[y as usize * w + x as usize];
                if i != u32::MAX && cands.get(i as usize).map(|c| c.kind) == Some(kind) {
                    return Some(i as usize);
                }
            }
        }
        None
    };
    let mut drop = vec![false; cands.len()];

    // Structural rules along the skeleton.
    for (i, c) in cands.iter().enumerate() {
        let t = period(c);
        match c.kind {
            MinutiaKind::Ending => {
                let limit = (ISLAND * t).ceil() as usize;
                for head in branches(ctx.skeleton, c.x, c.y) {
                    let wk = walk(ctx.skeleton, (c.x, c.y), head, limit);
                    let len = wk.path.len() as f32;
                    let Some(end) = wk.end() else { continue };
                    match wk.stop {
                        Stop::Ending if len <= ISLAND * t => {
                            drop[i] = true;
                            if let Some(j) = find(end, MinutiaKind::Ending) {
                                drop[j] = true;
                            }
                        }
                        Stop::Junction if len <= SPUR * t => {
                            drop[i] = true;
                            if let Some(j) = find(end, MinutiaKind::Bifurcation) {
                                drop[j] = true;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {
                let limit = (BRIDGE * t).ceil() as usize;
                for head in branches(ctx.skeleton, c.x, c.y) {
                    let wk = walk(ctx.skeleton, (c.x, c.y), head, limit);
                    let Some(end) = wk.end() else { continue };
                    if wk.stop == Stop::Junction && wk.path.len() as f32 <= BRIDGE * t {
                        drop[i] = true;
                        if let Some(j) = find(end, MinutiaKind::Bifurcation) {
                            drop[j] = true;
                        }
                    }
                }
            }
        }
    }

    // Broken ridges: facing endings.
    for (i, a) in cands.iter().enumerate() {
        if a.kind != MinutiaKind::Ending {
            continue;
        }
        let t = period(a);
        for (j, b) in cands.iter().enumerate().skip(i + 1) {
            if b.kind != MinutiaKind::Ending {
                continue;
            }
            let (dx, dy) = ((b.x - a.x) as f32, (b.y - a.y) as f32);
            let d = (dx * dx + dy * dy).sqrt();
            if d > GAP * t || d == 0.0 {
                continue;
            }
            let gap = angle_of(dx, dy);
            let opposed = direction_difference(a.angle, b.angle + PI) <= FACING;
            let along = direction_difference(gap, a.angle + PI) <= FACING
                && direction_difference(gap + PI, b.angle + PI) <= FACING;
            if opposed && along {
                drop[i] = true;
                drop[j] = true;
            }
        }
    }

    // Border.
    for (i, c) in cands.iter().enumerate() {
        let d = ctx.border_distance.get(c.y as usize * w + c.x as usize).copied().unwrap_or(0.0);
        if d < BORDER * period(c) {
            drop[i] = true;
        }
    }

    // Clusters, counted among the survivors so far.
    let alive: Vec<usize> = (0..cands.len()).filter(|&i| !drop[i]).collect();
    let mut clustered = Vec::new();
    for &i in &alive {
        let a = &cands[i];
        let r = CLUSTER_RADIUS * period(a);
        let near = alive
            .iter()
            .filter(|&&j| j != i)
            .filter(|&&j| {
                let b = &cands[j];
                let (dx, dy) = ((b.x - a.x) as f32, (b.y - a.y) as f32);
                dx * dx + dy * dy <= r * r
            })
            .count();
        if near >= CLUSTER_COUNT {
            clustered.push(i);
        }
    }
    for i in clustered {
        drop[i] = true;
    }

    cands.into_iter().zip(drop).filter(|&(_, d)| !d).map(|(c, _)| c).collect()
}

/// Keeps one bifurcation of each group of 8-adjacent bifurcation pixels.
fn merge_adjacent_bifurcations(cands: Vec<Candidate>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        let dup = c.kind == MinutiaKind::Bifurcation
            && out
                .iter()
                .any(|o| o.kind == MinutiaKind::Bifurcation && (o.x - c.x).abs() <= 1 && (o.y - c.y).abs() <= 1);
        if !dup {
            out.push(c);
        }
    }
    out
}
