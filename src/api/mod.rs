//! The local HTTP API (axum): routes, roles and errors. Only this module chooses HTTP statuses.
//!
//! - [`people`]: the register — people and status changes; [`photos`]: their photos;
//! - [`fingers`]: enrolment of fingers (quality and duplicate checks) and identification;
//! - [`census_routes`]: headcount, zones and their occupants, alarms, the live event stream (SSE);
//! - [`rollcalls`]: roll-calls from start to signed close, and the printable count sheet;
//! - [`lanes`]: the lanes' state and officers' overrides;
//! - [`ledger_routes`]: checkpoints, entries, proofs, notes; [`ledger_export`]: the auditor's export as
//!   one tar file;
//! - [`peer_routes`]: the facility: cosignatures from the other appliances, the checkpoints held of
//!   every appliance, the facility-wide headcount;
//! - [`session`]: who holds a token and what their role may do (for the pages);
//! - [`pages`]: the web pages, static files built into the binary, served outside the API's document;
//! - [`openapi`]: the OpenAPI 3 document, generated from the handlers' annotations by utoipa, and the
//!   router built from the same list (`/api/openapi.json`).
//!
//! [`serve`] takes its listener and a shutdown future, so the binary passes Ctrl-C and SIGTERM and the
//! tests bind `127.0.0.1:0`. Every route but `/healthz` needs a bearer token whose role may do what the
//! route does ([`crate::auth::Role::may`]). Reads run on pooled read-only connections; writes go through
//! the one ledger [`writer::Writer`] and are answered only once durable.

mod census_routes;
pub mod error;
pub mod extract;
mod fingers;
mod lanes;
mod ledger_export;
mod ledger_routes;
mod openapi;
pub mod pages;
mod peer_routes;
mod people;
mod photos;
mod rollcalls;
mod session;
pub mod writer;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::app::Facility;
use crate::ledger::entry::Event;
use crate::ledger::{LedgerError, LedgerReader};
use crate::store::{Open, Store, StoreError};
use error::ApiError;
use writer::Writer;

/// Largest request body accepted by any route but those that take images.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest body of the routes that take a fingerprint image or a photo (base64 inside JSON).
pub const MAX_IMAGE_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How long a write waits for the census to fold it before answering anyway.
const CENSUS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Idle connections kept per pool.
const POOL_SIZE: usize = 8;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: Writer,
    facility: Arc<Facility>,
    /// Roll-call starts one at a time, so two never take the same id.
    rollcall_start: tokio::sync::Mutex<()>,
    data_dir: PathBuf,
    /// Idle read connections. A std Mutex: it is held only to push or pop, never across an await.
    readers: Mutex<Vec<LedgerReader>>,
    /// Idle connections for token lookups.
    stores: Mutex<Vec<Store>>,
}

impl AppState {
    /// State for a ledger in `data_dir` written through `writer`, and the facility's parts.
    pub fn new(writer: Writer, data_dir: PathBuf, facility: Arc<Facility>) -> Self {
        AppState {
            inner: Arc::new(Inner {
                writer,
                facility,
                rollcall_start: tokio::sync::Mutex::new(()),
                data_dir,
                readers: Mutex::new(Vec::new()),
                stores: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The ledger writer.
    pub fn writer(&self) -> &Writer {
        &self.inner.writer
    }

    /// The facility: vault, gallery, census, policy, lanes.
    pub fn facility(&self) -> &Facility {
        &self.inner.facility
    }

    /// Appends `events` and answers once they are durable and folded into the census, so what the
    /// caller reads next shows them. Returns their sequence numbers.
    pub async fn record(&self, events: Vec<Event>) -> Result<Vec<u64>, ApiError> {
        let appended = self.inner.writer.append(events).await?;
        if let Some(&last) = appended.seqs.last() {
            let census = self.inner.facility.census.clone();
            if tokio::time::timeout(CENSUS_WAIT, census.wait_for(last)).await.is_err() {
                tracing::warn!(seq = last, "the census did not fold a durable entry in time");
            }
        }
        Ok(appended.seqs)
    }

    /// Runs `f` on the census as it is now.
    pub fn census<T>(&self, f: impl FnOnce(&crate::census::Census) -> T) -> T {
        self.inner.facility.census.read(f)
    }

    /// Runs CPU-bound work (extraction, identification) on the blocking pool.
    pub async fn compute<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::unavailable("compute task", &e))
    }

    /// Runs `f` on a pooled ledger reader, off the async threads.
    pub async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut LedgerReader) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = self.inner.clone();
        let r = tokio::task::spawn_blocking(move || pooled(&inner.readers, || LedgerReader::open(&inner.data_dir), f))
            .await;
        r.map_err(|e| ApiError::unavailable("reader task", &e))?.map_err(ApiError::from)
    }

    /// Runs `f` on a pooled store connection, off the async threads.
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = self.inner.clone();
        let r = tokio::task::spawn_blocking(move || {
            pooled(&inner.stores, || Store::open(&inner.data_dir, Open::MustExist), f)
        })
        .await;
        r.map_err(|e| ApiError::unavailable("store task", &e))?.map_err(|e| ApiError::unavailable("store", &e))
    }
}

/// Runs `f` on a connection taken from `pool` (or opened), then keeps it for the next caller.
fn pooled<C, T, E>(
    pool: &Mutex<Vec<C>>,
    open: impl FnOnce() -> Result<C, E>,
    f: impl FnOnce(&mut C) -> Result<T, E>,
) -> Result<T, E> {
    let popped = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut conn = match popped {
        Some(c) => c,
        None => open()?,
    };
    let out = f(&mut conn);
    let mut idle = pool.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < POOL_SIZE {
        idle.push(conn);
    }
    out
}

/// The routes, and the OpenAPI document built from the same list.
pub fn router(state: AppState) -> Router {
    let (api, doc) = openapi::routes();
    // Written once: the document is fixed for the life of the process.
    let doc: Arc<str> = doc.to_json().unwrap_or_else(|_| "{}".into()).into();
    Router::new()
        .route("/healthz", get(health))
        .merge(pages::routes())
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move |caller: extract::Caller<extract::ReadApiDocs>| openapi::document(caller, doc.clone())),
        )
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// Logs every request's method, path (never the query or headers: no token reaches the log), status and
/// time; server errors at `warn`.
async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let (status, ms) = (res.status().as_u16(), started.elapsed().as_secs_f64() * 1e3);
    if res.status().is_server_error() {
        tracing::warn!(%method, path, status, ms, "request failed");
    } else {
        tracing::debug!(%method, path, status, ms, "request");
    }
    res
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
