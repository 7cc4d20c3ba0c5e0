//! The command line: clap types, then one function per command. Commands return `anyhow` errors with
//! context; [`exit_code`] sorts them for `main`. Commands print with [`outln!`] and [`out!`], never
//! `println!`: see [`stdout_write`].

/// `println!` for commands: see [`stdout_write`].
macro_rules! outln {
    () => {
        $crate::cli::stdout_write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::stdout_write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for commands: see [`stdout_write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::stdout_write(format_args!($($arg)*))
    };
}

mod bench;
mod demo;
mod devices;
mod doctor;
mod fingerprint;
mod fingerprint_bench_index;
mod fingerprint_eval;
mod fingerprint_synth;
mod ledger_cmd;
mod notify;
mod offsite;
mod people;
mod provision;
mod serve;
mod tokens_cmd;
mod turnstile;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use tally::clock::{Clock, SystemClock};
use tally::config::{Config, ConfigError};
use tally::ledger::verify::VerifyError;

/// tally: biometric gate appliance service.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
pub struct Args {
    /// Configuration file (TOML). Without one, embedded defaults apply.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides the configuration's `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: the API, the ledger writer.
    Serve {
        /// Address to listen on (overrides `[api] listen`); port 0 picks a free one.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// A synthetic prison on simulated readers and turnstiles: the whole appliance, no hardware needed.
    Demo(demo::DemoArgs),
    /// The signed movement ledger.
    #[command(subcommand)]
    Ledger(ledger_cmd::LedgerCommand),
    /// API tokens.
    #[command(subcommand)]
    Tokens(tokens_cmd::TokensCommand),
    /// Fingerprints: extract, compare, evaluate.
    #[command(subcommand)]
    Fingerprint(fingerprint::FingerprintCommand),
    /// Fingerprint readers and serial ports: list them, or replay a recorded USB session.
    Devices(devices::DevicesArgs),
    /// Turnstile controllers (OSDP): the installer's check.
    #[command(subcommand)]
    Turnstile(turnstile::TurnstileCommand),
    /// First boot of an appliance: configuration, ledger and keys, admin token, verifier key.
    ///
    /// Writes ROOT/etc/tally/tally.toml from the template, creates the data directory with the ledger and
    /// its signing key, the template encryption key and one OSDP secure channel key (SCBK) per controller
    /// the lanes name, makes an admin token, and prints the token (once) and the ledger's verifier key for
    /// the auditors.
    ///
    /// An appliance where any of these files exists is refused, naming them, and nothing is changed. With
    /// --force, only what is missing is made (after an interrupted provisioning, or for a lane added to the
    /// configuration) and a new admin token is printed: an existing key, ledger or configuration is never
    /// replaced, even with --force.
    Provision(provision::ProvisionArgs),
    /// Check an installed appliance: configuration, data directory, ledger, keys, clock, udev rules, devices.
    ///
    /// Each check says what it found and, when not ok, what to do. Exit code 1 when any check failed
    /// (warnings do not fail).
    Doctor(doctor::DoctorArgs),
    /// The register of people: bulk import, retention.
    #[command(subcommand)]
    People(people::PeopleCommand),
    /// Off-site copies: the ledger export and the register encrypted for the authority.
    #[command(subcommand)]
    Offsite(offsite::OffsiteCommand),
    /// Restore an off-site copy onto a replacement appliance (empty data directory), as a new epoch.
    ///
    /// Verifies the copy (MANIFEST hashes, ledger signatures and entries, with --key when given),
    /// decrypts the register with the authority's identity, seals it under the new appliance's template
    /// key, keeps the verified old ledger under DATA_DIR/epochs/ and starts a new ledger whose first entry
    /// embeds the old log's last checkpoint. Refused, changing nothing, when the data directory already
    /// holds a ledger or people, or the copy does not verify or decrypt.
    Restore(offsite::RestoreArgs),
}

impl Args {
    /// Parses the command line (clap validates syntax; the configuration is validated in [`run`]).
    pub fn parse_validated() -> Result<Args, clap::Error> {
        Args::try_parse()
    }
}

/// Everything a command needs, validated.
struct Ctx {
    config: Config,
    clock: Arc<dyn Clock>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let Args { config: config_file, data_dir, command } = args;
    let command = match command {
        // The doctor reports a configuration that does not load as one of its findings.
        Command::Doctor(d) => return doctor::run(config_file, data_dir, d),
        c => c,
    };
    let mut config = Config::load(config_file.as_deref())?;
    // The demo makes its own configuration and, unless told, its own data directory.
    let (demo_dir, config_given) = (data_dir.clone(), config_file.is_some());
    let global_given = config_file.is_some() || data_dir.is_some();
    if let Some(d) = data_dir {
        config.data_dir = d;
    }
    let ctx = Ctx { config, clock: Arc::new(SystemClock::new()) };
    match command {
        Command::Serve { listen } => serve::run(ctx, listen),
        Command::Demo(c) => demo::run(ctx, demo_dir, config_given, c),
        Command::Ledger(c) => ledger_cmd::run(&ctx, c),
        Command::Tokens(c) => tokens_cmd::run(&ctx, c),
        Command::Fingerprint(c) => fingerprint::run(c),
        Command::Devices(c) => devices::run(c),
        Command::Turnstile(c) => turnstile::run(c),
        Command::People(c) => people::run(&ctx, c),
        Command::Offsite(c) => offsite::run(&ctx, c),
        Command::Restore(a) => offsite::run_restore(&ctx, a),
        Command::Provision(c) => provision::run(&ctx, global_given, c),
        // Returned above, before the configuration is loaded.
        Command::Doctor(_) => unreachable!("the doctor runs before the configuration is loaded"),
    }
}

/// 2 for configuration errors, 3 for a ledger that does not verify, 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<ConfigError>().is_some()
        || e.downcast_ref::<tally::provision::ProvisionError>().is_some_and(|p| p.is_bad_request())
    {
        2
    } else if e.downcast_ref::<VerifyError>().is_some() {
        3
    } else {
        1
    }
}

/// Opens the existing ledger (commands other than `serve` and `ledger init` never create one).
fn open_ledger(ctx: &Ctx) -> anyhow::Result<tally::ledger::Ledger> {
    let l = tally::ledger::Ledger::open(&ctx.config.data_dir, ctx.clock.clone())
        .with_context(|| format!("opening the ledger in {}", ctx.config.data_dir.display()))?;
    l.check_identity(ctx.config.facility_id.as_deref(), ctx.config.appliance_id.as_deref())?;
    Ok(l)
}

/// Writes to standard output. When the reader has gone away (`tally … | head`), the process ends
/// quietly with status 141, as a Unix tool killed by SIGPIPE would, where `println!` would panic (Rust
/// ignores SIGPIPE, so the write fails instead); any other write error ends it with a message and
/// status 1. Ending here is safe: what a command has made durable is already committed, and nothing
/// else it would print can reach anyone.
pub(crate) fn stdout_write(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("tally: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}
