//! The import's checks one by one (every reject reason, duplicates within the file and against the
//! register, dry runs that write nothing), on synthetic ISO records.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::clock::ManualClock;
use crate::fingerprint::iso::write_iso;
use crate::fingerprint::synth::templates::{finger, impression};
use crate::fingerprint::template::Template;
use crate::ledger::LedgerReader;
use crate::ledger::entry::Entry;

const SEED: u64 = 11;
const HEADER: &str = "id,category,given_names,family_name,date_of_birth,national_id,zone,fingers\n";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("boot-1", UNIX_EPOCH + Duration::from_secs(1_780_000_000), Duration::from_secs(60)))
}

/// A data directory with a ledger, and a folder for the import file and its templates.
struct Fixture {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    dir: PathBuf,
    clock: Arc<ManualClock>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let (data, dir) = (tmp.path().join("data"), tmp.path().join("import"));
        std::fs::create_dir_all(dir.join("t")).unwrap();
        let clock = clock();
        Ledger::create(&data, "facility", "gate-1", clock.clone()).unwrap();
        Fixture { _tmp: tmp, data, dir, clock }
    }

    /// Writes `t/NAME` and returns its path relative to the import folder.
    fn template(&self, name: &str, t: &Template) -> String {
        std::fs::write(self.dir.join("t").join(name), write_iso(t)).unwrap();
        format!("t/{name}")
    }

    /// Writes the import file (the header, then `rows`) and returns its path.
    fn csv(&self, rows: &[String]) -> PathBuf {
        let path = self.dir.join("people.csv");
        std::fs::write(&path, format!("{HEADER}{}", rows.iter().map(|r| format!("{r}\n")).collect::<String>()))
            .unwrap();
        path
    }

    fn run(&self, csv: &Path, options: &Options, dry_run: bool) -> Result<Report, ImportError> {
        let mut ledger = Ledger::open(&self.data, self.clock.clone()).unwrap();
        let mode = if dry_run { Mode::DryRun } else { Mode::Write(&mut ledger) };
        import(csv, &self.data, options, mode, self.clock.as_ref(), &mut |_| {})
    }

    fn entries(&self) -> Vec<Entry> {
        let mut r = LedgerReader::open(&self.data).unwrap();
        let (size, _) = r.latest_checkpoint().unwrap();
        r.entries(0, size).unwrap().iter().map(|b| Entry::parse(b).unwrap()).collect()
    }

    fn store(&self) -> Store {
        Store::open(&self.data, Open::MustExist).unwrap()
    }
}

/// Synthetic finger `i` (distinct fingers never match each other at the duplicate threshold).
fn master(i: u64) -> Template {
    finger(SEED, i)
}

fn options() -> Options {
    Options::new("sgt.import")
}

fn reasons(report: &Report, line: u64) -> &[String] {
    match report.issues.iter().find(|i| i.line == line).map(|i| &i.kind) {
        Some(IssueKind::Rejected { reasons }) => reasons,
        other => panic!("line {line}: {other:?}\n{report:#?}"),
    }
}

