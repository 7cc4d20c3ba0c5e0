//! Registering people in bulk, with their fingers, from what a national registry or an older system
//! exports: a CSV file and ISO 19794-2 / ANSI 378 template files (`tally people import`).
//!
//! It owns the import's plan — which rows are imported, which are refused and why, which are held back
//! as possible duplicates — and the order in which accepted rows are written. The file format and the
//! checks of one row are [`rows`]'s. It does not draw progress or print (the command does), and the
//! SQL is the store's.
//!
//! # Each row, in file order
//! 1. **Check** ([`rows`]): the fields as the API checks a registration, each template file present,
//!    at most 64 KiB, a record that parses, with at least 8 minutiae. Any problem refuses the row.
//! 2. **Id**: refused as a duplicate id when the register holds it, or when an earlier row of the file
//!    gave it (whatever became of that row).
//! 3. **Fingers**: each template is identified in a gallery holding everyone enrolled and everyone
//!    imported earlier in this run. A match of someone else at a false match rate of at most
//!    [`DUPLICATE_MAX_FMR`] holds the row back as a possible duplicate, naming the candidates; it is not
//!    written and not added to the gallery. (The gallery is loaded once: people enrolled by another
//!    process during the import are not seen.)
//! 4. **Accept**: the row's templates join the gallery (under provisional ids: this gallery is the
//!    import's own) and the row joins the batch to write.
//!
//! # Writing a batch: every [`BATCH_ROWS`] accepted rows, and at the end
//! 1. **seal** each template with the vault, in its context (person and finger);
//! 2. **store**, in one transaction, the batch's people and sealed templates: all or none. If another
//!    writer registered one of the ids meanwhile, the batch is written again row by row and that row
//!    alone is refused;
//! 3. **record**, in one ledger append, each row's `registration` entry followed by its `enrolment`
//!    entry (a row without fingers has none), rows in file order; durable once it returns.
//!
//! So the crash rule holds per batch: a crash before 2 commits leaves nothing of the batch; a crash
//! between 2 and 3 leaves its people (at most [`BATCH_ROWS`]) in the register without their
//! registration entries — the API completes such a record on a retry, and importing the file again
//! reports them as existing ids — but never an entry naming someone the register lacks. Earlier
//! batches are complete. One append per batch rather than per row keeps the writing cheap: each
//! append is a durable transaction with a signed checkpoint.
//!
//! # Speed
//! The time goes into the duplicate check: each template is compared in full with a short list of
//! [`SHORTLIST`] candidates. Generated files with two synthetic templates per row, imported by the
//! release build (`people_import::speed`, an ignored test in `tests/it`) on the 2-core development
//! machine: 2,000 rows took 56 s of CPU as a dry run and 60 s imported; 20,000 rows took 685 s of
//! CPU imported (about 17 ms per template as the gallery grows to 40,000), which is about six
//! minutes on two free cores. Wall time there was two to four times longer, the machine being shared.
//! Of those 20,000 rows, 7 were held back: synthetic fingers of different people that match at the
//! duplicate threshold, as a false match rate of 1e-4 lets a few do at that size.
//!
//! # Dry run
//! [`Mode::DryRun`] runs every check, duplicates included (within the file and against the register),
//! and writes nothing: not the store, not the ledger, and no template key file — the vault is opened
//! only if its key exists. Without one (a fresh appliance) the register holds no templates, and the
//! file's templates are still read, parsed and checked against each other.
//!
//! Names and templates appear in no report, error or log: rows are named by line, and by id once the
//! id is valid.

mod rows;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::gallery::{Gallery, GalleryError, LoadReport, Owner};
use super::vault::{Vault, VaultError, template_context};
use super::{DUPLICATE_MAX_FMR, PeopleError, check_name};
use crate::clock::{self, Clock};
use crate::fingerprint::index::{IndexConfig, IndexError};
use crate::ledger::entry::{Enrolment, Event, Registration};
use crate::ledger::{Ledger, LedgerError};
use crate::store::people::{NewPerson, NewTemplate};
use crate::store::{Open, Store, StoreError};
use rows::{Checked, Rules, ValidRow};

pub use rows::{COLUMNS, MAX_NATIONAL_ID_LEN, MAX_TEMPLATE_BYTES, MIN_MINUTIAE, RawRow, read_file};

