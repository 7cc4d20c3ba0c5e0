//! The API against its own OpenAPI document, by an independent tool: schemathesis (PyPI, pinned in
//! tests/peers/requirements.txt, settings in tests/peers/schemathesis.toml) reads the document that
//! `/api/openapi.json` serves and sends every documented operation of a whole appliance requests made
//! from it — valid ones, and malformed, out-of-range or oversized ones, without a token, with the
//! wrong content type, with undocumented methods.
//!
//! No request may get a 5xx; a request the document says is wrong, or has no token, must be refused;
//! every answer must match the document (its status, media type, headers and body). Then, from the
//! exchanges schemathesis recorded (a HAR file): every refusal is JSON with a stable `error` code, and
//! the ledger grew by exactly the entries of the write requests that were accepted — a refused request
//! wrote nothing. The server still answers, and the ledger it wrote verifies.
//!
//! Seeded data (people, a finger, a photo, a roll-call) and the `example`s in the document (path
//! parameters, bodies) let generated requests reach real objects, not only 404s. The live stream
//! (`/api/v1/events`) is left out: its answer never ends, and it takes nothing but a token.
//!
//! Needs the venv tests/run makes (.venv with tests/peers/requirements.txt); skips without it, except
//! under CI (CI=true), where it fails.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::appliance::{Appliance, png_base64};
use crate::util::{get, skip, tally_ok};

