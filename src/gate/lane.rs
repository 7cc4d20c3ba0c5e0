//! The lane state machine: one turnstile, its reader, and the rule that nobody passes unrecorded.
//!
//! Pure transitions, driven by events: [`Lane::handle`] takes what happened ([`Input`]) and the time,
//! changes the lane's state and returns what must be done ([`Action`]s) — identify an image, append
//! an entry to the ledger, pulse the turnstile, signal a decision, arm a timer. The runner
//! ([`super::runner`]) does the actions and feeds their results back as inputs. Nothing here does
//! I/O or reads a clock, so every path is a plain test.
//!
//! One passage:
//! ```text
//! Idle ─image─▶ Identifying ─match─▶ CommittingGrant ─grant durable─▶ Releasing ─pulse acked─▶
//!   AwaitingPassage ─passage input─▶ (append passage) Idle
//!                   └─timeout──────▶ (append passage_timeout) Idle
//! Identifying ─no match, or the policy refuses─▶ (append denial, signal denied) Idle
//! Idle ─override─▶ (append override) CommittingGrant …
//! ```
//! The access policy's verdict comes with the identification (the runner asks it); the lane only
//! carries it out, raising the alarms it comes with (duress, a released person seen) first.
//! The turnstile is released only after the grant is durable (ARCHITECTURE invariant 1). While the
//! turnstile is offline or the ledger cannot be written, the lane is locked: it identifies nobody
//! and says why ([`Lane::locked`]); a scan meanwhile is refused with `lane_locked`. Tamper and power
//! reports, the turnstile going offline or coming back, and a passage nobody was granted (someone
//! pushed through) are `alarm` entries.

use std::time::{Duration, Instant};

use tally_device::{Image, Signal, TurnstileEvent};

use crate::ledger::entry::{Alarm, Denial, Event, Grant, Override, Passage, PassageTimeout};

/// How a lane is set up (from the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneConfig {
    /// Lane id, as entries name it.
    pub id: String,
    /// Zone a person leaves through this lane.
    pub from_zone: String,
    /// Zone a person enters.
    pub to_zone: String,
    /// The controller output that frees the turnstile.
    pub output: u8,
    /// How long the output is pulsed.
    pub pulse: Duration,
    /// The controller input that reports a passage.
    pub passage_input: u8,
    /// How long after the release a passage is waited for.
    pub passage_timeout: Duration,
    /// How often a lane locked by an unwritable ledger tries it again.
    pub ledger_retry: Duration,
}

/// Whether the access policy lets an identified person make the lane's movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let them through.
    Grant,
    /// Refuse, with the denial's reason code (`status`, `no_access`, `anti_passback`, …).
    Deny(String),
}

/// An alarm the policy raises with its verdict (duress, a released person seen, soft anti-passback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Alarm code.
    pub code: String,
    /// What happened, by person id (never names or biometric data).
    pub detail: String,
}

/// Who the engine found for an image, and what the policy says about them.
#[derive(Debug, Clone, PartialEq)]
pub enum Identification {
    /// A person, with the calibrated score (parts per million of the matcher's score) of the match.
    Person {
        /// Person id.
        person: String,
        /// Score, in millionths.
        score: u32,
        /// The policy's decision.
        verdict: Verdict,
        /// Alarms raised with it.
        flags: Vec<Flag>,
    },
    /// Nobody enrolled matches well enough.
    NoMatch,
    /// The image could not be used (too few minutiae, too small).
    Unusable(String),
}

/// How a release went at the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulse {
    /// The controller acknowledged it: the turnstile is free.
    Confirmed,
    /// No answer in time: the controller may or may not have freed the turnstile.
    Unconfirmed(String),
    /// The controller refused it or is offline: the turnstile stayed shut.
    Failed(String),
}

/// What a lane's entry is for, so the runner can say which append completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The grant that must be durable before the release.
    Grant,
    /// Anything else: denial, passage, timeout, alarm.
    Record,
}

