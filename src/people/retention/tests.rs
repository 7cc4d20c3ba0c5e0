//! The retention rule on made-up ledgers (dates, returns, clock changes, what is already recorded),
//! and runs of the purge on a real ledger and register on disk with a manual clock, a crash between the
//! record and the deletion among them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::purge::{Purger, RetentionError, dry_run};
use super::*;
use crate::clock::{Clock as _, ManualClock};
use crate::ledger::Ledger;
use crate::ledger::entry::{ClockChange, Enrolment, Registration, Stamp, StatusChange};
use crate::store::people::{NewPerson, NewTemplate};
use crate::store::{Open, Store};

const DAY: Duration = Duration::from_secs(86_400);

/// 2026-01-01T00:00:00Z.
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

fn days(n: u64) -> SystemTime {
    t0() + DAY * n as u32
}

fn setting(templates: Option<u32>, photos: Option<u32>) -> RetentionSetting {
    RetentionSetting { templates_after_release: templates, photos_after_release: photos }
}

/// A made-up ledger: entries stamped at the times given.
#[derive(Default)]
struct Log {
    facts: Facts,
    next: u64,
}

impl Log {
    fn push(&mut self, at: SystemTime, event: Event) -> u64 {
        let seq = self.next;
        self.next += 1;
        let stamp = Stamp {
            seq,
            time: clock::rfc3339(at),
            boot: "b".into(),
            mono_ms: 0,
            appliance: "gate-1".into(),
            prev: [0; 32],
        };
        self.facts.apply(&Entry { stamp, event });
        seq
    }

    fn register(&mut self, at: SystemTime, person: &str) -> u64 {
        let r = Registration { category: "inmate".into(), officer: "o".into(), person: person.into(), zone: None };
        self.push(at, Event::Registration(r))
    }

    fn enrol(&mut self, at: SystemTime, person: &str, fingers: &[u8]) -> u64 {
        let e = Enrolment { fingers: fingers.to_vec(), officer: "o".into(), person: person.into() };
        self.push(at, Event::Enrolment(e))
    }

    fn status(&mut self, at: SystemTime, person: &str, from: &str, to: &str) -> u64 {
        let c = StatusChange {
            from: from.into(),
            officer: "o".into(),
            person: person.into(),
            reason: "r".into(),
            to: to.into(),
        };
        self.push(at, Event::StatusChange(c))
    }

    fn clock_change(&mut self, at: SystemTime, delta: Duration, forward: bool) -> u64 {
        let ms = delta.as_millis() as i64;
        let c = ClockChange { delta_ms: if forward { ms } else { -ms }, expected: "e".into(), observed: "o".into() };
        self.push(at, Event::ClockChange(c))
    }

    fn deleted(&mut self, at: SystemTime, person: &str, fingers: &[u8], photo: bool, release: u64) -> u64 {
        let d = TemplatesDeleted {
            fingers: fingers.to_vec(),
            person: person.into(),
            photo,
            reason: REASON.into(),
            release,
        };
        self.push(at, Event::TemplatesDeleted(d))
    }

    /// The plan at `now`, everyone holding fingers 2 and 7 and a photo.
    fn plan(&self, s: RetentionSetting, now: SystemTime) -> Plan {
        plan(&self.facts, &s, now, |_| Ok::<_, ()>(Holdings { fingers: vec![2, 7], photo: true })).unwrap()
    }
}

/// P1 registered and enrolled on day 0, released on day 10 (seq 3).
fn released_on_day_10() -> (Log, u64) {
    let mut log = Log::default();
    log.push(t0(), Event::Boot(crate::ledger::entry::Boot { clean_start: true, software: "t".into() }));
    log.register(t0(), "P1");
    log.enrol(t0(), "P1", &[2, 7]);
    let release = log.status(days(10), "P1", "in_custody", "released");
    (log, release)
}

