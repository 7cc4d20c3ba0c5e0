//! Extractors that turn every malformed request into an [`ApiError`] (JSON, 4xx) rather than axum's
//! plain-text rejections, and the bearer-token check.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::AppState;
use super::error::ApiError;
use crate::auth::{Action, Principal};

/// A JSON object body; rejections become JSON errors.
///
/// The body must be an object: serde reads a struct from a JSON array of its fields too, so the text is
/// first checked as a whole (syntax, UTF-8, nothing after it) and only then read as `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        use axum::extract::rejection::JsonRejection::*;
        match axum::Json::<Box<RawValue>>::from_request(req, state).await {
            Ok(axum::Json(raw)) if !raw.get().starts_with('{') => {
                Err(ApiError::bad_request("invalid_body", "the body must be a JSON object"))
            }
            Ok(axum::Json(raw)) => serde_json::from_str(raw.get())
                .map(Json)
                .map_err(|e| ApiError::bad_request("invalid_body", e.to_string())),
            Err(MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            )),
            Err(BytesRejection(r)) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body is larger than this route accepts",
            )),
            Err(r) => Err(ApiError::bad_request("invalid_body", r.body_text())),
        }
    }
}

/// Query parameters; rejections become JSON errors.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r| ApiError::bad_request("invalid_query", r.body_text()))
    }
}

/// The authenticated caller. Handlers then call [`Caller::require`] with what they are about to do.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// Refuses (403) unless the caller's role may do `action`.
    pub fn require(&self, action: Action) -> Result<&Principal, ApiError> {
        if self.0.role.may(action) { Ok(&self.0) } else { Err(ApiError::forbidden(self.0.role)) }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(ApiError::unauthenticated)?;
        // The scheme is matched without regard to case (RFC 9110, section 11.1).
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token.trim().to_owned())
            .ok_or_else(ApiError::unauthenticated)?;
        let principal = state.with_store(move |store| crate::auth::authenticate(store, &secret)).await?;
        principal.map(Caller).ok_or_else(ApiError::unauthenticated)
    }
}
