//! Fingers: enrolment of a person's fingers and identification of a finger among everyone enrolled.
//!
//! A new finger is checked twice before it is kept: its capture quality (a poor capture is refused so
//! the officer asks for the finger again), then against everyone enrolled, so that an alias or a
//! returning prisoner is reported with the candidates instead of becoming a second identity. Then the
//! template is sealed into the store, the `enrolment` entry written, and the gallery told.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, Enrol, Json, Path, ReadPeople};
use super::people::{FingerView, decode_base64, field_error, load_person, now, store_error};
use crate::fingerprint::image::GrayImage;
use crate::fingerprint::template::Template;
use crate::ledger::entry::{Enrolment, Event};
use crate::people::gallery::Owner;
use crate::people::vault::template_context;
use crate::people::{Category, DUPLICATE_MAX_FMR, MIN_ENROL_MINUTIAE, MIN_ENROL_QUALITY, check_finger};
use crate::store::people::NewTemplate;

/// Most candidates an identification answers.
const MAX_CANDIDATES: usize = 10;

/// A finger to enrol.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    /// ISO finger position, 1 (right thumb) to 10 (left little).
    #[schema(minimum = 1, maximum = 10)]
    pub finger: u8,
    /// The capture: PNG, TIFF or PGM, base64.
    pub image: String,
    /// The image's resolution when the file does not say (250–1000, default 500).
    #[schema(minimum = 250, maximum = 1000)]
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
    params(("id" = String, Path, description = "Person id", example = "P-1")),
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
    let indexed = facility.gallery.insert_enrolled(template_id as u64, owner, &template);
    indexed.map_err(|e| ApiError::unavailable("gallery", &e))?;
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
    params(("id" = String, Path, description = "Person id", example = "P-1")),
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
    #[schema(minimum = 1, maximum = 10)]
    pub max: Option<usize>,
}

/// Who a finger belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Identified {
    /// Candidates, best first, one per person.
    pub candidates: Vec<Candidate>,
    /// The false match rate the gate accepts at the gallery's present size; a best candidate at or
    /// below it would open a lane.
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
    let gate_max_fmr = state.facility().operating_point.max_fmr(state.facility().gallery.len());
    Ok(axum::Json(Identified { candidates, gate_max_fmr }))
}
