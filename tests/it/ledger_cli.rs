//! The ledger through the command line, checked by the independent Go verifier (tests/verifier): exports,
//! inclusion and consistency proofs, key rotation, and tampering that both verifiers must catch. Also the
//! CLI's refusals: a missing ledger is never created implicitly, a bad configuration names file and line.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use crate::util::{go_verifier, run_verifier, tally, tally_ok};

fn export(data: &Path, out: &Path) {
    tally_ok(data, &["ledger", "export", "--out", out.to_str().expect("utf-8 path")]);
}

fn notes(data: &Path, texts: &[&str]) {
    for t in texts {
        tally_ok(data, &["ledger", "note", "--author", "sgt.cli", t]);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn os(p: &Path) -> &OsStr {
    p.as_os_str()
}

#[test]
fn exports_and_proofs_verify_with_the_independent_verifier() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("data");
    tally_ok(&data, &["ledger", "init"]);
    notes(&data, &["first", "second", "third"]);
    let old_checkpoint = tmp.path().join("old-checkpoint");
    std::fs::write(&old_checkpoint, tally_ok(&data, &["ledger", "checkpoint"])).expect("write");
    let old_size: u64 =
        tally_ok(&data, &["ledger", "checkpoint"]).lines().nth(1).expect("size line").parse().expect("size");
    tally_ok(&data, &["ledger", "rotate-key"]);
    notes(&data, &["after rotation: Lane 2 \"north\" jammed — cleared 06:10", "fifth"]);
    let out = tmp.path().join("export");
    export(&data, &out);
    assert_eq!(std::fs::read_to_string(out.join("keys.vkey")).expect("keys").lines().count(), 2);

    // tally's own verifier, with and without the earlier checkpoint.
    let ok = tally_ok(&data, &["ledger", "verify", out.to_str().expect("utf-8")]);
    assert!(ok.starts_with("ok: 7 entries"), "{ok}");
    tally_ok(
        &data,
        &["ledger", "verify", out.to_str().expect("utf-8"), "--previous", old_checkpoint.to_str().expect("utf-8")],
    );

    let Some(go) = go_verifier() else { return };
    let (ok, text) = run_verifier(go, &[OsStr::new("check"), os(&out)]);
    assert!(ok && text.contains("size=7"), "Go verifier: {text}");
    let (ok, text) = run_verifier(go, &[OsStr::new("check"), os(&out), OsStr::new("--key"), os(&out.join("log.vkey"))]);
    assert!(ok, "Go verifier with the pinned key: {text}");

    // Every entry's inclusion proof, made by tally, checked by Go against the signed checkpoint.
    let (checkpoint, keys) = (out.join("checkpoint"), out.join("keys.vkey"));
    let lines: Vec<String> =
        std::fs::read_to_string(out.join("entries.jsonl")).expect("entries").lines().map(String::from).collect();
    for (i, line) in lines.iter().enumerate() {
        let proof = tmp.path().join(format!("inclusion-{i}.json"));
        std::fs::write(&proof, tally_ok(&data, &["ledger", "prove", "--index", &i.to_string()])).expect("write");
        let entry = tmp.path().join(format!("entry-{i}"));
        std::fs::write(&entry, line).expect("write");
        let args = [OsStr::new("inclusion"), os(&proof), os(&checkpoint), os(&keys), OsStr::new("--entry"), os(&entry)];
        let (ok, text) = run_verifier(go, &args);
        assert!(ok, "inclusion of entry {i}: {text}");
        // The same proof does not prove a different entry.
        std::fs::write(&entry, line.replace("sgt.cli", "sgt.clj")).expect("write");
        let (ok, _) = run_verifier(go, &args);
        assert!(!ok || !line.contains("sgt.cli"), "a changed entry {i} passed inclusion");
    }

    // Consistency from the checkpoint taken before the rotation to the latest, made by tally, checked by Go.
    let proof = tmp.path().join("consistency.json");
    std::fs::write(&proof, tally_ok(&data, &["ledger", "prove-consistency", "--from", &old_size.to_string()]))
        .expect("write");
    let (ok, text) = run_verifier(
        go,
        &[
            OsStr::new("consistency"),
            os(&proof),
            os(&old_checkpoint),
            os(&out.join("checkpoint")),
            os(&out.join("keys.vkey")),
        ],
    );
    assert!(ok && text.contains(&format!("{old_size}->7")), "consistency: {text}");
}

/// Copies an export and edits its entries with `edit`.
fn tampered(src: &Path, dst: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for f in ["checkpoint", "log.vkey", "keys.vkey", "README"] {
        std::fs::copy(src.join(f), dst.join(f)).expect("copy");
    }
    let mut lines: Vec<String> =
        std::fs::read_to_string(src.join("entries.jsonl")).expect("entries").lines().map(String::from).collect();
    edit(&mut lines);
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    std::fs::write(dst.join("entries.jsonl"), text).expect("write");
}

#[test]
fn tampering_fails_both_verifiers_and_tally_names_the_entry() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("data");
    tally_ok(&data, &["ledger", "init"]);
    notes(&data, &["one", "two", "three", "four", "five"]);
    let out = tmp.path().join("export");
    export(&data, &out);
    let go = go_verifier();

    type Edit = fn(&mut Vec<String>);
    let cases: [(&str, Edit, &str); 6] = [
        ("a changed letter", |l| l[3] = l[3].replace("three", "thrEe"), "entry 3"),
        ("a deleted entry", |l| drop(l.remove(2)), "entry 2"),
        ("an inserted entry", |l| l.insert(2, l[1].clone()), "entry 2"),
        ("two swapped entries", |l| l.swap(1, 2), "entry 1"),
        ("a truncated tail", |l| drop(l.pop()), "cut off"),
        ("a changed last entry", |l| *l.last_mut().expect("entries") = l[5].replace("five", "f1ve"), "entry 5"),
    ];
    for (i, (what, edit, named)) in cases.into_iter().enumerate() {
        let dir = tmp.path().join(format!("tampered-{i}"));
        tampered(&out, &dir, edit);
        let o = tally(&data, &["ledger", "verify", dir.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(3), "{what}: tally verify must fail with exit 3: {}", stderr(&o));
        assert!(stderr(&o).contains(named), "{what}: expected {named:?} in {:?}", stderr(&o));
        if let Some(go) = go {
            let (ok, text) = run_verifier(go, &[OsStr::new("check"), os(&dir)]);
            assert!(!ok, "{what}: the Go verifier accepted it: {text}");
        }
    }

    // A checkpoint signed by a key the ledger never introduced.
    let other = tmp.path().join("other");
    tally_ok(&other, &["ledger", "init"]);
    let forged = tmp.path().join("forged");
    tampered(&out, &forged, |_| {});
    let rogue = tally_ok(&other, &["ledger", "checkpoint"]);
    std::fs::write(forged.join("checkpoint"), rogue).expect("write");
    let o = tally(&data, &["ledger", "verify", forged.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("not signed by a known key"), "{}", stderr(&o));
}

#[test]
fn a_fork_fails_against_the_earlier_checkpoint() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let a = tmp.path().join("a");
    tally_ok(&a, &["ledger", "init"]);
    notes(&a, &["shared"]);
    // Copy the whole data directory: both copies hold the same key and history, then diverge.
    let b = tmp.path().join("b");
    std::fs::create_dir_all(b.join("keys")).expect("mkdir");
    for f in std::fs::read_dir(a.join("keys")).expect("keys") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, b.join("keys").join(f.file_name().expect("name"))).expect("copy");
    }
    std::fs::copy(a.join("tally.db"), b.join("tally.db")).expect("copy");
    notes(&a, &["history A"]);
    notes(&b, &["history B"]);
    let seen = tmp.path().join("seen-checkpoint");
    std::fs::write(&seen, tally_ok(&a, &["ledger", "checkpoint"])).expect("write");
    let out = tmp.path().join("export-b");
    export(&b, &out);
    tally_ok(&b, &["ledger", "verify", out.to_str().expect("utf-8")]);
    let o = tally(&b, &["ledger", "verify", out.to_str().expect("utf-8"), "--previous", seen.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("fork"), "{}", stderr(&o));
}

