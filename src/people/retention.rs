//! Retention: the biometric data of people who have left is deleted once the configured period since
//! their release is over (`[retention]`, [`RetentionSetting`]). This file is the rule: a fold over the
//! ledger ([`Facts`]) and the plan it gives at a given time ([`plan`]); pure, no I/O. Carrying it out —
//! record first, then delete — is [`purge`]'s.
//!
//! # Who, and from when
//! - **Release.** The period begins at the `status_change` entry that takes a person to `released`,
//!   `transferred` or `deceased`: the statuses that end the facility's charge for good
//!   ([`starts_retention`]). `escaped` does not: an escaped inmate must stay identifiable. A further change
//!   between those statuses (released, then deceased) does not restart the period.
//! - **Return.** A `status_change` to any other status (back in custody), or a new `registration` of the
//!   id (re-admission), ends the release: nothing is deleted, and a later release starts a new period.
//! - **The ledger decides**, not the register: the time of release is the release entry's `time`, and a
//!   deletion already done is a `templates_deleted` entry naming that release's seq.
//!
//! # The clock
//! The period is measured as the appliance's wall clock now, minus the release entry's time, minus the
//! sum of every `clock_change` recorded after the release. The ledger writer records a `clock_change`
//! whenever the wall clock moves against the monotonic clock within a boot (it checks every 10 s, and
//! the purge checks once more before it measures), so a clock set forward by a year while running does
//! not make a year pass here, and a release stamped by a clock that was wrong and then corrected is
//! measured from the corrected time. What the ledger cannot see is a clock set forward while the
//! appliance was off (a bad RTC at boot): that gap looks like time the appliance was switched off.
//! (`tally doctor` reports a clock behind the ledger's latest entry, not one ahead.) Every
//! `templates_deleted` entry carries the time it was written and the seq of the release, and the
//! `boot` entries show when the appliance was off, so an auditor can see a deletion that came early. A period of `0d` deletes at the next run after
//! the release whatever the clock says.
//!
//! # Crash and repetition
//! Each finger is *covered* when a `templates_deleted` entry for the person's current release names it,
//! and no `enrolment` of that finger came after that entry. A stored template that is covered was
//! recorded and not yet deleted (a crash between the two): it is deleted without a second entry. A stored
//! template that is not covered gets a new entry first. The photo is covered when such an entry says
//! `photo: true`.

pub mod purge;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use super::Status;
use crate::clock;
use crate::config::RetentionSetting;
use crate::ledger::entry::{Entry, Event, TemplatesDeleted};
use crate::store::retention::Holdings;

/// The `reason` of the `templates_deleted` entries this rule writes.
pub const REASON: &str = "retention";
/// Milliseconds in a day.
const DAY_MS: i128 = 86_400_000;

/// Whether a status change to `s` begins the retention period: the statuses that end the facility's
/// charge for good. Escaped is not one (the person must stay identifiable).
pub fn starts_retention(s: Status) -> bool {
    matches!(s, Status::Released | Status::Transferred | Status::Deceased)
}

/// The entry that began a person's retention period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Its seq.
    pub seq: u64,
    /// Its wall-clock time, as written.
    pub time: String,
    /// The status it set.
    pub status: Status,
}

/// A `templates_deleted` entry for the current release.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    seq: u64,
    fingers: Vec<u8>,
    photo: bool,
}

#[derive(Debug, Clone, Default)]
struct PersonFacts {
    release: Option<Release>,
    /// Finger → seq of its last enrolment.
    enrolled: HashMap<u8, u64>,
    /// Deletions recorded for `release`.
    recorded: Vec<Recorded>,
}

impl PersonFacts {
    fn returned(&mut self) {
        self.release = None;
        self.recorded.clear();
    }
}

/// What the ledger says for the rule: each person's current release and the deletions recorded for
/// it, each finger's last enrolment, and the clock changes. Fed the entries of
/// [`crate::store::retention::RETENTION_KINDS`] in sequence order (other kinds are ignored).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    people: BTreeMap<String, PersonFacts>,
    /// (seq, delta_ms) of every `clock_change`.
    clock_changes: Vec<(u64, i64)>,
    /// Seq of the last `templates_deleted` entry, whoever it names.
    last_recorded: Option<u64>,
}

impl Facts {
    /// Folds one entry in.
    pub fn apply(&mut self, entry: &Entry) {
        let seq = entry.stamp.seq;
        match &entry.event {
            Event::Registration(r) => self.person(&r.person).returned(),
            Event::StatusChange(c) => {
                let p = self.person(&c.person);
                match Status::parse(&c.to) {
                    Some(s) if starts_retention(s) && p.release.is_none() => {
                        p.release = Some(Release { seq, time: entry.stamp.time.clone(), status: s });
                    }
                    // Released, then deceased: the period runs from the release.
                    Some(s) if starts_retention(s) => {}
                    Some(_) => p.returned(),
                    // A status this version does not know changes nothing (as in the census).
                    None => {}
                }
            }
            Event::Enrolment(e) => {
                let p = self.person(&e.person);
                for f in &e.fingers {
                    p.enrolled.insert(*f, seq);
                }
            }
            Event::TemplatesDeleted(d) => {
                self.last_recorded = Some(seq);
                let p = self.person(&d.person);
                if p.release.as_ref().is_some_and(|r| r.seq == d.release) {
                    p.recorded.push(Recorded { seq, fingers: d.fingers.clone(), photo: d.photo });
                }
            }
            Event::ClockChange(c) => self.clock_changes.push((seq, c.delta_ms)),
            _ => {}
        }
    }

