//! Zones and access in the configuration: the zone outside the walls, the local time access windows are
//! read in, the facility's zones, and the rules of who may enter which zone when — parsed and checked
//! before anything runs. Deciding a movement with them is [`crate::policy`]'s, not this module's.
//!
//! ```toml
//! [facility]
//! outside = "outside"             # the zone beyond the walls (default "outside")
//! utc_offset = "+01:00"           # local time of the access windows (default "+00:00"); the clock is UTC
//!
//! [[zone]]                        # one per zone; "outside" is never declared
//! id = "reception"                # letters, digits, '.', '_', '-', like lane ids
//! name = "Reception"              # default: the id
//!
//! [access]
//! anti_passback = "hard"          # "hard", "soft" or "off" (default "hard")
//!
//! [[access.rule]]                 # a movement is allowed if any rule allows it
//! categories = ["staff"]          # any of "inmate", "staff", "visitor"
//! people = ["MKL-2026/0042"]      # and/or person ids
//! zones = ["*"]                   # destination zones; "*" is every zone, the outside included
//! days = ["mon", "tue", "wed", "thu", "fri"]   # default: every day
//! hours = "06:00-18:00"           # local; may wrap midnight ("22:00-06:00"); default: all day
//! ```
//! When no `[[zone]]` is declared, the zones are those the lanes name, unchecked. Once any is declared,
//! every lane and every rule must name a declared zone or the outside. When no rule is configured,
//! [`default_rules`] apply: staff and visitors may enter every zone, inmates every zone but the outside.
//!
//! An `hours` window that wraps midnight belongs to the day it starts on: `days = ["fri"]` with
//! `hours = "22:00-06:00"` covers Friday 22:00 to Saturday 06:00, not Friday 00:00–06:00. The offset is
//! fixed: where the law changes the clocks, `utc_offset` is changed with them.

use std::ops::Range;

use serde::Deserialize;
use time::{UtcOffset, Weekday};
use toml::Spanned;

use super::lanes::{LaneSetting, Refusal, id};
use crate::people::{Category, check_id};

/// Default id of the zone outside the walls.
pub const DEFAULT_OUTSIDE: &str = "outside";

/// The day names a rule's `days` takes, Monday first.
pub const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

/// A zone of the facility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSetting {
    /// Zone id, as lanes, rules, entries and the census name it.
    pub id: String,
    /// Display name for screens.
    pub name: String,
}

/// What is done when a person is seen at a lane that does not lead from the zone the census places them in
/// (a card or finger passed back, a tailgate, a missed passage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AntiPassback {
    /// Deny the movement.
    #[default]
    Hard,
    /// Allow it and raise an alarm.
    Soft,
    /// Do not check.
    Off,
}

impl AntiPassback {
    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            AntiPassback::Hard => "hard",
            AntiPassback::Soft => "soft",
            AntiPassback::Off => "off",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<AntiPassback> {
        [AntiPassback::Hard, AntiPassback::Soft, AntiPassback::Off].into_iter().find(|a| a.as_str() == s)
    }
}

/// The destination zones a rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSet {
    /// Every zone, the outside included (`"*"`).
    Every,
    /// Every zone but the outside (the default inmate rule; not written in a file).
    Inside,
    /// These zones (ids; the outside's id may be among them).
    Listed(Vec<String>),
}

/// A local time window, in minutes since local midnight, start included and end excluded.
/// When `end < start` the window wraps midnight and its part after midnight belongs to the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    /// First minute of the window, 0–1439.
    pub start: u16,
    /// First minute after the window, 0–1440 (1440 is "24:00"); never equal to `start`.
    pub end: u16,
}

/// One access rule, validated: who it is for, where it lets them go, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetting {
    /// The categories it is for.
    pub categories: Vec<Category>,
    /// The person ids it is for (besides the categories).
    pub people: Vec<String>,
    /// The destination zones it allows.
    pub zones: ZoneSet,
    /// The local days it applies on, Monday first; never empty.
    pub days: Vec<Weekday>,
    /// The local time window, or `None` for all day.
    pub hours: Option<Hours>,
}

/// Access control, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessSetting {
    /// What a movement from the wrong zone meets.
    pub anti_passback: AntiPassback,
    /// The rules; the configured ones, else [`default_rules`].
    pub rules: Vec<RuleSetting>,
}

impl Default for AccessSetting {
    fn default() -> Self {
        AccessSetting { anti_passback: AntiPassback::default(), rules: default_rules() }
    }
}

