//! The shift-change roll-call of block A, played once per run: a supervisor starts it (the roster is
//! every inmate in custody the ledger places in block A at that entry), a guard with a handheld counts
//! the inmates one by one — all but one, who is never found — and the supervisor closes the count
//! short with a remark, which raises the `short_count` alarm.
//!
//! The entries are the ones the roll-call routes of the API write (`rollcall_started`,
//! `rollcall_counted` by `handheld:<officer>`, `rollcall_closed` and the alarm), through the same
//! ledger writer and under the demo's token names, and the roster and figures are the census's, as
//! the routes take them. Refusing bad requests is the routes' work; the demo makes none.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::plan::{BLOCK_A, DemoRng};
use super::seed::SUPERVISOR;
use super::{GUARD, Running, Say, local_time, pause, record};
use crate::ledger::entry::{Alarm, Event, RollcallClosed, RollcallCounted, RollcallStarted};

/// Time between two handheld counts: slow enough to watch the count climb on the roll-call page
/// (about half a minute for block A).
const COUNT_PACE: Duration = Duration::from_millis(250);
/// Time between the last count and the sign-off, while the page shows the one person missing.
const BEFORE_CLOSING: Duration = Duration::from_secs(20);

/// Runs the roll-call once, `running.rollcall_after` from now, unless stopped first.
pub async fn run(running: Arc<Running>, say: Say, mut stopped: watch::Receiver<bool>) {
    if pause(running.rollcall_after, &mut stopped).await {
        return;
    }
    let facility = &running.facility;
    let when = || local_time(facility);
    let zones = vec![BLOCK_A.to_owned()];
    let (open, expected, started_before) = facility.census.read(|c| {
        let open = c
            .open_rollcalls()
            .into_iter()
            .filter_map(|id| c.rollcall(id))
            .find(|r| r.zones.iter().any(|z| zones.contains(z)))
            .map(|r| r.id);
        (open, c.roster(&zones).len() as u64, c.rollcalls().len())
    });
    if let Some(other) = open {
        say(format!("{}  roll-call     {other} of {BLOCK_A} is still open from an earlier run: no new one", when()));
        return;
    }
    if expected < 2 {
        say(format!("{}  roll-call     too few inmates in {BLOCK_A} for a shift-change roll-call", when()));
        return;
    }
    let id = format!("rc-{}", started_before + 1);
    let start = RollcallStarted { expected, rollcall: id.clone(), supervisor: SUPERVISOR.into(), zones: zones.clone() };
    if record(facility, &running.writer, vec![Event::RollcallStarted(start)]).await.is_err() {
        return;
    }
    let Some(view) = facility.census.read(|c| c.rollcall(&id)) else { return };
    let roster: Vec<String> = view.missing.iter().map(|m| m.person.clone()).collect();
    let mut rng = DemoRng::new(running.prison.seed, 3 + started_before as u64);
    let lost = rng.below(roster.len() as u64) as usize;
    let guard = GUARD;
    say(format!("{}  roll-call     {id}: shift change — {guard} counts {BLOCK_A} with a handheld", when()));
    say(format!(
        "{}  roll-call     {id}: watch it live on the page /rollcall/{id} (supervisor or guard token)",
        when()
    ));

    let to_count = roster.len() - 1;
    let mut counted = 0;
    for (i, person) in roster.iter().enumerate() {
        if i == lost {
            continue;
        }
        if pause(COUNT_PACE, &mut stopped).await {
            return;
        }
        let count = RollcallCounted {
            by: format!("handheld:{guard}"),
            person: person.clone(),
            rollcall: id.clone(),
            zone: BLOCK_A.into(),
        };
        if record(facility, &running.writer, vec![Event::RollcallCounted(count)]).await.is_err() {
            return;
        }
        counted += 1;
        if counted * 4 / to_count != (counted - 1) * 4 / to_count {
            say(format!("{}  roll-call     {id}: {counted} of {expected} counted", when()));
        }
    }
    let seconds = BEFORE_CLOSING.as_secs();
    say(format!("{}  roll-call     {id}: one inmate not found; the supervisor signs off in {seconds} s", when()));
    if pause(BEFORE_CLOSING, &mut stopped).await {
        return;
    }
    let Some(view) = facility.census.read(|c| c.rollcall(&id)) else { return };
    let missing: Vec<&str> = view.missing.iter().map(|m| m.person.as_str()).collect();
    let remark = format!(
        "{} not found in {BLOCK_A} at the shift change; cells and yard searched, search of the grounds ordered",
        missing.join(", ")
    );
    let mut events = vec![Event::RollcallClosed(RollcallClosed {
        counted: view.counted,
        missing: missing.len() as u64,
        remark: Some(remark),
        rollcall: id.clone(),
        supervisor: SUPERVISOR.into(),
    })];
    if !missing.is_empty() {
        // As the close route raises it.
        let names: Vec<&str> = missing.iter().take(50).copied().collect();
        events.push(Event::Alarm(Alarm {
            code: "short_count".into(),
            detail: format!("roll-call {id} closed {} short: {}", missing.len(), names.join(", ")),
            source: format!("rollcall {id}"),
        }));
    }
    if record(facility, &running.writer, events).await.is_err() {
        return;
    }
    for person in &missing {
        let name = running.prison.person(person).map(|p| p.name()).unwrap_or_default();
        say(format!("{}  roll-call     {id}: MISSING {person} {name} — see the roll-call page", when()));
    }
}
