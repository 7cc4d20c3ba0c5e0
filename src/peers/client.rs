//! The HTTP side of a peer: its routes, called with the `peer` token it issued us, plain HTTP on the
//! facility LAN, with short timeouts. Blocking (ureq): the sync runs it on tokio's blocking pool, one
//! peer at a time, a few requests every few seconds. The token never reaches a log (`Debug` hides it).

use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ledger::reader::ConsistencyProof;

/// Longest answer read (a page of entries).
const MAX_ANSWER_BYTES: u64 = 80 * 1024 * 1024;
/// Entries asked for at once (the API's largest page).
pub const PAGE: u64 = 1000;
/// Longest wait for any one request.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The peer could not be reached, or the connection failed.
    #[error("cannot reach the peer")]
    Http(#[from] ureq::Error),
    /// The peer answered with an error status.
    #[error("the peer answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Start of its body.
        body: String,
    },
    /// The answer is not what the route returns.
    #[error("the peer's answer is malformed")]
    Json(#[from] serde_json::Error),
}

impl ClientError {
    /// Whether the peer was not reached at all (network down, refused, timed out).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Http(_))
    }
}

/// A peer's API.
pub struct PeerClient {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient").field("base", &self.base).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    entries: Vec<&'a RawValue>,
}

/// A checkpoint a peer holds of some log (its own or another's), as the gossip route lists them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct HeldNote {
    /// The log.
    pub origin: String,
    /// The signed note, with any cosignatures.
    pub checkpoint: String,
}

impl PeerClient {
    /// A client of the API at `base` (`http://host:port`) with `token`.
    pub fn new(base: &str, token: String) -> PeerClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .max_redirects(0)
            .build()
            .into();
        PeerClient { agent, base: base.trim_end_matches('/').to_owned(), token }
    }

    fn read(&self, resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<String, ClientError> {
        let mut resp = resp?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string()?;
        if status != 200 && status != 201 {
            return Err(ClientError::Status { status, body: body.chars().take(200).collect() });
        }
        Ok(body)
    }

    fn get(&self, path: &str) -> Result<String, ClientError> {
        let auth = format!("Bearer {}", self.token);
        self.read(self.agent.get(format!("{}{path}", self.base)).header("Authorization", &auth).call())
    }

    /// The peer's latest checkpoint note (with cosignatures).
    pub fn checkpoint(&self) -> Result<String, ClientError> {
        self.get("/api/v1/ledger/checkpoint")
    }

    /// The consistency proof between two of the peer's sizes.
    pub fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ClientError> {
        Ok(serde_json::from_str(&self.get(&format!("/api/v1/ledger/proof/consistency?from={from}&to={to}"))?)?)
    }

    /// Up to [`PAGE`] entries from `from`, as the exact bytes the peer sent.
    pub fn entries(&self, from: u64) -> Result<Vec<Vec<u8>>, ClientError> {
        let text = self.get(&format!("/api/v1/ledger/entries?from={from}&limit={PAGE}"))?;
        let page: Page<'_> = serde_json::from_str(&text)?;
        Ok(page.entries.into_iter().map(|e| e.get().as_bytes().to_vec()).collect())
    }

    /// The checkpoints the peer holds of every log of the facility.
    pub fn facility_checkpoints(&self) -> Result<Vec<HeldNote>, ClientError> {
        Ok(serde_json::from_str(&self.get("/api/v1/facility/checkpoints")?)?)
    }

    /// Gives the peer our cosignature of its checkpoint at `size`.
    pub fn post_cosignature(&self, size: u64, line: &str) -> Result<(), ClientError> {
        let body = serde_json::json!({ "size": size, "cosignature": line }).to_string();
        let auth = format!("Bearer {}", self.token);
        let req = self
            .agent
            .post(format!("{}/api/v1/ledger/cosignatures", self.base))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json");
        self.read(req.send(body.as_bytes())).map(drop)
    }
}