#[test]
fn the_header_must_name_every_column_once() {
    let read = |text: &str| rows::read(text.as_bytes(), Path::new("x.csv"));
    let e = read("id,category,given_names,surname,date_of_birth,national_id,zone,fingers,photo,id\n").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("missing: family_name") && msg.contains("unknown: surname, photo"), "{msg}");
    assert!(msg.contains("repeated: id"), "{msg}");
    assert!(matches!(read(""), Err(ImportError::NoHeader(_))));
    // Any order, a byte order mark, padding and quoting; a quoted newline keeps the line numbers right.
    let rows = read(
        "\u{feff}fingers, zone,national_id,date_of_birth,family_name,given_names,category,id\n\
         ,,,,\"Two\nLines\",A,inmate,P1\n\n,,,,B,C,staff,P2\n",
    )
    .unwrap();
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 5]);
    // Whatever the line ends and blank lines.
    for (text, lines) in [
        ("h\r\nA\r\n\r\nB\r\nC", vec![2, 4, 5]),
        ("h\n\n\nA\n\"x\r\ny\"\n\n\nB\n", vec![4, 5, 9]),
        ("h\rA\r\rB\r", vec![2, 4]),
    ] {
        let mut lines_of = rows::Lines { bytes: text.as_bytes(), at: 0, line: 1 };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let got: Vec<u64> = reader
            .byte_records()
            .skip(1)
            .map(|r| lines_of.of(r.unwrap().position().unwrap().byte() as usize))
            .collect();
        assert_eq!(got, lines, "{text:?}");
    }
    let f = rows[1].fields.as_ref().unwrap();
    assert_eq!((f[0].as_str(), f[1].as_str(), f[3].as_str()), ("P2", "staff", "B"));
    assert!(format!("{:?}", rows[0]).starts_with("RawRow { line: 2"), "Debug shows no names");
}

#[test]
fn dates_national_ids_and_finger_lists_are_checked() {
    for good in ["", "1990-04-01", "2000-02-29"] {
        assert!(rows::check_date(good).is_ok(), "{good}");
    }
    for bad in ["1990-4-01", "1990-02-30", "1990/04/01", "19900401", "+990-04-01", "1990-13-01", "abcd-ef-gh"] {
        assert!(rows::check_date(bad).is_err(), "{bad}");
    }
    assert!(rows::check_national_id("CD-55/1990").is_ok() && rows::check_national_id("").is_ok());
    for bad in ["CD 55", "é", &"1".repeat(41)] {
        assert!(rows::check_national_id(bad).is_err(), "{bad}");
    }
}

