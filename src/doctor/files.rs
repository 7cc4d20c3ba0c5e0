//! The doctor's checks of files: the data directory (owner, mode, free space), the key files (ledger
//! signing keys, the template key, the controllers' SCBKs) and the installed udev rules.
//!
//! The verdicts are pure functions of what was read (modes, owners, byte counts, file contents), tested
//! here; the functions that read are thin.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::{Check, Status};
use crate::config::Config;
use crate::ledger::keys::KeyDir;
use crate::people::vault::{self, Vault};
use crate::store::{Open, Store, StoreError};

/// The udev rules this build ships, which the installed copy must equal.
pub const SHIPPED_UDEV_RULES: &str = include_str!("../../udev/70-tally.rules");
/// Where udev reads rules, the first found winning (as udev itself lets /etc override /usr/lib).
pub const UDEV_RULES_PATHS: [&str; 2] = ["etc/udev/rules.d/70-tally.rules", "usr/lib/udev/rules.d/70-tally.rules"];

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
/// Below this much free space, a warning.
pub const WARN_FREE: u64 = GIB;
/// Below this much free space, a failure: the ledger may soon fail to write and the lanes lock.
pub const FAIL_FREE: u64 = 100 * MIB;

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The data directory: present, a directory, ours, mode 0700.
pub fn data_dir(dir: &Path) -> Check {
    const NAME: &str = "data directory";
    match std::fs::metadata(dir) {
        Err(e) => Check::failed(
            NAME,
            format!("{}: {e}", dir.display()),
            "run `tally provision` (or `systemd-tmpfiles --create tally.conf`), or fix data_dir in the configuration",
        ),
        Ok(m) if !m.is_dir() => {
            Check::failed(NAME, format!("{} is not a directory", dir.display()), "fix data_dir in the configuration")
        }
        Ok(m) => dir_verdict(dir, m.uid(), m.mode() & 0o7777, euid()),
    }
}

/// The data directory's verdict from its owner and mode, for the user `me`.
pub fn dir_verdict(dir: &Path, owner: u32, mode: u32, me: u32) -> Check {
    const NAME: &str = "data directory";
    let d = dir.display();
    if owner != me {
        Check::failed(
            NAME,
            format!("{d} is owned by uid {owner}, not by this user (uid {me})"),
            format!("run tally as the tally user, or `chown -R tally:tally {d}`"),
        )
    } else if mode & 0o077 != 0 {
        Check::failed(NAME, format!("{d} has mode {mode:o}: others may look inside"), format!("chmod 700 {d}"))
    } else {
        Check::ok(NAME, format!("{d}, mode {mode:o}, owned by this user"))
    }
}

/// Free space on the data directory's file system.
pub fn disk_space(dir: &Path) -> Check {
    match rustix::fs::statvfs(dir) {
        Err(e) => Check::failed(
            "disk space",
            format!("cannot read the free space of {}: {e}", dir.display()),
            "check that the data directory's file system is mounted",
        ),
        Ok(s) => space_verdict(dir, s.f_bavail.saturating_mul(s.f_frsize)),
    }
}

/// The verdict for `free` bytes available on `dir`'s file system.
pub fn space_verdict(dir: &Path, free: u64) -> Check {
    const NAME: &str = "disk space";
    let found = format!("{} MiB free on {}", free / MIB, dir.display());
    let fix = format!(
        "free space on the file system of {} (old logs, exports copied off the appliance), or give it a larger disk",
        dir.display()
    );
    if free < FAIL_FREE {
        Check::failed(NAME, format!("{found}: the ledger may soon be unable to write, and the lanes would lock"), fix)
    } else if free < WARN_FREE {
        Check::warning(NAME, format!("{found} (less than 1 GiB)"), fix)
    } else {
        Check::ok(NAME, found)
    }
}

