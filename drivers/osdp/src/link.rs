//! The byte transport under the bus: a narrow [`Link`] trait and [`SerialLink`], its
//! implementation on a [`tally_serial::Port`].
//!
//! The bus reads with a short timeout and writes whole frames; tests wrap a link to inject garbage
//! or damage bytes. Opening the port (8N1, no flow control) and sorting failures into "gone",
//! "refused", "in use" and the rest belong to `tally-serial`: [`LinkError`] is its
//! [`tally_serial::SerialError`]. This module knows nothing of frames or timing rules.

use std::time::Duration;

use tally_serial::Port;
pub use tally_serial::SerialError as LinkError;

/// The baud rate OSDP devices ship with.
pub const DEFAULT_BAUD_RATE: u32 = 9600;

/// How long a write may wait for the port.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The shortest wait a read is given, so a zero timeout still polls the line once.
const MIN_READ_WAIT: Duration = Duration::from_millis(1);

/// A byte transport to the bus.
pub trait Link: Send {
    /// Reads what has arrived, waiting up to `timeout` for the first byte; `Ok(0)` if none came.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError>;

    /// Writes all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError>;

    /// What the guard screen calls it (the port's path).
    fn name(&self) -> String;

    /// Changes the line speed, after the PDs were told to (COMSET). A link without speeds (a test
    /// pipe) ignores it.
    fn set_baud_rate(&mut self, _baud_rate: u32) -> Result<(), LinkError> {
        Ok(())
    }
}

/// A bus on a serial port (a USB RS-485 adapter, or one end of a pseudo-terminal).
#[derive(Debug)]
pub struct SerialLink {
    port: Port,
}

impl SerialLink {
    /// Opens `path` at `baud_rate`, 8N1, no flow control.
    pub fn open(path: &str, baud_rate: u32) -> Result<SerialLink, LinkError> {
        Ok(SerialLink::from_port(Port::open(path, baud_rate)?))
    }

    /// A link on a port opened elsewhere (e.g. the master end of a pseudo-terminal in tests, from
    /// [`tally_serial::PtyMaster::into_port`]).
    pub fn from_port(port: Port) -> SerialLink {
        SerialLink { port: port.with_write_timeout(WRITE_TIMEOUT) }
    }
}

impl Link for SerialLink {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        self.port.read(buf, timeout.max(MIN_READ_WAIT))
    }

    /// Writes the frame and waits until it has gone out on the line.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.port.write_all(bytes)?;
        self.port.flush()
    }

    fn name(&self) -> String {
        self.port.name().to_owned()
    }

    fn set_baud_rate(&mut self, baud_rate: u32) -> Result<(), LinkError> {
        self.port.set_baud_rate(baud_rate)
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
}
