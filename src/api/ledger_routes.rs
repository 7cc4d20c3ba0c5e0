//! Ledger routes: the latest checkpoint, entries, proofs, and officers' notes.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::AppState;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, Json, Query, ReadLedger, WriteNote};
use crate::ledger::entry::{Event, Note};
use crate::ledger::reader::{ConsistencyProof, InclusionProof};

/// Most entries answered at once.
const MAX_PAGE: u64 = 1000;
/// Largest sequence number there can be: the store keeps them as SQLite integers (i64), and the
/// document says `int64`, so a larger one is out of range rather than merely past the end.
const MAX_SEQ: u64 = i64::MAX as u64;
/// `GET /api/v1/ledger/checkpoint`: the latest signed checkpoint, as C2SP text.
#[utoipa::path(get, path = "/api/v1/ledger/checkpoint", tag = "ledger",
    responses((status = 200, description = "the latest signed checkpoint (C2SP signed note), with the cosignatures of the facility's other appliances (cosignature/v1) appended", content_type = "text/plain")))]
pub async fn checkpoint(State(state): State<AppState>, _: Caller<ReadLedger>) -> Result<impl IntoResponse, ApiError> {
    let (size, note) = state.with_reader(|r| r.latest_checkpoint()).await?;
    let note = super::peer_routes::with_cosignatures(&state, size, note).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct EntriesQuery {
    /// First sequence number (default 0).
    #[serde(default)]
    from: u64,
    /// Most entries (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct EntriesPage {
    /// Sequence number of the first entry.
    from: u64,
    /// Entries, as their canonical JSON (RFC 8785).
    #[schema(value_type = Vec<Object>)]
    entries: Vec<Box<RawValue>>,
}

/// `GET /api/v1/ledger/entries?from=&limit=`: entries as their canonical JSON.
#[utoipa::path(get, path = "/api/v1/ledger/entries", tag = "ledger", params(EntriesQuery),
    responses((status = 200, body = EntriesPage), (status = 400, body = ErrorBody)))]
pub async fn entries(
    State(state): State<AppState>,
    _: Caller<ReadLedger>,
    Query(q): Query<EntriesQuery>,
) -> Result<axum::Json<EntriesPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    if q.from > MAX_SEQ {
        return Err(ApiError::bad_request("invalid_query", format!("from must be at most {MAX_SEQ}")));
    }
    let from = q.from;
    let raw = state.with_reader(move |r| r.entries(from, limit)).await?;
    let entries = raw
        .into_iter()
        .map(|b| String::from_utf8(b).ok().and_then(|s| RawValue::from_string(s).ok()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::unavailable("entries", &"a stored entry is not JSON"))?;
    Ok(axum::Json(EntriesPage { from, entries }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct InclusionQuery {
    /// The entry's sequence number.
    index: u64,
    /// Tree size (default: the latest checkpoint).
    size: Option<u64>,
}

/// `GET /api/v1/ledger/proof/inclusion?index=&size=`.
#[utoipa::path(get, path = "/api/v1/ledger/proof/inclusion", tag = "ledger", params(InclusionQuery),
    responses((status = 200, description = "RFC 6962 inclusion proof", body = Object), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn inclusion(
    State(state): State<AppState>,
    _: Caller<ReadLedger>,
    Query(q): Query<InclusionQuery>,
) -> Result<axum::Json<InclusionProof>, ApiError> {
    Ok(axum::Json(state.with_reader(move |r| r.inclusion_proof(q.index, q.size)).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsistencyQuery {
    /// The older tree size.
    from: u64,
    /// The newer tree size (default: the latest checkpoint).
    to: Option<u64>,
}

/// `GET /api/v1/ledger/proof/consistency?from=&to=`.
#[utoipa::path(get, path = "/api/v1/ledger/proof/consistency", tag = "ledger", params(ConsistencyQuery),
    responses((status = 200, description = "RFC 6962 consistency proof", body = Object), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn consistency(
    State(state): State<AppState>,
    _: Caller<ReadLedger>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<axum::Json<ConsistencyProof>, ApiError> {
    Ok(axum::Json(state.with_reader(move |r| r.consistency_proof(q.from, q.to)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Lane gate-in jammed at 06:10; cleared at 06:25"}))]
pub(super) struct NoteBody {
    /// The note (at most 4000 characters).
    #[schema(min_length = 1, max_length = 4000)]
    text: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct NoteCreated {
    /// The note's sequence number.
    seq: u64,
}

/// `POST /api/v1/log/notes` `{"text": …}`: appends a note by the token's holder; answers once durable.
#[utoipa::path(post, path = "/api/v1/log/notes", tag = "ledger", request_body = NoteBody,
    responses((status = 201, body = NoteCreated), (status = 400, body = ErrorBody)))]
pub async fn post_note(
    State(state): State<AppState>,
    Caller(caller, _): Caller<WriteNote>,
    Json(body): Json<NoteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let note = Note::new(caller.name, body.text).map_err(|e| ApiError::bad_request("invalid_note", e.to_string()))?;
    let appended = state.writer().append(vec![Event::Note(note)]).await?;
    let seq = *appended.seqs.first().ok_or_else(|| ApiError::unavailable("note", &"no sequence number returned"))?;
    Ok((StatusCode::CREATED, axum::Json(NoteCreated { seq })))
}
