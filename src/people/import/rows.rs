//! Reading an import file: its header, and each data row checked on its own as the API checks a
//! registration (id, category, names, date of birth, national id, zone, fingers), with the template
//! files it names read and parsed.
//!
//! It owns the file format (the columns, `POSITION:PATH` finger lists) and the wording of every
//! reason a row is refused. It does not look at the register, the gallery or other rows: duplicates
//! and writing are [`super`]'s. Reasons name fields and finger positions, never a value that could be a
//! name (nor the template paths, which registries often build from names); the line number is what
//! leads the operator back to the row.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;

use super::ImportError;
use crate::fingerprint::iso;
use crate::fingerprint::template::Template;
use crate::people::{Category, check_finger, check_id, check_name};
use crate::store::people::NewPerson;

/// The columns of an import file, in the order documented (a file may order them as it likes).
pub const COLUMNS: [&str; 8] =
    ["id", "category", "given_names", "family_name", "date_of_birth", "national_id", "zone", "fingers"];
/// Largest template file accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: u64 = 64 * 1024;
/// Fewest minutiae a template must hold to be enrolled.
pub const MIN_MINUTIAE: usize = 8;
/// Longest national id, in bytes.
pub const MAX_NATIONAL_ID_LEN: usize = 40;

/// Column indices of [`COLUMNS`].
const ID: usize = 0;
const CATEGORY: usize = 1;
const GIVEN: usize = 2;
const FAMILY: usize = 3;
const BIRTH: usize = 4;
const NATIONAL: usize = 5;
const ZONE: usize = 6;
const FINGERS: usize = 7;

/// One data row as read: its line and its fields in [`COLUMNS`] order, or why they could not be read.
pub struct RawRow {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    pub(super) fields: Result<[String; 8], String>,
}

/// Written by hand: the fields hold names.
impl std::fmt::Debug for RawRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRow").field("line", &self.line).finish_non_exhaustive()
    }
}

/// What the checks need besides the row.
#[derive(Debug)]
pub(super) struct Rules<'a> {
    /// The folder the template paths are relative to.
    pub base: &'a Path,
    /// Zones a row may name.
    pub zones: &'a BTreeSet<String>,
    /// The zone of a row whose zone is empty (`None`: outside).
    pub default_zone: Option<&'a str>,
}

/// A row whose fields all passed.
pub(super) struct ValidRow {
    pub line: u64,
    pub person: NewPerson,
    /// `None`: outside the facility.
    pub zone: Option<String>,
    /// Finger positions with their templates, in the order listed.
    pub fingers: Vec<(u8, Template)>,
}

/// A row checked on its own.
pub(super) enum Checked {
    /// Every field passed.
    Valid(ValidRow),
    /// Some did not.
    Invalid {
        line: u64,
        /// The id, when it is a valid id (so that the report may name it).
        id: Option<String>,
        /// Every problem found, in column order.
        problems: Vec<String>,
    },
}

/// Reads the rows of the import file at `path`, after checking its header. Rows are only read here,
/// not checked; a file that cannot be read, or whose header is wrong, is an error.
pub fn read_file(path: &Path) -> Result<Vec<RawRow>, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Read { path: path.to_owned(), source })?;
    read(&bytes, path)
}

/// [`read_file`] on the file's bytes; `path` names it in errors.
pub(super) fn read(bytes: &[u8], path: &Path) -> Result<Vec<RawRow>, ImportError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let csv_error = |source| ImportError::Csv { path: path.to_owned(), source };
    let mut records = reader.byte_records();
    let header = records.next().ok_or_else(|| ImportError::NoHeader(path.to_owned()))?.map_err(csv_error)?;
    let order = columns(&header, path)?;
    let mut lines = Lines { bytes, at: 0, line: 1 };
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        let offset = record.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        rows.push(RawRow { line: lines.of(offset), fields: fields(&record, &order) });
    }
    Ok(rows)
}

/// Line numbers of records, counted in the file's bytes: the CSV reader's own count is off after
/// blank lines and with CRLF line ends.
pub(super) struct Lines<'a> {
    pub(super) bytes: &'a [u8],
    /// Offset counted up to, and the line there.
    pub(super) at: usize,
    pub(super) line: u64,
}

