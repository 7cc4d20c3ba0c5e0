//! `tally doctor` on a root provisioned for real by `tally provision --root`, with its turnstile bus a
//! pseudo-terminal where the OSDP controller simulator answers with the key provisioning made: all ok (or
//! skipped) and exit code 0 once the udev rules are installed under the root; then one thing broken at a
//! time — a key file others may read, the udev rules changed, a controller with another key or at another
//! address, a configuration naming another appliance than the ledger, the data directory gone, an entry of
//! the ledger altered on disk — each reported failed with its fix, and exit code 1.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tally_osdp::Key;
use tally_osdp::pd::SimConfig;
use tally_osdp::pd::pty::PtyPd;

use crate::util::tally_bin;

const TEMPLATE: &str = r#"data_dir = "/var/lib/tally"
[facility]
id = "makala"
[appliance]
id = "gate-doc-1"
[[lane]]
id = "north-in"
from_zone = "outside"
to_zone = "reception"
reader = "simulated"
turnstile_port = "TURNSTILE_PORT"
turnstile_address = 1
scbk_file = "/var/lib/tally/keys/osdp-north-in.scbk"
"#;

struct Appliance {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    data: PathBuf,
}

/// A provisioned root with one lane on a simulated reader; its turnstile port is a symbolic link, as udev
/// makes them, to be pointed at a simulated controller's pseudo-terminal; and the shipped udev rules
/// installed.
fn provisioned() -> Appliance {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("dev")).expect("mkdir");
    let port = root.join("dev/tally-bus");
    let template = tmp.path().join("site.toml");
    std::fs::write(&template, TEMPLATE.replace("TURNSTILE_PORT", port.to_str().expect("utf-8"))).expect("template");
    let out = Command::new(tally_bin())
        .args(["provision", "--root"])
        .arg(&root)
        .arg("--config-template")
        .arg(&template)
        .env("TALLY_LOG", "warn")
        .output()
        .expect("run tally provision");
    assert!(out.status.success(), "provision failed: {}", String::from_utf8_lossy(&out.stderr));
    let rules = root.join("etc/udev/rules.d");
    std::fs::create_dir_all(&rules).expect("mkdir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("udev/70-tally.rules");
    std::fs::copy(shipped, rules.join("70-tally.rules")).expect("install rules");
    let config = root.join("etc/tally/tally.toml");
    let data = root.join("var/lib/tally");
    Appliance { _tmp: tmp, root, config, data }
}

/// Starts a simulated controller at `address` with `key` and points the lane's port at it.
fn controller(a: &Appliance, address: u8, key: Key) -> PtyPd {
    let pd = PtyPd::start(vec![SimConfig::secure(address, key)]).expect("a simulated controller");
    let port = a.root.join("dev/tally-bus");
    let _ = std::fs::remove_file(&port);
    std::os::unix::fs::symlink(pd.path(), &port).expect("link the port");
    pd
}

/// The key provisioning made for the lane's controller.
fn provisioned_key(a: &Appliance) -> Key {
    let hex = std::fs::read_to_string(a.data.join("keys/osdp-north-in.scbk")).expect("scbk");
    Key::from_hex(hex.trim()).expect("32 hex digits")
}

/// `tally --config … doctor --root … --json`: the exit code and the checks.
fn doctor(a: &Appliance) -> (i32, Vec<Value>) {
    doctor_with(a, &[])
}

fn doctor_with(a: &Appliance, extra: &[&str]) -> (i32, Vec<Value>) {
    let out = Command::new(tally_bin())
        .arg("--config")
        .arg(&a.config)
        .args(["doctor", "--json", "--root"])
        .arg(&a.root)
        .args(extra)
        .env("TALLY_LOG", "warn")
        .output()
        .expect("run tally doctor");
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let code = out.status.code().expect("exit code");
    assert_eq!(report["ok"], Value::Bool(code == 0), "{report:#}");
    (code, report["checks"].as_array().expect("checks").clone())
}

