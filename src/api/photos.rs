//! People's photos: set (sealed at rest by the vault, like the templates) and read, for the guard who
//! checks a face at a gate and the officer who compares enrolment candidates.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, Json, Path, ReadPeople, WritePeople};
use super::people::{decode_base64, now};
use crate::people::MAX_PHOTO_BYTES;
use crate::people::vault::photo_context;

/// A photo, JPEG or PNG.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoBody {
    /// The photo's bytes, base64 (at most 512 KiB once decoded).
    pub image: String,
}

/// The media type of a photo, by its first bytes.
fn photo_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

/// Sets a person's photo (sealed at rest like the templates).
#[utoipa::path(put, path = "/api/v1/people/{id}/photo", tag = "people", request_body = PhotoBody,
    params(("id" = String, Path, description = "Person id", example = "P-1")),
    responses((status = 204, description = "kept"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_photo(
    State(state): State<AppState>,
    _: Caller<WritePeople>,
    Path(id): Path<String>,
    Json(body): Json<PhotoBody>,
) -> Result<StatusCode, ApiError> {
    let bytes = decode_base64("image", &body.image)?;
    if bytes.len() > MAX_PHOTO_BYTES || photo_type(&bytes).is_none() {
        return Err(ApiError::bad_request("invalid_photo", "a JPEG or PNG photo of at most 512 KiB"));
    }
    let sealed =
        state.facility().vault.seal(&photo_context(&id), &bytes).map_err(|e| ApiError::unavailable("vault", &e))?;
    let stamp = now(&state);
    let lookup = id.clone();
    if !state.with_store(move |s| s.photo_set(&lookup, &sealed, &stamp)).await? {
        return Err(ApiError::no_such("no_such_person", format!("no person {id:?} in the register")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A person's photo.
#[utoipa::path(get, path = "/api/v1/people/{id}/photo", tag = "people",
    params(("id" = String, Path, description = "Person id", example = "P-1")),
    responses((status = 200, description = "the photo", content(("image/jpeg"), ("image/png"))),
        (status = 404, body = ErrorBody)))]
pub async fn get_photo(
    State(state): State<AppState>,
    _: Caller<ReadPeople>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let lookup = id.clone();
    let Some(sealed) = state.with_store(move |s| s.photo_get(&lookup)).await? else {
        return Err(ApiError::no_such("no_photo", format!("no photo of {id:?}")));
    };
    let photo = state
        .facility()
        .vault
        .open_sealed(&photo_context(&id), &sealed)
        .map_err(|e| ApiError::unavailable("vault", &e))?;
    let media = photo_type(&photo).unwrap_or("application/octet-stream");
    Ok(([(header::CONTENT_TYPE, media), (header::CACHE_CONTROL, "private, no-store")], photo))
}
