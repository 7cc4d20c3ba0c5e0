//! `tally turnstile test`, the installer's check, against the in-tree OSDP PD simulator on a
//! pseudo-terminal: it connects over the secure channel, prints the controller's id and
//! capabilities, and with `--pulse` frees the turnstile once and reports whether someone passed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tally_osdp::Key;
use tally_osdp::pd::SimConfig;
use tally_osdp::pd::pty::PtyPd;

use crate::util::tally_bin;

const KEY: &str = "00112233445566778899aabbccddeeff";

fn simulator() -> PtyPd {
    let key = Key::from_hex(KEY).expect("key");
    PtyPd::start(vec![SimConfig::secure(1, key)]).expect("a simulated controller")
}

fn turnstile_test(path: &str, extra: &[&str]) -> std::process::Child {
    Command::new(tally_bin())
        .args(["turnstile", "test", "--port", path, "--address", "1"])
        .args(extra)
        .env("TALLY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tally")
}

fn finish(child: std::process::Child) -> (bool, String, String) {
    let out = child.wait_with_output().expect("tally ends");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn the_installer_check_runs_the_secure_channel_and_confirms_a_passage() {
    let pd = simulator();
    let child = turnstile_test(pd.path(), &["--scbk", KEY, "--pulse", "--output", "1", "--pulse-ms", "2000"]);
    // Someone walks through once the turnstile is freed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while pd.handle.outputs(1).is_empty() {
        assert!(Instant::now() < deadline, "the turnstile was never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let outs = pd.handle.outputs(1);
    assert_eq!((outs[0].output, outs[0].code, outs[0].timer), (1, 5, 20), "output 1, temporary on, 2.0 s");
    pd.handle.passage(1, 0);
    let (ok, stdout, stderr) = finish(child);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("secure channel: established"), "{stdout}");
    assert!(stdout.contains("capability:"), "{stdout}");
    assert!(stdout.contains("passage confirmed"), "{stdout}");
}

#[test]
fn no_passage_and_a_wrong_key_are_reported() {
    let pd = simulator();
    let (ok, stdout, stderr) = finish(turnstile_test(pd.path(), &["--scbk", KEY, "--pulse", "--wait", "1"]));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("no passage within 1 s"), "{stdout}");

    let wrong = "ffeeddccbbaa99887766554433221100";
    let (ok, _, stderr) = finish(turnstile_test(pd.path(), &["--scbk", wrong, "--connect-wait", "3"]));
    assert!(!ok, "a wrong key connected");
    assert!(stderr.contains("did not come online"), "{stderr}");
    assert!(pd.handle.outputs(1).len() == 1, "nothing more was released");
}
