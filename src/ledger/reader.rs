//! Read-only access to the ledger: the latest checkpoint, entries, and proofs against released checkpoints.
//!
//! A [`LedgerReader`] has its own connection, so the API can read while the writer commits (WAL readers
//! never block the writer). Every answer comes from one snapshot.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::LedgerError;
use super::merkle::{self, Hash};
use crate::store::ledger::LedgerView;
use crate::store::{Open, Store, StoreError};

/// Serialises hashes as standard padded base64, as checkpoints write them.
pub mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use crate::ledger::merkle::Hash;

    /// Decodes one hash.
    pub fn decode(s: &str) -> Option<Hash> {
        STANDARD.decode(s).ok().and_then(|v| Hash::try_from(v.as_slice()).ok())
    }

    /// One hash.
    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(h))
    }

    /// One hash.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = <&str>::deserialize(d)?;
        decode(s).ok_or_else(|| D::Error::custom("not a base64 SHA-256 hash"))
    }

    /// A list of hashes.
    pub mod list {
        use super::*;
        use serde::ser::SerializeSeq;

        /// A list of hashes.
        pub fn serialize<S: Serializer>(hs: &[Hash], s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(hs.len()))?;
            for h in hs {
                seq.serialize_element(&STANDARD.encode(h))?;
            }
            seq.end()
        }

        /// A list of hashes.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
            let v = Vec::<&str>::deserialize(d)?;
            v.into_iter().map(|s| decode(s).ok_or_else(|| D::Error::custom("not a base64 SHA-256 hash"))).collect()
        }
    }
}

/// Proof that entry `index` is in the tree of `size` entries whose root is `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry.
    pub index: u64,
    /// The tree size.
    pub size: u64,
    /// `SHA-256(0x00 ‖ entry bytes)`.
    #[serde(with = "b64")]
    pub leaf_hash: Hash,
    /// Root of the tree of `size` entries.
    #[serde(with = "b64")]
    pub root: Hash,
    /// The audit path, from the leaf up.
    #[serde(with = "b64::list")]
    pub hashes: Vec<Hash>,
    /// The signed checkpoint for `size`.
    pub checkpoint: String,
}

impl InclusionProof {
    /// Checks the path against the root (the checkpoint's signature is checked by whoever trusts it).
    pub fn verify(&self) -> Result<(), merkle::ProofError> {
        merkle::verify_inclusion(self.index, self.size, &self.leaf_hash, &self.hashes, &self.root)
    }
}

/// Proof that the tree of `from` entries is a prefix of the tree of `to` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Root at `from`.
    #[serde(with = "b64")]
    pub from_root: Hash,
    /// Root at `to`.
    #[serde(with = "b64")]
    pub to_root: Hash,
    /// The proof hashes.
    #[serde(with = "b64::list")]
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks the proof between its two roots.
    pub fn verify(&self) -> Result<(), merkle::ProofError> {
        merkle::verify_consistency(self.from, self.to, &self.from_root, &self.to_root, &self.hashes)
    }
}

/// Read-only ledger access with its own connection.
#[derive(Debug)]
pub struct LedgerReader {
    store: Store,
}

impl LedgerReader {
    /// Opens the ledger in `data_dir` for reading; it must exist.
    pub fn open(data_dir: &Path) -> Result<LedgerReader, LedgerError> {
        let mut store = Store::open(data_dir, Open::MustExist)?;
        if store.ledger_read(|v| v.identity())?.is_none() {
            return Err(LedgerError::Missing(data_dir.to_owned()));
        }
        Ok(LedgerReader { store })
    }

    /// The data directory this reader reads.
    pub fn data_dir(&self) -> Option<&Path> {
        self.store.path().parent()
    }

    /// The log's origin.
    pub fn origin(&mut self) -> Result<String, LedgerError> {
        let id = self.store.ledger_read(|v| v.identity())?;
        Ok(id.map(|i| i.origin).unwrap_or_default())
    }

    /// The latest released checkpoint: size and note.
    pub fn latest_checkpoint(&mut self) -> Result<(u64, String), LedgerError> {
        self.store.ledger_read(|v| latest(&v))
    }

