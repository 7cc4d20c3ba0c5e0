//! Census tests: each fold rule on a small scripted ledger, with the helpers that write it. Refolding,
//! random ledgers and scale are in [`random`].

mod random;

use std::collections::HashMap;

use super::*;
use crate::ledger::entry::{
    Alarm, Boot, Denial, Entry, Event, Grant, Note, Override, Passage, PassageTimeout, Registration, RollcallClosed,
    RollcallCounted, RollcallRecount, RollcallStarted, Stamp, StatusChange,
};
use crate::ledger::entry::{Enrolment, TemplatesDeleted};

pub(super) const OUT: &str = "outside";

pub(super) fn lanes() -> HashMap<String, (String, String)> {
    [
        ("north-in", OUT, "reception"),
        ("rec-c", "reception", "block-c"),
        ("c-yard", "block-c", "yard"),
        ("yard-c", "yard", "block-c"),
        ("c-out", "block-c", OUT),
    ]
    .into_iter()
    .map(|(id, from, to)| (id.to_owned(), (from.to_owned(), to.to_owned())))
    .collect()
}

/// The entry at `seq`, with a time that grows with it.
pub(super) fn entry(seq: u64, event: Event) -> Entry {
    let time = format!("2026-11-25T{:02}:{:02}:{:02}Z", (seq / 3600) % 24, (seq / 60) % 60, seq % 60);
    Entry {
        stamp: Stamp { seq, time, boot: "b00t".into(), mono_ms: seq * 1000, appliance: "gate-1".into(), prev: [0; 32] },
        event,
    }
}

/// A census and the ledger it was folded from, with one writer per kind.
pub(super) struct Fold {
    pub(super) census: Census,
    pub(super) log: Vec<Entry>,
}

impl Fold {
    pub(super) fn new() -> Fold {
        Fold { census: Census::new(OUT, lanes()), log: Vec::new() }
    }

    /// Applies the next event; returns its seq.
    pub(super) fn push(&mut self, event: Event) -> u64 {
        let e = entry(self.log.len() as u64, event);
        self.census.apply(&e).unwrap();
        self.log.push(e);
        self.log.len() as u64 - 1
    }

    pub(super) fn register(&mut self, person: &str, category: &str, zone: Option<&str>) -> u64 {
        self.push(Event::Registration(Registration {
            category: category.into(),
            officer: "o".into(),
            person: person.into(),
            zone: zone.map(Into::into),
        }))
    }

    pub(super) fn grant(&mut self, person: &str, lane: &str) -> u64 {
        let (from, to) = lanes()[lane].clone();
        self.push(Event::Grant(Grant {
            from_zone: from,
            lane: lane.into(),
            method: "fingerprint".into(),
            person: person.into(),
            score: Some(60),
            to_zone: to,
        }))
    }

    pub(super) fn passage(&mut self, grant: u64) -> u64 {
        self.push(Event::Passage(Passage { grant, lane: "any".into() }))
    }

    /// A grant at `lane` and its passage.
    pub(super) fn walk(&mut self, person: &str, lane: &str) {
        let g = self.grant(person, lane);
        self.passage(g);
    }

    pub(super) fn timeout(&mut self, grant: u64) -> u64 {
        self.push(Event::PassageTimeout(PassageTimeout { grant, lane: "any".into() }))
    }

    pub(super) fn deny(&mut self, person: Option<&str>, lane: &str) -> u64 {
        self.push(Event::Denial(Denial { lane: lane.into(), person: person.map(Into::into), reason: "status".into() }))
    }

    pub(super) fn override_(&mut self, person: &str, lane: &str) -> u64 {
        self.push(Event::Override(Override {
            lane: lane.into(),
            officer: "o1".into(),
            person: person.into(),
            reason: "worn fingers".into(),
            second_officer: "o2".into(),
        }))
    }

    pub(super) fn status(&mut self, person: &str, to: &str, reason: &str) -> u64 {
        self.push(Event::StatusChange(StatusChange {
            from: "x".into(),
            officer: "o".into(),
            person: person.into(),
            reason: reason.into(),
            to: to.into(),
        }))
    }