/// Accepted rows written together: one store transaction and one ledger append.
pub const BATCH_ROWS: usize = 500;
/// Templates compared in full for each of the file's templates, after candidate selection (the gate
/// compares 96). A possible duplicate is a strong match, and strong matches come at the top of
/// candidate selection: among 40,000 synthetic templates, of 1,000 impressions matching their mate at
/// [`DUPLICATE_MAX_FMR`] or below, 995 had it within the first 16, 997 within 32 and 998 within 96
/// (`people_import::shortlist`, an ignored test in `tests/it`). A third of the gate's work per template
/// for one miss in a thousand more, per finger: a person listed with two fingers is missed only if
/// both are.
pub const SHORTLIST: usize = 32;
/// People asked of the gallery for each template.
const CANDIDATES: usize = 5;
/// Provisional gallery ids of templates imported in this run start here, far above any row id.
const PROVISIONAL: u64 = 1 << 62;

/// Why an import stopped. Rows that fail their checks are not errors: the [`Report`] lists them.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The import file could not be read as CSV.
    #[error("cannot read {path}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the CSV reader said.
        #[source]
        source: csv::Error,
    },
    /// The import file could not be opened.
    #[error("cannot open {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{0} is empty: a header row naming the columns {cols} is required", cols = COLUMNS.join(","))]
    NoHeader(PathBuf),
    /// The header row does not name exactly the expected columns.
    #[error(
        "{path}: the header row must name the columns {cols}{}{}{}",
        list("missing", missing), list("unknown", unknown), list("repeated", repeated), cols = COLUMNS.join(",")
    )]
    Header {
        /// The file.
        path: PathBuf,
        /// Columns absent.
        missing: Vec<String>,
        /// Columns that are not import columns.
        unknown: Vec<String>,
        /// Columns named more than once.
        repeated: Vec<String>,
    },
    /// The officer's name is not acceptable in a ledger entry.
    #[error("the officer's name is refused")]
    Officer(#[source] PeopleError),
    /// The default zone is not one of the configuration's.
    #[error("the zone {zone:?} is not a zone of this appliance ({known})")]
    UnknownZone {
        /// The zone asked for.
        zone: String,
        /// The zones there are, listed.
        known: String,
    },
    /// The register could not be read or written.
    #[error("the register")]
    Store(#[from] StoreError),
    /// The template key could not be opened or created, or sealing failed.
    #[error("the template vault")]
    Vault(#[from] VaultError),
    /// The enrolled templates could not be loaded for the duplicate check.
    #[error("loading the enrolled templates")]
    Gallery(#[from] GalleryError),
    /// A template could not be added to the duplicate check.
    #[error("the identification index")]
    Index(#[from] IndexError),
    /// The ledger refused a batch's entries after its people were stored (see the module docs).
    #[error(
        "the ledger refused the entries of lines {first_line}–{last_line}: those {stored} people are in the register \
         without their registration entries; {imported} rows were imported before them, nothing after"
    )]
    Ledger {
        /// Line of the batch's first row.
        first_line: u64,
        /// Line of the batch's last row.
        last_line: u64,
        /// People of the batch stored.
        stored: usize,
        /// Rows imported completely before the batch.
        imported: u64,
        /// The ledger's error.
        #[source]
        source: LedgerError,
    },
}

fn list(what: &str, names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!("; {what}: {}", names.join(", ")) }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    /// The officer named in the ledger entries.
    pub officer: String,
    /// Zones a row may name: the configuration's zones, outside excepted.
    pub zones: BTreeSet<String>,
    /// The zone of rows whose zone is empty (`None`: outside).
    pub default_zone: Option<String>,
    /// Accepted rows per batch ([`BATCH_ROWS`]).
    pub batch_rows: usize,
    /// The duplicate check's index.
    pub index: IndexConfig,
}

impl Options {
    /// Defaults: no zones, a batch of [`BATCH_ROWS`], a short list of [`SHORTLIST`] on every core.
    pub fn new(officer: impl Into<String>) -> Options {
        Options {
            officer: officer.into(),
            zones: BTreeSet::new(),
            default_zone: None,
            batch_rows: BATCH_ROWS,
            index: IndexConfig { shortlist: SHORTLIST, ..IndexConfig::default() },
        }
    }
}

/// Whether to write.
#[derive(Debug)]
pub enum Mode<'a> {
    /// Check everything, write nothing.
    DryRun,
    /// Write accepted rows; the ledger is the one the command opened (its identity checked).
    Write(&'a mut Ledger),
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Data rows in the file.
    pub rows: u64,
    /// Rows imported (in a dry run: that would be).
    pub imported: u64,
    /// Rows refused, duplicate ids included.
    pub rejected: u64,
    /// Rows held back as possible duplicates.
    pub duplicates: u64,
    /// Templates of the register in the duplicate check.
    pub register_templates: u64,
    /// Stored templates that did not open or decode, so were left out of the duplicate check.
    pub register_templates_skipped: u64,
    /// Every row refused or held back, by line.
    pub issues: Vec<Issue>,
}

/// A row refused or held back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// 1-based line where the row starts.
    pub line: u64,
    /// The row's id, when it is a valid id.
    pub id: Option<String>,
    /// What became of it.
    #[serde(flatten)]
    pub kind: IssueKind,
}

