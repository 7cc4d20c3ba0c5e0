//! Pseudo-terminal pairs for emulators: [`pair`] gives the master end, which an emulator serves as
//! a byte stream with a read timeout, and the slave end, whose path a driver (or a host library in
//! Python) opens as it would a USB serial adapter.
//!
//! This module owns making the pair and keeping the slave open for as long as [`PtySlave`] lives,
//! so the master does not see the line close between openers. What is served on the master (a
//! fingerprint module, OSDP PDs) belongs to the driver crates' emulators.

use std::io::{self, Read, Write};
use std::time::Duration;

use serialport::{SerialPort as _, TTYPort};

use crate::port::Port;

/// Creates a pseudo-terminal pair. The master's read timeout starts at 100 ms.
pub fn pair() -> io::Result<(PtyMaster, PtySlave)> {
    let (master, slave) = TTYPort::pair()?;
    let path = slave.name().ok_or_else(|| io::Error::other("the pseudo-terminal has no name"))?;
    Ok((PtyMaster { port: master }, PtySlave { path, _port: slave }))
}

/// The master end: what the emulator reads and writes. A read that waits longer than the timeout
/// fails with [`io::ErrorKind::TimedOut`], so a server can look at its stop flag while the line is quiet.
#[derive(Debug)]
pub struct PtyMaster {
    port: TTYPort,
}

impl PtyMaster {
    /// Sets how long a read waits for the first byte.
    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.port.set_timeout(timeout).map_err(io::Error::from)
    }

    /// The master end as a [`Port`] called `name`, for a driver that runs on it directly.
    pub fn into_port(self, name: impl Into<String>) -> Port {
        Port::from_boxed(Box::new(self.port), name)
    }
}

impl Read for PtyMaster {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.port.read(buf)
    }
}

impl Write for PtyMaster {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.port.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.port.flush()
    }
}

/// The slave end, held open while this lives.
#[derive(Debug)]
pub struct PtySlave {
    path: String,
    // Held open so the master does not see the line close between openers. It takes no lock, so
    // a driver can open the path while it stays open.
    _port: TTYPort,
}

impl PtySlave {
    /// The path a host opens (e.g. /dev/pts/7).
    pub fn path(&self) -> &str {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_times_out_on_a_quiet_line() {
        let (mut master, slave) = pair().expect("a pseudo-terminal pair");
        assert!(slave.path().starts_with("/dev/"), "{slave:?}");
        master.set_timeout(Duration::from_millis(10)).expect("the timeout is set");
        let err = master.read(&mut [0u8; 4]).expect_err("nothing was written");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
