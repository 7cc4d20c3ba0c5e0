//! A reader with no hardware: images handed to a [`Finger`] come out of the reader as captures. For
//! tests of whole lanes and for `tally demo`, where the images are synthetic fingerprints.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tally_device::{DeviceAddress, Feedback, Image, Reader, ReaderError, ReaderInfo};

use super::reader::Opener;

#[derive(Default)]
struct Touches {
    queue: Mutex<VecDeque<Image>>,
    ready: Condvar,
}

/// Puts fingers on a simulated reader.
#[derive(Clone)]
pub struct Finger(Arc<Touches>);

impl std::fmt::Debug for Finger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Finger")
    }
}

impl Finger {
    /// One touch: the reader captures `image` next.
    pub fn touch(&self, image: Image) {
        if let Ok(mut queue) = self.0.queue.lock() {
            queue.push_back(image);
            self.0.ready.notify_all();
        }
    }
}

/// Opens the simulated reader named `name`.
#[derive(Debug, Clone)]
pub struct SimulatedOpener {
    name: String,
    finger: Finger,
}

/// A simulated reader and the finger that touches it.
pub fn simulated_reader(name: &str) -> (SimulatedOpener, Finger) {
    let finger = Finger(Arc::default());
    (SimulatedOpener { name: name.to_string(), finger: finger.clone() }, finger)
}

impl Opener for SimulatedOpener {
    fn describe(&self) -> String {
        format!("simulated reader {}", self.name)
    }

    fn open(&mut self) -> Result<Box<dyn Reader>, ReaderError> {
        let info = ReaderInfo {
            model: "simulated reader".into(),
            address: DeviceAddress::Simulated(self.name.clone()),
            has_feedback: false,
        };
        Ok(Box::new(SimulatedReader { info, touches: self.finger.0.clone() }))
    }
}

struct SimulatedReader {
    info: ReaderInfo,
    touches: Arc<Touches>,
}

impl Reader for SimulatedReader {
    fn info(&self) -> &ReaderInfo {
        &self.info
    }

    fn capture(&mut self, timeout: Duration) -> Result<Option<Image>, ReaderError> {
        let deadline = Instant::now() + timeout;
        let mut queue = self.touches.queue.lock().map_err(|_| ReaderError::Protocol("poisoned".into()))?;
        loop {
            if let Some(image) = queue.pop_front() {
                return Ok(Some(image));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            queue =
                self.touches.ready.wait_timeout(queue, left).map_err(|_| ReaderError::Protocol("poisoned".into()))?.0;
        }
    }

    fn feedback(&mut self, _: Feedback) -> Result<(), ReaderError> {
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<(), ReaderError> {
        Ok(())
    }
}
