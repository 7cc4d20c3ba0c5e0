//! The lanes' state, and officers' overrides: a person chosen by id, with a reason and a second
//! officer's token, let through a lane whose reader cannot read their finger.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, Json, Override, Path, ReadLanes, principal_of};
use crate::auth::Action;
use crate::census::Scan;
use crate::gate::handle::LaneStatus;
use crate::ledger::entry;

/// Longest override reason, in characters.
const MAX_REASON_CHARS: usize = 500;

/// A lane as guards see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaneView {
    /// Lane id.
    pub id: String,
    /// Zone left through it.
    pub from_zone: String,
    /// Zone entered.
    pub to_zone: String,
    /// `idle`, `identifying`, `committing_grant`, `releasing` or `awaiting_passage`.
    pub phase: String,
    /// The person of the passage under way.
    pub person: Option<String>,
    /// Why the lane refuses everyone now, if it does.
    pub locked: Option<String>,
    /// `online`, `offline` or `unknown`.
    pub turnstile: String,
    /// `starting`, `connected`, or what is wrong with the reader.
    pub reader: String,
    /// The last decision: person, granted, reason, method.
    pub last: Option<LastView>,
    /// The lane's recent scans as the ledger has them, newest first.
    pub recent: Vec<ScanView>,
}

/// A recent scan at a lane.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScanView {
    /// The grant's or denial's entry.
    pub seq: u64,
    /// Its time (the appliance's clock).
    pub time: String,
    /// Whether the person was let through.
    pub granted: bool,
    /// Person id, when someone was identified.
    pub person: Option<String>,
    /// The denial's reason.
    pub reason: Option<String>,
    /// `fingerprint` or `override`.
    pub method: String,
    /// For an override: the officer who made it.
    pub officer: Option<String>,
    /// For an override: the second officer.
    pub second_officer: Option<String>,
    /// For an override: why the finger was not used.
    pub override_reason: Option<String>,
    /// For a grant: `waiting`, `passed` or `timeout`.
    pub passage: Option<String>,
}

impl From<Scan> for ScanView {
    fn from(s: Scan) -> ScanView {
        let (officer, second_officer, override_reason) = match s.override_by {
            Some(o) => (Some(o.officer), Some(o.second_officer), Some(o.reason)),
            None => (None, None, None),
        };
        ScanView {
            override_reason,
            seq: s.seq,
            time: s.time,
            granted: s.granted,
            person: s.person,
            reason: s.reason,
            method: s.method,
            officer,
            second_officer,
            passage: s.passage.map(Into::into),
        }
    }
}

/// The last decision at a lane.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastView {
    /// Person id, when someone was identified.
    pub person: Option<String>,
    /// Whether they were let through.
    pub granted: bool,
    /// The denial's reason.
    pub reason: Option<String>,
    /// `fingerprint` or `override`.
    pub method: String,
}

/// A lane's view: its state from the lane, its recent scans from the census.
fn view(state: &AppState, s: LaneStatus) -> LaneView {
    let recent = state.census(|c| c.scans(&s.id)).into_iter().map(ScanView::from).collect();
    LaneView { recent, ..s.into() }
}

impl From<LaneStatus> for LaneView {
    fn from(s: LaneStatus) -> LaneView {
        LaneView {
            recent: Vec::new(),
            id: s.id,
            from_zone: s.from_zone,
            to_zone: s.to_zone,
            phase: s.phase.into(),
            person: s.person,
            locked: s.locked,
            turnstile: s.turnstile.into(),
            reader: s.reader,
            last: s.last.map(|l| LastView {
                person: l.person,
                granted: l.granted,
                reason: l.reason,
                method: l.method.into(),
            }),
        }
    }
}

