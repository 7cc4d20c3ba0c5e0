//! The access decision: whether an identified person may make the movement a lane leads, and which alarms
//! the attempt raises. Pure computation — no I/O and no clock: the caller passes the time, the person's
//! status and where the census places them. It owns the order of the checks below; the rules are
//! configuration ([`crate::config::access`]), where a person is belongs to the census, and what is done
//! with a decision (ledger entry, turnstile, guard screen) belongs to the gate.
//!
//! # The checks, in order
//! 1. **Status.** A person who is gone ([`Status::is_gone`]) is denied (`"status"`) and raises
//!    `escaped_person_seen` (escaped) or `released_person_seen` (released, transferred, deceased).
//! 2. **Registration.** A person the census does not know is denied (`"not_registered"`).
//! 3. **Access.** A rule allows the movement when it names the person's category or id, its zones hold
//!    the destination (`to_zone`), and the local time (UTC plus the configured offset) is within its days
//!    and hours; a window that wraps midnight belongs to the day it starts on. An inmate who is lawfully
//!    away ([`Status::is_away`]: court, hospital, work party) may always go to the outside. When no rule
//!    allows the zone the person is denied (`"no_access"`); when one does but not now, `"outside_hours"`.
//! 4. **Anti-passback.** The person's zone is where the census places them, the outside when it places
//!    them nowhere. When it is not the lane's `from_zone`: in hard mode the person is denied
//!    (`"anti_passback"`); in soft mode granted with an `anti_passback` alarm; off, nothing happens.
//! 5. **Duress.** A person identified by a duress finger raises a `duress` alarm whatever the decision,
//!    and the decision is left as it is: the lane opens normally, so the one forcing them sees nothing.
//!
//! Alarm details name the person by id, with status, zones and lane; never by name, never with biometric
//! data.

use time::{OffsetDateTime, UtcOffset, Weekday};

use crate::config::{AntiPassback, Config, Hours, RuleSetting, ZoneSet, ZoneSetting};
use crate::people::{Category, Status};

/// Who is at the lane, as identification and the census know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// Person id.
    pub person: &'a str,
    /// What the person is to the prison.
    pub category: Category,
    /// Current status.
    pub status: Status,
    /// Where the census last placed the person: `None` = outside or unknown.
    pub zone: Option<&'a str>,
    /// Whether the census knows the person at all (registered in the ledger).
    pub known: bool,
    /// Identified by a duress finger.
    pub duress: bool,
}

/// The movement a lane leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement<'a> {
    /// Lane id.
    pub lane: &'a str,
    /// The zone left.
    pub from_zone: &'a str,
    /// The zone entered.
    pub to_zone: &'a str,
}

/// An alarm raised by a decision, for the ledger and the guard screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAlarm {
    /// What happened: `escaped_person_seen`, `released_person_seen`, `anti_passback` or `duress`.
    pub code: &'static str,
    /// For people: person id, status, zones, lane; never names or biometric data.
    pub detail: String,
}

/// What the policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The movement is allowed.
    Grant {
        /// Alarms raised all the same (soft anti-passback, duress).
        alarms: Vec<PolicyAlarm>,
    },
    /// The movement is refused.
    Deny {
        /// Why: `status`, `not_registered`, `no_access`, `outside_hours` or `anti_passback`.
        reason: &'static str,
        /// Alarms raised (a gone person seen, duress).
        alarms: Vec<PolicyAlarm>,
    },
}

impl Decision {
    /// Whether the movement is allowed.
    pub fn is_grant(&self) -> bool {
        matches!(self, Decision::Grant { .. })
    }

    /// The alarms raised, either way.
    pub fn alarms(&self) -> &[PolicyAlarm] {
        match self {
            Decision::Grant { alarms } | Decision::Deny { alarms, .. } => alarms,
        }
    }
}

/// The access rules of one configuration, ready to decide.
#[derive(Debug, Clone)]
pub struct Policy {
    outside: String,
    utc_offset: UtcOffset,
    zones: Vec<ZoneSetting>,
    anti_passback: AntiPassback,
    rules: Vec<RuleSetting>,
}

