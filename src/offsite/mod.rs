//! Off-site copies and restore: the record survives the appliance.
//!
//! An off-site copy is a directory written onto removable media (`tally offsite copy DIR`, or on a
//! schedule inside `tally serve`, [`schedule`]):
//! - `ledger/`: exactly the auditor's export ([`crate::ledger::export`]), plain, verifiable by anyone
//!   with the verifier key (`tally ledger verify`, or the Go verifier in tests/verifier);
//! - `people.age`: the register — people, photos and fingerprint templates — as a [`bundle`], encrypted
//!   with age for the national authority's public keys (`[offsite] recipients`);
//! - `MANIFEST`: origin, size, root, counts, recipients and the SHA-256 of every file ([`manifest`]).
//!
//! The copy is named `<facility>_<appliance>[_<epoch>]-<tree size>-<UTC time>` and is built under a
//! hidden temporary name (`.tmp-…`) in the same directory, every file and directory fsynced, then
//! renamed into place and the directory fsynced: on the medium a copy is whole or absent (a stick pulled
//! out mid-copy leaves only a `.tmp-…` directory, without `MANIFEST`, which the next copy removes).
//!
//! [`restore`] puts a copy onto a replacement appliance, as a new epoch of the record
//! ([`crate::ledger::epochs`]). This module reads the ledger and the register; it writes neither, but
//! through the ledger (the `offsite_copy` entry) and the store's restore operation.

pub mod bundle;
pub mod manifest;
pub mod restore;
pub mod schedule;

use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::ledger::entry::OffsiteCopy;
use crate::ledger::export::{self, ExportError};
use crate::ledger::{LedgerError, LedgerReader};
use crate::people::vault::{self, Vault, VaultError};
use crate::store::{Open, Store, StoreError};
use bundle::BundleError;
use manifest::Manifest;

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST";
/// The encrypted register's file name.
pub const PEOPLE: &str = "people.age";
/// The ledger export's directory name.
pub const LEDGER: &str = "ledger";
/// Prefix of a copy being written.
pub const TMP_PREFIX: &str = ".tmp-";

/// Errors of off-site copies.
#[derive(Debug, thiserror::Error)]
pub enum OffsiteError {
    /// The target directory is not there (removable media not mounted).
    #[error("{0} is not a directory: is the removable medium mounted?")]
    NoMedium(PathBuf),
    /// A file of the copy could not be written or read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The export failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The register could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A photo or template does not open with the template key.
    #[error("the register's {what} of {person} does not open with the template key")]
    Vault {
        /// `photo` or `template`.
        what: &'static str,
        /// Whose.
        person: String,
        /// Why.
        #[source]
        source: VaultError,
    },
    /// The template key could not be opened.
    #[error(transparent)]
    Key(VaultError),
    /// The people bundle could not be written.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A copy of this name exists already (two copies within one second).
    #[error("{0} exists already")]
    Exists(PathBuf),
}

/// What a copy wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The copy's directory.
    pub path: PathBuf,
    /// The `offsite_copy` entry to record (name, counts, tree size, people.age's hash).
    pub entry: OffsiteCopy,
    /// The ledger origin copied.
    pub origin: String,
}

/// The file-name form of an origin: `/` becomes `_`.
pub fn origin_slug(origin: &str) -> String {
    origin.replace('/', "_")
}

/// `YYYYMMDDTHHMMSSZ` of `t`.
fn compact_time(t: SystemTime) -> String {
    let r = crate::clock::rfc3339(t);
    // "2026-11-26T12:15:00.123Z" → "20261126T121500Z"
    let digits: String = r.chars().take(19).filter(char::is_ascii_alphanumeric).collect();
    format!("{digits}Z")
}

/// The time in a copy's name, if `name` is a copy of `origin`'s.
pub fn copy_time(name: &str, origin: &str) -> Option<SystemTime> {
    let rest = name.strip_prefix(&origin_slug(origin))?.strip_prefix('-')?;
    let (size, stamp) = rest.split_once('-')?;
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || stamp.len() != 16 {
        return None;
    }
    let b = stamp.as_bytes();
    if b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    crate::clock::parse_rfc3339(&text)
}

