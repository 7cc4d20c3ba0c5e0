//! First-boot provisioning of an appliance (`tally provision`): the configuration, the data directory
//! and its ledger, the keys, and the first admin token, under a root directory (`/` on the appliance).
//!
//! It owns the order in which a fresh appliance's files are made and one rule: **nothing that exists is
//! ever replaced or deleted**. Without `force`, an appliance where any of these files exists is refused,
//! naming every one found, and nothing is written. With `force`, what is missing is made (after a
//! provisioning that was cut short, or for a lane added to the configuration) and what exists is kept:
//! keys, ledger and configuration alike — a new key would orphan what the old one signed or sealed, and
//! a controller that was given its SCBK would no longer answer. A new admin token is made either way
//! (`admin`, else `admin-2`, …), since the one printed before may be what was lost.
//!
//! It owns no key format: the ledger and its signing key are made by [`Ledger::create`], the template
//! key by [`Vault::open_or_create`] (under the same rule as `serve`: only while no template is stored),
//! the controllers' keys by [`crate::gate::scbk`], tokens by [`crate::auth`].
//!
//! Files that hold secrets are mode 0600 in directories of mode 0700; the configuration (no secrets) is
//! 0644 in a 0755 `etc/tally`, readable by the service. When run as root, everything under the data
//! directory (and the controllers' key files) is then given to the data directory's owner — the `tally`
//! user, where `systemd-tmpfiles` made the directory — so that the service can read its keys.

pub mod template;

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::auth::{self, AuthError, Secret};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::gate::scbk::{self, ScbkError};
use crate::ledger::keys::KeyDir;
use crate::ledger::{Ledger, LedgerError};
use crate::people::vault::{Vault, VaultError};
use crate::store::{DB_FILE, Open, Store, StoreError};
pub use template::TemplateError;

/// The configuration file, under the root.
pub const CONFIG_FILE: &str = "etc/tally/tally.toml";
/// The example configuration (`provisioning/tally.toml`), built in: the template when none is given.
pub const EXAMPLE: &str = include_str!("../../provisioning/tally.toml");
/// The name of the first admin token.
pub const ADMIN: &str = "admin";

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum Template {
    /// The built-in example: its facility and appliance ids must be replaced.
    Example,
    /// The installer's file (read by the caller).
    File {
        /// The file, for messages.
        path: PathBuf,
        /// Its text.
        text: String,
    },
}

/// What to provision, validated by the CLI.
#[derive(Debug, Clone)]
pub struct Request {
    /// The file system root of the appliance (`/`, or a mounted image); absolute.
    pub root: PathBuf,
    /// The configuration template.
    pub template: Template,
    /// Facility id, replacing the template's.
    pub facility_id: Option<String>,
    /// Appliance id, replacing the template's.
    pub appliance_id: Option<String>,
    /// Make what is missing on an appliance that is already (partly) provisioned; never replace anything.
    pub force: bool,
}

/// A part of a provisioned appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The configuration file.
    Config,
    /// The ledger (the database, with its first entry).
    Ledger,
    /// A ledger signing key.
    LedgerKey,
    /// The template encryption key.
    TemplateKey,
    /// The witness key, which cosigns the facility's other appliances' checkpoints.
    WitnessKey,
    /// A controller's secure channel key, for these lanes.
    Scbk(Vec<String>),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Config => f.write_str("configuration"),
            Part::Ledger => f.write_str("ledger database"),
            Part::LedgerKey => f.write_str("ledger signing key"),
            Part::TemplateKey => f.write_str("template encryption key"),
            Part::WitnessKey => f.write_str("witness (cosigning) key"),
            Part::Scbk(lanes) => write!(f, "OSDP secure channel key (SCBK) of lane {}", lanes.join(", ")),
        }
    }
}

/// A file of the appliance and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub part: Part,
    /// Where it is.
    pub path: PathBuf,
}

