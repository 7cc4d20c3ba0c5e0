//! The `tally` binary: parses the command line, installs logging, runs the command and maps its outcome
//! to an exit code (0 success, 1 failure, 2 bad usage or configuration, 3 verification failed).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Args::parse_validated() {
        Ok(a) => a,
        Err(e) => {
            // clap's own errors (usage, --help, --version) print and exit as clap decides.
            e.exit()
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TALLY_LOG").unwrap_or_else(|_| "info".into()))
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