/// The rules when none is configured: staff and visitors may enter every zone at any time, inmates every zone
/// but the outside (an inmate who is lawfully away may always go out; see [`crate::policy`]).
pub fn default_rules() -> Vec<RuleSetting> {
    let rule = |category, zones| RuleSetting {
        categories: vec![category],
        people: Vec::new(),
        zones,
        days: DAY_NAMES.iter().map(|(_, d)| *d).collect(),
        hours: None,
    };
    vec![
        rule(Category::Staff, ZoneSet::Every),
        rule(Category::Inmate, ZoneSet::Inside),
        rule(Category::Visitor, ZoneSet::Every),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    id: Spanned<String>,
    name: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccess {
    anti_passback: Option<Spanned<String>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(default)]
    categories: Vec<Spanned<String>>,
    #[serde(default)]
    people: Vec<Spanned<String>>,
    zones: Spanned<Vec<Spanned<String>>>,
    days: Option<Spanned<Vec<Spanned<String>>>>,
    hours: Option<Spanned<String>>,
}

/// The id of the outside: the configured one or [`DEFAULT_OUTSIDE`].
pub(super) fn outside(v: Option<Spanned<String>>) -> Result<String, Refusal> {
    v.map_or(Ok(DEFAULT_OUTSIDE.into()), |v| id(v, "outside"))
}

/// The offset of local time: "+HH:MM" or "-HH:MM", from -12:00 to +14:00; UTC when absent.
pub(super) fn utc_offset(v: Option<Spanned<String>>) -> Result<UtcOffset, Refusal> {
    let Some(v) = v else { return Ok(UtcOffset::UTC) };
    parse_offset(v.get_ref()).ok_or_else(|| {
        (v.span(), format!("utc_offset {:?} is not an offset from -12:00 to +14:00 like \"+01:00\"", v.get_ref()))
    })
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let minutes = i32::from(clock_minutes(rest)?);
    let seconds = sign * minutes * 60;
    if !(-12 * 3600..=14 * 3600).contains(&seconds) {
        return None;
    }
    UtcOffset::from_whole_seconds(seconds).ok()
}

/// "HH:MM" (exactly five characters) as minutes since midnight; "24:00" is 1440.
fn clock_minutes(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    let digit = |k: usize| b.get(k).filter(|c| c.is_ascii_digit()).map(|c| u16::from(c - b'0'));
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let (h, m) = (digit(0)? * 10 + digit(1)?, digit(3)? * 10 + digit(4)?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

fn parse_hours(s: &str) -> Option<Hours> {
    let (start, end) = s.split_once('-')?;
    let (start, end) = (clock_minutes(start.trim())?, clock_minutes(end.trim())?);
    (start < 1440 && start != end).then_some(Hours { start, end })
}

fn check_name(v: &Spanned<String>, what: &str) -> Result<(), Refusal> {
    let n = v.get_ref();
    if n.trim().is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err((v.span(), format!("{what} must be 1 to 200 printable characters")));
    }
    Ok(())
}

/// The declared zones: valid, unique ids other than the outside's.
pub(super) fn declared_zones(raw: Vec<Spanned<RawZone>>, outside: &str) -> Result<Vec<ZoneSetting>, Refusal> {
    let mut zones: Vec<ZoneSetting> = Vec::new();
    for zone in raw {
        let zone = zone.into_inner();
        let span = zone.id.span();
        let zid = id(zone.id, "zone id")?;
        if zid == outside {
            return Err((span, format!("zone {zid} is the outside (facility.outside); it is not declared as a zone")));
        }
        if zones.iter().any(|z| z.id == zid) {
            return Err((span, format!("zone id {zid} is declared twice")));
        }
        let name = match zone.name {
            Some(n) => {
                check_name(&n, "zone name")?;
                n.into_inner()
            }
            None => zid.clone(),
        };
        zones.push(ZoneSetting { id: zid, name });
    }
    Ok(zones)
}

/// The zones when none is declared: those the lanes name, but the outside, sorted, each named by its id.
pub(super) fn lane_zones(lanes: &[LaneSetting], outside: &str) -> Vec<ZoneSetting> {
    let mut ids: Vec<&str> = lanes.iter().flat_map(|l| [l.from_zone.as_str(), l.to_zone.as_str()]).collect();
    ids.retain(|z| *z != outside);
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter().map(|z| ZoneSetting { id: z.into(), name: z.into() }).collect()
}

/// Checks that a lane leads between declared zones (or the outside); `spans` are its `from_zone` and
/// `to_zone` values.
pub(super) fn check_lane(
    lane: &LaneSetting,
    spans: &(Range<usize>, Range<usize>),
    zones: &[ZoneSetting],
    outside: &str,
) -> Result<(), Refusal> {
    for (zone, span, what) in [(&lane.from_zone, &spans.0, "from_zone"), (&lane.to_zone, &spans.1, "to_zone")] {
        if zone != outside && !zones.iter().any(|z| &z.id == zone) {
            return Err((
                span.clone(),
                format!("lane {} {what} {zone} is neither {outside} nor a declared [[zone]]", lane.id),
            ));
        }
    }
    Ok(())
}

impl RawAccess {
    /// Validates the access section; `zones` are the declared zones, if any (rules are then checked against
    /// them).
    pub(super) fn validate(self, zones: Option<&[ZoneSetting]>, outside: &str) -> Result<AccessSetting, Refusal> {
        let anti_passback = match self.anti_passback {
            None => AntiPassback::default(),
            Some(a) => AntiPassback::parse(a.get_ref()).ok_or_else(|| {
                (a.span(), format!("anti_passback {:?} is none of \"hard\", \"soft\" or \"off\"", a.get_ref()))
            })?,
        };
        if self.rule.is_empty() {
            return Ok(AccessSetting { anti_passback, rules: default_rules() });
        }
        let rules = self.rule.into_iter().map(|r| RawRule::validate(r, zones, outside)).collect::<Result<_, _>>()?;
        Ok(AccessSetting { anti_passback, rules })
    }
}

impl RawRule {
    /// Validates one rule; a rule for no one is refused at its `[[access.rule]]` line.
    fn validate(rule: Spanned<Self>, declared: Option<&[ZoneSetting]>, outside: &str) -> Result<RuleSetting, Refusal> {
        let rule_span = rule.span();
        let rule = rule.into_inner();
        if rule.categories.is_empty() && rule.people.is_empty() {
            return Err((rule_span, "an access rule names neither categories nor people".into()));
        }
        rule.checked(declared, outside)
    }

    /// Validates the rule's keys one by one.
    fn checked(self, declared: Option<&[ZoneSetting]>, outside: &str) -> Result<RuleSetting, Refusal> {
        let zones_span = self.zones.span();
        let mut categories = Vec::new();
        for c in self.categories {
            let category = Category::parse(c.get_ref()).ok_or_else(|| {
                (c.span(), format!("category {:?} is none of \"inmate\", \"staff\" or \"visitor\"", c.get_ref()))
            })?;
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
        let mut people: Vec<String> = Vec::new();
        for p in self.people {
            check_id(p.get_ref()).map_err(|e| (p.span(), format!("person id {:?}: {e}", p.get_ref())))?;
            if !people.contains(p.get_ref()) {
                people.push(p.into_inner());
            }
        }
        let raw_zones = self.zones.into_inner();
        if raw_zones.is_empty() {
            return Err((zones_span, "an access rule's zones is empty (\"*\" is every zone)".into()));
        }
        let zones = if raw_zones.iter().any(|z| z.get_ref() == "*") {
            if raw_zones.len() > 1 {
                return Err((zones_span, "\"*\" is every zone; it stands alone in zones".into()));
            }
            ZoneSet::Every
        } else {
            let mut listed: Vec<String> = Vec::new();
            for z in raw_zones {
                let span = z.span();
                let zone = id(z, "zone")?;
                let known = zone == outside || declared.is_none_or(|d| d.iter().any(|k| k.id == zone));
                if !known {
                    return Err((span, format!("zone {zone} is neither {outside} nor a declared [[zone]]")));
                }
                if !listed.contains(&zone) {
                    listed.push(zone);
                }
            }
            ZoneSet::Listed(listed)
        };
        let days = match self.days {
            None => DAY_NAMES.iter().map(|(_, d)| *d).collect(),
            Some(days) => parse_days(days)?,
        };
        let hours = match self.hours {
            None => None,
            Some(h) => Some(parse_hours(h.get_ref()).ok_or_else(|| {
                (
                    h.span(),
                    format!(
                        "hours {:?} is not a window like \"06:00-18:00\" or \"22:00-06:00\" (leave hours out for all day)",
                        h.get_ref()
                    ),
                )
            })?),
        };
        Ok(RuleSetting { categories, people, zones, days, hours })
    }
}

fn parse_days(days: Spanned<Vec<Spanned<String>>>) -> Result<Vec<Weekday>, Refusal> {
    let span = days.span();
    let days = days.into_inner();
    if days.is_empty() {
        return Err((span, "an access rule's days is empty (leave days out for every day)".into()));
    }
    let mut set = [false; 7];
    for d in days {
        let k = DAY_NAMES
            .iter()
            .position(|(n, _)| *n == d.get_ref())
            .ok_or_else(|| (d.span(), format!("day {:?} is none of \"mon\", \"tue\", … \"sun\"", d.get_ref())))?;
        set[k] = true;
    }
    Ok(DAY_NAMES.iter().zip(set).filter(|(_, on)| *on).map(|((_, d), _)| *d).collect())
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