/// What became of a row that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IssueKind {
    /// Refused, for these reasons.
    Rejected {
        /// Every problem found.
        reasons: Vec<String>,
    },
    /// Held back: a finger matches someone else's.
    PossibleDuplicate {
        /// The people matched, best first.
        candidates: Vec<Candidate>,
    },
}

/// Someone a held-back row's finger matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Their id.
    pub person: String,
    /// The line that imported them in this run (`None`: enrolled before).
    pub line: Option<u64>,
    /// The row's finger that matched (its best, when several did).
    pub finger: u8,
    /// Their finger it matched.
    pub their_finger: u8,
    /// The matcher's score.
    pub score: f32,
    /// The false match rate that score stands for.
    pub fmr: f64,
}

/// Progress, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Rows handled.
    pub done: u64,
    /// Rows in the file.
    pub total: u64,
}

/// Imports the file `csv` into the register and ledger of `data_dir` (see the module docs). Returns an
/// error only when the import cannot go on (the file or the register cannot be read, a write fails);
/// rows that fail their checks are listed in the report.
pub fn import(
    csv: &Path,
    data_dir: &Path,
    options: &Options,
    mode: Mode<'_>,
    clock: &dyn Clock,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, ImportError> {
    check_name("officer", &options.officer).map_err(ImportError::Officer)?;
    if let Some(zone) = options.default_zone.as_ref().filter(|z| !options.zones.contains(*z)) {
        return Err(ImportError::UnknownZone { zone: zone.clone(), known: rows::known(&options.zones) });
    }
    let raw = read_file(csv)?;
    let store = Store::open(data_dir, Open::MustExist)?;
    let dry_run = matches!(mode, Mode::DryRun);
    let vault = open_vault(data_dir, &store, dry_run)?;
    let (gallery, loaded) = match &vault {
        Some(v) => Gallery::load(&store, v, options.index)?,
        None => (Gallery::new(options.index), LoadReport::default()),
    };
    let base = csv.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut run = Run {
        options,
        store,
        vault,
        ledger: match mode {
            Mode::DryRun => None,
            Mode::Write(l) => Some(l),
        },
        gallery,
        clock,
        ids: HashMap::new(),
        imported_lines: HashMap::new(),
        next_template: PROVISIONAL,
        batch: Vec::new(),
        report: Report {
            dry_run,
            rows: raw.len() as u64,
            imported: 0,
            rejected: 0,
            duplicates: 0,
            register_templates: loaded.loaded,
            register_templates_skipped: loaded.skipped,
            issues: Vec::new(),
        },
    };
    let rules = Rules { base, zones: &options.zones, default_zone: options.default_zone.as_deref() };
    let total = raw.len() as u64;
    for (done, row) in raw.iter().enumerate() {
        run.row(rows::check(row, &rules))?;
        progress(Progress { done: done as u64 + 1, total });
    }
    run.flush()?;
    let mut report = run.report;
    report.issues.sort_by_key(|i| i.line);
    tracing::info!(
        rows = report.rows,
        imported = report.imported,
        rejected = report.rejected,
        duplicates = report.duplicates,
        dry_run,
        "people import finished"
    );
    Ok(report)
}

/// The template vault for an import: the existing key when there is one; otherwise none for a dry run
/// (nothing is created), a new key for a real one. A register that holds templates but no key file is
/// an error either way ([`Vault::open`]'s): its key was lost, and a new one would open nothing.
fn open_vault(data_dir: &Path, store: &Store, dry_run: bool) -> Result<Option<Vault>, ImportError> {
    let exists = std::fs::symlink_metadata(Vault::key_path(data_dir)).is_ok();
    if exists || store.template_count()? > 0 {
        return Ok(Some(Vault::open(data_dir)?));
    }
    Ok(if dry_run { None } else { Some(Vault::open_or_create(data_dir)?) })
}

/// An accepted row waiting to be written.
struct Unit {
    line: u64,
    person: NewPerson,
    zone: Option<String>,
    /// Finger position, quality, template encoding (plaintext) and provisional gallery id.
    fingers: Vec<(u8, u8, Vec<u8>, u64)>,
}

/// The state of one import.
struct Run<'a> {
    options: &'a Options,
    store: Store,
    vault: Option<Vault>,
    /// `None`: a dry run.
    ledger: Option<&'a mut Ledger>,
    gallery: Gallery,
    clock: &'a dyn Clock,
    /// Ids given by the rows so far, with the line of the first.
    ids: HashMap<String, u64>,
    /// People accepted in this run, with their line.
    imported_lines: HashMap<String, u64>,
    next_template: u64,
    batch: Vec<Unit>,
    report: Report,
}

