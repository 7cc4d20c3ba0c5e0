//! The byte transport under the driver: a narrow [`Link`] trait and [`SerialLink`], its
//! implementation on a [`tally_serial::Port`].
//!
//! The driver's protocol logic only reads (with a timeout) and writes bytes, so it runs against a
//! scripted link in unit tests and against [`SerialLink`] (8N1) in service. Opening the port and
//! sorting its failures into "gone", "refused", "in use" and the rest belong to `tally-serial`:
//! [`LinkError`] is its [`tally_serial::SerialError`]. This module does not own packets or timeouts
//! per command: those are the driver's.

use std::time::Duration;

use tally_serial::Port;
pub use tally_serial::SerialError as LinkError;

/// The baud rate modules ship with.
pub const DEFAULT_BAUD_RATE: u32 = 57_600;

/// How long a write may wait for the port to accept bytes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

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
#[derive(Debug)]
pub struct SerialLink {
    port: Port,
}

impl SerialLink {
    /// Opens `path` at `baud_rate`, 8 data bits, no parity, one stop bit, no flow control, for this
    /// process alone.
    pub fn open(path: &str, baud_rate: u32) -> Result<SerialLink, LinkError> {
        Ok(SerialLink { port: Port::open(path, baud_rate)?.with_write_timeout(WRITE_TIMEOUT) })
    }

    /// The port's path.
    pub fn path(&self) -> &str {
        self.port.name()
    }
}

impl Link for SerialLink {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        self.port.read(buf, timeout)
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.port.write_all(bytes)
    }

    fn discard_input(&mut self) -> Result<(), LinkError> {
        self.port.discard_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_port_is_disconnected_and_names_its_path() {
        let err = SerialLink::open("/dev/tally-no-such-port", DEFAULT_BAUD_RATE).unwrap_err();
        assert!(matches!(&err, LinkError::Disconnected { path, .. } if path == "/dev/tally-no-such-port"), "{err:?}");
    }
}