/// What provisioning made and found.
#[derive(Debug)]
pub struct Provisioned {
    /// The configuration file.
    pub config_file: PathBuf,
    /// The configuration in force.
    pub config: Config,
    /// The ledger's origin, `<facility>/<appliance>`.
    pub origin: String,
    /// What was made now.
    pub created: Vec<Item>,
    /// What existed and was kept (only with `force`).
    pub kept: Vec<Item>,
    /// The new admin token's name.
    pub admin_name: String,
    /// The new admin token: shown once, stored only as a hash. `Debug` does not print it.
    pub admin_token: Secret,
    /// The ledger's current verifier key, for auditors.
    pub vkey: String,
    /// The witness key, for the facility's other appliances (`[[peer]] witness`).
    pub witness: String,
}

/// Why provisioning refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The appliance is already (partly) provisioned and `force` was not given; nothing was written.
    #[error(
        "this appliance is already provisioned; found {}. Nothing was changed. To make only what is missing \
         (nothing existing is ever replaced), run again with --force",
        list(.0)
    )]
    AlreadyProvisioned(Vec<Item>),
    /// `force` keeps an existing configuration; a template or ids that would change it are refused.
    #[error("{file} exists and is kept (--force never replaces it): {conflict}; edit the file instead")]
    ConfigKept {
        /// The configuration file.
        file: PathBuf,
        /// What would have changed it.
        conflict: String,
    },
    /// The built-in example names an example facility and appliance; real ones must be given.
    #[error("with the built-in example configuration, give --facility-id and --appliance-id (or a --config-template)")]
    ExampleIds,
    /// The root is not an existing absolute directory.
    #[error("the root {0} is not an existing directory given by an absolute path")]
    Root(PathBuf),
    /// The configuration names a file outside the root, which provisioning would not write.
    #[error("the configuration puts {what} at {path}, outside the root {root}")]
    OutsideRoot {
        /// What.
        what: String,
        /// Where.
        path: PathBuf,
        /// The root.
        root: PathBuf,
    },
    /// The template could not be made into the configuration.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The existing configuration is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file or directory could not be made, read or given to the service's user.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The ledger could not be made or opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The template key could not be made or read.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The witness key could not be made or read.
    #[error(transparent)]
    Witness(#[from] crate::ledger::cosign::CosignError),
    /// A controller's key could not be made or read.
    #[error("secure channel key {path}: {source}")]
    Scbk {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: ScbkError,
    },
    /// The database failed.
    #[error("the database")]
    Store(#[from] StoreError),
    /// The admin token could not be made.
    #[error("making the admin token")]
    Auth(#[from] AuthError),
}

impl ProvisionError {
    /// Whether the request or its configuration was refused before anything was written (bad usage or
    /// configuration), rather than the appliance's state or a failure while making its files.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            ProvisionError::ConfigKept { .. }
                | ProvisionError::ExampleIds
                | ProvisionError::Root(_)
                | ProvisionError::OutsideRoot { .. }
                | ProvisionError::Template(_)
                | ProvisionError::Config(_)
        )
    }
}

