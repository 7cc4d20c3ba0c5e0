//! `tally offsite copy DIR` and `tally restore COPY`: the off-site copy on demand, and a replacement
//! appliance restored from one. The work is [`tally::offsite`]'s.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::{Ctx, open_ledger};
use tally::ledger::entry::Event;
use tally::ledger::verify;
use tally::offsite::{self, restore};

#[derive(Debug, Subcommand)]
pub enum OffsiteCommand {
    /// Write an off-site copy into a new sub-directory of DIR (e.g. a mounted USB stick): the ledger
    /// export, plain, and the register (people, photos, templates) encrypted with age for the
    /// authority's keys (`[offsite] recipients`). The copy is recorded in the ledger.
    Copy {
        /// The directory to write the copy into (it must exist).
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The off-site copy's directory (the one holding MANIFEST).
    copy: PathBuf,
    /// The authority's age identity file (AGE-SECRET-KEY-1…), as `age-keygen` writes it.
    #[arg(long, value_name = "AGE_IDENTITY_FILE")]
    identity: PathBuf,
    /// The lost appliance's verifier key(s), obtained out of band; only they may sign the copy's
    /// ledger. Without it, the copy's ledger is checked against its own keys only.
    #[arg(long, value_name = "VKEY_FILE")]
    key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, cmd: OffsiteCommand) -> anyhow::Result<()> {
    match cmd {
        OffsiteCommand::Copy { dir } => {
            let mut ledger = open_ledger(ctx)?;
            let cfg = &ctx.config;
            let copied = offsite::copy(&cfg.data_dir, &dir, &cfg.offsite.recipients, ctx.clock.wall())
                .with_context(|| format!("writing an off-site copy into {}", dir.display()))?;
            let a = ledger
                .append(vec![Event::OffsiteCopy(copied.entry.clone())])
                .context("recording the off-site copy in the ledger")?;
            outln!(
                "copy {} written: {} entries of {}, {} people, {} templates; recorded as entry {}",
                copied.path.display(),
                copied.entry.size,
                copied.origin,
                copied.entry.people,
                copied.entry.templates,
                a.seqs.first().copied().unwrap_or_default()
            );
        }
    }
    Ok(())
}

pub fn run_restore(ctx: &Ctx, args: RestoreArgs) -> anyhow::Result<()> {
    let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let identity = read(&args.identity)?;
    let trusted = match &args.key {
        Some(k) => Some(verify::parse_keys(&k.display().to_string(), &read(k)?)?),
        None => None,
    };
    let cfg = &ctx.config;
    let r = restore::restore(restore::Request {
        copy: &args.copy,
        identity: &identity,
        trusted,
        data_dir: &cfg.data_dir,
        facility: cfg.facility_id.as_deref(),
        appliance: cfg.appliance_id.as_deref(),
        clock: ctx.clock.clone(),
    })
    .with_context(|| format!("restoring {} into {}", args.copy.display(), cfg.data_dir.display()))?;
    if r.pinned {
        outln!("copy verified: {} entries of {}, signed by the pinned key", r.previous_size, r.previous_origin);
    } else {
        outln!(
            "copy verified against its own keys only (no --key given): {} entries of {}",
            r.previous_size,
            r.previous_origin
        );
    }
    outln!("restored {} people and {} templates into {}", r.people, r.templates, cfg.data_dir.display());
    outln!("new epoch {}: ledger {}; earlier epochs kept under epochs/", r.epoch, r.origin);
    outln!("verifier key of the new epoch (give it to the auditors):");
    outln!("{}", r.vkey);
    Ok(())
}
