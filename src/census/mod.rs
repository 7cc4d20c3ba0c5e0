//! The census: where everyone is, the live headcount, roll-calls and alarms, as a fold over ledger entries.
//!
//! The ledger is the source of truth; a [`Census`] is what it says once every entry from seq 0 has been
//! applied in order, and nothing else. It owns the fold rules below and the views built from them
//! (headcount, occupants, roll-call rosters and results, recent alarms, the day's count). It does no I/O,
//! reads no clock and speaks no SQL: the service feeds it entries as they are committed (and all of them
//! again after a restart), and because the fold is deterministic the same entries always give an equal
//! census. Who may go where is the policy's business; what a person *is* (names, templates) the
//! register's.
//!
//! # Fold rules
//! - **Sequence.** Entries are applied in sequence only: an entry whose seq is not [`Census::next_seq`] is
//!   refused with [`CensusError::OutOfOrder`] and changes nothing. Every kind advances the sequence;
//!   kinds not named here (boot, note, …) do nothing else.
//! - **Zones.** The configured `outside` zone is not a zone of the facility: a person placed there is
//!   stored with zone `None` (outside the facility or gone), like a person registered with no zone.
//! - **registration** makes a person known with its category, the category's initial status (reason
//!   none, since the registration's time) and the entry's zone. A second registration of the same id is a
//!   re-admission: category and zone are taken from it and the status goes back to the initial one. A
//!   registration whose category is not known to this version only places the person.
//! - **Movement.** A person's zone changes only by a `passage` (to the `to_zone` of the grant it
//!   completes), by a `registration`, and by a `status_change` to a status that is gone (transferred,
//!   released, escaped, deceased), which takes the person out (zone `None`). A `grant` is kept pending
//!   until its `passage` or `passage_timeout`, then forgotten; a passage of a grant that is not pending
//!   changes nothing, and a grant that times out moves nobody. A status back to in custody moves nobody:
//!   people come in through a lane.
//! - **status_change** sets the status, its reason and since when (the entry's time). A status this
//!   version does not know changes nothing.
//! - **templates_deleted** of a registered person records when ([`PersonState::templates_deleted`]);
//!   an `enrolment` of the person clears it.
//! - **Last seen.** A `grant`, a `denial` naming a person, an `override` and a `rollcall_counted` record
//!   where and when the person was last seen ([`Seen`]).
//! - **People not registered** (entries written before registrations were recorded, or a ledger that
//!   names someone it never registered) are tolerated: they are placed and seen as they come, counted in
//!   the zone totals as [`ZoneCount::unregistered`], listed by [`Census::unregistered`], and never on a
//!   roster. [`Census::person`] knows registered people only.
//! - **Headcount.** `inside` is everyone with a zone; each zone's count is split by category. The list of
//!   inmates out of the facility holds every inmate who is not gone and either has no zone or has a
//!   status that is away (court, hospital, work party), even if the last passage left them inside.
//! - **Roll-calls.** `rollcall_started` takes the roster ([`Census::roster`] of its zones) at that point
//!   of the fold, with each person's zone then; a second start of the same id is ignored. While it is
//!   open, a person is counted by a `rollcall_counted` naming it, and by the lanes: a `grant` (in its
//!   `from_zone`), a `denial` naming a person or an `override` (both in the lane's `from_zone` from the
//!   lane map; an unknown lane counts nobody) in one of the roll-call's zones counts the person
//!   `by = "lane:<lane id>"`; registered staff and visitors are not counted by lanes, as they are on no
//!   roster. The first count of a person is kept; a later one flags the person once as a duplicate. A
//!   count of someone not on the roster, or in another zone than their roster zone, is also listed as
//!   out of zone. Counts for a closed or unknown roll-call are ignored. `rollcall_recount` of an open
//!   roll-call sets counts, duplicates and out-of-zone aside and keeps the roster; `rollcall_closed`
//!   closes an open roll-call with the supervisor's figures and remark.
//! - **Epochs.** A restored appliance continues an earlier log in a new one ([`crate::ledger::epochs`]):
//!   the earlier epochs' entries are folded first, then [`Census::begin_epoch`] expects seq 0 of the new
//!   log. Who is where, statuses, roll-calls and alarms carry over; grants still pending are dropped (their
//!   passage would have been in the lost log) and the lanes' recent scans start afresh. Seqs kept from an
//!   earlier epoch (last seen, alarms) name entries of that epoch's log.
//! - **Alarms** are listed as they come; the last [`MAX_ALARMS`] are kept.
//! - **History.** After each entry that changes the inside total, the entry's time and the new total are
//!   recorded; the last [`MAX_HISTORY`] points are kept.
//! - **Scans** ([`scans`]): each lane's last grants and denials, with the override before one and how
//!   its passage ended.
//!
//! Memory stays bounded over years of entries: alarms and history are capped, and only the last
//! [`KEPT_CLOSED_ROLLCALLS`] closed roll-calls keep their roster and counts (older ones stay listed by
//! [`Census::rollcalls`] with their figures).