fn list(items: &[Item]) -> String {
    items.iter().map(|i| format!("{} ({})", i.path.display(), i.part)).collect::<Vec<_>>().join(", ")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProvisionError + use<> {
    let path = path.to_owned();
    move |source| ProvisionError::Io { path, source }
}

/// Provisions the appliance under `req.root`; see the module docs for what is made and what is refused.
pub fn provision(req: &Request, clock: Arc<dyn Clock>) -> Result<Provisioned, ProvisionError> {
    let root = &req.root;
    if !root.is_absolute() || !root.is_dir() {
        return Err(ProvisionError::Root(root.clone()));
    }
    let config_file = root.join(CONFIG_FILE);
    let config_exists = std::fs::symlink_metadata(&config_file).is_ok();

    // 1. The configuration: the existing one (kept, with force), or the template rewritten.
    if config_exists && !req.force {
        // Refused whatever else was asked: list what the existing configuration says is there.
        let found = match Config::load(Some(&config_file)) {
            Ok(c) => existing(&config_file, &c.data_dir, &scbk_files(&c))?,
            Err(_) => vec![Item { part: Part::Config, path: config_file.clone() }],
        };
        return Err(ProvisionError::AlreadyProvisioned(found));
    }
    let (config, rendered) = if config_exists {
        let config = Config::load(Some(&config_file))?;
        check_kept(req, &config_file, &config)?;
        (config, None)
    } else {
        let (name, text) = match &req.template {
            Template::Example if req.facility_id.is_none() || req.appliance_id.is_none() => {
                return Err(ProvisionError::ExampleIds);
            }
            Template::Example => (PathBuf::from("provisioning/tally.toml"), EXAMPLE),
            Template::File { path, text } => (path.clone(), text.as_str()),
        };
        let r = template::render(&name, text, root, req.facility_id.as_deref(), req.appliance_id.as_deref())?;
        (r.config, Some(r.text))
    };
    let data_dir = config.data_dir.clone();
    let scbks = scbk_files(&config);
    for (what, path) in std::iter::once(("the data directory".to_owned(), &data_dir))
        .chain(scbks.iter().map(|(lanes, p)| (format!("the SCBK of lane {}", lanes.join(", ")), p)))
    {
        if !path.starts_with(root) || path.components().any(|c| c == std::path::Component::ParentDir) {
            return Err(ProvisionError::OutsideRoot { what, path: path.clone(), root: root.clone() });
        }
    }

    // 2. What exists: refused without force, kept with it.
    let existing = existing(&config_file, &data_dir, &scbks)?;
    if !req.force && !existing.is_empty() {
        return Err(ProvisionError::AlreadyProvisioned(existing));
    }
    if !existing.is_empty() {
        check_usable(&config, &data_dir, &scbks, clock.clone())?;
    }
    let mut created = Vec::new();

    // 3. Directories, then the configuration (written whole, then renamed into place).
    let config_dir = config_file.parent().unwrap_or(root);
    make_dir(config_dir, 0o755)?;
    make_dir(&data_dir, 0o700)?;
    if let Some(text) = rendered {
        write_new(&config_file, text.as_bytes(), 0o644)?;
        created.push(Item { part: Part::Config, path: config_file.clone() });
    }

    // 4. The ledger and its first signing key.
    let facility = config.facility_id_or_default();
    let appliance = config.appliance_id_or_default();
    let ledger = match Ledger::open(&data_dir, clock.clone()) {
        Ok(l) => {
            l.check_identity(Some(&facility), Some(&appliance))?;
            l
        }
        Err(LedgerError::Missing(_)) => {
            let l = Ledger::create(&data_dir, &facility, &appliance, clock.clone())?;
            created.push(Item { part: Part::Ledger, path: data_dir.join(DB_FILE) });
            created.extend(ledger_keys(&data_dir)?.into_iter().map(|path| Item { part: Part::LedgerKey, path }));
            l
        }
        Err(e) => return Err(e.into()),
    };
    let origin = ledger.identity().origin.clone();
    let vkey = ledger.reader()?.verifier_keys()?.pop().unwrap_or_default();
    drop(ledger);

    // 5. The template key: made only while no template is stored (as `serve` does), else it must exist.
    let mut store = Store::open(&data_dir, Open::MustExist)?;
    let key_file = Vault::key_path(&data_dir);
    let had_key = std::fs::symlink_metadata(&key_file).is_ok();
    let _vault = if store.template_count()? == 0 { Vault::open_or_create(&data_dir)? } else { Vault::open(&data_dir)? };
    if !had_key {
        created.push(Item { part: Part::TemplateKey, path: key_file });
    }
    let witness_file = data_dir.join(crate::ledger::cosign::WITNESS_KEY_FILE);
    let had_witness = std::fs::symlink_metadata(&witness_file).is_ok();
    let witness = crate::peers::witness(&data_dir, &origin)?.verifier().to_vkey();
    if !had_witness {
        created.push(Item { part: Part::WitnessKey, path: witness_file });
    }

    // 6. One SCBK per controller key file the lanes name.
    for (lanes, path) in &scbks {
        let scbk_error = |source| ProvisionError::Scbk { path: path.clone(), source };
        if std::fs::symlink_metadata(path).is_ok() {
            scbk::read(path).map_err(scbk_error)?;
        } else {
            scbk::create(path).map_err(scbk_error)?;
            created.push(Item { part: Part::Scbk(lanes.clone()), path: path.clone() });
        }
    }

    // 7. The admin token (the secret leaves this function once, in the result).
    let now = crate::clock::rfc3339(clock.wall());
    let (admin_name, admin_token) = admin_token(&mut store, &now)?;
    drop(store);

    // 8. Run as root: give the service's files to the data directory's owner.
    give_to_owner(&data_dir, scbks.iter().map(|(_, p)| p.as_path()))?;

    let kept = existing;
    Ok(Provisioned { config_file, config, origin, created, kept, admin_name, admin_token, vkey, witness })
}

/// With `force`: what is kept must work with the configuration — the ledger of its facility and appliance,
/// the template key that opens the stored templates, readable controller keys — checked before anything
/// is written, so that a refusal leaves no half-provisioned appliance.
fn check_usable(
    config: &Config,
    data_dir: &Path,
    scbks: &[(Vec<String>, PathBuf)],
    clock: Arc<dyn Clock>,
) -> Result<(), ProvisionError> {
    if data_dir.join(DB_FILE).exists() {
        match Ledger::open(data_dir, clock) {
            Ok(l) => {
                l.check_identity(Some(&config.facility_id_or_default()), Some(&config.appliance_id_or_default()))?
            }
            Err(LedgerError::Missing(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let templates = Store::open(data_dir, Open::MustExist)?.template_count()?;
        if templates > 0 || std::fs::symlink_metadata(Vault::key_path(data_dir)).is_ok() {
            Vault::open(data_dir)?;
        }
    } else if std::fs::symlink_metadata(Vault::key_path(data_dir)).is_ok() {
        Vault::open(data_dir)?;
    }
    for (_, path) in scbks {
        if std::fs::symlink_metadata(path).is_ok() {
            scbk::read(path).map_err(|source| ProvisionError::Scbk { path: path.clone(), source })?;
        }
    }
    Ok(())
}

/// With `force` and an existing configuration: refuses a template or ids that would change it.
fn check_kept(req: &Request, file: &Path, config: &Config) -> Result<(), ProvisionError> {
    let kept = |conflict: String| ProvisionError::ConfigKept { file: file.to_owned(), conflict };
    if let Template::File { path, .. } = &req.template {
        return Err(kept(format!("--config-template {} would replace it", path.display())));
    }
    for (flag, given, found) in [
        ("--facility-id", &req.facility_id, &config.facility_id),
        ("--appliance-id", &req.appliance_id, &config.appliance_id),
    ] {
        if let Some(g) = given
            && found.as_ref() != Some(g)
        {
            return Err(kept(format!("{flag} {g} differs from its {}", found.as_deref().unwrap_or("(unset) id"))));
        }
    }
    Ok(())
}

/// Each key file the lanes name, with the lanes that use it, in the configuration's order.
fn scbk_files(config: &Config) -> Vec<(Vec<String>, PathBuf)> {
    let mut out: Vec<(Vec<String>, PathBuf)> = Vec::new();
    for lane in &config.lanes {
        if let Some(f) = &lane.scbk_file {
            match out.iter_mut().find(|(_, p)| p == f) {
                Some((lanes, _)) => lanes.push(lane.id.clone()),
                None => out.push((vec![lane.id.clone()], f.clone())),
            }
        }
    }
    out
}

/// The ledger signing key files in the data directory.
fn ledger_keys(data_dir: &Path) -> Result<Vec<PathBuf>, ProvisionError> {
    let keys = KeyDir::in_data_dir(data_dir);
    keys.files().map_err(io(keys.path()))
}

/// Every file of an appliance that exists under these paths.
fn existing(
    config_file: &Path,
    data_dir: &Path,
    scbks: &[(Vec<String>, PathBuf)],
) -> Result<Vec<Item>, ProvisionError> {
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let mut found = Vec::new();
    let mut add = |part: Part, path: PathBuf| {
        if exists(&path) {
            found.push(Item { part, path });
        }
    };
    add(Part::Config, config_file.to_owned());
    add(Part::Ledger, data_dir.join(DB_FILE));
    for path in ledger_keys(data_dir)? {
        add(Part::LedgerKey, path);
    }
    add(Part::TemplateKey, Vault::key_path(data_dir));
    add(Part::WitnessKey, data_dir.join(crate::ledger::cosign::WITNESS_KEY_FILE));
    for (lanes, path) in scbks {
        add(Part::Scbk(lanes.clone()), path.clone());
    }
    Ok(found)
}

/// Makes `dir` with `mode` (its missing parents 0755); an existing directory keeps its mode, less any bit
/// `mode` does not have.
fn make_dir(dir: &Path, mode: u32) -> Result<(), ProvisionError> {
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(parent).map_err(io(parent))?;
    }
    let created = match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => false,
        Err(e) => return Err(io(dir)(e)),
    };
    // The umask may have taken bits from a new directory; an existing one looser than `mode` is tightened.
    let found = std::fs::metadata(dir).map_err(io(dir))?.mode() & 0o777;
    let wanted = if created { mode } else { found & mode };
    if found != wanted {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(wanted)).map_err(io(dir))?;
    }
    Ok(())
}

/// Writes a new file (never over an existing one): to `<file>.partial`, fsynced, renamed into place
/// with `mode`, and its directory fsynced.
fn write_new(file: &Path, bytes: &[u8], mode: u32) -> Result<(), ProvisionError> {
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&partial).map_err(io(&partial))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io(&partial))?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(mode)).map_err(io(&partial))?;
    // A hard link fails if the file appeared meanwhile, where a rename would replace it.
    std::fs::hard_link(&partial, file).map_err(io(file))?;
    std::fs::remove_file(&partial).map_err(io(&partial))?;
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

