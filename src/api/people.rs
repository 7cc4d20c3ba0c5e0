//! The register: people (identity fields in the store, category, status and whereabouts from the
//! census) and status changes (photos: [`super::photos`]).
//!
//! Every change that matters to custody is a ledger entry, written before the answer: `registration`
//! when a person is created, `status_change`, `enrolment`. Identity fields, photos and templates are
//! the store's (templates and photos sealed by the vault); the ledger names people by id only.
//!
//! Fingers (enrolment, identification) are [`super::fingers`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, ChangeStatus, Json, Path, Query, ReadPeople, WritePeople};
use crate::census::PersonState;
use crate::ledger::entry::{Event, Registration, StatusChange};
use crate::people::{self as register, Category, Status, check_id, check_name};
use crate::store::StoreError;
use crate::store::people::{NewPerson, PersonRecord, TemplateInfo};

/// Longest reason for a status change, in characters.
const MAX_REASON_CHARS: usize = 500;

pub(super) fn field_error(e: register::PeopleError) -> ApiError {
    ApiError::bad_request("invalid_field", e.to_string())
}

pub(super) fn store_error(context: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Conflict(why) => ApiError::conflict("conflict", why),
        e => ApiError::unavailable(context, &e),
    }
}

/// A person as the register shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    /// Person id (prison number or staff number).
    pub id: String,
    /// `inmate`, `staff` or `visitor`.
    pub category: String,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// National identity number.
    pub national_id: Option<String>,
    /// Whether a photo is on file (`GET …/photo`).
    pub has_photo: bool,
    /// Custody or duty status, from the ledger.
    pub status: Option<String>,
    /// Why the status was last changed.
    pub status_reason: Option<String>,
    /// Where the ledger last placed the person (`null`: outside the facility).
    pub zone: Option<String>,
    /// Whether the ledger knows the person (a registration that failed midway leaves `false`).
    pub registered: bool,
    /// Enrolled fingers.
    pub fingers: Vec<FingerView>,
    /// When the retention rule deleted the person's templates (or photo) after their release, from
    /// the ledger's `templates_deleted` entry; `null` if it has not (or a finger was enrolled since).
    pub templates_deleted: Option<String>,
    /// When the record was created.
    pub created: String,
}

/// An enrolled finger.
#[derive(Debug, Serialize, ToSchema)]
pub struct FingerView {
    /// ISO finger position, 1 (right thumb) to 10 (left little).
    pub finger: u8,
    /// Capture quality, 0–100.
    pub quality: u8,
    /// Whether it is the duress finger (shown to enrolment officers and supervisors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duress: Option<bool>,
    /// When it was enrolled.
    pub enrolled: String,
}

fn person_view(
    record: PersonRecord,
    state: Option<&PersonState>,
    fingers: Vec<TemplateInfo>,
    show_duress: bool,
) -> PersonView {
    PersonView {
        category: record.category.as_str().to_string(),
        status: state.map(|s| s.status.as_str().to_string()),
        status_reason: state.and_then(|s| s.status_reason.clone()),
        zone: state.and_then(|s| s.zone.clone()),
        registered: state.is_some(),
        templates_deleted: state.and_then(|s| s.templates_deleted.clone()),
        fingers: fingers
            .into_iter()
            .map(|t| FingerView {
                finger: t.finger,
                quality: t.quality,
                duress: show_duress.then_some(t.duress),
                enrolled: t.created,
            })
            .collect(),
        id: record.id,
        given_names: record.given_names,
        family_name: record.family_name,
        date_of_birth: record.date_of_birth,
        national_id: record.national_id,
        has_photo: record.has_photo,
        created: record.created,
    }
}

/// Reads a person and their fingers, joined with the census.
pub(super) async fn load_person(state: &AppState, id: String, show_duress: bool) -> Result<PersonView, ApiError> {
    let lookup = id.clone();
    let found = state.with_store(move |s| Ok(s.person_get(&lookup)?.map(|p| (p, s.templates_of(&lookup))))).await?;
    let Some((record, fingers)) = found else {
        return Err(ApiError::no_such("no_such_person", format!("no person {id:?} in the register")));
    };
    let fingers = fingers.map_err(store_error("templates"))?;
    Ok(state.census(|c| person_view(record, c.person(&id), fingers, show_duress)))
}

/// Identity fields of a new person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "P-1047", "category": "inmate", "given_names": "Jean", "family_name": "Mbuyi",
    "date_of_birth": "1990-04-23", "zone": "reception"}))]
pub struct NewPersonBody {
    /// Person id: 1 to 32 letters, digits, `-`, `_`, `/` or `.`, starting with a letter or a digit.
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_/.-]{0,31}$")]
    pub id: String,
    /// `inmate`, `staff` or `visitor`.
    #[schema(pattern = "^(inmate|staff|visitor)$")]
    pub category: String,
    /// Given names.
    #[schema(min_length = 1, max_length = 100)]
    pub given_names: String,
    /// Family name.
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub date_of_birth: Option<String>,
    /// National identity number (up to 40 letters, digits, `-` or `/`).
    #[schema(pattern = r"^[A-Za-z0-9/-]{1,40}$")]
    pub national_id: Option<String>,
    /// The zone the person is in now (an inmate at reception); absent: outside the facility.
    pub zone: Option<String>,
}