#[test]
fn templates_go_once_the_period_since_release_is_over() {
    let (log, release) = released_on_day_10();
    let year = setting(Some(365), None);
    let before = log.plan(year, days(10 + 365) - Duration::from_secs(1));
    assert_eq!((before.actions.len(), before.expired.len()), (0, 0), "{before:?}");
    let after = log.plan(year, days(10 + 365));
    assert_eq!(after.expired, ["P1"]);
    let a = &after.actions[0];
    assert_eq!(
        (a.person.as_str(), a.release.seq, a.release.status, a.elapsed_days),
        ("P1", release, Status::Released, 365)
    );
    assert_eq!((a.record_fingers.as_slice(), a.record_photo, a.recorded_in), (&[2, 7][..], false, None));
    assert_eq!(
        a.event(),
        Some(Event::TemplatesDeleted(TemplatesDeleted {
            fingers: vec![2, 7],
            person: "P1".into(),
            photo: false,
            reason: "retention".into(),
            release
        }))
    );
    // No setting: nothing, ever.
    assert_eq!(log.plan(setting(None, None), days(100_000)), Plan::default());
}

#[test]
fn the_photo_has_its_own_period() {
    let (log, _) = released_on_day_10();
    let plan = log.plan(setting(Some(365), Some(0)), days(11));
    let a = &plan.actions[0];
    assert!(a.record_fingers.is_empty() && a.record_photo && plan.expired.is_empty(), "{plan:?}");
    let both = log.plan(setting(Some(30), Some(30)), days(40));
    assert!(both.actions[0].record_photo && both.actions[0].record_fingers == [2, 7]);
}

#[test]
fn zero_days_means_at_the_next_run_whatever_the_clock_says() {
    let (log, _) = released_on_day_10();
    // The clock reads a time before the release (set back since).
    let plan = log.plan(setting(Some(0), None), days(9));
    assert_eq!(plan.actions[0].record_fingers, [2, 7]);
    assert_eq!(plan.actions[0].elapsed_days, -1);
}

#[test]
fn a_person_who_returns_keeps_their_templates_and_a_new_release_starts_again() {
    let (mut log, _) = released_on_day_10();
    log.status(days(20), "P1", "released", "in_custody");
    let year = setting(Some(365), None);
    assert!(log.plan(year, days(1000)).actions.is_empty(), "back in custody");
    let second = log.status(days(100), "P1", "in_custody", "released");
    assert!(log.plan(year, days(464)).actions.is_empty(), "364 days after the second release");
    let plan = log.plan(year, days(465));
    assert_eq!(plan.actions[0].release.seq, second);
    // A re-admission (a new registration) is a return too.
    log.register(days(200), "P1");
    assert!(log.plan(year, days(10_000)).actions.is_empty());
}

#[test]
fn only_the_final_statuses_start_the_period_and_a_second_one_does_not_restart_it() {
    let mut log = Log::default();
    for p in ["A", "B", "C", "D"] {
        log.register(t0(), p);
    }
    log.status(t0(), "A", "in_custody", "escaped");
    log.status(t0(), "B", "in_custody", "transferred");
    log.status(t0(), "C", "in_custody", "deceased");
    log.status(t0(), "D", "in_custody", "at_court");
    let first = log.status(days(1), "A", "escaped", "released");
    log.status(days(50), "A", "released", "deceased");
    log.status(days(5), "D", "at_court", "no_such_status");
    let plan = log.plan(setting(Some(30), None), days(40));
    assert_eq!(plan.expired, ["A", "B", "C"]);
    assert_eq!(plan.actions[0].release.seq, first, "released then deceased: still from the release");
    assert!(starts_retention(Status::Released) && !starts_retention(Status::Escaped));
}

