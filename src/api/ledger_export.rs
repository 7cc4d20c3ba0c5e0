//! `GET /api/v1/ledger/export`: the auditor's export (`tally ledger export`, [`crate::ledger::export`]) as
//! one downloadable tar file, so an auditor takes the ledger away from a browser.
//!
//! The export is written by the same code as the command, into a scratch directory inside the data
//! directory; its files are opened and the directory removed at once (the open files stay readable), so
//! nothing is left behind even if the download stops. The tar (POSIX ustar) is then streamed from those
//! files: memory stays small whatever the ledger's size. Unpacked, it is a directory that
//! `tally ledger verify DIR` and standard tools check (its `README` says how).

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, ReadLedger};
use crate::ledger::export::{self, ExportError};
use crate::ledger::{LedgerReader, epochs};

/// Bytes read from an export file per chunk of the response.
const CHUNK: usize = 64 * 1024;
/// Tar's block size.
const BLOCK: u64 = 512;

/// Scratch directories of exports in progress in this process (names must not collide).
static SCRATCH: AtomicU64 = AtomicU64::new(0);

/// The ledger's export as a tar file: one directory holding `README`, `checkpoint`, `log.vkey`,
/// `keys.vkey` and `entries.jsonl`, exactly as `tally ledger export` writes them.
#[utoipa::path(get, path = "/api/v1/ledger/export", tag = "ledger",
    responses((status = 200, description = "a POSIX tar file of the export directory (verify it unpacked with \
        `tally ledger verify DIR` or the tools its README names)", content_type = "application/x-tar"),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn export(State(state): State<AppState>, _: Caller<ReadLedger>) -> Result<Response, ApiError> {
    let data_dir = state.inner.data_dir.clone();
    let mtime = state.facility().clock.wall().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let prepared = state.compute(move || prepare(&data_dir)).await??;
    let length = prepared.files.iter().map(|(_, _, len)| BLOCK + padded(*len)).sum::<u64>() + 2 * BLOCK;
    let file_name = format!("{}.tar", prepared.dir);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || stream_tar(prepared, mtime, &tx));
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let headers = [
        (header::CONTENT_TYPE, "application/x-tar".to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
        (header::CONTENT_LENGTH, length.to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
    ];
    Ok((headers, body).into_response())
}

/// An export written and opened, its directory already removed.
struct Prepared {
    /// The directory name inside the tar.
    dir: String,
    /// Each file's name (a path under the directory: a restored appliance's earlier epochs are under
    /// `epochs/<n>/`), open handle and length.
    files: Vec<(String, File, u64)>,
}

/// Removes a scratch directory when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn export_error(e: ExportError) -> ApiError {
    match e {
        ExportError::Ledger(e) => e.into(),
        e => ApiError::unavailable("ledger export", &e),
    }
}

/// Writes the export into a scratch directory and opens its files.
fn prepare(data_dir: &Path) -> Result<Prepared, ApiError> {
    let n = SCRATCH.fetch_add(1, Ordering::Relaxed);
    let scratch = Scratch(data_dir.join(format!(".export-{}-{n}", std::process::id())));
    // Left by a process of the same pid that died mid-export: it is ours to remove.
    let _ = std::fs::remove_dir_all(&scratch.0);
    let mut reader = LedgerReader::open(data_dir)?;
    let exported = export::export(&mut reader, &scratch.0).map_err(export_error)?;
    let mut files = Vec::new();
    let names = [export::README, export::CHECKPOINT, export::LOG_VKEY, export::KEYS_VKEY, export::ENTRIES];
    let earlier = epochs::archived(&scratch.0).map_err(|e| ApiError::unavailable("ledger export", &e))?;
    let dirs =
        std::iter::once(String::new()).chain(earlier.iter().map(|a| format!("{}/{}/", epochs::EPOCHS_DIR, a.epoch)));
    for prefix in dirs {
        for name in names {
            let name = format!("{prefix}{name}");
            let path = scratch.0.join(&name);
            let opened = File::open(&path).and_then(|f| Ok((f.metadata()?.len(), f)));
            let (len, file) = opened.map_err(|e| ApiError::unavailable("ledger export", &e))?;
            files.push((name, file, len));
        }
    }
    let origin: String =
        exported.origin.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    let dir: String = format!("ledger-{origin}-{}", exported.size).chars().take(100).collect();
    Ok(Prepared { dir, files })
}

/// Sends the tar in chunks; stops when the client goes away.
fn stream_tar(prepared: Prepared, mtime: u64, tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>) {
    let send = |chunk: std::io::Result<Vec<u8>>| tx.blocking_send(chunk).is_ok();
    for (name, file, len) in prepared.files {
        if !send(Ok(header(&prepared.dir, &name, len, mtime).to_vec())) {
            return;
        }
        let mut left = file.take(len);
        let mut sent = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK];
            match left.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    sent += n as u64;
                    if !send(Ok(buf)) {
                        return;
                    }
                }
                Err(e) => {
                    let _ = send(Err(e));
                    return;
                }
            }
        }
        if sent != len {
            let _ = send(Err(std::io::Error::other(format!("{name} shrank while it was sent"))));
            return;
        }
        if !send(Ok(vec![0u8; (padded(len) - len) as usize])) {
            return;
        }
    }
    let _ = send(Ok(vec![0u8; 2 * BLOCK as usize]));
}

