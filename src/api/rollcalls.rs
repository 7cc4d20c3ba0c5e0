//! Roll-calls: a supervisor starts one for some zones (the roster is the census's snapshot at that
//! entry), lanes and handheld identification count people, the supervisor recounts or closes it with
//! a sign-off — a count that does not balance only with a remark, and a short count raises an alarm.
//! Every step is a ledger entry; progress is the census's fold of them. The count sheet is a printable
//! HTML page.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, CountRollcall, Json, Path, ReadCounts, RunRollcall};
use crate::auth::Role;
use crate::census::{RollcallState, RollcallView};
use crate::ledger::entry::{Alarm, Event, RollcallClosed, RollcallCounted, RollcallRecount, RollcallStarted};

/// Longest closing remark, in characters.
const MAX_REMARK_CHARS: usize = 1000;

/// A roll-call as a summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct RollcallSummaryView {
    /// Roll-call id.
    pub id: String,
    /// Zones counted.
    pub zones: Vec<String>,
    /// Supervisor who started it.
    pub supervisor: String,
    /// When it started.
    pub started: String,
    /// `open` or `closed`.
    pub state: String,
    /// People on the roster.
    pub expected: u64,
    /// Roster people counted.
    pub counted: u64,
    /// Roster people not counted.
    pub missing: u64,
}

/// Someone of a roll-call's lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedPerson {
    /// Person id.
    pub person: String,
    /// Name, for roles that may read the register.
    pub name: Option<String>,
    /// The zone the roster expected them in.
    pub expected_zone: Option<String>,
    /// The zone they were counted in.
    pub counted_zone: Option<String>,
}

/// How a roll-call was closed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedView {
    /// When.
    pub time: String,
    /// Who signed off.
    pub supervisor: String,
    /// People counted.
    pub counted: u64,
    /// People missing.
    pub missing: u64,
    /// The supervisor's remark.
    pub remark: Option<String>,
}

/// A roll-call in full: progress, missing and out-of-zone people, duplicates.
#[derive(Debug, Serialize, ToSchema)]
pub struct RollcallDetail {
    /// Roll-call id.
    pub id: String,
    /// Zones counted.
    pub zones: Vec<String>,
    /// Supervisor who started it.
    pub supervisor: String,
    /// When it started.
    pub started: String,
    /// `open` or `closed`.
    pub state: String,
    /// People on the roster.
    pub expected: u64,
    /// Roster people counted.
    pub counted: u64,
    /// Roster people not counted yet.
    pub missing: Vec<ListedPerson>,
    /// People counted in a zone other than the roster's, or not on it.
    pub out_of_zone: Vec<ListedPerson>,
    /// People counted more than once (each listed once).
    pub duplicates: Vec<String>,
    /// Counts made, in order.
    pub counts: u64,
    /// Whether the count balances: everyone on the roster counted, nobody out of zone.
    pub balanced: bool,
    /// The sign-off, once closed.
    pub closed: Option<ClosedView>,
}

fn state_name(s: &RollcallState) -> String {
    match s {
        RollcallState::Open => "open".into(),
        RollcallState::Closed => "closed".into(),
    }
}

async fn detail(state: &AppState, role: Role, view: RollcallView) -> Result<RollcallDetail, ApiError> {
    let mut ids: Vec<String> = view.missing.iter().map(|m| m.person.clone()).collect();
    ids.extend(view.out_of_zone.iter().map(|o| o.person.clone()));
    let names = super::census_routes::names(state, role, ids).await?;
    let mut names = names.into_iter();
    let missing: Vec<ListedPerson> = view
        .missing
        .iter()
        .map(|m| ListedPerson {
            person: m.person.clone(),
            name: names.next().flatten(),
            expected_zone: Some(m.zone.clone()),
            counted_zone: None,
        })
        .collect();
    let out_of_zone: Vec<ListedPerson> = view
        .out_of_zone
        .iter()
        .map(|o| ListedPerson {
            person: o.person.clone(),
            name: names.next().flatten(),
            expected_zone: o.expected_zone.clone(),
            counted_zone: Some(o.counted_zone.clone()),
        })
        .collect();
    Ok(RollcallDetail {
        balanced: missing.is_empty() && out_of_zone.is_empty(),
        state: state_name(&view.state),
        id: view.id,
        zones: view.zones,
        supervisor: view.supervisor,
        started: view.started,
        expected: view.expected,
        counted: view.counted,
        missing,
        out_of_zone,
        duplicates: view.duplicates,
        counts: view.counts.len() as u64,
        closed: view.closed.map(|c| ClosedView {
            time: c.time,
            supervisor: c.supervisor,
            counted: c.counted,
            missing: c.missing,
            remark: c.remark,
        }),
    })
}