/// When the latest whole copy of `origin` in `dir` was made (by its name; only those with a MANIFEST).
pub fn latest_copy(dir: &Path, origin: &str) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().join(MANIFEST).is_file())
        .filter_map(|e| copy_time(&e.file_name().to_string_lossy(), origin))
        .max()
}

/// Writes an off-site copy of the appliance in `data_dir` into a new sub-directory of `target`, with
/// `people.age` encrypted for `recipients`. Returns where, and the entry the caller records in the
/// ledger. Nothing is left under the final name unless the whole copy was written.
pub fn copy(data_dir: &Path, target: &Path, recipients: &[String], now: SystemTime) -> Result<Copied, OffsiteError> {
    let recipients_parsed = bundle::recipients(recipients)?;
    if !target.is_dir() {
        return Err(OffsiteError::NoMedium(target.to_owned()));
    }
    let mut reader = LedgerReader::open(data_dir)?;
    let origin = reader.origin()?;
    remove_stale(target, &origin);
    let tmp = target.join(format!("{TMP_PREFIX}{}-{}-{}", origin_slug(&origin), compact_time(now), std::process::id()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OffsiteError::Io { path, source }
    };
    std::fs::create_dir(&tmp).map_err(io(&tmp))?;
    let result = write_copy(data_dir, &mut reader, &tmp, &origin, &recipients_parsed, recipients, now).and_then(
        |(entry, size)| {
            let name = format!("{}-{size}-{}", origin_slug(&origin), compact_time(now));
            let path = target.join(&name);
            if path.exists() {
                return Err(OffsiteError::Exists(path));
            }
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
            sync_dir(target).map_err(io(target))?;
            Ok(Copied { path, entry: OffsiteCopy { name, ..entry }, origin: origin.clone() })
        },
    );
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Removes what an interrupted copy of `origin` left behind (best effort).
fn remove_stale(target: &Path, origin: &str) {
    let prefix = format!("{TMP_PREFIX}{}-", origin_slug(origin));
    if let Ok(entries) = std::fs::read_dir(target) {
        for e in entries.filter_map(Result::ok) {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Writes the export, the bundle and the manifest into `tmp`, every file and directory fsynced.
fn write_copy(
    data_dir: &Path,
    reader: &mut LedgerReader,
    tmp: &Path,
    origin: &str,
    recipients: &[age::x25519::Recipient],
    recipient_text: &[String],
    now: SystemTime,
) -> Result<(OffsiteCopy, u64), OffsiteError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OffsiteError::Io { path, source }
    };
    let exported = export::export(reader, &tmp.join(LEDGER))?;
    let checkpoint = std::fs::read_to_string(tmp.join(LEDGER).join(export::CHECKPOINT)).map_err(io(tmp))?;
    let root = checkpoint.lines().nth(2).unwrap_or_default().to_owned();

    let people_path = tmp.join(PEOPLE);
    let file = std::fs::File::create(&people_path).map_err(io(&people_path))?;
    let encrypted = bundle::encrypt(BufWriter::with_capacity(1 << 20, file), recipients)?;
    let header = bundle::Header {
        format: bundle::FORMAT.into(),
        version: bundle::VERSION,
        origin: origin.to_owned(),
        size: exported.size,
        time: crate::clock::rfc3339(now),
    };
    let mut writer = bundle::Writer::new(encrypted, &header)?;
    let mut store = Store::open(data_dir, Open::MustExist)?;
    let mut vault: Option<Vault> = None;
    store.people_each::<OffsiteError>(|p, photo, templates| {
        let needs_key = photo.is_some() || !templates.is_empty();
        if needs_key && vault.is_none() {
            vault = Some(Vault::open(data_dir).map_err(OffsiteError::Key)?);
        }
        let open = |what: &'static str, context: Vec<u8>, sealed: &[u8]| match &vault {
            Some(v) => v.open_sealed(&context, sealed).map_err(|source| OffsiteError::Vault {
                what,
                person: p.id.clone(),
                source,
            }),
            None => Ok(Vec::new()),
        };
        let photo = photo.map(|s| open("photo", vault::photo_context(&p.id), &s)).transpose()?;
        let mut fingers = Vec::with_capacity(templates.len());
        for t in &templates {
            fingers.push(bundle::Finger {
                finger: t.finger,
                duress: t.duress,
                quality: t.quality,
                created: t.created.clone(),
                template: open("template", vault::template_context(&p.id, t.finger), &t.sealed)?,
            });
        }
        writer.person(&bundle::Person {
            id: p.id.clone(),
            category: p.category.as_str().to_owned(),
            given_names: p.given_names,
            family_name: p.family_name,
            date_of_birth: p.date_of_birth,
            national_id: p.national_id,
            created: p.created,
            updated: p.updated,
            photo,
            templates: fingers,
        })?;
        Ok(())
    })?;
    let (encrypted, people, templates) = writer.finish()?;
    let buffered = encrypted.finish().map_err(io(&people_path))?;
    let file =
        buffered.into_inner().map_err(|e| OffsiteError::Io { path: people_path.clone(), source: e.into_error() })?;
    file.sync_all().map_err(io(&people_path))?;

    let mut files = std::collections::BTreeMap::new();
    hash_tree(tmp, tmp, &mut files)?;
    let people_sha256 = files.get(PEOPLE).cloned().unwrap_or_default();
    let m = Manifest {
        origin: origin.to_owned(),
        size: exported.size,
        root,
        time: crate::clock::rfc3339(now),
        people,
        templates,
        recipients: recipient_text.to_vec(),
        files,
    };
    let manifest_path = tmp.join(MANIFEST);
    let mut f = std::fs::File::create(&manifest_path).map_err(io(&manifest_path))?;
    f.write_all(m.to_text().as_bytes()).and_then(|()| f.sync_all()).map_err(io(&manifest_path))?;
    sync_tree(tmp).map_err(io(tmp))?;
    let entry = OffsiteCopy { name: String::new(), people, people_sha256, size: exported.size, templates };
    Ok((entry, exported.size))
}

/// SHA-256 (hex) of every file under `dir`, keyed by its path relative to `base` (`/`-separated).
pub fn hash_tree(
    base: &Path,
    dir: &Path,
    out: &mut std::collections::BTreeMap<String, String>,
) -> Result<(), OffsiteError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OffsiteError::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io(dir))?.collect::<Result<_, _>>().map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let kind = e.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            hash_tree(base, &path, out)?;
        } else {
            let rel = path.strip_prefix(base).unwrap_or(&path);
            let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.insert(rel.join("/"), sha256_file(&path).map_err(io(&path))?);
        }
    }
    Ok(())
}

/// SHA-256 (hex) of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// fsyncs every file and directory under `dir`, then `dir`.
pub fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_tree(&e.path())?;
        } else {
            std::fs::File::open(e.path())?.sync_all()?;
        }
    }
    sync_dir(dir)
}

/// fsyncs a directory (so a rename or a new file in it is durable).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn copy_names_carry_origin_size_and_time() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let name = format!("{}-42-{}", origin_slug("makala/gate-1/2"), compact_time(t));
        assert_eq!(name, "makala_gate-1_2-42-20261118T110640Z");
        assert_eq!(copy_time(&name, "makala/gate-1/2"), Some(t));
        assert_eq!(copy_time(&name, "makala/gate-1"), None);
        assert_eq!(copy_time("makala_gate-1-x-20261118T090640Z", "makala/gate-1"), None);
        assert_eq!(copy_time(".tmp-makala_gate-1-1-20261118T090640Z", "makala/gate-1"), None);
    }
}