#[test]
fn clock_changes_after_the_release_are_discounted() {
    // The clock is set forward by 400 days the day after the release: a year has not passed.
    let (mut log, _) = released_on_day_10();
    log.clock_change(days(11 + 400), DAY * 400, true);
    let year = setting(Some(365), None);
    assert!(log.plan(year, days(11 + 400)).actions.is_empty());
    assert_eq!(log.plan(year, days(10 + 365 + 400)).actions.len(), 1);

    // A release stamped by a clock five years slow, then corrected: measured from the true time.
    let mut log = Log::default();
    log.register(t0(), "P2");
    let five_years = DAY * 5 * 365;
    let release = log.status(t0() - five_years, "P2", "in_custody", "released");
    log.clock_change(t0() + Duration::from_secs(60), five_years, true);
    let plan = log.plan(year, days(364));
    assert!(plan.actions.is_empty(), "{plan:?}");
    let plan = log.plan(year, days(365));
    assert_eq!(plan.actions[0].release.seq, release);

    // A clock change before the release changes nothing.
    let mut log = Log::default();
    log.register(t0(), "P3");
    log.clock_change(t0(), DAY * 100, true);
    log.status(days(1), "P3", "in_custody", "released");
    assert_eq!(log.plan(year, days(366)).actions.len(), 1);
}

#[test]
fn a_recorded_deletion_is_finished_not_recorded_again() {
    let (mut log, release) = released_on_day_10();
    let rec = log.deleted(days(11), "P1", &[2, 7], true, release);
    let plan = log.plan(setting(Some(0), Some(0)), days(12));
    let a = &plan.actions[0];
    assert!(!a.records() && a.event().is_none(), "{a:?}");
    assert_eq!((a.finish_fingers.as_slice(), a.finish_photo, a.recorded_in), (&[2, 7][..], true, Some(rec)));
    assert_eq!(plan.last_recorded, Some(rec));

    // A finger enrolled again after the record is recorded again; the other is only finished.
    log.enrol(days(12), "P1", &[7]);
    let a = &log.plan(setting(Some(0), None), days(13)).actions[0];
    assert_eq!((a.record_fingers.as_slice(), a.finish_fingers.as_slice()), (&[7][..], &[2][..]));
    assert_eq!(a.fingers(), [2, 7]);

    // A deletion recorded for an earlier release covers nothing of this one.
    let mut log = Log::default();
    log.register(t0(), "P4");
    let old = log.status(days(1), "P4", "in_custody", "released");
    log.status(days(2), "P4", "released", "in_custody");
    log.deleted(days(3), "P4", &[2, 7], false, old);
    log.status(days(4), "P4", "in_custody", "released");
    let a = &log.plan(setting(Some(0), None), days(5)).actions[0];
    assert_eq!((a.record_fingers.as_slice(), a.recorded_in), (&[2, 7][..], None));
}

// ---- runs on disk ----

/// A ledger and register on disk with P1 (released) and P2 (in custody), each with fingers 2 and 7
/// and a photo; the clock at day 10 after the release entry.
fn appliance(dir: &std::path::Path) -> (Arc<ManualClock>, Ledger) {
    let clock = Arc::new(ManualClock::new("boot-1", t0(), Duration::from_secs(60)));
    let mut ledger = Ledger::create(dir, "makala", "gate-1", clock.clone()).unwrap();
    let mut store = Store::open(dir, Open::MustExist).unwrap();
    let now = clock::rfc3339(t0());
    for id in ["P1", "P2"] {
        let p = NewPerson {
            id: id.into(),
            category: crate::people::Category::Inmate,
            given_names: "G".into(),
            family_name: "F".into(),
            date_of_birth: None,
            national_id: None,
        };
        store.person_insert(&p, &now).unwrap();
        store.photo_set(id, &[1; 16], &now).unwrap();
        for finger in [2, 7] {
            let t = NewTemplate {
                person: id.into(),
                finger,
                duress: false,
                quality: 60,
                sealed: vec![0; 40],
                created: now.clone(),
            };
            store.template_insert(&t).unwrap();
        }
        let r = Registration { category: "inmate".into(), officer: "o".into(), person: id.into(), zone: None };
        let e = Enrolment { fingers: vec![2, 7], officer: "o".into(), person: id.into() };
        ledger.append(vec![Event::Registration(r), Event::Enrolment(e)]).unwrap();
    }
    let c = StatusChange {
        from: "in_custody".into(),
        officer: "o".into(),
        person: "P1".into(),
        reason: "sentence served".into(),
        to: "released".into(),
    };
    ledger.append(vec![Event::StatusChange(c)]).unwrap();
    clock.advance(DAY * 10);
    (clock, ledger)
}

