//! The lane's transitions, one outcome at a time, and the invariant over random event orders: the
//! turnstile is never pulsed but right after its grant became durable.

use super::*;

fn config() -> LaneConfig {
    LaneConfig {
        id: "L1".into(),
        from_zone: "outside".into(),
        to_zone: "block-a".into(),
        output: 0,
        pulse: Duration::from_millis(3000),
        passage_input: 0,
        passage_timeout: Duration::from_secs(10),
        ledger_retry: Duration::from_secs(5),
    }
}

fn image() -> Image {
    Image::new(2, 2, 500, vec![0; 4]).unwrap()
}

fn online(lane: &mut Lane, now: Instant) {
    let actions = lane.handle(Input::Turnstile(TurnstileEvent::Online { identity: "PD".into() }), now);
    assert!(matches!(&actions[..], [Action::Append(Purpose::Record, Event::Alarm(a))] if a.code == "turnstile_online"));
}

fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Append(_, e) => format!("append {}", e.kind()),
            Action::Identify => "identify".into(),
            Action::Pulse { .. } => "pulse".into(),
            Action::Signal(s) => format!("signal {s:?}"),
            Action::Timer { .. } => "timer".into(),
            Action::RetryLedger { .. } => "retry ledger".into(),
        })
        .collect()
}

/// Runs a scan up to the grant being durable as entry `seq`.
fn granted(lane: &mut Lane, now: Instant, seq: u64) {
    assert_eq!(kinds(&lane.handle(Input::Image(image()), now)), ["identify"]);
    assert!(lane.take_image().is_some());
    let found =
        Identification::Person { person: "P-0042".into(), score: 412_000, verdict: Verdict::Grant, flags: vec![] };
    let actions = lane.handle(Input::Identified(found), now);
    match &actions[..] {
        [Action::Append(Purpose::Grant, Event::Grant(g))] => {
            assert_eq!((g.person.as_str(), g.lane.as_str(), g.to_zone.as_str()), ("P-0042", "L1", "block-a"));
            assert_eq!(g.score, Some(412_000));
        }
        other => panic!("expected the grant, got {other:?}"),
    }
    let actions = lane.handle(Input::Appended { purpose: Purpose::Grant, result: Ok(seq) }, now);
    assert_eq!(actions[0], Action::Pulse { output: 0, duration: Duration::from_millis(3000) });
    assert_eq!(actions[1], Action::Signal(Signal::Granted));
}

#[test]
fn granted_and_passed() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    granted(&mut lane, now, 7);
    let actions = lane.handle(Input::Pulsed(Pulse::Confirmed), now);
    assert_eq!(actions, [Action::Timer { at: now + Duration::from_secs(10), grant: 7 }]);
    let actions = lane.handle(Input::Turnstile(TurnstileEvent::Input { point: 0, active: true }), now);
    assert!(
        matches!(&actions[0], Action::Append(Purpose::Record, Event::Passage(p)) if p.grant == 7 && p.lane == "L1")
    );
    assert_eq!(lane.phase(), &Phase::Idle);
    // The timer of that passage fires later and changes nothing.
    assert!(lane.handle(Input::Timer { grant: 7 }, now).is_empty());
}

#[test]
fn granted_and_not_passed() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    granted(&mut lane, now, 9);
    lane.handle(Input::Pulsed(Pulse::Confirmed), now);
    let actions = lane.handle(Input::Timer { grant: 9 }, now);
    assert!(matches!(&actions[0], Action::Append(Purpose::Record, Event::PassageTimeout(t)) if t.grant == 9));
    // The sensor tripping now is nobody's passage.
    let actions = lane.handle(Input::Turnstile(TurnstileEvent::Input { point: 0, active: true }), now);
    assert!(matches!(&actions[..], [Action::Append(_, Event::Alarm(a))] if a.code == "unauthorised_passage"));
}

#[test]
fn denied_when_nobody_matches() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    lane.handle(Input::Image(image()), now);
    let actions = lane.handle(Input::Identified(Identification::NoMatch), now);
    assert_eq!(kinds(&actions), ["append denial", "signal Denied"]);
    assert!(matches!(&actions[0], Action::Append(_, Event::Denial(d)) if d.reason == "no_match" && d.person.is_none()));
}

