//! Off-site copies and restore, with the real binary and independent tools: an appliance with people,
//! enrolments and passages is copied (`tally offsite copy`); Debian's `age` CLI (the Go reference
//! implementation) decrypts `people.age` with an identity from `age-keygen`; `tally ledger verify` and
//! the Go verifier check the plain ledger; the copy is restored onto a fresh data directory, which
//! serves the same headcount, identifies a restored finger at a lane, and exports a record that
//! verifies across both epochs. Tampered copies, a wrong identity and a non-empty target are refused
//! without a change. A scheduled copy appears on the "removable medium" while `tally serve` runs, and is
//! recorded in the ledger.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::appliance::{Appliance, png_base64, touch};
use crate::util::{go_verifier, run_verifier, skip, tally, tally_bin, tally_ok};

/// Makes an age identity with `age-keygen` in `dir`; returns (identity file, public key), or `None`
/// (skipped; a failure under CI) when the age CLI is not installed.
fn age_identity(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    let file = dir.join(name);
    match Command::new("age-keygen").arg("-o").arg(&file).output() {
        Ok(out) if out.status.success() => {
            let text = std::fs::read_to_string(&file).expect("identity file");
            let public = text
                .lines()
                .find_map(|l| l.strip_prefix("# public key: "))
                .expect("age-keygen writes the public key")
                .to_owned();
            Some((file, public))
        }
        _ => skip("the age CLI (age, age-keygen) is not installed: apt-get install age (tests/run does)"),
    }
}

fn write_config(dir: &Path, recipients: &[&str], extra: &str) -> PathBuf {
    let list: Vec<String> = recipients.iter().map(|r| format!("{r:?}")).collect();
    let path = dir.join("tally.toml");
    let text = format!(
        "[facility]\nid = \"makala\"\n\n[appliance]\nid = \"gate-1\"\n\n[offsite]\nrecipients = [{}]\n{extra}",
        list.join(", ")
    );
    std::fs::write(&path, text).expect("config");
    path
}

/// `tally --config CONFIG --data-dir DATA ARGS…`.
fn tally_cfg(config: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(tally_bin())
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("TALLY_LOG", "warn")
        .output()
        .expect("run tally")
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Starts `tally serve` on `config` and `data`, and reads its first line ("listening on …").
fn serve(config: &Path, data: &Path, log: &str, stderr: Stdio) -> (std::process::Child, String) {
    let mut child = Command::new(tally_bin())
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TALLY_LOG", log)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("listening");
    (child, line)
}

fn the_copy(usb: &Path) -> PathBuf {
    let copies: Vec<PathBuf> = std::fs::read_dir(usb)
        .expect("usb")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("MANIFEST").is_file())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    copies[0].clone()
}

fn headcount(a: &Appliance, token: &str) -> Value {
    let (status, mut count) = a.call("GET", "/api/v1/headcount", token, None);
    assert_eq!(status, 200, "{count}");
    count.as_object_mut().expect("an object").remove("ledger_size");
    count
}

/// Passes `id` (finger `finger`) through lane gate-in (controller 1) into reception.
fn pass_gate_in(a: &Appliance, token: &str, id: &str, finger: u64, n: u64) {
    let pulses = a.pd.handle.outputs(1).len();
    a.finger("gate-in").touch(touch(finger, n));
    a.wait(30, "the turnstile to be released", || (a.pd.handle.outputs(1).len() > pulses).then_some(()));
    a.pd.handle.passage(1, 0);
    a.wait(20, "the passage to be folded", || {
        let (_, p) = a.call("GET", &format!("/api/v1/people/{id}"), token, None);
        (p["zone"] == json!("reception")).then_some(())
    });
}