/// Something that happened to the lane.
#[derive(Debug)]
pub enum Input {
    /// The reader delivered an image.
    Image(Image),
    /// The engine finished identifying the last image.
    Identified(Identification),
    /// An append finished: its sequence number, or why it failed.
    Appended {
        /// What the entry was for.
        purpose: Purpose,
        /// Sequence number, or the ledger's complaint.
        result: Result<u64, String>,
    },
    /// How the pulse went.
    Pulsed(Pulse),
    /// The turnstile reported something.
    Turnstile(TurnstileEvent),
    /// A timer armed by [`Action::Timer`] ran out.
    Timer {
        /// The grant it was armed for.
        grant: u64,
    },
    /// The timer of an [`Action::RetryLedger`] ran out.
    RetryLedger,
    /// Officers let a person through without a fingerprint (the finger would not read). Taken only
    /// when the lane is idle and unlocked ([`Lane::accepts_override`]); recorded before the grant.
    Override {
        /// The `override` entry: lane, both officers, person, reason.
        record: Override,
        /// The policy's decision for the person (a released person is refused even so).
        verdict: Verdict,
        /// Alarms raised with it.
        flags: Vec<Flag>,
    },
}

/// Something the runner must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Extract and identify the image the runner takes with [`Lane::take_image`]; answer with
    /// [`Input::Identified`].
    Identify,
    /// Append the event; answer with [`Input::Appended`].
    Append(Purpose, Event),
    /// Pulse the output for the duration; answer with [`Input::Pulsed`].
    Pulse {
        /// Output number.
        output: u8,
        /// Pulse length.
        duration: Duration,
    },
    /// Show a decision at the turnstile (best effort; no answer).
    Signal(Signal),
    /// While the ledger cannot be written, try again at `at`; answer with [`Input::RetryLedger`].
    RetryLedger {
        /// When.
        at: Instant,
    },
    /// Arm a timer; answer with [`Input::Timer`] at `at`.
    Timer {
        /// When.
        at: Instant,
        /// The grant it is for.
        grant: u64,
    },
}

/// Where the lane is in a passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a finger.
    Idle,
    /// The engine is identifying an image.
    Identifying,
    /// A grant for `person` is being written.
    CommittingGrant {
        /// Person id.
        person: String,
    },
    /// The grant is durable; the pulse is on its way.
    Releasing {
        /// The grant's sequence number.
        grant: u64,
        /// Person id.
        person: String,
    },
    /// The turnstile is free; waiting for the passage input.
    AwaitingPassage {
        /// The grant's sequence number.
        grant: u64,
        /// Person id.
        person: String,
    },
}

/// A lane.
#[derive(Debug)]
pub struct Lane {
    config: LaneConfig,
    phase: Phase,
    /// The image waiting to be identified (taken by the runner).
    image: Option<Image>,
    /// Whether the controller answers; `None` until it has said either way.
    turnstile: Option<bool>,
    /// Why the ledger cannot be written, if it cannot.
    ledger_down: Option<String>,
}

impl Lane {
    /// A lane at rest. It starts locked until its turnstile reports online.
    pub fn new(config: LaneConfig) -> Lane {
        Lane { config, phase: Phase::Idle, image: None, turnstile: None, ledger_down: None }
    }

    /// The lane's configuration.
    pub fn config(&self) -> &LaneConfig {
        &self.config
    }

    /// Where the lane is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Why the lane refuses every grant now, if it does.
    pub fn locked(&self) -> Option<String> {
        if let Some(why) = &self.ledger_down {
            return Some(format!("the ledger cannot be written: {why}"));
        }
        (self.turnstile != Some(true)).then(|| "the turnstile controller is offline".to_string())
    }

    /// Whether the controller answers; `None` until it has said either way.
    pub fn turnstile_online(&self) -> Option<bool> {
        self.turnstile
    }

    /// Whether an override can be taken now: the lane is idle and nothing locks it.
    pub fn accepts_override(&self) -> Result<(), String> {
        if let Some(why) = self.locked() {
            return Err(why);
        }
        if self.phase != Phase::Idle {
            return Err("the lane is busy with a passage".into());
        }
        Ok(())
    }

    /// Hands the image of an [`Action::Identify`] to the runner.
    pub fn take_image(&mut self) -> Option<Image> {
        self.image.take()
    }

    fn record(&self, event: Event) -> Action {
        Action::Append(Purpose::Record, event)
    }

    fn alarm(&self, code: &str, detail: String) -> Action {
        self.record(Event::Alarm(Alarm { code: code.into(), detail, source: format!("lane {}", self.config.id) }))
    }

    fn denial(&self, person: Option<String>, reason: &str) -> Vec<Action> {
        let denial = Event::Denial(Denial { lane: self.config.id.clone(), person, reason: reason.into() });
        vec![self.record(denial), Action::Signal(Signal::Denied)]
    }

