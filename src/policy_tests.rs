//! The policy's checks one at a time, in their order, with configurations written as files are.

use std::path::Path;

use time::macros::datetime;

use super::*;

fn policy(toml: &str) -> Policy {
    Policy::new(&Config::parse(Path::new("tally.toml"), toml).expect("a valid configuration"))
}

/// Friday 6 March 2026, 10:00 UTC.
const FRIDAY: OffsetDateTime = datetime!(2026-03-06 10:00 UTC);

fn subject(person: &str, category: Category) -> Subject<'_> {
    Subject { person, category, status: Status::initial(category), zone: None, known: true, duress: false }
}

const IN: Movement<'static> = Movement { lane: "north-in", from_zone: "outside", to_zone: "reception" };
const OUT: Movement<'static> = Movement { lane: "north-out", from_zone: "reception", to_zone: "outside" };

fn grant() -> Decision {
    Decision::Grant { alarms: Vec::new() }
}

fn deny(reason: &'static str) -> Decision {
    Decision::Deny { reason, alarms: Vec::new() }
}

#[test]
fn a_gone_person_is_denied_first_with_an_alarm_naming_id_status_and_lane() {
    let p = policy("");
    assert_eq!(FRIDAY.weekday(), Weekday::Friday);
    for (status, code) in [
        (Status::Escaped, "escaped_person_seen"),
        (Status::Released, "released_person_seen"),
        (Status::Transferred, "released_person_seen"),
        (Status::Deceased, "released_person_seen"),
    ] {
        // Even unregistered, and at a lane the rules would allow: status comes first.
        let s = Subject { status, known: false, ..subject("MKL-1", Category::Inmate) };
        let Decision::Deny { reason: "status", alarms } = p.decide(&s, &IN, FRIDAY) else { panic!("{status:?}") };
        assert_eq!(alarms.len(), 1);
        assert_eq!(alarms[0].code, code);
        assert_eq!(alarms[0].detail, format!("person MKL-1 ({}) seen at lane north-in", status.as_str()));
    }
}

#[test]
fn an_unregistered_person_is_denied() {
    let s = Subject { known: false, ..subject("S-1", Category::Staff) };
    assert_eq!(policy("").decide(&s, &IN, FRIDAY), deny("not_registered"));
}

#[test]
fn default_rules_keep_inmates_in_unless_they_are_lawfully_away() {
    let p = policy("");
    let in_reception = |s: Subject<'static>| Subject { zone: Some("reception"), ..s };
    assert_eq!(p.decide(&subject("S-1", Category::Staff), &IN, FRIDAY), grant());
    assert_eq!(p.decide(&in_reception(subject("S-1", Category::Staff)), &OUT, FRIDAY), grant());
    assert_eq!(p.decide(&in_reception(subject("V-1", Category::Visitor)), &OUT, FRIDAY), grant());
    assert_eq!(p.decide(&subject("MKL-1", Category::Inmate), &IN, FRIDAY), grant());
    let inmate = in_reception(subject("MKL-1", Category::Inmate));
    assert_eq!(p.decide(&inmate, &OUT, FRIDAY), deny("no_access"));
    for status in [Status::AtCourt, Status::AtHospital, Status::WorkParty] {
        assert_eq!(p.decide(&Subject { status, ..inmate }, &OUT, FRIDAY), grant(), "{status:?}");
    }
}

#[test]
fn a_lawfully_away_inmate_may_go_out_even_when_no_rule_names_inmates() {
    let p = policy("[[access.rule]]\ncategories = [\"staff\"]\nzones = [\"*\"]\n");
    let inmate = Subject { status: Status::AtCourt, zone: Some("reception"), ..subject("MKL-1", Category::Inmate) };
    assert_eq!(p.decide(&inmate, &OUT, FRIDAY), grant());
    assert_eq!(p.decide(&inmate, &IN, FRIDAY), deny("no_access"));
    assert_eq!(p.decide(&Subject { status: Status::InCustody, ..inmate }, &OUT, FRIDAY), deny("no_access"));
}

