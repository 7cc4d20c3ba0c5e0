//! The emulator checked by an independent host library: pyfingerprint (PyPI, pinned in
//! tests/peers/requirements.txt at the project root) runs tests/peer/pyfingerprint_peer.py against
//! the emulator on a pseudo-terminal. The venv is made by tests/run; without it this test skips,
//! except under CI (CI=true), where it fails.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::rig::{Rig, every_grey};

/// The longest the whole Python check may take (it normally takes about a second).
const PEER_LIMIT: Duration = Duration::from_secs(120);

fn project_root() -> PathBuf {
    // drivers/grow → the project root.
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the crate lies two levels down").to_path_buf()
}

/// The venv's Python, or `None` (after saying why) when the test should skip.
fn peer_python() -> Option<PathBuf> {
    let python = project_root().join(".venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    let why = format!(
        "{} is missing: run tests/run, or python3 -m venv .venv && .venv/bin/pip install -r tests/peers/requirements.txt",
        python.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the pyfingerprint cross-check cannot run under CI: {why}");
    }
    eprintln!("skipping the pyfingerprint cross-check: {why}");
    None
}

#[test]
fn pyfingerprint_accepts_the_emulator() {
    let Some(python) = peer_python() else { return };
    let rig = Rig::factory();
    rig.emulator.set_image(every_grey()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.raw");
    std::fs::write(&expected, rig.emulator.quantised_image()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer/pyfingerprint_peer.py");

    let mut child = Command::new(&python)
        .arg(&script)
        .arg(&rig.path)
        .arg(&expected)
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", python.display()));
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines, received) = mpsc::channel();
    thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let mut passed = false;
    loop {
        match received.recv_timeout(PEER_LIMIT) {
            Ok(line) if line == "ASK lift" => rig.emulator.lift_finger(),
            Ok(line) if line == "ASK place" => rig.emulator.place_finger(),
            Ok(line) if line == "PASS" => {
                passed = true;
                continue;
            }
            Ok(line) => panic!("unexpected output from the peer: {line}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                child.kill().unwrap();
                panic!("the peer took longer than {PEER_LIMIT:?}");
            }
        }
        writeln!(stdin, "ok").unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && passed, "pyfingerprint refused the emulator ({}):\n{stderr}", output.status);
}