    pub(super) fn start(&mut self, rollcall: &str, zones: &[&str]) -> u64 {
        let zones: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        let expected = self.census.roster(&zones).len() as u64;
        self.push(Event::RollcallStarted(RollcallStarted {
            expected,
            rollcall: rollcall.into(),
            supervisor: "lt.a".into(),
            zones,
        }))
    }

    pub(super) fn count(&mut self, rollcall: &str, person: &str, zone: &str) -> u64 {
        self.push(Event::RollcallCounted(RollcallCounted {
            by: "handheld-3".into(),
            person: person.into(),
            rollcall: rollcall.into(),
            zone: zone.into(),
        }))
    }

    pub(super) fn recount(&mut self, rollcall: &str) -> u64 {
        self.push(Event::RollcallRecount(RollcallRecount { rollcall: rollcall.into(), supervisor: "lt.a".into() }))
    }

    pub(super) fn close(&mut self, rollcall: &str, counted: u64, missing: u64) -> u64 {
        self.push(Event::RollcallClosed(RollcallClosed {
            counted,
            missing,
            remark: Some("R-3 at the infirmary".into()),
            rollcall: rollcall.into(),
            supervisor: "lt.b".into(),
        }))
    }

    pub(super) fn alarm(&mut self, code: &str) -> u64 {
        self.push(Event::Alarm(Alarm { code: code.into(), detail: "d".into(), source: "lane c-out".into() }))
    }

    /// A fresh census folded from the whole log.
    pub(super) fn refold(&self) -> Census {
        let mut c = Census::new(OUT, lanes());
        for e in &self.log {
            c.apply(e).unwrap();
        }
        c
    }

    pub(super) fn zone(&self, person: &str) -> Option<&str> {
        self.census.person(person).and_then(|p| p.zone.as_deref())
    }
}

#[test]
fn registration_and_passage_move_people() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", Some("reception"));
    assert_eq!(f.zone("I-1"), Some("reception"));
    let p = f.census.person("I-1").unwrap();
    assert_eq!(
        (p.category, p.status, p.status_since.as_deref()),
        (Category::Inmate, Status::InCustody, Some(f.log[0].stamp.time.as_str()))
    );
    let g = f.grant("I-1", "rec-c");
    assert_eq!(f.zone("I-1"), Some("reception"), "a grant alone moves nobody");
    let seen = f.census.person("I-1").unwrap().last_seen.clone().unwrap();
    assert_eq!(
        (seen.seq, seen.kind, seen.lane.as_deref(), seen.zone.as_deref()),
        (g, "grant", Some("rec-c"), Some("reception"))
    );
    f.passage(g);
    assert_eq!(f.zone("I-1"), Some("block-c"));
    assert_eq!(f.census.occupants("block-c"), ["I-1"]);
    assert!(f.census.occupants("reception").is_empty());
    f.walk("I-1", "c-out");
    assert_eq!(f.zone("I-1"), None, "the outside zone is stored as no zone");
    assert!(f.census.occupants(OUT).is_empty());
    assert_eq!(f.census.headcount().inside, 0);
    assert_eq!(f.census.next_seq(), 5);
}

#[test]
fn a_grant_that_times_out_moves_nobody() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", Some("reception"));
    let g = f.grant("I-1", "rec-c");
    f.timeout(g);
    assert_eq!(f.zone("I-1"), Some("reception"));
    f.passage(g);
    assert_eq!(f.zone("I-1"), Some("reception"), "a passage of a forgotten grant changes nothing");
    f.passage(999);
    f.passage(0);
    assert_eq!(f.zone("I-1"), Some("reception"), "a passage of something that is no grant changes nothing");
    let g = f.grant("I-1", "rec-c");
    f.passage(g);
    f.passage(g);
    assert_eq!(f.zone("I-1"), Some("block-c"));
    assert_eq!(f.census.history().len(), 1, "the inside total never changed after the registration");
}

