//! `tally people import` through the real binary: a dry run writes nothing (no ledger entry, no template
//! key), a real run imports the good rows, refuses the bad ones by line, holds back a planted duplicate
//! naming its candidate, records registration and enrolment entries that name ids only, and a second
//! run refuses every imported row as an existing id. Then the same with SecuGen ISO records from
//! FVC2002 DB1_B, where two impressions of one finger under two ids must be caught. And an import made
//! while the service runs: its people are identified by the running service, without a restart.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tally::fingerprint::iso::write_iso;
use tally::fingerprint::synth::templates::{finger, impression};

use crate::util::{Server, fvc, mutate, post, tally, tally_ok, token};

const HEADER: &str = "id,category,given_names,family_name,date_of_birth,national_id,zone,fingers";
const SEED: u64 = 2026;

/// One lane from outside to reception, so that "reception" is a zone of the configuration.
const CONFIG: &str = "[[lane]]\nid = \"north-in\"\nfrom_zone = \"outside\"\nto_zone = \"reception\"\n\
                      reader = \"simulated\"\nturnstile_port = \"/dev/null\"\nturnstile_address = 1\n\
                      turnstile_install_mode = true\n";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn ledger_size(data: &Path) -> u64 {
    tally_ok(data, &["ledger", "checkpoint"]).lines().nth(1).expect("size line").parse().expect("size")
}

/// Runs `tally people import` and returns its JSON report, checking that it exited 0.
fn import_json(data: &Path, config: &Path, csv: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--config", s(config), "people", "import", s(csv), "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&tally_ok(data, &args)).expect("JSON report")
}

fn counts(r: &Value) -> [u64; 4] {
    ["rows", "imported", "rejected", "duplicates"].map(|k| r[k].as_u64().expect(k))
}

