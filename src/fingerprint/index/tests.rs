//! The index's behaviour on made-up templates: filing, removal, identification of a moved and
//! damaged impression among many others, refusals, and identification while another thread enrols.

use super::*;
use crate::fingerprint::template::{Minutia, MinutiaKind};

/// A small deterministic generator (xorshift64*), enough for made-up minutiae.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A finger of 30–45 minutiae at least 12 px apart in a 300 × 400 image.
fn finger(seed: u64) -> Template {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let n = 30 + (rng.next() % 16) as usize;
    let mut minutiae: Vec<Minutia> = Vec::new();
    while minutiae.len() < n {
        let (x, y) = (20.0 + 260.0 * rng.unit(), 20.0 + 360.0 * rng.unit());
        if minutiae.iter().all(|m| (m.x - x).powi(2) + (m.y - y).powi(2) >= 144.0) {
            let kind = if rng.next().is_multiple_of(2) { MinutiaKind::Ending } else { MinutiaKind::Bifurcation };
            minutiae.push(Minutia { x, y, angle: std::f32::consts::TAU * rng.unit(), kind, quality: 60 });
        }
    }
    Template { width: 300, height: 400, quality: 60, minutiae }
}

/// Another impression of `t`: turned by `rot`, moved, each minutia jittered by up to 2 px and 0.1 rad,
/// a few lost.
fn impression(t: &Template, rot: f32, seed: u64) -> Template {
    let mut rng = Rng(seed | 1);
    let (c, s) = (rot.cos(), rot.sin());
    let (cx, cy) = (150.0, 200.0);
    let kept: Vec<&Minutia> = t.minutiae.iter().filter(|_| !rng.next().is_multiple_of(8)).collect();
    let minutiae = kept
        .into_iter()
        .map(|m| {
            let (dx, dy) = (m.x - cx, m.y - cy);
            let x = cx + c * dx + s * dy + 10.0 + 4.0 * (rng.unit() - 0.5);
            let y = cy - s * dx + c * dy - 6.0 + 4.0 * (rng.unit() - 0.5);
            let angle = (m.angle + rot + 0.2 * (rng.unit() - 0.5)).rem_euclid(std::f32::consts::TAU);
            Minutia { x: x.clamp(0.0, 299.0), y: y.clamp(0.0, 399.0), angle, ..*m }
        })
        .collect();
    Template { minutiae, ..t.clone() }
}

fn config() -> IndexConfig {
    IndexConfig { shortlist: 16, threads: 2 }
}

fn filled(n: u64) -> (Index, Vec<Template>) {
    let index = Index::new(config());
    let fingers: Vec<Template> = (0..n).map(finger).collect();
    index.extend(fingers.iter().enumerate().map(|(i, t)| (TemplateId(i as u64), t))).expect("fill");
    (index, fingers)
}

#[test]
fn identifies_a_moved_damaged_impression_among_many() {
    let (index, fingers) = filled(2000);
    assert_eq!(index.len(), 2000);
    for (i, rot) in [(7usize, 0.3f32), (512, -0.4), (1999, 0.0)] {
        let probe = impression(&fingers[i], rot, i as u64);
        assert!(index.shortlist(&probe).contains(&TemplateId(i as u64)), "finger {i} not short-listed");
        let found = index.identify(&probe, 5).expect("identify");
        assert_eq!(found.first().map(|c| c.id), Some(TemplateId(i as u64)), "finger {i}: {found:?}");
        assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(found[0].fmr < 0.01, "{found:?}");
    }
}

#[test]
fn a_finger_never_enrolled_gets_no_confident_candidate() {
    let (index, _) = filled(500);
    let stranger = finger(1_000_000);
    for c in index.identify(&stranger, 5).expect("identify") {
        assert!(c.fmr > 1e-3, "a stranger matched with FMR {}", c.fmr);
    }
}