fn no_rollcall(id: &str) -> ApiError {
    ApiError::no_such("no_such_rollcall", format!("no roll-call {id:?}"))
}

fn view_of(state: &AppState, id: &str) -> Result<RollcallView, ApiError> {
    state.census(|c| c.rollcall(id)).ok_or_else(|| no_rollcall(id))
}

fn open_view(state: &AppState, id: &str) -> Result<RollcallView, ApiError> {
    let view = view_of(state, id)?;
    if view.state != RollcallState::Open {
        return Err(ApiError::conflict("rollcall_closed", format!("roll-call {id} is closed")));
    }
    Ok(view)
}

/// Every roll-call, most recent first.
#[utoipa::path(get, path = "/api/v1/rollcalls", tag = "rollcalls", responses((status = 200, body = Vec<RollcallSummaryView>)))]
pub async fn list(State(state): State<AppState>, _: Caller<ReadCounts>) -> axum::Json<Vec<RollcallSummaryView>> {
    let list = state.census(|c| c.rollcalls());
    axum::Json(
        list.into_iter()
            .map(|r| RollcallSummaryView {
                state: state_name(&r.state),
                id: r.id,
                zones: r.zones,
                supervisor: r.supervisor,
                started: r.started,
                expected: r.expected,
                counted: r.counted,
                missing: r.missing,
            })
            .collect(),
    )
}

/// Zones to count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"zones": ["reception"]}))]
pub struct StartBody {
    /// Zone ids (1 to 50, each configured, no zone in another open roll-call).
    #[schema(min_items = 1)]
    pub zones: Vec<String>,
}

/// Starts a roll-call: the roster is everyone the ledger places in those zones now.
#[utoipa::path(post, path = "/api/v1/rollcalls", tag = "rollcalls", request_body = StartBody,
    responses((status = 201, body = RollcallDetail), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    Caller(caller, _): Caller<RunRollcall>,
    Json(body): Json<StartBody>,
) -> Result<impl IntoResponse, ApiError> {
    let mut zones = body.zones;
    zones.sort();
    zones.dedup();
    if zones.is_empty() || zones.len() > 50 {
        return Err(ApiError::bad_request("invalid_field", "zones: 1 to 50 zone ids"));
    }
    let config = &state.facility().config;
    if let Some(z) = zones.iter().find(|z| !config.zones.iter().any(|c| &&c.id == z)) {
        return Err(ApiError::bad_request("invalid_field", format!("zones: no zone {z:?} in this facility")));
    }
    let _one_at_a_time = state.inner.rollcall_start.lock().await;
    let (busy, expected, n) = state.census(|c| {
        let busy = c
            .open_rollcalls()
            .into_iter()
            .filter_map(|id| c.rollcall(id))
            .find(|r| r.zones.iter().any(|z| zones.contains(z)))
            .map(|r| r.id);
        (busy, c.roster(&zones).len() as u64, c.rollcalls().len())
    });
    if let Some(other) = busy {
        return Err(ApiError::conflict(
            "zone_being_counted",
            format!("roll-call {other} is counting one of these zones"),
        ));
    }
    let id = format!("rc-{}", n + 1);
    let started = RollcallStarted { expected, rollcall: id.clone(), supervisor: caller.name, zones };
    state.record(vec![Event::RollcallStarted(started)]).await?;
    let view = detail(&state, caller.role, view_of(&state, &id)?).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// One roll-call: live progress, missing and out-of-zone lists.
#[utoipa::path(get, path = "/api/v1/rollcalls/{id}", tag = "rollcalls",
    params(("id" = String, Path, description = "Roll-call id", example = "rc-1")),
    responses((status = 200, body = RollcallDetail), (status = 404, body = ErrorBody)))]
