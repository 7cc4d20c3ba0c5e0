//! Verification of an export directory, as an auditor runs it: `tally ledger verify DIR`.
//!
//! It trusts nothing in the directory but what it checks: the checkpoint's signature (by a key from
//! `keys.vkey`, or only by keys the auditor pins with `--key`), every entry's canonical form, sequence,
//! appliance and predecessor hash, the chain of `key_rotation` entries that introduces every key, the
//! RFC 6962 root over all entries, and — given an earlier checkpoint — that the earlier tree is a prefix of
//! this one. The first failure is reported with the entry it concerns. The entries are streamed, so an
//! export of any size verifies in constant memory.

use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

use super::entry::{self, Entry, Event};
use super::export;
use super::merkle::{self, Frontier, Hash};
use super::note::{self, NoteError, Verifier};

/// What the auditor supplies besides the export.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keys obtained out of band; when set, only they may sign the checkpoint.
    pub trusted: Option<Vec<Verifier>>,
    /// An earlier checkpoint (note text) that this export must extend.
    pub previous: Option<String>,
}

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Log origin.
    pub origin: String,
    /// Entries verified.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// Number of signing keys introduced by the ledger.
    pub keys: usize,
    /// Size of the earlier checkpoint this export was shown to extend.
    pub extends: Option<u64>,
    /// The log's epoch, from its origin ([`super::epochs`]): 1 for an appliance's first log.
    pub epoch: u64,
    /// For an epoch after the first: its entry 0, which names the epoch it continues.
    pub continues: Option<entry::Epoch>,
    /// The earlier epochs the export carries, each verified and linked to the next, oldest first.
    pub earlier: Vec<Report>,
}

/// Why an export does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A verifier key line is malformed.
    #[error("{file} line {line}: {source}")]
    Key {
        /// Which key file.
        file: String,
        /// 1-based line.
        line: usize,
        /// Why.
        #[source]
        source: NoteError,
    },
    /// The checkpoint is unsigned by a trusted key, badly signed or malformed.
    #[error("checkpoint: {0}")]
    Checkpoint(#[source] NoteError),
    /// The earlier checkpoint is unsigned by a trusted key or malformed.
    #[error("previous checkpoint: {0}")]
    Previous(#[source] NoteError),
    /// An entry is bad; `seq` is the first bad one.
    #[error("entry {seq}: {reason}")]
    Entry {
        /// The first bad entry.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// Fewer entries than the checkpoint covers.
    #[error("entries.jsonl has {found} entries but the checkpoint covers {expected}: the tail was cut off")]
    Truncated {
        /// Entries found.
        found: u64,
        /// Checkpoint size.
        expected: u64,
    },
    /// More entries than the checkpoint covers.
    #[error("entries.jsonl has entries beyond the checkpoint's {expected}: entry {expected} was added")]
    Extra {
        /// Checkpoint size.
        expected: u64,
    },
    /// Keys do not chain.
    #[error("signing keys: {0}")]
    KeyChain(String),
    /// The epochs of a restored appliance do not verify or do not link up.
    #[error("epoch {epoch}: {reason}")]
    Epoch {
        /// The epoch concerned.
        epoch: u64,
        /// Why.
        reason: String,
    },
    /// The earlier checkpoint is not a prefix of this log.
    #[error("fork: the previous checkpoint (size {size}) is not consistent with this log: {reason}")]
    Fork {
        /// Earlier size.
        size: u64,
        /// Why.
        reason: String,
    },
}

impl VerifyError {
    fn entry(seq: u64, reason: impl Into<String>) -> Self {
        VerifyError::Entry { seq, reason: reason.into() }
    }
}

/// Verifies the export in `dir`: its current epoch, and, for a restored appliance, every earlier epoch
/// it carries under `epochs/` and the links between them ([`super::epochs::verify_chain`]).
pub fn verify_dir(dir: &Path, opts: &Options) -> Result<Report, VerifyError> {
    let mut report = verify_files(dir, opts)?;
    if report.epoch > 1 || dir.join(super::epochs::EPOCHS_DIR).exists() {
        report.earlier = super::epochs::verify_chain(dir, opts, &report)?;
    }
    Ok(report)
}

/// Verifies the one log whose export files are in `dir`, ignoring any `epochs/` beside them.
pub fn verify_files(dir: &Path, opts: &Options) -> Result<Report, VerifyError> {
    let read = |name: &str| {
        let path = dir.join(name);
        export::read_small_file(&path).map_err(|source| VerifyError::Io { path, source })
    };
    let checkpoint = read(export::CHECKPOINT)?;
    let keys = read(export::KEYS_VKEY)?;
    let path = dir.join(export::ENTRIES);
    let file = std::fs::File::open(&path).map_err(|source| VerifyError::Io { path: path.clone(), source })?;
    verify(&checkpoint, &keys, BufReader::with_capacity(1 << 20, file), opts).map_err(|e| match e {
        VerifyError::Io { source, .. } => VerifyError::Io { path, source },
        e => e,
    })
}

/// What [`verify_stored`] found in a data directory's own ledger.
#[derive(Debug)]
pub struct Stored {
    /// Entries the store holds (all of them, covered by a checkpoint or not).
    pub entries: u64,
    /// The latest checkpoint's size.
    pub checkpoint_size: u64,
    /// The verification of the entries it covers, exactly as an export of them would verify.
    pub verified: Result<Report, VerifyError>,
}

/// Verifies the ledger in place, as its export would verify (`tally doctor`): the latest checkpoint, its
/// keys and the entries it covers, read in one snapshot. The entries are held in memory for the check.
pub fn verify_stored(reader: &mut super::LedgerReader) -> Result<Stored, super::LedgerError> {
    use super::LedgerError;
    let (entries, checkpoint_size, note, keys, bytes) = reader.store().ledger_read(|v| -> Result<_, LedgerError> {
        let (size, note) =
            v.latest_checkpoint()?.ok_or_else(|| LedgerError::Corrupt("the ledger has no checkpoint".into()))?;
        let keys: String = v.keys()?.iter().map(|k| format!("{}\n", k.vkey)).collect();
        let mut bytes = Vec::new();
        v.for_each_entry::<LedgerError>(size, |_, b| {
            bytes.extend_from_slice(b);
            bytes.push(b'\n');
            Ok(())
        })?;
        Ok((v.size()?, size, note, keys, bytes))
    })?;
    let verified = verify(&note, &keys, bytes.as_slice(), &Options::default());
    Ok(Stored { entries, checkpoint_size, verified })
}

/// Parses a verifier-key file: one key a line, blank lines ignored.
pub fn parse_keys(file: &str, text: &str) -> Result<Vec<Verifier>, VerifyError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Verifier::parse(l).map_err(|source| VerifyError::Key { file: file.into(), line: i + 1, source }))
        .collect()
}

