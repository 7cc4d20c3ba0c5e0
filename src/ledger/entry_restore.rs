//! The bodies of the entries of off-site copies and restores (`offsite_copy`, `epoch`), kept apart from
//! [`super::entry`], which lists every kind and owns the canonical encoding (these bodies follow its
//! rules: fields declared in sorted order, no floating-point numbers).

use serde::{Deserialize, Serialize};

/// Body of `epoch`: always entry 0 of its log, which it opens as `key_rotation` opens a new ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Epoch {
    /// This epoch's number: the restored log's epoch plus one (an appliance's first ledger is epoch 1).
    pub epoch: u64,
    /// The verifier key that signs from this entry's checkpoint on, `name+hexid+base64`.
    pub key: String,
    /// The earlier log's last checkpoint, its signed note text exactly as exported.
    pub previous_checkpoint: String,
    /// Every verifier key of the earlier log, oldest first (its `keys.vkey`).
    pub previous_keys: Vec<String>,
    /// The earlier log's origin.
    pub previous_origin: String,
}

/// Body of `offsite_copy`: what was copied, never who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsiteCopy {
    /// The copy's directory name on the medium.
    pub name: String,
    /// People in the encrypted bundle.
    pub people: u64,
    /// SHA-256 (hex) of the encrypted bundle `people.age`.
    pub people_sha256: String,
    /// Tree size of the ledger export in the copy.
    pub size: u64,
    /// Templates in the encrypted bundle.
    pub templates: u64,
}
