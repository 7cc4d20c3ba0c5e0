//! Rust sources: where each heavy dependency may be named, module docs, file sizes.

use std::collections::BTreeSet;

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Rust source: comments and literals blanked out, then tokens, then the paths they name
// ---------------------------------------------------------------------------------------------------------

/// `text` with comments and the contents of string and char literals replaced by spaces; newlines kept, so
/// line numbers still hold.
fn blank_comments_and_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = c.clone();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in &mut out[from..to.min(c.len())] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied().unwrap_or('\0');
        if c[i] == '/' && at(i + 1) == '/' {
            let end = (i..c.len()).find(|&k| c[k] == '\n').unwrap_or(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && at(i + 1) == '*' {
            let (mut depth, mut k) = (1, i + 2);
            while k < c.len() && depth > 0 {
                if c[k] == '/' && at(k + 1) == '*' {
                    depth += 1;
                    k += 2;
                } else if c[k] == '*' && at(k + 1) == '/' {
                    depth -= 1;
                    k += 2;
                } else {
                    k += 1;
                }
            }
            blank(&mut out, i, k);
            i = k;
        } else if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && matches!(at(i + 1), '"' | '#')
            && {
                let h = (i + 1..c.len()).take_while(|&k| c[k] == '#').count();
                at(i + 1 + h) == '"'
            }
        {
            // Raw string r#"…"#: ends at a quote followed by as many hashes.
            let hashes = (i + 1..c.len()).take_while(|&k| c[k] == '#').count();
            let open = i + 1 + hashes;
            let mut k = open + 1;
            while k < c.len() && !(c[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#')) {
                k += 1;
            }
            blank(&mut out, open + 1, k);
            i = k + 1 + hashes;
        } else if c[i] == '"' {
            let mut k = i + 1;
            while k < c.len() && c[k] != '"' {
                k += if c[k] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, k);
            i = k + 1;
        } else if c[i] == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A char literal ('x', '\n', '\u{1F600}'); a lifetime ('a) has no closing quote two on.
            let mut k = i + 2;
            while k < c.len() && c[k] != '\'' && c[k] != '\n' {
                k += 1;
            }
            blank(&mut out, i + 1, k);
            i = k + 1;
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

/// A token and its 1-based line.
type Token = (Tok, usize);

fn tokenize(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
    let mut toks = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            toks.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            toks.push((Tok::Sep, line));
            i += 2;
        } else {
            toks.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    toks
}

fn is_ident(t: Option<&Token>, name: &str) -> bool {
    matches!(t, Some((Tok::Ident(s), _)) if s == name)
}

fn is_punct(t: Option<&Token>, p: char) -> bool {
    matches!(t, Some((Tok::Punct(q), _)) if *q == p)
}

/// A path named in the code: its segments, each with the line it is on.
type NamedPath = Vec<(String, usize)>;

/// Expands the use tree starting at `toks[*i]` into full paths.
fn use_tree(toks: &[Token], i: &mut usize, prefix: NamedPath, out: &mut Vec<NamedPath>) {
    let mut path = prefix;
    if matches!(toks.get(*i), Some((Tok::Sep, _))) {
        *i += 1;
    }
    loop {
        match toks.get(*i) {
            Some((Tok::Ident(s), line)) => {
                path.push((s.clone(), *line));
                *i += 1;
                if matches!(toks.get(*i), Some((Tok::Sep, _))) {
                    *i += 1;
                    continue;
                }
                if is_ident(toks.get(*i), "as") {
                    *i += 2;
                }
                out.push(path);
                return;
            }
            Some((Tok::Punct('{'), _)) => {
                *i += 1;
                while *i < toks.len() && !is_punct(toks.get(*i), '}') {
                    let before = *i;
                    use_tree(toks, i, path.clone(), out);
                    if is_punct(toks.get(*i), ',') {
                        *i += 1;
                    } else if *i == before {
                        *i += 1; // something unexpected: step over it rather than loop
                    }
                }
                *i += 1;
                return;
            }
            _ => {
                if is_punct(toks.get(*i), '*') {
                    *i += 1;
                }
                out.push(path);
                return;
            }
        }
    }
}

/// Every path the code names: use trees expanded, `extern crate`, and paths written out in expressions,
/// types and attributes (`axum::Json(…)`, `#[derive(clap::Args)]`). Local items are not resolved: a path
/// is reported under its first segment, which for the crates checked here is the crate.
fn named_paths(toks: &[Token], skip: &dyn Fn(usize) -> bool) -> Vec<NamedPath> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if skip(i) {
            i += 1;
            continue;
        }
        if is_ident(toks.get(i), "use") {
            i += 1;
            use_tree(toks, &mut i, Vec::new(), &mut out);
            continue;
        }
        if is_ident(toks.get(i), "extern") && is_ident(toks.get(i + 1), "crate") {
            if let Some((Tok::Ident(s), line)) = toks.get(i + 2) {
                out.push(vec![(s.clone(), *line)]);
            }
            i += 3;
            continue;
        }
        let starts_path = match (i.checked_sub(1).map(|k| &toks[k].0), i.checked_sub(2).map(|k| &toks[k].0)) {
            (Some(Tok::Sep), Some(Tok::Ident(_) | Tok::Punct('>'))) => false, // a later segment
            (Some(Tok::Punct('.')), _) => false,                              // a field or method
            _ => true,
        };
        if let (true, Some((Tok::Ident(_), _)), Some((Tok::Sep, _))) = (starts_path, toks.get(i), toks.get(i + 1)) {
            let mut path = Vec::new();
            while let Some((Tok::Ident(s), line)) = toks.get(i) {
                path.push((s.clone(), *line));
                i += 1;
                if !matches!(toks.get(i), Some((Tok::Sep, _))) {
                    break;
                }
                i += 1;
            }
            out.push(path);
            continue;
        }
        i += 1;
    }
    out
}

/// Token ranges of items marked `#[cfg(test)]`, and the names of test modules declared `mod name;`.
fn test_items(toks: &[Token]) -> (Vec<(usize, usize)>, Vec<String>) {
    let attr = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    let (mut ranges, mut files) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i + attr.len() <= toks.len() {
        if !toks[i..i + attr.len()].iter().map(|t| &t.0).eq(attr.iter()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut k = i + attr.len();
        let mut depth = 0usize;
        let mut item_tokens = Vec::new();
        while k < toks.len() {
            match &toks[k].0 {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Punct(';') if depth == 0 => break,
                t if depth == 0 => item_tokens.push(t.clone()),
                _ => {}
            }
            k += 1;
        }
        // `mod name;` (possibly `pub mod`): the module is a file of its own.
        if is_punct(toks.get(k), ';')
            && let Some(pos) = item_tokens.iter().position(|t| *t == Tok::Ident("mod".into()))
            && let Some(Tok::Ident(name)) = item_tokens.get(pos + 1)
        {
            files.push(name.clone());
        }
        ranges.push((start, k));
        i = k + 1;
    }
    (ranges, files)
}

/// Where the files of `file`'s child modules live: `src/a/mod.rs` → `src/a/`, `src/a/b.rs` → `src/a/b/`.
fn child_dir(file: &str) -> String {
    let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
    if matches!(name, "mod.rs" | "lib.rs" | "main.rs") {
        format!("{dir}/")
    } else {
        format!("{dir}/{}/", name.trim_end_matches(".rs"))
    }
}

/// Every path named outside test code in each file, keyed by file; test modules (inline or in their own files,
/// and everything below them) are left out.
fn paths_outside_tests(files: &[(String, String)]) -> Vec<(String, NamedPath)> {
    let tokens: Vec<Vec<Token>> = files.iter().map(|(_, text)| tokenize(&blank_comments_and_literals(text))).collect();
    let mut test_prefixes = Vec::new();
    let mut test_ranges = Vec::new();
    for ((file, _), toks) in files.iter().zip(&tokens) {
        let (ranges, mods) = test_items(toks);
        for m in mods {
            test_prefixes.push(format!("{}{m}.rs", child_dir(file)));
            test_prefixes.push(format!("{}{m}/", child_dir(file)));
        }
        test_ranges.push(ranges);
    }
    let mut out = Vec::new();
    for (((file, _), toks), ranges) in files.iter().zip(&tokens).zip(&test_ranges) {
        if test_prefixes.iter().any(|p| file == p || (p.ends_with('/') && file.starts_with(p.as_str()))) {
            continue;
        }
        let skip = |i: usize| ranges.iter().any(|&(a, b)| (a..=b).contains(&i));
        out.extend(named_paths(toks, &skip).into_iter().map(|p| (file.clone(), p)));
    }
    out
}

/// One placement rule: paths starting with `path` may be named only in `allowed` (a `…/` entry is a folder).
struct Placement {
    path: &'static [&'static str],
    allowed: &'static [&'static str],
    owner: &'static str,
}

/// STYLE.md habit 2: a heavy dependency lives only in the part that owns it.
const PLACEMENT: &[Placement] = &[
    Placement { path: &["rusqlite"], allowed: &["src/store/"], owner: "the store (src/store/)" },
    Placement { path: &["axum"], allowed: &["src/api/"], owner: "the API (src/api/)" },
    Placement { path: &["clap"], allowed: &["src/cli/"], owner: "the CLI module (src/cli/)" },
    Placement { path: &["anyhow"], allowed: &["src/main.rs", "src/cli/"], owner: "the binary (main.rs, cli/)" },
    Placement {
        path: &["tracing_subscriber"],
        allowed: &["src/main.rs", "src/cli/"],
        owner: "the binary (main.rs, cli/)",
    },
    Placement { path: &["ring", "signature"], allowed: &["src/ledger/"], owner: "the ledger (src/ledger/)" },
    Placement {
        path: &["nusb"],
        allowed: &["drivers/usb/src/live.rs"],
        owner: "tally-usb's one nusb file (drivers/usb/src/live.rs); drivers use its transport trait",
    },
    Placement {
        path: &["serialport"],
        allowed: &["drivers/serial/src/"],
        owner: "tally-serial (drivers/serial/src/); drivers implement their Link traits on its Port",
    },
    Placement {
        path: &["nbis"],
        allowed: &[],
        owner: "the NBIS benchmark (tests/bench/fingerprint.rs, feature nbis-bench), never the product",
    },
];

fn placement_offences(files: &[(String, String)]) -> Vec<String> {
    let mut offences = BTreeSet::new();
    for (file, path) in paths_outside_tests(files) {
        for rule in PLACEMENT {
            let matches = path.len() >= rule.path.len() && path.iter().zip(rule.path).all(|((s, _), want)| s == want);
            let allowed = rule.allowed.iter().any(|a| if a.ends_with('/') { file.starts_with(a) } else { file == *a });
            if matches && !allowed {
                let line = path[rule.path.len() - 1].1;
                offences.insert((
                    file.clone(),
                    line,
                    format!("{file}:{line}: `{}` belongs to {}", rule.path.join("::"), rule.owner),
                ));
            }
        }
    }
    offences.into_iter().map(|(_, _, msg)| msg).collect()
}

/// The product's source files: the service (src/) and the driver crates' sources (drivers/*/src/),
/// not their tests.
fn product_files() -> Vec<String> {
    let mut files = rs_files("src");
    files.extend(rs_files("drivers").into_iter().filter(|f| f.split('/').nth(2) == Some("src")));
    files
}

#[test]
fn heavy_dependencies_stay_in_the_part_that_owns_them() {
    let files: Vec<(String, String)> = product_files().into_iter().map(|f| (f.clone(), read(&f))).collect();
    assert!(files.iter().any(|(f, _)| f == "drivers/usb/src/live.rs"), "no driver sources found under drivers/");
    assert!(files.iter().any(|(f, _)| f == "src/lib.rs"), "no sources found under src/");
    fail_if_any("dependencies used outside the part that owns them (STYLE.md habit 2)", &placement_offences(&files));

    // The service's own manifest must not pull in the hardware crates either: they belong to drivers/*.
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml is TOML");
    let mut offences = Vec::new();
    for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
        for krate in ["nusb", "serialport"] {
            if manifest.get(table).and_then(|t| t.get(krate)).is_some() {
                offences.push(format!("Cargo.toml: [{table}] lists {krate}, which belongs in a drivers/ crate"));
            }
        }
    }
    fail_if_any("hardware crates in the service's manifest", &offences);

    // NIST NBIS is a benchmark reference only: an optional dependency that nothing but the bench feature enables.
    let nbis = manifest.get("dependencies").and_then(|t| t.get("nbis-rs"));
    if let Some(nbis) = nbis {
        assert_eq!(
            nbis.get("optional").and_then(|o| o.as_bool()),
            Some(true),
            "Cargo.toml: nbis-rs must stay optional (only the nbis-bench feature may pull it in)"
        );
    }
    let default = manifest.get("features").and_then(|f| f.get("default")).map(|d| d.to_string()).unwrap_or_default();
    assert!(!default.contains("nbis"), "Cargo.toml: the default features must not enable NBIS");
}

