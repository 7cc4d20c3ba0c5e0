//! Controllers' secure channel keys (OSDP SCBKs) as files: 32 hex digits in a file of mode 0600, one per
//! controller, named by each lane's `scbk_file`.
//!
//! It owns the file format, the permission check on reading and the one way a new key file is made
//! (random, never over an existing file, durable before it is used). It does not own the key's use: the
//! OSDP driver (`tally_osdp`) runs the secure channel, and `tally provision` decides when keys are made.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use tally_osdp::Key;
use tally_osdp::random::{Random as _, SystemRng};

/// Why a key file could not be read or written. The messages are the lane's explanation of the problem.
#[derive(Debug, thiserror::Error)]
pub enum ScbkError {
    /// The file (or its directory) could not be read, created or written.
    #[error("{source}")]
    Io {
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file may be read by others than its owner.
    #[error("mode {mode:o} lets others read it; chmod 600")]
    Permissions {
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold 32 hex digits.
    #[error(transparent)]
    Format(#[from] tally_osdp::secure::SecureError),
    /// The system's random generator failed.
    #[error(transparent)]
    Random(#[from] tally_osdp::random::RandomError),
}

fn io(source: std::io::Error) -> ScbkError {
    ScbkError::Io { source }
}

/// Reads a controller's key, refusing a file that others may read.
pub fn read(path: &Path) -> Result<Key, ScbkError> {
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(ScbkError::Permissions { mode: mode & 0o777 });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    Ok(Key::from_hex(text.trim())?)
}

/// Makes a new random key in a new file `path` (mode 0600; its directory, if missing, mode 0700). An
/// existing file is never replaced (`AlreadyExists`). The file and its directory are fsynced before this
/// returns, so a key given to a controller cannot be lost with a power cut.
pub fn create(path: &Path) -> Result<(), ScbkError> {
    let dir: PathBuf = path.parent().map(Path::to_owned).unwrap_or_else(|| PathBuf::from("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io)?;
    let mut bytes = [0u8; 16];
    SystemRng::new().fill(&mut bytes)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    file.write_all(hex.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_private_readable_and_never_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys").join("osdp-a.scbk");
        create(&path).expect("created");
        assert_eq!(std::fs::metadata(&path).expect("file").permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().expect("dir")).expect("dir").permissions().mode() & 0o777, 0o700);
        let before = std::fs::read(&path).expect("read");
        assert_eq!(before.len(), 32);
        read(&path).expect("reads back");
        assert!(
            matches!(create(&path), Err(ScbkError::Io { source }) if source.kind() == std::io::ErrorKind::AlreadyExists)
        );
        assert_eq!(std::fs::read(&path).expect("read"), before);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(matches!(read(&path), Err(ScbkError::Permissions { mode: 0o640 })));
    }
}
