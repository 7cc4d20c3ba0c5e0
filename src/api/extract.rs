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

/// Path parameters; rejections (a `%FF` that does not decode to UTF-8) become JSON errors.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            // Every route that takes this declares its parameters, so a rejection is the client's.
            .map_err(|r| ApiError::bad_request("invalid_path", r.body_text()))
    }
}

/// What a route does, named as a type so that its handler's signature states its permission.
pub trait Permission {
    /// The action checked against the caller's role.
    const ACTION: Action;
}

macro_rules! permissions {
    ($( $(#[$doc:meta])* $name:ident, )*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Permission for $name {
            const ACTION: Action = Action::$name;
        }
    )*};
}

permissions! {
    /// Reading checkpoints, entries and proofs.
    ReadLedger,
    /// Writing an officer's note.
    WriteNote,
    /// Reading the register and identifying.
    ReadPeople,
    /// Registering people and correcting them.
    WritePeople,
    /// Enrolling fingers.
    Enrol,
    /// Changing a status.
    ChangeStatus,
    /// Seeing lanes and the live stream.
    ReadLanes,
    /// Overriding at a lane.
    Override,
    /// Reading counts and alarms.
    ReadCounts,
    /// Running roll-calls.
    RunRollcall,
    /// Counting in a roll-call.
    CountRollcall,
    /// Reading the OpenAPI document.
    ReadApiDocs,
    /// Giving a cosignature.
    Cosign,
}

/// A caller whose token's role may do `P`. Extracted before the body and the query, so a caller without
/// the right learns nothing about what else was wrong with the request: 401, then 403, then 400.
#[derive(Debug, Clone)]
pub struct Caller<P>(pub Principal, pub std::marker::PhantomData<P>);

impl<P: Permission + Send + Sync> FromRequestParts<AppState> for Caller<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state).await?;
        if !principal.role.may(P::ACTION) {
            return Err(ApiError::forbidden(principal.role));
        }
        Ok(Caller(principal, std::marker::PhantomData))
    }
}

/// A caller with any valid token, whatever its role (for routes that only say who is asking).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(Authenticated)
    }
}

/// The holder of a token given in a body (the second officer of an override), or `None`.
pub async fn principal_of(state: &AppState, secret: String) -> Result<Option<Principal>, ApiError> {
    state.with_store(move |store| crate::auth::authenticate(store, &secret)).await
}

/// The holder of the request's bearer token (401 when there is none or it is not valid).
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
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
    principal.ok_or_else(ApiError::unauthenticated)
}
