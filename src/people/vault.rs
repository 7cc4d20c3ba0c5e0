//! The template vault: AES-256-GCM sealing of fingerprint templates and photos, so that a copy of the
//! database alone gives away no one's biometric data.
//!
//! It owns the template key file, `<data_dir>/keys/templates.key` (32 random bytes, mode 0600, kept apart
//! from the database and written durably before first use), and the sealed format. It does not store
//! sealed data (the store does) nor know what it seals. Each sealed blob is bound to where it belongs by
//! its context, the additional authenticated data ([`template_context`], [`photo_context`]): a blob copied
//! to another person's row or finger does not open there.
//!
//! # Sealed format, version 1
//! `1` (one byte) ‖ nonce (12 random bytes) ‖ ciphertext (as long as the plaintext) ‖ tag (16 bytes).
//! Nonces are drawn at random for each seal; at the register's size (a few hundred thousand seals over
//! the key's life) the chance of a repeat is negligible, far below the 2³² seals a key allows.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Length of the template key, bytes.
pub const KEY_LEN: usize = 32;
/// The sealed format this build writes (and the only one it reads).
pub const SEALED_VERSION: u8 = 1;
/// Bytes a seal adds to its plaintext: version, nonce and tag.
pub const SEALED_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// Length of the GCM tag.
const TAG_LEN: usize = 16;

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key file or its directory could not be read or written.
    #[error("cannot use template key file {path}")]
    KeyFile {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is readable or writable by others than its owner.
    #[error("template key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)")]
    KeyPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold a key.
    #[error("template key file {path} holds {len} bytes, not {KEY_LEN}")]
    KeyLength {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Sealed data does not open: another key, another context, tampered with, truncated, or a format
    /// this build does not know.
    #[error("sealed data does not open with this key and context")]
    Undecryptable,
}

/// The context (additional authenticated data) of a person's template for one finger.
pub fn template_context(person: &str, finger: u8) -> Vec<u8> {
    format!("template:{person}:{finger}").into_bytes()
}

/// The context (additional authenticated data) of a person's photo.
pub fn photo_context(person: &str) -> Vec<u8> {
    format!("photo:{person}").into_bytes()
}

/// The template key, ready to seal and open. `Debug` never prints the key.
pub struct Vault {
    key: LessSafeKey,
    rng: SystemRandom,
}

/// Written by hand: the key stays out of logs.
impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("algorithm", &"AES-256-GCM").finish_non_exhaustive()
    }
}

impl Vault {
    /// Where the template key of `data_dir` lives.
    pub fn key_path(data_dir: &Path) -> PathBuf {
        data_dir.join("keys").join("templates.key")
    }

