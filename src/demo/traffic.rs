//! Gate traffic: every 2–4 s someone presents a finger at one of the lanes' simulated readers — a new
//! impression of their synthetic finger, which the lane extracts and identifies like any capture — and,
//! when the turnstile is released, walks through it: the demo trips the passage sensor of the simulated
//! OSDP controller, which reports it over the secure channel to the real ACU code.
//!
//! Who comes is chosen from what the census and the access policy say now, as real traffic would be:
//! mostly people the policy lets through where they stand (staff and visitors arriving at the main
//! gate, inmates moved from reception to block A, inmates back from court or hospital, whose return a
//! supervisor records first); sometimes someone the policy refuses (a visitor at the block A door, a
//! person trying a lane again after passing it: anti-passback); now and then a finger nobody enrolled
//! (`no_match`) and a released inmate, whose refusal raises an alarm. One person in seven is let through
//! and does not walk (a passage timeout). The lane's decisions are the lane's own: this module only
//! presents fingers and moves the turnstile arm, then waits for the lane to be idle again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::plan::{DemoRng, PersonPlan, UNKNOWN_MASTERS};
use super::{Running, Say, pause, record};
use crate::gate::handle::LaneHandle;
use crate::ledger::entry::{Event, StatusChange};
use crate::people::Status;
use crate::policy::{Movement, Subject};

/// Percent of scans that are a finger nobody enrolled.
const UNKNOWN: u64 = 6;
/// Percent of scans that are a released inmate come back.
const RELEASED: u64 = 5;
/// Percent of scans that are someone the policy refuses.
const REFUSED: u64 = 8;
/// Percent of grants after which nobody walks through.
const NO_PASSAGE: u64 = 14;
/// How long the lanes are waited for at the start.
const READY_WAIT: Duration = Duration::from_secs(30);
/// Longest wait for a lane's decision, or for a lane to be idle again.
const LANE_WAIT: Duration = Duration::from_secs(30);

/// A lane as the traffic sees it.
#[derive(Debug, Clone)]
struct LaneSpec {
    id: String,
    from: String,
    to: String,
    address: u8,
    input: u8,
    handle: LaneHandle,
}

/// Who presents a finger where.
#[derive(Debug, Clone)]
struct Scan {
    lane: usize,
    /// The synthetic master finger presented.
    master: u64,
    /// The person, when enrolled; with the status to record them back from, when away.
    person: Option<(String, Option<Status>)>,
}

/// Presents fingers until stopped.
pub async fn run(running: Arc<Running>, say: Say, mut stopped: watch::Receiver<bool>) {
    let lanes: Vec<LaneSpec> = running
        .facility
        .config
        .lanes
        .iter()
        .filter_map(|l| {
            let handle = running.facility.lanes.get(&l.id)?.clone();
            let (id, from, to) = (l.id.clone(), l.from_zone.clone(), l.to_zone.clone());
            Some(LaneSpec { id, from, to, address: l.turnstile_address, input: l.passage_input, handle })
        })
        .collect();
    if lanes.is_empty() || !ready(&running, &lanes, &say, &mut stopped).await {
        return;
    }
    let nanos = running.facility.clock.wall().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut rng = DemoRng::new(running.prison.seed, nanos as u64);
    // Every scan is a new impression; enrolment used impression 0.
    let mut impression = 1 + rng.below(1000);
    let mut told_empty = false;
    loop {
        if pause(Duration::from_millis(2000 + rng.below(2000)), &mut stopped).await {
            return;
        }
        let Some(scan) = choose(&running, &lanes, &mut rng) else {
            if !told_empty {
                say(format!(
                    "{}  traffic       everyone who may move has moved: from now on the lanes see only refusals",
                    super::local_time(&running.facility)
                ));
                told_empty = true;
            }
            continue;
        };
        impression += 1;
        if present(&running, &lanes[scan.lane], &scan, impression, &mut rng, &mut stopped).await {
            return;
        }
    }
}

/// Waits for every lane to have its reader connected and its turnstile online; says so.
async fn ready(running: &Running, lanes: &[LaneSpec], say: &Say, stopped: &mut watch::Receiver<bool>) -> bool {
    let when = || super::local_time(&running.facility);
    let deadline = tokio::time::Instant::now() + READY_WAIT;
    loop {
        let waiting: Vec<String> = lanes
            .iter()
            .map(|l| l.handle.status())
            .filter(|s| s.turnstile != "online" || s.reader != "connected" || s.locked.is_some())
            .map(|s| format!("{} (turnstile {}, reader {})", s.id, s.turnstile, s.reader))
            .collect();
        if waiting.is_empty() {
            let ids: Vec<&str> = lanes.iter().map(|l| l.id.as_str()).collect();
            say(format!("{}  lanes ready   {}: traffic starts", when(), ids.join(", ")));
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            let waiting = waiting.join(", ");
            say(format!(
                "{}  lanes         not ready after {} s: {waiting}; traffic starts anyway",
                when(),
                READY_WAIT.as_secs()
            ));
            return true;
        }
        if pause(Duration::from_millis(100), stopped).await {
            return false;
        }
    }
}