impl Run<'_> {
    /// Plans one checked row: refused, held back, or accepted into the batch.
    fn row(&mut self, checked: Checked) -> Result<(), ImportError> {
        let (line, id) = match &checked {
            Checked::Valid(v) => (v.line, Some(v.person.id.clone())),
            Checked::Invalid { line, id, .. } => (*line, id.clone()),
        };
        let duplicate_id = match &id {
            Some(id) => self.duplicate_id(id, line)?,
            None => None,
        };
        match (checked, duplicate_id) {
            (Checked::Invalid { mut problems, .. }, dup) => {
                problems.splice(0..0, dup);
                self.reject(line, id, problems);
            }
            (Checked::Valid(_), Some(dup)) => self.reject(line, id, vec![dup]),
            (Checked::Valid(v), None) => {
                let candidates = self.candidates(&v)?;
                if candidates.is_empty() {
                    self.accept(v)?;
                } else {
                    self.report.duplicates += 1;
                    let kind = IssueKind::PossibleDuplicate { candidates };
                    self.report.issues.push(Issue { line, id, kind });
                }
            }
        }
        Ok(())
    }

    /// Why `id` is a duplicate id, if it is; notes it as given on `line` either way.
    fn duplicate_id(&mut self, id: &str, line: u64) -> Result<Option<String>, ImportError> {
        if let Some(first) = self.ids.get(id) {
            return Ok(Some(format!("duplicate id: also on line {first}")));
        }
        self.ids.insert(id.to_owned(), line);
        Ok(self.store.person_get(id)?.map(|_| "duplicate id: already in the register".to_owned()))
    }

    fn reject(&mut self, line: u64, id: Option<String>, reasons: Vec<String>) {
        self.report.rejected += 1;
        self.report.issues.push(Issue { line, id, kind: IssueKind::Rejected { reasons } });
    }

    /// The other people whose fingers match the row's at [`DUPLICATE_MAX_FMR`] or below, each once (by
    /// their best match), best first.
    fn candidates(&self, row: &ValidRow) -> Result<Vec<Candidate>, ImportError> {
        let mut best: HashMap<String, Candidate> = HashMap::new();
        for (finger, template) in &row.fingers {
            for m in self.gallery.identify(template, CANDIDATES)? {
                if m.fmr > DUPLICATE_MAX_FMR || m.person == row.person.id {
                    continue;
                }
                let c = Candidate {
                    line: self.imported_lines.get(&m.person).copied(),
                    person: m.person,
                    finger: *finger,
                    their_finger: m.finger,
                    score: m.score,
                    fmr: m.fmr,
                };
                match best.get(&c.person) {
                    Some(b) if b.score >= c.score => {}
                    _ => {
                        best.insert(c.person.clone(), c);
                    }
                }
            }
        }
        let mut out: Vec<Candidate> = best.into_values().collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.person.cmp(&b.person)));
        Ok(out)
    }

    /// Adds an accepted row's templates to the gallery and the row to the batch, writing the batch
    /// when it is full.
    fn accept(&mut self, row: ValidRow) -> Result<(), ImportError> {
        let mut fingers = Vec::with_capacity(row.fingers.len());
        for (finger, template) in &row.fingers {
            let id = self.next_template;
            self.next_template += 1;
            let owner = Owner { person: row.person.id.clone(), finger: *finger, duress: false };
            self.gallery.insert(id, owner, template)?;
            fingers.push((*finger, template.quality, template.to_bytes(), id));
        }
        self.imported_lines.insert(row.person.id.clone(), row.line);
        self.batch.push(Unit { line: row.line, person: row.person, zone: row.zone, fingers });
        if self.batch.len() >= self.options.batch_rows.max(1) {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the batch (see the module docs for the order); in a dry run, only counts it.
    fn flush(&mut self) -> Result<(), ImportError> {
        let batch = std::mem::take(&mut self.batch);
        let Some(vault) = self.vault.as_ref().filter(|_| self.ledger.is_some()) else {
            self.report.imported += batch.len() as u64;
            return Ok(());
        };
        if batch.is_empty() {
            return Ok(());
        }
        let now = clock::rfc3339(self.clock.wall());
        // 1. seal
        let mut sealed = Vec::with_capacity(batch.len());
        for u in &batch {
            let mut templates = Vec::with_capacity(u.fingers.len());
            for (finger, quality, plain, _) in &u.fingers {
                templates.push(NewTemplate {
                    person: u.person.id.clone(),
                    finger: *finger,
                    duress: false,
                    quality: *quality,
                    sealed: vault.seal(&template_context(&u.person.id, *finger), plain)?,
                    created: now.clone(),
                });
            }
            sealed.push(templates);
        }
        // 2. store: the batch at once, or row by row when an id was taken meanwhile.
        let people: Vec<NewPerson> = batch.iter().map(|u| u.person.clone()).collect();
        let all: Vec<NewTemplate> = sealed.iter().flatten().cloned().collect();
        let mut written = Vec::with_capacity(batch.len());
        match self.store.people_import(&people, &all, &now) {
            Ok(_) => written.extend(batch),
            Err(StoreError::Conflict(_)) => {
                for (u, templates) in batch.into_iter().zip(&sealed) {
                    match self.store.people_import(std::slice::from_ref(&u.person), templates, &now) {
                        Ok(_) => written.push(u),
                        Err(StoreError::Conflict(_)) => {
                            for (_, _, _, id) in &u.fingers {
                                self.gallery.remove(*id)?;
                            }
                            self.imported_lines.remove(&u.person.id);
                            let why = "duplicate id: registered by someone else during the import".to_owned();
                            self.reject(u.line, Some(u.person.id), vec![why]);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
        // 3. record
        let officer = &self.options.officer;
        let mut events = Vec::with_capacity(written.len() * 2);
        for u in &written {
            events.push(Event::Registration(Registration {
                category: u.person.category.as_str().to_owned(),
                officer: officer.clone(),
                person: u.person.id.clone(),
                zone: u.zone.clone(),
            }));
            if !u.fingers.is_empty() {
                let mut fingers: Vec<u8> = u.fingers.iter().map(|f| f.0).collect();
                fingers.sort_unstable();
                events.push(Event::Enrolment(Enrolment {
                    fingers,
                    officer: officer.clone(),
                    person: u.person.id.clone(),
                }));
            }
        }
        if let (Some(first), Some(last), Some(ledger)) = (written.first(), written.last(), self.ledger.as_deref_mut()) {
            ledger.append(events).map_err(|source| ImportError::Ledger {
                first_line: first.line,
                last_line: last.line,
                stored: written.len(),
                imported: self.report.imported,
                source,
            })?;
        }
        self.report.imported += written.len() as u64;
        Ok(())
    }
}

/// The `import_rows` fuzz target's body (also run on mutations of a real file by the test suite):
/// reads `data` as an import file and checks every row as [`import`] does before it looks at the
/// register. It must return without panicking, whatever the bytes.
#[doc(hidden)]
pub fn fuzz_body(data: &[u8]) {
    let zones = BTreeSet::from(["reception".to_owned()]);
    let rules = Rules { base: Path::new("/nonexistent/tally-fuzz"), zones: &zones, default_zone: None };
    if let Ok(read) = rows::read(data, Path::new("fuzz.csv")) {
        for row in &read {
            let _ = rows::check(row, &rules);
        }
    }
}