#[test]
fn headcount_is_by_zone_and_category() {
    let mut f = Fold::new();
    for i in 0..3 {
        f.register(&format!("I-{i}"), "inmate", Some("block-c"));
    }
    f.register("S-1", "staff", Some("block-c"));
    f.register("S-2", "staff", None);
    f.register("S-3", "staff", Some(OUT));
    f.register("V-1", "visitor", Some("reception"));
    f.walk("S-2", "north-in");
    let h = f.census.headcount();
    assert_eq!(h.inside, 6);
    let zones: Vec<(&str, u64)> = h.zones.iter().map(|z| (z.zone.as_str(), z.total)).collect();
    assert_eq!(zones, [("block-c", 4), ("reception", 2)]);
    let block_c = &h.zones[0];
    assert_eq!(block_c.by_category, BTreeMap::from([(Category::Inmate, 3), (Category::Staff, 1)]));
    assert_eq!(h.zones[1].by_category, BTreeMap::from([(Category::Staff, 1), (Category::Visitor, 1)]));
    assert_eq!(f.census.person("S-3").unwrap().zone, None);
    assert_eq!(f.census.occupants("block-c"), ["I-0", "I-1", "I-2", "S-1"]);
    assert!(h.out_of_facility.is_empty());
    assert_eq!(f.census.people().count(), 7);
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(json["zones"][0]["by_category"]["inmate"], 3);
}

#[test]
fn a_released_person_leaves_the_counts() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", Some("block-c"));
    f.register("I-2", "inmate", Some("block-c"));
    let at = f.status("I-1", "released", "sentence served");
    let p = f.census.person("I-1").unwrap();
    assert_eq!((p.status, p.zone.as_deref()), (Status::Released, None));
    assert_eq!(p.status_reason.as_deref(), Some("sentence served"));
    assert_eq!(p.status_since.as_deref(), Some(f.log[at as usize].stamp.time.as_str()));
    let h = f.census.headcount();
    assert_eq!((h.inside, h.zones[0].total), (1, 1));
    assert!(h.out_of_facility.is_empty(), "gone people are not out of the facility: they are gone");
    let totals: Vec<u64> = f.census.history().iter().map(|(_, n)| *n).collect();
    assert_eq!(totals, [1, 2, 1]);
    assert_eq!(f.census.history()[2].0, f.log[at as usize].stamp.time);
    f.status("I-1", "in_custody", "re-arrested");
    assert_eq!(f.zone("I-1"), None, "back in custody moves nobody: they come in through a lane");
}

#[test]
fn a_retention_deletion_shows_on_the_person_until_a_finger_is_enrolled() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", None);
    let release = f.status("I-1", "released", "sentence served");
    assert_eq!(f.census.person("I-1").unwrap().templates_deleted, None);
    let deleted =
        TemplatesDeleted { fingers: vec![2], person: "I-1".into(), photo: false, reason: "retention".into(), release };
    let at = f.push(Event::TemplatesDeleted(deleted.clone()));
    let p = f.census.person("I-1").unwrap();
    assert_eq!(p.templates_deleted.as_deref(), Some(f.log[at as usize].stamp.time.as_str()));
    // Nobody registered by that id: nothing to note, nothing refused.
    f.push(Event::TemplatesDeleted(TemplatesDeleted { person: "ghost".into(), ..deleted }));
    let e = Enrolment { fingers: vec![2], officer: "o".into(), person: "I-1".into() };
    f.push(Event::Enrolment(e));
    assert_eq!(f.census.person("I-1").unwrap().templates_deleted, None);
}

#[test]
fn inmates_outside_or_away_are_listed() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", Some("block-c"));
    f.register("I-2", "inmate", Some("block-c"));
    f.register("I-3", "inmate", None);
    f.register("I-4", "inmate", Some("block-c"));
    f.register("S-1", "staff", None);
    f.status("I-1", "at_court", "hearing 0042");
    f.status("I-2", "at_hospital", "x-ray");
    f.walk("I-2", "c-out");
    f.status("I-4", "escaped", "over the wall");
    f.status("I-4", "bogus", "typo");
    assert_eq!(f.census.person("I-4").unwrap().status, Status::Escaped, "an unknown status changes nothing");
    let away = f.census.headcount().out_of_facility;
    let listed: Vec<(&str, Status, Option<&str>)> =
        away.iter().map(|a| (a.person.as_str(), a.status, a.reason.as_deref())).collect();
    assert_eq!(
        listed,
        [
            ("I-1", Status::AtCourt, Some("hearing 0042")),
            ("I-2", Status::AtHospital, Some("x-ray")),
            ("I-3", Status::InCustody, None),
        ]
    );
    assert_eq!(f.zone("I-1"), Some("block-c"), "away before the lane passage, still inside");
    assert!(away.iter().all(|a| a.category == Category::Inmate && a.since.is_some()));
}

