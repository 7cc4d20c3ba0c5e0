//! The register: people (identity fields in the store, category, status and whereabouts from the
//! census), status changes, enrolment of fingers and identification (photos: [`super::photos`]).
//!
//! Every change that matters to custody is a ledger entry, written before the answer: `registration`
//! when a person is created, `status_change`, `enrolment`. Identity fields, photos and templates are
//! the store's (templates and photos sealed by the vault); the ledger names people by id only.
//!
//! A new finger is checked twice before it is kept: its capture quality (a poor capture is refused so
//! the officer asks for the finger again), then against everyone enrolled, so that an alias or a
//! returning prisoner is reported with the candidates instead of becoming a second identity.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, ChangeStatus, Enrol, Json, Query, ReadPeople, WritePeople};
use crate::census::PersonState;
use crate::fingerprint::image::GrayImage;
use crate::fingerprint::template::Template;
use crate::ledger::entry::{Enrolment, Event, Registration, StatusChange};
use crate::people::gallery::Owner;
use crate::people::vault::template_context;
use crate::people::{self as register, Category, Status, check_finger, check_id, check_name};
use crate::store::StoreError;
use crate::store::people::{NewPerson, NewTemplate, PersonRecord, TemplateInfo};

/// A capture whose image quality is below this is refused at enrolment (0–100). On FVC2002 set B the
/// extractor rates the worst impressions 21–29 (DB3's dry, partial ones) and most above 30: this asks
/// again for the worst few, which an officer at a reader can always do.
pub const MIN_ENROL_QUALITY: u8 = 25;
/// A capture with fewer minutiae than this is refused at enrolment.
pub const MIN_ENROL_MINUTIAE: usize = 12;
/// The false match rate below which an enrolment candidate is reported as a possible duplicate: looser
/// than the gate's, since a human looks at each candidate.
pub const DUPLICATE_MAX_FMR: f64 = 1e-4;
/// Most candidates an identification answers.
const MAX_CANDIDATES: usize = 10;
/// Longest reason for a status change, in characters.
const MAX_REASON_CHARS: usize = 500;

fn field_error(e: register::PeopleError) -> ApiError {
    ApiError::bad_request("invalid_field", e.to_string())
}

fn store_error(context: &'static str) -> impl Fn(StoreError) -> ApiError {
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
async fn load_person(state: &AppState, id: String, show_duress: bool) -> Result<PersonView, ApiError> {
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
pub struct NewPersonBody {
    /// Person id: 1 to 32 letters, digits, `-`, `_`, `/` or `.`.
    pub id: String,
    /// `inmate`, `staff` or `visitor`.
    pub category: String,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// National identity number (up to 40 letters, digits, `-` or `/`).
    pub national_id: Option<String>,
    /// The zone the person is in now (an inmate at reception); absent: outside the facility.
    pub zone: Option<String>,
}

/// Identity fields, corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePersonBody {
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// National identity number.
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
    q: String,
    /// Only this category.
    category: Option<String>,
    /// Most results (1–200, default 50).
    limit: Option<u32>,
    /// Results to skip.
    #[serde(default)]
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
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people", params(("id" = String, Path, description = "Person id")),
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
    params(("id" = String, Path, description = "Person id")),
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
pub struct StatusBody {
    /// The new status: in_custody, at_court, at_hospital, work_party, transferred, released, escaped,
    /// deceased (inmates); on_duty, off_duty (staff); visiting (visitors).
    pub status: String,
    /// Why (a court order number, a hospital, …).
    pub reason: String,
}

/// Changes a person's status; every change is a `status_change` entry naming the officer.
#[utoipa::path(post, path = "/api/v1/people/{id}/status", tag = "people", request_body = StatusBody,
    params(("id" = String, Path, description = "Person id")),
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

/// A finger to enrol.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    /// ISO finger position, 1 (right thumb) to 10 (left little).
    pub finger: u8,
    /// The capture: PNG, TIFF or PGM, base64.
    pub image: String,
    /// The image's resolution when the file does not say (default 500).
    pub dpi: Option<u32>,
    /// A staff member's duress finger: it opens as usual and raises a silent alarm.
    #[serde(default)]
    pub duress: bool,
}

/// A finger kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolled {
    /// The finger.
    pub finger: u8,
    /// Capture quality, 0–100.
    pub quality: u8,
    /// Minutiae found.
    pub minutiae: usize,
    /// The `enrolment` entry.
    pub seq: u64,
}

