//! The facility's other appliances: `[[peer]]` entries and the `[peers]` table.
//!
//! ```toml
//! [peers]
//! sync_every_s = 5                  # how often each peer is pulled (1–3600 s, default 5)
//!
//! [[peer]]
//! id = "gate-south-1"               # the peer's appliance id
//! url = "http://10.20.0.12:8080"    # its API, plain HTTP on the facility LAN
//! vkey = "makala/gate-south-1+4f1a2b3c+AQ…"         # its ledger verifier key, pinned at installation
//! witness = "makala/gate-south-1/witness+…+BA…"     # its witness (cosigning) key
//! token_file = "/var/lib/tally/keys/peer-gate-south-1.token"  # a `peer` token it issued us (mode 0600)
//! ```
//!
//! The ledger key's name is the peer's origin (`<facility>/<appliance>`, or `<facility>/<appliance>/<n>`
//! for a restored appliance's epoch n), whose appliance must be the peer's id. The token is kept in a file, not here, so that the configuration holds no secret. This
//! module only validates the settings; the sync itself is [`crate::peers`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::lanes::{Refusal, id};
use crate::ledger::cosign::WitnessVerifier;
use crate::ledger::note::Verifier;

/// Default pull interval.
pub const DEFAULT_SYNC_EVERY: Duration = Duration::from_secs(5);

/// One other appliance of the facility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSetting {
    /// Its appliance id.
    pub id: String,
    /// Base URL of its API, `http://host:port`, without a trailing slash.
    pub url: String,
    /// Its ledger verifier key (pinned); its name is the peer's origin.
    pub vkey: String,
    /// Its witness key, which signs the cosignatures it sends us.
    pub witness: String,
    /// File holding the API token (role `peer`) the peer issued us.
    pub token_file: PathBuf,
}

impl PeerSetting {
    /// The peer's log origin (the ledger key's name).
    pub fn origin(&self) -> String {
        Verifier::parse(&self.vkey).map(|v| v.name().to_owned()).unwrap_or_default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeer {
    id: Spanned<String>,
    url: Spanned<String>,
    vkey: Spanned<String>,
    witness: Spanned<String>,
    token_file: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeers {
    sync_every_s: Option<Spanned<i64>>,
}

impl RawPeers {
    pub(super) fn validate(self) -> Result<Duration, Refusal> {
        match self.sync_every_s {
            None => Ok(DEFAULT_SYNC_EVERY),
            Some(s) if (1..=3600).contains(s.get_ref()) => Ok(Duration::from_secs(*s.get_ref() as u64)),
            Some(s) => Err((s.span(), format!("sync_every_s {} is not within 1–3600", s.get_ref()))),
        }
    }
}

/// Checks every `[[peer]]`: ids, URLs and keys, no peer twice, none with our own appliance id.
pub(super) fn validate(raw: Vec<Spanned<RawPeer>>, own: Option<&str>) -> Result<Vec<PeerSetting>, Refusal> {
    let mut peers: Vec<PeerSetting> = Vec::new();
    for p in raw {
        let span = p.span();
        let p = p.into_inner();
        let id_span = p.id.span();
        let peer_id = id(p.id, "peer id")?;
        if own == Some(peer_id.as_str()) {
            return Err((id_span, format!("peer {peer_id} is this appliance's own id")));
        }
        let url = p.url.get_ref().trim_end_matches('/').to_owned();
        let ok = url.strip_prefix("http://").is_some_and(|rest| {
            !rest.is_empty() && !rest.contains('/') && !rest.contains('?') && !rest.contains('@') && rest.contains(':')
        });
        if !ok {
            return Err((p.url.span(), format!("peer url {:?} must be like http://10.20.0.12:8080", p.url.get_ref())));
        }
        let vkey = Verifier::parse(p.vkey.get_ref())
            .map_err(|e| (p.vkey.span(), format!("peer vkey is not a verifier key: {e}")))?;
        // A restored appliance's key is named for its epoch (`<facility>/<appliance>/<n>`).
        let named_for = crate::ledger::epochs::parse_origin(vkey.name()).map(|(_, appliance, _)| appliance);
        if named_for != Some(peer_id.as_str()) {
            return Err((p.vkey.span(), format!("peer vkey {} is not the key of appliance {peer_id}", vkey.name())));
        }
        WitnessVerifier::parse(p.witness.get_ref())
            .map_err(|e| (p.witness.span(), format!("peer witness is not a witness key: {e}")))?;
        if !p.token_file.get_ref().starts_with('/') {
            return Err((p.token_file.span(), "peer token_file must be an absolute path".into()));
        }
        if peers.iter().any(|q| q.id == peer_id || q.origin() == vkey.name()) {
            return Err((span, format!("peer {peer_id} is listed twice")));
        }
        peers.push(PeerSetting {
            id: peer_id,
            url,
            vkey: p.vkey.into_inner().trim().to_owned(),
            witness: p.witness.into_inner().trim().to_owned(),
            token_file: PathBuf::from(p.token_file.into_inner()),
        });
    }
    Ok(peers)
}