/// The verdict for a key file from its metadata (`None`: missing, with the error), for the user `me`.
pub fn key_verdict(name: &str, path: &Path, meta: Result<(u32, u32), std::io::Error>, me: u32) -> Check {
    let p = path.display();
    match meta {
        Err(e) => Check::failed(
            name,
            format!("{p}: {e}"),
            "run `tally provision --force` to make a missing key (never replace one that is still in use: restore it from the backup instead)",
        ),
        Ok((owner, _)) if owner != me => Check::failed(
            name,
            format!("{p} is owned by uid {owner}, not by this user (uid {me})"),
            format!("chown tally:tally {p} (run tally as the tally user)"),
        ),
        Ok((_, mode)) if mode & 0o077 != 0 => {
            Check::failed(name, format!("{p} has mode {mode:o}: others may read it"), format!("chmod 600 {p}"))
        }
        Ok((_, mode)) => Check::ok(name, format!("{p}, mode {mode:o}, owned by this user")),
    }
}

fn key_file(name: &str, path: &Path) -> Check {
    let meta = std::fs::metadata(path).map(|m| (m.uid(), m.mode() & 0o7777));
    key_verdict(name, path, meta, euid())
}

/// The ledger signing keys and the template key, and whether the template key opens a stored template.
pub fn key_files(data_dir: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    let keys = KeyDir::in_data_dir(data_dir);
    match keys.files() {
        Ok(files) if !files.is_empty() => {
            for f in files {
                let name = format!("key file {}", f.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
                checks.push(key_file(&name, &f));
            }
        }
        Ok(_) => checks.push(Check::failed(
            "ledger signing key",
            format!("no ledger-*.pk8 in {}", keys.path().display()),
            "restore the signing key from the appliance's backup; without it the ledger cannot be written",
        )),
        Err(e) => checks.push(Check::failed(
            "ledger signing key",
            format!("cannot list {}: {e}", keys.path().display()),
            "run `tally provision` (or restore the keys directory from the backup)",
        )),
    }
    let path = Vault::key_path(data_dir);
    let file = key_file("key file templates.key", &path);
    let usable = file.status == Status::Ok;
    checks.push(file);
    if usable {
        checks.push(template_key_opens(data_dir));
    }
    checks
}

/// Whether the template key opens the first stored template (if any).
fn template_key_opens(data_dir: &Path) -> Check {
    const NAME: &str = "template key";
    let vault = match Vault::open(data_dir) {
        Ok(v) => v,
        Err(e) => {
            return Check::failed(NAME, e.to_string(), "restore keys/templates.key from the appliance's backup");
        }
    };
    let store = match Store::open(data_dir, Open::MustExist) {
        Ok(s) => s,
        Err(e) => return Check::skipped(NAME, format!("no database to try it on: {e}")),
    };
    let mut first = None;
    let listed = store.templates_each::<StoreError>(|t| {
        if first.is_none() {
            first = Some(t);
        }
        Ok(())
    });
    match (listed, first) {
        (Err(e), _) => Check::failed(NAME, format!("cannot read the stored templates: {e}"), "see the ledger check"),
        (Ok(_), None) => Check::ok(NAME, "the key is 32 bytes; no template is stored yet to try it on"),
        (Ok(n), Some(t)) => match vault.open_sealed(&vault::template_context(&t.person, t.finger), &t.sealed) {
            Ok(_) => Check::ok(NAME, format!("the key opens the stored templates ({n} stored, the first tried)")),
            Err(_) => Check::failed(
                NAME,
                format!("keys/templates.key does not open template {} (of {n})", t.id),
                "the key was replaced: restore the original keys/templates.key from the backup (templates sealed with another key cannot be read)",
            ),
        },
    }
}

/// Each lane's controller key file (SCBK): present, ours, 0600, 32 hex digits.
pub fn scbk_files(config: &Config) -> Vec<Check> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut checks = Vec::new();
    for lane in &config.lanes {
        let Some(path) = &lane.scbk_file else {
            checks.push(Check::warning(
                format!("lane {} controller key", lane.id),
                "install mode: the published install key is used",
                "once the controller has taken its key, remove turnstile_install_mode and set scbk_file (see provisioning/tally.toml)",
            ));
            continue;
        };
        if seen.contains(path) {
            continue;
        }
        seen.push(path.clone());
        let name = format!("lane {} controller key", lane.id);
        let check = key_file(&name, path);
        if check.status != Status::Ok {
            checks.push(check);
            continue;
        }
        checks.push(match crate::gate::scbk::read(path) {
            Ok(_) => check,
            Err(e) => Check::failed(
                name,
                format!("{}: {e}", path.display()),
                "the file must hold the controller's key as 32 hex digits; restore it from the backup",
            ),
        });
    }
    checks
}