#[test]
fn an_offline_turnstile_locks_the_lane_and_is_an_alarm() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    assert!(lane.locked().is_some(), "a lane starts locked until its turnstile answers");
    online(&mut lane, now);
    assert_eq!(lane.locked(), None);
    let actions = lane.handle(Input::Turnstile(TurnstileEvent::Offline { reason: "silent for 8 s".into() }), now);
    assert!(matches!(&actions[..], [Action::Append(_, Event::Alarm(a))] if a.code == "turnstile_offline"));
    assert!(lane.locked().unwrap().contains("offline"));
    let actions = lane.handle(Input::Image(image()), now);
    assert!(matches!(&actions[0], Action::Append(_, Event::Denial(d)) if d.reason == "lane_locked"));
    assert!(lane.take_image().is_none(), "a locked lane identifies nobody");
}

#[test]
fn going_offline_during_a_passage_closes_it_as_unused() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    granted(&mut lane, now, 3);
    lane.handle(Input::Pulsed(Pulse::Confirmed), now);
    let actions = lane.handle(Input::Turnstile(TurnstileEvent::Offline { reason: "gone".into() }), now);
    assert_eq!(kinds(&actions), ["append passage_timeout", "append alarm"]);
}

#[test]
fn an_unwritable_ledger_keeps_the_turnstile_shut_and_locks_the_lane_until_it_takes_writes() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    lane.handle(Input::Image(image()), now);
    let found = Identification::Person { person: "P-1".into(), score: 300_000, verdict: Verdict::Grant, flags: vec![] };
    lane.handle(Input::Identified(found), now);
    let actions = lane.handle(Input::Appended { purpose: Purpose::Grant, result: Err("disk full".into()) }, now);
    assert_eq!(actions, [Action::RetryLedger { at: now + Duration::from_secs(5) }, Action::Signal(Signal::Denied)]);
    assert!(lane.locked().unwrap().contains("disk full"));
    // Scans meanwhile are refused on the spot; nothing can be written.
    assert_eq!(kinds(&lane.handle(Input::Image(image()), now)), ["signal Denied"]);
    // The retry writes the outage itself; once that is durable, the lane opens again.
    let actions = lane.handle(Input::RetryLedger, now);
    assert!(matches!(&actions[0], Action::Append(Purpose::Record, Event::Alarm(a)) if a.code == "ledger_unwritable"));
    lane.handle(Input::Appended { purpose: Purpose::Record, result: Ok(12) }, now);
    assert_eq!(lane.locked(), None);
    assert!(lane.handle(Input::RetryLedger, now).is_empty());
}

#[test]
fn a_release_the_turnstile_does_not_confirm_is_recorded_and_raised() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    granted(&mut lane, now, 5);
    let actions = lane.handle(Input::Pulsed(Pulse::Failed("NAK: unable to process".into())), now);
    assert_eq!(kinds(&actions), ["append passage_timeout", "append alarm", "signal Denied"]);
}

#[test]
fn a_release_whose_answer_was_lost_still_waits_for_the_passage() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    granted(&mut lane, now, 6);
    let actions = lane.handle(Input::Pulsed(Pulse::Unconfirmed("no answer within 3 s".into())), now);
    assert_eq!(kinds(&actions), ["append alarm", "timer"]);
    // The person went through after all: a passage of that grant, not an unauthorised one.
    let actions = lane.handle(Input::Turnstile(TurnstileEvent::Input { point: 0, active: true }), now);
    assert!(matches!(&actions[0], Action::Append(_, Event::Passage(p)) if p.grant == 6));
}

#[test]
fn tamper_and_power_are_alarms() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    let codes: Vec<String> = [
        TurnstileEvent::Tamper { active: true },
        TurnstileEvent::Tamper { active: false },
        TurnstileEvent::Power { failed: true },
        TurnstileEvent::Power { failed: false },
    ]
    .into_iter()
    .flat_map(|e| lane.handle(Input::Turnstile(e), now))
    .map(|a| match a {
        Action::Append(_, Event::Alarm(a)) => a.code,
        other => panic!("{other:?}"),
    })
    .collect();
    assert_eq!(codes, ["tamper", "tamper_cleared", "power", "power_restored"]);
}

