//! The configuration `tally provision` writes: the template's text (the example of
//! `provisioning/tally.toml`, or the installer's own file) with the appliance's ids and, under another
//! root, its paths moved there. Comments and everything else are kept as written.
//!
//! It owns only this line-by-line rewrite of four keys — top-level `data_dir`, `[facility] id`,
//! `[appliance] id` and each `[[lane]] scbk_file` — and the check that the result, parsed by
//! [`Config::parse`] like any configuration, says exactly what was asked. A template that writes these
//! keys in a form the rewrite does not follow (inline tables, dotted keys, multi-line strings) is refused
//! by that check rather than written wrong.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};

/// Where a provisioned appliance keeps its data when the template does not say: the unit's
/// `StateDirectory=tally`.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/tally";

/// Why a template could not be turned into the appliance's configuration.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template itself is not a valid configuration.
    #[error("the configuration template")]
    Invalid(#[source] ConfigError),
    /// The template names a path that is not absolute; an appliance's files are found by absolute path.
    #[error("the configuration template's {key} {path} is not an absolute path")]
    Relative {
        /// The key.
        key: String,
        /// Its value.
        path: PathBuf,
    },
    /// No facility id: neither given nor in the template.
    #[error("no facility id: give --facility-id or set [facility] id in the template")]
    NoFacility,
    /// The rewritten text does not say what was asked (the template writes a key in a form this rewrite
    /// does not follow).
    #[error("cannot set {key} in the configuration template; write it as a plain `key = \"value\"` line in its table")]
    CannotRewrite {
        /// The key that came out wrong.
        key: String,
    },
}

/// The appliance's configuration: its text and what it says.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The file to write.
    pub text: String,
    /// The same, parsed and validated.
    pub config: Config,
}