pub async fn get_rollcall(
    State(state): State<AppState>,
    Caller(caller, _): Caller<ReadCounts>,
    Path(id): Path<String>,
) -> Result<axum::Json<RollcallDetail>, ApiError> {
    let view = view_of(&state, &id)?;
    Ok(axum::Json(detail(&state, caller.role, view).await?))
}

/// A handheld count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"person": "P-1", "zone": "block-a"}))]
pub struct CountBody {
    /// The person counted (identified by `POST /api/v1/identify`, or by an officer who knows them).
    pub person: String,
    /// Where they were counted: one of the roll-call's zones.
    pub zone: String,
}

/// Counts a person (handheld): the count names the officer.
#[utoipa::path(post, path = "/api/v1/rollcalls/{id}/counts", tag = "rollcalls", request_body = CountBody,
    params(("id" = String, Path, description = "Roll-call id", example = "rc-1")),
    responses((status = 200, body = RollcallDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn count(
    State(state): State<AppState>,
    Caller(caller, _): Caller<CountRollcall>,
    Path(id): Path<String>,
    Json(body): Json<CountBody>,
) -> Result<axum::Json<RollcallDetail>, ApiError> {
    let view = open_view(&state, &id)?;
    if !view.zones.contains(&body.zone) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("zone: roll-call {id} does not count {:?}", body.zone),
        ));
    }
    if !state.census(|c| c.person(&body.person).is_some()) {
        return Err(ApiError::no_such("no_such_person", format!("{:?} is not registered", body.person)));
    }
    let counted = RollcallCounted {
        by: format!("handheld:{}", caller.name),
        person: body.person,
        rollcall: id.clone(),
        zone: body.zone,
    };
    state.record(vec![Event::RollcallCounted(counted)]).await?;
    Ok(axum::Json(detail(&state, caller.role, view_of(&state, &id)?).await?))
}

/// Sets the counts aside and counts again (the roster stays).
#[utoipa::path(post, path = "/api/v1/rollcalls/{id}/recount", tag = "rollcalls",
    params(("id" = String, Path, description = "Roll-call id", example = "rc-1")),
    responses((status = 200, body = RollcallDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn recount(
    State(state): State<AppState>,
    Caller(caller, _): Caller<RunRollcall>,
    Path(id): Path<String>,
) -> Result<axum::Json<RollcallDetail>, ApiError> {
    open_view(&state, &id)?;
    state
        .record(vec![Event::RollcallRecount(RollcallRecount { rollcall: id.clone(), supervisor: caller.name })])
        .await?;
    Ok(axum::Json(detail(&state, caller.role, view_of(&state, &id)?).await?))
}

/// The sign-off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"remark": "P-2 at the infirmary, seen by the duty officer"}))]
pub struct CloseBody {
    /// Required when the count does not balance: what happened, what was done.
    pub remark: Option<String>,
}

/// Closes a roll-call with the supervisor's sign-off. A count that does not balance needs a remark;
/// a short count (someone missing) also raises a `short_count` alarm.
#[utoipa::path(post, path = "/api/v1/rollcalls/{id}/close", tag = "rollcalls", request_body = CloseBody,
    params(("id" = String, Path, description = "Roll-call id", example = "rc-1")),
    responses((status = 200, body = RollcallDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn close(
    State(state): State<AppState>,
    Caller(caller, _): Caller<RunRollcall>,
    Path(id): Path<String>,
    Json(body): Json<CloseBody>,
) -> Result<axum::Json<RollcallDetail>, ApiError> {
    let view = open_view(&state, &id)?;
    let remark = body.remark.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if let Some(r) = &remark
        && (r.chars().count() > MAX_REMARK_CHARS || r.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(ApiError::bad_request("invalid_field", "remark: at most 1000 characters, no control characters"));
    }
    let balanced = view.missing.is_empty() && view.out_of_zone.is_empty();
    if !balanced && remark.is_none() {
        return Err(ApiError::bad_request(
            "remark_required",
            format!(
                "the count does not balance ({} missing, {} out of zone): say why in a remark to close it",
                view.missing.len(),
                view.out_of_zone.len()
            ),
        ));
    }
    let missing = view.missing.len() as u64;
    let mut events = vec![Event::RollcallClosed(RollcallClosed {
        counted: view.counted,
        missing,
        remark,
        rollcall: id.clone(),
        supervisor: caller.name,
    })];
    if missing > 0 {
        let names: Vec<&str> = view.missing.iter().take(50).map(|m| m.person.as_str()).collect();
        events.push(Event::Alarm(Alarm {
            code: "short_count".into(),
            detail: format!("roll-call {id} closed {missing} short: {}", names.join(", ")),
            source: format!("rollcall {id}"),
        }));
    }
    state.record(events).await?;
    Ok(axum::Json(detail(&state, caller.role, view_of(&state, &id)?).await?))
}

/// The printable count sheet.
#[utoipa::path(get, path = "/api/v1/rollcalls/{id}/sheet", tag = "rollcalls",
    params(("id" = String, Path, description = "Roll-call id", example = "rc-1")),
    responses((status = 200, description = "an HTML page made for printing", content_type = "text/html"),
        (status = 404, body = ErrorBody)))]
pub async fn sheet(
    State(state): State<AppState>,
    Caller(caller, _): Caller<ReadCounts>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let view = detail(&state, caller.role, view_of(&state, &id)?).await?;
    let facility = &state.facility().config.facility_name;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], sheet_html(facility, &view)))
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn list_rows(people: &[ListedPerson]) -> String {
    if people.is_empty() {
        return "<tr><td colspan=\"4\">None.</td></tr>".into();
    }
    people
        .iter()
        .map(|p| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.person),
                esc(p.name.as_deref().unwrap_or("")),
                esc(p.expected_zone.as_deref().unwrap_or("—")),
                esc(p.counted_zone.as_deref().unwrap_or("—"))
            )
        })
        .collect()
}

