//! The `MANIFEST` of an off-site copy: what the copy is and the SHA-256 of every file in it.
//!
//! # Format, version 1 (plain text, one `key value` a line, in this order)
//! ```text
//! tally-offsite-copy 1
//! origin makala/gate-1
//! size 1234
//! root <base64 RFC 6962 root of the ledger export's checkpoint>
//! time 2026-11-26T12:15:00Z
//! people 250
//! templates 1000
//! recipient age1…                       (one line per recipient)
//! sha256 <64 hex digits> ledger/checkpoint   (one line per file, sorted by path)
//! ```
//! Paths are relative to the copy, separated by `/`, made of letters, digits, `.`, `_` and `-` only,
//! never `..`. Every file of the copy but `MANIFEST` itself is listed, and nothing else.

use std::collections::BTreeMap;

/// First line.
pub const MAGIC: &str = "tally-offsite-copy";
/// Version this build writes and reads.
pub const VERSION: u32 = 1;
/// Longest manifest accepted.
pub const MAX_BYTES: usize = 1 << 20;

/// A manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Ledger origin of the appliance copied.
    pub origin: String,
    /// Tree size of the ledger export.
    pub size: u64,
    /// Root hash of the export's checkpoint, base64.
    pub root: String,
    /// When the copy was made, RFC 3339 UTC.
    pub time: String,
    /// People in `people.age`.
    pub people: u64,
    /// Templates in `people.age`.
    pub templates: u64,
    /// The age recipients `people.age` is encrypted for.
    pub recipients: Vec<String>,
    /// Path → SHA-256 (hex), for every file but the manifest.
    pub files: BTreeMap<String, String>,
}

/// Why a manifest does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Longer than [`MAX_BYTES`] or not UTF-8.
    #[error("MANIFEST is too long or not text")]
    NotText,
    /// A line is wrong.
    #[error("MANIFEST line {line}: {reason}")]
    Line {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl Manifest {
    /// The text of the manifest.
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "{MAGIC} {VERSION}\norigin {}\nsize {}\nroot {}\ntime {}\npeople {}\ntemplates {}\n",
            self.origin, self.size, self.root, self.time, self.people, self.templates
        );
        for r in &self.recipients {
            t.push_str(&format!("recipient {r}\n"));
        }
        for (path, hash) in &self.files {
            t.push_str(&format!("sha256 {hash} {path}\n"));
        }
        t
    }

    /// Parses a manifest, strictly: the order above, no unknown line, canonical numbers, valid paths
    /// and hashes, no path twice.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() > MAX_BYTES {
            return Err(ManifestError::NotText);
        }
        let text = std::str::from_utf8(bytes).map_err(|_: std::str::Utf8Error| ManifestError::NotText)?;
        let Some(body) = text.strip_suffix('\n') else {
            return Err(ManifestError::Line { line: text.lines().count().max(1), reason: "no final newline".into() });
        };
        let mut lines = body.split('\n').enumerate().map(|(i, l)| (i + 1, l)).peekable();
        let mut field = |key: &str| -> Result<(usize, String), ManifestError> {
            let (n, l) = lines.next().ok_or(ManifestError::Line { line: 0, reason: format!("{key} is missing") })?;
            let value = l
                .strip_prefix(key)
                .and_then(|v| v.strip_prefix(' '))
                .ok_or_else(|| ManifestError::Line { line: n, reason: format!("expected {key}") })?;
            Ok((n, value.to_owned()))
        };
        let number = |(n, v): (usize, String)| -> Result<u64, ManifestError> {
            v.parse::<u64>()
                .ok()
                .filter(|x| x.to_string() == v)
                .ok_or(ManifestError::Line { line: n, reason: format!("{v:?} is not a number") })
        };
        let word = |(n, v): (usize, String)| -> Result<String, ManifestError> {
            if v.is_empty() || v.len() > 200 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ManifestError::Line { line: n, reason: "empty or holds spaces".into() });
            }
            Ok(v)
        };
        let (n, version) = field(MAGIC)?;
        if version != VERSION.to_string() {
            return Err(ManifestError::Line { line: n, reason: format!("version {version} is not {VERSION}") });
        }
        let mut m = Manifest {
            origin: word(field("origin")?)?,
            size: number(field("size")?)?,
            root: word(field("root")?)?,
            time: word(field("time")?)?,
            people: number(field("people")?)?,
            templates: number(field("templates")?)?,
            ..Manifest::default()
        };
        while let Some((_, l)) = lines.peek() {
            if !l.starts_with("recipient ") {
                break;
            }
            if let Some((n, l)) = lines.next() {
                m.recipients.push(word((n, l["recipient ".len()..].to_owned()))?);
            }
        }
        for (n, l) in lines {
            let bad = |reason: &str| ManifestError::Line { line: n, reason: reason.into() };
            let rest = l.strip_prefix("sha256 ").ok_or_else(|| bad("expected sha256 HASH PATH"))?;
            let (hash, path) = rest.split_once(' ').ok_or_else(|| bad("expected sha256 HASH PATH"))?;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(bad("not a lowercase hex SHA-256"));
            }
            if !valid_path(path) {
                return Err(bad("not a safe relative path"));
            }
            if m.files.insert(path.to_owned(), hash.to_owned()).is_some() {
                return Err(bad("path listed twice"));
            }
        }
        Ok(m)
    }
}

/// A relative path of plain names: no empty part, no `.` or `..`, no leading `/`.
pub fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 300
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// The fuzz target's body: parses `data` as a manifest and, when it parses, checks that it prints back
/// to the same text. Must never panic but on that check.
#[doc(hidden)]
pub fn fuzz_body(data: &[u8]) {
    if let Ok(m) = Manifest::parse(data) {
        assert_eq!(Manifest::parse(m.to_text().as_bytes()).as_ref(), Ok(&m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut files = BTreeMap::new();
        files.insert("ledger/checkpoint".to_owned(), "a".repeat(64));
        files.insert("people.age".to_owned(), "0".repeat(64));
        Manifest {
            origin: "makala/gate-1".into(),
            size: 12,
            root: "abc=".into(),
            time: "2026-11-26T12:00:00Z".into(),
            people: 2,
            templates: 3,
            recipients: vec!["age1xyz".into(), "age1abc".into()],
            files,
        }
    }

    #[test]
    fn manifests_round_trip() {
        let text = sample().to_text();
        assert!(text.starts_with("tally-offsite-copy 1\norigin makala/gate-1\nsize 12\n"), "{text}");
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn bad_manifests_are_refused() {
        let text = sample().to_text();
        for (from, to) in [
            ("tally-offsite-copy 1", "tally-offsite-copy 2"),
            ("size 12", "size 012"),
            ("size 12", "size -1"),
            ("origin makala/gate-1", "origin a b"),
            (" people.age", " ../people.age"),
            (" people.age", " /etc/passwd"),
            (" ledger/checkpoint", " ledger//checkpoint"),
            (&"a".repeat(64), &"A".repeat(64)),
            ("templates 3\n", "templates 3\nbogus\n"),
        ] {
            let bad = text.replacen(from, to, 1);
            assert!(Manifest::parse(bad.as_bytes()).is_err(), "{from} → {to}");
        }
        assert!(Manifest::parse(text.trim_end().as_bytes()).is_err());
        let twice = text.clone() + &format!("sha256 {} people.age\n", "1".repeat(64));
        assert!(Manifest::parse(twice.as_bytes()).is_err());
        for i in 0..text.len() {
            fuzz_body(&text.as_bytes()[..i]);
        }
    }
}
