//! `tally demo`, as a newcomer runs it: the real binary on a data directory of its own, with no
//! hardware and no configuration. From what it prints (the URL and a token per role) the test watches
//! the API until the synthetic prison is registered, the lanes are online, people have passed and the
//! shift-change roll-call has closed one short with its alarm; then stops it with SIGTERM, checks that
//! the exported ledger verifies, and starts it again on the same directory, which takes the prison up
//! instead of seeding another. Along the way: everyone has a synthetic portrait, served as the PNG the
//! demo drew for them, and with `TALLY_LOG` unset the terminal (standard output and error) shows the
//! demo's story and no `INFO` line of the service's log.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{agent, get, tally_bin, tally_ok};

/// The demo's default seed, which the test leaves as it is.
const SEED: u64 = 1;
/// The size of the test's prison.
const PEOPLE: usize = 60;

/// A running `tally demo` and what it printed so far.
struct Demo {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    base: String,
    tokens: HashMap<String, String>,
    /// What it wrote on standard error (also passed on to the test's own).
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    /// Starts the demo on `dir` and reads its banner up to the tokens.
    fn start(dir: &Path, rollcall_after: &str) -> Demo {
        let mut child = Command::new(tally_bin())
            .arg("--data-dir")
            .arg(dir)
            .args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--people",
                &PEOPLE.to_string(),
                "--rollcall-after",
                rollcall_after,
            ])
            // The demo's own default log level, as a newcomer gets it.
            .env_remove("TALLY_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tally demo");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (pipe, kept) = (child.stderr.take().expect("stderr"), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                eprintln!("{line}");
                kept.lock().expect("stderr lines").push(line);
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut demo = Demo { child, lines, seen: Vec::new(), base: String::new(), tokens: HashMap::new(), stderr };
        // Seeding 60 people in a test build takes a while on a small machine.
        demo.wait_line(120, "the token of the admin", |l| l.trim_start().starts_with("admin "));
        for line in &demo.seen {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["URL", url] => demo.base = (*url).to_owned(),
                [role, token] if token.starts_with("tly_") => {
                    demo.tokens.insert((*role).to_owned(), (*token).to_owned());
                }
                _ => {}
            }
        }
        assert!(demo.base.starts_with("http://127.0.0.1:"), "no URL in {:#?}", demo.seen);
        for role in ["guard", "enroller", "supervisor", "auditor", "admin"] {
            assert!(demo.tokens.contains_key(role), "no {role} token in {:#?}", demo.seen);
        }
        demo
    }

    /// Reads lines until one satisfies `f`, or fails after `secs`.
    fn wait_line(&mut self, secs: u64, what: &str, f: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        if self.seen.iter().any(|l| f(l)) {
            return;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = f(&line);
                    self.seen.push(line);
                    if done {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("timed out waiting for {what}; printed:\n{}", self.seen.join("\n"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the demo ended before {what}; printed:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// GET `path` with the token of `role`; the body as JSON.
    fn get(&self, role: &str, path: &str) -> Value {
        let (status, body) = get(&format!("{}{path}", self.base), Some(&self.tokens[role]));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// Polls `f` until it returns `Some`, reading the demo's lines meanwhile; fails after `secs`.
    fn wait<T>(&mut self, secs: u64, what: &str, mut f: impl FnMut(&Demo) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            if let Some(v) = f(self) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; printed:\n{}", self.seen.join("\n"));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// GET a person's photo with the token of `role`: status, content type and bytes.
    fn photo(&self, role: &str, id: &str) -> (u16, String, Vec<u8>) {
        let url = format!("{}/api/v1/people/{id}/photo", self.base);
        let mut resp = agent()
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.tokens[role]))
            .call()
            .expect("HTTP request");
        let content_type =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = resp.body_mut().read_to_vec().expect("the photo's bytes");
        (resp.status().as_u16(), content_type, bytes)
    }

    /// SIGTERM; waits for a clean exit and the rest of the output, and checks that neither standard
    /// output nor standard error carried the service's `INFO` log lines.
    fn stop(mut self) -> Vec<String> {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let status = self.child.wait().expect("wait for the demo");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        assert!(status.success(), "the demo did not stop cleanly ({status}); printed:\n{}", self.seen.join("\n"));
        let stderr = self.stderr.lock().expect("stderr lines").clone();
        let logged: Vec<&String> = self.seen.iter().chain(&stderr).filter(|l| is_log_line(l)).collect();
        assert!(logged.is_empty(), "the service's log on the demo's terminal: {logged:#?}");
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line of the service's log at `INFO` or below, as `tracing_subscriber::fmt` writes it
/// (`2026-11-26T09:28:46.190644Z  INFO tally::gate::runner: entry lane=…`, no colours off a terminal).
fn is_log_line(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().take(2).collect();
    matches!(words.as_slice(), [stamp, "INFO" | "DEBUG" | "TRACE"] if stamp.contains('T') && stamp.ends_with('Z'))
}

#[test]
fn a_log_line_is_told_from_the_story() {
    assert!(is_log_line("2026-11-26T09:28:46.190644Z  INFO tally::gate::runner: entry lane=main-gate"));
    assert!(!is_log_line("2026-11-26T09:28:46.190644Z  WARN tally::gate::runner: reader offline"));
    assert!(!is_log_line("10:46:48  block-a-door  GRANTED  S-001   MUHINDO Chancelle (staff)  reception → block-a"));
}

/// The kinds of the first 1000 ledger entries, as the auditor reads them.
fn kinds(demo: &Demo) -> Vec<String> {
    let page = demo.get("auditor", "/api/v1/ledger/entries?limit=1000");
    let entries = page["entries"].as_array().expect("entries");
    entries.iter().filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect()
}

#[test]
fn the_demo_plays_traffic_and_a_short_roll_call_and_leaves_a_ledger_that_verifies() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("demo");
    let started = Instant::now();
    let mut demo = Demo::start(&data, "5");
    assert!(demo.seen.iter().any(|l| l.trim_start().starts_with("photos ")), "{:#?}", demo.seen);
    demo.wait_line(10, "the banner's word on the log", |l| l.contains("TALLY_LOG=info"));

    // The register: 60 synthetic people, named, some enrolled from images.
    let people = demo.get("enroller", "/api/v1/people?limit=200");
    let people = people.as_array().expect("a list");
    assert_eq!(people.len(), PEOPLE);
    assert!(people.iter().all(|p| p["family_name"].as_str().is_some_and(|n| !n.is_empty())));
    assert!(people.iter().any(|p| p["zone"] == "block-a") && people.iter().any(|p| p["zone"].is_null()));

    // Everyone has a photo; the guard at the gate gets the portrait the demo drew, as a PNG.
    assert!(people.iter().all(|p| p["has_photo"] == true), "{people:#?}");
    let prison = tally::demo::plan::Prison::plan(SEED, PEOPLE);
    for id in ["P-0001", "S-001", "V-001"] {
        let (status, content_type, bytes) = demo.photo("guard", id);
        assert_eq!((status, content_type.as_str()), (200, "image/png"), "the photo of {id}");
        let person = prison.person(id).expect("in the plan");
        assert_eq!(bytes, tally::demo::portrait::png(SEED, person).expect("a portrait"), "the photo of {id}");
        let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("a PNG");
        assert_eq!((image.width(), image.height()), (tally::demo::portrait::WIDTH, tally::demo::portrait::HEIGHT));
    }

    // Both lanes online, over the secure channel to the simulated controllers.
    demo.wait(30, "both lanes online", |d| {
        let lanes = d.get("guard", "/api/v1/lanes");
        let online = lanes.as_array()?.iter().filter(|l| l["turnstile"] == "online" && l["locked"].is_null()).count();
        (online == 2).then_some(())
    });

    // Traffic: someone let through and walking through, in the ledger.
    demo.wait(60, "a grant and its passage in the ledger", |d| {
        let k = kinds(d);
        (k.iter().any(|k| k == "grant") && k.iter().any(|k| k == "passage")).then_some(())
    });

    // The shift-change roll-call of block A, closed one short with a remark, and its alarm.
    let closed = demo.wait(150, "a closed roll-call", |d| {
        let list = d.get("supervisor", "/api/v1/rollcalls");
        list.as_array()?.iter().find(|r| r["state"] == "closed").cloned()
    });
    assert_eq!(closed["zones"], serde_json::json!(["block-a"]));
    assert_eq!(closed["missing"], 1);
    let id = closed["id"].as_str().expect("id");
    let detail = demo.get("supervisor", &format!("/api/v1/rollcalls/{id}"));
    assert_eq!(detail["missing"].as_array().map(Vec::len), Some(1), "{detail}");
    assert!(detail["closed"]["remark"].as_str().is_some_and(|r| r.contains("not found")), "{detail}");
    assert!(detail["missing"][0]["name"].as_str().is_some(), "supervisors see the missing person's name");
    let alarms = demo.get("auditor", "/api/v1/alarms");
    assert!(alarms.as_array().expect("alarms").iter().any(|a| a["code"] == "short_count"), "{alarms}");

    // The terminal told it: a grant, a passage, the missing person.
    demo.wait_line(30, "a passage line", |l| l.contains(" passed "));
    let printed = demo.stop();
    let text = printed.join("\n");
    assert!(text.contains(" GRANTED ") && text.contains("MISSING"), "{text}");
    assert!(printed.last().is_some_and(|l| l.starts_with("  verify it:")), "{text}");
    eprintln!("the demo showed everything in {:.0} s", started.elapsed().as_secs_f64());

    // The ledger it wrote verifies, and ends with the shutdown.
    let export = tmp.path().join("export");
    tally_ok(&data, &["ledger", "export", "--out", export.to_str().expect("utf-8 path")]);
    let verified = tally_ok(&data, &["ledger", "verify", export.to_str().expect("utf-8 path")]);
    assert!(verified.starts_with("ok: "), "{verified}");
    let entries = std::fs::read_to_string(export.join("entries.jsonl")).expect("entries.jsonl");
    let last = entries.lines().last().expect("entries");
    assert!(last.contains("\"kind\":\"shutdown\""), "{last}");

    // Again on the same directory: the prison is taken up, not seeded again, and the old tokens are void.
    let old_guard = demo_token_of(&text, "guard");
    let demo = Demo::start(&data, "3600");
    assert!(demo.seen.iter().any(|l| l.contains("found from an earlier run")), "{:#?}", demo.seen);
    assert_eq!(demo.get("enroller", "/api/v1/people?limit=200").as_array().map(Vec::len), Some(PEOPLE));
    let (status, _) = get(&format!("{}/api/v1/lanes", demo.base), Some(&old_guard));
    assert_eq!(status, 401, "the first run's tokens were revoked");
    demo.stop();
    tally_ok(&data, &["ledger", "export", "--out", tmp.path().join("export2").to_str().expect("utf-8 path")]);
    tally_ok(&data, &["ledger", "verify", tmp.path().join("export2").to_str().expect("utf-8 path")]);
}

/// The token printed for `role` in the demo's output.
fn demo_token_of(text: &str, role: &str) -> String {
    text.lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [r, token] if *r == role && token.starts_with("tly_") => Some((*token).to_owned()),
            _ => None,
        })
        .next()
        .expect("the token was printed")
}