#[test]
fn commands_refuse_a_missing_ledger_without_creating_one() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("nothing-here");
    for args in [
        &["ledger", "note", "--author", "a", "text"][..],
        &["ledger", "checkpoint"],
        &["ledger", "prove", "--index", "0"],
        &["tokens", "create", "--role", "guard", "--name", "g"],
    ] {
        let o = tally(&data, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("ledger init"), "{args:?}: {}", stderr(&o));
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }
}

#[test]
fn a_bad_configuration_names_file_line_and_reason() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let cfg = tmp.path().join("tally.toml");
    std::fs::write(&cfg, "[facility]\nid = \"makala\"\n\n[api]\nlisten = \"127.0.0.1:8080\"\nport = 9\n")
        .expect("write");
    let o = std::process::Command::new(crate::util::tally_bin())
        .args(["--config", cfg.to_str().expect("utf-8"), "ledger", "checkpoint"])
        .output()
        .expect("run tally");
    assert_eq!(o.status.code(), Some(2));
    let msg = stderr(&o);
    assert!(msg.contains(&format!("{}:6: unknown field `port`", cfg.display())), "{msg}");
    // The configured identity is the ledger's.
    std::fs::write(
        &cfg,
        format!("data_dir = {:?}\n[facility]\nid = \"makala\"\n[appliance]\nid = \"gate-7\"\n", tmp.path().join("d")),
    )
    .expect("write");
    let run = |args: &[&str]| {
        std::process::Command::new(crate::util::tally_bin())
            .args(["--config", cfg.to_str().expect("utf-8")])
            .args(args)
            .output()
            .expect("run tally")
    };
    let o = run(&["ledger", "init"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("created ledger makala/gate-7"), "{}", stderr(&o));
    std::fs::write(&cfg, format!("data_dir = {:?}\n[appliance]\nid = \"gate-8\"\n", tmp.path().join("d")))
        .expect("write");
    let o = run(&["ledger", "note", "--author", "a", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("belongs to makala/gate-7"), "{}", stderr(&o));
}
