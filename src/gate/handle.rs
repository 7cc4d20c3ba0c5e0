//! What the rest of the service sees of a running lane: its status, published on every change, and
//! the one command it takes from outside (an officers' override).
//!
//! The runner owns the other ends ([`LaneControl`]). The API reads [`LaneHandle::status`] for the lane
//! list and the guard screen, and asks for an override through [`LaneHandle::request_override`], which
//! answers once the lane has taken or refused it (the grant then follows as any other).

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use super::lane::{LaneConfig, Verdict};
use crate::ledger::entry::Override;

/// A lane's state, as shown to guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneStatus {
    /// Lane id.
    pub id: String,
    /// Zone left through it.
    pub from_zone: String,
    /// Zone entered.
    pub to_zone: String,
    /// `idle`, `identifying`, `committing_grant`, `releasing` or `awaiting_passage`.
    pub phase: &'static str,
    /// The person of the passage under way.
    pub person: Option<String>,
    /// Why the lane refuses everyone now, if it does.
    pub locked: Option<String>,
    /// `online`, `offline` or `unknown` (not heard from yet).
    pub turnstile: &'static str,
    /// The reader: `starting`, `connected`, or what went wrong.
    pub reader: String,
    /// The last decision taken at this lane.
    pub last: Option<LastDecision>,
}

/// The last decision taken at a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastDecision {
    /// Person id, when someone was identified.
    pub person: Option<String>,
    /// Whether they were let through.
    pub granted: bool,
    /// The denial's reason code.
    pub reason: Option<String>,
    /// `fingerprint` or `override`.
    pub method: &'static str,
}

impl LaneStatus {
    /// The status of a lane that has not started.
    pub fn starting(config: &LaneConfig) -> LaneStatus {
        LaneStatus {
            id: config.id.clone(),
            from_zone: config.from_zone.clone(),
            to_zone: config.to_zone.clone(),
            phase: "idle",
            person: None,
            locked: Some("starting".into()),
            turnstile: "unknown",
            reader: "starting".into(),
            last: None,
        }
    }
}

/// A request to let a person through without a fingerprint.
#[derive(Debug)]
pub struct OverrideRequest {
    /// The `override` entry to record (lane, both officers, person, reason).
    pub record: Override,
    /// Answered with the policy's verdict once the lane has taken it, or with why not (busy, locked).
    pub reply: oneshot::Sender<Result<Verdict, String>>,
}

/// The outside's end of a running lane. Cloned freely.
#[derive(Debug, Clone)]
pub struct LaneHandle {
    status: watch::Receiver<LaneStatus>,
    overrides: mpsc::UnboundedSender<OverrideRequest>,
}

/// The runner's end.
#[derive(Debug)]
pub struct LaneControl {
    /// Where the runner publishes the status.
    pub status: watch::Sender<LaneStatus>,
    /// Overrides asked for.
    pub overrides: mpsc::UnboundedReceiver<OverrideRequest>,
}

/// A connected pair for a lane about to start.
pub fn lane_channel(config: &LaneConfig) -> (LaneHandle, LaneControl) {
    let (status_tx, status_rx) = watch::channel(LaneStatus::starting(config));
    let (override_tx, override_rx) = mpsc::unbounded_channel();
    (
        LaneHandle { status: status_rx, overrides: override_tx },
        LaneControl { status: status_tx, overrides: override_rx },
    )
}

impl LaneHandle {
    /// The lane's status now.
    pub fn status(&self) -> LaneStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every change of status.
    pub fn subscribe(&self) -> watch::Receiver<LaneStatus> {
        self.status.clone()
    }

    /// Asks the lane to let `record.person` through; resolves once it took the override (the
    /// `override` entry and the grant or refusal are then on their way), with the policy's verdict, or
    /// with why it could not.
    pub async fn request_override(&self, record: Override) -> Result<Verdict, String> {
        let (reply, answer) = oneshot::channel();
        self.overrides.send(OverrideRequest { record, reply }).map_err(|_| "the lane has stopped".to_string())?;
        answer.await.map_err(|_| "the lane stopped before answering".to_string())?
    }
}