    /// Up to `limit` entries from `from`, as their canonical bytes, among those covered by the latest
    /// checkpoint.
    pub fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<Vec<u8>>, LedgerError> {
        self.store.ledger_read(|v| {
            let (size, _) = latest(&v)?;
            let limit = limit.min(size.saturating_sub(from));
            if limit == 0 {
                return Ok(Vec::new());
            }
            Ok(v.entries(from, limit)?)
        })
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (default: the latest checkpoint).
    /// `size` must be one at which a checkpoint was released, so the proof ends at a signed root.
    pub fn inclusion_proof(&mut self, index: u64, size: Option<u64>) -> Result<InclusionProof, LedgerError> {
        self.store.ledger_read(|v| {
            let (size, checkpoint) = released(&v, size)?;
            let hashes = merkle::inclusion_proof(&v, index, size)??;
            let bytes = v.entry(index)?.ok_or(StoreError::Invalid("entry below the tree size is missing"))?;
            let root = merkle::root(&v, size)?;
            Ok(InclusionProof { index, size, leaf_hash: merkle::leaf_hash(&bytes), root, hashes, checkpoint })
        })
    }

    /// The consistency proof between trees of `from` and `to` entries (default `to`: the latest checkpoint).
    pub fn consistency_proof(&mut self, from: u64, to: Option<u64>) -> Result<ConsistencyProof, LedgerError> {
        self.store.ledger_read(|v| {
            let (to, _) = released(&v, to)?;
            let hashes = merkle::consistency_proof(&v, from, to)??;
            let (from_root, to_root) = (merkle::root(&v, from)?, merkle::root(&v, to)?);
            Ok(ConsistencyProof { from, to, from_root, to_root, hashes })
        })
    }

    /// Whether the last run of the service ended with a recorded shutdown (or there was no run before).
    pub fn last_run_ended_cleanly(&mut self) -> Result<bool, LedgerError> {
        let (boot, shutdown) =
            self.store.ledger_read(|v| Ok::<_, StoreError>((v.last_of_kind("boot")?, v.last_of_kind("shutdown")?)))?;
        Ok(match (boot, shutdown) {
            (None, _) => true,
            (Some(b), s) => s.is_some_and(|s| s > b),
        })
    }

    /// Every verifier key the log has used, oldest first (the last one signs new checkpoints), in the
    /// signed-note verifier key format: what an auditor must hold to verify an export.
    pub fn verifier_keys(&mut self) -> Result<Vec<String>, LedgerError> {
        Ok(self.store.ledger_read(|v| v.keys())?.into_iter().map(|k| k.vkey).collect())
    }

    /// The signed checkpoint released at `size`.
    pub fn checkpoint_at(&mut self, size: u64) -> Result<String, LedgerError> {
        self.store.ledger_read(|v| v.checkpoint_at(size))?.ok_or(LedgerError::NoCheckpointAt(size))
    }

    /// The log's origin, facility and appliance.
    pub fn identity(&mut self) -> Result<crate::store::ledger::Identity, LedgerError> {
        self.store
            .ledger_read(|v| v.identity())?
            .ok_or_else(|| LedgerError::Corrupt("the ledger has no identity".into()))
    }

    pub(super) fn store(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// The latest checkpoint: size and note.
fn latest(v: &LedgerView<'_>) -> Result<(u64, String), LedgerError> {
    v.latest_checkpoint()?.ok_or_else(|| LedgerError::Corrupt("the ledger has no checkpoint".into()))
}

/// The size asked for (or the latest) and the checkpoint released there.
fn released(v: &LedgerView<'_>, size: Option<u64>) -> Result<(u64, String), LedgerError> {
    let latest = latest(v)?;
    match size {
        None => Ok(latest),
        Some(s) if s > latest.0 => Err(LedgerError::NoCheckpointAt(s)),
        Some(s) => v.checkpoint_at(s)?.map(|note| (s, note)).ok_or(LedgerError::NoCheckpointAt(s)),
    }
}
