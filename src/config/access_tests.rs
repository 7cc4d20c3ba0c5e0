//! Zones and access rules as files give them: the defaults, and each refusal with its line.

use std::path::Path;

use time::{UtcOffset, Weekday};

use super::*;
use crate::config::{Config, ConfigError};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("tally.toml"), text)
}

/// The refusal of `text`, which must start with "tally.toml:<line>: " and contain `reason`.
fn refused(text: &str, line: usize, reason: &str) {
    let e = parse(text).expect_err(text).to_string();
    assert!(e.starts_with(&format!("tally.toml:{line}: ")), "{e}");
    assert!(e.contains(reason), "{e}");
}

fn lane(id: &str, from: &str, to: &str, address: u8) -> String {
    format!(
        "[[lane]]\nid = \"{id}\"\nfrom_zone = \"{from}\"\nto_zone = \"{to}\"\nreader = \"simulated\"\n\
         turnstile_port = \"/dev/tally/a\"\nturnstile_address = {address}\nturnstile_install_mode = true\n"
    )
}

const ZONES: &str = "[[zone]]\nid = \"reception\"\nname = \"Reception\"\n[[zone]]\nid = \"yard\"\n";

#[test]
fn no_file_means_default_zones_and_access() {
    let c = parse("").unwrap();
    assert_eq!(c.outside, "outside");
    assert_eq!(c.utc_offset, UtcOffset::UTC);
    assert!(c.zones.is_empty());
    assert_eq!(c.access.anti_passback, AntiPassback::Hard);
    assert_eq!(c.access.rules, default_rules());
    let zones: Vec<_> = c.access.rules.iter().map(|r| (r.categories.clone(), r.zones.clone())).collect();
    assert_eq!(
        zones,
        [
            (vec![Category::Staff], ZoneSet::Every),
            (vec![Category::Inmate], ZoneSet::Inside),
            (vec![Category::Visitor], ZoneSet::Every)
        ]
    );
    assert!(c.access.rules.iter().all(|r| r.days.len() == 7 && r.hours.is_none() && r.people.is_empty()));
}

#[test]
fn undeclared_zones_are_the_lanes_zones_without_the_outside() {
    let text = format!("{}{}", lane("in", "outside", "reception", 1), lane("yard-in", "reception", "block-a", 2));
    let c = parse(&text).unwrap();
    let ids: Vec<_> = c.zones.iter().map(|z| (z.id.as_str(), z.name.as_str())).collect();
    assert_eq!(ids, [("block-a", "block-a"), ("reception", "reception")]);
    // With no zones declared, rules may name any zone.
    let c = parse(&format!("{text}[[access.rule]]\ncategories = [\"staff\"]\nzones = [\"kitchen\"]\n")).unwrap();
    assert_eq!(c.access.rules[0].zones, ZoneSet::Listed(vec!["kitchen".into()]));
}

#[test]
fn a_full_access_section_is_read() {
    let text = format!(
        "[facility]\noutside = \"street\"\nutc_offset = \"-03:30\"\n{ZONES}{}\
         [access]\nanti_passback = \"soft\"\n\
         [[access.rule]]\ncategories = [\"visitor\", \"visitor\"]\npeople = [\"MKL-2026/0042\"]\n\
         zones = [\"reception\", \"street\"]\ndays = [\"sun\", \"mon\"]\nhours = \"22:00-06:00\"\n\
         [[access.rule]]\npeople = [\"S-1\"]\nzones = [\"*\"]\nhours = \"00:00-24:00\"\n",
        lane("in", "street", "reception", 1)
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.outside, "street");
    assert_eq!(c.utc_offset, UtcOffset::from_hms(-3, -30, 0).unwrap());
    assert_eq!(c.zones[0], ZoneSetting { id: "reception".into(), name: "Reception".into() });
    assert_eq!(c.zones[1], ZoneSetting { id: "yard".into(), name: "yard".into() });
    assert_eq!(c.access.anti_passback, AntiPassback::Soft);
    assert_eq!(
        c.access.rules[0],
        RuleSetting {
            categories: vec![Category::Visitor],
            people: vec!["MKL-2026/0042".into()],
            zones: ZoneSet::Listed(vec!["reception".into(), "street".into()]),
            days: vec![Weekday::Monday, Weekday::Sunday],
            hours: Some(Hours { start: 22 * 60, end: 6 * 60 }),
        }
    );
    assert_eq!(c.access.rules[1].zones, ZoneSet::Every);
    assert_eq!(c.access.rules[1].hours, Some(Hours { start: 0, end: 1440 }));
    assert!(c.access.rules[1].categories.is_empty());
}

