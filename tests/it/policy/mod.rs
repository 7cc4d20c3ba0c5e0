//! Project policy, checked by reading files: where each heavy dependency may be used (STYLE.md habit 2),
//! module docs and file sizes (habits 1 and 9), the hardening of the systemd unit and its agreement with the
//! example configuration, sysusers.d and tmpfiles.d, and the shape of the udev rules.
//!
//! Nothing here runs tally. Each check collects every offence before failing, so one run lists them all
//! with file and line. The small parsers below (Rust paths, unit files, udev rules) have their own tests,
//! so a check cannot pass by reading nothing.

mod sources;
mod systemd;
mod udev;

use std::path::{Path, PathBuf};

/// The longest a file under src/ may grow (STYLE.md habit 9 says ~600 is where it is probably two files).
pub(super) const MAX_LINES: usize = 700;

pub(super) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// Every `.rs` file under `dir` (relative to the project), as sorted `/`-separated relative paths.
pub(super) fn rs_files(dir: &str) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join(dir), &mut found);
    let mut rel: Vec<String> = found
        .iter()
        .map(|p| p.strip_prefix(root()).expect("under the root").to_string_lossy().replace('\\', "/"))
        .collect();
    rel.sort();
    rel
}

pub(super) fn fail_if_any(what: &str, offences: &[String]) {
    assert!(offences.is_empty(), "{what}:\n  {}", offences.join("\n  "));
}
