//! The lanes' [`Decider`]: the access policy, asked about a person where the census last saw them, at
//! the wall clock's time.

use std::sync::Arc;

use super::lane::{Flag, LaneConfig, Verdict};
use super::runner::Decider;
use crate::census::live::LiveCensus;
use crate::clock::Clock;
use crate::people::{Category, Status};
use crate::policy::{Decision, Movement, Policy, Subject};

/// The policy against the live census.
#[derive(Debug)]
pub struct PolicyDecider {
    /// Who may go where, when.
    pub policy: Arc<Policy>,
    /// Where everyone is, and their status.
    pub census: Arc<LiveCensus>,
    /// The wall clock, for time windows.
    pub clock: Arc<dyn Clock>,
}

impl Decider for PolicyDecider {
    fn decide(&self, lane: &LaneConfig, person: &str, duress: bool) -> (Verdict, Vec<Flag>) {
        let now = time::OffsetDateTime::from(self.clock.wall());
        let movement = Movement { lane: &lane.id, from_zone: &lane.from_zone, to_zone: &lane.to_zone };
        let decision = self.census.read(|census| {
            let state = census.person(person);
            let subject = Subject {
                person,
                // A person the ledger does not know is refused as not registered whatever these say.
                category: state.map_or(Category::Visitor, |s| s.category),
                status: state.map_or(Status::Visiting, |s| s.status),
                zone: state.and_then(|s| s.zone.as_deref()),
                known: state.is_some(),
                duress,
            };
            self.policy.decide(&subject, &movement, now)
        });
        verdict_of(decision)
    }
}

/// The lane's terms for the policy's decision.
pub fn verdict_of(decision: Decision) -> (Verdict, Vec<Flag>) {
    let flags = |alarms: Vec<crate::policy::PolicyAlarm>| {
        alarms.into_iter().map(|a| Flag { code: a.code.to_string(), detail: a.detail }).collect()
    };
    match decision {
        Decision::Grant { alarms } => (Verdict::Grant, flags(alarms)),
        Decision::Deny { reason, alarms } => (Verdict::Deny(reason.to_string()), flags(alarms)),
    }
}
