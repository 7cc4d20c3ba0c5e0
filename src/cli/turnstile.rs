//! `tally turnstile test`: the installer's check of one turnstile controller — connect over OSDP,
//! run the secure channel, print what the controller says it is and can do, and with `--pulse` grant
//! one passage and wait for the passage sensor.
//!
//! It writes nothing to the ledger: it is a wiring check, run before the lane is configured, and the
//! turnstile it frees is watched by the installer standing at it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use tally_device::{Turnstile as _, TurnstileEvent};
use tally_osdp::{BusConfig, Key, OsdpBus, PdConfig};

#[derive(Debug, Subcommand)]
pub enum TurnstileCommand {
    /// Connect to one controller, run the secure channel, show its id and capabilities.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The serial port of the RS-485 adapter.
    #[arg(long, value_name = "PATH")]
    port: PathBuf,
    /// The controller's OSDP address (0–126).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=126))]
    address: u8,
    /// The controller's secure channel key, 32 hex digits; without it the check runs in the clear
    /// (and says so).
    #[arg(long, value_name = "HEX")]
    scbk: Option<String>,
    /// Bus speed.
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// Free the turnstile for one passage and wait for the passage sensor.
    #[arg(long)]
    pulse: bool,
    /// Output that frees the turnstile.
    #[arg(long, default_value_t = 0)]
    output: u8,
    /// Input of the passage sensor.
    #[arg(long, default_value_t = 0)]
    input: u8,
    /// How long the turnstile is freed, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pulse_ms: u64,
    /// How long to wait for the passage, in seconds.
    #[arg(long, default_value_t = 10)]
    wait: u64,
    /// How long to wait for the controller to answer, in seconds.
    #[arg(long, default_value_t = 10)]
    connect_wait: u64,
}

pub fn run(cmd: TurnstileCommand) -> anyhow::Result<()> {
    match cmd {
        TurnstileCommand::Test(args) => test(&args),
    }
}

fn test(args: &TestArgs) -> anyhow::Result<()> {
    let port = args.port.to_str().context("the port path is not UTF-8")?.to_string();
    let pd = match &args.scbk {
        Some(hex) => PdConfig::secure(args.address, Key::from_hex(hex).context("--scbk")?),
        None => PdConfig::plain(args.address),
    };
    let mut config = BusConfig::new(port.clone(), vec![pd]);
    config.baud_rate = args.baud;
    let (bus, events) = OsdpBus::start(config).with_context(|| format!("opening {port}"))?;
    let deadline = Instant::now() + Duration::from_secs(args.connect_wait);
    let identity = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok((_, TurnstileEvent::Online { identity })) => break identity,
            Ok(_) => {}
            Err(_) => {
                let why = bus.status(args.address).and_then(|s| s.problem).unwrap_or_else(|| "no answer".into());
                bail!(
                    "the controller at address {} on {port} did not come online within {} s: {why}",
                    args.address,
                    args.connect_wait
                );
            }
        }
    };
    let status = bus.status(args.address);
    outln!("controller {} on {port}: {identity}", args.address);
    match (&args.scbk, status.as_ref().map(|s| s.secure)) {
        (Some(_), Some(true)) => outln!("secure channel: established (AES-128, MAC and encryption on every message)"),
        (Some(_), _) => bail!("the secure channel was not established"),
        (None, _) => {
            outln!("secure channel: NOT TESTED (no --scbk given); production lanes refuse to run without it")
        }
    }
    if let Some(status) = &status {
        for cap in &status.capabilities {
            outln!("capability: function {} compliance {} count {}", cap.function, cap.compliance, cap.count);
        }
    }
    if !args.pulse {
        return Ok(());
    }
    let mut turnstile = bus.turnstile(args.address)?;
    turnstile
        .pulse(args.output, Duration::from_millis(args.pulse_ms))
        .with_context(|| format!("freeing the turnstile (output {})", args.output))?;
    outln!("output {} pulsed for {} ms: pass through now", args.output, args.pulse_ms);
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok((_, TurnstileEvent::Input { point, active: true })) if point == args.input => {
                outln!("passage confirmed");
                return Ok(());
            }
            Ok((_, TurnstileEvent::Offline { reason })) => bail!("the controller went offline: {reason}"),
            Ok(_) => {}
            Err(_) => {
                outln!("no passage within {} s", args.wait);
                return Ok(());
            }
        }
    }
}
