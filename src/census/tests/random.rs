//! Census tests over whole ledgers: refolding gives an equal census, pseudo-random ledgers (valid or not)
//! never upset the counts, and a facility-sized ledger folds quickly.

use std::time::Instant;

use super::*;

#[test]
fn refolding_the_ledger_gives_an_equal_census() {
    let mut f = Fold::new();
    f.register("A", "inmate", Some("reception"));
    f.register("B", "inmate", Some("block-c"));
    f.register("S", "staff", None);
    f.push(Event::Note(Note { author: "sgt".into(), text: "quiet".into() }));
    f.walk("A", "rec-c");
    f.walk("S", "north-in");
    let g = f.grant("B", "c-yard");
    f.start("rc-1", &["block-c"]);
    f.count("rc-1", "A", "block-c");
    f.timeout(g);
    f.status("B", "at_court", "hearing");
    f.alarm("tamper");
    f.close("rc-1", 1, 1);
    let again = f.refold();
    assert_eq!(again, f.census);
    assert_eq!(again.headcount(), f.census.headcount());
    assert_eq!(again.rollcall("rc-1"), f.census.rollcall("rc-1"));
    assert_eq!(again.history(), f.census.history());
}

/// A small deterministic generator (xorshift64*), so the random ledger is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A random event over a few people, zones, lanes, grants and roll-calls, valid or not.
fn random_event(rng: &mut Rng, seq: u64) -> Event {
    const PEOPLE: &[&str] = &["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "ghost"];
    const ZONES: &[&str] = &[OUT, "reception", "block-c", "yard", "limbo"];
    const LANES: &[&str] = &["north-in", "rec-c", "c-yard", "yard-c", "c-out", "nowhere"];
    const STATUSES: &[&str] = &["in_custody", "at_court", "released", "escaped", "work_party", "on_duty", "??"];
    const ROLLCALLS: &[&str] = &["r0", "r1", "r2"];
    let s = |t: &str| t.to_owned();
    let person = s(rng.pick(PEOPLE));
    let rollcall = s(rng.pick(ROLLCALLS));
    match rng.below(12) {
        0 => Event::Registration(Registration {
            category: s(rng.pick(&["inmate", "inmate", "staff", "visitor", "alien"])),
            officer: s("o"),
            person,
            zone: if rng.below(4) == 0 { None } else { Some(s(rng.pick(ZONES))) },
        }),
        1 | 2 => Event::Grant(Grant {
            from_zone: s(rng.pick(ZONES)),
            lane: s(rng.pick(LANES)),
            method: s("fingerprint"),
            person,
            score: None,
            to_zone: s(rng.pick(ZONES)),
        }),
        3 | 4 => Event::Passage(Passage { grant: seq.saturating_sub(rng.below(6)), lane: s("l") }),
        5 => Event::PassageTimeout(PassageTimeout { grant: seq.saturating_sub(rng.below(6)), lane: s("l") }),
        6 => Event::Denial(Denial {
            lane: s(rng.pick(LANES)),
            person: (rng.below(2) == 0).then_some(person),
            reason: s("no_match"),
        }),
        7 => Event::Override(Override {
            lane: s(rng.pick(LANES)),
            officer: s("o"),
            person,
            reason: s("r"),
            second_officer: s("o2"),
        }),
        8 => Event::StatusChange(StatusChange {
            from: s("?"),
            officer: s("o"),
            person,
            reason: s("r"),
            to: s(rng.pick(STATUSES)),
        }),
        9 => Event::RollcallStarted(RollcallStarted {
            expected: 0,
            rollcall,
            supervisor: s("s"),
            zones: (0..rng.below(3)).map(|_| s(rng.pick(ZONES))).collect(),
        }),
        10 => match rng.below(4) {
            0 => Event::RollcallRecount(RollcallRecount { rollcall, supervisor: s("s") }),
            1 => Event::RollcallClosed(RollcallClosed {
                counted: 0,
                missing: 0,
                remark: None,
                rollcall,
                supervisor: s("s"),
            }),
            _ => Event::RollcallCounted(RollcallCounted { by: s("h"), person, rollcall, zone: s(rng.pick(ZONES)) }),
        },
        _ => Event::Alarm(Alarm { code: s("tamper"), detail: s("d"), source: s("s") }),
    }
}

/// Everything the census says must agree with itself.
fn check_consistent(c: &Census) {
    let h = c.headcount();
    let placed = c.people().filter(|(_, p)| p.zone.is_some()).count()
        + c.unregistered().filter(|(_, u)| u.zone.is_some()).count();
    assert_eq!(h.inside as usize, placed);
    assert_eq!(h.zones.iter().map(|z| z.total).sum::<u64>(), h.inside);
    for z in &h.zones {
        assert!(z.total > 0 && z.zone != OUT);
        assert_eq!(z.by_category.values().sum::<u64>() + z.unregistered, z.total);
        assert_eq!(c.occupants(&z.zone).len() as u64, z.total);
    }
    assert_eq!(c.history().last().map_or(0, |(_, n)| *n), h.inside);
    for s in c.rollcalls() {
        assert_eq!(s.counted + s.missing, s.expected);
        if let Some(v) = c.rollcall(&s.id) {
            assert_eq!(v.counted as usize + v.missing.len(), v.expected as usize);
            let mut dups = v.duplicates.clone();
            dups.dedup();
            assert_eq!(dups, v.duplicates);
        }
    }
}

#[test]
fn a_random_ledger_never_upsets_the_counts() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut f = Fold::new();
        for i in 0..2000 {
            let event = random_event(&mut rng, i);
            f.push(event);
            if i % 97 == 0 {
                check_consistent(&f.census);
            }
        }
        check_consistent(&f.census);
        assert_eq!(f.refold(), f.census, "seed {seed}");
    }
}

#[test]
fn a_facility_folds_quickly() {
    let mut c = Census::new(OUT, lanes());
    let zones = ["reception", "block-a", "block-b", "block-c", "yard", "workshop"];
    let next = |c: &mut Census, event: Event| c.apply(&entry(c.next_seq(), event)).unwrap();
    let started = Instant::now();
    for i in 0..20_000u64 {
        next(
            &mut c,
            Event::Registration(Registration {
                category: if i % 10 == 0 { "staff".into() } else { "inmate".into() },
                officer: "o".into(),
                person: format!("P-{i:05}"),
                zone: Some(zones[i as usize % zones.len()].into()),
            }),
        );
    }
    for i in 0..50_000u64 {
        let grant = c.next_seq();
        let person = format!("P-{:05}", (i * 7919) % 20_000);
        next(
            &mut c,
            Event::Grant(Grant {
                from_zone: "x".into(),
                lane: "l".into(),
                method: "fingerprint".into(),
                person,
                score: None,
                to_zone: zones[(i as usize * 31) % zones.len()].into(),
            }),
        );
        next(&mut c, Event::Passage(Passage { grant, lane: "l".into() }));
        if i % 10_000 == 0 {
            let h = c.headcount();
            assert_eq!(h.inside, 20_000);
        }
    }
    let elapsed = started.elapsed();
    let h = c.headcount();
    assert_eq!(h.inside, 20_000);
    assert_eq!(c.roster(&zones.map(String::from)).len(), 18_000);
    eprintln!("20,000 registrations and 50,000 grants with their passages folded in {elapsed:?}");
    // Generous for an unoptimised build on a loaded machine; in release it is tens of milliseconds.
    assert!(elapsed.as_secs() < 10, "{elapsed:?}");
}
