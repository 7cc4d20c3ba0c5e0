//! The facility's routes: cosignatures given by the other appliances, the checkpoints we hold of every
//! appliance (gossip), and the facility-wide headcount folded over every log we hold.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::census_routes::ZoneCountView;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, Cosign, Json, ReadCounts, ReadLedger};
use crate::ledger::cosign::{self, WitnessVerifier};
use crate::ledger::note::{self, Verifier};
use crate::peers::client::HeldNote;
use crate::peers::facility;
use crate::store::{Store, StoreError};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CosignatureBody {
    /// The size of our checkpoint that was cosigned.
    size: u64,
    /// The cosignature line (`— <witness> <base64>`), C2SP cosignature/v1.
    cosignature: String,
}

/// `POST /api/v1/ledger/cosignatures`: a peer's witness cosignature of one of our checkpoints; kept and
/// served with that checkpoint when it is the latest.
#[utoipa::path(post, path = "/api/v1/ledger/cosignatures", tag = "facility", request_body = CosignatureBody,
    responses((status = 201, description = "kept"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn post_cosignature(
    State(state): State<AppState>,
    _: Caller<Cosign>,
    Json(body): Json<CosignatureBody>,
) -> Result<impl IntoResponse, ApiError> {
    let witnesses: Vec<WitnessVerifier> =
        state.facility().config.peers.iter().filter_map(|p| WitnessVerifier::parse(&p.witness).ok()).collect();
    let size = body.size;
    let (note_text, keys) = state.with_reader(move |r| Ok((r.checkpoint_at(size)?, r.verifier_keys()?))).await?;
    let keys: Vec<Verifier> = keys.iter().filter_map(|k| Verifier::parse(k).ok()).collect();
    let opened = note::open_checkpoint(&note_text, &keys).map_err(|e| ApiError::unavailable("our checkpoint", &e))?;
    let cosig = cosign::verify(&body.cosignature, &opened.checkpoint, &witnesses)
        .map_err(|e| ApiError::bad_request("invalid_cosignature", e.to_string()))?;
    let at = crate::clock::rfc3339(state.facility().clock.wall());
    state.with_store(move |s| s.cosignature_put(size, &cosig.witness, &cosig.line, &at)).await?;
    Ok(StatusCode::CREATED)
}

/// Our checkpoint note at `size` with the cosignatures kept for it appended.
pub(super) async fn with_cosignatures(state: &AppState, size: u64, note: String) -> Result<String, ApiError> {
    let lines = state.with_store(move |s| s.cosignatures_at(size)).await?;
    Ok(lines.into_iter().fold(note, |mut n, l| {
        n.push_str(&l);
        n
    }))
}

/// `GET /api/v1/facility/checkpoints`: the latest checkpoint we hold of every appliance of the facility,
/// ours first (with the cosignatures it received), then each peer's as we accepted it.
#[utoipa::path(get, path = "/api/v1/facility/checkpoints", tag = "facility",
    responses((status = 200, body = Vec<Object>)))]
pub async fn checkpoints(State(state): State<AppState>, _: Caller<ReadLedger>) -> Result<impl IntoResponse, ApiError> {
    let (size, ours) = state.with_reader(|r| r.latest_checkpoint()).await?;
    let origin = ours.lines().next().unwrap_or_default().to_owned();
    let ours = with_cosignatures(&state, size, ours).await?;
    let origins: Vec<String> = state.facility().config.peers.iter().map(|p| p.origin()).collect();
    let peers = state
        .with_store(move |s| {
            let mut out = Vec::new();
            for o in origins {
                if let Some(h) = s.peer_checkpoint(&o)? {
                    out.push(HeldNote { origin: o, checkpoint: h.note });
                }
            }
            Ok(out)
        })
        .await?;
    let mut all = vec![HeldNote { origin, checkpoint: ours }];
    all.extend(peers);
    Ok(axum::Json(all))
}

/// One appliance's log as this one holds it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ApplianceState {
    /// Appliance id.
    appliance: String,
    /// Its log's origin.
    origin: String,
    /// Whether it is this appliance.
    this: bool,
    /// Entries held (verified) of its log.
    size: u64,
    /// The size it last announced in a verified checkpoint.
    announced: Option<u64>,
    /// Whether it announced more than is held (catching up, or refused).
    behind: bool,
    /// When it last answered.
    last_contact: Option<String>,
    /// What went wrong at the last attempt.
    last_error: Option<String>,
    /// Evidence of misbehaviour recorded about it (each also an alarm in our ledger).
    alarms: Vec<EvidenceView>,
}

