//! The views of people and counts the census hands out (a person's state, the headcount, alarms): plain
//! serialisable data, built by [`super::Census`] and owned by the caller. Roll-call views live with the
//! roll-calls ([`super::rollcall`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::people::{Category, Status};

/// Where and when a person was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// Seq of the entry that saw them.
    pub seq: u64,
    /// Its time (RFC 3339, as written).
    pub time: String,
    /// Its kind: `grant`, `denial`, `override` or `rollcall_counted`.
    pub kind: &'static str,
    /// The lane, for a grant, a denial or an override.
    pub lane: Option<String>,
    /// The zone they were seen in, when known (a grant's `from_zone`, a lane's `from_zone`, the zone of a
    /// roll-call count).
    pub zone: Option<String>,
}

/// What the census knows of a registered person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonState {
    /// Category, from the last registration.
    pub category: Category,
    /// Custody or duty status.
    pub status: Status,
    /// Reason given with the last status change (`None` since registration).
    pub status_reason: Option<String>,
    /// When the status began: the time of the last status change, or of the registration.
    pub status_since: Option<String>,
    /// Zone the person is in; `None` when outside the facility or gone.
    pub zone: Option<String>,
    /// Where and when last seen at a lane or a roll-call.
    pub last_seen: Option<Seen>,
    /// When the retention rule last recorded the deletion of the person's templates or photo (the
    /// `templates_deleted` entry's time); `None` again once a finger is enrolled.
    pub templates_deleted: Option<String>,
}

/// What the census knows of a person named by entries but never registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unregistered {
    /// Zone the person is in; `None` when outside the facility or gone.
    pub zone: Option<String>,
    /// Where and when last seen.
    pub last_seen: Option<Seen>,
}

/// The people in one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneCount {
    /// Zone id.
    pub zone: String,
    /// Everyone in it.
    pub total: u64,
    /// Registered people by category (categories with nobody are left out).
    pub by_category: BTreeMap<Category, u64>,
    /// People never registered (counted in `total`, in no category).
    pub unregistered: u64,
}

/// An inmate out of the facility, or lawfully away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Away {
    /// Person id.
    pub person: String,
    /// Category (always inmate today).
    pub category: Category,
    /// Status.
    pub status: Status,
    /// Reason given with the last status change.
    pub reason: Option<String>,
    /// When the status began.
    pub since: Option<String>,
}

/// The live headcount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Headcount {
    /// Everyone inside the facility.
    pub inside: u64,
    /// Each zone with someone in it, by zone id.
    pub zones: Vec<ZoneCount>,
    /// Inmates not gone who are outside or away, by person id.
    pub out_of_facility: Vec<Away>,
}

/// A recorded alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmRecord {
    /// Seq of its entry.
    pub seq: u64,
    /// Its time.
    pub time: String,
    /// Stable code.
    pub code: String,
    /// Human-readable detail.
    pub detail: String,
    /// What raised it.
    pub source: String,
}