/// The one failed check, which must be named `name` and whose fix must contain `fix`.
fn only_failure(checks: &[Value], name: &str, fix: &str) {
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "expected only {name} to fail: {failed:#?}");
    assert_eq!(failed[0]["name"], name, "{failed:#?}");
    let got = failed[0]["fix"].as_str().expect("a fix");
    assert!(got.contains(fix), "fix of {name} is {got:?}, wanted it to say {fix:?}");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn doctor_passes_a_fresh_appliance_and_names_each_broken_part_with_its_fix() {
    let a = provisioned();
    let pd = controller(&a, 1, provisioned_key(&a));
    let (code, checks) = doctor(&a);
    for c in &checks {
        assert!(c["status"] == "ok" || c["status"] == "skipped", "not ok on a fresh appliance: {c:#}");
    }
    assert_eq!(code, 0);
    let status = |name: &str| checks.iter().find(|c| c["name"] == name).map(|c| c["status"].clone());
    assert_eq!(status("lane north-in reader"), Some("skipped".into()));
    for name in ["configuration", "data directory", "disk space", "ledger", "clock", "udev rules", "template key"] {
        assert_eq!(status(name), Some("ok".into()), "{name}: {checks:#?}");
    }
    let answered = checks.iter().find(|c| c["name"] == "lane north-in turnstile controller").expect("polled");
    assert_eq!(answered["status"], "ok", "{answered:#}");
    assert!(answered["found"].as_str().is_some_and(|f| f.contains("secure channel")), "{answered:#}");
    assert_eq!(doctor_with(&a, &["--no-controllers"]).0, 0);

    // The controller holds another key than the appliance's: the secure channel is refused.
    drop(pd);
    let pd = controller(&a, 1, Key::from_hex("0f0e0d0c0b0a09080706050403020100").expect("key"));
    let (code, checks) = doctor_with(&a, &["--controller-wait", "3"]);
    assert_eq!(code, 1);
    only_failure(&checks, "lane north-in turnstile controller", "scbk_file");

    // Nothing answers at the lane's address.
    drop(pd);
    let pd = controller(&a, 2, provisioned_key(&a));
    let (code, checks) = doctor_with(&a, &["--controller-wait", "2"]);
    assert_eq!(code, 1);
    only_failure(&checks, "lane north-in turnstile controller", "RS-485 wiring");
    drop(pd);
    let _pd = controller(&a, 1, provisioned_key(&a));

    // The configuration names another appliance than the ledger was made for.
    let configured = std::fs::read_to_string(&a.config).expect("config");
    std::fs::write(&a.config, configured.replace("gate-doc-1", "gate-doc-2")).expect("write config");
    let (code, checks) = doctor(&a);
    assert_eq!(code, 1);
    only_failure(&checks, "ledger", "[appliance] id");
    std::fs::write(&a.config, &configured).expect("write config");

    // A key file others may read.
    let key = a.data.join("keys/templates.key");
    chmod(&key, 0o644);
    let (code, checks) = doctor(&a);
    assert_eq!(code, 1);
    only_failure(&checks, "key file templates.key", &format!("chmod 600 {}", key.display()));
    chmod(&key, 0o600);

    // A controller key others may read.
    let scbk = a.data.join("keys/osdp-north-in.scbk");
    chmod(&scbk, 0o644);
    let (code, checks) = doctor(&a);
    assert_eq!(code, 1);
    only_failure(&checks, "lane north-in controller key", "chmod 600");
    chmod(&scbk, 0o600);

    // udev rules that are not this version's.
    let rules = a.root.join("etc/udev/rules.d/70-tally.rules");
    let shipped = std::fs::read(&rules).expect("rules");
    std::fs::write(&rules, b"# an older version\n").expect("write");
    let (code, checks) = doctor(&a);
    assert_eq!(code, 1);
    only_failure(&checks, "udev rules", "udevadm control --reload && udevadm trigger");
    std::fs::write(&rules, &shipped).expect("write");

    // The data directory gone.
    let moved = a.root.join("var/lib/tally-moved");
    std::fs::rename(&a.data, &moved).expect("move");
    let (code, checks) = doctor(&a);
    assert_eq!(code, 1);
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "failed").collect();
    assert_eq!(failed[0]["name"], "data directory", "{failed:#?}");
    assert!(failed[0]["fix"].as_str().is_some_and(|f| f.contains("tally provision")));
    std::fs::rename(&moved, &a.data).expect("move back");
    assert_eq!(doctor(&a).0, 0, "restored");

    // An entry altered on disk: its appliance id changed inside the database file.
    let db = a.data.join("tally.db");
    let mut bytes = std::fs::read(&db).expect("db");
    let needle = br#""appliance":"gate-doc-1""#;
    let mut altered = 0;
    for i in 0..bytes.len().saturating_sub(needle.len()) {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + needle.len() - 2] = b'7';
            altered += 1;
        }
    }
    assert!(altered > 0, "no entry found in {}", db.display());
    std::fs::write(&db, &bytes).expect("write db");
    let (code, checks) = doctor(&a);
    assert_eq!(code, 1);
    only_failure(&checks, "ledger", "restore the data directory");
}