    /// Takes one input; returns what must be done, in order.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        match input {
            Input::Image(image) => self.on_image(image),
            Input::Identified(found) => self.on_identified(found),
            Input::Appended { purpose, result } => self.on_appended(purpose, result, now),
            Input::Pulsed(result) => self.on_pulsed(result, now),
            Input::Turnstile(event) => self.on_turnstile(event),
            Input::Timer { grant } => self.on_timer(grant),
            Input::RetryLedger => self.on_retry_ledger(now),
            Input::Override { record, verdict, flags } => self.on_override(record, verdict, flags),
        }
    }

    fn on_image(&mut self, image: Image) -> Vec<Action> {
        if self.phase != Phase::Idle {
            // One passage at a time: a touch while a passage is under way is ignored.
            return Vec::new();
        }
        if self.locked().is_some() {
            return if self.ledger_down.is_some() {
                // Nothing can be recorded; the guard screen shows the lock.
                vec![Action::Signal(Signal::Denied)]
            } else {
                self.denial(None, "lane_locked")
            };
        }
        self.image = Some(image);
        self.phase = Phase::Identifying;
        vec![Action::Identify]
    }

    fn on_identified(&mut self, found: Identification) -> Vec<Action> {
        if self.phase != Phase::Identifying {
            return Vec::new();
        }
        self.phase = Phase::Idle;
        match found {
            Identification::NoMatch => self.denial(None, "no_match"),
            Identification::Unusable(_) => self.denial(None, "unusable_image"),
            Identification::Person { person, score, verdict, flags } => {
                self.decided(person, "fingerprint", Some(score), verdict, flags)
            }
        }
    }

    fn on_override(&mut self, record: Override, verdict: Verdict, flags: Vec<Flag>) -> Vec<Action> {
        if self.accepts_override().is_err() || record.lane != self.config.id {
            return Vec::new();
        }
        let person = record.person.clone();
        let mut actions = vec![self.record(Event::Override(record))];
        actions.extend(self.decided(person, "override", None, verdict, flags));
        actions
    }

    /// The policy's alarms, then the grant or the denial.
    fn decided(
        &mut self,
        person: String,
        method: &str,
        score: Option<u32>,
        verdict: Verdict,
        flags: Vec<Flag>,
    ) -> Vec<Action> {
        let mut actions: Vec<Action> = flags.into_iter().map(|f| self.alarm(&f.code, f.detail)).collect();
        match verdict {
            // Locked while identifying: still refused, never released.
            _ if self.locked().is_some() => actions.extend(self.denial(Some(person), "lane_locked")),
            Verdict::Deny(reason) => actions.extend(self.denial(Some(person), &reason)),
            Verdict::Grant => {
                let grant = Event::Grant(Grant {
                    from_zone: self.config.from_zone.clone(),
                    lane: self.config.id.clone(),
                    method: method.into(),
                    person: person.clone(),
                    score,
                    to_zone: self.config.to_zone.clone(),
                });
                self.phase = Phase::CommittingGrant { person };
                actions.push(Action::Append(Purpose::Grant, grant));
            }
        }
        actions
    }

    fn on_appended(&mut self, purpose: Purpose, result: Result<u64, String>, now: Instant) -> Vec<Action> {
        let seq = match result {
            Ok(seq) => seq,
            Err(why) => {
                let first = self.ledger_down.is_none();
                self.ledger_down = Some(why);
                let mut actions = Vec::new();
                if first {
                    actions.push(Action::RetryLedger { at: now + self.config.ledger_retry });
                }
                if purpose == Purpose::Grant && matches!(self.phase, Phase::CommittingGrant { .. }) {
                    // The grant is not durable: the turnstile stays shut.
                    self.phase = Phase::Idle;
                    actions.push(Action::Signal(Signal::Denied));
                }
                return actions;
            }
        };
        self.ledger_down = None;
        let Phase::CommittingGrant { person } = &self.phase else { return Vec::new() };
        if purpose != Purpose::Grant {
            return Vec::new();
        }
        if self.turnstile != Some(true) {
            // The controller went offline while the grant was written: the grant goes unused.
            self.phase = Phase::Idle;
            let timeout = Event::PassageTimeout(PassageTimeout { grant: seq, lane: self.config.id.clone() });
            return vec![self.record(timeout), Action::Signal(Signal::Denied)];
        }
        self.phase = Phase::Releasing { grant: seq, person: person.clone() };
        vec![Action::Pulse { output: self.config.output, duration: self.config.pulse }, Action::Signal(Signal::Granted)]
    }

    fn on_retry_ledger(&mut self, now: Instant) -> Vec<Action> {
        match &self.ledger_down {
            // The outage itself is recorded once the ledger takes writes again; writing it is the probe.
            Some(why) => {
                let alarm = self.alarm("ledger_unwritable", format!("the lane was locked: {why}"));
                vec![alarm, Action::RetryLedger { at: now + self.config.ledger_retry }]
            }
            None => Vec::new(),
        }
    }

    fn on_pulsed(&mut self, pulse: Pulse, now: Instant) -> Vec<Action> {
        let Phase::Releasing { grant, person } = &self.phase else { return Vec::new() };
        let (grant, person) = (*grant, person.clone());
        match pulse {
            Pulse::Confirmed => {
                self.phase = Phase::AwaitingPassage { grant, person };
                vec![Action::Timer { at: now + self.config.passage_timeout, grant }]
            }
            Pulse::Unconfirmed(why) => {
                // The turnstile may be free (OSDP never resends a pulse whose answer was lost): wait
                // for the passage as usual, and have someone look at the line.
                self.phase = Phase::AwaitingPassage { grant, person };
                vec![
                    self.alarm("release_unconfirmed", why),
                    Action::Timer { at: now + self.config.passage_timeout, grant },
                ]
            }
            Pulse::Failed(why) => {
                // The turnstile stayed shut: the grant went unused, and someone must look at it.
                self.phase = Phase::Idle;
                let timeout = Event::PassageTimeout(PassageTimeout { grant, lane: self.config.id.clone() });
                vec![self.record(timeout), self.alarm("release_failed", why), Action::Signal(Signal::Denied)]
            }
        }
    }

    fn on_timer(&mut self, fired: u64) -> Vec<Action> {
        match &self.phase {
            Phase::AwaitingPassage { grant, .. } if *grant == fired => {
                self.phase = Phase::Idle;
                let timeout = Event::PassageTimeout(PassageTimeout { grant: fired, lane: self.config.id.clone() });
                vec![self.record(timeout), Action::Signal(Signal::Idle)]
            }
            // A timer of a passage that already happened.
            _ => Vec::new(),
        }
    }

    fn on_turnstile(&mut self, event: TurnstileEvent) -> Vec<Action> {
        match event {
            TurnstileEvent::Online { identity } => {
                let was = self.turnstile.replace(true);
                if was == Some(true) { Vec::new() } else { vec![self.alarm("turnstile_online", identity)] }
            }
            TurnstileEvent::Offline { reason } => {
                // Reported when it goes away, and when it was never there at all.
                let was = self.turnstile.replace(false);
                let mut actions =
                    if was == Some(false) { Vec::new() } else { vec![self.alarm("turnstile_offline", reason)] };
                // A passage cannot be confirmed by a controller that is gone: the grant goes unused.
                if let Phase::AwaitingPassage { grant, .. } = self.phase {
                    self.phase = Phase::Idle;
                    let timeout = Event::PassageTimeout(PassageTimeout { grant, lane: self.config.id.clone() });
                    actions.insert(0, self.record(timeout));
                }
                actions
            }
            TurnstileEvent::Input { point, active: true } if point == self.config.passage_input => match &self.phase {
                Phase::AwaitingPassage { grant, .. } => {
                    let passage = Event::Passage(Passage { grant: *grant, lane: self.config.id.clone() });
                    self.phase = Phase::Idle;
                    vec![self.record(passage), Action::Signal(Signal::Idle)]
                }
                // The sensor saw someone go through with no grant open: forced or tailgating.
                _ => vec![self.alarm("unauthorised_passage", "the passage sensor tripped with no grant open".into())],
            },
            TurnstileEvent::Input { .. } => Vec::new(),
            TurnstileEvent::Tamper { active } => {
                let detail = if active { "turnstile enclosure opened" } else { "turnstile enclosure closed" };
                vec![self.alarm(if active { "tamper" } else { "tamper_cleared" }, detail.into())]
            }
            TurnstileEvent::Power { failed } => {
                let detail = if failed { "turnstile mains power failed" } else { "turnstile mains power restored" };
                vec![self.alarm(if failed { "power" } else { "power_restored" }, detail.into())]
            }
        }
    }
}

#[cfg(test)]
#[path = "lane_tests.rs"]
mod tests;
