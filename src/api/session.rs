//! `GET /api/v1/session`: who holds the request's token and what their role may do, so a page shows a
//! guard the gate and an auditor the ledger without keeping its own copy of the permission table
//! ([`crate::auth::Role::may`] stays the one place). It grants nothing: every route checks again.

use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Authenticated;
use crate::auth::Action;

/// Every action, by the name the session answers.
const ACTIONS: [(&str, Action); 12] = [
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
];

/// The holder of a token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The token's name (the officer, as the ledger names them).
    pub name: String,
    /// `guard`, `enroller`, `supervisor`, `auditor` or `admin`.
    pub role: String,
    /// What the role may do: `read_ledger`, `write_note`, `read_people`, `write_people`, `enrol`,
    /// `change_status`, `read_lanes`, `override`, `read_counts`, `run_rollcall`, `count_rollcall`,
    /// `read_api_docs`.
    pub may: Vec<String>,
}

/// Who holds this token, and what their role may do.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = super::error::ErrorBody)))]
pub async fn session(Authenticated(caller): Authenticated) -> axum::Json<SessionView> {
    let may = ACTIONS.iter().filter(|(_, a)| caller.role.may(*a)).map(|(n, _)| n.to_string()).collect();
    axum::Json(SessionView { name: caller.name, role: caller.role.as_str().into(), may })
}
