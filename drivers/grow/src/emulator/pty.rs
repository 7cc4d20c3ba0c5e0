//! An emulated module on a pseudo-terminal: the emulator serves the master end, and anything that
//! opens the slave's path — our driver through its serial link, a host library in Python — talks to
//! it as to a module on a USB serial adapter. For integration tests and for `tally demo`. The
//! pseudo-terminal itself comes from `tally-serial`.

use std::thread::JoinHandle;

use tally_serial::pty::{self, PtySlave};

use super::{Emulator, EmulatorConfig, EmulatorError};

/// A module on a pseudo-terminal. Dropping it hangs up the line.
pub struct PtyModule {
    /// The module; place and lift the finger, inject faults.
    pub emulator: Emulator,
    // Held open for the module's life, so the master does not see the line close between openers.
    slave: PtySlave,
    serving: Option<JoinHandle<Result<(), EmulatorError>>>,
}

impl std::fmt::Debug for PtyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtyModule").field("path", &self.path()).field("emulator", &self.emulator).finish()
    }
}

/// Why a pseudo-terminal could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    /// The emulator refused its configuration.
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// The system gave no pseudo-terminal.
    #[error("cannot create a pseudo-terminal")]
    Pty(#[source] std::io::Error),
}

impl PtyModule {
    /// Creates the pseudo-terminal and starts serving on it.
    pub fn start(config: EmulatorConfig) -> Result<PtyModule, PtyError> {
        let emulator = Emulator::new(config)?;
        let (master, slave) = pty::pair().map_err(PtyError::Pty)?;
        let serving = Some(emulator.spawn(master));
        Ok(PtyModule { emulator, slave, serving })
    }

    /// The path a host opens (the slave end, e.g. /dev/pts/7).
    pub fn path(&self) -> &str {
        self.slave.path()
    }

    /// Hangs up the line, as an adapter pulled out does, and waits for the emulator to stop.
    pub fn hang_up(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.emulator.hang_up();
        if let Some(serving) = self.serving.take() {
            let _ = serving.join();
        }
    }
}

impl Drop for PtyModule {
    fn drop(&mut self) {
        self.stop();
    }
}