/// Every file under `dir`, relative path → bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            if e.path().is_dir() {
                out.extend(snapshot(&e.path()));
            } else {
                out.push((e.path(), std::fs::read(e.path()).expect("read")));
            }
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").filter_map(Result::ok) {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn a_copy_decrypts_with_age_verifies_and_restores_as_a_new_epoch() {
    let tmp = tempfile::tempdir().expect("tmp");
    let Some((identity, public)) = age_identity(tmp.path(), "authority.txt") else { return };
    let Some((wrong, _)) = age_identity(tmp.path(), "someone-else.txt") else { return };
    let (data, usb) = (tmp.path().join("data"), tmp.path().join("usb"));
    std::fs::create_dir_all(&usb).expect("usb");

    // Traffic: three people registered, two enrolled, one passed into reception.
    let a = Appliance::start(&data);
    let (enroller, guard) = (a.token("enroller", "enrol.1"), a.token("guard", "guard.1"));
    for (id, family) in [("MKL-1", "Mbuyi"), ("MKL-2", "Kabila"), ("MKL-3", "Tshisekedi")] {
        let body = json!({"id": id, "category": "inmate", "given_names": "Jean", "family_name": family});
        let (status, reply) = a.call("POST", "/api/v1/people", &enroller, Some(body));
        assert_eq!(status, 201, "{reply}");
    }
    for (id, finger) in [("MKL-1", 1), ("MKL-2", 2)] {
        let body = json!({"finger": 2, "image": png_base64(finger, 0)});
        let (status, reply) = a.call("POST", &format!("/api/v1/people/{id}/fingers"), &enroller, Some(body));
        assert_eq!(status, 201, "{reply}");
    }
    pass_gate_in(&a, &guard, "MKL-1", 1, 1);
    let before = headcount(&a, &guard);
    assert!(before["inside"].as_u64().is_some_and(|n| n >= 1), "{before}");
    a.stop();

    // The verifier key, as the installer recorded it at provisioning.
    let vkey = tmp.path().join("gate-1.vkey");
    let original_export = tmp.path().join("original-export");
    tally_ok(&data, &["ledger", "export", "--out", original_export.to_str().expect("utf-8")]);
    std::fs::copy(original_export.join("keys.vkey"), &vkey).expect("keys");

    // A copy without recipients is refused, clearly.
    let no_keys = tmp.path().join("no-keys");
    std::fs::create_dir_all(&no_keys).expect("dir");
    let bare = no_keys.join("tally.toml");
    std::fs::write(&bare, "[facility]\nid = \"makala\"\n").expect("config");
    let out = tally_cfg(&bare, &data, &["offsite", "copy", usb.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("recipients"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(&usb).expect("usb").count(), 0, "nothing is left on the medium");

    // The copy.
    let config = write_config(tmp.path(), &[&public], "");
    let said = ok(tally_cfg(&config, &data, &["offsite", "copy", usb.to_str().expect("utf-8")]), "offsite copy");
    assert!(said.contains("3 people, 2 templates"), "{said}");
    let copy = the_copy(&usb);
    let name = copy.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
    assert!(name.starts_with("makala_gate-1-"), "{name}");
    let manifest = std::fs::read_to_string(copy.join("MANIFEST")).expect("MANIFEST");
    assert!(manifest.starts_with("tally-offsite-copy 1\norigin makala/gate-1\n"), "{manifest}");
    assert!(manifest.contains(" people.age\n") && manifest.contains(" ledger/entries.jsonl\n"), "{manifest}");

    // The ledger in the copy verifies, with the pinned key, by tally and by the Go verifier.
    let ledger = copy.join("ledger");
    let said =
        tally_ok(&data, &["ledger", "verify", ledger.to_str().expect("utf-8"), "--key", vkey.to_str().expect("utf-8")]);
    assert!(said.starts_with("ok: "), "{said}");
    if let Some(v) = go_verifier() {
        let (good, text) = run_verifier(v, &["check".as_ref(), ledger.as_os_str(), "--key".as_ref(), vkey.as_os_str()]);
        assert!(good, "{text}");
    }
    // The copy is recorded in the ledger: kind, name, hash of people.age; no personal data.
    let after_copy = tmp.path().join("after-copy");
    tally_ok(&data, &["ledger", "export", "--out", after_copy.to_str().expect("utf-8")]);
    let entries = std::fs::read_to_string(after_copy.join("entries.jsonl")).expect("entries");
    let recorded = entries.lines().last().expect("an entry");
    assert!(recorded.contains("\"kind\":\"offsite_copy\"") && recorded.contains(&name), "{recorded}");
    let people_hash =
        manifest.lines().find(|l| l.ends_with(" people.age")).expect("hash line").split(' ').nth(1).expect("hash");
    assert!(recorded.contains(people_hash), "{recorded}");
    assert!(!recorded.contains("Mbuyi"), "{recorded}");

    // The Go reference age decrypts people.age with the authority's identity: people and templates.
    let out =
        Command::new("age").arg("-d").arg("-i").arg(&identity).arg(copy.join("people.age")).output().expect("age");
    assert!(out.status.success(), "age -d: {}", String::from_utf8_lossy(&out.stderr));
    let plain = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<Value> = plain.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    assert_eq!((lines[0]["format"].as_str(), lines[0]["version"].as_u64()), (Some("tally-people"), Some(1)));
    let people: Vec<&Value> = lines.iter().filter(|l| l.get("family_name").is_some()).collect();
    let ids: Vec<&str> = people.iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids, ["MKL-1", "MKL-2", "MKL-3"]);
    assert_eq!(people[1]["family_name"], "Kabila");
    let templates: Vec<&Value> = people.iter().flat_map(|p| p["templates"].as_array().into_iter().flatten()).collect();
    assert_eq!(templates.len(), 2);
    assert!(templates.iter().all(|t| t["template"].as_str().is_some_and(|s| s.len() > 100)));
    assert_eq!(lines.last().expect("trailer")["end"], true);
    let out = Command::new("age").arg("-d").arg("-i").arg(&wrong).arg(copy.join("people.age")).output().expect("age");
    assert!(!out.status.success(), "another identity must not decrypt");

    // Refusals change nothing: a tampered entry, a tampered people.age, a wrong identity.
    let fresh = tmp.path().join("fresh");
    let restore = |copy: &Path, id: &Path, target: &Path| {
        let args = [
            "restore",
            copy.to_str().expect("utf-8"),
            "--identity",
            id.to_str().expect("utf-8"),
            "--key",
            vkey.to_str().expect("utf-8"),
        ];
        tally_cfg(&config, target, &args)
    };
    for (file, at) in [("ledger/entries.jsonl", 40usize), ("people.age", 200)] {
        let bad = tmp.path().join(format!("tampered-{}", file.replace('/', "-")));
        copy_dir(&copy, &bad);
        let mut bytes = std::fs::read(bad.join(file)).expect("read");
        bytes[at] ^= 0x01;
        std::fs::write(bad.join(file), bytes).expect("write");
        let out = restore(&bad, &identity, &fresh);
        assert!(!out.status.success(), "a tampered {file} was restored");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("altered or damaged") && err.contains(file), "{err}");
        assert!(snapshot(&fresh).is_empty(), "a refused restore wrote {:?}", snapshot(&fresh));
    }
    let out = restore(&copy, &wrong, &fresh);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not decrypt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(snapshot(&fresh).is_empty());
    // Onto the original appliance (it has a ledger): refused, nothing changed.
    let untouched = snapshot(&data);
    let out = restore(&copy, &identity, &data);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds a ledger"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(snapshot(&data), untouched);

    // The restore.
    let said = ok(restore(&copy, &identity, &fresh), "restore");
    assert!(said.contains("signed by the pinned key") && said.contains("restored 3 people and 2 templates"), "{said}");
    assert!(said.contains("new epoch 2: ledger makala/gate-1/2"), "{said}");
    let new_vkey = said.lines().last().expect("the new key").to_owned();
    assert!(new_vkey.starts_with("makala/gate-1/2+"), "{new_vkey}");
    assert!(fresh.join("epochs/1/entries.jsonl").is_file());

    // The restored appliance: same headcount, a restored finger still identifies, traffic goes on.
    let b = Appliance::start(&fresh);
    let guard = b.token("guard", "guard.1");
    assert_eq!(headcount(&b, &guard), before);
    pass_gate_in(&b, &guard, "MKL-2", 2, 3);
    let after = headcount(&b, &guard);
    assert_eq!(after["inside"].as_u64(), before["inside"].as_u64().map(|n| n + 1), "{after}");
    // The facility-wide count folds the earlier epoch as a log of its own: the same people inside.
    let (status, facility) = b.call("GET", "/api/v1/facility/headcount", &guard, None);
    assert_eq!(status, 200, "{facility}");
    assert_eq!(facility["inside"], after["inside"], "{facility}");
    // The export an auditor downloads from the API carries the earlier epoch too, and verifies.
    let auditor = b.token("auditor", "audit.1");
    let mut res = crate::util::agent()
        .get(&b.url("/api/v1/ledger/export"))
        .header("Authorization", &format!("Bearer {auditor}"))
        .call()
        .expect("export");
    assert_eq!(res.status().as_u16(), 200);
    let tar = res.body_mut().with_config().limit(1 << 30).read_to_vec().expect("the tar");
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    std::fs::write(tmp.path().join("export.tar"), &tar).expect("write");
    let untar = Command::new("tar").arg("-xf").arg(tmp.path().join("export.tar")).arg("-C").arg(&unpacked).status();
    assert!(untar.expect("tar").success());
    let inner =
        std::fs::read_dir(&unpacked).expect("unpacked").filter_map(Result::ok).next().expect("a directory").path();
    assert!(inner.join("epochs/1/entries.jsonl").is_file(), "{}", inner.display());
    let said = tally_ok(&fresh, &["ledger", "verify", inner.to_str().expect("utf-8")]);
    assert!(said.contains("epoch 1 (makala/gate-1,"), "{said}");
    b.stop();

    // A second restore onto it is refused.
    let out = restore(&copy, &identity, &fresh);
    assert!(!out.status.success());

    // Its export carries both epochs and verifies end to end, with both epochs' keys pinned.
    let export = tmp.path().join("restored-export");
    tally_ok(&fresh, &["ledger", "export", "--out", export.to_str().expect("utf-8")]);
    assert!(export.join("epochs/1/checkpoint").is_file());
    let both = tmp.path().join("both.vkey");
    std::fs::write(&both, format!("{}{new_vkey}\n", std::fs::read_to_string(&vkey).expect("vkey"))).expect("write");
    let said = tally_ok(
        &fresh,
        &["ledger", "verify", export.to_str().expect("utf-8"), "--key", both.to_str().expect("utf-8")],
    );
    assert!(said.contains("of makala/gate-1/2 verified") && said.contains("epoch 1 (makala/gate-1,"), "{said}");
    // Only the old key pinned: the new epoch is refused.
    let out =
        tally(&fresh, &["ledger", "verify", export.to_str().expect("utf-8"), "--key", vkey.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    // The independent verifier checks each epoch on its own.
    if let Some(v) = go_verifier() {
        for dir in [export.clone(), export.join("epochs/1")] {
            let (good, text) = run_verifier(v, &["check".as_ref(), dir.as_os_str()]);
            assert!(good, "{}: {text}", dir.display());
        }
    }
    // An earlier epoch altered inside the export is caught.
    let mut bytes = std::fs::read(export.join("epochs/1/entries.jsonl")).expect("read");
    bytes[30] ^= 0x01;
    std::fs::write(export.join("epochs/1/entries.jsonl"), bytes).expect("write");
    let out = tally(&fresh, &["ledger", "verify", export.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("epoch 1"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn serve_writes_a_scheduled_copy_when_the_medium_is_there_and_records_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let Some((identity, public)) = age_identity(tmp.path(), "authority.txt") else { return };
    let (data, usb) = (tmp.path().join("data"), tmp.path().join("usb"));
    let config =
        write_config(tmp.path(), &[&public], &format!("dir = {:?}\nevery = \"3s\"\n", usb.display().to_string()));
    let (mut child, line) = serve(&config, &data, "warn", Stdio::inherit());
    assert!(line.starts_with("listening on "), "{line}");

    // No medium yet: nothing happens. Then it is "mounted".
    std::thread::sleep(Duration::from_secs(2));
    std::fs::create_dir_all(&usb).expect("mount");
    let deadline = Instant::now() + Duration::from_secs(40);
    let copies = loop {
        let copies: Vec<PathBuf> = std::fs::read_dir(&usb)
            .expect("usb")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("MANIFEST").is_file())
            .collect();
        if copies.len() >= 2 {
            break copies;
        }
        assert!(Instant::now() < deadline, "no second scheduled copy in {}", usb.display());
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(copies.len() >= 2);
    let copies: Vec<PathBuf> = std::fs::read_dir(&usb)
        .expect("usb")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("MANIFEST").is_file())
        .collect();

    // Each copy is whole: its ledger verifies and people.age decrypts with the authority's identity.
    for copy in &copies {
        let said = tally_ok(&data, &["ledger", "verify", copy.join("ledger").to_str().expect("utf-8")]);
        assert!(said.starts_with("ok: "), "{said}");
        let out =
            Command::new("age").arg("-d").arg("-i").arg(&identity).arg(copy.join("people.age")).output().expect("age");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Anything else on the medium is an unfinished copy under its temporary name (the service was
    // killed mid-copy, as a pulled-out stick would stop it), never a copy that looks whole.
    for e in std::fs::read_dir(&usb).expect("usb").filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(copies.contains(&e.path()) || name.starts_with(".tmp-"), "{name}");
    }
    // And recorded in the ledger.
    let export = tmp.path().join("export");
    tally_ok(&data, &["ledger", "export", "--out", export.to_str().expect("utf-8")]);
    let entries = std::fs::read_to_string(export.join("entries.jsonl")).expect("entries");
    let recorded: Vec<&str> = entries.lines().filter(|l| l.contains("\"kind\":\"offsite_copy\"")).collect();
    // Every recorded copy is on the medium; only the last copy may have been cut off (killed) between
    // its rename and its entry.
    for r in &recorded {
        assert!(copies.iter().any(|c| r.contains(&*c.file_name().expect("name").to_string_lossy())), "{r}");
    }
    assert!(
        recorded.len() + 1 >= copies.len() && !recorded.is_empty(),
        "{} entries, {} copies",
        recorded.len(),
        copies.len()
    );
}

#[test]
fn a_failed_scheduled_copy_raises_an_alarm_and_the_service_goes_on() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (data, usb) = (tmp.path().join("data"), tmp.path().join("usb"));
    std::fs::create_dir_all(&usb).expect("usb");
    // A recipient with the shape of an age key that does not decode: every copy fails.
    let config = write_config(
        tmp.path(),
        &["age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"],
        &format!("dir = {:?}\nevery = \"2s\"\n", usb.display().to_string()),
    );
    let (mut child, line) = serve(&config, &data, "error", Stdio::null());
    let addr = line.trim().strip_prefix("listening on ").expect("address").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let alarm = loop {
        let export =
            tmp.path().join(format!("export-{}", deadline.saturating_duration_since(Instant::now()).as_millis()));
        tally_ok(&data, &["ledger", "export", "--out", export.to_str().expect("utf-8")]);
        let entries = std::fs::read_to_string(export.join("entries.jsonl")).expect("entries");
        if let Some(a) = entries.lines().find(|l| l.contains("\"code\":\"offsite_copy_failed\"")) {
            break a.to_owned();
        }
        assert!(Instant::now() < deadline, "no offsite_copy_failed alarm");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(alarm.contains("\"kind\":\"alarm\"") && alarm.contains("recipient"), "{alarm}");
    // The service still answers, and the medium holds nothing.
    let (status, _) = crate::util::get(&format!("http://{addr}/healthz"), None);
    assert_eq!(status, 200);
    assert_eq!(std::fs::read_dir(&usb).expect("usb").count(), 0);
    let _ = child.kill();
    let _ = child.wait();
}