impl Policy {
    /// The policy `config` describes.
    pub fn new(config: &Config) -> Policy {
        Policy {
            outside: config.outside.clone(),
            utc_offset: config.utc_offset,
            zones: config.zones.clone(),
            anti_passback: config.access.anti_passback,
            rules: config.access.rules.clone(),
        }
    }

    /// The id of the zone outside the walls.
    pub fn outside(&self) -> &str {
        &self.outside
    }

    /// The display name of zone `id`: its configured name, else the id itself.
    pub fn zone_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.zones.iter().find(|z| z.id == id).map_or(id, |z| z.name.as_str())
    }

    /// Decides whether `subject` may make `movement` at UTC time `now`.
    pub fn decide(&self, subject: &Subject<'_>, movement: &Movement<'_>, now: OffsetDateTime) -> Decision {
        let mut alarms = Vec::new();
        let verdict = self.verdict(subject, movement, now, &mut alarms);
        if subject.duress {
            alarms.push(PolicyAlarm {
                code: "duress",
                detail: format!("person {} identified by a duress finger at lane {}", subject.person, movement.lane),
            });
        }
        match verdict {
            Ok(()) => Decision::Grant { alarms },
            Err(reason) => Decision::Deny { reason, alarms },
        }
    }

    /// Checks 1 to 4; the reason of a denial.
    fn verdict(
        &self,
        subject: &Subject<'_>,
        movement: &Movement<'_>,
        now: OffsetDateTime,
        alarms: &mut Vec<PolicyAlarm>,
    ) -> Result<(), &'static str> {
        if subject.status.is_gone() {
            let code = if subject.status == Status::Escaped { "escaped_person_seen" } else { "released_person_seen" };
            let detail =
                format!("person {} ({}) seen at lane {}", subject.person, subject.status.as_str(), movement.lane);
            alarms.push(PolicyAlarm { code, detail });
            return Err("status");
        }
        if !subject.known {
            return Err("not_registered");
        }
        self.access(subject, movement, now)?;
        let here = subject.zone.unwrap_or(&self.outside);
        if here != movement.from_zone {
            match self.anti_passback {
                AntiPassback::Hard => return Err("anti_passback"),
                AntiPassback::Soft => alarms.push(PolicyAlarm {
                    code: "anti_passback",
                    detail: format!(
                        "person {} expected in zone {here}, seen at lane {} from zone {}",
                        subject.person, movement.lane, movement.from_zone
                    ),
                }),
                AntiPassback::Off => {}
            }
        }
        Ok(())
    }

    /// Check 3: whether some rule lets the subject into `to_zone` now.
    fn access(&self, subject: &Subject<'_>, movement: &Movement<'_>, now: OffsetDateTime) -> Result<(), &'static str> {
        if subject.category == Category::Inmate && subject.status.is_away() && movement.to_zone == self.outside {
            return Ok(());
        }
        let local = now.to_offset(self.utc_offset);
        let mut zone_allowed = false;
        for rule in &self.rules {
            let names = rule.categories.contains(&subject.category) || rule.people.iter().any(|p| p == subject.person);
            if !names || !self.holds(&rule.zones, movement.to_zone) {
                continue;
            }
            zone_allowed = true;
            if within(&rule.days, rule.hours, local) {
                return Ok(());
            }
        }
        Err(if zone_allowed { "outside_hours" } else { "no_access" })
    }

    fn holds(&self, zones: &ZoneSet, zone: &str) -> bool {
        match zones {
            ZoneSet::Every => true,
            ZoneSet::Inside => zone != self.outside,
            ZoneSet::Listed(ids) => ids.iter().any(|z| z == zone),
        }
    }
}

/// Whether local time `local` is within `days` and `hours`; the part of a window after midnight belongs to
/// the day before.
fn within(days: &[Weekday], hours: Option<Hours>, local: OffsetDateTime) -> bool {
    let day = local.weekday();
    let minute = u16::from(local.hour()) * 60 + u16::from(local.minute());
    match hours {
        None => days.contains(&day),
        Some(h) if h.start < h.end => days.contains(&day) && (h.start..h.end).contains(&minute),
        Some(h) => (minute >= h.start && days.contains(&day)) || (minute < h.end && days.contains(&day.previous())),
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
