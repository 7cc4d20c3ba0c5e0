//! The `tally` binary: parses the command line, installs logging, runs the command and maps its outcome
//! to an exit code (0 success, 1 failure, 2 bad usage or configuration, 3 verification failed).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(feature) = missing_cpu_feature() {
        eprintln!(
            "tally: this build uses the processor instruction {feature}, which this processor lacks; \
             rebuild without it (see .cargo/config.toml)"
        );
        return ExitCode::FAILURE;
    }
    let args = match cli::Args::parse_validated() {
        Ok(a) => a,
        Err(e) => {
            // clap's own errors (usage, --help, --version) print and exit as clap decides.
            e.exit()
        }
    };
    // `TALLY_LOG` when set; otherwise `info`, or the command's own default (the demo's is quieter, as its
    // story is told on the same terminal).
    let default_log = args.default_log().unwrap_or("info");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TALLY_LOG").unwrap_or_else(|_| default_log.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally: {e:#}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

/// An instruction set extension this build was compiled to use and the processor lacks: checked before
/// anything runs, so that an old processor gets a message instead of an illegal instruction.
fn missing_cpu_feature() -> Option<&'static str> {
    #[cfg(all(target_arch = "x86_64", target_feature = "popcnt"))]
    if !std::arch::is_x86_feature_detected!("popcnt") {
        return Some("POPCNT");
    }
    None
}