#[test]
fn rules_match_by_category_or_person_and_destination() {
    let p = policy(
        "[[access.rule]]\ncategories = [\"staff\"]\nzones = [\"reception\"]\n\
         [[access.rule]]\npeople = [\"V-7\"]\nzones = [\"visiting\"]\n",
    );
    let to_visiting = Movement { lane: "v-in", from_zone: "reception", to_zone: "visiting" };
    let at = |s: Subject<'static>| Subject { zone: Some("reception"), ..s };
    assert_eq!(p.decide(&subject("S-1", Category::Staff), &IN, FRIDAY), grant());
    assert_eq!(p.decide(&at(subject("S-1", Category::Staff)), &to_visiting, FRIDAY), deny("no_access"));
    assert_eq!(p.decide(&at(subject("V-7", Category::Visitor)), &to_visiting, FRIDAY), grant());
    assert_eq!(p.decide(&at(subject("V-8", Category::Visitor)), &to_visiting, FRIDAY), deny("no_access"));
    assert_eq!(p.decide(&subject("V-7", Category::Visitor), &IN, FRIDAY), deny("no_access"));
}

#[test]
fn hours_are_local_and_the_end_is_excluded() {
    let p = policy(
        "[facility]\nutc_offset = \"+01:00\"\n[[access.rule]]\ncategories = [\"staff\"]\nzones = [\"*\"]\n\
         days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\nhours = \"06:00-18:00\"\n",
    );
    let staff = subject("S-1", Category::Staff);
    let at = |t: OffsetDateTime| p.decide(&staff, &IN, t);
    assert_eq!(at(datetime!(2026-03-06 05:00 UTC)), grant(), "06:00 local");
    assert_eq!(at(datetime!(2026-03-06 04:59 UTC)), deny("outside_hours"), "05:59 local");
    assert_eq!(at(datetime!(2026-03-06 16:59 UTC)), grant(), "17:59 local");
    assert_eq!(at(datetime!(2026-03-06 17:00 UTC)), deny("outside_hours"), "18:00 local");
    assert_eq!(at(datetime!(2026-03-07 10:00 UTC)), deny("outside_hours"), "Saturday");
    // The same instant in another zone's window: the offset, not the clock, decides.
    assert_eq!(at(datetime!(2026-03-06 05:30 +00:00)), at(datetime!(2026-03-06 07:30 +02:00)));
}

#[test]
fn the_offset_can_move_the_day() {
    let saturday = "[[access.rule]]\ncategories = [\"staff\"]\nzones = [\"*\"]\ndays = [\"sat\"]\n";
    let staff = subject("S-1", Category::Staff);
    let friday_night = datetime!(2026-03-06 22:00 UTC);
    let saturday_early = datetime!(2026-03-07 02:00 UTC);
    let east = policy(&format!("[facility]\nutc_offset = \"+03:00\"\n{saturday}"));
    assert_eq!(east.decide(&staff, &IN, friday_night), grant(), "Saturday 01:00 local");
    let west = policy(&format!("[facility]\nutc_offset = \"-05:00\"\n{saturday}"));
    assert_eq!(west.decide(&staff, &IN, saturday_early), deny("outside_hours"), "Friday 21:00 local");
    assert_eq!(policy(saturday).decide(&staff, &IN, saturday_early), grant(), "Saturday 02:00 UTC");
}

#[test]
fn a_window_wrapping_midnight_belongs_to_the_day_it_starts() {
    let p = policy(
        "[facility]\nutc_offset = \"+01:00\"\n[[access.rule]]\ncategories = [\"staff\"]\nzones = [\"*\"]\n\
         days = [\"fri\"]\nhours = \"22:00-06:00\"\n",
    );
    let staff = subject("S-1", Category::Staff);
    let at = |t: OffsetDateTime| p.decide(&staff, &IN, t);
    assert_eq!(at(datetime!(2026-03-06 21:00 UTC)), grant(), "Friday 22:00 local");
    assert_eq!(at(datetime!(2026-03-06 23:30 UTC)), grant(), "Saturday 00:30 local");
    assert_eq!(at(datetime!(2026-03-07 04:59 UTC)), grant(), "Saturday 05:59 local");
    assert_eq!(at(datetime!(2026-03-07 05:00 UTC)), deny("outside_hours"), "Saturday 06:00 local");
    assert_eq!(at(datetime!(2026-03-06 03:00 UTC)), deny("outside_hours"), "Friday 04:00 local is Thursday's night");
    assert_eq!(at(datetime!(2026-03-07 21:30 UTC)), deny("outside_hours"), "Saturday 22:30 local");
    assert_eq!(at(datetime!(2026-03-06 12:00 UTC)), deny("outside_hours"), "Friday 13:00 local");
}