#[test]
fn facility_keys_are_refused_with_their_line() {
    refused("[facility]\nutc_offset = \"+1\"\n", 2, "utc_offset \"+1\"");
    refused("[facility]\nutc_offset = \"01:00\"\n", 2, "utc_offset");
    refused("[facility]\nutc_offset = \"+15:00\"\n", 2, "utc_offset");
    refused("[facility]\nutc_offset = \"+01:60\"\n", 2, "utc_offset");
    refused("[facility]\n\noutside = \"the street\"\n", 3, "outside \"the street\"");
    assert_eq!(parse("[facility]\nutc_offset = \"+14:00\"\n").unwrap().utc_offset.whole_hours(), 14);
    assert_eq!(parse("[facility]\nutc_offset = \"-12:00\"\n").unwrap().utc_offset.whole_hours(), -12);
}

#[test]
fn bad_zones_are_refused_with_their_line() {
    refused(&format!("{ZONES}[[zone]]\nid = \"reception\"\n"), 7, "zone id reception is declared twice");
    refused("[[zone]]\nid = \"cell block\"\n", 2, "zone id \"cell block\" must be 1 to 64 letters");
    refused("[[zone]]\nid = \"\"\n", 2, "zone id \"\"");
    refused("[[zone]]\nid = \"outside\"\n", 2, "zone outside is the outside");
    refused("[[zone]]\nid = \"a\"\nname = \" \"\n", 3, "zone name must be 1 to 200 printable characters");
    refused("[[zone]]\nid = \"a\"\ncolour = \"red\"\n", 3, "unknown field `colour`");
}

#[test]
fn a_lane_naming_an_undeclared_zone_is_refused_with_its_line() {
    // Lines: ZONES takes 5; the lane's from_zone is on line 8 and its to_zone on line 9.
    refused(
        &format!("{ZONES}{}", lane("in", "outside", "kitchen", 1)),
        9,
        "lane in to_zone kitchen is neither outside",
    );
    refused(&format!("{ZONES}{}", lane("in", "street", "yard", 1)), 8, "lane in from_zone street");
    assert!(parse(&format!("{ZONES}{}", lane("in", "reception", "yard", 1))).is_ok());
}

#[test]
fn bad_rules_are_refused_with_their_line() {
    let rule = |body: &str| format!("{ZONES}[[access.rule]]\n{body}");
    // The rule's header is on line 6, its keys start on line 7.
    refused(&rule("categories = [\"staff\", \"guard\"]\nzones = [\"*\"]\n"), 7, "category \"guard\"");
    refused(
        &rule("categories = [\"staff\"]\nzones = [\"kitchen\"]\n"),
        8,
        "zone kitchen is neither outside nor a declared",
    );
    refused(&rule("categories = [\"staff\"]\nzones = [\"a b\"]\n"), 8, "zone \"a b\"");
    refused(&rule("categories = [\"staff\"]\nzones = []\n"), 8, "zones is empty");
    refused(&rule("categories = [\"staff\"]\nzones = [\"*\", \"yard\"]\n"), 8, "stands alone");
    refused(&rule("zones = [\"*\"]\n"), 6, "neither categories nor people");
    refused(&rule("categories = []\npeople = []\nzones = [\"*\"]\n"), 6, "neither categories nor people");
    refused(&rule("people = [\"-x\"]\nzones = [\"*\"]\n"), 7, "person id \"-x\"");
    refused(&rule("categories = [\"staff\"]\n"), 6, "missing field `zones`");
    let timed = |when: &str| rule(&format!("categories = [\"staff\"]\nzones = [\"yard\"]\n{when}\n"));
    refused(&timed("days = [\"monday\"]"), 9, "day \"monday\"");
    refused(&timed("days = []"), 9, "days is empty");
    for bad in ["6-18", "06:00", "06:00-06:00", "25:00-06:00", "06:00-18:60", "24:00-06:00", "6:00-18:00"] {
        refused(&timed(&format!("hours = \"{bad}\"")), 9, &format!("hours {bad:?}"));
    }
    refused("[access]\nanti_passback = \"strict\"\n", 2, "anti_passback \"strict\"");
    refused("[access]\nrules = []\n", 2, "unknown field `rules`");
}

#[test]
fn the_outside_is_always_a_zone_a_rule_may_name() {
    let text = format!(
        "[facility]\noutside = \"street\"\n{ZONES}[[access.rule]]\ncategories = [\"staff\"]\nzones = [\"street\"]\n"
    );
    assert_eq!(parse(&text).unwrap().access.rules[0].zones, ZoneSet::Listed(vec!["street".into()]));
    refused(&text.replace("\"street\"]", "\"outside\"]"), 10, "zone outside is neither street");
}

#[test]
fn anti_passback_alone_keeps_the_default_rules() {
    let c = parse("[access]\nanti_passback = \"off\"\n").unwrap();
    assert_eq!(c.access, AccessSetting { anti_passback: AntiPassback::Off, rules: default_rules() });
}
