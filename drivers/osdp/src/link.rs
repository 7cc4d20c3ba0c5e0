//! The byte transport under the bus: a narrow [`Link`] trait and [`SerialLink`], its
//! implementation on a serial port (the only file that opens one).
//!
//! The bus reads with a short timeout and writes whole frames; tests wrap a link to inject garbage
//! or damage bytes. This module owns opening the port (8N1, no flow control) and sorting failures
//! into "gone", "refused", "in use" and the rest. It knows nothing of frames or timing rules.

use std::io;
use std::time::Duration;

use serialport::{DataBits, FlowControl, Parity, SerialPort, StopBits};

/// The baud rate OSDP devices ship with.
pub const DEFAULT_BAUD_RATE: u32 = 9600;

/// How long a write may wait for the port.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the link failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The port is gone (unplugged, or the other end of a pseudo-terminal closed).
    #[error("{path} is gone")]
    Disconnected {
        /// The port.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The system refused access to the port (check the udev rule and group).
    #[error("no access to {path} (check the udev rule and the service's group)")]
    PermissionDenied {
        /// The port.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Another program holds the port.
    #[error("{path} is in use by another program")]
    InUse {
        /// The port.
        path: String,
        /// What serialport said.
        #[source]
        source: serialport::Error,
    },
    /// Opening, reading or writing failed for another reason.
    #[error("{operation} on {path} failed")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The port.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

/// A byte transport to the bus.
pub trait Link: Send {
    /// Reads what has arrived, waiting up to `timeout` for the first byte; `Ok(0)` if none came.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError>;

    /// Writes all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError>;

    /// What the guard screen calls it (the port's path).
    fn name(&self) -> String;
}

/// A bus on a serial port (a USB RS-485 adapter, or one end of a pseudo-terminal).
pub struct SerialLink {
    port: Box<dyn SerialPort>,
    path: String,
}

impl std::fmt::Debug for SerialLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialLink").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SerialLink {
    /// Opens `path` at `baud_rate`, 8N1, no flow control.
    pub fn open(path: &str, baud_rate: u32) -> Result<SerialLink, LinkError> {
        let port = serialport::new(path, baud_rate)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(WRITE_TIMEOUT)
            .open()
            .map_err(|error| {
                if error.kind() == serialport::ErrorKind::NoDevice {
                    // serialport reports a lock held elsewhere (EBUSY) as NoDevice.
                    LinkError::InUse { path: path.to_owned(), source: error }
                } else {
                    classify(path, "open", error.into())
                }
            })?;
        Ok(SerialLink { port, path: path.to_owned() })
    }

    /// A link on a port opened elsewhere (e.g. the master end of a pseudo-terminal in tests).
    pub fn from_port(port: Box<dyn SerialPort>, name: impl Into<String>) -> SerialLink {
        SerialLink { port, path: name.into() }
    }
}

impl Link for SerialLink {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        self.port
            .set_timeout(timeout.max(Duration::from_millis(1)))
            .map_err(|e| classify(&self.path, "set timeout", e.into()))?;
        match self.port.read(buf) {
            Ok(n) => Ok(n),
            Err(error) if matches!(error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => Ok(0),
            Err(error) => Err(classify(&self.path, "read", error)),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.port.set_timeout(WRITE_TIMEOUT).map_err(|e| classify(&self.path, "set timeout", e.into()))?;
        io::Write::write_all(&mut self.port, bytes).map_err(|error| classify(&self.path, "write", error))?;
        io::Write::flush(&mut self.port).map_err(|error| classify(&self.path, "flush", error))
    }

    fn name(&self) -> String {
        self.path.clone()
    }
}

/// Sorts an I/O failure on `path`.
fn classify(path: &str, operation: &'static str, source: io::Error) -> LinkError {
    let path = path.to_owned();
    if source.kind() == io::ErrorKind::PermissionDenied {
        LinkError::PermissionDenied { path, source }
    } else if is_gone(&source) {
        LinkError::Disconnected { path, source }
    } else {
        LinkError::Io { operation, path, source }
    }
}

/// Whether the port (or the far end of a pseudo-terminal) went away. serialport turns EIO, ENXIO
/// and ENODEV into `Other` errors that keep only the system's text.
fn is_gone(error: &io::Error) -> bool {
    use io::ErrorKind as K;
    match error.kind() {
        K::NotFound | K::BrokenPipe | K::NotConnected | K::UnexpectedEof => true,
        K::Other => {
            let text = error.to_string();
            ["I/O error", "Input/output error", "No such device"].iter().any(|gone| text.contains(gone))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_port_is_disconnected() {
        let err = SerialLink::open("/dev/tally-no-such-osdp-port", DEFAULT_BAUD_RATE).unwrap_err();
        assert!(matches!(&err, LinkError::Disconnected { path, .. } if path.ends_with("osdp-port")), "{err:?}");
    }

    #[test]
    fn sorts_failures() {
        assert!(is_gone(&io::Error::other("Input/output error")));
        assert!(!is_gone(&io::Error::new(io::ErrorKind::TimedOut, "timed out")));
        let refused = classify("/dev/x", "open", io::Error::new(io::ErrorKind::PermissionDenied, "denied"));
        assert!(matches!(refused, LinkError::PermissionDenied { .. }));
    }
}