#[test]
fn any_rule_may_allow_and_outside_hours_needs_a_rule_for_the_zone() {
    let p = policy(
        "[[access.rule]]\ncategories = [\"visitor\"]\nzones = [\"reception\"]\nhours = \"08:00-12:00\"\n\
         [[access.rule]]\ncategories = [\"visitor\"]\nzones = [\"reception\"]\nhours = \"14:00-16:00\"\n",
    );
    let visitor = subject("V-1", Category::Visitor);
    assert_eq!(p.decide(&visitor, &IN, datetime!(2026-03-06 09:00 UTC)), grant());
    assert_eq!(p.decide(&visitor, &IN, datetime!(2026-03-06 15:00 UTC)), grant());
    assert_eq!(p.decide(&visitor, &IN, datetime!(2026-03-06 13:00 UTC)), deny("outside_hours"));
    let in_reception = Subject { zone: Some("reception"), ..visitor };
    assert_eq!(p.decide(&in_reception, &OUT, datetime!(2026-03-06 09:00 UTC)), deny("no_access"));
}

#[test]
fn anti_passback_hard_denies_soft_warns_off_ignores() {
    let staff_in_yard = Subject { zone: Some("yard"), ..subject("S-1", Category::Staff) };
    let hard = policy("");
    assert_eq!(hard.decide(&staff_in_yard, &OUT, FRIDAY), deny("anti_passback"));
    assert_eq!(hard.decide(&staff_in_yard, &IN, FRIDAY), deny("anti_passback"), "placed inside, entering again");
    assert_eq!(hard.decide(&subject("S-1", Category::Staff), &OUT, FRIDAY), deny("anti_passback"), "placed outside");
    assert_eq!(hard.decide(&Subject { zone: Some("reception"), ..staff_in_yard }, &OUT, FRIDAY), grant());

    let soft = policy("[access]\nanti_passback = \"soft\"\n");
    let Decision::Grant { alarms } = soft.decide(&staff_in_yard, &OUT, FRIDAY) else { panic!("soft denies") };
    assert_eq!(
        alarms,
        [PolicyAlarm {
            code: "anti_passback",
            detail: "person S-1 expected in zone yard, seen at lane north-out from zone reception".into()
        }]
    );
    let soft_out = soft.decide(&subject("S-1", Category::Staff), &OUT, FRIDAY);
    assert!(soft_out.is_grant() && soft_out.alarms()[0].detail.contains("expected in zone outside"));

    let off = policy("[access]\nanti_passback = \"off\"\n");
    assert_eq!(off.decide(&staff_in_yard, &OUT, FRIDAY), grant());
}

#[test]
fn access_is_checked_before_anti_passback() {
    let inmate = Subject { zone: Some("yard"), ..subject("MKL-1", Category::Inmate) };
    assert_eq!(policy("").decide(&inmate, &OUT, FRIDAY), deny("no_access"));
}

#[test]
fn duress_raises_an_alarm_and_changes_nothing_else() {
    let p = policy("");
    let duress =
        PolicyAlarm { code: "duress", detail: "person S-1 identified by a duress finger at lane north-in".into() };
    let staff = Subject { duress: true, ..subject("S-1", Category::Staff) };
    assert_eq!(p.decide(&staff, &IN, FRIDAY), Decision::Grant { alarms: vec![duress.clone()] });
    let unknown = Subject { known: false, ..staff };
    assert_eq!(
        p.decide(&unknown, &IN, FRIDAY),
        Decision::Deny { reason: "not_registered", alarms: vec![duress.clone()] }
    );
    let wrong_zone = Subject { zone: Some("yard"), ..staff };
    assert_eq!(p.decide(&wrong_zone, &IN, FRIDAY), Decision::Deny { reason: "anti_passback", alarms: vec![duress] });
    let escaped = Subject { status: Status::Escaped, duress: true, ..subject("MKL-1", Category::Inmate) };
    let codes: Vec<_> = p.decide(&escaped, &IN, FRIDAY).alarms().iter().map(|a| a.code).collect();
    assert_eq!(codes, ["escaped_person_seen", "duress"]);
}

#[test]
fn zone_names_and_the_outside() {
    let p = policy("[facility]\noutside = \"street\"\n[[zone]]\nid = \"reception\"\nname = \"Reception\"\n");
    assert_eq!(p.outside(), "street");
    assert_eq!(p.zone_name("reception"), "Reception");
    assert_eq!(p.zone_name("street"), "street");
    assert_eq!(p.zone_name("nowhere"), "nowhere");
    let street = Movement { lane: "gate", from_zone: "street", to_zone: "reception" };
    assert_eq!(p.decide(&subject("S-1", Category::Staff), &street, FRIDAY), grant(), "placed nowhere = the street");
}
