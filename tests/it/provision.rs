//! `tally provision` run for real into a temporary root: the files it makes and their modes, the verifier
//! key it prints verifying the new ledger's checkpoint (after `serve` has run on it), the admin token it
//! prints opening the API, a second provisioning refused with nothing changed, and `--force` making only
//! what is missing.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::{get, tally_bin};

const FACILITY: &str = "makala";
const APPLIANCE: &str = "gate-test-1";

fn provision(root: &Path, extra: &[&str]) -> Output {
    Command::new(tally_bin())
        .args(["provision", "--root"])
        .arg(root)
        .args(extra)
        .env("TALLY_LOG", "debug")
        .output()
        .expect("run tally provision")
}

/// `tally --config CONFIG ARGS…`, which must succeed; its stdout.
fn with_config(config: &Path, args: &[&str]) -> String {
    let out = Command::new(tally_bin()).arg("--config").arg(config).args(args).env("TALLY_LOG", "warn").output();
    let out = out.expect("run tally");
    assert!(out.status.success(), "tally {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Every file and directory under `root`: its mode and, for files, its content.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, Option<Vec<u8>>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("list") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let hash = if meta.is_file() {
                Some(std::fs::read(&path).expect("read"))
            } else {
                stack.push(path.clone());
                None
            };
            out.insert(path.strip_prefix(root).expect("under root").to_owned(), (meta.mode() & 0o7777, hash));
        }
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).mode() & 0o777
}

/// The line of `stdout` that starts with `prefix`.
fn line_starting<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    let mut found = stdout.lines().filter(|l| l.starts_with(prefix));
    let line = found.next().unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{stdout}"));
    assert!(found.next().is_none(), "more than one line starting {prefix:?}");
    line
}

#[test]
fn provisions_a_fresh_root_once_with_keys_a_token_and_a_verifier_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let out = provision(root, &["--facility-id", FACILITY, "--appliance-id", APPLIANCE]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "provision failed: {stderr}");
    let token = line_starting(&stdout, "tly_").to_owned();
    let vkey = line_starting(&stdout, &format!("{FACILITY}/{APPLIANCE}+")).to_owned();
    assert!(!stderr.contains(&token), "the token was logged: {stderr}");
    assert_eq!(stdout.matches(&token).count(), 1, "the token is printed exactly once");

    // The files and their modes: the configuration is public, everything in the data directory private.
    let config_file = root.join("etc/tally/tally.toml");
    let data = root.join("var/lib/tally");
    assert_eq!((mode(&root.join("etc/tally")), mode(&config_file)), (0o755, 0o644));
    let config = tally::config::Config::load(Some(&config_file)).expect("the configuration written loads");
    assert_eq!(config.data_dir, data);
    assert_eq!(config.facility_id.as_deref(), Some(FACILITY));
    assert_eq!(config.appliance_id.as_deref(), Some(APPLIANCE));
    let keys = data.join("keys");
    let scbk = keys.join("osdp-north-in.scbk");
    assert_eq!(config.lanes.iter().map(|l| l.scbk_file.clone()).collect::<Vec<_>>(), [Some(scbk.clone())]);
    let ledger_keys: Vec<PathBuf> = std::fs::read_dir(&keys)
        .expect("keys dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("ledger-")))
        .collect();
    assert_eq!(ledger_keys.len(), 1, "one ledger signing key: {ledger_keys:?}");
    let vkey_id = vkey.split('+').nth(1).expect("vkey has a key id");
    assert!(ledger_keys[0].ends_with(format!("ledger-{vkey_id}.pk8")), "{ledger_keys:?} vs {vkey}");
    assert_eq!(std::fs::read(keys.join("templates.key")).expect("template key").len(), 32);
    let scbk_text = std::fs::read_to_string(&scbk).expect("scbk");
    assert!(scbk_text.len() == 32 && scbk_text.bytes().all(|b| b.is_ascii_hexdigit()), "SCBK {scbk_text:?}");
    for (path, (m, hash)) in snapshot(&data) {
        let expected = if hash.is_some() { 0o600 } else { 0o700 };
        assert_eq!(m & 0o777, expected, "{} has mode {m:o}", path.display());
    }
    assert_eq!(mode(&data), 0o700);
    for name in ["tally.toml", "ledger-", "templates.key", "osdp-north-in.scbk", "ADMIN TOKEN", "VERIFIER KEY"] {
        assert!(stdout.contains(name), "the report does not mention {name}:\n{stdout}");
    }

    // A second provisioning is refused, names what exists, and changes nothing.
    let before = snapshot(root);
    for extra in [&["--facility-id", FACILITY, "--appliance-id", APPLIANCE][..], &[]] {
        let again = provision(root, extra);
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(!again.status.success(), "a second provision succeeded");
        assert!(again.stdout.is_empty(), "a refused provision printed {:?}", String::from_utf8_lossy(&again.stdout));
        for what in ["already provisioned", "tally.toml", "tally.db", "templates.key", "ledger-", "osdp-north-in.scbk"]
        {
            assert!(err.contains(what), "the refusal does not name {what}: {err}");
        }
        assert_eq!(snapshot(root), before, "a refused provision changed files");
    }

    // The admin token opens the API of `serve` run on the provisioned configuration; a made-up one does not.
    let mut child = Command::new(tally_bin())
        .arg("--config")
        .arg(&config_file)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TALLY_LOG", "warn")
        .stdout(Stdio::piped())
        // The example's lane has no reader or controller here; its complaints are expected.
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("listening line");
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected {line:?}")).to_owned();
    let (status, body) = get(&format!("http://{addr}/api/v1/session"), Some(&token));
    let (bad, _) = get(&format!("http://{addr}/api/v1/session"), Some("tly_notatoken"));
    let (cp_status, served_checkpoint) = get(&format!("http://{addr}/api/v1/ledger/checkpoint"), Some(&token));
    let _ = rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM);
    let stopped = child.wait().expect("serve exits");
    assert_eq!((status, bad, cp_status), (200, 401, 200), "session: {body}");
    assert!(body.contains("\"admin\""), "the token is not the admin's: {body}");
    assert!(stopped.success(), "serve did not stop cleanly");

    // The printed verifier key, and only it, verifies an export of the ledger (boot and shutdown included).
    let export = tmp.path().join("export");
    with_config(&config_file, &["ledger", "export", "--out", export.to_str().expect("utf-8 path")]);
    assert_eq!(std::fs::read_to_string(export.join("log.vkey")).expect("log.vkey").trim(), vkey);
    let key_file = tmp.path().join("auditor.vkey");
    std::fs::write(&key_file, format!("{vkey}\n")).expect("write vkey");
    let ok = with_config(
        &config_file,
        &["ledger", "verify", export.to_str().expect("utf-8"), "--key", key_file.to_str().expect("utf-8")],
    );
    assert!(ok.starts_with("ok: ") && ok.contains(&format!("{FACILITY}/{APPLIANCE}")), "{ok}");
    assert!(served_checkpoint.contains(&format!("{FACILITY}/{APPLIANCE}")), "{served_checkpoint}");
    let other = tempfile::tempdir().expect("tempdir");
    let out = provision(other.path(), &["--facility-id", FACILITY, "--appliance-id", APPLIANCE]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let other_vkey =
        line_starting(&String::from_utf8_lossy(&out.stdout), &format!("{FACILITY}/{APPLIANCE}+")).to_owned();
    assert_ne!(other_vkey, vkey, "two appliances got the same key");
    std::fs::write(&key_file, format!("{other_vkey}\n")).expect("write vkey");
    let refused = Command::new(tally_bin())
        .args(["ledger", "verify"])
        .arg(&export)
        .arg("--key")
        .arg(&key_file)
        .output()
        .expect("run verify");
    assert_eq!(refused.status.code(), Some(3), "another appliance's key verified this ledger");
}