/// A possible duplicate of a new enrolment, or an identification candidate.
#[derive(Debug, Serialize, ToSchema)]
pub struct Candidate {
    /// Person id.
    pub person: String,
    /// Given names.
    pub given_names: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Zone.
    pub zone: Option<String>,
    /// Which of their fingers matched.
    pub finger: u8,
    /// Matcher score, 0–1.
    pub score: f32,
    /// The false match rate this score stands for.
    pub fmr: f64,
}

pub(super) fn decode_base64(field: &'static str, text: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(text.trim()).map_err(|_| ApiError::bad_request("invalid_field", format!("{field}: not base64")))
}

/// Decodes and extracts a capture, off the async threads.
async fn extract_capture(state: &AppState, bytes: Vec<u8>, dpi: Option<u32>) -> Result<Template, ApiError> {
    state
        .compute(move || {
            let image = GrayImage::decode(&bytes, dpi)
                .map_err(|e| ApiError::bad_request("invalid_image", e.to_string()))?
                .to_500dpi();
            crate::fingerprint::extract::extract(&image)
                .map_err(|e| ApiError::unprocessable("poor_quality", format!("{e}; ask for the finger again")))
        })
        .await?
}

/// The people behind gallery matches, with the names the officer needs to judge them.
async fn candidates(state: &AppState, matches: Vec<crate::people::gallery::Match>) -> Result<Vec<Candidate>, ApiError> {
    let ids: Vec<String> = matches.iter().map(|m| m.person.clone()).collect();
    let records =
        state.with_store(move |s| ids.iter().map(|id| s.person_get(id)).collect::<Result<Vec<_>, _>>()).await?;
    Ok(state.census(|c| {
        matches
            .into_iter()
            .zip(records)
            .map(|(m, r)| {
                let s = c.person(&m.person);
                Candidate {
                    given_names: r.as_ref().map(|r| r.given_names.clone()),
                    family_name: r.as_ref().map(|r| r.family_name.clone()),
                    category: s.map(|s| s.category.as_str().into()),
                    status: s.map(|s| s.status.as_str().into()),
                    zone: s.and_then(|s| s.zone.clone()),
                    person: m.person,
                    finger: m.finger,
                    score: m.score,
                    fmr: m.fmr,
                }
            })
            .collect()
    }))
}

/// Enrols one finger: quality check, duplicate check against everyone enrolled, then the template
/// sealed in the store, the `enrolment` entry, and the gallery.
#[utoipa::path(post, path = "/api/v1/people/{id}/fingers", tag = "people", request_body = EnrolBody,
    params(("id" = String, Path, description = "Person id")),
    responses((status = 201, body = Enrolled), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "a possible duplicate (detail: candidates) or the finger is already enrolled", body = ErrorBody),
        (status = 422, description = "a poor capture: ask for the finger again", body = ErrorBody)))]
pub async fn enrol(
    State(state): State<AppState>,
    Caller(caller, _): Caller<Enrol>,
    Path(id): Path<String>,
    Json(body): Json<EnrolBody>,
) -> Result<impl IntoResponse, ApiError> {
    check_finger(body.finger).map_err(field_error)?;
    if body.dpi.is_some_and(|d| !(250..=1000).contains(&d)) {
        return Err(ApiError::bad_request("invalid_field", "dpi: 250 to 1000"));
    }
    let category = state.census(|c| c.person(&id).map(|p| (p.category, p.status)));
    let Some((category, status)) = category else {
        return Err(ApiError::no_such("no_such_person", format!("{id:?} is not registered")));
    };
    if status.is_gone() {
        return Err(ApiError::conflict("person_gone", format!("{id} is {}", status.as_str())));
    }
    if body.duress && category != Category::Staff {
        return Err(ApiError::bad_request("invalid_field", "duress: only staff enrol a duress finger"));
    }
    let template = extract_capture(&state, decode_base64("image", &body.image)?, body.dpi).await?;
    if template.quality < MIN_ENROL_QUALITY || template.minutiae.len() < MIN_ENROL_MINUTIAE {
        return Err(ApiError::unprocessable(
            "poor_quality",
            format!(
                "capture quality {} with {} minutiae is too poor to enrol; clean the finger and the glass and ask again",
                template.quality,
                template.minutiae.len()
            ),
        )
        .with_detail(serde_json::json!({ "quality": template.quality, "minutiae": template.minutiae.len() })));
    }
    let facility = state.facility();
    let gallery = facility.gallery.clone();
    let probe = template.clone();
    let found = state.compute(move || gallery.identify(&probe, MAX_CANDIDATES)).await?;
    let found = found.map_err(|e| ApiError::unavailable("gallery", &e))?;
    let others: Vec<_> = found.into_iter().filter(|m| m.fmr <= DUPLICATE_MAX_FMR && m.person != id).collect();
    if !others.is_empty() {
        let list = candidates(&state, others).await?;
        return Err(ApiError::conflict(
            "possible_duplicate",
            "this finger matches someone already enrolled: check the candidates (an alias, a returning prisoner)",
        )
        .with_detail(serde_json::json!({ "candidates": list })));
    }
    let sealed = facility
        .vault
        .seal(&template_context(&id, body.finger), &template.to_bytes())
        .map_err(|e| ApiError::unavailable("vault", &e))?;
    let new = NewTemplate {
        person: id.clone(),
        finger: body.finger,
        duress: body.duress,
        quality: template.quality,
        sealed,
        created: now(&state),
    };
    let template_id =
        state.with_store(move |s| Ok(s.template_insert(&new))).await?.map_err(store_error("templates"))?;
    let entry = Enrolment { fingers: vec![body.finger], officer: caller.name, person: id.clone() };
    let seqs = match state.record(vec![Event::Enrolment(entry)]).await {
        Ok(seqs) => seqs,
        Err(e) => {
            // No enrolment without its entry: the sealed template goes again, so the next start does
            // not load a finger the ledger never recorded.
            let _ = state.with_store(move |s| s.template_delete(template_id)).await;
            return Err(e);
        }
    };
    let owner = Owner { person: id.clone(), finger: body.finger, duress: body.duress };
    facility.gallery.insert(template_id as u64, owner, &template).map_err(|e| ApiError::unavailable("gallery", &e))?;
    let enrolled = Enrolled {
        finger: body.finger,
        quality: template.quality,
        minutiae: template.minutiae.len(),
        seq: seqs.first().copied().unwrap_or_default(),
    };
    Ok((StatusCode::CREATED, axum::Json(enrolled)))
}

