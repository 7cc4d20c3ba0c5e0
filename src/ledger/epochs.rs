//! Epochs: a record that outlives its appliance.
//!
//! When an appliance is lost, `tally restore` continues its record on a replacement as a new *epoch*: a
//! new log, with a new signing key and a new origin, whose entry 0 (kind `epoch`) embeds the earlier
//! log's last checkpoint and keys. An appliance's first log is epoch 1, origin `<facility>/<appliance>`;
//! epoch n ≥ 2 has origin `<facility>/<appliance>/<n>`. A new epoch never reuses an origin, so a witness
//! that saw the earlier log can never mistake the new one (which starts again at size 1) for a rollback.
//!
//! The earlier epochs are kept, verified, as export directories under `<data_dir>/epochs/<n>/`, written
//! once by the restore and never changed; an export of the appliance carries them under `epochs/<n>/`
//! beside the current epoch's files. This module owns that layout: naming origins by epoch, listing and
//! reading the archived epochs (for the census, which folds them before the current log), copying them
//! into an export, and checking that a chain of epochs links up — each epoch verified on its own and
//! epoch n+1's entry 0 naming exactly epoch n's origin, final checkpoint (signed by epoch n's key) and
//! keys.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};

use super::entry::{Entry, EntryError};
use super::export;
use super::verify::{self, Options, Report, VerifyError};

/// The directory of archived epochs, in a data directory and in an export.
pub const EPOCHS_DIR: &str = "epochs";

/// Errors reading the archived epochs of a data directory.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    /// A file or directory could not be read or written.
    #[error("epoch archive {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The archive holds something that is not an epoch directory, or epochs are missing.
    #[error("epoch archive {path}: {reason}")]
    Layout {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An archived entry does not decode.
    #[error("epoch {epoch}, entry {seq}")]
    Entry {
        /// Its epoch.
        epoch: u64,
        /// Its sequence number.
        seq: u64,
        /// Why.
        #[source]
        source: EntryError,
    },
}

/// The origin of epoch `epoch` of `appliance` in `facility` (epoch 1 is the plain origin).
pub fn origin(facility: &str, appliance: &str, epoch: u64) -> String {
    if epoch <= 1 { super::origin(facility, appliance) } else { format!("{facility}/{appliance}/{epoch}") }
}

/// Splits an origin into facility, appliance and epoch; `None` unless it is `<facility>/<appliance>` or
/// `<facility>/<appliance>/<n>` with n ≥ 2 written in canonical decimal.
pub fn parse_origin(origin: &str) -> Option<(&str, &str, u64)> {
    let mut parts = origin.split('/');
    let (facility, appliance) = (parts.next()?, parts.next()?);
    if facility.is_empty() || appliance.is_empty() {
        return None;
    }
    let epoch = match parts.next() {
        None => 1,
        Some(n) => {
            let e: u64 = n.parse().ok()?;
            if e < 2 || e.to_string() != n {
                return None;
            }
            e
        }
    };
    parts.next().is_none().then_some((facility, appliance, epoch))
}

/// One archived epoch: its number and its export directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// Epoch number, from 1.
    pub epoch: u64,
    /// Its export directory.
    pub dir: PathBuf,
}

/// The epochs archived under `base/epochs/`, oldest first: none when there is no such directory, else
/// exactly 1, 2, … with no gap. Anything else there is refused.
pub fn archived(base: &Path) -> Result<Vec<Archived>, EpochError> {
    let root = base.join(EPOCHS_DIR);
    let read = match std::fs::read_dir(&root) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(EpochError::Io { path: root, source }),
    };
    let mut found = Vec::new();
    for item in read {
        let item = item.map_err(|source| EpochError::Io { path: root.clone(), source })?;
        let name = item.file_name().to_string_lossy().into_owned();
        let epoch = name.parse::<u64>().ok().filter(|n| *n >= 1 && n.to_string() == name);
        let Some(epoch) = epoch.filter(|_| item.path().is_dir()) else {
            return Err(EpochError::Layout { path: root, reason: format!("{name:?} is not an epoch directory") });
        };
        found.push(Archived { epoch, dir: item.path() });
    }
    found.sort_by_key(|a| a.epoch);
    for (i, a) in found.iter().enumerate() {
        if a.epoch != i as u64 + 1 {
            return Err(EpochError::Layout { path: root, reason: format!("epoch {} is missing", i + 1) });
        }
    }
    Ok(found)
}