/// Whether the udev rules installed under `root` are the ones this build ships.
pub fn udev_rules(root: &Path) -> Check {
    let found = UDEV_RULES_PATHS.iter().map(|p| root.join(p)).find(|p| p.exists());
    let text = found.as_ref().map(|p| std::fs::read_to_string(p).map_err(|e| e.to_string()));
    udev_verdict(found.as_deref(), text)
}

/// The verdict for the installed rules file `path` (None: none found) with its content.
pub fn udev_verdict(path: Option<&Path>, text: Option<Result<String, String>>) -> Check {
    const NAME: &str = "udev rules";
    const INSTALL: &str = "install -m 0644 udev/70-tally.rules /etc/udev/rules.d/70-tally.rules (from this version of tally), then run `udevadm control --reload && udevadm trigger`";
    match (path, text) {
        (Some(p), Some(Ok(t))) if t == SHIPPED_UDEV_RULES => {
            Check::ok(NAME, format!("{} is this version's", p.display()))
        }
        (Some(p), Some(Ok(_))) => {
            Check::failed(NAME, format!("{} differs from the rules this version of tally ships", p.display()), INSTALL)
        }
        (Some(p), Some(Err(e))) => Check::failed(NAME, format!("cannot read {}: {e}", p.display()), INSTALL),
        _ => Check::failed(
            NAME,
            "70-tally.rules is in neither /etc/udev/rules.d nor /usr/lib/udev/rules.d: readers and serial adapters will not be given to the tally group",
            INSTALL,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_directory_must_be_ours_and_private() {
        let d = Path::new("/var/lib/tally");
        assert_eq!(dir_verdict(d, 7, 0o700, 7).status, Status::Ok);
        let open = dir_verdict(d, 7, 0o755, 7);
        assert_eq!((open.status, open.fix.as_deref()), (Status::Failed, Some("chmod 700 /var/lib/tally")));
        let theirs = dir_verdict(d, 0, 0o700, 7);
        assert_eq!(theirs.status, Status::Failed);
        assert!(theirs.fix.as_deref().is_some_and(|f| f.contains("chown")));
    }

    #[test]
    fn free_space_warns_below_a_gibibyte_and_fails_below_100_mib() {
        let d = Path::new("/d");
        assert_eq!(space_verdict(d, 2 * GIB).status, Status::Ok);
        assert_eq!(space_verdict(d, GIB - 1).status, Status::Warning);
        assert_eq!(space_verdict(d, 100 * MIB).status, Status::Warning);
        let full = space_verdict(d, 100 * MIB - 1);
        assert_eq!(full.status, Status::Failed);
        assert!(full.fix.as_deref().is_some_and(|f| f.starts_with("free space on")));
    }

    #[test]
    fn a_key_file_others_may_read_fails_with_chmod_600() {
        let p = Path::new("/k/templates.key");
        assert_eq!(key_verdict("k", p, Ok((5, 0o600)), 5).status, Status::Ok);
        assert_eq!(key_verdict("k", p, Ok((5, 0o400)), 5).status, Status::Ok);
        let c = key_verdict("k", p, Ok((5, 0o644)), 5);
        assert_eq!((c.status, c.fix.as_deref()), (Status::Failed, Some("chmod 600 /k/templates.key")));
        assert_eq!(key_verdict("k", p, Ok((0, 0o600)), 5).status, Status::Failed);
        let missing = key_verdict("k", p, Err(std::io::ErrorKind::NotFound.into()), 5);
        assert_eq!(missing.status, Status::Failed);
    }

    #[test]
    fn udev_rules_must_be_installed_and_identical() {
        let p = Path::new("/etc/udev/rules.d/70-tally.rules");
        assert_eq!(udev_verdict(Some(p), Some(Ok(SHIPPED_UDEV_RULES.into()))).status, Status::Ok);
        let old = udev_verdict(Some(p), Some(Ok("# old\n".into())));
        assert_eq!(old.status, Status::Failed);
        assert!(old.fix.as_deref().is_some_and(|f| f.contains("udevadm control --reload && udevadm trigger")));
        assert_eq!(udev_verdict(None, None).status, Status::Failed);
    }
}
