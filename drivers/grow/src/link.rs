//! The byte transport under the driver: a narrow [`Link`] trait and its serial-port implementation.
//!
//! The driver's protocol logic only reads (with a timeout) and writes bytes, so it runs against a
//! scripted link in unit tests and against [`SerialLink`] (the `serialport` crate, 8N1) in service.
//! This module owns opening the port and telling apart the failures a lane acts on: the port is gone
//! (unplugged, or the other end of a pseudo-terminal closed) or access was refused. It does not own
//! packets or timeouts per command: those are the driver's.

use std::io;
use std::time::Duration;

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

/// The baud rate modules ship with.
pub const DEFAULT_BAUD_RATE: u32 = 57_600;

/// How long a write may wait for the port to accept bytes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the link failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The port is gone: unplugged, removed, or its other end closed.
    #[error("{path} is gone")]
    Disconnected {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The system refused access to the port.
    #[error("no access to {path}")]
    PermissionDenied {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Another program holds the port (it is busy, or locked).
    #[error("{path} is in use by another program")]
    InUse {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The port could not be opened for another reason.
    #[error("cannot open {path}")]
    Open {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Reading, writing or flushing failed for another reason.
    #[error("{operation} on {path} failed")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

/// A byte transport to one module.
pub trait Link: Send {
    /// Reads what has arrived into `buf`, waiting up to `timeout` for the first byte; `Ok(0)` if
    /// nothing came in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError>;

    /// Writes all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError>;

    /// Drops whatever has arrived but not been read.
    fn discard_input(&mut self) -> Result<(), LinkError>;
}

/// A module on a serial port (or one end of a pseudo-terminal).
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
    /// Opens `path` at `baud_rate`, 8 data bits, no parity, one stop bit, no flow control, for this
    /// process alone.
    pub fn open(path: &str, baud_rate: u32) -> Result<SerialLink, LinkError> {
        let port = serialport::new(path, baud_rate)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(WRITE_TIMEOUT)
            .open()
            .map_err(|error| classify_open(path, error))?;
        Ok(SerialLink { port, path: path.to_owned() })
    }

    /// The port's path.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Link for SerialLink {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        self.port.set_timeout(timeout).map_err(|error| classify(&self.path, "set timeout", error.into()))?;
        match self.port.read(buf) {
            Ok(n) => Ok(n),
            Err(error) if matches!(error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => Ok(0),
            Err(error) => Err(classify(&self.path, "read", error)),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.port.set_timeout(WRITE_TIMEOUT).map_err(|error| classify(&self.path, "set timeout", error.into()))?;
        io::Write::write_all(&mut self.port, bytes).map_err(|error| classify(&self.path, "write", error))
    }

    fn discard_input(&mut self) -> Result<(), LinkError> {
        self.port.clear(ClearBuffer::Input).map_err(|error| classify(&self.path, "discard input", error.into()))
    }
}

/// Sorts a failure to open `path`. `serialport` reports EBUSY and a lock held by another process as
/// `NoDevice`, which its conversion to `io::Error` would make look like a missing port.
fn classify_open(path: &str, error: serialport::Error) -> LinkError {
    if error.kind() == serialport::ErrorKind::NoDevice {
        LinkError::InUse { path: path.to_owned(), source: error.into() }
    } else {
        classify(path, "open", error.into())
    }
}

/// Sorts an I/O failure on `path` into the classes a lane acts on.
fn classify(path: &str, operation: &'static str, source: io::Error) -> LinkError {
    let path = path.to_owned();
    if source.kind() == io::ErrorKind::PermissionDenied {
        LinkError::PermissionDenied { path, source }
    } else if is_gone(&source) {
        LinkError::Disconnected { path, source }
    } else if operation == "open" {
        LinkError::Open { path, source }
    } else {
        LinkError::Io { operation, path, source }
    }
}

/// Whether an error means the device (or the other end of a pseudo-terminal) went away.
///
/// `serialport` passes ENOENT on as `NotFound` and a hang-up seen by poll as `BrokenPipe`, but turns
/// EIO, ENXIO and ENODEV into `Other` errors that keep only the system's description, so those
/// are recognised by their text.
pub(crate) fn is_gone(error: &io::Error) -> bool {
    use io::ErrorKind as K;
    match error.kind() {
        K::NotFound | K::BrokenPipe | K::NotConnected | K::ConnectionReset | K::ConnectionAborted => true,
        K::UnexpectedEof => true,
        K::Other => gone_text(&error.to_string()),
        _ => false,
    }
}

/// EIO ("I/O error", "Input/output error"), ENXIO ("No such device or address"), ENODEV ("No such device").
fn gone_text(text: &str) -> bool {
    ["I/O error", "Input/output error", "No such device"].iter().any(|gone| text.contains(gone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_disappearance_from_other_failures() {
        assert!(is_gone(&io::Error::new(io::ErrorKind::BrokenPipe, "Broken pipe")));
        assert!(is_gone(&io::Error::new(io::ErrorKind::NotFound, "No such file or directory")));
        assert!(is_gone(&io::Error::other("I/O error")));
        assert!(is_gone(&io::Error::other("No such device or address")));
        assert!(!is_gone(&io::Error::other("Settings did not apply correctly")));
        assert!(!is_gone(&io::Error::new(io::ErrorKind::TimedOut, "Operation timed out")));
    }

    #[test]
    fn a_missing_port_is_disconnected_and_names_its_path() {
        let err = SerialLink::open("/dev/tally-no-such-port", DEFAULT_BAUD_RATE).unwrap_err();
        assert!(matches!(&err, LinkError::Disconnected { path, .. } if path == "/dev/tally-no-such-port"), "{err:?}");
    }

    #[test]
    fn a_locked_port_is_in_use_not_gone() {
        let busy =
            serialport::Error::new(serialport::ErrorKind::NoDevice, "Unable to acquire exclusive lock on serial port");
        assert!(matches!(classify_open("/dev/ttyUSB0", busy), LinkError::InUse { .. }));
    }

    #[test]
    fn a_refused_port_is_permission_denied() {
        let err = classify("/dev/ttyS9", "open", io::Error::new(io::ErrorKind::PermissionDenied, "Permission denied"));
        assert!(matches!(err, LinkError::PermissionDenied { .. }));
    }
}
