//! `tally restore`: an off-site copy onto a replacement appliance, as a new epoch of the record.
//!
//! # Order
//! 1. **check the target**: the data directory holds no ledger, no archived epochs and no one in the
//!    register (else refused, nothing changed);
//! 2. **check the copy**: its `MANIFEST` parses, lists exactly the files present, and every hash matches;
//!    the ledger export verifies (with the auditor's pinned keys when given, else only with its own keys —
//!    the report says which) and is the one the manifest names; `people.age` decrypts with the
//!    authority's identity and is a whole bundle of that same origin and size. All of it is read and
//!    checked before anything is written;
//! 3. **archive**: the verified export (and the earlier epochs it carries) is written under
//!    `<data_dir>/.epochs.tmp`, fsynced, then renamed to `<data_dir>/epochs` ([`crate::ledger::epochs`]);
//! 4. **register**: photos and templates are sealed under the new appliance's own template key and the
//!    register stored in one transaction;
//! 5. **new epoch**: the new ledger is created, its entry 0 (`epoch`) embedding the old log's final
//!    checkpoint and keys and introducing the new signing key. Its commit completes the restore.
//!
//! A crash before 5 leaves a data directory with an archive or a register but no ledger: a second
//! restore refuses it (step 1); move the data directory away and restore again.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::bundle::{self, Bundle, BundleError};
use super::manifest::{Manifest, ManifestError};
use super::{LEDGER, MANIFEST, OffsiteError, PEOPLE};
use crate::clock::Clock;
use crate::ledger::entry::Epoch;
use crate::ledger::epochs::{self, EpochError};
use crate::ledger::note::Verifier;
use crate::ledger::verify::{self, VerifyError};
use crate::ledger::{Ledger, LedgerError, export};
use crate::people::Category;
use crate::people::vault::{self, Vault, VaultError};
use crate::store::offsite::RestoredPerson;
use crate::store::people::{NewPerson, NewTemplate};
use crate::store::{self, DB_FILE, Open, Store, StoreError};

