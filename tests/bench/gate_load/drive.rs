//! The lane drivers: one thread per lane plays the queue of people at its turnstile. Each takes the
//! next mover standing in the lane's `from_zone`, touches the lane's simulated reader with a later
//! impression of their finger, and waits for the lane's decision on its status (the same status the
//! API shows). On a grant it checks that the controller received the pulse, notes how much of the
//! ledger was durable at that moment, trips the passage sensor, waits for the lane to close the
//! passage and for the census to place the mover in the `to_zone`, then hands the mover to the lane
//! going back. On a denial the mover queues again. Every n-th touch is a stranger's (a finger
//! nobody enrolled), which must be refused. Everything a driver saw is logged, to be checked
//! against the ledger afterwards (`audit`).
//!
//! The movers' whereabouts (the [`Book`]) are the drivers' own bookkeeping: a mover is handed to the
//! other lane only once the census shows them there, so that hard anti-passback never refuses a
//! mover the bench moved correctly; a refusal for anti-passback is therefore a finding.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tally::app::Facility;
use tally::gate::handle::LaneStatus;
use tally::gate::simulated::Finger;
use tally::ledger::LedgerReader;
use tally_device::Image;
use tally_osdp::pd::pty::SimHandle;
use tokio::sync::watch;

use super::site::{LaneSpec, Layout, Mover};

/// Longest wait for a decision, a passage to close, or the census to follow.
const PATIENCE: Duration = Duration::from_secs(30);
/// How often the census is looked at while waiting for it to fold a passage.
const CENSUS_POLL: Duration = Duration::from_millis(1);
/// How long a driver waits before looking again when nobody stands at its lane.
const NOBODY_POLL: Duration = Duration::from_millis(5);

/// Which movers stand on which side of each pair of lanes (indexes into the movers).
#[derive(Debug)]
pub struct Book {
    pairs: Vec<Mutex<[VecDeque<usize>; 2]>>,
}

impl Book {
    pub fn new(movers: &[Arc<Mover>], pairs: usize) -> Book {
        let book = Book { pairs: (0..pairs).map(|_| Mutex::new([VecDeque::new(), VecDeque::new()])).collect() };
        for (i, m) in movers.iter().enumerate() {
            book.put(m.pair, m.side, i);
        }
        book
    }

    fn take(&self, pair: usize, side: usize) -> Option<usize> {
        self.pairs[pair].lock().unwrap_or_else(PoisonError::into_inner)[side].pop_front()
    }

    fn put(&self, pair: usize, side: usize, mover: usize) {
        self.pairs[pair].lock().unwrap_or_else(PoisonError::into_inner)[side].push_back(mover);
    }
}

/// A grant as the driver saw it.
#[derive(Debug, Clone)]
pub struct Granted {
    /// Whom the lane granted (the status's person).
    pub person: String,
    /// Touch → the lane's status says the turnstile is released (controller acknowledged the pulse).
    pub release: Duration,
    /// Pulses the controller had received before the touch and when the release was seen.
    pub pulses: (usize, usize),
    /// The ledger's size (latest checkpoint) when the release was seen: the grant must be below it.
    pub durable: u64,
    /// Whether the driver tripped the passage sensor (the person was the mover who touched).
    pub tripped: bool,
    /// The passage, once the lane took it and the census followed.
    pub walked: Option<Walked>,
}

/// A passage the driver made.
#[derive(Debug, Clone, Copy)]
pub struct Walked {
    /// Sensor tripped → the lane is idle again (it took the passage).
    pub closed: Duration,
    /// Sensor tripped → the census places the person in the lane's `to_zone` (durable and folded).
    pub folded: Duration,
}

/// What came of one touch.
#[derive(Debug, Clone)]
pub enum Outcome {
    Granted(Granted),
    /// The lane refused: the status's last decision.
    Denied {
        person: Option<String>,
        reason: String,
        after: Duration,
    },
    /// No decision within [`PATIENCE`]; the lane's status then.
    Unanswered {
        status: String,
    },
}

/// One touch at a lane.
#[derive(Debug, Clone)]
pub struct Touch {
    /// The mover whose finger it was, or `stranger-N`.
    pub mover: String,
    pub outcome: Outcome,
}