impl Lines<'_> {
    /// The line of the record the reader places at `offset` (which may be a line end before the
    /// record: the reader skips blank lines after taking the position). Offsets only grow.
    pub(super) fn of(&mut self, offset: usize) -> u64 {
        let mut start = offset.min(self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let from = self.at.min(start);
        for (i, b) in self.bytes[from..start].iter().enumerate() {
            // A line ends at "\n", or at a "\r" that no "\n" follows.
            if *b == b'\n' || (*b == b'\r' && self.bytes.get(from + i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.at = start;
        self.line
    }
}

/// For each of [`COLUMNS`], its index in the file; refuses unknown, missing and repeated columns.
fn columns(header: &csv::ByteRecord, path: &Path) -> Result<[usize; 8], ImportError> {
    let mut order = [usize::MAX; 8];
    let (mut unknown, mut repeated) = (Vec::new(), Vec::new());
    for (i, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name);
        match COLUMNS.iter().position(|c| *c == name) {
            Some(c) if order[c] != usize::MAX => repeated.push(name.into_owned()),
            Some(c) => order[c] = i,
            None => unknown.push(name.into_owned()),
        }
    }
    let missing: Vec<String> =
        COLUMNS.iter().zip(order).filter(|(_, i)| *i == usize::MAX).map(|(c, _)| (*c).to_owned()).collect();
    if unknown.is_empty() && missing.is_empty() && repeated.is_empty() {
        Ok(order)
    } else {
        Err(ImportError::Header { path: path.to_owned(), missing, unknown, repeated })
    }
}

fn fields(record: &csv::ByteRecord, order: &[usize; 8]) -> Result<[String; 8], String> {
    if record.len() != order.len() {
        return Err(format!("has {} fields where the header has {}", record.len(), order.len()));
    }
    let mut out: [String; 8] = Default::default();
    for (c, &i) in order.iter().enumerate() {
        let bytes = record.get(i).unwrap_or_default();
        out[c] = String::from_utf8(bytes.to_vec()).map_err(|_| format!("{}: not UTF-8 text", COLUMNS[c]))?;
    }
    Ok(out)
}

/// Checks a row on its own (see the module docs): every problem is collected, not only the first.
pub(super) fn check(row: &RawRow, rules: &Rules<'_>) -> Checked {
    let f = match &row.fields {
        Ok(f) => f,
        Err(why) => return Checked::Invalid { line: row.line, id: None, problems: vec![why.clone()] },
    };
    let mut problems = Vec::new();
    let mut note = |r: Result<(), String>| {
        if let Err(why) = r {
            problems.push(why);
        }
    };
    let id = check_id(&f[ID]).map(|()| f[ID].clone()).map_err(|e| e.to_string());
    let category = Category::parse(&f[CATEGORY]);
    note(id.as_ref().map(drop).map_err(Clone::clone));
    note(category.map(drop).ok_or_else(|| "category: must be inmate, staff or visitor".to_owned()));
    note(check_name("given_names", &f[GIVEN]).map_err(|e| e.to_string()));
    note(check_name("family_name", &f[FAMILY]).map_err(|e| e.to_string()));
    note(check_date(&f[BIRTH]));
    note(check_national_id(&f[NATIONAL]));
    let zone = zone(&f[ZONE], rules);
    note(zone.as_ref().map(drop).map_err(Clone::clone));
    let fingers = fingers(&f[FINGERS], rules.base);
    if let Err(why) = &fingers {
        problems.extend(why.iter().cloned());
    }
    match (id, category, zone, fingers) {
        (Ok(id), Some(category), Ok(zone), Ok(fingers)) if problems.is_empty() => Checked::Valid(ValidRow {
            line: row.line,
            person: NewPerson {
                id,
                category,
                given_names: f[GIVEN].clone(),
                family_name: f[FAMILY].clone(),
                date_of_birth: Some(f[BIRTH].clone()).filter(|d| !d.is_empty()),
                national_id: Some(f[NATIONAL].clone()).filter(|n| !n.is_empty()),
            },
            zone,
            fingers,
        }),
        (id, ..) => Checked::Invalid { line: row.line, id: id.ok(), problems },
    }
}

/// An empty date, or a calendar date written `YYYY-MM-DD`.
pub(super) fn check_date(s: &str) -> Result<(), String> {
    if s.is_empty() || calendar_date(s).is_some() {
        Ok(())
    } else {
        Err("date_of_birth: not a calendar date written YYYY-MM-DD".into())
    }
}

fn calendar_date(s: &str) -> Option<time::Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |r: std::ops::Range<usize>| -> Option<u16> {
        let digits = b.get(r)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
    };
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    time::Date::from_calendar_date(i32::from(number(0..4)?), month, u8::try_from(number(8..10)?).ok()?).ok()
}

/// An empty national id, or 1 to 40 letters, digits, '-' or '/'.
pub(super) fn check_national_id(s: &str) -> Result<(), String> {
    if s.len() <= MAX_NATIONAL_ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/') {
        Ok(())
    } else {
        Err("national_id: at most 40 letters, digits, '-' or '/'".into())
    }
}