#[test]
fn a_rollcall_finds_missing_duplicate_and_out_of_zone_people() {
    let mut f = Fold::new();
    for (id, zone) in
        [("R-1", "block-c"), ("R-2", "block-c"), ("R-3", "block-c"), ("R-4", "yard"), ("R-5", "reception")]
    {
        f.register(id, "inmate", Some(zone));
    }
    f.register("S-1", "staff", Some("block-c"));
    f.status("R-2", "at_court", "hearing");
    assert_eq!(f.census.roster(&["block-c".into(), "yard".into()]), ["R-1", "R-3", "R-4"]);
    f.start("rc-1", &["block-c", "yard"]);
    assert_eq!(f.census.open_rollcalls(), ["rc-1"]);
    let first = f.count("rc-1", "R-1", "block-c");
    f.count("rc-1", "R-1", "block-c");
    f.count("rc-1", "R-1", "block-c");
    f.count("rc-1", "R-4", "block-c");
    f.count("rc-1", "R-5", "block-c");
    f.count("rc-2", "R-3", "block-c");
    let v = f.census.rollcall("rc-1").unwrap();
    assert_eq!((v.state, v.expected, v.counted), (RollcallState::Open, 3, 2));
    assert_eq!(v.missing, [Missing { person: "R-3".into(), zone: "block-c".into() }]);
    assert_eq!(v.duplicates, ["R-1"], "counted thrice, flagged once");
    assert_eq!(
        v.out_of_zone,
        [
            OutOfZone { person: "R-4".into(), counted_zone: "block-c".into(), expected_zone: Some("yard".into()) },
            OutOfZone { person: "R-5".into(), counted_zone: "block-c".into(), expected_zone: None },
        ]
    );
    assert_eq!(
        v.counts[0],
        Count { person: "R-1".into(), zone: "block-c".into(), by: "handheld-3".into(), seq: first }
    );
    assert_eq!(v.counts.len(), 3);
    assert!(f.census.rollcall("rc-2").is_none());
    assert_eq!(f.census.person("R-1").unwrap().last_seen.as_ref().unwrap().kind, "rollcall_counted");

    f.recount("rc-1");
    let v = f.census.rollcall("rc-1").unwrap();
    assert_eq!((v.expected, v.counted, v.missing.len()), (3, 0, 3));
    assert!(v.counts.is_empty() && v.duplicates.is_empty() && v.out_of_zone.is_empty());
    f.count("rc-1", "R-1", "block-c");
    f.count("rc-1", "R-4", "yard");
    f.close("rc-1", 2, 1);
    f.count("rc-1", "R-3", "block-c");
    f.recount("rc-1");
    let v = f.census.rollcall("rc-1").unwrap();
    assert_eq!((v.state, v.counted), (RollcallState::Closed, 2));
    assert_eq!(v.missing, [Missing { person: "R-3".into(), zone: "block-c".into() }]);
    assert!(v.out_of_zone.is_empty(), "R-4 counted again, in their roster zone this time");
    let closed = v.closed.unwrap();
    assert_eq!((closed.supervisor.as_str(), closed.counted, closed.missing), ("lt.b", 2, 1));
    assert!(f.census.open_rollcalls().is_empty());
    let s = &f.census.rollcalls()[0];
    assert_eq!((s.id.as_str(), s.state, s.expected, s.counted, s.missing), ("rc-1", RollcallState::Closed, 3, 2, 1));
}

