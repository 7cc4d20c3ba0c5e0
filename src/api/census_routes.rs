//! Headcount, zones and their occupants, alarms, and the live event stream — all read from the census,
//! the fold of the ledger; names are joined from the register for the roles that may see them.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, Path, Query, ReadCounts, ReadLanes};
use crate::auth::Action;

/// Kinds of entries the live stream carries: what a guard or supervisor screen shows.
const STREAMED: &[&str] = &[
    "grant",
    "denial",
    "passage",
    "passage_timeout",
    "override",
    "alarm",
    "status_change",
    "registration",
    "enrolment",
    "rollcall_started",
    "rollcall_counted",
    "rollcall_recount",
    "rollcall_closed",
];

/// People in one zone, by category.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneCountView {
    /// Zone id.
    pub zone: String,
    /// Its display name.
    pub name: String,
    /// Everyone in it.
    pub total: u64,
    /// Inmates.
    pub inmates: u64,
    /// Staff.
    pub staff: u64,
    /// Visitors.
    pub visitors: u64,
}

/// An inmate out of the facility.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwayView {
    /// Person id.
    pub person: String,
    /// Name, for roles that may read the register.
    pub name: Option<String>,
    /// Status (`at_court`, `at_hospital`, `work_party`, or `in_custody` when the ledger places them
    /// outside without a reason: someone to look for).
    pub status: String,
    /// The reason given with the status.
    pub reason: Option<String>,
    /// Since when.
    pub since: Option<String>,
}

/// The facility's count now.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeadcountView {
    /// Everyone inside the walls.
    pub inside: u64,
    /// Per zone (every configured zone, empty ones included).
    pub zones: Vec<ZoneCountView>,
    /// Inmates out of the facility, by name and reason.
    pub out_of_facility: Vec<AwayView>,
    /// The ledger entries folded so far (the count is as of this size).
    pub ledger_size: u64,
}

/// Display names of people, for roles that may read the register (`None` for the others).
pub(super) async fn names(
    state: &AppState,
    role: crate::auth::Role,
    ids: Vec<String>,
) -> Result<Vec<Option<String>>, ApiError> {
    if !role.may(Action::ReadPeople) {
        return Ok(vec![None; ids.len()]);
    }
    state
        .with_store(move |s| {
            ids.iter()
                .map(|id| Ok(s.person_get(id)?.map(|p| format!("{} {}", p.family_name.to_uppercase(), p.given_names))))
                .collect()
        })
        .await
}

/// Who is inside, per zone and category, and who is out of the facility.
#[utoipa::path(get, path = "/api/v1/headcount", tag = "census",
    responses((status = 200, body = HeadcountView)))]
pub async fn headcount(
    State(state): State<AppState>,
    Caller(caller, _): Caller<ReadCounts>,
) -> Result<axum::Json<HeadcountView>, ApiError> {
    let facility = state.facility();
    let (count, size) = state.census(|c| (c.headcount(), c.next_seq()));
    let mut zones = zero_counts(&facility.config);
    for counted in count.zones {
        let by = |c| counted.by_category.get(&c).copied().unwrap_or(0);
        use crate::people::Category::*;
        let view = ZoneCountView {
            name: counted.zone.clone(),
            zone: counted.zone.clone(),
            total: counted.total,
            inmates: by(Inmate),
            staff: by(Staff),
            visitors: by(Visitor),
        };
        match zones.iter_mut().find(|z| z.zone == counted.zone) {
            Some(z) => *z = ZoneCountView { name: z.name.clone(), ..view },
            None => zones.push(view),
        }
    }
    let ids = count.out_of_facility.iter().map(|a| a.person.clone()).collect();
    let names = names(&state, caller.role, ids).await?;
    let out_of_facility = count
        .out_of_facility
        .into_iter()
        .zip(names)
        .map(|(a, name)| AwayView {
            person: a.person,
            name,
            status: a.status.as_str().into(),
            reason: a.reason,
            since: a.since,
        })
        .collect();
    Ok(axum::Json(HeadcountView { inside: count.inside, zones, out_of_facility, ledger_size: size }))
}

/// One point of the count's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountPoint {
    /// When the count changed (the entry's wall-clock time).
    pub time: String,
    /// Everyone inside the walls from then on.
    pub inside: u64,
}

/// How the count inside the walls changed: one point after each change, oldest first (the last
/// 2,000 changes), and the count now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountHistoryView {
    /// Everyone inside the walls now.
    pub inside: u64,
    /// The changes, oldest first.
    pub points: Vec<CountPoint>,
}

/// The count's history, for the day's chart.
#[utoipa::path(get, path = "/api/v1/headcount/history", tag = "census",
    responses((status = 200, body = CountHistoryView)))]
pub async fn history(State(state): State<AppState>, _: Caller<ReadCounts>) -> axum::Json<CountHistoryView> {
    let (inside, points) = state.census(|c| {
        let points = c.history().iter().map(|(time, inside)| CountPoint { time: time.clone(), inside: *inside });
        (c.headcount().inside, points.collect())
    });
    axum::Json(CountHistoryView { inside, points })
}

