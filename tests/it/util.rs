//! Helpers shared by the integration tests: running the binary, a server on a free port, HTTP calls,
//! and the independent verifier.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The `tally` binary under test.
pub fn tally_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tally")
}

/// Runs `tally --data-dir DIR ARGS…` and returns its output.
pub fn tally(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(tally_bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("TALLY_LOG", "warn")
        .output()
        .expect("run tally")
}

/// Like [`tally`], but panics with its stderr unless it succeeded; returns stdout.
pub fn tally_ok(data_dir: &Path, args: &[&str]) -> String {
    let out = tally(data_dir, args);
    assert!(out.status.success(), "tally {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A running `tally serve` on 127.0.0.1 and a free port. Killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `tally --data-dir DIR serve --listen 127.0.0.1:0` and waits for it to listen.
    pub fn start(data_dir: &Path) -> Server {
        Server::spawn(data_dir, "warn", Stdio::inherit())
    }

    /// Like [`Server::start`], logging at `debug` into the file `log`.
    pub fn start_logging_to(data_dir: &Path, log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("create the log file");
        Server::spawn(data_dir, "debug", Stdio::from(file))
    }

    fn spawn(data_dir: &Path, level: &str, stderr: Stdio) -> Server {
        let mut child = Command::new(tally_bin())
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TALLY_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn tally serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read listening line");
        let addr =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Server { child, addr: addr.to_owned(), data_dir: data_dir.to_owned() }
    }

    /// `http://ADDR/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL, as a power cut would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit; returns whether it exited with status 0.
    pub fn stop(mut self) -> bool {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP agent that returns 4xx/5xx answers instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and body text of a response.
pub fn read(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut r = resp.expect("HTTP request");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

/// GET with an optional bearer token.
pub fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    read(req.call())
}

/// POST a JSON body (given as raw bytes) with an optional bearer token.
pub fn post(url: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    read(req.send(body))
}

/// Creates a token and returns its secret.
pub fn token(data_dir: &Path, role: &str, name: &str) -> String {
    tally_ok(data_dir, &["tokens", "create", "--role", role, "--name", name]).trim().to_owned()
}

/// Whether tests run under CI, where missing prerequisites are failures rather than skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips the calling test (returns `None`) with a message, or fails it under CI.
pub fn skip<T>(why: &str) -> Option<T> {
    if in_ci() {
        panic!("required under CI: {why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// ../shared/data/fvc2002 beside the project, or a skip (a failure under CI).
pub fn fvc() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fvc2002");
    if dir.join("DB1_B").is_dir() { Some(dir) } else { skip(&format!("FVC2002 data not found at {}", dir.display())) }
}

/// ../shared/data/usb/NAME beside the project (a recorded USB session), or a skip (a failure under CI).
pub fn usb_recording(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/usb").join(name);
    if dir.join("capture.pcapng").is_file() {
        Some(dir)
    } else {
        skip(&format!("USB recording not found at {}", dir.display()))
    }
}

/// The independent verifier (tests/verifier, Go's sumdb/note and sumdb/tlog), built once.
/// `None` (test skipped) when Go or golang.org/x/mod is not installed, except under CI.
pub fn go_verifier() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = root.join("target").join("tally-verifier");
        let status = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg("./tests/verifier")
            .current_dir(root)
            .env("GOPATH", "/usr/share/gocode")
            .env("GO111MODULE", "off")
            .status();
        match status {
            Ok(s) if s.success() => Some(out),
            _ => None,
        }
    });
    match built {
        Some(p) => Some(p.as_path()),
        None => {
            skip("the Go verifier could not be built: install golang-go and golang-golang-x-mod-dev (tests/run does)")
        }
    }
}

/// Runs the Go verifier; returns (success, stdout+stderr).
pub fn run_verifier(verifier: &Path, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(verifier).args(args).output().expect("run the Go verifier");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// One to three random mutations of `bytes` for fuzz-style tests: bit flips, bytes replaced by or
/// inserted from `interesting` (or any byte), deletions, truncation, and a slice copied elsewhere.
pub fn mutate(rng: &mut fastrand::Rng, interesting: &[u8], bytes: &mut Vec<u8>) {
    for _ in 0..rng.usize(1..4) {
        let len = bytes.len();
        let pick = |rng: &mut fastrand::Rng| match rng.bool() {
            true => rng.choice(interesting.iter()).copied().unwrap_or(0),
            false => rng.u8(..),
        };
        match rng.u8(0..6) {
            0 if len > 0 => bytes[rng.usize(..len)] ^= 1 << rng.u8(0..8),
            1 if len > 0 => {
                let at = rng.usize(..len);
                bytes[at] = pick(rng);
            }
            2 => {
                let b = pick(rng);
                bytes.insert(rng.usize(..=len), b);
            }
            3 if len > 0 => {
                bytes.remove(rng.usize(..len));
            }
            4 => bytes.truncate(rng.usize(..=len)),
            _ if len > 2 => {
                // Copy a slice somewhere else (moves lines, repeats entries or minutiae).
                let a = rng.usize(..len);
                let b = rng.usize(a..len.min(a + 200));
                let chunk = bytes[a..b].to_vec();
                let at = rng.usize(..=len);
                bytes.splice(at..at, chunk);
            }
            _ => {}
        }
    }
}