#[test]
fn lanes_count_the_people_they_see_during_a_rollcall() {
    let mut f = Fold::new();
    for id in ["L-1", "L-2", "L-3", "L-4"] {
        f.register(id, "inmate", Some("block-c"));
    }
    f.register("S-1", "staff", Some("block-c"));
    f.start("rc-1", &["block-c"]);
    f.start("rc-y", &["yard"]);
    f.start("rc-1", &["yard"]);
    assert_eq!(f.census.rollcall("rc-1").unwrap().zones, ["block-c"], "a second start of an id is ignored");
    let g = f.grant("L-1", "c-yard");
    f.passage(g);
    let d = f.deny(Some("L-2"), "c-out");
    f.deny(None, "c-out");
    let o = f.override_("L-3", "c-yard");
    f.override_("L-4", "nowhere");
    f.grant("S-1", "c-yard");
    f.grant("L-1", "yard-c");
    f.grant("L-1", "yard-c");
    let v = f.census.rollcall("rc-1").unwrap();
    let counts: Vec<(&str, &str, &str, u64)> =
        v.counts.iter().map(|c| (c.person.as_str(), c.zone.as_str(), c.by.as_str(), c.seq)).collect();
    assert_eq!(
        counts,
        [
            ("L-1", "block-c", "lane:c-yard", g),
            ("L-2", "block-c", "lane:c-out", d),
            ("L-3", "block-c", "lane:c-yard", o)
        ]
    );
    assert_eq!(v.missing, [Missing { person: "L-4".into(), zone: "block-c".into() }], "an unknown lane counts nobody");
    assert!(v.duplicates.is_empty() && v.out_of_zone.is_empty(), "staff are not counted by lanes");
    let y = f.census.rollcall("rc-y").unwrap();
    assert_eq!(y.expected, 0);
    assert_eq!(y.counts.len(), 1, "L-1 seen at a lane out of the yard");
    assert_eq!(y.duplicates, ["L-1"]);
    assert_eq!(y.out_of_zone[0].expected_zone, None);
    let seen = f.census.person("L-2").unwrap().last_seen.clone().unwrap();
    assert_eq!((seen.kind, seen.zone.as_deref()), ("denial", Some("block-c")));
    assert_eq!(f.census.open_rollcalls(), ["rc-1", "rc-y"]);
    let ids: Vec<String> = f.census.rollcalls().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["rc-y", "rc-1"], "most recent first");
}

#[test]
fn an_entry_out_of_order_is_refused_and_changes_nothing() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", Some("block-c"));
    let before = f.census.clone();
    let reg = |seq| {
        entry(
            seq,
            Event::Registration(Registration {
                category: "inmate".into(),
                officer: "o".into(),
                person: "I-2".into(),
                zone: None,
            }),
        )
    };
    assert_eq!(f.census.apply(&reg(0)), Err(CensusError::OutOfOrder { expected: 1, got: 0 }));
    assert_eq!(f.census.apply(&reg(2)), Err(CensusError::OutOfOrder { expected: 1, got: 2 }));
    assert_eq!(f.census, before);
    assert!(f.census.apply(&reg(1)).is_ok());
    assert_eq!(f.census.next_seq(), 2);
}

#[test]
fn alarms_come_most_recent_first_and_are_capped() {
    let mut f = Fold::new();
    f.push(Event::Boot(Boot { clean_start: true, software: "tally".into() }));
    let first = f.alarm("tamper");
    f.alarm("power");
    let a = f.census.alarms(10);
    assert_eq!(a.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["power", "tamper"]);
    assert_eq!((a[1].seq, a[1].source.as_str()), (first, "lane c-out"));
    assert_eq!(f.census.alarms(1).len(), 1);
    for i in 0..3 * MAX_ALARMS {
        f.alarm(&format!("a{i}"));
    }
    let a = f.census.alarms(usize::MAX);
    assert_eq!(a.len(), MAX_ALARMS);
    assert_eq!(a[0].code, format!("a{}", 3 * MAX_ALARMS - 1));
    assert_eq!(a[MAX_ALARMS - 1].code, format!("a{}", 2 * MAX_ALARMS));
}

#[test]
fn history_keeps_the_last_points() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", Some("block-c"));
    for _ in 0..MAX_HISTORY + 10 {
        f.walk("I-1", "c-out");
        f.walk("I-1", "north-in");
        f.walk("I-1", "rec-c");
    }
    let h = f.census.history();
    assert_eq!(h.len(), MAX_HISTORY);
    // The last change of the total is the passage in from outside (the walk to block-c keeps it).
    assert_eq!(h.last().unwrap(), &(f.log[f.log.len() - 3].stamp.time.clone(), 1));
    assert!(h.iter().all(|(_, n)| *n <= 1));
}

