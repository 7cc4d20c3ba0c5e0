//! The movement ledger: canonical entries in an RFC 6962 Merkle tree, with C2SP signed checkpoints.
//!
//! The ledger is tally's source of truth (headcounts and roll-calls are folds over it) and what auditors
//! take away to verify with tools that are not ours. This module decides what is written and signs it;
//! the store keeps it. Parts:
//! - [`entry`]: the kinds of entry and their canonical bytes;
//! - [`merkle`]: tree hashing, proofs and their verification;
//! - [`note`]: signed checkpoints and verifier keys; [`cosign`]: witness cosignatures (cosignature/v1);
//! - [`keys`]: the private key files;
//! - [`reader`]: read-only access (checkpoints, entries, proofs) for the API and the CLI;
//! - [`export`] and [`verify`]: the auditor's export directory and its verification;
//! - [`epochs`]: a restored appliance's earlier logs, kept and linked to the current one.
//!
//! # Commit order
//! [`Ledger::append`] is the one write path, and every append follows the same order:
//! 1. **lock**: begin an `IMMEDIATE` transaction, so this is the only writer, across processes;
//! 2. **load**: read the tree's right edge, the last entry and the current key *inside* the transaction
//!    (another process may have appended since our last look; nothing is cached across appends);
//! 3. **stage**: stamp each event, insert its canonical bytes and the tree nodes it completes;
//! 4. **sign**: sign the checkpoint of the new tree and stage it in the same transaction;
//! 5. **commit**: fsync (WAL, `synchronous=FULL`);
//! 6. **release**: only now is the checkpoint returned and shown to anyone.
//!
//! A crash before 5 leaves nothing (SQLite rolls the transaction back); a crash after 5 leaves the entries
//! and their checkpoint together. So every released checkpoint is on disk, and the log can never sign two
//! checkpoints that disagree. Errors are told apart by [`LedgerError::is_fatal`]: a fatal one means the
//! state on disk is not known (I/O error, disk full, corrupt file) and writers must stop and reopen;
//! anything else fails the one request.

pub mod cosign;
pub mod entry;
mod entry_restore;
pub mod epochs;
pub mod export;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod reader;
pub mod verify;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{self, Clock};
use crate::store::ledger::{Identity, KeyRecord, LedgerTx};
use crate::store::{Open, Store, StoreError};
use entry::{Entry, Event, Stamp};
use keys::KeyDir;
use merkle::{Frontier, Hash};
use note::{Checkpoint, Signer};

pub use reader::LedgerReader;

/// A wall clock that moved this far against the monotonic clock is recorded as a `clock_change`.
pub const CLOCK_JUMP_TOLERANCE: Duration = Duration::from_secs(2);

/// Errors of the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// There is no ledger in this data directory.
    #[error("no ledger in {0}; run `tally ledger init` or `tally serve` to create one")]
    Missing(PathBuf),
    /// The data directory holds earlier epochs but no ledger: a restore stopped before its new ledger.
    #[error("{0} holds earlier epochs but no ledger: a restore was interrupted; move it away and restore again")]
    InterruptedRestore(PathBuf),
    /// `create` was asked for a ledger that exists.
    #[error("a ledger already exists in {0}")]
    AlreadyExists(PathBuf),
    /// The configuration names another appliance or facility than the one the ledger was created for.
    #[error("the ledger here belongs to {found}, but the configuration says {configured}")]
    IdentityMismatch {
        /// Origin in the ledger.
        found: String,
        /// Origin from the configuration.
        configured: String,
    },
    /// A key file could not be written or read.
    #[error("signing key file {path}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A key file is readable by others.
    #[error("signing key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)")]
    KeyPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key or a note is invalid.
    #[error(transparent)]
    Note(#[from] note::NoteError),
    /// What is stored does not make sense (an entry that does not parse, a checkpoint that does not cover
    /// the entries): the database was altered or damaged outside tally.
    #[error("ledger storage is inconsistent: {0}")]
    Corrupt(String),
    /// An impossible proof was asked for.
    #[error(transparent)]
    Proof(#[from] merkle::ProofRequestError),
    /// No checkpoint was released at that size, so there is no signed root to prove against.
    #[error("no checkpoint was released at tree size {0}")]
    NoCheckpointAt(u64),
    /// An entry to append is invalid (too long).
    #[error("entry refused: {0}")]
    Entry(#[from] entry::EntryError),
    /// [`Ledger::append_if_last`] found that another writer appended an entry of the kind it watches
    /// since its caller looked; nothing was written, and the caller should look again.
    #[error("another writer appended a {kind} entry meanwhile (last is {found:?}, expected {expected:?})")]
    Stale {
        /// The kind watched.
        kind: &'static str,
        /// The last entry of that kind the caller had seen.
        expected: Option<u64>,
        /// The last one now.
        found: Option<u64>,
    },
}

impl From<StoreError> for LedgerError {
    /// A missing database is a missing ledger; everything else is the store's failure.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Missing(p) => LedgerError::Missing(p),
            e => LedgerError::Store(e),
        }
    }
}