pub mod live;
mod rollcall;
pub mod scans;
#[cfg(test)]
mod tests;
mod views;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::ledger::entry::{Entry, Event, Registration, RollcallClosed, StatusChange};
use crate::people::{Category, Status};
use rollcall::Rollcall;
use scans::Scans;

pub use rollcall::{Closed, Count, Missing, OutOfZone, RollcallState, RollcallSummary, RollcallView};
pub use scans::Scan;
pub use views::{AlarmRecord, Away, Headcount, PersonState, Seen, Unregistered, ZoneCount};

/// How many alarms are kept.
pub const MAX_ALARMS: usize = 1000;
/// How many points of the inside total are kept.
pub const MAX_HISTORY: usize = 2000;
/// How many closed roll-calls keep their roster and counts.
pub const KEPT_CLOSED_ROLLCALLS: usize = 32;

/// Errors of the census.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CensusError {
    /// An entry came out of sequence; the census is unchanged.
    #[error("entry {got} came where entry {expected} was expected")]
    OutOfOrder {
        /// The seq the census waits for.
        expected: u64,
        /// The seq it was given.
        got: u64,
    },
}

/// A grant waiting for its passage or timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    person: String,
    to_zone: String,
}

/// The fold of the ledger: see the module documentation for its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Census {
    /// Zone id of outside the facility.
    outside: String,
    /// Lane id → (from_zone, to_zone), to place people identified at a lane.
    lanes: HashMap<String, (String, String)>,
    next_seq: u64,
    /// Registered people; a BTreeMap so listings come sorted.
    people: BTreeMap<String, PersonState>,
    /// People named but never registered.
    unregistered: BTreeMap<String, Unregistered>,
    /// Zone → the ids of everyone in it (registered or not). Zones with nobody are removed.
    occupants: BTreeMap<String, BTreeSet<String>>,
    /// Everyone with a zone: the sum of `occupants`' sizes.
    inside: u64,
    /// Grants by seq, until their passage or timeout.
    pending: HashMap<u64, Pending>,
    /// Every roll-call, in the order started.
    rollcalls: Vec<Rollcall>,
    /// Roll-call id → index in `rollcalls`.
    rollcall_index: HashMap<String, usize>,
    /// Indices of open roll-calls, in the order started.
    open: Vec<usize>,
    /// Indices of closed roll-calls that still have their details, in the order closed.
    detailed_closed: VecDeque<usize>,
    /// Alarms, oldest first (trimmed in batches; see [`Bounded`]).
    alarms: Bounded<AlarmRecord>,
    /// (time, inside) after each change of `inside`.
    history: Bounded<(String, u64)>,
    /// Each lane's recent scans.
    scans: Scans,
}

/// A list that keeps at least its last `cap` items, dropping older ones in batches so that each push is
/// amortised O(1) and the kept ones stay one slice.
#[derive(Debug, Clone, PartialEq)]
struct Bounded<T> {
    items: Vec<T>,
    cap: usize,
}

impl<T> Bounded<T> {
    fn new(cap: usize) -> Self {
        Bounded { items: Vec::new(), cap }
    }

    fn push(&mut self, item: T) {
        if self.items.len() >= 2 * self.cap {
            self.items.drain(..self.items.len() - self.cap);
        }
        self.items.push(item);
    }

    /// The last `cap` items, oldest first.
    fn kept(&self) -> &[T] {
        &self.items[self.items.len().saturating_sub(self.cap)..]
    }
}

impl Census {
    /// An empty census, waiting for entry 0. `outside` is the zone id of outside the facility; `lanes`
    /// maps each lane id to its (from_zone, to_zone), to place people identified at a lane (denials and
    /// overrides name only the lane).
    pub fn new(outside: &str, lanes: HashMap<String, (String, String)>) -> Census {
        Census {
            outside: outside.to_owned(),
            lanes,
            next_seq: 0,
            people: BTreeMap::new(),
            unregistered: BTreeMap::new(),
            occupants: BTreeMap::new(),
            inside: 0,
            pending: HashMap::new(),
            rollcalls: Vec::new(),
            rollcall_index: HashMap::new(),
            open: Vec::new(),
            detailed_closed: VecDeque::new(),
            alarms: Bounded::new(MAX_ALARMS),
            history: Bounded::new(MAX_HISTORY),
            scans: Scans::default(),
        }
    }

