//! A lane end to end against an independent turnstile controller: the PyPI `libosdp` 3.2.9 PD
//! (drivers/osdp/tests/peer/libosdp_pd.py) on a pseudo-terminal, which the lane's OSDP bus opens by
//! its path as it would an RS-485 adapter, with the secure channel and the key read from a 0600 key
//! file; a simulated reader fed synthetic fingerprints, the real engine and index, the real ledger.
//! Started as `tally serve` starts lanes (`gate::service::start`). Each outcome must leave exactly its
//! entries and exactly its commands at the controller.
//!
//! Needs the venv tests/run makes (.venv with tests/peers/requirements.txt); skips without it,
//! except under CI (CI=true), where it fails.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use tally::config::{LaneSetting, ReaderSetting};
use tally::gate::runner::OpenDoor;
use tally::gate::service;

use crate::lane::{PEOPLE, identifier, ledger, summary, touch_image, wait_entries};

const KEY_HEX: &str = "3f1e2d4c5b6a79881726354453627180";

/// The libosdp PD, talked to over its stdin/stdout.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    path: String,
}

impl Peer {
    fn start(python: &Path) -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("drivers/osdp/tests/peer/libosdp_pd.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["new", "1", KEY_HEX])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the libosdp peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let ready = lines.recv_timeout(Duration::from_secs(20)).expect("the peer starts");
        let path = ready.strip_prefix("READY ").expect("READY and the pseudo-terminal's path").to_string();
        Peer { child, stdin, lines, path }
    }

    fn ask(&mut self, request: &str) -> String {
        writeln!(self.stdin, "{request}").expect("write to the peer");
        self.lines.recv_timeout(Duration::from_secs(15)).expect("the peer answers")
    }

    /// The output commands (osdp_OUT) the PD received since the last call, as "output/code/timer".
    fn outputs(&mut self) -> Vec<String> {
        let mut outs = Vec::new();
        loop {
            let line = self.ask("command 0.3");
            if line == "NONE" {
                return outs;
            }
            if line.contains(" output_no=") {
                let field = |k: &str| {
                    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{k}="))).unwrap_or("?").to_string()
                };
                outs.push(format!("{}/{}/{}", field("output_no"), field("control_code"), field("timer_count")));
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = Command::new(&python).args(["-c", "import osdp"]).output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    crate::util::skip(&format!("libosdp is not installed in {} (tests/run installs it)", python.display()))
}

fn setting(port: &str, key_file: &Path) -> LaneSetting {
    LaneSetting {
        id: "north-in".into(),
        from_zone: "outside".into(),
        to_zone: "reception".into(),
        reader: ReaderSetting::Simulated,
        turnstile_port: port.into(),
        turnstile_address: 1,
        turnstile_baud: 9600,
        scbk_file: Some(key_file.to_path_buf()),
        install_mode: false,
        output: 2,
        pulse: Duration::from_millis(2500),
        passage_input: 0,
        passage_timeout: Duration::from_secs(2),
    }
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_lane_with_a_libosdp_controller_on_the_secure_channel_records_every_outcome() {
    let Some(python) = peer_python() else { return };
    let mut peer = Peer::start(&python);
    let (dir, sink) = ledger();
    let broken = sink.broken.clone();
    let key_file = dir.path().join("osdp-north-in.scbk");
    std::fs::write(&key_file, format!("{KEY_HEX}\n")).expect("key file");
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let gate = {
        let _entered = runtime.enter();
        service::start(&[setting(&peer.path, &key_file)], Arc::new(identifier()), Arc::new(OpenDoor), Arc::new(sink))
            .expect("lanes")
    };
    let finger = gate.fingers.get("north-in").expect("a simulated reader").clone();
    let dir = dir.path();

    // The controller comes online over the secure channel.
    let mut expected = vec!["alarm turnstile_online".to_string()];
    assert_eq!(summary(&wait_entries(dir, 1)), expected);
    assert_eq!(peer.ask("secure"), "SECURE yes");
    peer.outputs();

    // Granted and passed: the grant is durable before the OUT reaches the controller.
    finger.touch(touch_image(3, 2));
    wait_until("the grant", Duration::from_secs(20), || wait_entries(dir, 0).len() >= 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(peer.ask("input 1 0 0 0"), "OK");
    expected.extend(["grant P-0003".into(), "passage".into()]);
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    assert_eq!(peer.outputs(), ["2/5/25"], "one temporary-on pulse of output 2 for 2.5 s");
    assert_eq!(peer.ask("input 0 0 0 0"), "OK");

    // Granted and not passed.
    finger.touch(touch_image(1, 3));
    expected.extend(["grant P-0001".into(), "passage_timeout".into()]);
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    assert_eq!(peer.outputs(), ["2/5/25"]);

    // Denied: a stranger; no output command.
    finger.touch(touch_image(PEOPLE, 1));
    expected.push("denial no_match".into());
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    std::thread::sleep(Duration::from_millis(500));
    assert!(peer.outputs().is_empty(), "no release for a denial");

    // The controller silent: offline after OSDP's 8 s, alarm, and a known person refused.
    assert_eq!(peer.ask("silent"), "OK");
    expected.push("alarm turnstile_offline".into());
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    finger.touch(touch_image(2, 1));
    expected.push("denial lane_locked".into());
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    assert_eq!(peer.ask("resume"), "OK");
    expected.push("alarm turnstile_online".into());
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    assert!(peer.outputs().is_empty(), "nothing was released while offline");

    // The ledger unwritable: no grant, no release; then the outage is recorded and the lane works.
    broken.store(true, Ordering::SeqCst);
    finger.touch(touch_image(4, 2));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(summary(&wait_entries(dir, 0)), expected, "nothing written while the ledger was down");
    assert!(peer.outputs().is_empty(), "no release without a durable grant");
    broken.store(false, Ordering::SeqCst);
    expected.push("alarm ledger_unwritable".into());
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    finger.touch(touch_image(4, 3));
    expected.extend(["grant P-0004".into(), "passage_timeout".into()]);
    assert_eq!(summary(&wait_entries(dir, expected.len())), expected);
    assert_eq!(peer.outputs(), ["2/5/25"]);

    gate.stop();
    drop(runtime);
}
