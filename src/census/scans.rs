//! The recent scans of each lane, folded from the ledger like the rest of the census: each grant or
//! denial, the override that led to it, and how the passage ended. The gate screen opens on them, so a
//! guard taking over a lane mid-shift, or after the appliance restarted, sees who just went through.
//!
//! Only the last [`KEPT`] scans of each lane are kept; the ledger has them all.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::ledger::entry::Event;

/// Scans kept per lane.
pub const KEPT: usize = 12;

/// One decision at a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    /// The grant's or denial's entry.
    pub seq: u64,
    /// Its clock reading.
    pub time: String,
    /// Whether the person was let through.
    pub granted: bool,
    /// The person, when someone was identified (or chosen by an override).
    pub person: Option<String>,
    /// The denial's reason code.
    pub reason: Option<String>,
    /// `fingerprint` or `override`.
    pub method: String,
    /// For an override: who made it and why.
    pub override_by: Option<OverrideBy>,
    /// For a grant: `waiting`, `passed` or `timeout`.
    pub passage: Option<&'static str>,
}

/// The officers of an override and its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideBy {
    /// The officer who made it.
    pub officer: String,
    /// The second officer.
    pub second_officer: String,
    /// Why the finger was not used.
    pub reason: String,
}

/// The scans of every lane.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scans {
    /// Lane → its scans, newest first.
    lanes: HashMap<String, VecDeque<Scan>>,
    /// Lane → (person, officers) of an override not yet followed by its decision.
    overrides: HashMap<String, (String, OverrideBy)>,
}

impl Scans {
    /// Folds one entry in (every kind but the lanes' is ignored).
    pub fn apply(&mut self, seq: u64, time: &str, event: &Event) {
        match event {
            Event::Override(o) => {
                let by = OverrideBy {
                    officer: o.officer.clone(),
                    second_officer: o.second_officer.clone(),
                    reason: o.reason.clone(),
                };
                self.overrides.insert(o.lane.clone(), (o.person.clone(), by));
            }
            Event::Grant(g) => {
                let by = self.override_for(&g.lane, Some(&g.person));
                let method = if by.is_some() { "override".to_owned() } else { g.method.clone() };
                self.push(
                    &g.lane,
                    Scan {
                        seq,
                        time: time.to_owned(),
                        granted: true,
                        person: Some(g.person.clone()),
                        reason: None,
                        method,
                        override_by: by,
                        passage: Some("waiting"),
                    },
                );
            }
            Event::Denial(d) => {
                let by = self.override_for(&d.lane, d.person.as_deref());
                let method = if by.is_some() { "override" } else { "fingerprint" };
                self.push(
                    &d.lane,
                    Scan {
                        seq,
                        time: time.to_owned(),
                        granted: false,
                        person: d.person.clone(),
                        reason: Some(d.reason.clone()),
                        method: method.to_owned(),
                        override_by: by,
                        passage: None,
                    },
                );
            }
            Event::Passage(p) => self.passed(&p.lane, p.grant, "passed"),
            Event::PassageTimeout(t) => self.passed(&t.lane, t.grant, "timeout"),
            _ => {}
        }
    }

    /// A lane's scans, newest first.
    pub fn of(&self, lane: &str) -> Vec<Scan> {
        self.lanes.get(lane).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// The officers of the lane's pending override, when it was for this person (an override is
    /// followed at once by its decision; anything else at the lane ends it).
    fn override_for(&mut self, lane: &str, person: Option<&str>) -> Option<OverrideBy> {
        let (who, by) = self.overrides.remove(lane)?;
        (person == Some(who.as_str())).then_some(by)
    }

    fn push(&mut self, lane: &str, scan: Scan) {
        let scans = self.lanes.entry(lane.to_owned()).or_default();
        scans.push_front(scan);
        scans.truncate(KEPT);
    }

    fn passed(&mut self, lane: &str, grant: u64, how: &'static str) {
        let scan = self.lanes.get_mut(lane).and_then(|s| s.iter_mut().find(|s| s.seq == grant));
        if let Some(scan) = scan {
            scan.passage = Some(how);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::{Denial, Grant, Override, Passage, PassageTimeout};

    fn grant(lane: &str, person: &str) -> Event {
        Event::Grant(Grant {
            from_zone: "outside".into(),
            lane: lane.into(),
            method: "fingerprint".into(),
            person: person.into(),
            score: Some(900),
            to_zone: "reception".into(),
        })
    }

    fn denial(lane: &str, person: Option<&str>, reason: &str) -> Event {
        Event::Denial(Denial { lane: lane.into(), person: person.map(Into::into), reason: reason.into() })
    }

    #[test]
    fn scans_are_kept_per_lane_newest_first_with_how_the_passage_ended() {
        let mut s = Scans::default();
        s.apply(0, "t0", &grant("a", "P-1"));
        s.apply(1, "t1", &denial("b", None, "not_identified"));
        s.apply(2, "t2", &grant("a", "P-2"));
        s.apply(3, "t3", &Event::Passage(Passage { grant: 0, lane: "a".into() }));
        s.apply(4, "t4", &Event::PassageTimeout(PassageTimeout { grant: 2, lane: "a".into() }));
        let a = s.of("a");
        assert_eq!(a.iter().map(|s| s.seq).collect::<Vec<_>>(), [2, 0]);
        assert_eq!((a[0].passage, a[1].passage), (Some("timeout"), Some("passed")));
        let b = s.of("b");
        assert_eq!((b.len(), b[0].granted, b[0].reason.as_deref()), (1, false, Some("not_identified")));
        assert!(s.of("c").is_empty());
    }

    #[test]
    fn an_override_marks_the_decision_that_follows_it_for_the_same_person_only() {
        let mut s = Scans::default();
        let o = |person: &str| {
            Event::Override(Override {
                lane: "a".into(),
                officer: "guard-1".into(),
                person: person.into(),
                reason: "cut finger".into(),
                second_officer: "sup-1".into(),
            })
        };
        s.apply(0, "t0", &o("P-1"));
        s.apply(1, "t1", &grant("a", "P-1"));
        s.apply(2, "t2", &o("P-2"));
        s.apply(3, "t3", &denial("a", Some("P-2"), "anti_passback"));
        s.apply(4, "t4", &o("P-3"));
        s.apply(5, "t5", &grant("a", "P-4"));
        let a = s.of("a");
        assert_eq!(a[2].method, "override");
        let by = a[2].override_by.as_ref().unwrap();
        assert_eq!(
            (by.officer.as_str(), by.second_officer.as_str(), by.reason.as_str()),
            ("guard-1", "sup-1", "cut finger")
        );
        assert_eq!((a[1].method.as_str(), a[1].reason.as_deref()), ("override", Some("anti_passback")));
        assert_eq!((a[0].method.as_str(), &a[0].override_by), ("fingerprint", &None));
    }

    #[test]
    fn only_the_last_scans_are_kept() {
        let mut s = Scans::default();
        for seq in 0..(KEPT as u64 + 5) {
            s.apply(seq, "t", &grant("a", "P-1"));
        }
        let a = s.of("a");
        assert_eq!(a.len(), KEPT);
        assert_eq!(a[0].seq, KEPT as u64 + 4);
    }
}