#[test]
fn the_placement_scanner_sees_through_comments_strings_and_groups() {
    let store = "//! x\nuse rusqlite::Connection;\n";
    let api = "//! x\n\
        // axum::Json in a comment, and /* clap::Parser */ in a block comment\n\
        const S: &str = \"anyhow::bail! in a string\"; const R: &str = r#\"ring::signature\"#;\n\
        fn f<'a>(c: char) -> bool { c == '\"' }\n\
        use ring::{digest,\n    signature::KeyPair};\n\
        fn g() { let _ = ::anyhow::Ok(()); }\n\
        #[derive(clap::Args)] struct A;\n\
        use nusb as _;\n\
        #[cfg(test)]\nmod tests { use rusqlite::Connection; }\n\
        #[cfg(test)]\nmod more;\n";
    let more = "//! x\nuse rusqlite::Connection;\nuse axum::Router;\n";
    let files = [
        ("src/store/mod.rs".to_owned(), store.to_owned()),
        ("src/api/mod.rs".to_owned(), api.to_owned()),
        ("src/api/more.rs".to_owned(), more.to_owned()),
    ];
    assert_eq!(
        placement_offences(&files),
        [
            "src/api/mod.rs:6: `ring::signature` belongs to the ledger (src/ledger/)",
            "src/api/mod.rs:7: `anyhow` belongs to the binary (main.rs, cli/)",
            "src/api/mod.rs:8: `clap` belongs to the CLI module (src/cli/)",
            "src/api/mod.rs:9: `nusb` belongs to tally-usb's one nusb file (drivers/usb/src/live.rs); drivers use its transport trait",
        ]
    );
}

// ---------------------------------------------------------------------------------------------------------
// Module docs and file sizes
// ---------------------------------------------------------------------------------------------------------

#[test]
fn every_source_file_opens_with_module_docs_and_stays_small() {
    let (mut undocumented, mut long) = (Vec::new(), Vec::new());
    for file in product_files() {
        let text = read(&file);
        let first = text.lines().next().unwrap_or("");
        if !first.starts_with("//!") || first.trim_start_matches("//!").trim().is_empty() {
            undocumented.push(format!("{file}:1: does not open with a `//!` paragraph saying what it owns"));
        }
        let lines = text.lines().count();
        if lines > MAX_LINES {
            long.push(format!("{file}: {lines} lines (at most {MAX_LINES}; split it by job)"));
        }
    }
    undocumented.extend(long);
    fail_if_any("files without module docs (STYLE.md habit 1) or too long (habit 9)", &undocumented);
}
