//! Driver for the DigitalPersona U.are.U 4000, 4000B and 4500 and their Microsoft rebadges
//! (Fingerprint Reader, keyboard and mouse versions, and the v2 with its AES challenge).
//!
//! - [`model`]: the supported USB ids and what differs between them;
//! - [`frame`]: the image frame, its scramble, and the oriented grey image (pure);
//! - [`driver`]: the USB session, generic over [`tally_usb::UsbTransport`], so the same code runs on
//!   a real device ([`tally_usb::NusbTransport`]) and against recordings ([`tally_usb::Replay`]).
//!
//! Protocol facts: PROTOCOLS.md §1 beside the project. It implements [`tally_device::Reader`]; the
//! service sees nothing else of it.

pub mod driver;
pub mod frame;
pub mod model;

pub use driver::{SeedSource, Uru4000, varying_seed};
pub use model::{MODELS, Model, find, recorded_seed, supported};

/// The fuzz target's body (tests/fuzz/fuzz_targets/usbmon_replay.rs): any bytes as a usbmon capture,
/// and whatever parses replayed against the driver for every device in it, the v2 model included.
/// Must never panic or hang; errors are the expected outcome.
#[doc(hidden)]
pub fn fuzz_replay(data: &[u8]) {
    let Ok(records) = tally_usb::usbmon::parse(data) else { return };
    let mut devices: Vec<(u16, u8)> = records.iter().map(|r| (r.bus, r.device)).collect();
    devices.sort_unstable();
    devices.dedup();
    for (bus, device) in devices.into_iter().take(4) {
        for model in [&MODELS[2], &MODELS[6]] {
            let Ok(replay) = tally_usb::Replay::new(records.clone(), bus, device) else { continue };
            let address = tally_device::DeviceAddress::Simulated("fuzz".into());
            let Ok(mut reader) = Uru4000::open(replay, model, address, Box::new(|| 0x51EA_2124)) else { continue };
            let _ = reader.capture(std::time::Duration::from_millis(1));
            if let Ok(replay) = reader.shut_down() {
                let _ = replay.finish();
            }
        }
    }
}