/// `len` rounded up to whole blocks.
fn padded(len: u64) -> u64 {
    len.div_ceil(BLOCK) * BLOCK
}

/// A ustar header for the regular file `dir/name` (`dir` at most 155 bytes, `name` at most 100) of
/// `size` bytes, mode 0644, owned by root. Sizes of 8 GiB and more use the base-256 form GNU and BSD
/// tar read.
fn header(dir: &str, name: &str, size: u64, mtime: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    let octal = |h: &mut [u8; 512], at: usize, width: usize, v: u64| {
        put(h, at, format!("{v:0w$o}", w = width - 1).as_bytes());
    };
    put(&mut h, 0, &name.as_bytes()[..name.len().min(100)]);
    octal(&mut h, 100, 8, 0o644);
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    if size < 8u64.pow(11) {
        octal(&mut h, 124, 12, size);
    } else {
        h[124] = 0x80;
        put(&mut h, 128, &size.to_be_bytes());
    }
    octal(&mut h, 136, 12, mtime.min(8u64.pow(11) - 1));
    h[156] = b'0';
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    put(&mut h, 265, b"root");
    put(&mut h, 297, b"root");
    put(&mut h, 345, &dir.as_bytes()[..dir.len().min(155)]);
    // The checksum is the sum of the header's bytes with its own field read as spaces.
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(h: &[u8], at: usize, len: usize) -> String {
        String::from_utf8_lossy(&h[at..at + len]).trim_end_matches('\0').to_string()
    }

    #[test]
    fn a_header_has_the_ustar_fields_and_a_valid_checksum() {
        let h = header("ledger-makala-gate-1-42", "entries.jsonl", 1234, 1_795_000_000);
        assert_eq!(field(&h, 0, 100), "entries.jsonl");
        assert_eq!(field(&h, 100, 8), "0000644");
        assert_eq!(field(&h, 124, 12), format!("{:011o}", 1234));
        assert_eq!(field(&h, 136, 12), format!("{:011o}", 1_795_000_000u64));
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert_eq!(field(&h, 345, 155), "ledger-makala-gate-1-42");
        let stored = u32::from_str_radix(&field(&h, 148, 6), 8).unwrap();
        assert_eq!(&h[154..156], b"\0 ");
        let mut blanked = h;
        blanked[148..156].fill(b' ');
        assert_eq!(stored, blanked.iter().map(|&b| u32::from(b)).sum::<u32>());
    }

    #[test]
    fn huge_sizes_use_base_256_and_blocks_round_up() {
        let h = header("d", "f", 1 << 40, 0);
        assert_eq!(h[124], 0x80);
        assert_eq!(&h[128..136], &(1u64 << 40).to_be_bytes());
        assert_eq!((padded(0), padded(1), padded(512), padded(513)), (0, 512, 512, 1024));
    }
}