    fn person(&mut self, id: &str) -> &mut PersonFacts {
        self.people.entry(id.to_owned()).or_default()
    }

    /// Seq of the last `templates_deleted` entry folded: what a purge expects to still be the last when
    /// it records ([`crate::ledger::Ledger::append_if_last`]).
    pub fn last_recorded(&self) -> Option<u64> {
        self.last_recorded
    }

    /// The release of `person`, if their current status began a retention period.
    pub fn release_of(&self, person: &str) -> Option<&Release> {
        self.people.get(person).and_then(|p| p.release.as_ref())
    }

    /// Milliseconds since `release` at `now`: the wall clock's difference less every clock change
    /// recorded after the release (see the module docs). `None` when the release time does not parse.
    pub fn elapsed_ms(&self, release: &Release, now: SystemTime) -> Option<i128> {
        let then = clock::parse_rfc3339(&release.time)?;
        let jumps: i128 =
            self.clock_changes.iter().filter(|(seq, _)| *seq > release.seq).map(|(_, d)| *d as i128).sum();
        Some(signed_ms(now) - signed_ms(then) - jumps)
    }
}

fn signed_ms(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

/// Whether a period of `days` is over after `elapsed_ms` (`0d`: always).
fn over(days: Option<u32>, elapsed_ms: i128) -> bool {
    match days {
        None => false,
        Some(0) => true,
        Some(d) => elapsed_ms >= i128::from(d) * DAY_MS,
    }
}

/// What the rule asks for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Person id.
    pub person: String,
    /// The release that began the period.
    pub release: Release,
    /// Whole days since the release, as measured (see the module docs).
    pub elapsed_days: i64,
    /// Fingers to record in a new `templates_deleted` entry, then delete.
    pub record_fingers: Vec<u8>,
    /// Whether the photo is to be recorded, then deleted.
    pub record_photo: bool,
    /// Fingers whose deletion is recorded already (a run that stopped between the two): delete only.
    pub finish_fingers: Vec<u8>,
    /// Whether the photo's deletion is recorded already: delete only.
    pub finish_photo: bool,
    /// The last `templates_deleted` entry recorded for this release before this run, if any.
    pub recorded_in: Option<u64>,
}

impl Action {
    /// Whether a new entry is to be written.
    pub fn records(&self) -> bool {
        !self.record_fingers.is_empty() || self.record_photo
    }

    /// Every finger to delete from the store, in order.
    pub fn fingers(&self) -> Vec<u8> {
        let mut all: Vec<u8> = self.record_fingers.iter().chain(&self.finish_fingers).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Whether the photo is to be deleted.
    pub fn photo(&self) -> bool {
        self.record_photo || self.finish_photo
    }

    /// The entry to write first, when one is.
    pub fn event(&self) -> Option<Event> {
        self.records().then(|| {
            Event::TemplatesDeleted(TemplatesDeleted {
                fingers: self.record_fingers.clone(),
                person: self.person.clone(),
                photo: self.record_photo,
                reason: REASON.to_owned(),
                release: self.release.seq,
            })
        })
    }
}

/// The rule's answer at one time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What to delete, by person id.
    pub actions: Vec<Action>,
    /// Everyone whose templates' period is over, with or without something left to delete in the
    /// store: none of their templates may stay in an identification gallery.
    pub expired: Vec<String>,
    /// [`Facts::last_recorded`] of the facts planned from.
    pub last_recorded: Option<u64>,
}

/// Applies the rule at `now`: for each released person whose templates' or photo's period is over, asks
/// `holdings` what the register still holds (only for them) and decides what to record and delete.
pub fn plan<E>(
    facts: &Facts,
    setting: &RetentionSetting,
    now: SystemTime,
    mut holdings: impl FnMut(&str) -> Result<Holdings, E>,
) -> Result<Plan, E> {
    let mut out = Plan { last_recorded: facts.last_recorded, ..Plan::default() };
    for (person, p) in &facts.people {
        let Some(release) = &p.release else { continue };
        let Some(elapsed) = facts.elapsed_ms(release, now) else { continue };
        let (templates_due, photo_due) =
            (over(setting.templates_after_release, elapsed), over(setting.photos_after_release, elapsed));
        if templates_due {
            out.expired.push(person.clone());
        }
        if !templates_due && !photo_due {
            continue;
        }
        let held = holdings(person)?;
        let covered = |finger: u8| {
            let enrolled = p.enrolled.get(&finger).copied();
            p.recorded.iter().any(|r| r.fingers.contains(&finger) && enrolled.is_none_or(|e| e < r.seq))
        };
        let mut action = Action {
            person: person.clone(),
            release: release.clone(),
            elapsed_days: i64::try_from(elapsed.div_euclid(DAY_MS)).unwrap_or(i64::MAX),
            record_fingers: Vec::new(),
            record_photo: false,
            finish_fingers: Vec::new(),
            finish_photo: false,
            recorded_in: p.recorded.last().map(|r| r.seq),
        };
        if templates_due {
            for finger in held.fingers {
                if covered(finger) {
                    action.finish_fingers.push(finger);
                } else {
                    action.record_fingers.push(finger);
                }
            }
        }
        if photo_due && held.photo {
            if p.recorded.iter().any(|r| r.photo) {
                action.finish_photo = true;
            } else {
                action.record_photo = true;
            }
        }
        if !action.fingers().is_empty() || action.photo() {
            out.actions.push(action);
        }
    }
    Ok(out)
}
