//! The files of `provisioning/` checked by systemd itself: `systemd-analyze verify` on the unit (with
//! its `ExecStart=` pointed at the binary under test), its `security` exposure score, and the installer's
//! steps in a temporary root — `systemd-sysusers` makes the tally user, `systemd-tmpfiles` its data
//! directory, and `tally provision` (as root) leaves that directory's files to that user.
//!
//! Without the systemd tools the tests are skipped with a message (a failure under `CI=true`).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{skip, tally_bin};

fn project(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The systemd tool `name`, from the PATH or /usr/bin, or a skip.
fn systemd_tool(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    match on_path {
        Some(p) => Some(p),
        None => skip(&format!("{name} not found (install systemd)")),
    }
}

/// The unit as installed, but starting the binary under test (verify checks that it is executable).
fn unit_for_test(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(project("provisioning/tally.service")).expect("read the unit");
    assert!(text.contains("ExecStart=/usr/bin/tally "), "the unit's ExecStart= changed; update this test");
    let unit = dir.join("tally.service");
    std::fs::write(&unit, text.replace("ExecStart=/usr/bin/tally ", &format!("ExecStart={} ", tally_bin())))
        .expect("write the unit");
    unit
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_reports_its_exposure() {
    let Some(analyze) = systemd_tool("systemd-analyze") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_for_test(dir.path());
    let out = Command::new(&analyze).args(["verify", "--man=no"]).arg(&unit).output().expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify refused the unit:\n{stderr}");
    // Other units of the machine may be reported; nothing may be said about ours.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("tally.service")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns about the unit:\n{}", ours.join("\n"));

    // The exposure score (0 = fully sandboxed, 10 = not at all), where this systemd can compute it offline.
    let out = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("run systemd-analyze security");
    let text = String::from_utf8_lossy(&out.stdout);
    let score = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for tally.service:"))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse::<f64>().ok());
    match score {
        Some(score) => {
            eprintln!("systemd-analyze security: exposure {score} for provisioning/tally.service");
            assert!(score < 3.0, "the unit's exposure rose to {score}:\n{text}");
        }
        None => eprintln!(
            "systemd-analyze security --offline=yes gave no score here (systemd too old?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// The user's uid and gid in `root`'s /etc/passwd.
fn user_in(root: &Path, name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))).flatten()
    })
}

#[test]
fn sysusers_tmpfiles_and_provision_make_an_appliance_the_service_user_owns() {
    let Some(sysusers) = systemd_tool("systemd-sysusers") else { return };
    let Some(tmpfiles) = systemd_tool("systemd-tmpfiles") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir(root.join("etc")).expect("etc");
    let is_root = rustix::process::geteuid().is_root();
    let mut sysusers_cmd = Command::new(&sysusers);
    sysusers_cmd.arg(format!("--root={}", root.display()));
    if !is_root {
        sysusers_cmd.arg("--dry-run");
    }
    let out = sysusers_cmd.arg(project("provisioning/sysusers.d/tally.conf")).output().expect("run systemd-sysusers");
    assert!(out.status.success(), "systemd-sysusers refused sysusers.d/tally.conf: {:?}", out);
    if !is_root {
        eprintln!("SKIPPED: systemd-tmpfiles and provisioning as root need root (sysusers.d parsed with --dry-run)");
        return;
    }
    let (uid, gid) = user_in(root, "tally").expect("systemd-sysusers made the tally user");
    let out = Command::new(&tmpfiles)
        .args(["--create", &format!("--root={}", root.display())])
        .arg(project("provisioning/tmpfiles.d/tally.conf"))
        .output()
        .expect("run systemd-tmpfiles");
    assert!(out.status.success(), "systemd-tmpfiles refused tmpfiles.d/tally.conf: {out:?}");
    let data = root.join("var/lib/tally");
    let meta = std::fs::metadata(&data).expect("tmpfiles made the data directory");
    assert_eq!((meta.mode() & 0o777, meta.uid(), meta.gid()), (0o700, uid, gid));

    let out = Command::new(tally_bin())
        .args(["provision", "--root"])
        .arg(root)
        .args(["--facility-id", "makala", "--appliance-id", "gate-test-2"])
        .output()
        .expect("run tally provision");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut stack = vec![data.clone()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("list") {
            let path = entry.expect("entry").path();
            let m = std::fs::symlink_metadata(&path).expect("metadata");
            assert_eq!((m.uid(), m.gid()), (uid, gid), "{} is not the tally user's", path.display());
            seen += 1;
            if m.is_dir() {
                stack.push(path);
            }
        }
    }
    assert!(seen >= 5, "only {seen} files under the data directory");
    // The configuration stays root's, readable by the service.
    let config = std::fs::metadata(root.join("etc/tally/tally.toml")).expect("config");
    assert_eq!((config.uid(), config.mode() & 0o777), (0, 0o644));
}

/// What `tally serve` tells systemd (`Type=notify`, `WatchdogSec=`), read from a notification socket of
/// our own: READY=1 once it serves, WATCHDOG=1 at half the period asked and only while the ledger writer
/// gets through, STOPPING=1 on SIGTERM.
#[test]
fn serve_tells_systemd_it_is_ready_alive_and_stopping() {
    use std::io::{BufRead as _, BufReader};
    use std::os::unix::net::UnixDatagram;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notification socket");
    socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut child = KillOnDrop(
        Command::new(tally_bin())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TALLY_LOG", "warn")
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "200000")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn serve"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout")).read_line(&mut line).expect("listening line");
    let mut buf = [0u8; 256];
    let mut next = || next_after(&socket, &mut buf);
    assert_eq!(next(), "READY=1");
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(next(), "WATCHDOG=1");
    }
    // Three pings at 100 ms intervals (the first at once): not all at once, and not late.
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(5), "three pings in {took:?}");

    // A writer that cannot get through (another process holds the database's write lock, as a hung
    // writer would) gets no pings: systemd would restart the service. Once it gets through, they resume.
    let mut db = rusqlite::Connection::open(dir.path().join("data/tally.db")).expect("open the database");
    let lock = db.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive).expect("take the write lock");
    socket.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
    while socket.recv(&mut buf).is_ok() {} // what was sent before the lock
    let held = Instant::now();
    let mut while_held = 0;
    while held.elapsed() < Duration::from_secs(2) {
        if socket.recv(&mut buf).is_ok() {
            while_held += 1;
        }
    }
    assert!(while_held <= 1, "{while_held} pings while the writer was stuck (at most the one already in flight)");
    lock.rollback().expect("release the write lock");
    socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let released = Instant::now();
    assert_eq!(next_after(&socket, &mut buf), "WATCHDOG=1");
    assert!(released.elapsed() < Duration::from_secs(2), "pings resumed after {:?}", released.elapsed());
    let mut next = || next_after(&socket, &mut buf);
    let _ = rustix::process::kill_process(rustix::process::Pid::from_child(&child.0), rustix::process::Signal::TERM);
    let mut seen = Vec::new();
    loop {
        let n = next();
        if n == "STOPPING=1" {
            break;
        }
        assert_eq!(n, "WATCHDOG=1", "after {seen:?}");
        seen.push(n);
    }
    assert!(child.0.wait().expect("serve exits").success(), "serve did not stop cleanly");
}

/// The next notification on `socket`, as text.
fn next_after(socket: &std::os::unix::net::UnixDatagram, buf: &mut [u8]) -> String {
    let n = socket.recv(buf).expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A child process killed if the test fails before it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
