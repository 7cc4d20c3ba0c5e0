//! `tally doctor`: what an installer would otherwise discover at 2 a.m., checked at once, each finding with
//! a plain-language fix.
//!
//! It owns the checks and their verdicts: the configuration, the data directory and its free space, the
//! ledger's health, the key files, the clock, the udev rules and the configured devices. It changes
//! nothing (it opens devices and files only to see whether it may). It does not own printing or exit
//! codes: the CLI renders a [`Check`] list as text or JSON and fails when [`any_failed`]. Parts:
//! - [`files`]: the data directory, free space, key files and the udev rules;
//! - [`ledger`]: the ledger verified in place, and the clock against it;
//! - [`devices`]: each lane's reader and turnstile port;
//! - [`controllers`]: each lane's turnstile controller answering over OSDP.

pub mod controllers;
pub mod devices;
pub mod files;
pub mod ledger;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::{Config, ConfigError};

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// Works, but will not for long, or not everywhere.
    Warning,
    /// Will stop the appliance (or already does).
    Failed,
    /// Not applicable here (simulated devices, nothing configured, an earlier failure).
    Skipped,
}

impl Status {
    /// The word printed for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// One check: what was looked at, the verdict, what was found and, when not ok, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short name, e.g. "data directory", "key file templates.key".
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// What was found, in plain words.
    pub found: String,
    /// What to do about it (absent when ok or skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// An ok check.
    pub fn ok(name: impl Into<String>, found: impl Into<String>) -> Check {
        Check { name: name.into(), status: Status::Ok, found: found.into(), fix: None }
    }

    /// A skipped check.
    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Check {
        Check { name: name.into(), status: Status::Skipped, found: why.into(), fix: None }
    }

    /// A failed check with its fix.
    pub fn failed(name: impl Into<String>, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name: name.into(), status: Status::Failed, found: found.into(), fix: Some(fix.into()) }
    }

    /// A warning with its fix.
    pub fn warning(name: impl Into<String>, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name: name.into(), status: Status::Warning, found: found.into(), fix: Some(fix.into()) }
    }
}

/// What the doctor is asked to look at.
#[derive(Debug)]
pub struct Inputs {
    /// The configuration file given, if any.
    pub config_path: Option<PathBuf>,
    /// The configuration as it loaded (with `--data-dir` applied), or why it did not.
    pub config: Result<Config, ConfigError>,
    /// The root of the file system the udev rules are looked for under ("/" on an appliance).
    pub root: PathBuf,
    /// The time now (the system clock, whose sanity is one of the checks).
    pub now: SystemTime,
    /// How long to wait for the turnstile controllers to answer; `None` skips them (while `tally serve`
    /// holds their ports).
    pub controller_wait: Option<Duration>,
}

/// Runs every check, in the order an installer would fix them.
pub fn run(inputs: &Inputs) -> Vec<Check> {
    let mut checks = vec![config_check(inputs.config_path.as_deref(), &inputs.config)];
    match &inputs.config {
        Ok(config) => {
            let dir = &config.data_dir;
            let dir_check = files::data_dir(dir);
            let dir_ok = dir_check.status != Status::Failed;
            checks.push(dir_check);
            if dir_ok {
                checks.push(files::disk_space(dir));
                let ledger = ledger::check(config);
                checks.push(ledger.check);
                checks.push(ledger::clock(inputs.now, ledger.last_entry_time));
                checks.extend(files::key_files(dir));
            } else {
                for name in ["disk space", "ledger", "key files"] {
                    checks.push(Check::skipped(name, "the data directory is not usable (above)"));
                }
                checks.push(ledger::clock(inputs.now, None));
            }
            checks.extend(files::scbk_files(config));
            checks.push(files::udev_rules(&inputs.root));
            let devices = devices::check(config);
            checks.extend(devices.checks);
            match inputs.controller_wait {
                Some(wait) => checks.extend(controllers::check(config, &devices.unusable_ports, wait)),
                None if config.lanes.is_empty() => {}
                None => checks.push(Check::skipped("turnstile controllers", "not polled (--no-controllers)")),
            }
        }
        Err(_) => {
            checks.push(ledger::clock(inputs.now, None));
            checks.push(files::udev_rules(&inputs.root));
            checks.push(Check::skipped("data directory, ledger, keys, devices", "the configuration did not load"));
        }
    }
    checks
}

/// Whether any check failed (warnings do not fail).
pub fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Failed)
}

fn config_check(path: Option<&Path>, config: &Result<Config, ConfigError>) -> Check {
    const NAME: &str = "configuration";
    match (path, config) {
        (None, Ok(c)) => Check::ok(
            NAME,
            format!("no --config given: embedded defaults (data in {}, simulated devices)", c.data_dir.display()),
        ),
        (Some(p), Ok(c)) => Check::ok(NAME, format!("{} loaded: {} lane(s)", p.display(), c.lanes.len())),
        (_, Err(e @ ConfigError::Read { path, .. })) => Check::failed(
            NAME,
            format!("{e}: {}", e_source(e)),
            format!(
                "check the path {} (on an appliance: /etc/tally/tally.toml, made by `tally provision`)",
                path.display()
            ),
        ),
        (_, Err(e @ ConfigError::Invalid { path, line, .. })) => Check::failed(
            NAME,
            e.to_string(),
            format!(
                "correct line {line} of {} (every setting is explained in provisioning/tally.toml)",
                path.display()
            ),
        ),
    }
}

fn e_source(e: &ConfigError) -> String {
    std::error::Error::source(e).map(ToString::to_string).unwrap_or_default()
}

/// The report as text: one line a check, its fix indented below it, then a summary line.
pub fn render_text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!("[{:<7}] {}: {}\n", c.status.as_str(), c.name, c.found));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("          fix: {fix}\n"));
        }
    }
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    out.push_str(&format!(
        "{} ok, {} warning(s), {} failed, {} skipped\n",
        count(Status::Ok),
        count(Status::Warning),
        count(Status::Failed),
        count(Status::Skipped)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_configuration_fails_with_its_line_and_skips_what_needs_it() {
        let path = Path::new("tally.toml");
        let inputs = Inputs {
            config_path: Some(path.into()),
            config: Config::parse(path, "data_dir = \"/x\"\nlisten_port = 3\n"),
            root: PathBuf::from("/nonexistent-root"),
            now: SystemTime::now(),
            controller_wait: None,
        };
        let checks = run(&inputs);
        assert_eq!(checks[0].status, Status::Failed);
        assert!(checks[0].found.starts_with("tally.toml:2:"), "{}", checks[0].found);
        assert!(checks[0].fix.as_deref().is_some_and(|f| f.contains("line 2")));
        assert!(any_failed(&checks));
        let text = render_text(&checks);
        assert!(text.contains("[failed ] configuration"), "{text}");
    }

    #[test]
    fn warnings_do_not_fail() {
        let checks = vec![Check::ok("a", "fine"), Check::warning("b", "low", "free space"), Check::skipped("c", "n/a")];
        assert!(!any_failed(&checks));
        let json = serde_json::to_string(&checks[1]).expect("json");
        assert_eq!(json, r#"{"name":"b","status":"warning","found":"low","fix":"free space"}"#);
    }
}
