//! `tally doctor`: the arguments and the printing; the checks are `tally::doctor`'s.
//!
//! It loads the configuration itself, since a configuration that does not load is one of its findings,
//! and fails (exit code 1) when any check failed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use tally::config::Config;
use tally::doctor::{self, Inputs};

/// Check an installed appliance.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON (`{"ok": …, "checks": [{name, status, found, fix}]}`).
    #[arg(long)]
    json: bool,
    /// The root of the file system the udev rules are looked for under (a mounted image, a test).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Do not poll the turnstile controllers (their ports are held while `tally serve` runs).
    #[arg(long)]
    no_controllers: bool,
    /// How long each turnstile controller has to come online over the secure channel, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    controller_wait: u64,
}

/// Some check failed; the report says which (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0} check(s) failed")]
pub struct ChecksFailed(usize);

pub fn run(config_file: Option<PathBuf>, data_dir: Option<PathBuf>, args: DoctorArgs) -> anyhow::Result<()> {
    let config = Config::load(config_file.as_deref()).map(|mut c| {
        if let Some(d) = data_dir {
            c.data_dir = d;
        }
        c
    });
    let controller_wait = (!args.no_controllers).then(|| std::time::Duration::from_secs(args.controller_wait));
    let inputs = Inputs {
        config_path: config_file,
        config,
        root: args.root,
        now: std::time::SystemTime::now(),
        controller_wait,
    };
    let checks = doctor::run(&inputs);
    if args.json {
        let report = serde_json::json!({ "ok": !doctor::any_failed(&checks), "checks": checks });
        outln!("{}", serde_json::to_string_pretty(&report).context("writing the report")?);
    } else {
        out!("{}", doctor::render_text(&checks));
    }
    let failed = checks.iter().filter(|c| c.status == doctor::Status::Failed).count();
    if failed > 0 {
        return Err(ChecksFailed(failed).into());
    }
    Ok(())
}