/// Calls `f` on every entry of an archived epoch, in order (the archive was verified when it was made;
/// its entries are decoded again here, not trusted blindly).
pub fn for_each_entry<E: From<EpochError>>(
    archived: &Archived,
    mut f: impl FnMut(&Entry) -> Result<(), E>,
) -> Result<(), E> {
    let path = archived.dir.join(export::ENTRIES);
    let file = std::fs::File::open(&path).map_err(|source| EpochError::Io { path: path.clone(), source })?;
    for (seq, line) in BufReader::with_capacity(1 << 20, file).split(b'\n').enumerate() {
        let line = line.map_err(|source| EpochError::Io { path: path.clone(), source })?;
        let entry = Entry::parse(&line).map_err(|source| EpochError::Entry {
            epoch: archived.epoch,
            seq: seq as u64,
            source,
        })?;
        f(&entry)?;
    }
    Ok(())
}

/// Copies the archived epochs of `data_dir` into the export directory `out` (as `out/epochs/<n>/`),
/// every file fsynced.
pub fn copy_archive(data_dir: &Path, out: &Path) -> Result<usize, EpochError> {
    let epochs = archived(data_dir)?;
    for a in &epochs {
        let target = out.join(EPOCHS_DIR).join(a.epoch.to_string());
        copy_export_files(&a.dir, &target)?;
    }
    Ok(epochs.len())
}

/// Copies the files of one export directory (not its `epochs/`) into `target`, created, fsynced.
pub fn copy_export_files(from: &Path, target: &Path) -> Result<(), EpochError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| EpochError::Io { path, source }
    };
    std::fs::create_dir_all(target).map_err(io(target))?;
    for name in [export::CHECKPOINT, export::LOG_VKEY, export::KEYS_VKEY, export::ENTRIES, export::README] {
        let (src, dst) = (from.join(name), target.join(name));
        std::fs::copy(&src, &dst).map_err(io(&src))?;
        std::fs::File::open(&dst).and_then(|f| f.sync_all()).map_err(io(&dst))?;
    }
    std::fs::File::open(target).and_then(|d| d.sync_all()).map_err(io(target))?;
    Ok(())
}

/// Verifies the epochs an export carries under `epochs/` against its current epoch, whose own
/// verification is `current`: each earlier epoch verifies on its own (with the pinned keys, when the
/// auditor gave some: then every epoch must be signed by one of them), and each epoch's entry 0 links
/// to the epoch before it. Returns the earlier epochs' reports, oldest first.
pub fn verify_chain(dir: &Path, opts: &Options, current: &Report) -> Result<Vec<Report>, VerifyError> {
    let layout = |reason: String| VerifyError::Epoch { epoch: current.epoch, reason };
    let epochs = archived(dir).map_err(|e| layout(e.to_string()))?;
    if epochs.len() as u64 + 1 != current.epoch {
        return Err(layout(format!(
            "this export is epoch {} of its appliance but carries {} earlier epoch(s) under {EPOCHS_DIR}/; all are needed",
            current.epoch,
            epochs.len()
        )));
    }
    let earlier_opts = Options { trusted: opts.trusted.clone(), previous: None };
    // Each earlier epoch with its final checkpoint and keys, as its files hold them.
    let mut chain: Vec<(Report, String, String)> = Vec::with_capacity(epochs.len());
    for a in &epochs {
        let bad = |reason: String| VerifyError::Epoch { epoch: a.epoch, reason };
        if a.dir.join(EPOCHS_DIR).exists() {
            return Err(bad("an archived epoch holds epochs of its own".into()));
        }
        let report = verify::verify_files(&a.dir, &earlier_opts).map_err(|e| bad(e.to_string()))?;
        if report.epoch != a.epoch {
            return Err(bad(format!("its origin {} is not that of epoch {}", report.origin, a.epoch)));
        }
        let checkpoint = read_small(&a.dir.join(export::CHECKPOINT))?;
        let keys = read_small(&a.dir.join(export::KEYS_VKEY))?;
        if let Some(before) = chain.last() {
            link(before, &report)?;
        }
        chain.push((report, checkpoint, keys));
    }
    if let Some(before) = chain.last() {
        link(before, current)?;
    }
    Ok(chain.into_iter().map(|(r, _, _)| r).collect())
}

