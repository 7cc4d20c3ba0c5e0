//! API errors: the one place that chooses HTTP statuses. Every error is JSON with a stable `error` code
//! and a human `message`; causes go to the log, never to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::error;

use super::writer::WriteError;
use crate::ledger::LedgerError;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    detail: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a serde_json::Value>,
}

/// Every error's body, for the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code (`invalid_body`, `not_found`, `forbidden`, …).
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// Structured detail where a client can act on it (the candidates of a duplicate enrolment).
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status, a stable code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), detail: None }
    }

    /// The same error with structured detail for the client.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// 404 for a thing a route names that does not exist.
    pub fn no_such(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: the request conflicts with what exists.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 422: well-formed, but cannot be used (a poor capture).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 400 with code `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no token or an unknown one.
    pub fn unauthenticated() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid bearer token is required")
    }

    /// 403: the token's role may not do this.
    pub fn forbidden(role: crate::auth::Role) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("the {role} role may not do this"))
    }

    /// 404 for unknown routes.
    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    /// 405 for a known route with the wrong method.
    pub fn method_not_allowed() -> Self {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
    }

    /// 503: storage is failing; says so without details.
    pub fn unavailable(context: &str, cause: &dyn std::fmt::Display) -> Self {
        error!(cause = %cause, context, "request failed on storage");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable", "the ledger cannot be read or written now")
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: self.code, message: &self.message, detail: self.detail.as_ref() };
        let mut res = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Proof(p) => ApiError::bad_request("invalid_proof_request", p.to_string()),
            LedgerError::NoCheckpointAt(s) => ApiError::new(
                StatusCode::NOT_FOUND,
                "no_checkpoint",
                format!("no checkpoint was released at tree size {s}"),
            ),
            LedgerError::Entry(e) => ApiError::bad_request("entry_refused", e.to_string()),
            e => ApiError::unavailable("ledger", &e),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Refused(e) => e.into(),
            WriteError::Unavailable(why) => ApiError::unavailable("ledger write", &why),
        }
    }
}