fn holdings(dir: &std::path::Path, person: &str) -> Holdings {
    Store::open(dir, Open::MustExist).unwrap().retention_holdings(person).unwrap()
}

fn deletions(dir: &std::path::Path) -> Vec<TemplatesDeleted> {
    let mut out = Vec::new();
    Store::open(dir, Open::MustExist)
        .unwrap()
        .retention_entries(|_, bytes| -> Result<(), crate::store::StoreError> {
            if let Event::TemplatesDeleted(d) = Entry::parse(bytes).unwrap().event {
                out.push(d);
            }
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn a_run_records_then_deletes_and_a_second_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, ledger) = appliance(dir.path());
    let s = setting(Some(7), Some(30));
    let dry = dry_run(dir.path(), clock.as_ref(), &s).unwrap();
    assert!(dry.dry_run && dry.plan.actions[0].record_fingers == [2, 7] && !dry.plan.actions[0].record_photo);
    assert_eq!(holdings(dir.path(), "P1").fingers, [2, 7], "a dry run deletes nothing");

    let mut purger = Purger::new(ledger, dir.path(), clock.clone(), s).unwrap();
    let size = Ledger::open(dir.path(), clock.clone()).unwrap().size().unwrap();
    let out = purger.run(None).unwrap();
    assert_eq!((out.recorded, out.templates_deleted, out.photos_deleted), (vec![size], 2, 0));
    assert_eq!(holdings(dir.path(), "P1"), Holdings { fingers: vec![], photo: true }, "the photo's period is not over");
    assert_eq!(holdings(dir.path(), "P2"), Holdings { fingers: vec![2, 7], photo: true }, "P2 is in custody");
    let d = deletions(dir.path());
    assert_eq!((d.len(), d[0].person.as_str(), d[0].fingers.as_slice(), d[0].photo), (1, "P1", &[2, 7][..], false));

    let again = purger.run(None).unwrap();
    assert!(again.recorded.is_empty() && again.plan.actions.is_empty() && again.templates_deleted == 0);
    assert_eq!(Ledger::open(dir.path(), clock.clone()).unwrap().size().unwrap(), size + 1);

    // Twenty days later the photo goes too, in an entry of its own.
    clock.advance(DAY * 20);
    let out = purger.run(None).unwrap();
    assert_eq!((out.recorded.len(), out.photos_deleted), (1, 1));
    assert_eq!(holdings(dir.path(), "P1"), Holdings::default());
    let d = deletions(dir.path());
    assert_eq!((d.len(), d[1].fingers.is_empty(), d[1].photo), (2, true, true));
}

#[test]
fn a_crash_between_the_record_and_the_deletion_is_finished_without_a_second_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, ledger) = appliance(dir.path());
    let mut purger = Purger::new(ledger, dir.path(), clock.clone(), setting(Some(0), Some(0))).unwrap();
    purger.fail_after_record = true;
    assert!(matches!(purger.run(None), Err(RetentionError::Injected)));
    assert_eq!(deletions(dir.path()).len(), 1, "recorded");
    assert_eq!(holdings(dir.path(), "P1"), Holdings { fingers: vec![2, 7], photo: true }, "not deleted yet");
    drop(purger);

    // The next run, by a new process.
    let ledger = Ledger::open(dir.path(), clock.clone()).unwrap();
    let size = Ledger::open(dir.path(), clock.clone()).unwrap().size().unwrap();
    let mut purger = Purger::new(ledger, dir.path(), clock.clone(), setting(Some(0), Some(0))).unwrap();
    let out = purger.run(None).unwrap();
    assert!(out.recorded.is_empty(), "{out:?}");
    assert_eq!((out.templates_deleted, out.photos_deleted), (2, 1));
    assert_eq!(out.plan.actions[0].finish_fingers, [2, 7]);
    assert_eq!(holdings(dir.path(), "P1"), Holdings::default());
    assert_eq!(deletions(dir.path()).len(), 1, "no second entry");
    assert_eq!(Ledger::open(dir.path(), clock.clone()).unwrap().size().unwrap(), size);
}

