//! Ledger signing key files: one PKCS#8 Ed25519 key per file, `keys/ledger-<keyid>.pk8`, mode 0600.
//!
//! The private key is written durably (file and directory fsynced) before the transaction that starts
//! using it commits, so a checkpoint can never be signed by a key that could be lost. A key file readable
//! by anyone but its owner is refused, as ssh does.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use super::LedgerError;
use super::note::Signer;

/// The directory of key files.
#[derive(Debug, Clone)]
pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    /// The `keys` directory inside the data directory.
    pub fn in_data_dir(data_dir: &Path) -> KeyDir {
        KeyDir { dir: data_dir.join("keys") }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The key files in the directory, sorted (none when it does not exist).
    pub fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with("ledger-") && name.ends_with(".pk8") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    fn file(&self, key_id: &str) -> PathBuf {
        self.dir.join(format!("ledger-{key_id}.pk8"))
    }

    /// Writes a new key file (never overwriting one) and makes it durable.
    pub fn store(&self, key_id: &str, pkcs8: &[u8]) -> Result<(), LedgerError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LedgerError::KeyFile { path, source }
        };
        crate::store::create_private_dir(&self.dir)?;
        let path = self.file(key_id);
        let mut f =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io(&path))?;
        f.write_all(pkcs8).and_then(|()| f.sync_all()).map_err(io(&path))?;
        std::fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        Ok(())
    }

    /// Loads the key `key_id` for the log `name`, checking its permissions and that it is that key.
    pub fn load(&self, name: &str, key_id: &str) -> Result<Signer, LedgerError> {
        let path = self.file(key_id);
        let meta = std::fs::metadata(&path).map_err(|source| LedgerError::KeyFile { path: path.clone(), source })?;
        if meta.mode() & 0o077 != 0 {
            return Err(LedgerError::KeyPermissions { path, mode: meta.mode() & 0o777 });
        }
        let bytes = std::fs::read(&path).map_err(|source| LedgerError::KeyFile { path: path.clone(), source })?;
        let signer = Signer::from_pkcs8(name, &bytes)?;
        if signer.verifier().id_hex() != key_id {
            return Err(LedgerError::Corrupt(format!("key file {} holds another key", path.display())));
        }
        Ok(signer)
    }
}
