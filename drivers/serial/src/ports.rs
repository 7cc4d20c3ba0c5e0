//! Serial ports on this machine, for `tally devices`: which exist, what adapter each is, and whether
//! tally may open it.
//!
//! Listing reads sysfs (serialport's enumeration, without libudev); the access check opens the node
//! without blocking and without becoming its controlling terminal, and closes it at once, so it
//! never changes a line's settings. Which port carries what (a fingerprint module, an OSDP bus) is
//! the configuration's business, not this module's.

use std::fmt;

/// One serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// The device node, e.g. /dev/ttyUSB0.
    pub path: String,
    /// For USB adapters: vendor and product id and the product string.
    pub usb: Option<(u16, u16, Option<String>)>,
}

impl fmt::Display for PortInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.usb {
            Some((vendor, product, name)) => {
                write!(f, "{} (USB {vendor:04x}:{product:04x}", self.path)?;
                if let Some(name) = name {
                    write!(f, " {name}")?;
                }
                write!(f, ")")
            }
            None => write!(f, "{}", self.path),
        }
    }
}

/// Why a port cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The OS refused access.
    #[error("no access to {path}: is the udev rule (udev/70-tally.rules) installed and is tally in group tally?")]
    PermissionDenied {
        /// The node.
        path: String,
    },
    /// Another program holds it, or it could not be opened for another reason.
    #[error("cannot open {path}")]
    Open {
        /// The node.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Enumeration failed.
    #[error("cannot list serial ports")]
    List(#[source] std::io::Error),
}

impl PortInfo {
    /// Whether this process may open the port for reading and writing.
    pub fn check_access(&self) -> Result<(), PortError> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDWR | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        match rustix::fs::open(self.path.as_str(), flags, Mode::empty()) {
            Ok(fd) => {
                drop(fd);
                Ok(())
            }
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => {
                Err(PortError::PermissionDenied { path: self.path.clone() })
            }
            Err(e) => Err(PortError::Open { path: self.path.clone(), source: e.into() }),
        }
    }
}

/// The serial ports the system knows, USB adapters and on-board ports alike.
pub fn ports() -> Result<Vec<PortInfo>, PortError> {
    let mut ports: Vec<PortInfo> = serialport::available_ports()
        .map_err(|error| PortError::List(error.into()))?
        .into_iter()
        .map(|p| {
            let usb = match p.port_type {
                serialport::SerialPortType::UsbPort(u) => Some((u.vid, u.pid, u.product)),
                _ => None,
            };
            PortInfo { path: p.port_name, usb }
        })
        .collect();
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_node_is_reported_with_its_path() {
        let port = PortInfo { path: "/dev/tally-no-such-port".into(), usb: None };
        let err = port.check_access().unwrap_err().to_string();
        assert!(err.contains("/dev/tally-no-such-port"), "{err}");
    }

    #[test]
    fn usb_adapters_say_what_they_are() {
        let port = PortInfo { path: "/dev/ttyUSB0".into(), usb: Some((0x0403, 0x6001, Some("FT232R".into()))) };
        assert_eq!(port.to_string(), "/dev/ttyUSB0 (USB 0403:6001 FT232R)");
    }
}
