//! The auditor's export: a directory that standard tools verify without tally.
//!
//! Files: `checkpoint` (the latest signed checkpoint, C2SP text), `log.vkey` (the current verifier key),
//! `keys.vkey` (every verifier key the ledger ever used, one a line), `entries.jsonl` (line i holds exactly
//! the bytes of entry i, so its leaf hash is `SHA-256(0x00 ‖ line without its newline)`) and `README`.
//! Everything is read from one snapshot, so the checkpoint covers exactly the exported entries. A restored
//! appliance's export also carries its earlier epochs, `epochs/<n>/`, each an export of the same shape
//! (see [`super::epochs`]).

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use super::{LedgerError, LedgerReader};
use crate::store::StoreError;

/// File names inside an export directory.
pub const CHECKPOINT: &str = "checkpoint";
/// Current verifier key.
pub const LOG_VKEY: &str = "log.vkey";
/// Every verifier key.
pub const KEYS_VKEY: &str = "keys.vkey";
/// The entries.
pub const ENTRIES: &str = "entries.jsonl";
/// How to verify.
pub const README: &str = "README";

/// Reads one of an export's small files (checkpoint, keys), at most 1 MiB of it: a larger one is
/// not an export's, and is cut rather than read whole.
pub fn read_small_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?.take(1 << 20).read_to_string(&mut text)?;
    Ok(text)
}

/// Errors of an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The target exists and is not an empty directory.
    #[error("{0} exists and is not an empty directory; export into a new directory")]
    NotEmpty(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The archived earlier epochs could not be copied.
    #[error(transparent)]
    Epochs(#[from] super::epochs::EpochError),
}

impl From<StoreError> for ExportError {
    fn from(e: StoreError) -> Self {
        ExportError::Ledger(e.into())
    }
}

/// What was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Log origin.
    pub origin: String,
    /// Entries written.
    pub size: u64,
    /// Keys listed in `keys.vkey`.
    pub keys: usize,
}

/// Writes the export of the latest checkpoint into `dir` (created; must not hold anything).
pub fn export(reader: &mut LedgerReader, dir: &Path) -> Result<Exported, ExportError> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(ExportError::NotEmpty(dir.to_owned()));
    }
    let io = |path: PathBuf| move |source| ExportError::Io { path, source };
    std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;
    let write = |name: &str, text: &str| -> Result<(), ExportError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(path))
    };
    let (identity, size, note, keys) = reader.store().ledger_read(|v| -> Result<_, ExportError> {
        let identity = v.identity()?.ok_or(StoreError::Invalid("ledger has no identity"))?;
        let (size, note) = v.latest_checkpoint()?.ok_or(StoreError::Invalid("the ledger has no checkpoint"))?;
        let keys = v.keys()?;
        let path = dir.join(ENTRIES);
        let file = File::create(&path).map_err(io(path.clone()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        v.for_each_entry::<ExportError>(size, |_, bytes| {
            out.write_all(bytes).and_then(|()| out.write_all(b"\n")).map_err(io(path.clone()))
        })?;
        out.into_inner().map_err(|e| e.into_error()).and_then(|f| f.sync_all()).map_err(io(path))?;
        Ok((identity, size, note, keys))
    })?;
    write(CHECKPOINT, &note)?;
    let current = keys.last().map(|k| k.vkey.as_str()).unwrap_or_default();
    write(LOG_VKEY, &format!("{current}\n"))?;
    let all: String = keys.iter().map(|k| format!("{}\n", k.vkey)).collect();
    write(KEYS_VKEY, &all)?;
    write(README, &readme(&identity.origin, size, current))?;
    if let Some(data_dir) = reader.data_dir().map(Path::to_owned) {
        super::epochs::copy_archive(&data_dir, dir)?;
    }
    Ok(Exported { origin: identity.origin, size, keys: keys.len() })
}

fn readme(origin: &str, size: u64, vkey: &str) -> String {
    format!(
        "Ledger export of {origin}: {size} entries.

This directory lets you check, without tally, that the ledger was not edited, truncated, reordered or
forked. It follows public standards:

  checkpoint      the latest signed tree head, a C2SP tlog-checkpoint in a C2SP signed note
                  (origin, tree size, base64 RFC 6962 root hash; Ed25519 signature lines)
  log.vkey        the key that signed it, in the signed-note verifier key format
                  ({vkey})
  keys.vkey       every key this ledger has used, oldest first; each rotation is also an entry
                  of kind key_rotation in the ledger itself
  entries.jsonl   one entry per line, RFC 8785 canonical JSON; line i is entry i (seq = i)

How to verify with standard tools:
  1. Obtain the appliance's verifier key from a source you trust (the installer's provisioning
     record, a previous audit), not only from this directory, and compare it with log.vkey.
  2. Verify the signature of `checkpoint` with that key, e.g. with Go's golang.org/x/mod/sumdb/note
     (note.NewVerifier(vkey), note.Open).
  3. Compute the RFC 6962 Merkle tree hash over the lines of entries.jsonl: leaf hash =
     SHA-256(0x00 || line bytes without the trailing newline), node hash = SHA-256(0x01 || left || right),
     e.g. with golang.org/x/mod/sumdb/tlog (tlog.RecordHash, tlog.StoredHashes, tlog.TreeHash) or the
     Python package pymerkle. It must equal the root in `checkpoint`, and the number of lines its size.
  4. To show that nothing was rewritten since an earlier audit, keep that audit's checkpoint and ask
     for a consistency proof (GET /api/v1/ledger/proof/consistency?from=OLD&to=NEW), or recompute the
     root of the first OLD lines and compare it with the old checkpoint's root.
  5. Each entry also names the leaf hash of the entry before it (field prev), so a change is located
     at the first entry whose predecessor hash does not match.

A restored appliance continues its record in a new log (a new epoch, origin <facility>/<appliance>/<n>):
its earlier logs are under epochs/<n>/, each verifiable as above, and entry 0 of each later log (kind
epoch) holds the earlier log's final checkpoint and keys exactly as epochs/<n>/ holds them.

With tally itself: tally ledger verify DIR [--previous OLD_CHECKPOINT] [--key TRUSTED.vkey]
"
    )
}