/// A new admin token: `admin`, or `admin-2`, `admin-3`, … when an active token has the name.
fn admin_token(store: &mut Store, now: &str) -> Result<(String, Secret), ProvisionError> {
    for n in 1..=100 {
        let name = if n == 1 { ADMIN.to_owned() } else { format!("{ADMIN}-{n}") };
        match auth::create(store, &name, "admin", now) {
            Ok((secret, _)) => return Ok((name, secret)),
            Err(AuthError::Store(StoreError::Conflict(_))) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict("a hundred active admin tokens already exist; revoke some").into())
}

/// Makes everything under `data_dir` readable by its owner only (SQLite makes its file with the
/// process's umask), and gives it, and `others`, the owner and group of `data_dir` (a change only when
/// run as root on a directory made for the service's user).
fn give_to_owner<'a>(data_dir: &Path, others: impl Iterator<Item = &'a Path>) -> Result<(), ProvisionError> {
    let owner = std::fs::metadata(data_dir).map_err(io(data_dir))?;
    let (uid, gid) = (owner.uid(), owner.gid());
    let chown = |p: &Path| -> Result<std::fs::Metadata, ProvisionError> {
        let m = std::fs::symlink_metadata(p).map_err(io(p))?;
        if m.uid() != uid || m.gid() != gid {
            std::os::unix::fs::lchown(p, Some(uid), Some(gid)).map_err(io(p))?;
        }
        Ok(m)
    };
    let mut stack = vec![data_dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            let m = chown(&path)?;
            if !m.file_type().is_symlink() && m.mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m.mode() & 0o700))
                    .map_err(io(&path))?;
            }
            if m.is_dir() {
                stack.push(path);
            }
        }
    }
    for p in others {
        chown(p)?;
    }
    Ok(())
}