#[test]
fn a_clock_set_forward_is_recorded_before_the_measure_and_discounted() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, ledger) = appliance(dir.path());
    let mut purger = Purger::new(ledger, dir.path(), clock.clone(), setting(Some(365), None)).unwrap();
    // Ten days after the release, someone sets the clock a year ahead.
    clock.set_wall(clock.wall() + DAY * 365);
    let out = purger.run(None).unwrap();
    assert!(out.plan.actions.is_empty(), "{out:?}");
    assert_eq!(holdings(dir.path(), "P1").fingers, [2, 7]);
    // 355 more days really pass.
    clock.advance(DAY * 355);
    assert_eq!(purger.run(None).unwrap().templates_deleted, 2);
}

#[test]
fn a_run_forgets_the_expired_in_the_gallery() {
    use crate::fingerprint::index::IndexConfig;
    use crate::fingerprint::synth::templates::finger;
    use crate::people::gallery::{Gallery, Owner};
    let dir = tempfile::tempdir().unwrap();
    let (clock, ledger) = appliance(dir.path());
    let gallery = Gallery::new(IndexConfig { shortlist: 8, threads: 1 });
    for (id, person) in [(1, "P1"), (2, "P1"), (3, "P2"), (4, "P2")] {
        gallery.insert(id, Owner { person: person.into(), finger: 2, duress: false }, &finger(5, id)).unwrap();
    }
    let mut purger = Purger::new(ledger, dir.path(), clock, setting(Some(0), None)).unwrap();
    let out = purger.run(Some(&gallery)).unwrap();
    assert_eq!(out.forgotten, 2);
    assert_eq!((gallery.len(), gallery.owner(1), gallery.owner(3).map(|o| o.person)), (2, None, Some("P2".into())));
}

#[test]
fn the_serve_task_runs_at_start_and_again_when_another_process_records_a_deletion() {
    use super::purge::{Schedule, spawn};
    use crate::fingerprint::index::IndexConfig;
    use crate::fingerprint::synth::templates::finger;
    use crate::people::gallery::{Gallery, Owner};
    let dir = tempfile::tempdir().unwrap();
    let (clock, ledger) = appliance(dir.path());
    drop(ledger);
    let gallery = Arc::new(Gallery::new(IndexConfig { shortlist: 8, threads: 1 }));
    for (id, person) in [(1, "P1"), (2, "P2")] {
        gallery.insert(id, Owner { person: person.into(), finger: 2, duress: false }, &finger(5, id)).unwrap();
    }
    let s = setting(Some(0), None);
    // No hourly run during the test: only the start and the watch.
    let schedule = Schedule { every: Duration::from_secs(3600), watch: Duration::from_millis(50) };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let until = |what: &'static str, f: Box<dyn Fn() -> bool>| async move {
            for _ in 0..400 {
                if f() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("timed out waiting for {what}");
        };
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        let after_run = Arc::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let task = spawn(dir.path().to_owned(), clock.clone(), s, gallery.clone(), schedule, after_run);
        let g = gallery.clone();
        until("the start run", Box::new(move || g.owner(1).is_none())).await;
        assert_eq!(holdings(dir.path(), "P1").fingers, Vec::<u8>::new());
        assert!(gallery.owner(2).is_some(), "P2 is in custody");

        // Another process releases P2 and purges: the task's gallery forgets P2 soon after.
        let mut other = Ledger::open(dir.path(), clock.clone()).unwrap();
        let c = StatusChange {
            from: "in_custody".into(),
            officer: "o".into(),
            person: "P2".into(),
            reason: "r".into(),
            to: "transferred".into(),
        };
        other.append(vec![Event::StatusChange(c)]).unwrap();
        let out = Purger::new(other, dir.path(), clock.clone(), s).unwrap().run(None).unwrap();
        assert_eq!((out.templates_deleted, out.forgotten), (2, 0));
        let g = gallery.clone();
        until("the watch to see the other process's deletion", Box::new(move || g.owner(2).is_none())).await;
        task.stop().await;
        // The run at start and the one the watch caused, each followed by the hook; none since.
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    });
    assert_eq!(deletions(dir.path()).len(), 2, "one entry per person, none twice");
}