/// `path` (absolute) moved under `root`: `/var/lib/tally` under `/mnt/x` is `/mnt/x/var/lib/tally`.
pub fn rebase(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Writes `facility` and `appliance` (when given, else the template's) and `data_dir` into the
/// template, and moves `data_dir` and every lane's `scbk_file` under `root`. `template_name` names the
/// template in errors. A template without an appliance id gets the one derived from the machine id.
pub fn render(
    template_name: &Path,
    template: &str,
    root: &Path,
    facility: Option<&str>,
    appliance: Option<&str>,
) -> Result<Rendered, TemplateError> {
    let parsed = Config::parse(template_name, template).map_err(TemplateError::Invalid)?;
    let sets_data_dir = top_level_has(template, "data_dir");
    let data_dir = if sets_data_dir { parsed.data_dir.clone() } else { PathBuf::from(DEFAULT_DATA_DIR) };
    absolute("data_dir", &data_dir)?;
    for lane in &parsed.lanes {
        if let Some(f) = &lane.scbk_file {
            absolute(&format!("scbk_file of lane {}", lane.id), f)?;
        }
    }
    let facility = facility.map(str::to_owned).or(parsed.facility_id.clone()).ok_or(TemplateError::NoFacility)?;
    let appliance = appliance.map(str::to_owned).unwrap_or_else(|| parsed.appliance_id_or_default());
    let data_dir = rebase(root, &data_dir);

    let text = set_key(template, "", "data_dir", &quoted(&data_dir.display().to_string()));
    let text = set_key(&text, "facility", "id", &quoted(&facility));
    let mut text = set_key(&text, "appliance", "id", &quoted(&appliance));
    if root != Path::new("/") {
        text = rebase_lane_keys(&text, root);
    }

    let config = Config::parse(template_name, &text).map_err(TemplateError::Invalid)?;
    let wrong = |key: &str| TemplateError::CannotRewrite { key: key.to_owned() };
    if config.data_dir != data_dir {
        return Err(wrong("data_dir"));
    }
    if config.facility_id.as_deref() != Some(facility.as_str()) {
        return Err(wrong("[facility] id"));
    }
    if config.appliance_id.as_deref() != Some(appliance.as_str()) {
        return Err(wrong("[appliance] id"));
    }
    let scbk = |c: &Config| c.lanes.iter().map(|l| l.scbk_file.clone()).collect::<Vec<_>>();
    let expected: Vec<_> = scbk(&parsed).into_iter().map(|f| f.map(|f| rebase(root, &f))).collect();
    if scbk(&config) != expected {
        return Err(wrong("[[lane]] scbk_file"));
    }
    Ok(Rendered { text, config })
}

fn absolute(key: &str, path: &Path) -> Result<(), TemplateError> {
    if path.is_absolute() { Ok(()) } else { Err(TemplateError::Relative { key: key.into(), path: path.into() }) }
}

/// `s` as a TOML string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The table a header line opens (`[facility]` → `facility`, `[[lane]]` → `lane`), if it is one.
fn header(line: &str) -> Option<String> {
    let t = line.trim();
    let inner = t
        .strip_prefix("[[")
        .and_then(|r| r.split("]]").next())
        .or_else(|| t.strip_prefix('[').and_then(|r| r.split(']').next()))?;
    Some(inner.trim().to_owned())
}

/// Whether `line` assigns `key` (`key = …`).
fn assigns(line: &str, key: &str) -> bool {
    line.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
}

fn top_level_has(text: &str, key: &str) -> bool {
    text.lines().take_while(|l| header(l).is_none()).any(|l| assigns(l, key))
}

/// The table each line is in ("" for the top level; a header line is in the table it opens), and
/// whether that table is a plain `[table]` (not an array of tables).
fn tables(text: &str) -> Vec<(String, bool)> {
    let mut current = (String::new(), true);
    text.lines()
        .map(|l| {
            if let Some(h) = header(l) {
                current = (h, !l.trim_start().starts_with("[["));
            }
            current.clone()
        })
        .collect()
}

/// `text` with `key = value` in the plain table `table` ("" for the top level): the existing line
/// replaced in place, or a line added at the start of the table (the table added at the end if the text
/// has none).
fn set_key(text: &str, table: &str, key: &str, value: &str) -> String {
    let line = format!("{key} = {value}");
    let lines: Vec<&str> = text.lines().collect();
    let tables = tables(text);
    let in_table = |k: usize| tables[k].0 == table && tables[k].1;
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    if let Some(k) = (0..lines.len()).find(|&k| in_table(k) && header(lines[k]).is_none() && assigns(lines[k], key)) {
        out[k] = line;
    } else if table.is_empty() {
        let first_header = lines.iter().position(|l| header(l).is_some()).unwrap_or(lines.len());
        out.insert(first_header, line);
    } else if let Some(k) = (0..lines.len()).find(|&k| in_table(k) && header(lines[k]).is_some()) {
        out.insert(k + 1, line);
    } else {
        out.extend([String::new(), format!("[{table}]"), line]);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// Every `[[lane]]`'s `scbk_file` moved under `root`.
fn rebase_lane_keys(text: &str, root: &Path) -> String {
    let mut current = String::new();
    let mut out = Vec::new();
    for l in text.lines() {
        if let Some(h) = header(l) {
            current = h;
        } else if current == "lane"
            && assigns(l, "scbk_file")
            && let Some(value) = l.split_once('=').map(|(_, v)| v.trim())
            && let Ok(toml::Value::String(path)) = value.parse::<toml::Value>()
        {
            out.push(format!("scbk_file = {}", quoted(&rebase(root, Path::new(&path)).display().to_string())));
            continue;
        }
        out.push(l.to_owned());
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../provisioning/tally.toml");

    #[test]
    fn the_example_takes_the_ids_and_moves_its_paths_under_the_root() {
        let r = render(Path::new("ex.toml"), EXAMPLE, Path::new("/mnt/x"), Some("kangbayi"), Some("gate-2")).unwrap();
        assert_eq!(r.config.data_dir, Path::new("/mnt/x/var/lib/tally"));
        assert_eq!(r.config.facility_id.as_deref(), Some("kangbayi"));
        assert_eq!(r.config.appliance_id.as_deref(), Some("gate-2"));
        assert_eq!(
            r.config.lanes[0].scbk_file.as_deref(),
            Some(Path::new("/mnt/x/var/lib/tally/keys/osdp-north-in.scbk"))
        );
        // Comments and the rest are kept.
        assert!(r.text.contains("# One [[lane]] per turnstile."));
        assert_eq!(r.text.lines().count(), EXAMPLE.lines().count());
    }

    #[test]
    fn at_the_real_root_only_the_ids_change() {
        let r = render(Path::new("ex.toml"), EXAMPLE, Path::new("/"), None, None).unwrap();
        assert_eq!(r.text, EXAMPLE);
    }

    #[test]
    fn missing_keys_and_tables_are_added() {
        let r = render(Path::new("t.toml"), "[api]\nlisten = \"127.0.0.1:9\"\n", Path::new("/r"), Some("f"), Some("a"))
            .unwrap();
        assert_eq!(r.config.data_dir, Path::new("/r/var/lib/tally"));
        assert_eq!((r.config.facility_id.as_deref(), r.config.appliance_id.as_deref()), (Some("f"), Some("a")));
        assert!(r.text.starts_with("data_dir = \"/r/var/lib/tally\"\n[api]\n"), "{}", r.text);
        assert!(matches!(
            render(Path::new("t.toml"), "", Path::new("/"), None, Some("a")),
            Err(TemplateError::NoFacility)
        ));
    }

    #[test]
    fn forms_the_rewrite_does_not_follow_are_refused_not_written_wrong() {
        let dotted = "facility.id = \"x\"\n";
        assert!(matches!(
            render(Path::new("t.toml"), dotted, Path::new("/"), Some("y"), Some("a")),
            Err(TemplateError::Invalid(_) | TemplateError::CannotRewrite { .. })
        ));
        let relative = "data_dir = \"data\"\n";
        assert!(matches!(
            render(Path::new("t.toml"), relative, Path::new("/"), Some("y"), Some("a")),
            Err(TemplateError::Relative { .. })
        ));
    }
}