/// The count sheet: the roll-call's figures, its lists and the signature boxes, in print-friendly HTML.
pub fn sheet_html(facility: &str, v: &RollcallDetail) -> String {
    let closed = match &v.closed {
        Some(c) => format!(
            "<p>Closed {} by <b>{}</b>: {} counted, {} missing.</p><p>Remark: {}</p>",
            esc(&c.time),
            esc(&c.supervisor),
            c.counted,
            c.missing,
            esc(c.remark.as_deref().unwrap_or("—"))
        ),
        None => "<p><b>OPEN</b> — figures as of printing.</p>".into(),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Roll-call {id} — count sheet</title>
<style>
body {{ font: 12pt/1.4 sans-serif; margin: 2em; color: #000; }}
h1 {{ font-size: 18pt; margin: 0 0 .2em; }}
table {{ border-collapse: collapse; width: 100%; margin: .5em 0 1.5em; }}
th, td {{ border: 1px solid #000; padding: .25em .5em; text-align: left; }}
.figures td {{ font-size: 14pt; font-weight: bold; }}
.sign {{ display: flex; gap: 2em; margin-top: 3em; }}
.sign div {{ flex: 1; border-top: 1px solid #000; padding-top: .3em; }}
@media print {{ body {{ margin: 0; }} @page {{ margin: 15mm; }} tr {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>{facility} — roll-call {id}</h1>
<p>Zones: {zones}. Started {started} by <b>{supervisor}</b>.</p>
{closed}
<table class="figures"><tr><th>Expected</th><th>Counted</th><th>Missing</th><th>Out of zone</th><th>Counted twice</th></tr>
<tr><td>{expected}</td><td>{counted}</td><td>{missing}</td><td>{ooz}</td><td>{dups}</td></tr></table>
<h2>Missing</h2>
<table><tr><th>Id</th><th>Name</th><th>Expected in</th><th>Counted in</th></tr>{missing_rows}</table>
<h2>Out of zone</h2>
<table><tr><th>Id</th><th>Name</th><th>Expected in</th><th>Counted in</th></tr>{ooz_rows}</table>
<div class="sign"><div>Counting officer</div><div>Supervisor</div><div>Date and time</div></div>
</body></html>
"#,
        id = esc(&v.id),
        facility = esc(facility),
        zones = esc(&v.zones.join(", ")),
        started = esc(&v.started),
        supervisor = esc(&v.supervisor),
        expected = v.expected,
        counted = v.counted,
        missing = v.missing.len(),
        ooz = v.out_of_zone.len(),
        dups = v.duplicates.len(),
        missing_rows = list_rows(&v.missing),
        ooz_rows = list_rows(&v.out_of_zone),
    )
}
