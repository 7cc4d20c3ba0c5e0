//! `tally provision`: first boot of an appliance. The arguments and what is printed; the work is
//! `tally::provision`'s.
//!
//! The admin token and the verifier key go to stdout only, once; nothing secret is logged.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::Ctx;
use tally::provision::{self, Part, Provisioned, Request, Template};

/// First boot: configuration, ledger and keys, admin token.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The root of the appliance's file system (a mounted image, or a test directory).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The configuration to install (default: the built-in example, provisioning/tally.toml).
    #[arg(long, value_name = "FILE")]
    config_template: Option<PathBuf>,
    /// The facility id (part of the ledger's origin), replacing the template's.
    #[arg(long, value_name = "ID")]
    facility_id: Option<String>,
    /// The appliance id (part of the ledger's origin), replacing the template's.
    #[arg(long, value_name = "ID")]
    appliance_id: Option<String>,
    /// Make what is missing on a (partly) provisioned appliance; never replaces anything.
    #[arg(long)]
    force: bool,
}

/// `global`: whether --config or --data-dir was given, which provisioning does not take.
pub fn run(ctx: &Ctx, global: bool, args: ProvisionArgs) -> anyhow::Result<()> {
    if global {
        anyhow::bail!(
            "provision takes --root and --config-template, not --config or --data-dir (the data directory is the template's data_dir under the root)"
        );
    }
    let root = std::path::absolute(&args.root).with_context(|| format!("--root {}", args.root.display()))?;
    let template = match args.config_template {
        None => Template::Example,
        Some(path) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Template::File { path, text }
        }
    };
    let req =
        Request { root, template, facility_id: args.facility_id, appliance_id: args.appliance_id, force: args.force };
    let done = provision::provision(&req, ctx.clock.clone())?;
    print_report(&done);
    Ok(())
}

fn print_report(p: &Provisioned) {
    outln!("Provisioned appliance {} (configuration {}).", p.origin, p.config_file.display());
    for item in &p.created {
        let mode = if item.part == Part::Config { "" } else { ", mode 0600" };
        outln!("  created  {} ({}{mode})", item.path.display(), item.part);
    }
    for item in &p.kept {
        outln!("  kept     {} ({})", item.path.display(), item.part);
    }
    outln!();
    outln!("ADMIN TOKEN for \"{}\". It is shown this once and stored only as a hash: write it down now", p.admin_name);
    outln!(
        "and keep it in the safe. With it, make the officers' tokens (tally tokens create --role ROLE --name NAME)."
    );
    outln!("{}", p.admin_token.expose());
    outln!();
    outln!("LEDGER VERIFIER KEY. Give it to the auditors and the inspectorate now, on paper or by a channel they");
    outln!(
        "trust, and keep a copy off this appliance. It is public, not secret. With it, and only with it, anyone can"
    );
    outln!("check an export of this appliance's ledger offline (tally ledger verify DIR --key FILE, or standard");
    outln!("C2SP/sumdb tools); an export that does not verify with it was not signed by this appliance.");
    outln!("{}", p.vkey);
    outln!();
    outln!("For the facility's other appliances ([[peer]] of this one, see `tally ledger peer-keys`):");
    outln!("vkey {}", p.vkey);
    outln!("witness {}", p.witness);
    outln!();
    outln!("Next: check {} (lanes, zones, access rules); for a lane added later, run", p.config_file.display());
    outln!("`tally provision --force` to make its key. Then: systemctl enable --now tally");
}
