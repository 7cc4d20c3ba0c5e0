//! [`Port`]: one open serial port (a USB serial adapter, an on-board UART, or the end of a
//! pseudo-terminal), as a driver uses it: read with a timeout, write whole messages, drain, drop
//! pending input.
//!
//! This module owns the line settings (8 data bits, no parity, one stop bit, no flow control, this
//! process alone) and the timeouts of a single read or write. It does not own framing, retries or
//! per-command timing (the drivers' `Link` implementations and protocol logic do), and it does not
//! sort failures itself (`error`).

use std::io;
use std::time::Duration;

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, StopBits};

use crate::error::{SerialError, classify, classify_open};

/// How long a write may wait for the port to accept bytes, unless [`Port::with_write_timeout`] says otherwise.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// An open serial port.
pub struct Port {
    port: Box<dyn serialport::SerialPort>,
    name: String,
    write_timeout: Duration,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Port {
    /// Opens `path` at `baud_rate`, 8 data bits, no parity, one stop bit, no flow control, for this
    /// process alone.
    pub fn open(path: &str, baud_rate: u32) -> Result<Port, SerialError> {
        let port = serialport::new(path, baud_rate)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(DEFAULT_WRITE_TIMEOUT)
            .open()
            .map_err(|error| classify_open(path, error))?;
        Ok(Port::from_boxed(port, path))
    }

    /// A port opened elsewhere (the master end of a pseudo-terminal), called `name` in errors.
    pub(crate) fn from_boxed(port: Box<dyn serialport::SerialPort>, name: impl Into<String>) -> Port {
        Port { port, name: name.into(), write_timeout: DEFAULT_WRITE_TIMEOUT }
    }

    /// The same port, with writes waiting up to `timeout` for it to accept bytes.
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: Duration) -> Port {
        self.write_timeout = timeout;
        self
    }

    /// The port's name: the path it was opened by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads what has arrived into `buf`, waiting up to `timeout` for the first byte; `Ok(0)` if
    /// nothing came in time.
    pub fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, SerialError> {
        self.port.set_timeout(timeout).map_err(|error| classify(&self.name, "set timeout", error.into()))?;
        match self.port.read(buf) {
            Ok(n) => Ok(n),
            Err(error) if matches!(error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => Ok(0),
            Err(error) => Err(classify(&self.name, "read", error)),
        }
    }

    /// Writes all of `bytes`, each write waiting up to the write timeout for the port.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), SerialError> {
        self.port.set_timeout(self.write_timeout).map_err(|error| classify(&self.name, "set timeout", error.into()))?;
        io::Write::write_all(&mut self.port, bytes).map_err(|error| classify(&self.name, "write", error))
    }

    /// Waits until what was written has gone out on the line.
    pub fn flush(&mut self) -> Result<(), SerialError> {
        io::Write::flush(&mut self.port).map_err(|error| classify(&self.name, "flush", error))
    }

    /// Changes the line speed (after a device was told to change its own, e.g. OSDP's COMSET).
    pub fn set_baud_rate(&mut self, baud_rate: u32) -> Result<(), SerialError> {
        self.port.set_baud_rate(baud_rate).map_err(|error| classify(&self.name, "set the baud rate", error.into()))
    }

    /// Drops whatever has arrived but not been read.
    pub fn discard_input(&mut self) -> Result<(), SerialError> {
        self.port.clear(ClearBuffer::Input).map_err(|error| classify(&self.name, "discard input", error.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty;

    #[test]
    fn a_missing_port_is_disconnected_and_names_its_path() {
        let err = Port::open("/dev/tally-no-such-port", 9600).unwrap_err();
        assert!(matches!(&err, SerialError::Disconnected { path, .. } if path == "/dev/tally-no-such-port"), "{err:?}");
    }

    #[test]
    fn reads_writes_and_times_out_on_a_pseudo_terminal() {
        let (master, slave) = pty::pair().expect("a pseudo-terminal pair");
        let mut host = Port::open(slave.path(), 57_600).expect("the slave end opens");
        assert_eq!(host.name(), slave.path());
        let mut device = master.into_port("master");
        let mut buf = [0u8; 16];
        assert_eq!(host.read(&mut buf, Duration::from_millis(20)).expect("a quiet line is no error"), 0);

        device.write_all(b"ping").expect("the master writes");
        device.flush().expect("the master drains");
        let n = host.read(&mut buf, Duration::from_secs(2)).expect("the slave reads");
        assert_eq!(&buf[..n], b"ping");

        host.write_all(b"pong").expect("the slave writes");
        let n = device.read(&mut buf, Duration::from_secs(2)).expect("the master reads");
        assert_eq!(&buf[..n], b"pong");

        device.write_all(b"stale").expect("the master writes");
        std::thread::sleep(Duration::from_millis(50));
        host.discard_input().expect("pending input is dropped");
        assert_eq!(host.read(&mut buf, Duration::from_millis(20)).expect("nothing left"), 0);
    }
}