/// Everything one driver did.
#[derive(Debug, Default)]
pub struct LaneLog {
    pub touches: Vec<Touch>,
    /// When the first touch was made and the last one ended.
    pub span: Option<(Instant, Instant)>,
    /// Time spent with nobody at the lane (everyone of the pair on the other side or passing).
    pub nobody: Duration,
    /// Why the driver stopped early, if it did.
    pub stopped: Option<String>,
}

/// What the drivers share.
pub struct Drive<'a> {
    pub layout: &'a Layout,
    pub movers: &'a [Arc<Mover>],
    pub book: &'a Book,
    pub facility: &'a Facility,
    pub runtime: &'a tokio::runtime::Handle,
    pub fingers: &'a HashMap<String, Finger>,
    /// Each bus's simulated controllers.
    pub buses: &'a [SimHandle],
    pub dir: &'a Path,
    /// Impressions of fingers nobody enrolled, and how often one is presented (every n-th touch
    /// at each lane; 0: never): they must be refused.
    pub strangers: &'a [Image],
    pub stranger_every: usize,
}

impl Drive<'_> {
    /// Drives lane `lane` until `stop_at`, finishing the passage under way.
    pub fn lane(&self, lane: usize, stop_at: Instant) -> LaneLog {
        let spec = &self.layout.lanes[lane];
        let mut log = LaneLog::default();
        let result = self.run(spec, stop_at, &mut log);
        if let Err(why) = result {
            log.stopped = Some(why);
        }
        log
    }

    fn run(&self, spec: &LaneSpec, stop_at: Instant, log: &mut LaneLog) -> Result<(), String> {
        let lane = self.facility.lanes.get(&spec.id).ok_or("no such lane")?;
        let finger = self.fingers.get(&spec.id).ok_or("no simulated reader")?;
        let pd = &self.buses[spec.bus];
        let mut rx = lane.subscribe();
        let mut reader = LedgerReader::open(self.dir).map_err(|e| format!("a ledger reader: {e}"))?;
        let (from, to) = (spec.direction, 1 - spec.direction);
        let to_zone = self.layout.zone_of(spec.pair, to).map(str::to_string);
        let pulses = |pd: &SimHandle| pd.with(spec.address, |c| c.outputs().len()).unwrap_or(0);
        // Puts a mover (not a stranger) back in the queue they were taken from.
        let back = |m: Option<usize>| {
            if let Some(m) = m {
                self.book.put(spec.pair, from, m);
            }
        };
        while Instant::now() < stop_at {
            let touches = log.touches.len() + 1;
            let (who, image, m) = if self.stranger_every > 0 && touches.is_multiple_of(self.stranger_every) {
                let k = touches / self.stranger_every + spec.pair;
                (
                    format!("stranger-{}", k % self.strangers.len()),
                    self.strangers[k % self.strangers.len()].clone(),
                    None,
                )
            } else {
                let Some(m) = self.book.take(spec.pair, from) else {
                    std::thread::sleep(NOBODY_POLL);
                    log.nobody += NOBODY_POLL;
                    continue;
                };
                let mover = &self.movers[m];
                let k = mover.next_probe.fetch_add(1, Ordering::Relaxed);
                (mover.id.clone(), mover.probes[k % mover.probes.len()].clone(), Some(m))
            };

            self.wait_for(&mut rx, |s| s.phase == "idle", "the lane to be idle")?;
            let before = rx.borrow_and_update().clone();
            let pulses_before = pulses(pd);
            let touched = Instant::now();
            finger.touch(image);
            let Some(decided) = self.decision(&mut rx, &before) else {
                let status = format!("{:?}", lane.status());
                log.touches.push(Touch { mover: who.clone(), outcome: Outcome::Unanswered { status } });
                back(m);
                return Err(format!("no decision for {who} within {PATIENCE:?}"));
            };
            let after = touched.elapsed();
            let span = log.span.get_or_insert((touched, touched));
            // Set when the passage under way could not be completed: logged, then the driver stops.
            let mut failure = None;
            let outcome = match decided.phase {
                "awaiting_passage" => {
                    let durable = reader.latest_checkpoint().map(|(size, _)| size).unwrap_or(0);
                    let person = decided.person.clone().unwrap_or_default();
                    let pulses = (pulses_before, pulses(pd));
                    let mut granted = Granted { person, release: after, pulses, durable, tripped: false, walked: None };
                    if let (Some(m), true) = (m, granted.person == who) {
                        let tripped = Instant::now();
                        pd.passage(spec.address, 0);
                        granted.tripped = true;
                        let walked = self
                            .wait_for(&mut rx, |s| s.phase == "idle", "the lane to take the passage")
                            .map(|()| tripped.elapsed())
                            .and_then(|closed| {
                                self.folded(&who, to_zone.as_deref())
                                    .map(|()| Walked { closed, folded: tripped.elapsed() })
                            });
                        match walked {
                            Ok(w) => {
                                granted.walked = Some(w);
                                self.book.put(spec.pair, to, m);
                            }
                            Err(why) => failure = Some(why),
                        }
                    } else {
                        // Someone else was named: the guard keeps the person back, and the lane
                        // records the grant's timeout.
                        failure = self.wait_for(&mut rx, |s| s.phase == "idle", "the unused grant to time out").err();
                        back(m);
                    }
                    Outcome::Granted(granted)
                }
                _ => {
                    back(m);
                    match decided.last {
                        Some(last) if !last.granted => {
                            Outcome::Denied { person: last.person, reason: last.reason.unwrap_or_default(), after }
                        }
                        // A grant that ended without a release (the pulse failed): the audit
                        // finds its timeout and alarm.
                        Some(last) => Outcome::Granted(Granted {
                            person: last.person.unwrap_or_default(),
                            release: after,
                            pulses: (pulses_before, pulses(pd)),
                            durable: 0,
                            tripped: false,
                            walked: None,
                        }),
                        None => Outcome::Unanswered { status: format!("{decided:?}") },
                    }
                }
            };
            log.touches.push(Touch { mover: who, outcome });
            span.1 = Instant::now();
            if let Some(why) = failure {
                return Err(why);
            }
        }
        Ok(())
    }

    /// The next status the lane publishes, or `None` after `within`.
    fn next(&self, rx: &mut watch::Receiver<LaneStatus>, within: Duration) -> Option<LaneStatus> {
        let changed = self.runtime.block_on(async { tokio::time::timeout(within, rx.changed()).await });
        match changed {
            Ok(Ok(())) => Some(rx.borrow_and_update().clone()),
            _ => None,
        }
    }

    /// Waits until the lane's status satisfies `ok`.
    fn wait_for(
        &self,
        rx: &mut watch::Receiver<LaneStatus>,
        ok: impl Fn(&LaneStatus) -> bool,
        what: &str,
    ) -> Result<(), String> {
        let until = Instant::now() + PATIENCE;
        if ok(&rx.borrow_and_update()) {
            return Ok(());
        }
        while let Some(s) = self.next(rx, until.saturating_duration_since(Instant::now())) {
            if ok(&s) {
                return Ok(());
            }
        }
        Err(format!("timed out waiting for {what}: {:?}", rx.borrow()))
    }

    /// The lane's decision after a touch: its status once it released the turnstile
    /// (`awaiting_passage`) or went back to idle (a denial, or a grant whose release failed).
    fn decision(&self, rx: &mut watch::Receiver<LaneStatus>, before: &LaneStatus) -> Option<LaneStatus> {
        let until = Instant::now() + PATIENCE;
        let mut busy = false;
        loop {
            let s = self.next(rx, until.saturating_duration_since(Instant::now()))?;
            match s.phase {
                "awaiting_passage" => return Some(s),
                "idle" => {
                    // The status changes only with the lane's own work while it is idle, but for its
                    // reader's or controller's state: such a change is not the decision.
                    let unrelated = !busy
                        && s.last == before.last
                        && (s.reader != before.reader || s.turnstile != before.turnstile || s.locked != before.locked);
                    if !unrelated {
                        return Some(s);
                    }
                }
                _ => busy = true,
            }
        }
    }

    /// Waits until the census places `person` in `zone` (`None`: outside).
    fn folded(&self, person: &str, zone: Option<&str>) -> Result<(), String> {
        let until = Instant::now() + PATIENCE;
        loop {
            let now = self.facility.census.read(|c| c.person(person).map(|p| p.zone.clone()));
            match now {
                Some(z) if z.as_deref() == zone => return Ok(()),
                _ if Instant::now() > until => {
                    return Err(format!("the census did not place {person} in {zone:?} within {PATIENCE:?}: {now:?}"));
                }
                _ => std::thread::sleep(CENSUS_POLL),
            }
        }
    }
}