/// Every lane of this appliance.
#[utoipa::path(get, path = "/api/v1/lanes", tag = "lanes", responses((status = 200, body = Vec<LaneView>)))]
pub async fn list(State(state): State<AppState>, _: Caller<ReadLanes>) -> axum::Json<Vec<LaneView>> {
    axum::Json(state.facility().lanes.values().map(|h| view(&state, h.status())).collect())
}

fn no_lane(id: &str) -> ApiError {
    ApiError::no_such("no_such_lane", format!("no lane {id:?} on this appliance"))
}

/// One lane.
#[utoipa::path(get, path = "/api/v1/lanes/{id}", tag = "lanes",
    params(("id" = String, Path, description = "Lane id", example = "gate-in")),
    responses((status = 200, body = LaneView), (status = 404, body = ErrorBody)))]
pub async fn get_lane(
    State(state): State<AppState>,
    _: Caller<ReadLanes>,
    Path(id): Path<String>,
) -> Result<axum::Json<LaneView>, ApiError> {
    let handle = state.facility().lanes.get(&id).ok_or_else(|| no_lane(&id))?;
    Ok(axum::Json(view(&state, handle.status())))
}

/// An override.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"person": "P-1", "reason": "cut on the finger", "second_token": "tly_…"}))]
pub struct OverrideBody {
    /// The person let through, chosen by the guard (check the photo).
    pub person: String,
    /// Why the finger was not used.
    pub reason: String,
    /// The second officer's token: a guard or supervisor other than the caller.
    pub second_token: String,
}

/// What the lane made of an override.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideResult {
    /// Lane id.
    pub lane: String,
    /// Person id.
    pub person: String,
    /// The second officer, by token name.
    pub second_officer: String,
    /// Whether the policy lets them through (a released person is refused even by override).
    pub granted: bool,
    /// The refusal's reason.
    pub reason: Option<String>,
}

/// Lets a person through a lane without a fingerprint: recorded as an `override` entry naming both
/// officers, then granted (or refused) by the policy like any scan.
#[utoipa::path(post, path = "/api/v1/lanes/{id}/override", tag = "lanes", request_body = OverrideBody,
    params(("id" = String, Path, description = "Lane id", example = "gate-in")),
    responses((status = 202, body = OverrideResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "the lane is busy or locked", body = ErrorBody)))]
pub async fn override_passage(
    State(state): State<AppState>,
    Caller(caller, _): Caller<Override>,
    Path(id): Path<String>,
    Json(body): Json<OverrideBody>,
) -> Result<(StatusCode, axum::Json<OverrideResult>), ApiError> {
    let facility = state.facility();
    let handle = facility.lanes.get(&id).ok_or_else(|| no_lane(&id))?.clone();
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(ApiError::bad_request("invalid_field", "reason: 1 to 500 characters, no control characters"));
    }
    if !state.census(|c| c.person(&body.person).is_some()) {
        return Err(ApiError::no_such("no_such_person", format!("{:?} is not registered", body.person)));
    }
    let second = principal_of(&state, body.second_token).await?;
    let second = match second {
        Some(p) if p.name == caller.name => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "second_officer_required",
                "the second officer must be someone else",
            ));
        }
        Some(p) if p.role.may(Action::Override) => p,
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "second_officer_required",
                "second_token must be the valid token of a guard or supervisor",
            ));
        }
    };
    let record = entry::Override {
        lane: id.clone(),
        officer: caller.name,
        person: body.person.clone(),
        reason: reason.into(),
        second_officer: second.name.clone(),
    };
    // The lane asks the policy when it takes the override, and answers with its verdict.
    let verdict = handle.request_override(record).await.map_err(|why| ApiError::conflict("lane_unavailable", why))?;
    let (granted, reason) = match verdict {
        crate::gate::lane::Verdict::Grant => (true, None),
        crate::gate::lane::Verdict::Deny(why) => (false, Some(why)),
    };
    let result = OverrideResult { lane: id, person: body.person, second_officer: second.name, granted, reason };
    Ok((StatusCode::ACCEPTED, axum::Json(result)))
}
