//! Simulated PDs on a pseudo-terminal: a thread serves the master end, and anything that opens the
//! slave's path — the bus through its serial link, `tally demo` — talks to them as to controllers on
//! a USB RS-485 adapter. [`SimHandle`] is how a test or the demo trips inputs and reads back outputs.
//! The pseudo-terminal itself comes from `tally-serial`.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tally_serial::pty::{self, PtyMaster, PtySlave};

use super::{PdSim, SimConfig};
use crate::error::OsdpError;
use crate::message::{BuzzerRecord, LedRecord, NakReason, OutputRecord};

/// Shared access to the simulated PDs while they are served.
#[derive(Clone)]
pub struct SimHandle(Arc<Mutex<Vec<PdSim>>>);

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimHandle(..)")
    }
}

impl SimHandle {
    /// Runs `act` on the PD at `address`; `None` if there is none.
    pub fn with<T>(&self, address: u8, act: impl FnOnce(&mut PdSim) -> T) -> Option<T> {
        let mut pds = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        pds.iter_mut().find(|pd| pd.address() == address).map(act)
    }

    /// Someone walks through: input `point` active, then inactive.
    pub fn passage(&self, address: u8, point: u8) {
        self.with(address, |pd| pd.passage(point));
    }

    /// Sets an input.
    pub fn set_input(&self, address: u8, point: u8, active: bool) {
        self.with(address, |pd| pd.set_input(point, active));
    }

    /// Opens or closes the enclosure.
    pub fn set_tamper(&self, address: u8, active: bool) {
        self.with(address, |pd| pd.set_tamper(active));
    }

    /// Fails or restores power.
    pub fn set_power_failed(&self, address: u8, failed: bool) {
        self.with(address, |pd| pd.set_power_failed(failed));
    }

    /// Stops or resumes answering.
    pub fn set_silent(&self, address: u8, silent: bool) {
        self.with(address, |pd| pd.set_silent(silent));
    }

    /// Refuses OUT/LED/BUZ with `reason`, or accepts them again.
    pub fn refuse_commands(&self, address: u8, reason: Option<NakReason>) {
        self.with(address, |pd| pd.refuse_commands(reason));
    }

    /// The OUT records the PD received.
    pub fn outputs(&self, address: u8) -> Vec<OutputRecord> {
        self.with(address, |pd| pd.outputs().to_vec()).unwrap_or_default()
    }

    /// The LED records the PD received.
    pub fn leds(&self, address: u8) -> Vec<LedRecord> {
        self.with(address, |pd| pd.leds().to_vec()).unwrap_or_default()
    }

    /// The BUZ records the PD received.
    pub fn buzzers(&self, address: u8) -> Vec<BuzzerRecord> {
        self.with(address, |pd| pd.buzzers().to_vec()).unwrap_or_default()
    }
}

/// Simulated PDs on a pseudo-terminal. Dropping it stops serving and closes the line.
pub struct PtyPd {
    /// Trip inputs, read outputs.
    pub handle: SimHandle,
    // Held open so the master does not see the line close between openers.
    slave: PtySlave,
    stop: Arc<AtomicBool>,
    serving: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PtyPd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtyPd").field("path", &self.path()).finish_non_exhaustive()
    }
}

impl PtyPd {
    /// Creates the pseudo-terminal and serves `pds` on it.
    pub fn start(pds: Vec<SimConfig>) -> Result<PtyPd, OsdpError> {
        let (mut master, slave) = pty::pair().map_err(OsdpError::Pty)?;
        master.set_timeout(Duration::from_millis(10)).map_err(OsdpError::Pty)?;
        let handle = SimHandle(Arc::new(Mutex::new(pds.into_iter().map(PdSim::new).collect())));
        let stop = Arc::new(AtomicBool::new(false));
        let serving = {
            let (handle, stop) = (handle.clone(), stop.clone());
            std::thread::Builder::new()
                .name("osdp pd simulator".into())
                .spawn(move || serve(&mut master, &handle, &stop))
                .map_err(|source| OsdpError::Config(format!("cannot start the simulator thread: {source}")))?
        };
        Ok(PtyPd { handle, slave, stop, serving: Some(serving) })
    }

    /// The path the ACU opens (the slave end).
    pub fn path(&self) -> &str {
        self.slave.path()
    }
}

fn serve(master: &mut PtyMaster, handle: &SimHandle, stop: &AtomicBool) {
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        let n = match master.read(&mut buf) {
            Ok(n) => n,
            Err(err) if matches!(err.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted) => {
                continue;
            }
            Err(err) => {
                // The slave side closed between openers (EIO on Linux): wait and look again.
                tracing::trace!(cause = %err, "simulator: read failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let reply: Vec<u8> = {
            let mut pds = handle.0.lock().unwrap_or_else(PoisonError::into_inner);
            pds.iter_mut().flat_map(|pd| pd.receive(&buf[..n])).collect()
        };
        if !reply.is_empty()
            && let Err(err) = master.write_all(&reply)
        {
            tracing::debug!(cause = %err, "simulator: write failed");
        }
    }
}

impl Drop for PtyPd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(serving) = self.serving.take() {
            let _ = serving.join();
        }
    }
}