#[test]
fn the_turnstile_is_never_pulsed_but_after_a_durable_grant() {
    let mut state: u64 = 0x1a2e_5eed;
    let mut rand = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let now = Instant::now();
    for _ in 0..200 {
        let mut lane = Lane::new(config());
        for _ in 0..60 {
            let input = match rand(10) {
                8 => Input::Override {
                    record: override_record(),
                    verdict: if rand(2) == 0 { Verdict::Grant } else { Verdict::Deny("status".into()) },
                    flags: vec![],
                },
                0 => Input::Image(image()),
                1 => Input::Identified(Identification::Person {
                    person: "P".into(),
                    score: 1,
                    verdict: Verdict::Grant,
                    flags: vec![],
                }),
                2 => Input::Identified(Identification::NoMatch),
                3 => {
                    let ok = rand(3) > 0;
                    let purpose = if rand(2) == 0 { Purpose::Grant } else { Purpose::Record };
                    Input::Appended { purpose, result: if ok { Ok(rand(100)) } else { Err("io".into()) } }
                }
                4 => Input::Pulsed(match rand(3) {
                    0 => Pulse::Confirmed,
                    1 => Pulse::Unconfirmed("lost".into()),
                    _ => Pulse::Failed("nak".into()),
                }),
                5 => Input::Turnstile(TurnstileEvent::Online { identity: "PD".into() }),
                6 => Input::Turnstile(TurnstileEvent::Offline { reason: "x".into() }),
                7 => Input::Turnstile(TurnstileEvent::Input { point: 0, active: true }),
                _ => Input::Timer { grant: rand(100) },
            };
            let grant_durable = matches!(input, Input::Appended { purpose: Purpose::Grant, result: Ok(_) })
                && matches!(lane.phase(), Phase::CommittingGrant { .. });
            let actions = lane.handle(input, now);
            let pulses = actions.iter().filter(|a| matches!(a, Action::Pulse { .. })).count();
            assert!(pulses == 0 || grant_durable, "a pulse without its grant made durable: {actions:?}");
            let _ = lane.take_image();
        }
    }
}

fn override_record() -> Override {
    Override {
        lane: "L1".into(),
        officer: "guard.1".into(),
        person: "P-7".into(),
        reason: "worn fingers".into(),
        second_officer: "guard.2".into(),
    }
}

#[test]
fn the_policy_refuses_with_its_reason_and_raises_its_alarms_first() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    lane.handle(Input::Image(image()), now);
    let flags = vec![Flag { code: "released_person_seen".into(), detail: "P-9 (released) at lane L1".into() }];
    let found =
        Identification::Person { person: "P-9".into(), score: 1, verdict: Verdict::Deny("status".into()), flags };
    let actions = lane.handle(Input::Identified(found), now);
    assert_eq!(kinds(&actions), ["append alarm", "append denial", "signal Denied"]);
    assert!(
        matches!(&actions[1], Action::Append(_, Event::Denial(d)) if d.reason == "status" && d.person.as_deref() == Some("P-9"))
    );
    assert_eq!(lane.phase(), &Phase::Idle);
}

#[test]
fn a_duress_finger_opens_as_usual_and_raises_a_silent_alarm() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    online(&mut lane, now);
    lane.handle(Input::Image(image()), now);
    let flags = vec![Flag { code: "duress".into(), detail: "S-1 at lane L1".into() }];
    let found = Identification::Person { person: "S-1".into(), score: 1, verdict: Verdict::Grant, flags };
    let actions = lane.handle(Input::Identified(found), now);
    assert_eq!(kinds(&actions), ["append alarm", "append grant"]);
    let actions = lane.handle(Input::Appended { purpose: Purpose::Grant, result: Ok(3) }, now);
    // The same signal as any grant: nothing at the turnstile tells the duress apart.
    assert_eq!(actions[1], Action::Signal(Signal::Granted));
}

#[test]
fn an_override_is_recorded_before_its_grant_and_only_taken_when_idle() {
    let (mut lane, now) = (Lane::new(config()), Instant::now());
    assert!(lane.accepts_override().is_err(), "locked until the controller is online");
    let refused =
        lane.handle(Input::Override { record: override_record(), verdict: Verdict::Grant, flags: vec![] }, now);
    assert!(refused.is_empty());
    online(&mut lane, now);
    assert_eq!(lane.accepts_override(), Ok(()));
    let actions =
        lane.handle(Input::Override { record: override_record(), verdict: Verdict::Grant, flags: vec![] }, now);
    assert_eq!(kinds(&actions), ["append override", "append grant"]);
    assert!(
        matches!(&actions[1], Action::Append(Purpose::Grant, Event::Grant(g)) if g.method == "override" && g.score.is_none())
    );
    assert!(lane.accepts_override().is_err(), "busy with the passage");
    let again = lane.handle(Input::Override { record: override_record(), verdict: Verdict::Grant, flags: vec![] }, now);
    assert!(again.is_empty());
}