/// Checks that `next`'s entry 0 continues `before` (its report, final checkpoint and keys file).
fn link((before, checkpoint, keys): &(Report, String, String), next: &Report) -> Result<(), VerifyError> {
    let bad = |reason: String| Err(VerifyError::Epoch { epoch: next.epoch, reason });
    let Some(e) = &next.continues else {
        return bad("its first entry is not an epoch entry".into());
    };
    let listed: Vec<&str> = keys.lines().filter(|l| !l.trim().is_empty()).collect();
    if e.epoch != before.epoch + 1 {
        return bad(format!("its epoch entry says epoch {}, not {}", e.epoch, before.epoch + 1));
    }
    if e.previous_origin != before.origin {
        return bad(format!("it continues {}, not {}", e.previous_origin, before.origin));
    }
    if &e.previous_checkpoint != checkpoint {
        return bad(format!("it does not embed epoch {}'s final checkpoint", before.epoch));
    }
    if e.previous_keys.iter().map(String::as_str).ne(listed.iter().copied()) {
        return bad(format!("it does not name epoch {}'s keys", before.epoch));
    }
    Ok(())
}

fn read_small(path: &Path) -> Result<String, VerifyError> {
    export::read_small_file(path).map_err(|source| VerifyError::Io { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::verify;

    #[test]
    fn origins_name_their_epoch() {
        assert_eq!(origin("makala", "gate-1", 1), "makala/gate-1");
        assert_eq!(origin("makala", "gate-1", 3), "makala/gate-1/3");
        assert_eq!(parse_origin("makala/gate-1"), Some(("makala", "gate-1", 1)));
        assert_eq!(parse_origin("makala/gate-1/2"), Some(("makala", "gate-1", 2)));
        for bad in ["makala", "makala/", "/g", "m/g/1", "m/g/02", "m/g/x", "m/g/2/3", "m/g/-2"] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
    }

    use crate::clock::ManualClock;
    use crate::ledger::Ledger;
    use crate::ledger::entry::{Epoch, Event, Note};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    fn clock() -> Arc<ManualClock> {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        Arc::new(ManualClock::new("boot-1", t, Duration::from_secs(60)))
    }

    fn note(i: usize) -> Event {
        Event::Note(Note { author: "sgt.test".into(), text: format!("note {i}") })
    }

    /// Epoch 1 with a few entries, exported into `root/e1`, then epoch 2 created from that export (as a
    /// restore does) in `root/d2`, its archive in place. Returns the data directory of epoch 2.
    fn two_epochs(root: &Path) -> PathBuf {
        let mut l1 = Ledger::create(&root.join("d1"), "makala", "gate-1", clock()).unwrap();
        l1.append((0..3).map(note).collect()).unwrap();
        l1.rotate_key().unwrap();
        export::export(&mut l1.reader().unwrap(), &root.join("e1")).unwrap();
        let d2 = root.join("d2");
        copy_export_files(&root.join("e1"), &d2.join(EPOCHS_DIR).join("1")).unwrap();
        let text = |n: &str| std::fs::read_to_string(root.join("e1").join(n)).unwrap();
        let continues = Epoch {
            epoch: 2,
            key: String::new(),
            previous_checkpoint: text(export::CHECKPOINT),
            previous_keys: text(export::KEYS_VKEY).lines().map(str::to_owned).collect(),
            previous_origin: "makala/gate-1".into(),
        };
        let mut l2 = Ledger::create_epoch(&d2, "makala", "gate-1", continues, clock()).unwrap();
        assert_eq!(l2.identity().origin, "makala/gate-1/2");
        l2.append(vec![note(9)]).unwrap();
        d2
    }

    #[test]
    fn a_new_epoch_opens_with_the_old_checkpoint_and_verifies_end_to_end() {
        let root = tempfile::tempdir().unwrap();
        let d2 = two_epochs(root.path());
        let out = root.path().join("e2");
        export::export(&mut crate::ledger::LedgerReader::open(&d2).unwrap(), &out).unwrap();
        assert!(out.join("epochs/1/entries.jsonl").is_file());
        let report = verify::verify_dir(&out, &Options::default()).unwrap();
        assert_eq!((report.epoch, report.size, report.keys), (2, 2, 1));
        assert_eq!(report.earlier.len(), 1);
        assert_eq!((report.earlier[0].epoch, report.earlier[0].size, report.earlier[0].keys), (1, 5, 2));
        let first = std::fs::read_to_string(out.join("entries.jsonl")).unwrap();
        let e0 = Entry::parse(first.lines().next().unwrap().as_bytes()).unwrap();
        let Event::Epoch(e) = e0.event else { panic!("entry 0 is {:?}", e0.event) };
        assert_eq!(e.previous_checkpoint, std::fs::read_to_string(root.path().join("e1/checkpoint")).unwrap());

        // The census folds the archive and the new log: the archive reads back entry by entry.
        let mut seen = 0;
        for a in archived(&d2).unwrap() {
            for_each_entry::<EpochError>(&a, |_| {
                seen += 1;
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(seen, 5);

        // Pinning only epoch 2's key refuses epoch 1; pinning both verifies.
        let key = |dir: &str| std::fs::read_to_string(root.path().join(dir).join(export::KEYS_VKEY)).unwrap();
        let both = verify::parse_keys("k", &(key("e1") + &key("e2"))).unwrap();
        let only2 = verify::parse_keys("k", &key("e2")).unwrap();
        assert!(verify::verify_dir(&out, &Options { trusted: Some(both), previous: None }).is_ok());
        let err = verify::verify_dir(&out, &Options { trusted: Some(only2), previous: None }).unwrap_err();
        assert!(matches!(err, VerifyError::Epoch { epoch: 1, .. }), "{err}");

        // Without its earlier epoch, or with another one, epoch 2 does not verify.
        std::fs::rename(out.join("epochs"), root.path().join("moved")).unwrap();
        assert!(matches!(verify::verify_dir(&out, &Options::default()), Err(VerifyError::Epoch { .. })));
        let mut other = Ledger::create(&root.path().join("d3"), "makala", "gate-1", clock()).unwrap();
        other.append(vec![note(1)]).unwrap();
        export::export(&mut other.reader().unwrap(), &out.join("epochs/1")).unwrap();
        let err = verify::verify_dir(&out, &Options::default()).unwrap_err();
        assert!(err.to_string().contains("final checkpoint"), "{err}");
    }

    #[test]
    fn epoch_entries_open_later_epochs_only() {
        let root = tempfile::tempdir().unwrap();
        let d2 = two_epochs(root.path());
        let out = root.path().join("e2");
        export::export(&mut crate::ledger::LedgerReader::open(&d2).unwrap(), &out).unwrap();
        // The same entries under an epoch-1 origin: the epoch entry is refused at entry 0.
        let cp = std::fs::read_to_string(out.join(export::CHECKPOINT)).unwrap();
        let keys = std::fs::read_to_string(out.join(export::KEYS_VKEY)).unwrap();
        let entries = std::fs::read(out.join(export::ENTRIES)).unwrap();
        let report = verify::verify(&cp, &keys, entries.as_slice(), &Options::default()).unwrap();
        assert!(report.continues.is_some());
        let forged = cp.replacen("makala/gate-1/2\n", "makala/gate-1\n", 1);
        assert!(verify::verify(&forged, &keys, entries.as_slice(), &Options::default()).is_err());
    }

    #[test]
    fn no_first_epoch_is_created_beside_an_archive() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("d/epochs/1")).unwrap();
        let refused = Ledger::create(&root.path().join("d"), "makala", "gate-1", clock());
        assert!(matches!(refused, Err(crate::ledger::LedgerError::InterruptedRestore(_))));
        assert!(!root.path().join("d/tally.db").exists());
    }

    #[test]
    fn archives_are_numbered_without_gaps() {
        let dir = tempfile::tempdir().unwrap();
        assert!(archived(dir.path()).unwrap().is_empty());
        std::fs::create_dir_all(dir.path().join("epochs/1")).unwrap();
        std::fs::create_dir_all(dir.path().join("epochs/2")).unwrap();
        let found = archived(dir.path()).unwrap();
        assert_eq!(found.iter().map(|a| a.epoch).collect::<Vec<_>>(), vec![1, 2]);
        std::fs::create_dir_all(dir.path().join("epochs/4")).unwrap();
        assert!(matches!(archived(dir.path()), Err(EpochError::Layout { .. })));
        std::fs::remove_dir(dir.path().join("epochs/4")).unwrap();
        std::fs::write(dir.path().join("epochs/notes"), "x").unwrap();
        assert!(matches!(archived(dir.path()), Err(EpochError::Layout { .. })));
    }
}