/// Why a restore was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The data directory already holds a ledger, an archive or people.
    #[error("{dir} is not empty ({what}); restore onto a replacement appliance with an empty data directory")]
    TargetNotEmpty {
        /// The data directory.
        dir: PathBuf,
        /// What is there.
        what: &'static str,
    },
    /// The copy's MANIFEST is missing or does not parse.
    #[error("the copy's MANIFEST")]
    Manifest(#[source] ManifestError),
    /// A file of the copy differs from its MANIFEST hash, is missing, or is not listed.
    #[error("the copy was altered or damaged: {0}")]
    Tampered(String),
    /// The ledger export does not verify.
    #[error("the copy's ledger does not verify")]
    Verify(#[source] VerifyError),
    /// `people.age` does not decrypt or is not a whole bundle.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The configuration names another facility or appliance than the copy.
    #[error("the copy is of {copy}, but the configuration says facility {facility}, appliance {appliance}")]
    OtherAppliance {
        /// The copy's origin.
        copy: String,
        /// Configured facility.
        facility: String,
        /// Configured appliance.
        appliance: String,
    },
    /// Reading the copy or writing the archive failed.
    #[error(transparent)]
    Offsite(#[from] OffsiteError),
    /// The archive of epochs failed.
    #[error(transparent)]
    Epochs(#[from] EpochError),
    /// The template key failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Creating the new ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What the restore needs.
#[derive(Debug)]
pub struct Request<'a> {
    /// The copy's directory.
    pub copy: &'a Path,
    /// The text of the authority's age identity file.
    pub identity: &'a str,
    /// Verifier keys the operator obtained out of band; `None`: trust the copy's own keys.
    pub trusted: Option<Vec<Verifier>>,
    /// The replacement appliance's data directory (empty).
    pub data_dir: &'a Path,
    /// Facility and appliance ids configured, if any (they must be the copy's).
    pub facility: Option<&'a str>,
    /// See `facility`.
    pub appliance: Option<&'a str>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The copy's origin and size.
    pub previous_origin: String,
    /// Entries of the copied log.
    pub previous_size: u64,
    /// Whether the copy's ledger was verified against pinned keys (else only its own).
    pub pinned: bool,
    /// The new epoch.
    pub epoch: u64,
    /// The new ledger's origin.
    pub origin: String,
    /// The new signing key's verifier key, for the auditors.
    pub vkey: String,
    /// People restored.
    pub people: u64,
    /// Templates restored.
    pub templates: u64,
}

/// Restores `req.copy` into `req.data_dir` (see the module docs for the order).
pub fn restore(req: Request<'_>) -> Result<Restored, RestoreError> {
    // 1. check the target
    check_empty(req.data_dir)?;
    // 2. check the copy
    let manifest = check_manifest(req.copy)?;
    let ledger_dir = req.copy.join(LEDGER);
    let opts = verify::Options { trusted: req.trusted.clone(), previous: None };
    let report = verify::verify_dir(&ledger_dir, &opts).map_err(RestoreError::Verify)?;
    if report.origin != manifest.origin || report.size != manifest.size {
        return Err(RestoreError::Tampered(format!(
            "MANIFEST names {} at size {}, the ledger is {} at size {}",
            manifest.origin, manifest.size, report.origin, report.size
        )));
    }
    let Some((facility, appliance, epoch)) = epochs::parse_origin(&report.origin) else {
        return Err(RestoreError::Tampered(format!("origin {:?} is not an appliance's", report.origin)));
    };
    if req.facility.is_some_and(|f| f != facility) || req.appliance.is_some_and(|a| a != appliance) {
        return Err(RestoreError::OtherAppliance {
            copy: report.origin.clone(),
            facility: req.facility.unwrap_or(facility).to_owned(),
            appliance: req.appliance.unwrap_or(appliance).to_owned(),
        });
    }
    let identities = bundle::identities(req.identity)?;
    let people_path = req.copy.join(PEOPLE);
    let file =
        std::fs::File::open(&people_path).map_err(|source| OffsiteError::Io { path: people_path.clone(), source })?;
    let bundle = bundle::decrypt(std::io::BufReader::new(file), &identities)?;
    check_bundle(&bundle, &manifest)?;
    let checkpoint = read_text(&ledger_dir.join(export::CHECKPOINT))?;
    let keys = read_text(&ledger_dir.join(export::KEYS_VKEY))?;

    // 3. archive
    check_empty(req.data_dir)?;
    store::create_private_dir(req.data_dir)?;
    archive(&ledger_dir, req.data_dir, epoch)?;

    // 4. register
    let vault = Vault::open_or_create(req.data_dir)?;
    let (people, templates) = seal(&bundle, &vault)?;
    Store::open(req.data_dir, Open::CreateIfMissing)?.people_restore(&people, &templates)?;

    // 5. new epoch
    let continues = Epoch {
        epoch: epoch + 1,
        key: String::new(),
        previous_checkpoint: checkpoint,
        previous_keys: keys.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect(),
        previous_origin: report.origin.clone(),
    };
    let ledger = Ledger::create_epoch(req.data_dir, facility, appliance, continues, req.clock)?;
    let vkey = ledger.reader()?.verifier_keys()?.pop().unwrap_or_default();
    Ok(Restored {
        previous_origin: report.origin.clone(),
        previous_size: report.size,
        pinned: req.trusted.is_some(),
        epoch: epoch + 1,
        origin: ledger.identity().origin.clone(),
        vkey,
        people: people.len() as u64,
        templates: templates.len() as u64,
    })
}

/// Refuses a data directory with a ledger, an archive or people in it.
fn check_empty(dir: &Path) -> Result<(), RestoreError> {
    let refuse = |what| Err(RestoreError::TargetNotEmpty { dir: dir.to_owned(), what });
    if dir.join(epochs::EPOCHS_DIR).exists() || dir.join(".epochs.tmp").exists() {
        return refuse("it holds archived epochs: an earlier restore?");
    }
    if !dir.join(DB_FILE).exists() {
        return Ok(());
    }
    let mut store = Store::open(dir, Open::MustExist)?;
    if store.ledger_read(|v| v.identity())?.is_some() {
        return refuse("it holds a ledger");
    }
    if store.people_any()? {
        return refuse("it holds people");
    }
    Ok(())
}

/// Reads and checks the manifest against the files of the copy.
fn check_manifest(copy: &Path) -> Result<Manifest, RestoreError> {
    let path = copy.join(MANIFEST);
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(super::manifest::MAX_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|source| OffsiteError::Io { path: path.clone(), source })?;
    let manifest = Manifest::parse(&bytes).map_err(RestoreError::Manifest)?;
    let mut found = std::collections::BTreeMap::new();
    super::hash_tree(copy, copy, &mut found)?;
    found.remove(MANIFEST);
    for (file, hash) in &manifest.files {
        match found.get(file) {
            None => return Err(RestoreError::Tampered(format!("{file} is missing"))),
            Some(h) if h != hash => {
                return Err(RestoreError::Tampered(format!("{file} differs from its MANIFEST hash")));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|f| !manifest.files.contains_key(*f)) {
        return Err(RestoreError::Tampered(format!("{extra} is not in the MANIFEST")));
    }
    for needed in [format!("{LEDGER}/{}", export::ENTRIES), PEOPLE.to_owned()] {
        if !manifest.files.contains_key(&needed) {
            return Err(RestoreError::Tampered(format!("{needed} is missing")));
        }
    }
    Ok(manifest)
}

/// The bundle must be of the same log and size as the manifest says, with its counts.
fn check_bundle(b: &Bundle, m: &Manifest) -> Result<(), RestoreError> {
    let templates: u64 = b.people.iter().map(|p| p.templates.len() as u64).sum();
    if b.header.origin != m.origin
        || b.header.size != m.size
        || b.people.len() as u64 != m.people
        || templates != m.templates
    {
        return Err(RestoreError::Tampered("people.age is not the register the MANIFEST describes".into()));
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, RestoreError> {
    let text = export::read_small_file(path).map_err(|source| OffsiteError::Io { path: path.to_owned(), source })?;
    Ok(text)
}

/// Writes the verified export (epoch `epoch`) and the earlier epochs it carries into
/// `<data_dir>/epochs`, through a temporary directory renamed into place; files read-only.
fn archive(ledger_dir: &Path, data_dir: &Path, epoch: u64) -> Result<(), RestoreError> {
    let tmp = data_dir.join(".epochs.tmp");
    for earlier in epochs::archived(ledger_dir)? {
        epochs::copy_export_files(&earlier.dir, &tmp.join(earlier.epoch.to_string()))?;
    }
    epochs::copy_export_files(ledger_dir, &tmp.join(epoch.to_string()))?;
    read_only(&tmp).map_err(|source| OffsiteError::Io { path: tmp.clone(), source })?;
    let done = data_dir.join(epochs::EPOCHS_DIR);
    std::fs::rename(&tmp, &done).map_err(|source| OffsiteError::Io { path: done, source })?;
    super::sync_dir(data_dir).map_err(|source| OffsiteError::Io { path: data_dir.to_owned(), source })?;
    Ok(())
}

/// Makes every file under `dir` read-only (directories stay the owner's, so the data directory can be
/// moved or removed).
fn read_only(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            read_only(&e.path())?;
        } else {
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o400))?;
        }
    }
    Ok(())
}

/// The register sealed under the new appliance's template key.
fn seal(b: &Bundle, vault: &Vault) -> Result<(Vec<RestoredPerson>, Vec<NewTemplate>), RestoreError> {
    let mut people = Vec::with_capacity(b.people.len());
    let mut templates = Vec::new();
    for p in &b.people {
        let category = Category::parse(&p.category)
            .ok_or_else(|| RestoreError::Tampered(format!("person {} has an unknown category", p.id)))?;
        let photo = p.photo.as_ref().map(|ph| vault.seal(&vault::photo_context(&p.id), ph)).transpose()?;
        people.push(RestoredPerson {
            person: NewPerson {
                id: p.id.clone(),
                category,
                given_names: p.given_names.clone(),
                family_name: p.family_name.clone(),
                date_of_birth: p.date_of_birth.clone(),
                national_id: p.national_id.clone(),
            },
            created: p.created.clone(),
            updated: p.updated.clone(),
            photo,
        });
        for f in &p.templates {
            templates.push(NewTemplate {
                person: p.id.clone(),
                finger: f.finger,
                duress: f.duress,
                quality: f.quality,
                sealed: vault.seal(&vault::template_context(&p.id, f.finger), &f.template)?,
                created: f.created.clone(),
            });
        }
    }
    Ok((people, templates))
}