/// One row per way a row can be wrong, each refused with its line and reason, in a dry run and a
/// real one alike; the one good row goes through.
#[test]
fn every_problem_refuses_its_row_with_a_reason() {
    let fx = Fixture::new();
    let good = fx.template("good.iso", &master(1));
    let mut few = master(2);
    few.minutiae.truncate(MIN_MINUTIAE - 1);
    let few = fx.template("few.iso", &few);
    std::fs::write(fx.dir.join("t/junk.iso"), b"FMR\0 20\0 not really").unwrap();
    std::fs::write(fx.dir.join("t/big.iso"), vec![0u8; MAX_TEMPLATE_BYTES as usize + 1]).unwrap();
    let row = |id: &str, cat: &str, given: &str, dob: &str, nid: &str, zone: &str, fingers: &str| {
        format!("{id},{cat},{given},Family,{dob},{nid},{zone},{fingers}")
    };
    let rows = vec![
        row("P-1", "inmate", "Given", "1990-04-01", "CD-1", "", &format!("2:{good}")), // line 2: imported
        row("-bad", "inmate", "Given", "", "", "", ""),                                // 3
        row("P-3", "warden", "Given", "", "", "", ""),                                 // 4
        row("P-4", "inmate", " ", "", "", "", ""),                                     // 5
        row("P-5", "inmate", "Giv\u{202E}en", "", "", "", ""),                         // 6
        row("P-6", "inmate", "Given", "1990-02-30", "", "", ""),                       // 7
        row("P-7", "inmate", "Given", "", "CD 7", "", ""),                             // 8
        row("P-8", "inmate", "Given", "", "", "block-z", ""),                          // 9
        row("P-9", "inmate", "Given", "", "", "", "2"),                                // 10
        row("P-10", "inmate", "Given", "", "", "", "11:t/x.iso"),                      // 11
        row("P-11", "inmate", "Given", "", "", "", "2:t/a.iso;2:t/b.iso"),             // 12
        row("P-12", "inmate", "Given", "", "", "", "3:t/missing.iso"),                 // 13
        row("P-13", "inmate", "Given", "", "", "", "3:t/big.iso"),                     // 14
        row("P-14", "inmate", "Given", "", "", "", "3:t/junk.iso"),                    // 15
        row("P-15", "inmate", "Given", "", "", "", &format!("4:{few}")),               // 16
        "P-16,inmate,Given,Family,,,".to_owned(),                                      // 17
        row("P-1", "staff", "Other", "", "", "", ""),                                  // 18
        row("P-17", "visitor", "Given", "1990-02-30", "", "", "3:t"),                  // 19
    ];
    let csv = fx.csv(&rows);
    for dry_run in [true, false] {
        let r = fx.run(&csv, &options(), dry_run).unwrap();
        assert_eq!((r.rows, r.imported, r.rejected, r.duplicates), (18, 1, 17, 0), "{r:#?}");
        let has = |line: u64, text: &str| {
            let rs = reasons(&r, line);
            assert!(rs.iter().any(|x| x.contains(text)), "line {line}: {rs:?} lacks {text:?}");
        };
        has(3, "id: 1 to 32 letters");
        has(4, "category: must be inmate, staff or visitor");
        has(5, "given_names: must not be empty");
        has(6, "given_names: holds control or invisible formatting characters");
        has(7, "date_of_birth: not a calendar date");
        has(8, "national_id:");
        has(9, "zone: \"block-z\" is not a zone of this appliance (none configured; empty means outside)");
        has(10, "fingers: item 1 is not POSITION:PATH");
        has(11, "the position must be 1 (right thumb) to 10 (left little)");
        has(12, "fingers: position 2 is listed more than once");
        has(13, "finger 3: the template file does not exist");
        has(14, "finger 3: the template file is 65537 bytes, more than 65536");
        has(15, "finger 3: not an ISO 19794-2 or ANSI 378 minutiae record");
        has(16, "finger 4: the template holds 7 minutiae, at least 8 are needed");
        has(17, "has 7 fields where the header has 8");
        has(18, "duplicate id: also on line 2");
        // Every problem of a row, not only the first.
        has(19, "date_of_birth:");
        has(19, "finger 3: the template path is not a file");
        // Ids are named once valid; an invalid id is not repeated back.
        let issue = |line| r.issues.iter().find(|i| i.line == line).unwrap();
        assert_eq!((issue(3).id.as_deref(), issue(4).id.as_deref()), (None, Some("P-3")));
        // No reason repeats a name or a path.
        let all = serde_json::to_string(&r).unwrap();
        assert!(!all.contains("Given") && !all.contains("Family") && !all.contains("t/"), "{all}");
    }
    // The real run stored the one good row.
    assert_eq!((fx.store().person_count().unwrap(), fx.store().template_count().unwrap()), (1, 1));
}