impl LedgerError {
    /// Whether the writer must stop and reload from disk (see the module docs).
    pub fn is_fatal(&self) -> bool {
        match self {
            LedgerError::Store(e) => e.is_fatal(),
            LedgerError::Corrupt(_) | LedgerError::KeyFile { .. } | LedgerError::KeyPermissions { .. } => true,
            _ => false,
        }
    }

    /// Whether another writer held the database too long: the write may be retried.
    pub fn is_busy(&self) -> bool {
        matches!(self, LedgerError::Store(e) if e.is_busy())
    }
}

/// What an append made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Sequence numbers given to the requested events, in order (an automatic `clock_change` entry
    /// written before them is not listed here).
    pub seqs: Vec<u64>,
    /// The tree size after the append.
    pub size: u64,
    /// The signed checkpoint covering it, released.
    pub checkpoint: String,
}

/// The ledger's writer. One per process; other processes may write too (the store serialises them).
#[derive(Debug)]
pub struct Ledger {
    store: Store,
    keys: KeyDir,
    clock: Arc<dyn Clock>,
    identity: Identity,
    data_dir: PathBuf,
    /// The key last used, kept to avoid reading its file at every append; checked against the store's
    /// current key inside every transaction, since another process may have rotated it.
    signer: Option<Signer>,
    /// Where a test makes the next write fail.
    #[cfg(test)]
    fault: Option<tests::Fault>,
}

/// The origin of the log of `appliance` in `facility`.
pub fn origin(facility: &str, appliance: &str) -> String {
    format!("{facility}/{appliance}")
}