#[test]
fn people_never_registered_are_counted_as_they_come() {
    let mut f = Fold::new();
    f.walk("U-1", "north-in");
    f.deny(Some("U-2"), "c-out");
    f.status("U-3", "released", "x");
    let h = f.census.headcount();
    assert_eq!(h.inside, 1);
    assert_eq!((h.zones[0].zone.as_str(), h.zones[0].total, h.zones[0].unregistered), ("reception", 1, 1));
    assert!(h.zones[0].by_category.is_empty());
    assert!(f.census.person("U-1").is_none());
    let names: Vec<&str> = f.census.unregistered().map(|(id, _)| id).collect();
    assert_eq!(names, ["U-1", "U-2"]);
    f.register("U-1", "inmate", None);
    let p = f.census.person("U-1").unwrap();
    assert_eq!((p.zone.as_deref(), p.last_seen.as_ref().map(|s| s.kind)), (None, Some("grant")));
    assert_eq!(f.census.headcount().inside, 0);
    assert_eq!(f.census.unregistered().count(), 1);
    f.register("U-2", "martian", Some("block-c"));
    assert_eq!(f.census.occupants("block-c"), ["U-2"], "an unknown category only places the person");
}

#[test]
fn a_second_registration_readmits() {
    let mut f = Fold::new();
    f.register("P-1", "inmate", Some("block-c"));
    f.status("P-1", "released", "served");
    f.register("P-1", "inmate", Some("reception"));
    let p = f.census.person("P-1").unwrap();
    assert_eq!((p.status, p.status_reason.as_deref(), p.zone.as_deref()), (Status::InCustody, None, Some("reception")));
    f.register("P-1", "staff", Some("block-c"));
    let p = f.census.person("P-1").unwrap();
    assert_eq!((p.category, p.status, p.zone.as_deref()), (Category::Staff, Status::OffDuty, Some("block-c")));
    assert_eq!(f.census.headcount().inside, 1);
}

#[test]
fn old_closed_rollcalls_keep_only_their_summary() {
    let mut f = Fold::new();
    f.register("I-1", "inmate", Some("block-c"));
    let n = KEPT_CLOSED_ROLLCALLS + 3;
    for i in 0..n {
        let id = format!("rc-{i}");
        f.start(&id, &["block-c"]);
        f.close(&id, 0, 1);
    }
    f.start("rc-open", &["block-c"]);
    assert_eq!(f.census.rollcalls().len(), n + 1);
    assert!(f.census.rollcall("rc-0").is_none() && f.census.rollcall("rc-2").is_none());
    assert!(f.census.rollcall("rc-3").is_some() && f.census.rollcall("rc-open").is_some());
    let oldest = f.census.rollcalls().pop().unwrap();
    assert_eq!((oldest.id.as_str(), oldest.expected, oldest.missing), ("rc-0", 1, 1));
}

#[test]
fn a_new_epoch_keeps_who_is_where_and_drops_pending_grants() {
    let mut f = Fold::new();
    f.register("A", "inmate", None);
    f.register("B", "inmate", None);
    f.walk("A", "north-in");
    let pending = f.grant("B", "north-in");
    let before = f.census.headcount();
    f.census.begin_epoch();
    assert_eq!(f.census.next_seq(), 0);
    assert_eq!(f.census.headcount(), before);
    // Seq 0 of the new log is folded; a passage naming the old grant's seq moves nobody.
    let epoch = Event::Epoch(crate::ledger::entry::Epoch {
        epoch: 2,
        key: "k".into(),
        previous_checkpoint: "cp".into(),
        previous_keys: vec!["k1".into()],
        previous_origin: "f/a".into(),
    });
    f.census.apply(&entry(0, epoch)).unwrap();
    f.census.apply(&entry(1, Event::Passage(Passage { grant: pending, lane: "north-in".into() }))).unwrap();
    assert_eq!(f.census.headcount(), before);
    assert!(f.census.apply(&entry(5, Event::Passage(Passage { grant: 0, lane: "x".into() }))).is_err());
}