/// A recorded misbehaviour.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EvidenceView {
    /// `peer_rollback`, `peer_fork`, `peer_bad_signature`, `peer_split_view`.
    code: String,
    /// What was seen.
    detail: String,
    /// When.
    seen: String,
}

/// The facility's headcount.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct FacilityHeadcount {
    /// Everyone inside, over every log held.
    inside: u64,
    /// Each zone, in the configuration's order then others.
    zones: Vec<ZoneCountView>,
    /// Everyone inside by category.
    categories: BTreeMap<String, u64>,
    /// Each appliance's log as held here, this one first.
    appliances: Vec<ApplianceState>,
}

/// `GET /api/v1/facility/headcount`: the headcount over our ledger and every peer log we hold (see
/// [`crate::peers::facility`] for the order), and how current each log is.
#[utoipa::path(get, path = "/api/v1/facility/headcount", tag = "facility",
    responses((status = 200, body = FacilityHeadcount)))]
pub async fn headcount(
    State(state): State<AppState>,
    _: Caller<ReadCounts>,
) -> Result<axum::Json<FacilityHeadcount>, ApiError> {
    let config = state.facility().config.clone();
    let peers: Vec<(String, String)> = config.peers.iter().map(|p| (p.id.clone(), p.origin())).collect();
    let (census, appliances) = state
        .compute(move || -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            let mut store = Store::open(&config.data_dir, crate::store::Open::MustExist)?;
            let (ours, identity) = store.ledger_read(|v| {
                let size = v.latest_checkpoint()?.map_or(0, |(s, _)| s);
                Ok::<_, StoreError>((v.entries(0, size)?, v.identity()?))
            })?;
            let identity = identity.ok_or(StoreError::Invalid("the ledger has no identity"))?;
            let mut appliances = vec![ApplianceState {
                appliance: identity.appliance.clone(),
                origin: identity.origin.clone(),
                this: true,
                size: ours.len() as u64,
                announced: Some(ours.len() as u64),
                behind: false,
                last_contact: None,
                last_error: None,
                alarms: Vec::new(),
            }];
            let mut logs = facility::archived_logs(&config.data_dir)?;
            logs.push(facility::decode(identity.origin, ours));
            for (id, origin) in peers {
                let entries = store.peer_entries(&origin)?;
                let contact = store.peer_contact_of(&origin)?;
                let alarms = store
                    .peer_evidence_of(&origin)?
                    .into_iter()
                    .map(|e| EvidenceView { code: e.code, detail: e.detail, seen: e.seen })
                    .collect();
                let size = entries.len() as u64;
                appliances.push(ApplianceState {
                    appliance: id,
                    origin: origin.clone(),
                    this: false,
                    size,
                    announced: contact.announced,
                    behind: contact.announced.is_some_and(|a| a > size),
                    last_contact: contact.last_contact,
                    last_error: contact.last_error,
                    alarms,
                });
                logs.push(facility::decode(origin, entries));
            }
            Ok((facility::fold(&logs, crate::app::empty_census(&config)), appliances))
        })
        .await?
        .map_err(|e| ApiError::unavailable("facility headcount", &e))?;
    let count = census.headcount();
    let categories = facility::by_category(&count).into_iter().map(|(c, n)| (c.as_str().to_owned(), n)).collect();
    let facility = state.facility();
    let mut zones = super::census_routes::zero_counts(&facility.config);
    for counted in &count.zones {
        let by = |c| counted.by_category.get(&c).copied().unwrap_or(0);
        use crate::people::Category::*;
        let (total, inmates, staff, visitors) = (counted.total, by(Inmate), by(Staff), by(Visitor));
        match zones.iter_mut().find(|z| z.zone == counted.zone) {
            Some(z) => (z.total, z.inmates, z.staff, z.visitors) = (total, inmates, staff, visitors),
            None => zones.push(ZoneCountView {
                zone: counted.zone.clone(),
                name: counted.zone.clone(),
                total,
                inmates,
                staff,
                visitors,
            }),
        }
    }
    Ok(axum::Json(FacilityHeadcount { inside: count.inside, zones, categories, appliances }))
}
