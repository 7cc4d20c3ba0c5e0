//! A pseudo-terminal with the emulator on its master end, and a driver configuration for its slave end.

use std::thread::{self, JoinHandle};
use std::time::Duration;

use tally_grow::Config;
use tally_grow::emulator::{Emulator, EmulatorConfig, EmulatorError};
use tally_serial::pty::{self, PtySlave};

/// An emulated module on a pseudo-terminal.
pub struct Rig {
    pub emulator: Emulator,
    /// The slave end's path, which the driver (or a host library) opens.
    pub path: String,
    /// Held open for the rig's life so the master never sees the slave side closed between openers.
    _slave: PtySlave,
    serving: Option<JoinHandle<Result<(), EmulatorError>>>,
}

impl Rig {
    pub fn new(config: EmulatorConfig) -> Rig {
        // The slave handle takes no lock, so the driver can open its path while it stays open.
        let (master, slave) = pty::pair().expect("a pseudo-terminal pair");
        let path = slave.path().to_owned();
        let emulator = Emulator::new(config).expect("a valid emulator configuration");
        let serving = Some(emulator.spawn(master));
        Rig { emulator, path, _slave: slave, serving }
    }

    pub fn factory() -> Rig {
        Rig::new(EmulatorConfig::default())
    }

    /// Driver settings for this rig, with short waits so failures show quickly.
    pub fn config(&self) -> Config {
        Config {
            reply_timeout: Duration::from_millis(300),
            poll_interval: Duration::from_millis(20),
            ..Config::new(self.path.clone())
        }
    }

    /// Hangs the emulator up and waits until it has closed the master end.
    pub fn close_master(&mut self) {
        self.emulator.hang_up();
        if let Some(serving) = self.serving.take() {
            serving.join().expect("the emulator thread panicked").expect("the emulator failed");
        }
    }

    /// Lifts the finger after `lift`, and puts it back `replace` later, on another thread.
    pub fn retouch_after(&self, lift: Duration, replace: Duration) -> JoinHandle<()> {
        let emulator = self.emulator.clone();
        thread::spawn(move || {
            thread::sleep(lift);
            emulator.lift_finger();
            thread::sleep(replace);
            emulator.place_finger();
        })
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.emulator.hang_up();
        if let Some(serving) = self.serving.take() {
            let _ = serving.join();
        }
    }
}

/// An image using every grey level, so quantisation is visible: pixel (x, y) = (x + 3y) mod 256.
pub fn every_grey() -> Vec<u8> {
    (0..288usize).flat_map(|y| (0..256usize).map(move |x| ((x + 3 * y) % 256) as u8)).collect()
}