/// Verifies an export given as its parts (the directory reader and the fuzz target both call this).
pub fn verify(
    checkpoint: &str,
    keys_vkey: &str,
    mut entries: impl BufRead,
    opts: &Options,
) -> Result<Report, VerifyError> {
    let listed = parse_keys(export::KEYS_VKEY, keys_vkey)?;
    let trusted = opts.trusted.as_ref().unwrap_or(&listed);
    let opened = note::open_checkpoint(checkpoint, trusted).map_err(VerifyError::Checkpoint)?;
    let cp = opened.checkpoint;
    let (_, appliance, epoch) = super::epochs::parse_origin(&cp.origin).ok_or_else(|| {
        VerifyError::KeyChain(format!("origin {:?} is not <facility>/<appliance>[/<epoch>]", cp.origin))
    })?;
    let appliance = appliance.to_owned();
    let previous = opts
        .previous
        .as_deref()
        .map(|p| note::open_checkpoint(p, &listed).or_else(|_| note::open_checkpoint(p, trusted)))
        .transpose()
        .map_err(VerifyError::Previous)?
        .map(|o| o.checkpoint);
    if let Some(p) = &previous {
        if p.origin != cp.origin {
            return Err(VerifyError::Fork { size: p.size, reason: format!("it is for another log, {}", p.origin) });
        }
        if p.size > cp.size {
            return Err(VerifyError::Fork {
                size: p.size,
                reason: format!("it is larger than this log ({})", cp.size),
            });
        }
    }

    let mut frontier = Frontier::empty();
    let mut prev_leaf: Hash = [0; 32];
    let mut chain: Vec<String> = Vec::new();
    let mut line = Vec::with_capacity(1024);
    let mut extends = None;
    let mut continues = None;
    loop {
        let seq = frontier.size();
        if let Some(p) = previous.as_ref().filter(|p| p.size == seq) {
            if frontier.root() != p.root {
                return Err(VerifyError::Fork {
                    size: p.size,
                    reason: "its root differs from this log's first entries".into(),
                });
            }
            extends = Some(p.size);
        }
        line.clear();
        let n = (&mut entries)
            .take(entry::MAX_ENTRY_BYTES as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(|source| VerifyError::Io { path: export::ENTRIES.into(), source })?;
        if n == 0 {
            break;
        }
        if seq >= cp.size {
            return Err(VerifyError::Extra { expected: cp.size });
        }
        let Some(bytes) = line.strip_suffix(b"\n") else {
            return Err(if n > entry::MAX_ENTRY_BYTES {
                VerifyError::entry(seq, "longer than any entry may be")
            } else {
                VerifyError::entry(seq, "no newline at its end: the file was cut short")
            });
        };
        let e = Entry::parse(bytes).map_err(|err| VerifyError::entry(seq, err.to_string()))?;
        if e.stamp.seq != seq {
            return Err(VerifyError::entry(
                seq,
                format!("it says seq {}: an entry was removed, inserted or moved here", e.stamp.seq),
            ));
        }
        if e.stamp.prev != prev_leaf {
            // The entry before is the one that does not hash as this one remembers it.
            return Err(VerifyError::entry(
                seq.saturating_sub(1),
                format!("its hash differs from the one entry {seq} records: it was altered (or entry {seq} was)"),
            ));
        }
        if e.stamp.appliance != appliance {
            return Err(VerifyError::entry(
                seq,
                format!("written by appliance {:?}, not {appliance:?}", e.stamp.appliance),
            ));
        }
        check_key_chain(seq, &e.event, &cp.origin, epoch, &mut chain)?;
        if let (0, Event::Epoch(body)) = (seq, &e.event) {
            continues = Some(body.clone());
        }
        prev_leaf = merkle::leaf_hash(bytes);
        frontier.push(prev_leaf, |_| {});
    }
    if frontier.size() < cp.size {
        return Err(VerifyError::Truncated { found: frontier.size(), expected: cp.size });
    }
    if frontier.root() != cp.root {
        let last = cp.size.saturating_sub(1);
        return Err(VerifyError::entry(
            last,
            "the entries do not hash to the checkpoint's root: the last entry was altered",
        ));
    }
    // The checkpoint must be signed by the key current at its size, and every listed key introduced.
    let current = chain.last().ok_or_else(|| VerifyError::KeyChain("the ledger introduces no signing key".into()))?;
    let current_id = Verifier::parse(current).map(|v| v.id_hex()).map_err(|e| VerifyError::KeyChain(e.to_string()))?;
    if !opened.signed_by.contains(&current_id) {
        return Err(VerifyError::KeyChain(format!("the checkpoint is not signed by the current key {current}")));
    }
    for k in &listed {
        if !chain.contains(&k.to_vkey()) {
            return Err(VerifyError::KeyChain(format!(
                "keys.vkey lists {} which no key_rotation entry introduces",
                k.to_vkey()
            )));
        }
    }
    Ok(Report {
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        keys: chain.len(),
        extends,
        epoch,
        continues,
        earlier: Vec::new(),
    })
}

/// Follows the keys: entry 0 introduces the first (a `key_rotation` in epoch 1, an `epoch` entry of the
/// same epoch after), and each `key_rotation` names the key it replaces.
fn check_key_chain(
    seq: u64,
    event: &Event,
    origin: &str,
    epoch: u64,
    chain: &mut Vec<String>,
) -> Result<(), VerifyError> {
    match event {
        Event::Epoch(e) if seq == 0 && epoch > 1 => {
            if e.epoch != epoch {
                return Err(VerifyError::entry(
                    0,
                    format!("the epoch entry says epoch {}, the origin {epoch}", e.epoch),
                ));
            }
            let v = Verifier::parse(&e.key).map_err(|err| VerifyError::entry(seq, err.to_string()))?;
            if v.name() != origin {
                return Err(VerifyError::entry(seq, format!("key is named {:?}, not {origin:?}", v.name())));
            }
            chain.push(v.to_vkey());
            Ok(())
        }
        Event::Epoch(_) => Err(VerifyError::entry(seq, "an epoch entry may only open the log of a later epoch")),
        Event::KeyRotation(_) if seq == 0 && epoch > 1 => {
            Err(VerifyError::entry(0, "the log of a later epoch must open with an epoch entry"))
        }
        Event::KeyRotation(k) => {
            if k.previous.as_ref() != chain.last() {
                return Err(VerifyError::entry(seq, "key_rotation does not name the key it replaces"));
            }
            let v = Verifier::parse(&k.key).map_err(|e| VerifyError::entry(seq, e.to_string()))?;
            if v.name() != origin {
                return Err(VerifyError::entry(seq, format!("key is named {:?}, not {origin:?}", v.name())));
            }
            chain.push(v.to_vkey());
            Ok(())
        }
        _ if seq == 0 => Err(VerifyError::entry(0, "the first entry must introduce the signing key")),
        _ => Ok(()),
    }
}

/// The fuzz target's body (also run on random mutations by the test suite): splits `data` at NUL bytes
/// into checkpoint, keys, entries and an optional previous checkpoint, and verifies. Must never panic.
#[doc(hidden)]
pub fn fuzz_body(data: &[u8]) {
    let mut parts = data.splitn(4, |b| *b == 0);
    let text = |p: Option<&[u8]>| p.map(String::from_utf8_lossy).unwrap_or_default().into_owned();
    let checkpoint = text(parts.next());
    let keys = text(parts.next());
    let entries = parts.next().unwrap_or_default();
    let previous = parts.next().map(|p| String::from_utf8_lossy(p).into_owned());
    let _ = verify(&checkpoint, &keys, entries, &Options { trusted: None, previous });
}