    /// Applies the next entry. An entry whose seq is not [`Census::next_seq`] is refused and changes
    /// nothing; any other entry is folded in (nothing else is an error: unknown people, lanes, grants and
    /// roll-calls are tolerated as the module documentation says).
    pub fn apply(&mut self, entry: &Entry) -> Result<(), CensusError> {
        let (seq, time) = (entry.stamp.seq, entry.stamp.time.as_str());
        if seq != self.next_seq {
            return Err(CensusError::OutOfOrder { expected: self.next_seq, got: seq });
        }
        let inside_before = self.inside;
        self.scans.apply(seq, time, &entry.event);
        match &entry.event {
            Event::Registration(r) => self.register(r, time),
            Event::Grant(g) => {
                self.pending.insert(seq, Pending { person: g.person.clone(), to_zone: g.to_zone.clone() });
                self.see(&g.person, seq, time, "grant", &g.lane, Some(&g.from_zone));
                self.lane_count(&g.person, &g.from_zone, &g.lane, seq);
            }
            Event::Denial(d) => {
                if let Some(person) = &d.person {
                    self.seen_at_lane(person, seq, time, "denial", &d.lane);
                }
            }
            Event::Override(o) => self.seen_at_lane(&o.person, seq, time, "override", &o.lane),
            Event::Passage(p) => {
                if let Some(grant) = self.pending.remove(&p.grant) {
                    self.place(&grant.person, Some(&grant.to_zone));
                }
            }
            Event::PassageTimeout(t) => {
                self.pending.remove(&t.grant);
            }
            Event::StatusChange(s) => self.change_status(s, time),
            Event::TemplatesDeleted(d) => {
                if let Some(p) = self.people.get_mut(&d.person) {
                    p.templates_deleted = Some(time.to_owned());
                }
            }
            Event::Enrolment(e) => {
                if let Some(p) = self.people.get_mut(&e.person) {
                    p.templates_deleted = None;
                }
            }
            Event::RollcallStarted(r) => {
                if !self.rollcall_index.contains_key(&r.rollcall) {
                    let roster = self.roster_zones(&r.zones);
                    let index = self.rollcalls.len();
                    self.rollcalls.push(Rollcall::start(r, time, roster));
                    self.rollcall_index.insert(r.rollcall.clone(), index);
                    self.open.push(index);
                }
            }
            Event::RollcallCounted(c) => {
                let seen = Seen {
                    seq,
                    time: time.to_owned(),
                    kind: "rollcall_counted",
                    lane: None,
                    zone: Some(c.zone.clone()),
                };
                self.set_seen(&c.person, seen);
                if let Some(rollcall) = self.open_rollcall_mut(&c.rollcall) {
                    rollcall.count(&c.person, &c.zone, &c.by, seq);
                }
            }
            Event::RollcallRecount(r) => {
                if let Some(rollcall) = self.open_rollcall_mut(&r.rollcall) {
                    rollcall.recount();
                }
            }
            Event::RollcallClosed(c) => self.close_rollcall(c, time),
            Event::Alarm(a) => self.alarms.push(AlarmRecord {
                seq,
                time: time.to_owned(),
                code: a.code.clone(),
                detail: a.detail.clone(),
                source: a.source.clone(),
            }),
            Event::Boot(_)
            | Event::Shutdown(_)
            | Event::ClockChange(_)
            | Event::KeyRotation(_)
            | Event::Note(_)
            | Event::Epoch(_)
            | Event::OffsiteCopy(_) => {}
        }
        if self.inside != inside_before {
            self.history.push((time.to_owned(), self.inside));
        }
        self.next_seq += 1;
        Ok(())
    }

    /// Continues the fold in the log of a new epoch: the next entry expected is its seq 0 (see the
    /// module documentation, Epochs).
    pub fn begin_epoch(&mut self) {
        self.next_seq = 0;
        self.pending.clear();
        self.scans = Scans::default();
    }

    /// The seq of the entry the census waits for (the number of entries applied).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The zone id of outside the facility, as given to [`Census::new`].
    pub fn outside(&self) -> &str {
        &self.outside
    }

