//! Walking along the skeleton: from a minutia into each of its ridges, until the ridge ends, meets a
//! junction, or a length limit is reached. Minutia directions and most false-minutia rules are read
//! from such walks.

use super::skeleton::{RING, Skeleton};

/// Why a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// It reached a ridge ending (crossing number 1).
    Ending,
    /// It reached a junction (crossing number 3 or more).
    Junction,
    /// It walked the whole length allowed.
    Length,
    /// It could not go on (no unvisited neighbour; a closed loop).
    Stuck,
}

/// A walk along one ridge.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Walk {
    /// The pixels walked, from the first step to the last (the start is not included).
    pub path: Vec<(isize, isize)>,
    /// Why it stopped.
    pub stop: Stop,
}

impl Walk {
    /// The last pixel reached, or `None` for an empty walk.
    pub fn end(&self) -> Option<(isize, isize)> {
        self.path.last().copied()
    }

    /// The pixel reached after at most `n` steps.
    pub fn point_at(&self, n: usize) -> Option<(isize, isize)> {
        if self.path.is_empty() {
            return None;
        }
        self.path.get(n.clamp(1, self.path.len()) - 1).copied()
    }
}

/// The first pixel of each branch leaving `(x, y)`, one per group of consecutive set ring neighbours
/// (an orthogonal neighbour is preferred within a group), in ring order.
pub(crate) fn branches(s: &Skeleton, x: isize, y: isize) -> Vec<(isize, isize)> {
    let ring = s.ring(x, y);
    if ring == 0 {
        return Vec::new();
    }
    if ring == 0xff {
        return Vec::new();
    }
    // Start scanning just after an unset neighbour so that no run is split in two.
    let Some(start) = (0..8).find(|&i| (ring >> i) & 1 == 0) else { return Vec::new() };
    let mut out = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    for step in 1..=8 {
        let i = (start + step) % 8;
        if (ring >> i) & 1 == 1 {
            run.push(i);
        } else if !run.is_empty() {
            out.push(pick(&run));
            run.clear();
        }
    }
    if !run.is_empty() {
        out.push(pick(&run));
    }
    out.into_iter().map(|i| (x + RING[i].0, y + RING[i].1)).collect()
}

fn pick(run: &[usize]) -> usize {
    run.iter().copied().find(|i| i % 2 == 0).unwrap_or(run[0])
}

/// Walks from `start` through `first` for at most `max_len` steps. The start's other ring neighbours
/// are not entered (so a walk from a junction stays on its own branch).
pub(crate) fn walk(s: &Skeleton, start: (isize, isize), first: (isize, isize), max_len: usize) -> Walk {
    let mut path = Vec::with_capacity(max_len.min(64));
    let blocked: Vec<(isize, isize)> =
        RING.iter().map(|(dx, dy)| (start.0 + dx, start.1 + dy)).filter(|&p| p != first && s.at(p.0, p.1)).collect();
    let mut prev = start;
    let mut cur = first;
    loop {
        path.push(cur);
        let cn = s.crossing_number(cur.0, cur.1);
        if cn == 1 {
            return Walk { path, stop: Stop::Ending };
        }
        if cn >= 3 {
            return Walk { path, stop: Stop::Junction };
        }
        if path.len() >= max_len {
            return Walk { path, stop: Stop::Length };
        }
        let mut next: Option<(isize, isize)> = None;
        for (dx, dy) in RING {
            let p = (cur.0 + dx, cur.1 + dy);
            if p == prev || p == start || !s.at(p.0, p.1) || blocked.contains(&p) || recent(&path, p) {
                continue;
            }
            let touches_prev = (p.0 - prev.0).abs() <= 1 && (p.1 - prev.1).abs() <= 1;
            match next {
                None => next = Some(p),
                Some(q) => {
                    let q_touches = (q.0 - prev.0).abs() <= 1 && (q.1 - prev.1).abs() <= 1;
                    if q_touches && !touches_prev {
                        next = Some(p);
                    }
                }
            }
        }
        let Some(n) = next else {
            return Walk { path, stop: Stop::Stuck };
        };
        prev = cur;
        cur = n;
    }
}

/// Whether `p` is among the last few pixels of the path (guards against looping on a thick spot).
fn recent(path: &[(isize, isize)], p: (isize, isize)) -> bool {
    path.iter().rev().take(6).any(|&q| q == p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::extract::skeleton::tests::from_rows;

    #[test]
    fn walk_to_the_other_end() {
        let s = from_rows(&["..........", ".#####....", "......###.", ".........."]);
        let b = branches(&s, 1, 1);
        assert_eq!(b, vec![(2, 1)]);
        let w = walk(&s, (1, 1), b[0], 50);
        assert_eq!(w.stop, Stop::Ending);
        assert_eq!(w.end(), Some((8, 2)));
    }

    #[test]
    fn junction_has_three_branches() {
        let s = from_rows(&["#.....#", ".#...#.", "..#.#..", "...#...", "...#...", "...#..."]);
        let b = branches(&s, 3, 3);
        assert_eq!(b.len(), 3);
        let w = walk(&s, (3, 5), (3, 4), 50);
        assert_eq!(w.stop, Stop::Junction);
        assert_eq!(w.end(), Some((3, 3)));
    }
}