#[test]
fn removal_forgets_a_template_and_frees_its_slot() {
    let (index, fingers) = filled(300);
    let probe = impression(&fingers[42], 0.1, 1);
    index.remove(TemplateId(42)).expect("remove");
    assert!(!index.contains(TemplateId(42)));
    assert_eq!(index.len(), 299);
    assert!(index.identify(&probe, 5).expect("identify").iter().all(|c| c.id != TemplateId(42)));
    assert!(!index.shortlist(&probe).contains(&TemplateId(42)));
    assert_eq!(index.remove(TemplateId(42)), Err(IndexError::NotFound(TemplateId(42))));
    // Enrolled again under another id, it is found under that one.
    index.insert(TemplateId(9_000), &fingers[42]).expect("insert");
    assert_eq!(index.identify(&probe, 1).expect("identify")[0].id, TemplateId(9_000));
}

#[test]
fn refuses_a_duplicate_id_and_changes_nothing() {
    let (index, fingers) = filled(50);
    let before = index.heap_bytes();
    assert_eq!(index.insert(TemplateId(3), &fingers[10]), Err(IndexError::Duplicate(TemplateId(3))));
    assert_eq!(index.len(), 50);
    assert_eq!(index.heap_bytes(), before);
    let probe = impression(&fingers[3], 0.2, 5);
    assert_eq!(index.identify(&probe, 1).expect("identify")[0].id, TemplateId(3));
}

#[test]
fn empty_and_degenerate_probes_give_no_candidates() {
    let (index, _) = filled(50);
    assert!(index.identify(&Template::default(), 5).expect("identify").is_empty());
    let nan = Template {
        width: 10,
        height: 10,
        quality: 0,
        minutiae: vec![Minutia { x: f32::NAN, y: 1.0, angle: 0.0, kind: MinutiaKind::Other, quality: 0 }; 3],
    };
    assert!(index.identify(&nan, 5).expect("identify").is_empty());
    assert!(Index::new(config()).identify(&finger(1), 5).expect("identify").is_empty());
}

#[test]
fn identification_keeps_running_while_another_thread_enrols() {
    let (index, fingers) = filled(500);
    let probe = impression(&fingers[123], -0.2, 9);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..1500u64 {
                index.insert(TemplateId(10_000 + i), &finger(50_000 + i)).expect("insert");
                if i.is_multiple_of(3) {
                    index.remove(TemplateId(10_000 + i)).expect("remove");
                }
            }
        });
        let mut rounds = 0;
        while !writer.is_finished() || rounds < 3 {
            let found = index.identify(&probe, 1).expect("identify");
            assert_eq!(found[0].id, TemplateId(123));
            rounds += 1;
        }
        assert!(rounds >= 3);
    });
    assert_eq!(index.len(), 500 + 1000);
}

#[test]
fn memory_per_template_stays_small() {
    let (index, _) = filled(2000);
    index.shrink_to_fit();
    let per = index.heap_bytes() / index.len();
    assert!(per < 2048, "{per} bytes per template");
}

#[test]
fn loads_encoded_templates_and_refuses_one_that_does_not_decode() {
    let index = Index::new(config());
    let fingers: Vec<Template> = (0..200).map(finger).collect();
    let mut encoded: Vec<(TemplateId, Vec<u8>)> =
        fingers.iter().enumerate().map(|(i, t)| (TemplateId(i as u64), t.to_bytes())).collect();
    index.extend_encoded(&encoded).expect("load");
    assert_eq!(index.len(), 200);
    let probe = impression(&fingers[77], 0.15, 3);
    assert_eq!(index.identify(&probe, 1).expect("identify")[0].id, TemplateId(77));
    // A damaged record stops the load there: the ones before it are in, it and those after are not.
    let more = Index::new(config());
    encoded[5].1.truncate(7);
    assert!(matches!(more.extend_encoded(&encoded), Err(IndexError::Corrupt(_))));
    assert_eq!(more.len(), 5);
}