#[test]
fn imports_in_batches_records_ids_only_and_holds_back_duplicates() {
    let fx = Fixture::new();
    let mut rows = Vec::new();
    for p in 0..5u64 {
        let (a, b) = (
            fx.template(&format!("{p}_2.iso"), &master(p * 2)),
            fx.template(&format!("{p}_7.iso"), &master(p * 2 + 1)),
        );
        rows.push(format!("P-{p},inmate,Given {p},Family {p},1990-01-0{},,reception,2:{a};7:{b}", p + 1));
    }
    // Line 7: another capture of P-1's finger 7, under another id and another position.
    let again = fx.template("dup.iso", &impression(&master(3), SEED, 1));
    rows.push(format!("Q-1,staff,Other,Person,,,,6:{again}"));
    // Line 8: no fingers at all.
    rows.push("V-1,visitor,Some,Visitor,,,,".to_owned());
    let csv = fx.csv(&rows);
    let mut o = options();
    o.batch_rows = 2;
    o.zones = ["reception".to_owned(), "block-a".to_owned()].into();
    let before = fx.entries().len();
    let r = fx.run(&csv, &o, false).unwrap();
    assert_eq!((r.rows, r.imported, r.rejected, r.duplicates), (7, 6, 0, 1), "{r:#?}");
    let IssueKind::PossibleDuplicate { candidates } = &r.issues[0].kind else { panic!("{r:#?}") };
    assert_eq!((r.issues[0].line, r.issues[0].id.as_deref()), (7, Some("Q-1")));
    let c = &candidates[0];
    assert_eq!((c.person.as_str(), c.line, c.finger, c.their_finger), ("P-1", Some(3), 6, 7), "{candidates:?}");
    assert!(c.fmr <= DUPLICATE_MAX_FMR && candidates.len() == 1, "{candidates:?}");

    // The register: six people, ten templates that open with the vault in their context.
    let store = fx.store();
    assert_eq!((store.person_count().unwrap(), store.template_count().unwrap()), (6, 10));
    assert!(store.person_get("Q-1").unwrap().is_none());
    let p1 = store.person_get("P-1").unwrap().unwrap();
    assert_eq!((p1.family_name.as_str(), p1.date_of_birth.as_deref()), ("Family 1", Some("1990-01-02")));
    let vault = Vault::open(&fx.data).unwrap();
    let (gallery, loaded) = Gallery::load(&store, &vault, options().index).unwrap();
    assert_eq!((loaded.loaded, loaded.skipped), (10, 0));
    assert_eq!(gallery.identify(&impression(&master(3), SEED, 1), 1).unwrap()[0].person, "P-1");

    // The ledger: for each row in order, registration then enrolment; one append per batch of two
    // rows (so one checkpoint each); ids and categories only.
    let entries = fx.entries();
    let new: Vec<&Event> = entries[before..].iter().map(|e| &e.event).collect();
    let mut expected = Vec::new();
    for p in 0..5 {
        let person = format!("P-{p}");
        let (officer, zone) = ("sgt.import".to_owned(), Some("reception".to_owned()));
        expected.push(Event::Registration(Registration {
            category: "inmate".into(),
            officer: officer.clone(),
            person: person.clone(),
            zone,
        }));
        expected.push(Event::Enrolment(Enrolment { fingers: vec![2, 7], officer, person }));
    }
    expected.push(Event::Registration(Registration {
        category: "visitor".into(),
        officer: "sgt.import".into(),
        person: "V-1".into(),
        zone: None,
    }));
    assert_eq!(new, expected.iter().collect::<Vec<_>>());
    let mut reader = LedgerReader::open(&fx.data).unwrap();
    let size = entries.len() as u64;
    for batch_end in [before as u64 + 4, before as u64 + 8, size] {
        reader.checkpoint_at(batch_end).unwrap();
    }
    assert!(reader.checkpoint_at(before as u64 + 2).is_err(), "one append per batch, not per row");
    let bytes: Vec<u8> = reader.entries(0, size).unwrap().concat();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("Given") && !text.contains("Family") && !text.contains("1990"), "{text}");

    // Again: every row now names an existing id, the held-back one is still held back.
    let again = fx.run(&csv, &o, false).unwrap();
    assert_eq!((again.imported, again.rejected, again.duplicates), (0, 6, 1), "{again:#?}");
    for line in [2, 3, 4, 5, 6, 8] {
        assert_eq!(reasons(&again, line), ["duplicate id: already in the register"]);
    }
    assert_eq!(fx.entries().len(), entries.len());
}

