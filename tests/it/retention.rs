//! Retention through the real binary: `tally serve` with `[retention]` at 0 days, two people registered
//! and enrolled through the API, one released; `tally people purge --dry-run` changes nothing,
//! `tally people purge` records a `templates_deleted` entry (ids and finger positions only) and
//! deletes the released person's template rows and photo from the SQLite file while the service runs,
//! a second purge writes nothing, the person in custody keeps theirs, the running service stops
//! identifying the released person, the export verifies (with tally's verifier and the independent
//! one); then a second release is purged by the service itself when it starts again.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tally::store::{Open, Store};

use crate::appliance::png_base64;
use crate::util::{agent, go_verifier, read, run_verifier, tally_bin, tally_ok, token};

const CONFIG: &str = "[retention]\ntemplates_after_release = \"0d\"\nphotos_after_release = \"0d\"\n";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `tally --config CONFIG --data-dir DATA serve` on a free port; killed when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Serve {
    fn start(data: &Path, config: &Path) -> Serve {
        let mut child = Command::new(tally_bin())
            .args(["--config", s(config), "--data-dir", s(data), "serve", "--listen", "127.0.0.1:0"])
            .env("TALLY_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn tally serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the listening line");
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
        Serve { child, base: format!("http://{addr}") }
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).expect("json") })
            .expect("request");
        let (status, text) = read(agent().run(req));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The people the service identifies from impression 1 of synthetic finger `finger`.
    fn identify(&self, token: &str, finger: u64) -> Vec<String> {
        let (status, reply) =
            self.call("POST", "/api/v1/identify", token, json!({"image": png_base64(finger, 1), "max": 10}));
        assert_eq!(status, 200, "{reply}");
        let candidates = reply["candidates"].as_array().expect("candidates").iter();
        candidates.map(|c| c["person"].as_str().expect("person").to_owned()).collect()
    }

    /// SIGTERM and a clean exit.
    fn stop(mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        assert!(self.child.wait().expect("wait").success(), "tally serve did not stop cleanly");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// (template rows of `person`, template rows in all, whether `person` has a photo), read from the file.
fn rows(data: &Path, person: &str) -> (usize, u64, bool) {
    let store = Store::open(data, Open::MustExist).expect("the database");
    let held = store.retention_holdings(person).expect("holdings");
    (held.fingers.len(), store.template_count().expect("count"), held.photo)
}

/// The ledger's entries, through `tally ledger export` (which `tally ledger verify` then checks).
fn export_and_verify(data: &Path, out: &Path) -> Vec<Value> {
    tally_ok(data, &["ledger", "export", "--out", s(out)]);
    let ok = tally_ok(data, &["ledger", "verify", s(out)]);
    assert!(ok.starts_with("ok: "), "{ok}");
    if let Some(go) = go_verifier() {
        let (ok, text) = run_verifier(go, &[std::ffi::OsStr::new("check"), out.as_os_str()]);
        assert!(ok, "the independent verifier: {text}");
    }
    let text = std::fs::read_to_string(out.join("entries.jsonl")).expect("entries.jsonl");
    text.lines().map(|l| serde_json::from_str(l).expect("entry JSON")).collect()
}

fn of_kind<'a>(entries: &'a [Value], kind: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["kind"] == kind).collect()
}

fn purge(data: &Path, config: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--config", s(config), "people", "purge"];
    args.extend_from_slice(extra);
    tally_ok(data, &args)
}