    /// A registered person.
    pub fn person(&self, id: &str) -> Option<&PersonState> {
        self.people.get(id)
    }

    /// Every registered person, by id.
    pub fn people(&self) -> impl Iterator<Item = (&str, &PersonState)> {
        self.people.iter().map(|(id, p)| (id.as_str(), p))
    }

    /// Everyone named by entries but never registered, by id.
    pub fn unregistered(&self) -> impl Iterator<Item = (&str, &Unregistered)> {
        self.unregistered.iter().map(|(id, p)| (id.as_str(), p))
    }

    /// The live headcount.
    pub fn headcount(&self) -> Headcount {
        let zones = self
            .occupants
            .iter()
            .map(|(zone, ids)| {
                let mut by_category = BTreeMap::new();
                let mut unregistered = 0;
                for id in ids {
                    match self.people.get(id) {
                        Some(p) => *by_category.entry(p.category).or_insert(0) += 1,
                        None => unregistered += 1,
                    }
                }
                ZoneCount { zone: zone.clone(), total: ids.len() as u64, by_category, unregistered }
            })
            .collect();
        let out_of_facility = self
            .people
            .iter()
            .filter(|(_, p)| {
                p.category == Category::Inmate && !p.status.is_gone() && (p.zone.is_none() || p.status.is_away())
            })
            .map(|(id, p)| Away {
                person: id.clone(),
                category: p.category,
                status: p.status,
                reason: p.status_reason.clone(),
                since: p.status_since.clone(),
            })
            .collect();
        Headcount { inside: self.inside, zones, out_of_facility }
    }

    /// The ids of everyone in `zone`, sorted (none for the outside zone, which is not a zone).
    pub fn occupants(&self, zone: &str) -> Vec<&str> {
        self.occupants.get(zone).map(|ids| ids.iter().map(String::as_str).collect()).unwrap_or_default()
    }

    /// The roll-call roster of `zones`: the inmates in custody whose zone is one of them, sorted.
    pub fn roster(&self, zones: &[String]) -> Vec<String> {
        self.roster_zones(zones).into_keys().collect()
    }

    /// One roll-call, with its roster and counts; `None` when unknown, or closed so long ago that only
    /// its summary is kept (see [`KEPT_CLOSED_ROLLCALLS`]).
    pub fn rollcall(&self, id: &str) -> Option<RollcallView> {
        self.rollcall_index.get(id).and_then(|&i| self.rollcalls[i].view())
    }

    /// Every roll-call, most recently started first.
    pub fn rollcalls(&self) -> Vec<RollcallSummary> {
        self.rollcalls.iter().rev().map(Rollcall::summary).collect()
    }

    /// The ids of the open roll-calls, in the order started.
    pub fn open_rollcalls(&self) -> Vec<&str> {
        self.open.iter().map(|&i| self.rollcalls[i].id()).collect()
    }

    /// The last `limit` alarms (at most [`MAX_ALARMS`]), most recent first.
    pub fn alarms(&self, limit: usize) -> Vec<AlarmRecord> {
        self.alarms.kept().iter().rev().take(limit).cloned().collect()
    }

    /// A lane's recent scans, newest first (the last [`scans::KEPT`]).
    pub fn scans(&self, lane: &str) -> Vec<Scan> {
        self.scans.of(lane)
    }

    /// (time, inside total) after each change of the inside total, oldest first; the last
    /// [`MAX_HISTORY`] points.
    pub fn history(&self) -> &[(String, u64)] {
        self.history.kept()
    }

    /// The roster of `zones`, with each person's zone.
    fn roster_zones(&self, zones: &[String]) -> BTreeMap<String, String> {
        let mut roster = BTreeMap::new();
        for zone in zones {
            for id in self.occupants.get(zone).into_iter().flatten() {
                let on_roster = self
                    .people
                    .get(id)
                    .is_some_and(|p| p.category == Category::Inmate && p.status == Status::InCustody);
                if on_roster {
                    roster.insert(id.clone(), zone.clone());
                }
            }
        }
        roster
    }

    fn register(&mut self, r: &Registration, time: &str) {
        if let Some(category) = Category::parse(&r.category) {
            let before = self.unregistered.remove(&r.person);
            let person = self.people.entry(r.person.clone()).or_insert_with(|| PersonState {
                category,
                status: Status::initial(category),
                status_reason: None,
                status_since: None,
                zone: before.as_ref().and_then(|b| b.zone.clone()),
                last_seen: before.and_then(|b| b.last_seen),
                templates_deleted: None,
            });
            person.category = category;
            person.status = Status::initial(category);
            person.status_reason = None;
            person.status_since = Some(time.to_owned());
        }
        self.place(&r.person, r.zone.as_deref());
    }

