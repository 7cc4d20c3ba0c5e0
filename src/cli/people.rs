//! `tally people …`: the register from the command line. `import`: people and their fingers in bulk
//! from a registry's CSV export, with a progress bar and a report (plain text, or JSON with `--json`);
//! the plan and the writing are [`tally::people::import`]'s. `purge`: the retention rule on demand
//! ([`tally::people::retention`]), saying who loses what and why.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Ctx, open_ledger};
use tally::config::RetentionSetting;
use tally::people::import::{self, Candidate, IssueKind, Mode, Options, Report};
use tally::people::retention;

#[derive(Debug, Subcommand)]
pub enum PeopleCommand {
    /// Register people and enrol their fingers from a CSV file (a registry's or an older system's export).
    ///
    /// Header row required: id,category,given_names,family_name,date_of_birth,national_id,zone,fingers
    /// (date_of_birth, national_id, zone and fingers may be empty). `fingers` lists ISO 19794-2 or
    /// ANSI 378 template files as POSITION:PATH items separated by ';', paths relative to the CSV
    /// file's folder, e.g. `2:templates/MKL-0001_2.iso;7:templates/MKL-0001_7.iso`. Rows that fail a
    /// check are refused, rows whose fingers match someone else's are held back as possible
    /// duplicates; both are listed in the report, and the command still exits 0.
    Import(ImportArgs),
    /// Delete the fingerprint templates (and photos) of people released longer ago than `[retention]`
    /// says, recording each deletion in the ledger first.
    ///
    /// Prints who loses what and why. Safe while `tally serve` runs: the deletions are recorded
    /// through the ledger's own locking, and the service drops the templates from its gallery within
    /// seconds. Without a `[retention]` setting nothing is ever deleted.
    Purge(PurgeArgs),
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Say who would lose what, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV file.
    file: PathBuf,
    /// The officer named in the ledger entries.
    #[arg(long, default_value = "import")]
    officer: String,
    /// Check everything (duplicates included) and write nothing: no register rows, no ledger entries,
    /// no template key.
    #[arg(long)]
    dry_run: bool,
    /// The zone of rows whose zone is empty (default: outside the facility).
    #[arg(long, value_name = "ZONE")]
    zone: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, cmd: PeopleCommand) -> anyhow::Result<()> {
    match cmd {
        PeopleCommand::Import(args) => import_file(ctx, args),
        PeopleCommand::Purge(args) => purge(ctx, args),
    }
}

fn purge(ctx: &Ctx, args: PurgeArgs) -> anyhow::Result<()> {
    let setting = ctx.config.retention;
    if !setting.is_set() {
        outln!("no [retention] setting in the configuration: templates and photos are kept; nothing to do");
        return Ok(());
    }
    let dir = &ctx.config.data_dir;
    let outcome = if args.dry_run {
        retention::purge::dry_run(dir, ctx.clock.as_ref(), &setting)
    } else {
        let ledger = open_ledger(ctx)?;
        retention::purge::Purger::new(ledger, dir, ctx.clock.clone(), setting).and_then(|mut p| p.run(None))
    };
    let outcome = outcome.with_context(|| format!("applying the retention rule in {}", dir.display()))?;
    out!("{}", purge_text(&setting, &outcome));
    Ok(())
}