#[test]
fn released_people_lose_their_templates_recorded_first_once_and_are_no_longer_identified() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data: PathBuf = tmp.path().join("data");
    let config = tmp.path().join("tally.toml");
    std::fs::write(&config, CONFIG).expect("write the configuration");
    let serve = Serve::start(&data, &config);
    let sup = token(&data, "supervisor", "sup.1");

    // P-1 and P-2, inmates, each with one finger (synthetic fingers 0 and 1) and a photo.
    for (id, finger) in [("P-1", 0), ("P-2", 1)] {
        let person = json!({"id": id, "category": "inmate", "given_names": "Jean", "family_name": "Mbuyi"});
        let (status, reply) = serve.call("POST", "/api/v1/people", &sup, person);
        assert_eq!(status, 201, "{reply}");
        let body = json!({"finger": 2, "image": png_base64(finger, 0)});
        let (status, reply) = serve.call("POST", &format!("/api/v1/people/{id}/fingers"), &sup, body);
        assert_eq!(status, 201, "{reply}");
        let photo = json!({"image": png_base64(9, 0)});
        let (status, reply) = serve.call("PUT", &format!("/api/v1/people/{id}/photo"), &sup, photo);
        assert_eq!(status, 204, "{reply}");
    }
    assert_eq!(serve.identify(&sup, 0).first().map(String::as_str), Some("P-1"));
    assert_eq!(rows(&data, "P-1"), (1, 2, true));

    // Nobody released: nothing to delete.
    assert!(purge(&data, &config, &[]).contains("nothing to delete"));

    let release = json!({"status": "released", "reason": "sentence served"});
    let (status, reply) = serve.call("POST", "/api/v1/people/P-1/status", &sup, release);
    assert_eq!(status, 200, "{reply}");

    // A dry run says what would go and changes nothing.
    let dry = purge(&data, &config, &["--dry-run"]);
    assert!(dry.contains("P-1: fingers 2 and the photo would be deleted (released 0 days ago"), "{dry}");
    assert!(dry.contains("nothing was changed") && !dry.contains("P-2"), "{dry}");
    assert_eq!(rows(&data, "P-1"), (1, 2, true));
    let before = export_and_verify(&data, &tmp.path().join("export-0"));
    assert!(of_kind(&before, "templates_deleted").is_empty());

    // The purge, while the service runs.
    let done = purge(&data, &config, &[]);
    assert!(done.contains("P-1: fingers 2 and the photo deleted (released 0 days ago"), "{done}");
    assert!(done.contains("recorded in entry") && done.contains("1 templates and 1 photos deleted"), "{done}");
    assert_eq!(rows(&data, "P-1"), (0, 1, false), "P-1's template row and photo are gone from the file");
    assert_eq!(rows(&data, "P-2"), (1, 1, true), "P-2, in custody, keeps theirs");

    let entries = export_and_verify(&data, &tmp.path().join("export-1"));
    let released = of_kind(&entries, "status_change");
    let deleted = of_kind(&entries, "templates_deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0]["body"],
        json!({"fingers": [2], "person": "P-1", "photo": true, "reason": "retention", "release": released[0]["seq"]})
    );
    assert!(done.contains(&format!("recorded in entry {}", deleted[0]["seq"])), "{done}");

    // Again: nothing more is written.
    assert!(purge(&data, &config, &[]).contains("nothing to delete"));
    let again = export_and_verify(&data, &tmp.path().join("export-2"));
    assert_eq!(of_kind(&again, "templates_deleted").len(), 1, "a second purge wrote another entry");

    // The running service forgets P-1 (it watches for deletions recorded by other processes) and
    // still knows P-2.
    wait_until(30, "the service to forget P-1", || !serve.identify(&sup, 0).contains(&"P-1".to_owned()));
    assert_eq!(serve.identify(&sup, 1).first().map(String::as_str), Some("P-2"));
    // P-1's profile says when: the service's census has caught up with the command line's entry.
    let profile = |id: &str| serve.call("GET", &format!("/api/v1/people/{id}"), &sup, Value::Null).1;
    wait_until(10, "the census to fold the purge", || profile("P-1")["templates_deleted"].is_string());
    let p1 = profile("P-1");
    assert_eq!((p1["fingers"].clone(), p1["has_photo"].clone()), (json!([]), json!(false)), "{p1}");
    assert!(p1["templates_deleted"].as_str().is_some_and(|t| t.ends_with('Z')), "{p1}");
    assert_eq!(profile("P-2")["templates_deleted"], Value::Null);

    // P-2 is released too; the service, started again, deletes at once.
    let release = json!({"status": "transferred", "reason": "to Ndolo"});
    let (status, reply) = serve.call("POST", "/api/v1/people/P-2/status", &sup, release);
    assert_eq!(status, 200, "{reply}");
    serve.stop();
    let serve = Serve::start(&data, &config);
    wait_until(30, "the service to purge P-2 at start", || rows(&data, "P-2") == (0, 0, false));
    wait_until(30, "the service to forget P-2", || !serve.identify(&sup, 1).contains(&"P-2".to_owned()));
    serve.stop();
    let last = export_and_verify(&data, &tmp.path().join("export-3"));
    let deleted = of_kind(&last, "templates_deleted");
    assert_eq!(deleted.len(), 2);
    assert_eq!(
        (deleted[1]["body"]["person"].as_str(), deleted[1]["body"]["fingers"].clone()),
        (Some("P-2"), json!([2]))
    );
}
