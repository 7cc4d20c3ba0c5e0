//! `tally devices`: what readers are attached and what tally would do with each; and
//! `tally devices replay`, which runs a driver against a recorded USB session.
//!
//! The listing is for installers: every supported reader with its model and whether this process
//! may open it, and the plain-language fix when it may not. It never changes a device's state
//! beyond opening and closing its node.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use tally::fingerprint::image::GrayImage;
use tally_device::DeviceAddress;
use tally_usb::{Replay, umockdev, usbmon};

#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    command: Option<DevicesCommand>,
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// List attached readers and serial ports (the default).
    List,
    /// Run the matching driver against a usbmon capture (pcapng) and write the image it produced.
    Replay {
        /// The capture (pcapng, link type 220).
        capture: PathBuf,
        /// The umockdev device file recorded with it (says which device it is).
        #[arg(long, value_name = "DEVICE_FILE")]
        device: PathBuf,
        /// Where to write the image (PNG).
        #[arg(short, long, value_name = "OUT.png")]
        out: PathBuf,
        /// Seed to write with the key index, in hex; by default the one the capture used.
        #[arg(long, value_name = "HEX", value_parser = parse_hex_u32)]
        seed: Option<u32>,
    },
}

fn parse_hex_u32(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("not a 32-bit hex number: {e}"))
}

pub fn run(args: DevicesArgs) -> anyhow::Result<()> {
    match args.command.unwrap_or(DevicesCommand::List) {
        DevicesCommand::List => list(),
        DevicesCommand::Replay { capture, device, out, seed } => replay(&capture, &device, &out, seed),
    }
}

fn list() -> anyhow::Result<()> {
    let supported: Vec<String> =
        tally_uru4000::MODELS.iter().map(|m| format!("{:04x}:{:04x}", m.vendor, m.product)).collect();
    outln!("USB fingerprint readers:");
    match tally_usb::list(tally_uru4000::supported) {
        Err(_) if !Path::new("/sys/bus/usb").exists() => {
            outln!("  this machine has no USB bus (/sys/bus/usb is missing): plug readers into a machine with USB");
        }
        Err(e) => outln!("  cannot list USB devices: {:#}", anyhow::Error::from(e)),
        Ok(readers) if readers.is_empty() => {
            outln!("  none attached (tally drives {})", supported.join(", "));
        }
        Ok(readers) => {
            for reader in readers {
                let model = tally_uru4000::find(reader.vendor(), reader.product()).map_or("?", |m| m.name);
                let access = match reader.check_access() {
                    Ok(()) => "ready: a lane configured for this port will use it".to_string(),
                    Err(e) => format!("{:#}", anyhow::Error::from(e)),
                };
                outln!("  {} {model} at {}: {access}", reader.address(), reader.node());
            }
        }
    }
    outln!("Serial ports (GROW/ZhianTec fingerprint modules, OSDP turnstile buses):");
    match tally_grow::ports() {
        Err(e) => outln!("  cannot list serial ports: {:#}", anyhow::Error::from(e)),
        Ok(ports) if ports.is_empty() => outln!("  none found"),
        Ok(ports) => {
            for port in ports {
                let access = match port.check_access() {
                    Ok(()) => "ready: used if the configuration names it".to_string(),
                    Err(e) => format!("{:#}", anyhow::Error::from(e)),
                };
                outln!("  {port}: {access}");
            }
        }
    }
    Ok(())
}

fn replay(capture: &Path, device: &Path, out: &Path, seed: Option<u32>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(device).with_context(|| format!("reading {}", device.display()))?;
    let recorded = umockdev::parse(&text).with_context(|| format!("reading {}", device.display()))?;
    let model = tally_uru4000::find(recorded.vendor, recorded.product).with_context(|| {
        format!(
            "{} is a {:04x}:{:04x}, which no tally driver supports",
            device.display(),
            recorded.vendor,
            recorded.product
        )
    })?;
    let bytes = std::fs::read(capture).with_context(|| format!("reading {}", capture.display()))?;
    let records = usbmon::parse(&bytes).with_context(|| format!("reading {}", capture.display()))?;
    let seed = seed.or_else(|| tally_uru4000::recorded_seed(&records)).unwrap_or(0);
    let transport = Replay::new(records, recorded.bus, recorded.device)?;
    let address = DeviceAddress::Simulated(format!("replay of {}", capture.display()));
    let failed = || format!("replaying {} with the {} driver", capture.display(), model.name);
    let mut reader =
        tally_uru4000::Uru4000::open(transport, model, address, Box::new(move || seed)).with_context(failed)?;
    let image = reader.capture(Duration::from_secs(1)).with_context(failed)?;
    let transport = reader.shut_down().with_context(failed)?;
    transport.finish().with_context(failed)?;
    let image = image.with_context(|| format!("{}: the capture holds no finger", capture.display()))?;
    let (width, height) = (image.width, image.height);
    let gray = GrayImage::from_raw(image.pixels, width, height, u32::from(image.dpi))?;
    super::fingerprint_synth::write_png(out, &gray)?;
    outln!(
        "{}: {width}×{height} at {} dpi from a {} ({} transfers matched)",
        out.display(),
        gray.dpi,
        model.name,
        transport.transfers_matched()
    );
    Ok(())
}