/// The row's zone: the default when empty, else one of the configuration's.
fn zone(s: &str, rules: &Rules<'_>) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(rules.default_zone.map(str::to_owned));
    }
    if rules.zones.contains(s) {
        return Ok(Some(s.to_owned()));
    }
    let shown: String = s.chars().take(64).flat_map(char::escape_debug).collect();
    Err(format!("zone: \"{shown}\" is not a zone of this appliance ({}; empty means outside)", known(rules.zones)))
}

/// The zones, listed for a message.
pub(super) fn known(zones: &BTreeSet<String>) -> String {
    if zones.is_empty() {
        "none configured".into()
    } else {
        format!("known: {}", zones.iter().map(String::as_str).collect::<Vec<_>>().join(", "))
    }
}

/// The `fingers` column: `POSITION:PATH` items separated by ';' (empty items are ignored), each
/// position 1 to 10 and given once, each file a template that parses and holds enough minutiae.
fn fingers(s: &str, base: &Path) -> Result<Vec<(u8, Template)>, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen = [false; 11];
    for (n, item) in s.split(';').map(str::trim).filter(|i| !i.is_empty()).enumerate() {
        let Some((position, path)) = item.split_once(':') else {
            problems.push(format!("fingers: item {} is not POSITION:PATH", n + 1));
            continue;
        };
        let position = match position.trim().parse::<u8>() {
            Ok(p) if check_finger(p).is_ok() => p,
            _ => {
                problems
                    .push(format!("fingers: item {}: the position must be 1 (right thumb) to 10 (left little)", n + 1));
                continue;
            }
        };
        if std::mem::replace(&mut seen[usize::from(position)], true) {
            problems.push(format!("fingers: position {position} is listed more than once"));
            continue;
        }
        let path = path.trim();
        if path.is_empty() {
            problems.push(format!("finger {position}: no template file given"));
            continue;
        }
        match read_template(&base.join(path)) {
            Ok(t) => out.push((position, t)),
            Err(why) => problems.push(format!("finger {position}: {why}")),
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// Reads and parses one template file, at most [`MAX_TEMPLATE_BYTES`] of it. The path is looked at
/// before it is opened, so that a FIFO or a device named by mistake is refused rather than waited on.
fn read_template(path: &Path) -> Result<Template, String> {
    let too_big = |len: u64| format!("the template file is {len} bytes, more than {MAX_TEMPLATE_BYTES}");
    let unreadable = |e: std::io::Error| format!("the template file cannot be read ({e})");
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "the template file does not exist".to_owned(),
        _ => unreadable(e),
    })?;
    if !meta.is_file() {
        return Err("the template path is not a file".into());
    }
    if meta.len() > MAX_TEMPLATE_BYTES {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    // Bounded even if the file grows after the size was looked at.
    file.take(MAX_TEMPLATE_BYTES + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_TEMPLATE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let t = iso::parse_record(&bytes).map_err(|e| format!("not an ISO 19794-2 or ANSI 378 minutiae record: {e}"))?;
    if t.minutiae.len() < MIN_MINUTIAE {
        return Err(format!("the template holds {} minutiae, at least {MIN_MINUTIAE} are needed", t.minutiae.len()));
    }
    Ok(t)
}