/// A zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneView {
    /// Zone id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// People in it now.
    pub count: u64,
}

/// The facility's zones and how many are in each.
#[utoipa::path(get, path = "/api/v1/zones", tag = "census", responses((status = 200, body = Vec<ZoneView>)))]
pub async fn zones(State(state): State<AppState>, _: Caller<ReadCounts>) -> axum::Json<Vec<ZoneView>> {
    let facility = state.facility();
    let views = state.census(|c| {
        facility
            .config
            .zones
            .iter()
            .map(|z| ZoneView { id: z.id.clone(), name: z.name.clone(), count: c.occupants(&z.id).len() as u64 })
            .collect()
    });
    axum::Json(views)
}

/// Someone in a zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct OccupantView {
    /// Person id.
    pub person: String,
    /// Name, for roles that may read the register.
    pub name: Option<String>,
    /// Category.
    pub category: String,
    /// Status.
    pub status: String,
}

/// Who is in a zone now.
#[utoipa::path(get, path = "/api/v1/zones/{zone}/occupants", tag = "census",
    params(("zone" = String, Path, description = "Zone id", example = "block-a")),
    responses((status = 200, body = Vec<OccupantView>), (status = 404, body = ErrorBody)))]
pub async fn occupants(
    State(state): State<AppState>,
    Caller(caller, _): Caller<ReadCounts>,
    Path(zone): Path<String>,
) -> Result<axum::Json<Vec<OccupantView>>, ApiError> {
    if !state.facility().config.zones.iter().any(|z| z.id == zone) {
        return Err(ApiError::no_such("no_such_zone", format!("no zone {zone:?} in this facility")));
    }
    let people: Vec<(String, String, String)> = state.census(|c| {
        c.occupants(&zone)
            .into_iter()
            .filter_map(|id| {
                c.person(id).map(|p| (id.to_string(), p.category.as_str().to_string(), p.status.as_str().to_string()))
            })
            .collect()
    });
    let names = names(&state, caller.role, people.iter().map(|p| p.0.clone()).collect()).await?;
    Ok(axum::Json(
        people
            .into_iter()
            .zip(names)
            .map(|((person, category, status), name)| OccupantView { person, name, category, status })
            .collect(),
    ))
}

/// How many alarms.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlarmsQuery {
    /// Most alarms, newest first (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// An alarm.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmView {
    /// Its ledger entry.
    pub seq: u64,
    /// When.
    pub time: String,
    /// Stable code.
    pub code: String,
    /// What happened.
    pub detail: String,
    /// What raised it.
    pub source: String,
}

/// Recent alarms, newest first.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "census", params(AlarmsQuery),
    responses((status = 200, body = Vec<AlarmView>), (status = 400, body = ErrorBody)))]
pub async fn alarms(
    State(state): State<AppState>,
    _: Caller<ReadCounts>,
    Query(q): Query<AlarmsQuery>,
) -> Result<axum::Json<Vec<AlarmView>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit: 1 to 1000"));
    }
    let list = state.census(|c| c.alarms(limit));
    Ok(axum::Json(
        list.into_iter()
            .map(|a| AlarmView { seq: a.seq, time: a.time, code: a.code, detail: a.detail, source: a.source })
            .collect(),
    ))
}

/// The live stream: each movement, decision, alarm and roll-call entry as it becomes durable (event
/// `entry`, data: `{seq, time, kind, body}`), and each change of a lane's state (event `lane`).
#[utoipa::path(get, path = "/api/v1/events", tag = "census",
    responses((status = 200, description = "Server-Sent Events", content_type = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
    _: Caller<ReadLanes>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let facility = state.facility();
    let mut entries = facility.census.subscribe();
    let mut lanes: Vec<_> = facility.lanes.values().map(|h| h.subscribe()).collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<SseEvent>(256);
    // Lane changes, each lane on a task of its own.
    for mut lane in lanes.drain(..) {
        let tx = tx.clone();
        tokio::spawn(async move {
            while lane.changed().await.is_ok() {
                let status = lane.borrow_and_update().clone();
                let Ok(event) = SseEvent::default().event("lane").json_data(&status) else { continue };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
    }
    tokio::spawn(async move {
        loop {
            let event = match entries.recv().await {
                Ok(entry) if STREAMED.contains(&entry.kind) => {
                    match SseEvent::default().event("entry").id(entry.seq.to_string()).json_data(&*entry) {
                        Ok(e) => e,
                        Err(_) => continue,
                    }
                }
                Ok(_) => continue,
                // A slow screen missed entries: say so, so it reloads what it shows.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    SseEvent::default().event("lagged").data(n.to_string())
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Every configured zone with no one counted yet, in configuration order.
pub(super) fn zero_counts(config: &crate::config::Config) -> Vec<ZoneCountView> {
    config
        .zones
        .iter()
        .map(|z| ZoneCountView {
            zone: z.id.clone(),
            name: z.name.clone(),
            total: 0,
            inmates: 0,
            staff: 0,
            visitors: 0,
        })
        .collect()
}
