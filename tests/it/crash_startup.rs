//! Crash safety while the service starts: `tally serve` is SIGKILLed 0–40 ms after it was spawned, from
//! the very first start (while it creates the database, the signing key and entry 0) through later starts
//! (while it opens the ledger and records its boot). After every kill the database passes
//! `PRAGMA integrity_check`, and at the end the ledger exists once, starts cleanly and verifies.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Server, tally_bin, tally_ok};

const KILLS: u64 = 25;

#[test]
fn killing_the_service_while_it_starts_leaves_a_ledger_that_verifies() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("data");
    let seed = std::env::var("TALLY_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    eprintln!("crash_startup seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    for round in 0..KILLS {
        let mut child = Command::new(tally_bin())
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TALLY_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tally serve");
        // The first rounds kill earliest, to land inside the creation of a new ledger.
        let delay = if round < 8 { rng.u64(0..=8) } else { rng.u64(0..=40) };
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let db = data.join("tally.db");
        if db.exists() {
            let conn = rusqlite::Connection::open(&db).expect("open the database");
            let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
            assert_eq!(ok, "ok", "round {round} (killed after {delay} ms)");
        }
    }
    // A normal start and stop after all that.
    let server = Server::start(&data);
    assert!(server.stop(), "the service stops cleanly");
    let out = tmp.path().join("export");
    tally_ok(&data, &["ledger", "export", "--out", out.to_str().expect("utf-8 path")]);
    let report = tally_ok(&data, &["ledger", "verify", out.to_str().expect("utf-8 path")]);
    assert!(report.starts_with("ok:"), "{report}");
    let entries = std::fs::read_to_string(out.join("entries.jsonl")).expect("entries");
    let genesis = entries.lines().filter(|l| l.contains("\"previous\":null")).count();
    assert_eq!(genesis, 1, "the ledger was created exactly once");
    assert!(entries.lines().last().is_some_and(|l| l.contains("\"kind\":\"shutdown\"")));
}