#[test]
fn a_dry_run_writes_nothing_and_creates_no_key() {
    let fx = Fixture::new();
    let a = fx.template("a.iso", &master(1));
    let b = fx.template("b.iso", &impression(&master(1), SEED, 2));
    let csv = fx.csv(&[format!("A-1,inmate,A,B,,,,1:{a}"), format!("A-2,inmate,C,D,,,,1:{b}")]);
    let before = fx.entries().len();
    let r = fx.run(&csv, &options(), true).unwrap();
    // Checked against each other even with no vault: the second is a duplicate of the first.
    assert_eq!((r.dry_run, r.imported, r.rejected, r.duplicates), (true, 1, 0, 1), "{r:#?}");
    assert!(!Vault::key_path(&fx.data).exists(), "a dry run created the template key");
    assert_eq!(fx.entries().len(), before);
    assert_eq!(fx.store().person_count().unwrap(), 0);

    // With a register: checked against it, still writing nothing.
    let first = fx.csv(&[format!("A-1,inmate,A,B,,,,1:{a}")]);
    assert_eq!(fx.run(&first, &options(), false).unwrap().imported, 1);
    let after = fx.entries().len();
    let key = std::fs::read(Vault::key_path(&fx.data)).unwrap();
    let r = fx
        .run(&fx.csv(&[format!("A-2,inmate,C,D,,,,1:{b}"), "A-1,staff,E,F,,,,".to_owned()]), &options(), true)
        .unwrap();
    assert_eq!((r.imported, r.rejected, r.duplicates, r.register_templates), (0, 1, 1, 1), "{r:#?}");
    assert_eq!(reasons(&r, 3), ["duplicate id: already in the register"]);
    assert_eq!((fx.entries().len(), fx.store().person_count().unwrap()), (after, 1));
    assert_eq!(std::fs::read(Vault::key_path(&fx.data)).unwrap(), key);

    // A register with templates but no key: refused rather than checked against nothing.
    std::fs::remove_file(Vault::key_path(&fx.data)).unwrap();
    assert!(matches!(fx.run(&first, &options(), true), Err(ImportError::Vault(_))));
}

#[test]
fn options_are_checked_before_anything_is_read() {
    let fx = Fixture::new();
    let csv = fx.csv(&["Z-1,staff,A,B,,,,".to_owned()]);
    let mut o = options();
    o.default_zone = Some("yard".into());
    o.zones = ["reception".to_owned()].into();
    let e = fx.run(&csv, &o, false).unwrap_err();
    assert!(e.to_string().contains("\"yard\" is not a zone of this appliance (known: reception)"), "{e}");
    let mut o = options();
    o.officer = "sgt\u{7}".into();
    assert!(matches!(fx.run(&csv, &o, false), Err(ImportError::Officer(_))));
    assert!(matches!(fx.run(&fx.dir.join("absent.csv"), &options(), false), Err(ImportError::Read { .. })));

    // The default zone goes to rows whose zone is empty.
    let mut o = options();
    o.zones = ["reception".to_owned()].into();
    o.default_zone = Some("reception".into());
    assert_eq!(fx.run(&csv, &o, false).unwrap().imported, 1);
    let last = fx.entries().pop().unwrap();
    assert!(matches!(last.event, Event::Registration(Registration { zone: Some(ref z), .. }) if z == "reception"));
}

/// An id registered by another writer between the check and the write: that row alone is refused,
/// the rest of its batch is written.
#[test]
fn an_id_taken_meanwhile_refuses_that_row_only() {
    let fx = Fixture::new();
    let csv = fx.csv(&["R-1,staff,A,B,,,,".to_owned(), "R-2,staff,C,D,,,,".to_owned(), "R-3,staff,E,F,,,,".to_owned()]);
    let mut other = fx.store();
    let mut ledger = Ledger::open(&fx.data, fx.clock.clone()).unwrap();
    let mut taken = false;
    let r = import(&csv, &fx.data, &options(), Mode::Write(&mut ledger), fx.clock.as_ref(), &mut |p| {
        if p.done == 2 && !taken {
            let np = NewPerson {
                id: "R-2".into(),
                category: crate::people::Category::Staff,
                given_names: "X".into(),
                family_name: "Y".into(),
                date_of_birth: None,
                national_id: None,
            };
            other.person_insert(&np, "2026-01-01T00:00:00Z").unwrap();
            taken = true;
        }
    })
    .unwrap();
    assert_eq!((r.imported, r.rejected), (2, 1), "{r:#?}");
    assert!(reasons(&r, 3)[0].contains("registered by someone else during the import"));
    let registered: Vec<String> = fx
        .entries()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Registration(r) => Some(r.person),
            _ => None,
        })
        .collect();
    assert_eq!(registered, ["R-1", "R-3"]);
}