#[test]
fn force_makes_only_what_is_missing_and_never_replaces_a_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let first = provision(root, &["--facility-id", FACILITY, "--appliance-id", APPLIANCE]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let first_out = String::from_utf8_lossy(&first.stdout).into_owned();
    let vkey = line_starting(&first_out, &format!("{FACILITY}/{APPLIANCE}+")).to_owned();
    let keys = root.join("var/lib/tally/keys");
    let scbk = keys.join("osdp-north-in.scbk");
    let lost = std::fs::read(&scbk).expect("scbk");
    std::fs::remove_file(&scbk).expect("lose the SCBK");
    let before = snapshot(&keys);

    // --force with another template or other ids would change the kept configuration: refused.
    let changed = provision(root, &["--force", "--appliance-id", "gate-other"]);
    assert!(!changed.status.success());
    assert!(String::from_utf8_lossy(&changed.stderr).contains("is kept"), "{:?}", changed);
    assert_eq!(snapshot(&keys), before);

    let out = provision(root, &["--force"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The same ledger and keys; a new SCBK where it was missing; a second admin token.
    assert_eq!(line_starting(&stdout, &format!("{FACILITY}/{APPLIANCE}+")), vkey);
    let after = snapshot(&keys);
    for (path, state) in &before {
        assert_eq!(after.get(path), Some(state), "{} changed", path.display());
    }
    assert_ne!(std::fs::read(&scbk).expect("new scbk"), lost);
    assert_eq!(mode(&scbk), 0o600);
    assert!(stdout.contains("\"admin-2\""), "{stdout}");
    assert!(stdout.contains("kept") && stdout.contains("created"), "{stdout}");
    let listed = with_config(&root.join("etc/tally/tally.toml"), &["tokens", "list"]);
    assert_eq!(listed.lines().filter(|l| l.ends_with("\tactive")).count(), 2, "{listed}");

    // The configuration lost, and ids that are not the ledger's: refused before anything is written again.
    let config_file = root.join("etc/tally/tally.toml");
    std::fs::remove_file(&config_file).expect("lose the configuration");
    let before = snapshot(root);
    let out = provision(root, &["--force", "--facility-id", FACILITY, "--appliance-id", "gate-other"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to makala/gate-test-1"), "{out:?}");
    assert_eq!(snapshot(root), before, "a refused --force changed files");
    let out = provision(root, &["--force", "--facility-id", FACILITY, "--appliance-id", APPLIANCE]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(config_file.exists());
}

#[test]
fn the_example_needs_real_ids_and_a_bad_template_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = provision(tmp.path(), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--facility-id"), "{out:?}");
    let template = tmp.path().join("site.toml");
    std::fs::write(&template, "[facility]\nid = \"makala\"\nlisten_port = 3\n").expect("write");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let out = provision(&root, &["--config-template", template.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("site.toml:3"), "{out:?}");
    assert!(snapshot(&root).is_empty(), "a refused template wrote files");
}