/// Picks the next scan from the census and the policy as they are now.
fn choose(running: &Running, lanes: &[LaneSpec], rng: &mut DemoRng) -> Option<Scan> {
    let facility = &running.facility;
    let roll = rng.below(100);
    if roll < UNKNOWN {
        let lane = rng.below(lanes.len() as u64) as usize;
        return Some(Scan { lane, master: UNKNOWN_MASTERS + rng.below(1_000_000), person: None });
    }
    // Everyone who can be shown at a reader, with where the census places them now.
    let people: Vec<(&PersonPlan, u64, Option<String>, Status)> = facility.census.read(|c| {
        running
            .prison
            .people
            .iter()
            .filter_map(|p| {
                let state = c.person(&p.id)?;
                Some((p, p.image_master()?, state.zone.clone(), state.status))
            })
            .collect()
    });
    let scan = |lane: usize, p: &PersonPlan, master: u64, status: Status| Scan {
        lane,
        master,
        person: Some((p.id.clone(), status.is_away().then_some(status))),
    };
    if roll < UNKNOWN + RELEASED {
        let released: Vec<_> = people.iter().filter(|(_, _, _, s)| s.is_gone()).collect();
        if let Some(&&(p, master, _, _)) = rng.pick(&released) {
            // At the main gate (the configuration's first lane), as someone come back would be.
            return Some(Scan { lane: 0, master, person: Some((p.id.clone(), None)) });
        }
    }
    let now = time::OffsetDateTime::from(facility.clock.wall());
    let (mut granted, mut refused) = (Vec::new(), Vec::new());
    for (i, lane) in lanes.iter().enumerate() {
        let movement = Movement { lane: &lane.id, from_zone: &lane.from, to_zone: &lane.to };
        for &(p, master, ref zone, status) in &people {
            if status.is_gone() {
                continue;
            }
            let here = zone.as_deref().unwrap_or(facility.config.outside.as_str());
            // Only those standing at the lane: on its near side, or just through it and trying again.
            if here != lane.from && here != lane.to {
                continue;
            }
            let subject = Subject {
                person: &p.id,
                category: p.category,
                status,
                zone: zone.as_deref(),
                known: true,
                duress: false,
            };
            if facility.policy.decide(&subject, &movement, now).is_grant() {
                granted.push(scan(i, p, master, status));
            } else {
                refused.push(scan(i, p, master, status));
            }
        }
    }
    let refuse = roll < UNKNOWN + RELEASED + REFUSED || granted.is_empty();
    if refuse && !refused.is_empty() {
        // With nobody left to let through, refusals only now and then.
        if granted.is_empty() && !rng.chance(30) {
            return None;
        }
        return rng.pick(&refused).cloned();
    }
    // A lane first, so that a short queue is served as often as a long one.
    let open: Vec<usize> = (0..lanes.len()).filter(|&i| granted.iter().any(|s| s.lane == i)).collect();
    let lane = *rng.pick(&open)?;
    let queue: Vec<&Scan> = granted.iter().filter(|s| s.lane == lane).collect();
    rng.pick(&queue).map(|s| (*s).clone())
}

/// Presents `scan`'s finger at its lane and walks through if let; returns whether the demo was stopped.
async fn present(
    running: &Running,
    lane: &LaneSpec,
    scan: &Scan,
    impression: u64,
    rng: &mut DemoRng,
    stopped: &mut watch::Receiver<bool>,
) -> bool {
    let Some(finger) = running.fingers.get(&lane.id) else { return false };
    if !idle(lane, stopped).await {
        return true;
    }
    if let Some((person, Some(away))) = &scan.person {
        let reason = if *away == Status::AtHospital { "back from hospital" } else { "back from court" };
        let change = StatusChange {
            from: away.as_str().into(),
            officer: super::seed::SUPERVISOR.into(),
            person: person.clone(),
            reason: reason.into(),
            to: Status::InCustody.as_str().into(),
        };
        if record(&running.facility, &running.writer, vec![Event::StatusChange(change)]).await.is_err() {
            return false;
        }
    }
    let (seed, master) = (running.prison.seed, scan.master);
    let rendered = tokio::task::spawn_blocking(move || {
        let gray = super::seed::impression(seed, master, impression);
        tally_device::Image::new(gray.width, gray.height, gray.dpi as u16, gray.pixels).ok()
    })
    .await;
    let Ok(Some(image)) = rendered else { return false };

    let mut status = lane.handle.subscribe();
    let before = status.borrow_and_update().last.clone();
    finger.touch(image);
    let mut busy = false;
    let deadline = tokio::time::Instant::now() + LANE_WAIT;
    let granted = loop {
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return false },
            () = tokio::time::sleep_until(deadline) => return false,
            _ = stopped.changed() => return true,
        }
        let now = status.borrow_and_update().clone();
        match now.phase {
            "awaiting_passage" => break true,
            "idle" if busy || now.last != before => break false,
            "idle" => {}
            _ => busy = true,
        }
    };
    if granted && rng.chance(100 - NO_PASSAGE) {
        if pause(Duration::from_millis(500 + rng.below(1000)), stopped).await {
            return true;
        }
        running.turnstiles.passage(lane.address, lane.input);
    }
    !idle(lane, stopped).await
}

/// Waits until `lane` is idle; false when the demo was stopped meanwhile.
async fn idle(lane: &LaneSpec, stopped: &mut watch::Receiver<bool>) -> bool {
    let deadline = tokio::time::Instant::now() + LANE_WAIT;
    while lane.handle.status().phase != "idle" && tokio::time::Instant::now() < deadline {
        if pause(Duration::from_millis(100), stopped).await {
            return false;
        }
    }
    true
}