/// The issue reported for `line`.
fn issue(r: &Value, line: u64) -> &Value {
    r["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .find(|i| i["line"] == line)
        .unwrap_or_else(|| panic!("line {line}: {r:#}"))
}

fn reasons(r: &Value, line: u64) -> String {
    let i = issue(r, line);
    assert_eq!(i["outcome"], "rejected", "{i:#}");
    i["reasons"].as_array().expect("reasons").iter().map(|x| x.as_str().expect("reason")).collect::<Vec<_>>().join("; ")
}

/// The ledger's entries (parsed JSON), through `tally ledger export`.
fn exported(data: &Path, out: &Path) -> (Vec<Value>, String) {
    tally_ok(data, &["ledger", "export", "--out", s(out)]);
    let text = std::fs::read_to_string(out.join("entries.jsonl")).expect("entries.jsonl");
    (text.lines().map(|l| serde_json::from_str(l).expect("entry JSON")).collect(), text)
}

#[test]
fn imports_good_rows_refuses_bad_ones_and_holds_back_duplicates() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let (data, dir) = (tmp.path().join("data"), tmp.path().join("registry"));
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    let config = tmp.path().join("tally.toml");
    std::fs::write(&config, CONFIG).expect("write the configuration");
    tally_ok(&data, &["--config", s(&config), "ledger", "init"]);

    let write = |name: &str, t: &tally::fingerprint::template::Template| {
        std::fs::write(dir.join("templates").join(name), write_iso(t)).expect("write a template");
        format!("templates/{name}")
    };
    let (f1_2, f1_7, f2_1, f7_3) = (finger(SEED, 0), finger(SEED, 1), finger(SEED, 2), finger(SEED, 3));
    let rows = [
        // line 2: imported, at reception
        format!(
            "MKL-0001,inmate,Jean-Pierre,Mbuyi,1988-03-14,CD-88/1,reception,2:{};7:{}",
            write("1_2.iso", &f1_2),
            write("1_7.iso", &f1_7)
        ),
        // line 3: imported, outside
        format!("MKL-0002,staff,Grace,Kabila,,,,1:{}", write("2_1.iso", &f2_1)),
        // line 4: a category that does not exist
        "MKL-0003,warden,Amani,Tshisekedi,,,,".to_owned(),
        // line 5: a template file that is not there
        "MKL-0004,inmate,Patrice,Lumumba,,,,3:templates/absent.iso".to_owned(),
        // line 6: an id given twice
        "MKL-0002,inmate,Other,Person,,,,".to_owned(),
        // line 7: MKL-0001's right index finger, captured again, under another id
        format!("MKL-0005,inmate,Joseph,Kasa-Vubu,,,,2:{}", write("5_2.iso", &impression(&f1_2, SEED, 1))),
        // line 8: a date that is not one
        "MKL-0006,visitor,Marie,Kanza,2001-13-01,,,".to_owned(),
        // line 9: imported
        format!("MKL-0007,inmate,\"Mobutu, Sese\",Seko,,,,3:{}", write("7_3.iso", &f7_3)),
    ];
    let csv = dir.join("people.csv");
    std::fs::write(&csv, format!("{HEADER}\n{}\n", rows.join("\n"))).expect("write the CSV");

    // Dry run: the full report, and nothing written.
    let size = ledger_size(&data);
    let dry = import_json(&data, &config, &csv, &["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(counts(&dry), [8, 3, 4, 1], "{dry:#}");
    assert_eq!(ledger_size(&data), size, "a dry run wrote to the ledger");
    assert!(!data.join("keys").join("templates.key").exists(), "a dry run created the template key");

    // The real run, with the plain-text report.
    let out = tally(&data, &["--config", s(&config), "people", "import", s(&csv), "--officer", "sgt.okito"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("8 rows, 3 imported, 4 rejected, 1 possible duplicates held back"), "{text}");
    assert!(text.contains("line 4 (MKL-0003): rejected: category: must be inmate, staff or visitor"), "{text}");
    assert!(text.contains("line 5 (MKL-0004): rejected: finger 3: the template file does not exist"), "{text}");
    assert!(text.contains("line 6 (MKL-0002): rejected: duplicate id: also on line 3"), "{text}");
    assert!(text.contains("line 7 (MKL-0005): possible duplicate, held back: MKL-0001, imported from line 2 (finger 2 matches their finger 2"), "{text}");
    assert!(
        text.contains("line 8 (MKL-0006): rejected: date_of_birth: not a calendar date written YYYY-MM-DD"),
        "{text}"
    );
    assert!(data.join("keys").join("templates.key").exists());

    // The ledger: registration then enrolment for each imported row, in file order, ids only.
    let (entries, text) = exported(&data, &tmp.path().join("export"));
    let people: Vec<(String, Value)> = entries[size as usize..]
        .iter()
        .map(|e| (e["kind"].as_str().expect("kind").to_owned(), e["body"].clone()))
        .collect();
    let kinds: Vec<(&str, &str)> =
        people.iter().map(|(k, b)| (k.as_str(), b["person"].as_str().expect("person"))).collect();
    assert_eq!(
        kinds,
        [
            ("registration", "MKL-0001"),
            ("enrolment", "MKL-0001"),
            ("registration", "MKL-0002"),
            ("enrolment", "MKL-0002"),
            ("registration", "MKL-0007"),
            ("enrolment", "MKL-0007"),
        ]
    );
    assert_eq!(
        people[0].1,
        serde_json::json!({"category": "inmate", "officer": "sgt.okito", "person": "MKL-0001", "zone": "reception"})
    );
    assert_eq!(people[1].1, serde_json::json!({"fingers": [2, 7], "officer": "sgt.okito", "person": "MKL-0001"}));
    assert_eq!(people[2].1["zone"], Value::Null);
    for secret in ["Jean-Pierre", "Mbuyi", "Kabila", "Mobutu", "1988-03-14", "CD-88/1", "FMR"] {
        assert!(!text.contains(secret), "the ledger holds {secret:?}");
    }
    tally_ok(&data, &["ledger", "verify", s(&tmp.path().join("export"))]);

    // The same file again: every imported row is now an existing id; nothing more is written.
    let size = ledger_size(&data);
    let again = import_json(&data, &config, &csv, &[]);
    assert_eq!(counts(&again), [8, 0, 7, 1], "{again:#}");
    for line in [2, 3, 9] {
        assert_eq!(reasons(&again, line), "duplicate id: already in the register");
    }
    let held = issue(&again, 7);
    assert_eq!(
        (&held["outcome"], &held["candidates"][0]["person"], &held["candidates"][0]["line"]),
        (&"possible_duplicate".into(), &"MKL-0001".into(), &Value::Null)
    );
    assert_eq!(ledger_size(&data), size);

    // A header with a wrong column is an error, not a report.
    std::fs::write(&csv, "id,category,given_names,surname,date_of_birth,national_id,zone,fingers\n").expect("write");
    let bad = tally(&data, &["people", "import", s(&csv)]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("missing: family_name") && err.contains("unknown: surname"), "{err}");
}

/// The `import_rows` fuzz target's body on seeded mutations of a real import file.
/// The best candidate the running service names for `template`, if any.
fn identified(server: &Server, token: &str, template: &[u8]) -> Option<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(template);
    let body = serde_json::json!({ "template": b64, "max": 1 }).to_string();
    let (status, text) = post(&server.url("/api/v1/identify"), Some(token), body.as_bytes());
    assert_eq!(status, 200, "{text}");
    let found: Value = serde_json::from_str(&text).expect("JSON");
    let best = &found["candidates"][0];
    (best["fmr"].as_f64()? <= found["gate_max_fmr"].as_f64()?).then(|| best["person"].as_str().map(str::to_owned))?
}

#[test]
fn people_imported_while_the_service_runs_are_identified_without_a_restart() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let (data, dir) = (tmp.path().join("data"), tmp.path().join("registry"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    tally_ok(&data, &["ledger", "init"]);
    let enroller = token(&data, "enroller", "officer");
    let server = Server::start(&data);

    let master = finger(SEED, 40);
    std::fs::write(dir.join("40.iso"), write_iso(&master)).expect("write a template");
    let csv = dir.join("people.csv");
    std::fs::write(&csv, format!("{HEADER}\nMKL-0400,inmate,Kimpa,Vita,,,,2:40.iso\n")).expect("write the CSV");
    let probe = write_iso(&impression(&master, SEED, 1));
    assert_eq!(identified(&server, &enroller, &probe), None, "identified before the import");

    let report: Value = serde_json::from_str(&tally_ok(&data, &["people", "import", s(&csv), "--json"])).expect("JSON");
    assert_eq!(counts(&report), [1, 1, 0, 0], "{report:#}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match identified(&server, &enroller, &probe) {
            Some(person) => {
                assert_eq!(person, "MKL-0400");
                break;
            }
            None => assert!(std::time::Instant::now() < deadline, "the running service never identified the import"),
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn mutated_import_files_never_panic() {
    let file = format!(
        "{HEADER}\nMKL-0001,inmate,Jean-Pierre,Mbuyi,1988-03-14,CD-88/1,reception,2:t/a.iso;7:t/b.iso\n\
         \"MKL-0002\",staff,\"Grace, Amani\",\"Ka\"\"bila\",,,,\r\nMKL-0003,visitor,A,B,2001-02-03,,,1:/dev/null\n"
    );
    tally::people::import::fuzz_body(file.as_bytes());
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x1a40);
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..5000 {
        let mut bytes = file.clone().into_bytes();
        mutate(&mut rng, b",;:\"\r\n/.-0129\xef\xbb\xbf\x00\xff", &mut bytes);
        tally::people::import::fuzz_body(&bytes);
    }
    eprintln!("5000 mutations, seed {seed}");
}

/// Ten people enrolled from SecuGen ISO records of FVC2002 DB1_B (first impressions of fingers 101 to
/// 110), then another capture of finger 101 under a new id: caught as a possible duplicate of the
/// first person.
#[test]
fn fvc2002_iso_records_import_and_a_second_impression_is_caught() {
    let Some(fvc) = fvc() else { return };
    let db: PathBuf = fvc.join("DB1_B").canonicalize().expect("DB1_B");
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("data");
    tally_ok(&data, &["ledger", "init"]);
    let mut rows: Vec<String> =
        (101..=110).map(|f| format!("F-{f},inmate,Given,Family,,,,2:{}", s(&db.join(format!("{f}_1.iso"))))).collect();
    rows.push(format!("X-101,inmate,Given,Family,,,,2:{}", s(&db.join("101_2.iso"))));
    let csv = tmp.path().join("fvc.csv");
    std::fs::write(&csv, format!("{HEADER}\n{}\n", rows.join("\n"))).expect("write the CSV");

    let r: Value = serde_json::from_str(&tally_ok(&data, &["people", "import", s(&csv), "--json"])).expect("JSON");
    assert_eq!(counts(&r), [11, 10, 0, 1], "{r:#}");
    let held = issue(&r, 12);
    assert_eq!(held["outcome"], "possible_duplicate", "{held:#}");
    assert_eq!(held["candidates"][0]["person"], "F-101", "{held:#}");
    assert!(held["candidates"][0]["fmr"].as_f64().expect("fmr") <= 1e-4, "{held:#}");
}

/// The import speed quoted in the docs of `tally::people::import`: a generated file of
/// `TALLY_IMPORT_ROWS` rows (default 2,000), two synthetic templates each, imported by the binary, a
/// dry run then the real run; wall time and the child's CPU time. Run it with
/// `cargo test --release --test it people_import::speed -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement (tens of seconds in release), not a check"]
fn speed() {
    let n: u64 = std::env::var("TALLY_IMPORT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let (data, dir) = (tmp.path().join("data"), tmp.path().join("registry"));
    std::fs::create_dir_all(dir.join("t")).expect("mkdir");
    tally_ok(&data, &["ledger", "init"]);
    let mut csv = format!("{HEADER}\n");
    for p in 0..n {
        let mut fingers = Vec::new();
        for (k, position) in [(0, 2), (1, 7)] {
            let name = format!("t/{p}_{position}.iso");
            std::fs::write(dir.join(&name), write_iso(&finger(SEED, p * 2 + k))).expect("write a template");
            fingers.push(format!("{position}:{name}"));
        }
        csv.push_str(&format!("P-{p:06},inmate,Given,Family,1990-01-01,,,{}\n", fingers.join(";")));
    }
    let path = dir.join("people.csv");
    std::fs::write(&path, csv).expect("write the CSV");
    // TALLY_IMPORT_SKIP_DRY_RUN=1: the import alone (a dry run costs about as much).
    let skip_dry = std::env::var_os("TALLY_IMPORT_SKIP_DRY_RUN").is_some();
    for extra in [&["--dry-run"][..], &[]].into_iter().skip(usize::from(skip_dry)) {
        let (t0, cpu0) = (std::time::Instant::now(), children_cpu());
        let mut args = vec!["people", "import", s(&path), "--json"];
        args.extend_from_slice(extra);
        let r: Value = serde_json::from_str(&tally_ok(&data, &args)).expect("JSON");
        let (took, cpu) = (t0.elapsed().as_secs_f64(), children_cpu() - cpu0);
        println!(
            "{n} rows × 2 templates, {}: {took:.1} s ({:.0} rows/s), {cpu:.1} s of CPU; imported {}, held back {}",
            if extra.is_empty() { "import" } else { "dry run" },
            n as f64 / took,
            r["imported"],
            r["duplicates"]
        );
    }
}

/// CPU seconds used by this process's finished children (user and system), from /proc/self/stat:
/// on a shared machine, wall time says more about the neighbours than about the import.
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after_name = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 16 and 17 of proc(5), cutime and cstime, in clock ticks (100 a second on Linux).
    let ticks: f64 = fields[13..=14].iter().map(|f| f.parse::<f64>().expect("ticks")).sum();
    ticks / 100.0
}

/// How far down candidate selection the mate of a possible duplicate comes: for impressions of
/// gallery fingers whose full match reaches the duplicate threshold, the mate's selection rank. It
/// backs the import's short list (`tally::people::import::SHORTLIST`). Run it with
/// `cargo test --release --test it people_import::shortlist -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement (a minute or two in release), not a check"]
fn shortlist() {
    use tally::fingerprint::index::{Index, IndexConfig, TemplateId};
    use tally::fingerprint::matcher::{PreparedTemplate, compare_prepared, fmr_for_score};
    let n: u64 = std::env::var("TALLY_GALLERY").ok().and_then(|v| v.parse().ok()).unwrap_or(40_000);
    let gallery: Vec<_> = (0..n).map(|i| finger(SEED, i)).collect();
    let index = Index::new(IndexConfig::default());
    index.extend(gallery.iter().enumerate().map(|(i, t)| (TemplateId(i as u64), t))).expect("index");
    let (mut ranks, mut weak) = (Vec::new(), 0);
    for i in (0..n).step_by((n / 1000).max(1) as usize) {
        let probe = impression(&gallery[i as usize], SEED, 1);
        let fmr = fmr_for_score(compare_prepared(
            &PreparedTemplate::new(&probe),
            &PreparedTemplate::new(&gallery[i as usize]),
        ));
        if fmr > 1e-4 {
            weak += 1;
            continue;
        }
        ranks.push(index.selection_rank(&probe, TemplateId(i)).unwrap_or(usize::MAX));
    }
    ranks.sort_unstable();
    let q = |p: f64| ranks[((ranks.len() - 1) as f64 * p).round() as usize];
    println!(
        "gallery {n}: {} mates at FMR <= 1e-4 ({weak} weaker left out); selection rank median {}, p99 {}, p99.9 {}, max {}; within 16: {}, 32: {}, 96: {}",
        ranks.len(),
        q(0.5),
        q(0.99),
        q(0.999),
        q(1.0),
        ranks.iter().filter(|&&r| r < 16).count(),
        ranks.iter().filter(|&&r| r < 32).count(),
        ranks.iter().filter(|&&r| r < 96).count(),
    );
}