impl Ledger {
    /// Creates a new ledger: its identity, its first signing key and entry 0 recording that key.
    pub fn create(
        data_dir: &Path,
        facility: &str,
        appliance: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Ledger, LedgerError> {
        if data_dir.join(epochs::EPOCHS_DIR).exists() {
            return Err(LedgerError::InterruptedRestore(data_dir.to_owned()));
        }
        let identity =
            Identity { origin: origin(facility, appliance), facility: facility.into(), appliance: appliance.into() };
        Ledger::create_with(data_dir, identity, clock, |vkey| {
            Event::KeyRotation(entry::KeyRotation { previous: None, key: vkey })
        })
    }

    /// Creates the ledger of a new epoch (`tally restore`, see [`epochs`]): origin
    /// `<facility>/<appliance>/<epoch>`, a new signing key, and entry 0 of kind `epoch` naming the
    /// earlier log (`previous_*`, filled in by the caller from its verified export) and the new key.
    pub fn create_epoch(
        data_dir: &Path,
        facility: &str,
        appliance: &str,
        continues: entry::Epoch,
        clock: Arc<dyn Clock>,
    ) -> Result<Ledger, LedgerError> {
        let identity = Identity {
            origin: epochs::origin(facility, appliance, continues.epoch),
            facility: facility.into(),
            appliance: appliance.into(),
        };
        Ledger::create_with(data_dir, identity, clock, |key| Event::Epoch(entry::Epoch { key, ..continues }))
    }

    /// Creation: the identity, the first key file (durable before the transaction that names it), then
    /// entry 0 (`genesis(verifier key)`, which introduces the key) written as a genesis through the one
    /// write path, so it follows the same commit order.
    fn create_with(
        data_dir: &Path,
        identity: Identity,
        clock: Arc<dyn Clock>,
        genesis: impl FnOnce(String) -> Event,
    ) -> Result<Ledger, LedgerError> {
        let mut store = Store::open(data_dir, Open::CreateIfMissing)?;
        if store.ledger_read(|v| v.identity())?.is_some() {
            return Err(LedgerError::AlreadyExists(data_dir.to_owned()));
        }
        let (signer, pkcs8) = Signer::generate(&identity.origin)?;
        let mut ledger = Ledger::with_parts(store, data_dir, identity, clock);
        ledger.keys.store(&signer.verifier().id_hex(), &pkcs8)?;
        let vkey = signer.verifier().to_vkey();
        ledger.write(vec![genesis(vkey)], Some(signer), true, None)?;
        Ok(ledger)
    }

    /// Opens the ledger in `data_dir`; it must exist.
    pub fn open(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Ledger, LedgerError> {
        let mut store = Store::open(data_dir, Open::MustExist)?;
        let identity = store.ledger_read(|v| v.identity())?.ok_or_else(|| LedgerError::Missing(data_dir.to_owned()))?;
        Ok(Ledger::with_parts(store, data_dir, identity, clock))
    }

    fn with_parts(store: Store, data_dir: &Path, identity: Identity, clock: Arc<dyn Clock>) -> Ledger {
        Ledger {
            store,
            keys: KeyDir::in_data_dir(data_dir),
            clock,
            identity,
            data_dir: data_dir.to_owned(),
            signer: None,
            #[cfg(test)]
            fault: None,
        }
    }

    /// Refuses to run a ledger under another facility or appliance id than configured (`None`: any).
    pub fn check_identity(&self, facility: Option<&str>, appliance: Option<&str>) -> Result<(), LedgerError> {
        let id = &self.identity;
        if facility.is_some_and(|f| f != id.facility) || appliance.is_some_and(|a| a != id.appliance) {
            return Err(LedgerError::IdentityMismatch {
                found: id.origin.clone(),
                configured: origin(facility.unwrap_or(&id.facility), appliance.unwrap_or(&id.appliance)),
            });
        }
        Ok(())
    }

    /// The log's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// A reader on the same data directory (its own connection).
    pub fn reader(&self) -> Result<LedgerReader, LedgerError> {
        LedgerReader::open(&self.data_dir)
    }

    /// Appends events in one durable transaction and returns the released checkpoint. See the module
    /// docs for the commit order.
    /// Appending no events writes nothing (unless the clock jumped) and returns the latest checkpoint.
    pub fn append(&mut self, events: Vec<Event>) -> Result<Appended, LedgerError> {
        self.append_guarded(events, None)
    }

    /// Appends `events` only if the last entry of `kind` is still the one the caller saw (`last`), in the
    /// same transaction as the append (compare-and-append): two writers deciding from the same reading
    /// cannot both record. Refused with [`LedgerError::Stale`], writing nothing, when it is not.
    pub fn append_if_last(
        &mut self,
        kind: &'static str,
        last: Option<u64>,
        events: Vec<Event>,
    ) -> Result<Appended, LedgerError> {
        self.append_guarded(events, Some((kind, last)))
    }

    fn append_guarded(
        &mut self,
        events: Vec<Event>,
        guard: Option<(&'static str, Option<u64>)>,
    ) -> Result<Appended, LedgerError> {
        match self.write(events, None, false, guard)? {
            Some(a) => Ok(a),
            None => {
                let (size, checkpoint) = self.store.ledger_read(|v| v.latest_checkpoint())?.unwrap_or_default();
                Ok(Appended { seqs: Vec::new(), size, checkpoint })
            }
        }
    }

    /// The number of entries covered by the latest checkpoint.
    pub fn size(&mut self) -> Result<u64, LedgerError> {
        Ok(self.store.ledger_read(|v| v.latest_checkpoint())?.map_or(0, |(size, _)| size))
    }

    /// Writes a `clock_change` entry if the wall clock jumped since the last entry of this boot.
    pub fn check_clock(&mut self) -> Result<Option<Appended>, LedgerError> {
        self.write(Vec::new(), None, false, None)
    }

    /// Replaces the signing key: writes the new key file, records a `key_rotation` entry naming old and new
    /// verifier keys, and signs its checkpoint with both. Returns the new verifier key.
    pub fn rotate_key(&mut self) -> Result<(Appended, String), LedgerError> {
        let (signer, pkcs8) = Signer::generate(&self.identity.origin)?;
        // Durable before the transaction that names it commits: a crash in between leaves an unused file.
        self.keys.store(&signer.verifier().id_hex(), &pkcs8)?;
        let vkey = signer.verifier().to_vkey();
        // `previous` is filled in inside the write transaction.
        let event = Event::KeyRotation(entry::KeyRotation { previous: None, key: vkey.clone() });
        let appended = self.write(vec![event], Some(signer), false, None)?;
        let appended = appended.ok_or_else(|| LedgerError::Corrupt("key rotation wrote nothing".into()))?;
        Ok((appended, vkey))
    }

    /// The one write path. `new_key` is set for a key rotation (or creation): it becomes current from the
    /// first written entry, and the checkpoint is signed by the old and the new key. `guard` is
    /// [`Ledger::append_if_last`]'s condition, checked once the lock is held.
    fn write(
        &mut self,
        events: Vec<Event>,
        new_key: Option<Signer>,
        genesis: bool,
        guard: Option<(&'static str, Option<u64>)>,
    ) -> Result<Option<Appended>, LedgerError> {
        #[cfg(test)]
        let fault = self.fault.take();
        let Ledger { store, keys, clock, identity, data_dir, signer, .. } = self;
        // 1. lock
        let tx = store.ledger_tx()?;
        // 2. load
        let (mut frontier, mut last) = load_tail(&tx)?;
        if let Some((kind, expected)) = guard {
            let found = tx.view().last_of_kind(kind)?;
            if found != expected {
                return Err(LedgerError::Stale { kind, expected, found });
            }
        }
        if genesis {
            if frontier.size() != 0 {
                return Err(LedgerError::AlreadyExists(data_dir.clone()));
            }
            tx.set_identity(identity)?;
        }
        let current = tx.view().current_key()?;
        if !genesis {
            let current = current.as_ref().ok_or_else(|| LedgerError::Corrupt("no current signing key".into()))?;
            if signer.as_ref().map(|s| s.verifier().id_hex()) != Some(current.key_id.clone()) {
                *signer = Some(keys.load(&identity.origin, &current.key_id)?);
            }
        }
        // 3. stage
        let mut to_write = Vec::with_capacity(events.len() + 1);
        if let Some(jump) = clock_jump(clock.as_ref(), last.as_ref()) {
            to_write.push((false, jump));
        }
        if to_write.is_empty() && events.is_empty() {
            // Nothing to record (a clock check that found no jump): release nothing.
            return Ok(None);
        }
        to_write.extend(events.into_iter().map(|e| (true, e)));
        let mut seqs = Vec::new();
        for (requested, event) in to_write {
            let seq = frontier.size();
            let stamp = stamp(clock.as_ref(), identity, seq, last.as_ref().map_or([0; 32], |l| l.1));
            let mut entry = Entry { stamp, event };
            if let (Some(_), Event::KeyRotation(r)) = (&new_key, &mut entry.event) {
                // The key replaced is the one current inside this transaction (another process may have
                // rotated since the caller looked).
                r.previous = current.as_ref().map(|k| k.vkey.clone());
            }
            let bytes = entry.to_canonical();
            if bytes.len() > entry::MAX_ENTRY_BYTES {
                return Err(entry::EntryError::TooLong(bytes.len()).into());
            }
            // A rotation, or the entry that opens a new ledger (key_rotation, epoch), makes the new key current.
            if let (Some(k), Event::KeyRotation(_) | Event::Epoch(_)) = (&new_key, &entry.event) {
                let record = KeyRecord { key_id: k.verifier().id_hex(), vkey: k.verifier().to_vkey(), from_seq: seq };
                tx.put_current_key(&record)?;
            }
            tx.put_entry(seq, entry.event.kind(), &bytes)?;
            let leaf = merkle::leaf_hash(&bytes);
            let mut put = Ok(());
            frontier.push(leaf, |n| {
                if put.is_ok() {
                    put = tx.put_node(&n);
                }
            });
            put?;
            last = Some((entry.stamp, leaf));
            if requested {
                seqs.push(seq);
            }
        }
        // 4. sign
        let cp = Checkpoint { origin: identity.origin.clone(), size: frontier.size(), root: frontier.root() };
        let signers: Vec<&Signer> = signer.iter().filter(|_| !genesis).chain(new_key.iter()).collect();
        let note = note::sign_checkpoint(&cp, &signers);
        tx.put_checkpoint(cp.size, &cp.root, &note)?;
        #[cfg(test)]
        if fault == Some(tests::Fault::BeforeCommit) {
            return Err(LedgerError::Corrupt("injected fault before commit".into()));
        }
        // 5. commit
        tx.commit()?;
        #[cfg(test)]
        if fault == Some(tests::Fault::AfterCommit) {
            return Err(LedgerError::Corrupt("injected fault after commit".into()));
        }
        // 6. release
        if let Some(k) = new_key {
            *signer = Some(k);
        }
        Ok(Some(Appended { seqs, size: cp.size, checkpoint: note }))
    }
}

fn stamp(clock: &dyn Clock, identity: &Identity, seq: u64, prev: Hash) -> Stamp {
    Stamp {
        seq,
        time: clock::rfc3339(clock.wall()),
        boot: clock.boot_id().to_owned(),
        mono_ms: clock.since_boot().as_millis() as u64,
        appliance: identity.appliance.clone(),
        prev,
    }
}

/// A `clock_change` event when the wall clock moved against the monotonic clock since `last`, an entry of
/// this boot.
fn clock_jump(clock: &dyn Clock, last: Option<&(Stamp, Hash)>) -> Option<Event> {
    let (stamp, _) = last?;
    if stamp.boot != clock.boot_id() {
        return None;
    }
    let then = clock::parse_rfc3339(&stamp.time)?;
    let now_mono = clock.since_boot().as_millis() as i128;
    let expected_ms = system_ms(then) + (now_mono - stamp.mono_ms as i128);
    let observed = clock.wall();
    let delta = system_ms(observed) - expected_ms;
    if delta.unsigned_abs() <= CLOCK_JUMP_TOLERANCE.as_millis() {
        return None;
    }
    let expected = std::time::UNIX_EPOCH.checked_add(Duration::from_millis(expected_ms.max(0) as u64))?;
    Some(Event::ClockChange(entry::ClockChange {
        expected: clock::rfc3339(expected),
        observed: clock::rfc3339(observed),
        delta_ms: delta.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
    }))
}

fn system_ms(t: std::time::SystemTime) -> i128 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

/// Reads the right edge of the tree and the last entry (its stamp and leaf hash) inside a transaction,
/// and checks that the latest checkpoint covers exactly the stored entries.
fn load_tail(tx: &LedgerTx<'_>) -> Result<(Frontier, Option<(Stamp, Hash)>), LedgerError> {
    let view = tx.view();
    let size = view.size()?;
    let covered = view.latest_checkpoint()?.map_or(0, |(s, _)| s);
    if covered != size {
        return Err(LedgerError::Corrupt(format!("{size} entries stored but the latest checkpoint covers {covered}")));
    }
    let frontier = Frontier::load(&view, size)?;
    let last = match size.checked_sub(1) {
        None => None,
        Some(seq) => {
            let bytes = view.entry(seq)?.ok_or_else(|| LedgerError::Corrupt(format!("entry {seq} is missing")))?;
            let e = Entry::parse_lenient(&bytes).map_err(|e| LedgerError::Corrupt(format!("entry {seq}: {e}")))?;
            Some((e.stamp, merkle::leaf_hash(&bytes)))
        }
    };
    Ok((frontier, last))
}
