//! `tally ledger …`: create, write notes, export, verify, prove, rotate the key, benchmark.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::{Ctx, open_ledger};
use tally::ledger::entry::{Event, Note};
use tally::ledger::{Ledger, LedgerReader, export, verify};

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create the ledger and its first signing key (`serve` does this on first start too).
    Init,
    /// Append an officer's note (works whether or not `serve` is running).
    Note {
        /// The officer writing it.
        #[arg(long)]
        author: String,
        /// The note.
        text: String,
    },
    /// Print the latest signed checkpoint.
    Checkpoint,
    /// Write an export directory for auditors.
    Export {
        /// A new directory to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an export directory; exits 3 and names the first bad entry when it does not verify.
    Verify {
        /// The export directory.
        dir: PathBuf,
        /// An earlier checkpoint that this export must extend (a fork or a rewrite fails).
        #[arg(long, value_name = "FILE")]
        previous: Option<PathBuf>,
        /// Verifier keys obtained out of band; only they may sign the checkpoint.
        #[arg(long, value_name = "VKEY_FILE")]
        key: Option<PathBuf>,
    },
    /// Print an inclusion proof (JSON) of entry INDEX in the tree of SIZE entries.
    Prove {
        /// The entry.
        #[arg(long)]
        index: u64,
        /// A tree size at which a checkpoint was released (default: the latest).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Print a consistency proof (JSON) between two tree sizes.
    ProveConsistency {
        /// The older size.
        #[arg(long)]
        from: u64,
        /// The newer size (default: the latest).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Replace the signing key; the rotation is recorded in the ledger.
    RotateKey,
    /// Print the keys the facility's other appliances pin in their `[[peer]]` entry for this one: the
    /// ledger verifier key (`vkey ...`) and the witness key (`witness ...`, made if absent).
    PeerKeys,
    /// Measure appends, verification and proofs; prints a table.
    Bench(super::bench::BenchArgs),
}

pub fn run(ctx: &Ctx, cmd: LedgerCommand) -> anyhow::Result<()> {
    let dir = &ctx.config.data_dir;
    let reader = || LedgerReader::open(dir).with_context(|| format!("opening the ledger in {}", dir.display()));
    match cmd {
        LedgerCommand::Init => {
            let (facility, appliance) = (ctx.config.facility_id_or_default(), ctx.config.appliance_id_or_default());
            let l = Ledger::create(dir, &facility, &appliance, ctx.clock.clone())?;
            let (_, note) = l.reader()?.latest_checkpoint()?;
            outln!("created ledger {} in {}", l.identity().origin, dir.display());
            out!("{note}");
        }
        LedgerCommand::Note { author, text } => {
            let note = Note::new(author, text)?;
            let a = open_ledger(ctx)?.append(vec![Event::Note(note)])?;
            outln!("{}", a.seqs.first().copied().unwrap_or_default());
        }
        LedgerCommand::Checkpoint => out!("{}", reader()?.latest_checkpoint()?.1),
        LedgerCommand::Export { out } => {
            let e = export::export(&mut reader()?, &out)?;
            outln!("exported {} entries of {} ({} keys) to {}", e.size, e.origin, e.keys, out.display());
        }
        LedgerCommand::Verify { dir, previous, key } => {
            let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
            let trusted = match &key {
                Some(k) => Some(verify::parse_keys(&k.display().to_string(), &read(k)?)?),
                None => None,
            };
            let previous = previous.as_ref().map(read).transpose()?;
            let report = verify::verify_dir(&dir, &verify::Options { trusted, previous })?;
            let mut extends =
                report.extends.map(|s| format!(", consistent with the previous checkpoint at {s}")).unwrap_or_default();
            if !report.earlier.is_empty() {
                let earlier: Vec<String> = report
                    .earlier
                    .iter()
                    .map(|e| format!("epoch {} ({}, {} entries)", e.epoch, e.origin, e.size))
                    .collect();
                extends.push_str(&format!(
                    "; epoch {}, continuing {} verified and linked",
                    report.epoch,
                    earlier.join(", ")
                ));
            }
            outln!(
                "ok: {} entries of {} verified, root {}, {} signing key(s){extends}",
                report.size,
                report.origin,
                base64_hash(&report.root),
                report.keys
            );
        }
        LedgerCommand::Prove { index, size } => {
            outln!("{}", serde_json::to_string_pretty(&reader()?.inclusion_proof(index, size)?)?);
        }
        LedgerCommand::ProveConsistency { from, to } => {
            outln!("{}", serde_json::to_string_pretty(&reader()?.consistency_proof(from, to)?)?);
        }
        LedgerCommand::RotateKey => {
            let (a, vkey) = open_ledger(ctx)?.rotate_key()?;
            outln!("new signing key from entry {}: {vkey}", a.seqs.first().copied().unwrap_or_default());
        }
        LedgerCommand::PeerKeys => {
            let mut r = reader()?;
            let vkey = r.verifier_keys()?.pop().unwrap_or_default();
            let origin = r.latest_checkpoint()?.1.lines().next().unwrap_or_default().to_owned();
            let witness = tally::peers::witness(dir, &origin)?;
            outln!("vkey {vkey}");
            outln!("witness {}", witness.verifier().to_vkey());
        }
        LedgerCommand::Bench(args) => super::bench::run(ctx, args)?,
    }
    Ok(())
}

fn base64_hash(h: &[u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(h)
}