/// A person's enrolled fingers.
#[utoipa::path(get, path = "/api/v1/people/{id}/fingers", tag = "people",
    params(("id" = String, Path, description = "Person id")),
    responses((status = 200, body = Vec<FingerView>), (status = 404, body = ErrorBody)))]
pub async fn fingers(
    State(state): State<AppState>,
    Caller(caller, _): Caller<ReadPeople>,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<FingerView>>, ApiError> {
    let show_duress = caller.role.may(crate::auth::Action::Enrol);
    Ok(axum::Json(load_person(&state, id, show_duress).await?.fingers))
}

/// A probe to identify: an image, or a template from another device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyBody {
    /// A capture (PNG, TIFF or PGM), base64.
    pub image: Option<String>,
    /// The image's resolution when the file does not say.
    pub dpi: Option<u32>,
    /// An ISO 19794-2, ANSI 378 or tally template, base64.
    pub template: Option<String>,
    /// Most candidates (1–10, default 5).
    pub max: Option<usize>,
}

/// Who a finger belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Identified {
    /// Candidates, best first, one per person.
    pub candidates: Vec<Candidate>,
    /// The false match rate the gate accepts; a candidate at or below it would open a lane.
    pub gate_max_fmr: f64,
}

/// Identifies a finger among everyone enrolled (handheld counts, overrides, enrolment checks).
#[utoipa::path(post, path = "/api/v1/identify", tag = "people", request_body = IdentifyBody,
    responses((status = 200, body = Identified), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn identify(
    State(state): State<AppState>,
    _: Caller<ReadPeople>,
    Json(body): Json<IdentifyBody>,
) -> Result<axum::Json<Identified>, ApiError> {
    let max = body.max.unwrap_or(5);
    if !(1..=MAX_CANDIDATES).contains(&max) {
        return Err(ApiError::bad_request("invalid_field", "max: 1 to 10"));
    }
    let probe = match (body.image, body.template) {
        (Some(image), None) => extract_capture(&state, decode_base64("image", &image)?, body.dpi).await?,
        (None, Some(template)) => {
            let bytes = decode_base64("template", &template)?;
            let parsed = if bytes.starts_with(b"FMR\0") {
                crate::fingerprint::iso::parse_record(&bytes).map_err(|e| e.to_string())
            } else {
                Template::from_bytes(&bytes).map_err(|e| e.to_string())
            };
            parsed.map_err(|e| ApiError::bad_request("invalid_template", e))?
        }
        _ => return Err(ApiError::bad_request("invalid_body", "give exactly one of image and template")),
    };
    let gallery = state.facility().gallery.clone();
    let found = state.compute(move || gallery.identify(&probe, max)).await?;
    let found = found.map_err(|e| ApiError::unavailable("gallery", &e))?;
    let candidates = candidates(&state, found).await?;
    Ok(axum::Json(Identified { candidates, gate_max_fmr: state.facility().max_fmr }))
}
