//! The doctor's checks of the configured devices: each lane's reader (a U.are.U on its USB port, or a
//! GROW module on its serial port) present and openable by this user, and each turnstile bus's serial
//! port present and openable. Simulated readers are reported as skipped.
//!
//! A device is only opened and closed, never configured, so the check is safe while nothing else holds
//! it. Whether the controllers on a bus answer is [`super::controllers`]'s check; this module does not
//! speak OSDP.

use std::path::Path;

use super::Check;
use crate::config::{Config, ReaderSetting};
use tally_device::DeviceAddress;

const UDEV_FIX: &str = "check that udev/70-tally.rules is installed (see the udev rules check) and that tally runs in group tally; `tally devices` lists what is attached";

/// The checks of the configured devices, and the turnstile ports found unusable.
#[derive(Debug, Default)]
pub struct DeviceChecks {
    /// One check per lane reader and per turnstile port.
    pub checks: Vec<Check>,
    /// Turnstile ports that are missing or may not be opened.
    pub unusable_ports: Vec<String>,
}

/// One check per lane reader and per turnstile port.
pub fn check(config: &Config) -> DeviceChecks {
    if config.lanes.is_empty() {
        return DeviceChecks { checks: vec![Check::skipped("devices", "no lanes configured")], ..Default::default() };
    }
    let mut unusable_ports = Vec::new();
    let mut checks = Vec::new();
    for lane in &config.lanes {
        let name = format!("lane {} reader", lane.id);
        checks.push(match &lane.reader {
            ReaderSetting::Simulated => Check::skipped(name, "simulated"),
            ReaderSetting::Usb(port) => usb_reader(name, port),
            ReaderSetting::Serial(path) => serial_port(name, path, "the fingerprint module's serial adapter"),
        });
    }
    let mut ports: Vec<&str> = Vec::new();
    for lane in &config.lanes {
        if ports.contains(&lane.turnstile_port.as_str()) {
            continue;
        }
        ports.push(&lane.turnstile_port);
        let name = format!("lane {} turnstile port", lane.id);
        let check = serial_port(name, &lane.turnstile_port, "the RS-485 adapter of the turnstile bus");
        if check.status != super::Status::Ok {
            unusable_ports.push(lane.turnstile_port.clone());
        }
        checks.push(check);
    }
    DeviceChecks { checks, unusable_ports }
}

fn usb_reader(name: String, port: &str) -> Check {
    let devices = match tally_usb::list(tally_uru4000::supported) {
        Ok(d) => d,
        Err(_) if !Path::new("/sys/bus/usb").exists() => {
            return Check::failed(
                name,
                "this machine has no USB bus (/sys/bus/usb is missing)",
                "run tally on the appliance itself, where the readers are plugged in",
            );
        }
        Err(e) => return Check::failed(name, format!("cannot list USB devices: {e}"), UDEV_FIX),
    };
    let found =
        devices.into_iter().find(|d| matches!(d.address(), DeviceAddress::Usb { port: ref p, .. } if p == port));
    let Some(device) = found else {
        return Check::failed(
            name,
            format!("no supported reader on USB port {port}"),
            "plug the reader into that port, or set the lane's reader to the port `tally devices` shows it on",
        );
    };
    let model = tally_uru4000::find(device.vendor(), device.product()).map_or("reader", |m| m.name);
    match device.check_access() {
        Ok(()) => Check::ok(name, format!("{model} on USB port {port} ({}), openable", device.node())),
        Err(e) => Check::failed(name, format!("{model} on USB port {port}: {e}"), UDEV_FIX),
    }
}

fn serial_port(name: String, path: &str, what: &str) -> Check {
    if !Path::new(path).exists() {
        return Check::failed(
            name,
            format!("{path} does not exist"),
            format!(
                "plug in {what}; if it is plugged in, check the udev rules (they make /dev/tally/serial-…) and the path in the configuration (`tally devices` lists serial ports)"
            ),
        );
    }
    let port = tally_grow::PortInfo { path: path.to_owned(), usb: None };
    match port.check_access() {
        Ok(()) => Check::ok(name, format!("{path} present and openable")),
        Err(e) => Check::failed(name, e.to_string(), UDEV_FIX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn simulated_readers_are_skipped_and_a_missing_port_fails() {
        let config = Config::parse(
            Path::new("t.toml"),
            "[[lane]]\nid = \"a\"\nfrom_zone = \"outside\"\nto_zone = \"r\"\nreader = \"simulated\"\n\
             turnstile_port = \"/dev/nonexistent-tally-port\"\nturnstile_address = 1\nturnstile_install_mode = true\n",
        )
        .expect("config");
        let found = check(&config);
        assert_eq!(found.unusable_ports, ["/dev/nonexistent-tally-port"]);
        let checks = found.checks;
        assert_eq!(checks[0].status, Status::Skipped);
        assert_eq!(checks[0].found, "simulated");
        assert_eq!(checks[1].status, Status::Failed);
        assert!(checks[1].fix.as_deref().is_some_and(|f| f.contains("udev")));
    }
}