/// One line per person: what goes, why, and the entry that records it; then the totals.
fn purge_text(setting: &RetentionSetting, o: &retention::purge::Outcome) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let mut new_entries = o.recorded.iter();
    let period = |days: Option<u32>| days.map_or("kept".to_owned(), |d| format!("{d} days"));
    let _ = writeln!(
        s,
        "retention: templates {}, photos {} after release",
        period(setting.templates_after_release),
        period(setting.photos_after_release)
    );
    let (mut templates, mut photos) = (0, 0);
    for a in &o.plan.actions {
        let fingers = a.fingers();
        let mut what = Vec::new();
        if !fingers.is_empty() {
            let list: Vec<String> = fingers.iter().map(u8::to_string).collect();
            what.push(format!("fingers {}", list.join(", ")));
        }
        if a.photo() {
            what.push("the photo".to_owned());
        }
        templates += fingers.len();
        photos += usize::from(a.photo());
        let verb = if o.dry_run { "would be deleted" } else { "deleted" };
        let record = match (a.records(), o.dry_run, a.recorded_in) {
            (true, true, _) => "to be recorded first".to_owned(),
            (true, false, _) => new_entries.next().map_or(String::new(), |seq| format!("recorded in entry {seq}")),
            (false, _, Some(seq)) => format!("already recorded in entry {seq}"),
            (false, _, None) => String::new(),
        };
        let _ = writeln!(
            s,
            "{}: {} {verb} ({} {} days ago, entry {}, at {}; {record})",
            a.person,
            what.join(" and "),
            a.release.status.as_str(),
            a.elapsed_days,
            a.release.seq,
            a.release.time
        );
    }
    if o.plan.actions.is_empty() {
        let _ = writeln!(s, "nothing to delete");
    } else if o.dry_run {
        let _ = writeln!(s, "dry run: {templates} templates and {photos} photos would be deleted; nothing was changed");
    } else {
        let _ = writeln!(s, "{} templates and {} photos deleted", o.templates_deleted, o.photos_deleted);
    }
    s
}

fn import_file(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<()> {
    let mut options = Options::new(args.officer);
    options.zones = ctx.config.zones.iter().map(|z| z.id.clone()).collect::<BTreeSet<String>>();
    options.default_zone = args.zone;
    let mut ledger = if args.dry_run { None } else { Some(open_ledger(ctx)?) };
    let mode = match ledger.as_mut() {
        Some(l) => Mode::Write(l),
        None => Mode::DryRun,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("importing [{bar:40}] {pos}/{len} rows {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let dir = &ctx.config.data_dir;
    let report = import::import(&args.file, dir, &options, mode, ctx.clock.as_ref(), &mut |p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
    });
    bar.finish_and_clear();
    let report = report.with_context(|| format!("importing {} into {}", args.file.display(), dir.display()))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}", text(&args.file.display().to_string(), &report));
    }
    Ok(())
}

/// The plain-text report: counts, then every refused or held-back row by line.
fn text(file: &str, r: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let verb = if r.dry_run { "would be imported (dry run: nothing was written)" } else { "imported" };
    let _ = writeln!(
        s,
        "{file}: {} rows, {} {verb}, {} rejected, {} possible duplicates held back",
        r.rows, r.imported, r.rejected, r.duplicates
    );
    if r.register_templates_skipped > 0 {
        let _ = writeln!(
            s,
            "warning: {} enrolled templates did not open with the template key and were left out of the duplicate check",
            r.register_templates_skipped
        );
    }
    for issue in &r.issues {
        let who = issue.id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default();
        match &issue.kind {
            IssueKind::Rejected { reasons } => {
                let _ = writeln!(s, "line {}{who}: rejected: {}", issue.line, reasons.join("; "));
            }
            IssueKind::PossibleDuplicate { candidates } => {
                let list: Vec<String> = candidates.iter().map(candidate).collect();
                let _ = writeln!(s, "line {}{who}: possible duplicate, held back: {}", issue.line, list.join("; "));
            }
        }
    }
    s
}

fn candidate(c: &Candidate) -> String {
    let from = c.line.map(|l| format!(", imported from line {l}")).unwrap_or_default();
    // A score above every impostor score of the calibration stands for a false match rate of 0.
    let fmr = if c.fmr > 0.0 { format!("FMR {:.0e}", c.fmr) } else { "FMR ~0".to_owned() };
    format!(
        "{}{from} (finger {} matches their finger {}, score {:.3}, {fmr})",
        c.person, c.finger, c.their_finger, c.score
    )
}
