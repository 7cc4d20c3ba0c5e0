//! One roll-call as the census folds it: the roster taken when it started, the counts that came while
//! it was open, what they reveal (missing, duplicates, out of zone), and the supervisor's close; and the
//! views of it the API shows. The rules for when a count happens are the census's ([`super`]); this file
//! only records them.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use crate::ledger::entry::RollcallStarted;

/// Whether a roll-call is still counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollcallState {
    /// Counting.
    Open,
    /// Signed off by its supervisor; further counts are ignored.
    Closed,
}

/// A count of one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// Person id.
    pub person: String,
    /// Zone where counted.
    pub zone: String,
    /// Who counted: a handheld or officer as the entry says, or `lane:<lane id>`.
    pub by: String,
    /// Seq of the entry that counted.
    pub seq: u64,
}

/// A roster person not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// Person id.
    pub person: String,
    /// Their zone when the roll-call started.
    pub zone: String,
}

/// A person counted somewhere the roster did not expect them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutOfZone {
    /// Person id.
    pub person: String,
    /// Zone where counted.
    pub counted_zone: String,
    /// Their roster zone; `None` when not on the roster.
    pub expected_zone: Option<String>,
}

/// How a roll-call was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closed {
    /// Time of the `rollcall_closed` entry.
    pub time: String,
    /// Supervisor who signed off.
    pub supervisor: String,
    /// People counted, as the supervisor's entry says.
    pub counted: u64,
    /// People missing, as the supervisor's entry says.
    pub missing: u64,
    /// Supervisor's remark.
    pub remark: Option<String>,
}

/// A roll-call in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollcallView {
    /// Roll-call id.
    pub id: String,
    /// Zones counted.
    pub zones: Vec<String>,
    /// Supervisor who started it.
    pub supervisor: String,
    /// Time it started.
    pub started: String,
    /// Open or closed.
    pub state: RollcallState,
    /// Roster size.
    pub expected: u64,
    /// Roster people counted (in their zone or not).
    pub counted: u64,
    /// Roster people not counted, by person id.
    pub missing: Vec<Missing>,
    /// Counts of people not on the roster or not in their roster zone, in the order counted.
    pub out_of_zone: Vec<OutOfZone>,
    /// People counted more than once, by person id.
    pub duplicates: Vec<String>,
    /// First count of each person, in the order counted.
    pub counts: Vec<Count>,
    /// The close, once closed.
    pub closed: Option<Closed>,
}

/// A roll-call in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollcallSummary {
    /// Roll-call id.
    pub id: String,
    /// Zones counted.
    pub zones: Vec<String>,
    /// Supervisor who started it.
    pub supervisor: String,
    /// Time it started.
    pub started: String,
    /// Open or closed.
    pub state: RollcallState,
    /// Roster size.
    pub expected: u64,
    /// Roster people counted.
    pub counted: u64,
    /// Roster people not counted.
    pub missing: u64,
}

/// A roll-call being folded.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rollcall {
    id: String,
    zones: Vec<String>,
    supervisor: String,
    started: String,
    expected: u64,
    /// Roster people counted, kept apart from the details so a summary outlives them.
    counted: u64,
    /// Roster and counts; dropped from old closed roll-calls.
    detail: Option<Detail>,
    closed: Option<Closed>,
}

#[derive(Debug, Clone, PartialEq)]
struct Detail {
    /// Person id → zone at the start.
    roster: BTreeMap<String, String>,
    counts: Vec<Count>,
    /// Everyone in `counts`.
    counted_people: HashSet<String>,
    duplicates: BTreeSet<String>,
    out_of_zone: Vec<OutOfZone>,
}

impl Rollcall {
    /// A roll-call started by `r` at `time`, with its roster (person id → zone).
    pub(super) fn start(r: &RollcallStarted, time: &str, roster: BTreeMap<String, String>) -> Rollcall {
        Rollcall {
            id: r.rollcall.clone(),
            zones: r.zones.clone(),
            supervisor: r.supervisor.clone(),
            started: time.to_owned(),
            expected: roster.len() as u64,
            counted: 0,
            detail: Some(Detail {
                roster,
                counts: Vec::new(),
                counted_people: HashSet::new(),
                duplicates: BTreeSet::new(),
                out_of_zone: Vec::new(),
            }),
            closed: None,
        }
    }

    pub(super) fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn is_open(&self) -> bool {
        self.closed.is_none()
    }

    /// Whether `zone` is one of the roll-call's zones.
    pub(super) fn covers(&self, zone: &str) -> bool {
        self.zones.iter().any(|z| z == zone)
    }

    /// Records a count: the first of a person is kept (and checked against the roster), a later one
    /// flags the person as a duplicate.
    pub(super) fn count(&mut self, person: &str, zone: &str, by: &str, seq: u64) {
        let Some(d) = self.detail.as_mut().filter(|_| self.closed.is_none()) else { return };
        if d.counted_people.contains(person) {
            d.duplicates.insert(person.to_owned());
            return;
        }
        d.counted_people.insert(person.to_owned());
        d.counts.push(Count { person: person.to_owned(), zone: zone.to_owned(), by: by.to_owned(), seq });
        let expected = d.roster.get(person);
        if expected.is_some() {
            self.counted += 1;
        }
        if expected.map(String::as_str) != Some(zone) {
            d.out_of_zone.push(OutOfZone {
                person: person.to_owned(),
                counted_zone: zone.to_owned(),
                expected_zone: expected.cloned(),
            });
        }
    }

    /// Sets the counts aside; the roster stays.
    pub(super) fn recount(&mut self) {
        if let Some(d) = self.detail.as_mut().filter(|_| self.closed.is_none()) {
            d.counts.clear();
            d.counted_people.clear();
            d.duplicates.clear();
            d.out_of_zone.clear();
            self.counted = 0;
        }
    }

    pub(super) fn close(&mut self, closed: Closed) {
        self.closed.get_or_insert(closed);
    }

    /// Drops roster and counts, keeping the summary.
    pub(super) fn forget_details(&mut self) {
        self.detail = None;
    }

    fn state(&self) -> RollcallState {
        if self.closed.is_some() { RollcallState::Closed } else { RollcallState::Open }
    }

    pub(super) fn summary(&self) -> RollcallSummary {
        RollcallSummary {
            id: self.id.clone(),
            zones: self.zones.clone(),
            supervisor: self.supervisor.clone(),
            started: self.started.clone(),
            state: self.state(),
            expected: self.expected,
            counted: self.counted,
            missing: self.expected - self.counted,
        }
    }

    /// The full view; `None` once the details are forgotten.
    pub(super) fn view(&self) -> Option<RollcallView> {
        let d = self.detail.as_ref()?;
        let missing = d
            .roster
            .iter()
            .filter(|(person, _)| !d.counted_people.contains(*person))
            .map(|(person, zone)| Missing { person: person.clone(), zone: zone.clone() })
            .collect();
        Some(RollcallView {
            id: self.id.clone(),
            zones: self.zones.clone(),
            supervisor: self.supervisor.clone(),
            started: self.started.clone(),
            state: self.state(),
            expected: self.expected,
            counted: self.counted,
            missing,
            out_of_zone: d.out_of_zone.clone(),
            duplicates: d.duplicates.iter().cloned().collect(),
            counts: d.counts.clone(),
            closed: self.closed.clone(),
        })
    }
}