    fn change_status(&mut self, s: &StatusChange, time: &str) {
        let Some(to) = Status::parse(&s.to) else { return };
        if let Some(person) = self.people.get_mut(&s.person) {
            person.status = to;
            person.status_reason = Some(s.reason.clone());
            person.status_since = Some(time.to_owned());
        }
        if to.is_gone() {
            self.place(&s.person, None);
        }
    }

    /// Moves a person to `zone` (the outside zone and `None` both mean out of the facility), keeping
    /// the occupants and the inside total in step. An unknown person is taken as unregistered.
    fn place(&mut self, person: &str, zone: Option<&str>) {
        let zone = zone.filter(|z| *z != self.outside);
        let slot = if let Some(p) = self.people.get_mut(person) {
            &mut p.zone
        } else if let Some(u) = self.unregistered.get_mut(person) {
            &mut u.zone
        } else if zone.is_some() {
            let u = self.unregistered.entry(person.to_owned()).or_insert(Unregistered { zone: None, last_seen: None });
            &mut u.zone
        } else {
            return;
        };
        if slot.as_deref() == zone {
            return;
        }
        let old = std::mem::replace(slot, zone.map(str::to_owned));
        if let Some(old) = old {
            if let Some(ids) = self.occupants.get_mut(&old) {
                ids.remove(person);
                if ids.is_empty() {
                    self.occupants.remove(&old);
                }
            }
            self.inside -= 1;
        }
        if let Some(zone) = zone {
            self.occupants.entry(zone.to_owned()).or_default().insert(person.to_owned());
            self.inside += 1;
        }
    }

    fn set_seen(&mut self, person: &str, seen: Seen) {
        let slot = match self.people.get_mut(person) {
            Some(p) => &mut p.last_seen,
            None => {
                &mut self
                    .unregistered
                    .entry(person.to_owned())
                    .or_insert(Unregistered { zone: None, last_seen: None })
                    .last_seen
            }
        };
        *slot = Some(seen);
    }

    fn see(&mut self, person: &str, seq: u64, time: &str, kind: &'static str, lane: &str, zone: Option<&str>) {
        let seen =
            Seen { seq, time: time.to_owned(), kind, lane: Some(lane.to_owned()), zone: zone.map(str::to_owned) };
        self.set_seen(person, seen);
    }

    /// A denial or an override: seen at the lane, and counted in the lane's `from_zone` when known.
    fn seen_at_lane(&mut self, person: &str, seq: u64, time: &str, kind: &'static str, lane: &str) {
        let from = self.lanes.get(lane).map(|(from, _)| from.clone());
        self.see(person, seq, time, kind, lane, from.as_deref());
        if let Some(from) = from {
            self.lane_count(person, &from, lane, seq);
        }
    }

    /// Counts a person seen at a lane in every open roll-call of `zone`.
    fn lane_count(&mut self, person: &str, zone: &str, lane: &str, seq: u64) {
        if self.open.is_empty() || self.people.get(person).is_some_and(|p| p.category != Category::Inmate) {
            return;
        }
        let by = format!("lane:{lane}");
        for &i in &self.open {
            let rollcall = &mut self.rollcalls[i];
            if rollcall.covers(zone) {
                rollcall.count(person, zone, &by, seq);
            }
        }
    }

    fn open_rollcall_mut(&mut self, id: &str) -> Option<&mut Rollcall> {
        let &i = self.rollcall_index.get(id)?;
        let rollcall = &mut self.rollcalls[i];
        rollcall.is_open().then_some(rollcall)
    }

    fn close_rollcall(&mut self, c: &RollcallClosed, time: &str) {
        let Some(&i) = self.rollcall_index.get(&c.rollcall) else { return };
        if !self.rollcalls[i].is_open() {
            return;
        }
        self.rollcalls[i].close(Closed {
            time: time.to_owned(),
            supervisor: c.supervisor.clone(),
            counted: c.counted,
            missing: c.missing,
            remark: c.remark.clone(),
        });
        self.open.retain(|&o| o != i);
        self.detailed_closed.push_back(i);
        if self.detailed_closed.len() > KEPT_CLOSED_ROLLCALLS
            && let Some(old) = self.detailed_closed.pop_front()
        {
            self.rollcalls[old].forget_details();
        }
    }
}
