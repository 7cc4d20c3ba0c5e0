//! `GET /api/v1/session`: who holds the request's token and what their role may do, so a page shows a
//! guard the gate and an auditor the ledger without keeping its own copy of the permission table
//! ([`crate::auth::Role::may`] stays the one place). It grants nothing: every route checks again.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::extract::Authenticated;
use crate::auth::Action;

/// Every action, by the name the session answers.
const ACTIONS: [(&str, Action); 13] = [
    ("read_ledger", Action::ReadLedger),
    ("write_note", Action::WriteNote),
    ("read_people", Action::ReadPeople),
    ("write_people", Action::WritePeople),
    ("enrol", Action::Enrol),
    ("change_status", Action::ChangeStatus),
    ("read_lanes", Action::ReadLanes),
    ("override", Action::Override),
    ("read_counts", Action::ReadCounts),
    ("run_rollcall", Action::RunRollcall),
    ("count_rollcall", Action::CountRollcall),
    ("read_api_docs", Action::ReadApiDocs),
    ("cosign", Action::Cosign),
];

/// The holder of a token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The token's name (the officer, as the ledger names them).
    pub name: String,
    /// `guard`, `enroller`, `supervisor`, `auditor`, `admin` or `peer`.
    pub role: String,
    /// What the role may do: `read_ledger`, `write_note`, `read_people`, `write_people`, `enrol`,
    /// `change_status`, `read_lanes`, `override`, `read_counts`, `run_rollcall`, `count_rollcall`,
    /// `read_api_docs`, `cosign`.
    pub may: Vec<String>,
    /// The facility, as every page names it.
    pub facility: FacilityView,
}

/// What every page needs to name places and tell the time as the facility does.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacilityView {
    /// The facility's name.
    pub name: String,
    /// Local time as an offset from UTC, like `+01:00` (the appliance's clock is UTC).
    pub utc_offset: String,
    /// The zone id of outside the facility.
    pub outside: String,
    /// Every zone inside: id and name.
    pub zones: Vec<ZoneName>,
}

/// A zone's id and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneName {
    /// Zone id, as the ledger names it.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// Who holds this token, and what their role may do.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = super::error::ErrorBody)))]
pub async fn session(State(state): State<AppState>, Authenticated(caller): Authenticated) -> axum::Json<SessionView> {
    let may = ACTIONS.iter().filter(|(_, a)| caller.role.may(*a)).map(|(n, _)| n.to_string()).collect();
    let config = &state.facility().config;
    let (hours, minutes, _) = config.utc_offset.as_hms();
    let sign = if hours < 0 || minutes < 0 { '-' } else { '+' };
    let facility = FacilityView {
        name: config.facility_name.clone(),
        utc_offset: format!("{sign}{:02}:{:02}", hours.unsigned_abs(), minutes.unsigned_abs()),
        outside: config.outside.clone(),
        zones: config.zones.iter().map(|z| ZoneName { id: z.id.clone(), name: z.name.clone() }).collect(),
    };
    axum::Json(SessionView { name: caller.name, role: caller.role.as_str().into(), may, facility })
}