    /// Opens the existing template key of `data_dir`, refusing a key file that others may read or that
    /// is not 32 bytes long. A missing key file is an error ([`VaultError::KeyFile`], not found): it is
    /// never replaced implicitly.
    pub fn open(data_dir: &Path) -> Result<Vault, VaultError> {
        let path = Vault::key_path(data_dir);
        let io = |source| VaultError::KeyFile { path: path.clone(), source };
        let meta = std::fs::metadata(&path).map_err(io)?;
        if meta.mode() & 0o077 != 0 {
            return Err(VaultError::KeyPermissions { path, mode: meta.mode() & 0o777 });
        }
        if meta.len() != KEY_LEN as u64 {
            return Err(VaultError::KeyLength { path, len: meta.len() });
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        Vault::from_key(&bytes).ok_or(VaultError::KeyLength { path, len: bytes.len() as u64 })
    }

    /// Opens the template key of `data_dir`, creating it first when there is none: 32 random bytes
    /// written to a new file of mode 0600, the file and its directory fsynced before this returns.
    ///
    /// Only for a data directory that holds no sealed data yet (first start): where templates are
    /// stored, use [`Vault::open`], so that a lost key file is reported rather than replaced by a key
    /// that opens nothing.
    pub fn open_or_create(data_dir: &Path) -> Result<Vault, VaultError> {
        let path = Vault::key_path(data_dir);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Vault::open(data_dir);
        }
        let mut key = [0u8; KEY_LEN];
        SystemRandom::new().fill(&mut key).map_err(|_: ring::error::Unspecified| VaultError::Random)?;
        match write_key_file(&path, &key) {
            // Another process created it meanwhile: use theirs.
            Err(VaultError::KeyFile { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                Vault::open(data_dir)
            }
            Err(e) => Err(e),
            Ok(()) => Vault::from_key(&key).ok_or(VaultError::KeyLength { path, len: KEY_LEN as u64 }),
        }
    }

    /// A vault of `key`, `None` unless it is [`KEY_LEN`] bytes.
    fn from_key(key: &[u8]) -> Option<Vault> {
        let key = UnboundKey::new(&AES_256_GCM, key).ok()?;
        Some(Vault { key: LessSafeKey::new(key), rng: SystemRandom::new() })
    }

    /// Seals `plain` for `context` (see the module docs for the format).
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_: ring::error::Unspecified| VaultError::Random)?;
        let mut out = Vec::with_capacity(SEALED_OVERHEAD + plain.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut out[1 + NONCE_LEN..],
            )
            // Fails only for a plaintext beyond GCM's limit (64 GiB), which nothing here seals.
            .map_err(|_: ring::error::Unspecified| VaultError::Undecryptable)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what [`Vault::seal`] sealed for `context`. Anything else — another key or context, a
    /// changed or missing byte, an unknown version — is [`VaultError::Undecryptable`].
    pub fn open_sealed(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < SEALED_OVERHEAD || sealed[0] != SEALED_VERSION {
            return Err(VaultError::Undecryptable);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
            .map_err(|_: ring::error::Unspecified| VaultError::Undecryptable)?;
        let mut buf = sealed[1 + NONCE_LEN..].to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_: ring::error::Unspecified| VaultError::Undecryptable)?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

/// Writes a new key file (never overwriting one) with mode 0600, then fsyncs it and its directory. A
/// file left half written by a failed write is removed.
fn write_key_file(path: &Path, key: &[u8]) -> Result<(), VaultError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| VaultError::KeyFile { path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    if let Err(e) = f.write_all(key).and_then(|()| f.sync_all()) {
        drop(f);
        // Best effort: a short file would be refused at every later start.
        let _ = std::fs::remove_file(path);
        return Err(io(path)(e));
    }
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn seals_and_opens_in_its_context_only() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open_or_create(dir.path()).unwrap();
        let plain = b"TFPT minutiae minutiae minutiae minutiae".to_vec();
        let ctx = template_context("MKL-1", 2);
        let sealed = v.seal(&ctx, &plain).unwrap();
        assert_eq!(sealed.len(), plain.len() + SEALED_OVERHEAD);
        assert_eq!(sealed[0], SEALED_VERSION);
        assert!(!sealed.windows(8).any(|w| plain.windows(8).any(|p| p == w)), "plaintext visible in sealed bytes");
        assert_eq!(v.open_sealed(&ctx, &sealed).unwrap(), plain);
        // Two seals of the same plaintext differ (fresh nonce).
        assert_ne!(v.seal(&ctx, &plain).unwrap(), sealed);
        // An empty plaintext seals too.
        assert_eq!(v.open_sealed(b"", &v.seal(b"", b"").unwrap()).unwrap(), b"");

        // Moved to another finger, another person, or from template to photo.
        for other in [template_context("MKL-1", 3), template_context("MKL-10", 2), photo_context("MKL-1")] {
            assert!(matches!(v.open_sealed(&other, &sealed), Err(VaultError::Undecryptable)));
        }
        // Any byte changed, including the version and the nonce.
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(matches!(v.open_sealed(&ctx, &t), Err(VaultError::Undecryptable)), "byte {i}");
        }
        // Truncated anywhere, or extended.
        for n in 0..sealed.len() {
            assert!(matches!(v.open_sealed(&ctx, &sealed[..n]), Err(VaultError::Undecryptable)), "length {n}");
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(matches!(v.open_sealed(&ctx, &longer), Err(VaultError::Undecryptable)));
    }

    #[test]
    fn another_key_opens_nothing_and_the_key_survives_reopening() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let va = Vault::open_or_create(a.path()).unwrap();
        let vb = Vault::open_or_create(b.path()).unwrap();
        let sealed = va.seal(b"photo:P1", b"jpeg").unwrap();
        assert!(matches!(vb.open_sealed(b"photo:P1", &sealed), Err(VaultError::Undecryptable)));
        // Reopened, existing or created again: the same key.
        assert_eq!(Vault::open(a.path()).unwrap().open_sealed(b"photo:P1", &sealed).unwrap(), b"jpeg");
        assert_eq!(Vault::open_or_create(a.path()).unwrap().open_sealed(b"photo:P1", &sealed).unwrap(), b"jpeg");
        // The Debug form says nothing of the key.
        assert_eq!(format!("{va:?}"), r#"Vault { algorithm: "AES-256-GCM", .. }"#);
    }

    #[test]
    fn the_key_file_is_private_durable_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let missing = Vault::open(&data);
        assert!(matches!(missing, Err(VaultError::KeyFile { source, .. }) if source.kind() == ErrorKind::NotFound));
        Vault::open_or_create(&data).unwrap();
        let path = Vault::key_path(&data);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.mode() & 0o777, meta.len()), (0o600, KEY_LEN as u64));
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777, 0o700);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Vault::open(&data).unwrap_err();
        assert!(matches!(e, VaultError::KeyPermissions { mode: 0o644, .. }));
        assert!(e.to_string().contains("chmod 600"));
        // open_or_create does not replace or accept it either.
        assert!(matches!(Vault::open_or_create(&data), Err(VaultError::KeyPermissions { .. })));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, [7u8; 31]).unwrap();
        assert!(matches!(Vault::open(&data), Err(VaultError::KeyLength { len: 31, .. })));
    }
}