/// Generated requests per operation and phase: enough to find the edge cases, small enough for well
/// under a minute of requests on two cores. `SCHEMA_EXAMPLES` changes it.
const MAX_EXAMPLES: &str = "50";
/// The generator's seed, so a failure can be replayed. `SCHEMA_SEED` changes it, to look further.
const SEED: &str = "42";
/// A run that takes longer than this is stopped and fails (a request that hangs, a runaway generator).
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The operations that append to the ledger when they succeed, and the kind of entry each appends.
/// (Closing a short roll-call also raises a `short_count` alarm; see [`ledger_accounts_for`].)
const WRITES: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/people", "registration"),
    ("POST", "/api/v1/people/{id}/status", "status_change"),
    ("POST", "/api/v1/people/{id}/fingers", "enrolment"),
    ("POST", "/api/v1/rollcalls", "rollcall_started"),
    ("POST", "/api/v1/rollcalls/{id}/counts", "rollcall_counted"),
    ("POST", "/api/v1/rollcalls/{id}/recount", "rollcall_recount"),
    ("POST", "/api/v1/rollcalls/{id}/close", "rollcall_closed"),
    ("POST", "/api/v1/lanes/{id}/override", "override"),
    ("POST", "/api/v1/log/notes", "note"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's schemathesis, or `None` (after saying why) when the test should skip.
fn schemathesis() -> Option<PathBuf> {
    let bin = root().join(".venv/bin/schemathesis");
    let why = match Command::new(&bin).arg("--version").output() {
        Ok(out) if out.status.success() => return Some(bin),
        Ok(out) => format!("{} --version failed: {}", bin.display(), String::from_utf8_lossy(&out.stderr).trim()),
        Err(err) => format!("cannot run {}: {err}", bin.display()),
    };
    skip(&format!(
        "{why}: run tests/run, or python3 -m venv .venv && .venv/bin/pip install -r tests/peers/requirements.txt"
    ))
}

/// Registers people, enrols a finger, keeps a photo and starts a roll-call, so that the documented
/// examples (`P-1`, `rc-1`, `gate-in`, `block-a`) name things that exist.
fn seed(a: &Appliance, admin: &str) {
    let people = [
        json!({"id": "P-1", "category": "inmate", "given_names": "Jean", "family_name": "Mbuyi", "zone": "block-a"}),
        json!({"id": "P-2", "category": "inmate", "given_names": "Paul", "family_name": "Kabongo"}),
        json!({"id": "S-1", "category": "staff", "given_names": "Marie", "family_name": "Tshibanda"}),
    ];
    for body in people {
        let (status, reply) = a.call("POST", "/api/v1/people", admin, Some(body));
        assert_eq!(status, 201, "{reply}");
    }
    let finger = json!({"finger": 2, "image": png_base64(0, 0)});
    let (status, reply) = a.call("POST", "/api/v1/people/P-1/fingers", admin, Some(finger));
    assert_eq!(status, 201, "{reply}");
    let (status, reply) = a.call("PUT", "/api/v1/people/P-1/photo", admin, Some(json!({"image": png_base64(1, 0)})));
    assert_eq!(status, 204, "{reply}");
    let (status, reply) = a.call("POST", "/api/v1/rollcalls", admin, Some(json!({"zones": ["block-a"]})));
    assert_eq!((status, reply["id"].as_str()), (201, Some("rc-1")), "{reply}");
}

/// Runs schemathesis against the appliance in `work` (hypothesis keeps `./.hypothesis` there), with a
/// HAR record of every exchange in `work/exchanges.har`; returns whether it passed and its report.
fn run(bin: &Path, work: &Path, schema: &Path, base: &str, admin: &str) -> (bool, String) {
    let examples = std::env::var("SCHEMA_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_owned());
    let seed = std::env::var("SCHEMA_SEED").unwrap_or_else(|_| SEED.to_owned());
    eprintln!("schemathesis: seed {seed}, {examples} examples (set SCHEMA_SEED, SCHEMA_EXAMPLES to change)");
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("--config-file")
        .arg(root().join("tests/peers/schemathesis.toml"))
        .arg("run")
        .arg(schema)
        .args(["--url", base])
        // An admin token: the role may do everything, so every operation is reachable past 401 and 403.
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--exclude-path", "/api/v1/events"])
        // Every check: never a 5xx; a request the document says is wrong is refused; the status, media
        // type, headers and body are ones the document gives; a request without a token, or without a
        // required header, is refused; an undocumented method gets 405 with `Allow`. All but
        // `positive_data_acceptance`: the API refuses much that a JSON schema cannot say is wrong (a
        // zone another roll-call is counting, a poor capture, a status that does not fit the category).
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--phases", "examples,coverage,fuzzing", "--max-examples", &examples, "--seed", &seed])
        .args(["--workers", "1", "--request-timeout", "10", "--max-failures", "20"])
        .args(["--report", "junit,har", "--report-junit-path", "junit.xml", "--report-har-path", "exchanges.har"])
        .arg("--no-color")
        .current_dir(work)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start schemathesis");
    // Both pipes are read on threads so a long report cannot block the child, which is stopped at the limit.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = format!("{}{}", out.join().unwrap_or_default(), err.join().unwrap_or_default());
    eprintln!("schemathesis took {:.0} s", started.elapsed().as_secs_f64());
    match status {
        // Exit 0: no check failed and no warning listed in `fail-on`.
        Some(s) => (s.success(), report),
        None => (false, format!("{report}\nstopped after {} s", RUN_LIMIT.as_secs())),
    }
}

/// One request and its answer, from the HAR record.
struct Exchange {
    method: String,
    url: String,
    status: u64,
    body: String,
}

fn exchanges(har: &Path) -> Vec<Exchange> {
    let text = std::fs::read_to_string(har).unwrap_or_else(|e| panic!("{}: {e}", har.display()));
    let har: Value = serde_json::from_str(&text).expect("the HAR record is JSON");
    let entries = har["log"]["entries"].as_array().expect("HAR entries");
    entries
        .iter()
        .map(|e| Exchange {
            method: e["request"]["method"].as_str().unwrap_or_default().to_owned(),
            url: e["request"]["url"].as_str().unwrap_or_default().to_owned(),
            status: e["response"]["status"].as_u64().unwrap_or_default(),
            body: e["response"]["content"]["text"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// Whether `url`'s path is the documented `template` (`{…}` standing for one segment).
fn matches(template: &str, url: &str) -> bool {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("", |at| &rest[at..]));
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let (mut want, mut got) = (template.split('/'), path.split('/'));
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w == g || (w.starts_with('{') && !g.is_empty()) => {}
            _ => return false,
        }
    }
}

/// Every entry appended since `from`.
fn entries_since(a: &Appliance, admin: &str, from: u64) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let path = format!("/api/v1/ledger/entries?from={}&limit=1000", from + all.len() as u64);
        let (status, page) = a.call("GET", &path, admin, None);
        assert_eq!(status, 200, "{page}");
        let entries = page["entries"].as_array().expect("entries").clone();
        if entries.is_empty() {
            return all;
        }
        all.extend(entries);
    }
}

/// Asserts that the entries appended during the run are exactly those of the write requests that were
/// accepted: one of its kind for each, and a `short_count` alarm for at most each roll-call closed.
fn ledger_accounts_for(appended: &[Value], exchanges: &[Exchange]) {
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for x in exchanges.iter().filter(|x| (200..300).contains(&x.status)) {
        if let Some(&(_, _, kind)) = WRITES.iter().find(|(m, t, _)| *m == x.method && matches(t, &x.url)) {
            *expected.entry(kind.to_owned()).or_default() += 1;
        }
    }
    let mut actual: BTreeMap<String, u64> = BTreeMap::new();
    let mut alarms = 0;
    for entry in appended {
        let kind = entry["kind"].as_str().unwrap_or_default();
        if kind == "alarm" && entry["body"]["code"] == "short_count" {
            alarms += 1;
        } else {
            *actual.entry(kind.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(actual, expected, "entries appended during the run, against the write requests accepted");
    eprintln!("write requests accepted, by the entry each appended: {expected:?}");
    assert!(!expected.is_empty(), "no write request was accepted, so the ledger's accounts prove nothing");
    let closed = expected.get("rollcall_closed").copied().unwrap_or_default();
    assert!(alarms <= closed, "{alarms} short_count alarms for {closed} roll-calls closed");
}

#[test]
fn generated_requests_from_the_openapi_document_get_no_server_error_and_refusals_change_nothing() {
    let Some(bin) = schemathesis() else { return };
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let work = dir.path().join("schemathesis");
    std::fs::create_dir_all(&work).expect("work directory");
    let a = Appliance::start(&data);
    let admin = a.token("admin", "admin.schema");
    seed(&a, &admin);
    let (status, doc) = a.call("GET", "/api/openapi.json", &admin, None);
    assert_eq!(status, 200, "{doc}");
    let schema = dir.path().join("openapi.json");
    std::fs::write(&schema, serde_json::to_vec_pretty(&doc).expect("JSON")).expect("write the document");
    let (_, count) = a.call("GET", "/api/v1/headcount", &admin, None);
    let size_before = count["ledger_size"].as_u64().expect("ledger_size");

    let (ok, report) = run(&bin, &work, &schema, &a.base, &admin);
    println!("{report}");
    assert!(ok, "schemathesis found failures; its report is above");

    // Every refusal is JSON with a stable code: the 405s to undocumented methods too, which no operation
    // of the document describes, so schemathesis does not look at their bodies.
    let exchanges = exchanges(&work.join("exchanges.har"));
    assert!(exchanges.len() > 1000, "only {} requests were sent", exchanges.len());
    for x in exchanges.iter().filter(|x| x.status >= 400) {
        let code = serde_json::from_str::<Value>(&x.body).ok().and_then(|b| b["error"].as_str().map(str::to_owned));
        assert!(x.status < 500 && code.is_some(), "{} {} answered {}: {}", x.method, x.url, x.status, x.body);
    }
    ledger_accounts_for(&entries_since(&a, &admin, size_before), &exchanges);

    // Path parameters schemathesis does not write (it sends only valid UTF-8) are refused as JSON too.
    for path in ["/api/v1/people/%FF", "/api/v1/lanes/%C0%AF/override", "/api/v1/zones/%80/occupants"] {
        let method = if path.ends_with("override") { "POST" } else { "GET" };
        let (status, reply) = a.call(method, path, &admin, Some(json!({})));
        assert_eq!((status, reply["error"].as_str()), (400, Some("invalid_path")), "{method} {path}: {reply}");
    }

    // The server still answers, and the ledger it wrote verifies.
    let (status, health) = get(&a.url("/healthz"), None);
    assert_eq!(status, 200, "{health}");
    let (status, checkpoint) = get(&a.url("/api/v1/ledger/checkpoint"), Some(&admin));
    assert_eq!(status, 200, "{checkpoint}");
    a.stop();
    let export = dir.path().join("export");
    tally_ok(&data, &["ledger", "export", "--out", export.to_str().expect("UTF-8 path")]);
    let report = tally_ok(&data, &["ledger", "verify", export.to_str().expect("UTF-8 path")]);
    assert!(report.starts_with("ok: "), "verify report: {report}");
}