/// Identity fields, corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"given_names": "Jean-Pierre", "family_name": "Mbuyi", "date_of_birth": "1990-04-23"}))]
pub struct UpdatePersonBody {
    /// Given names.
    #[schema(min_length = 1, max_length = 100)]
    pub given_names: String,
    /// Family name.
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub date_of_birth: Option<String>,
    /// National identity number (up to 40 letters, digits, `-` or `/`).
    #[schema(pattern = r"^[A-Za-z0-9/-]{1,40}$")]
    pub national_id: Option<String>,
}

fn check_optional(date_of_birth: &Option<String>, national_id: &Option<String>) -> Result<(), ApiError> {
    if let Some(d) = date_of_birth {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        if time::Date::parse(d, format).is_err() {
            return Err(ApiError::bad_request("invalid_field", "date_of_birth: a date like 1990-04-23"));
        }
    }
    if let Some(n) = national_id {
        let ok = (1..=40).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-/".contains(&b));
        if !ok {
            return Err(ApiError::bad_request("invalid_field", "national_id: 1 to 40 letters, digits, '-' or '/'"));
        }
    }
    Ok(())
}

pub(super) fn now(state: &AppState) -> String {
    crate::clock::rfc3339(state.facility().clock.wall())
}

/// Registers a person: identity fields in the store, then the `registration` entry.
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = NewPersonBody,
    responses((status = 201, body = PersonView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller, _): Caller<WritePeople>,
    Json(body): Json<NewPersonBody>,
) -> Result<impl IntoResponse, ApiError> {
    check_id(&body.id).map_err(field_error)?;
    let category = Category::parse(&body.category)
        .ok_or_else(|| ApiError::bad_request("invalid_field", "category: inmate, staff or visitor"))?;
    check_name("given_names", &body.given_names).map_err(field_error)?;
    check_name("family_name", &body.family_name).map_err(field_error)?;
    check_optional(&body.date_of_birth, &body.national_id)?;
    let config = &state.facility().config;
    if let Some(zone) = &body.zone
        && zone != &config.outside
        && !config.zones.iter().any(|z| &z.id == zone)
    {
        return Err(ApiError::bad_request("invalid_field", format!("zone: no zone {zone:?} in this facility")));
    }
    if state.census(|c| c.person(&body.id).is_some()) {
        return Err(ApiError::conflict("person_exists", format!("{} is already registered", body.id)));
    }
    let person = NewPerson {
        id: body.id.clone(),
        category,
        given_names: body.given_names.trim().to_string(),
        family_name: body.family_name.trim().to_string(),
        date_of_birth: body.date_of_birth,
        national_id: body.national_id,
    };
    let stamp = now(&state);
    // A record without its registration (the ledger write failed last time) is completed, not refused.
    state
        .with_store(move |s| match s.person_insert(&person, &stamp) {
            Err(StoreError::Conflict(_)) => s.person_update(&person, &stamp).map(|_| ()),
            other => other,
        })
        .await?;
    let zone = body.zone.filter(|z| z != &config.outside);
    let registration =
        Registration { category: category.as_str().into(), officer: caller.name, person: body.id.clone(), zone };
    state.record(vec![Event::Registration(registration)]).await?;
    let view = load_person(&state, body.id, true).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// Search terms.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Part of an id, a name or a national id (case-insensitive); empty lists everyone.
    #[serde(default)]
    #[param(max_length = 100)]
    q: String,
    /// Only this category.
    #[param(pattern = "^(inmate|staff|visitor)$")]
    category: Option<String>,
    /// Most results (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Results to skip (at most 1000000).
    #[serde(default)]
    #[param(maximum = 1000000)]
    offset: u32,
}

/// One search result.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonSummary {
    /// Person id.
    pub id: String,
    /// Category.
    pub category: String,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Status, from the ledger.
    pub status: Option<String>,
    /// Zone, from the ledger.
    pub zone: Option<String>,
    /// Whether a photo is on file.
    pub has_photo: bool,
}

/// Searches the register.
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(SearchQuery),
    responses((status = 200, body = Vec<PersonSummary>), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    _: Caller<ReadPeople>,
    Query(q): Query<SearchQuery>,
) -> Result<axum::Json<Vec<PersonSummary>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) || q.q.chars().count() > 100 || q.offset > 1_000_000 {
        return Err(ApiError::bad_request("invalid_query", "limit is 1 to 200, q at most 100 characters"));
    }
    let category = match q.category.as_deref() {
        None => None,
        Some(c) => Some(
            Category::parse(c)
                .ok_or_else(|| ApiError::bad_request("invalid_query", "category: inmate, staff or visitor"))?,
        ),
    };
    let found = state.with_store(move |s| s.person_search(&q.q, category, limit, q.offset)).await?;
    Ok(axum::Json(state.census(|c| summaries(found, c))))
}

/// Search results joined with the census.
pub fn summaries(found: Vec<PersonRecord>, census: &crate::census::Census) -> Vec<PersonSummary> {
    found
        .into_iter()
        .map(|p| {
            let s = census.person(&p.id);
            PersonSummary {
                category: p.category.as_str().into(),
                status: s.map(|s| s.status.as_str().into()),
                zone: s.and_then(|s| s.zone.clone()),
                id: p.id,
                given_names: p.given_names,
                family_name: p.family_name,
                has_photo: p.has_photo,
            }
        })
        .collect()
}

/// One person, with their fingers, status and zone.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people",
    params(("id" = String, Path, description = "Person id", example = "P-1")),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
pub async fn get_person(
    State(state): State<AppState>,
    Caller(caller, _): Caller<ReadPeople>,
    Path(id): Path<String>,
) -> Result<axum::Json<PersonView>, ApiError> {
    let show_duress = caller.role.may(crate::auth::Action::Enrol);
    Ok(axum::Json(load_person(&state, id, show_duress).await?))
}

/// Corrects a person's identity fields (the id and category never change).
#[utoipa::path(put, path = "/api/v1/people/{id}", tag = "people", request_body = UpdatePersonBody,
    params(("id" = String, Path, description = "Person id", example = "P-1")),
    responses((status = 200, body = PersonView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    _: Caller<WritePeople>,
    Path(id): Path<String>,
    Json(body): Json<UpdatePersonBody>,
) -> Result<axum::Json<PersonView>, ApiError> {
    check_name("given_names", &body.given_names).map_err(field_error)?;
    check_name("family_name", &body.family_name).map_err(field_error)?;
    check_optional(&body.date_of_birth, &body.national_id)?;
    let lookup = id.clone();
    let Some(record) = state.with_store(move |s| s.person_get(&lookup)).await? else {
        return Err(ApiError::no_such("no_such_person", format!("no person {id:?} in the register")));
    };
    let person = NewPerson {
        id: id.clone(),
        category: record.category,
        given_names: body.given_names.trim().into(),
        family_name: body.family_name.trim().into(),
        date_of_birth: body.date_of_birth,
        national_id: body.national_id,
    };
    let stamp = now(&state);
    state.with_store(move |s| s.person_update(&person, &stamp)).await?;
    Ok(axum::Json(load_person(&state, id, true).await?))
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "at_court", "reason": "hearing, order 2026/88"}))]
pub struct StatusBody {
    /// The new status: in_custody, at_court, at_hospital, work_party, transferred, released, escaped,
    /// deceased (inmates); on_duty, off_duty (staff); visiting (visitors).
    #[schema(
        pattern = "^(in_custody|at_court|at_hospital|work_party|transferred|released|escaped|deceased|on_duty|off_duty|visiting)$"
    )]
    pub status: String,
    /// Why (a court order number, a hospital, …).
    pub reason: String,
}

/// Changes a person's status; every change is a `status_change` entry naming the officer.
#[utoipa::path(post, path = "/api/v1/people/{id}/status", tag = "people", request_body = StatusBody,
    params(("id" = String, Path, description = "Person id", example = "P-1")),
    responses((status = 200, body = PersonView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn change_status(
    State(state): State<AppState>,
    Caller(caller, _): Caller<ChangeStatus>,
    Path(id): Path<String>,
    Json(body): Json<StatusBody>,
) -> Result<axum::Json<PersonView>, ApiError> {
    let to =
        Status::parse(&body.status).ok_or_else(|| ApiError::bad_request("invalid_field", "status: not a status"))?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(ApiError::bad_request("invalid_field", "reason: 1 to 500 characters, no control characters"));
    }
    let current = state.census(|c| c.person(&id).map(|p| (p.category, p.status)));
    let Some((category, from)) = current else {
        return Err(ApiError::no_such("no_such_person", format!("{id:?} is not registered")));
    };
    if !to.fits(category) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("status: {} does not apply to a {}", to.as_str(), category.as_str()),
        ));
    }
    if to == from {
        return Err(ApiError::conflict("same_status", format!("{id} is already {}", to.as_str())));
    }
    let change = StatusChange {
        from: from.as_str().into(),
        officer: caller.name,
        person: id.clone(),
        reason: reason.into(),
        to: to.as_str().into(),
    };
    state.record(vec![Event::StatusChange(change)]).await?;
    Ok(axum::Json(load_person(&state, id, false).await?))
}

/// Decodes a base64 field.
pub(super) fn decode_base64(field: &'static str, text: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(text.trim()).map_err(|_| ApiError::bad_request("invalid_field", format!("{field}: not base64")))
}
