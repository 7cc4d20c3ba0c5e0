//! One lane's reader, kept open: [`ReaderSupervisor`] runs the reader on a thread of its own, sends
//! every image and every change of health as a [`ReaderEvent`], and when the reader fails in a way
//! that needs it reopened (unplugged, a port gone, a protocol fault) closes it, reports it lost, and
//! tries again — every [`SupervisorConfig::retry`], or at once when hotplug says the device is back
//! ([`ReaderSupervisor::nudge`]). A reader that returns is in use again within one retry interval
//! (500 ms by default), well inside the 2 s a guard will wait before calling for help.
//!
//! A failed capture that the next touch may fix (smudge, short frame) is reported and the reader
//! stays open. The supervisor never decides anything about people; it only delivers images.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use tally_device::{Image, Reader, ReaderError, ReaderInfo};
use tracing::{info, warn};

/// Opens the reader a lane is configured for (a USB port, a serial path), with the right driver.
pub trait Opener: Send + 'static {
    /// What is being opened, for messages ("usb 1-2 (05ba:000a)", "/dev/tally/serial-…").
    fn describe(&self) -> String;
    /// Opens it; [`ReaderError::Disconnected`] (or any error) when it is not there.
    fn open(&mut self) -> Result<Box<dyn Reader>, ReaderError>;
}

/// What a supervised reader reports.
#[derive(Debug)]
pub enum ReaderEvent {
    /// The reader is open and waiting for fingers.
    Connected(ReaderInfo),
    /// A finger's image.
    Image(Image),
    /// One capture failed; the reader stays open. The text is for the guard screen.
    CaptureFailed(String),
    /// The reader was open and is not any more (unplugged, faulty); the supervisor keeps trying.
    Lost(String),
    /// The reader could not be opened at all since the supervisor started (reported once).
    Unavailable(String),
}

/// Timing of a supervisor.
#[derive(Debug, Clone, Copy)]
pub struct SupervisorConfig {
    /// How long between attempts to open a missing reader.
    pub retry: Duration,
    /// How long one capture call waits for a finger before checking for shutdown.
    pub capture_wait: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig { retry: Duration::from_millis(500), capture_wait: Duration::from_millis(250) }
    }
}

/// Nudges one supervisor (see [`ReaderSupervisor::nudge`]).
#[derive(Debug, Clone)]
pub struct Nudger(Sender<()>);

impl Nudger {
    /// Asks the supervisor to try its reader now.
    pub fn nudge(&self) {
        let _ = self.0.send(());
    }
}

/// A running supervisor. Dropping it stops the thread (and closes the reader).
#[derive(Debug)]
pub struct ReaderSupervisor {
    stop: Arc<AtomicBool>,
    nudge: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl ReaderSupervisor {
    /// Starts supervising the reader `opener` opens; events go to `events`.
    pub fn start(opener: impl Opener, events: Sender<ReaderEvent>, config: SupervisorConfig) -> ReaderSupervisor {
        let stop = Arc::new(AtomicBool::new(false));
        let (nudge, nudged) = channel();
        let worker = Worker { opener, events, config, stop: stop.clone(), nudged };
        let thread = std::thread::Builder::new()
            .name("reader".into())
            .spawn(move || worker.run())
            .map_err(|e| warn!(cause = %e, "cannot start a reader thread"))
            .ok();
        ReaderSupervisor { stop, nudge, thread }
    }

    /// Tells the supervisor its device may be back (a hotplug arrival): try to open it now.
    pub fn nudge(&self) {
        let _ = self.nudge.send(());
    }

    /// A handle that nudges this supervisor from elsewhere (the hotplug watcher).
    pub fn nudger(&self) -> Nudger {
        Nudger(self.nudge.clone())
    }

    /// Stops the thread and waits for it (at most one capture wait).
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.nudge.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ReaderSupervisor {
    fn drop(&mut self) {
        self.shut_down();
    }
}

struct Worker<O> {
    opener: O,
    events: Sender<ReaderEvent>,
    config: SupervisorConfig,
    stop: Arc<AtomicBool>,
    nudged: Receiver<()>,
}

impl<O: Opener> Worker<O> {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn send(&self, event: ReaderEvent) -> bool {
        self.events.send(event).is_ok()
    }

    fn run(mut self) {
        let mut reported_unavailable = false;
        while !self.stopping() {
            match self.opener.open() {
                Ok(reader) => {
                    reported_unavailable = false;
                    info!(reader = %reader.info().address, model = %reader.info().model, "reader ready");
                    if !self.send(ReaderEvent::Connected(reader.info().clone())) {
                        return;
                    }
                    if !self.serve(reader) {
                        return;
                    }
                    // Lost: try again at once, then at the retry pace.
                    continue;
                }
                Err(e) => {
                    if !reported_unavailable {
                        warn!(reader = %self.opener.describe(), cause = %e, "reader unavailable; retrying");
                        reported_unavailable = true;
                        if !self.send(ReaderEvent::Unavailable(e.to_string())) {
                            return;
                        }
                    }
                }
            }
            match self.nudged.recv_timeout(self.config.retry) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Captures until the reader fails for good or the supervisor stops; `false` if nobody listens
    /// any more.
    fn serve(&mut self, mut reader: Box<dyn Reader>) -> bool {
        loop {
            if self.stopping() {
                let _ = reader.close();
                return true;
            }
            match reader.capture(self.config.capture_wait) {
                Ok(Some(image)) => {
                    if !self.send(ReaderEvent::Image(image)) {
                        let _ = reader.close();
                        return false;
                    }
                }
                Ok(None) => {}
                Err(e) if !e.needs_reopen() => {
                    if !self.send(ReaderEvent::CaptureFailed(e.to_string())) {
                        return false;
                    }
                }
                Err(e) => {
                    warn!(reader = %reader.info().address, cause = %e, "reader lost; will reopen");
                    let _ = reader.close();
                    return self.send(ReaderEvent::Lost(e.to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Instant;
    use tally_device::{DeviceAddress, Feedback};

    /// A device that can be unplugged and plugged back from the test.
    #[derive(Clone, Default)]
    struct Socket(Arc<Mutex<bool>>);

    struct FakeReader {
        info: ReaderInfo,
        socket: Socket,
        captures: u8,
    }

    impl Reader for FakeReader {
        fn info(&self) -> &ReaderInfo {
            &self.info
        }
        fn capture(&mut self, timeout: Duration) -> Result<Option<Image>, ReaderError> {
            std::thread::sleep(timeout.min(Duration::from_millis(10)));
            if !*self.socket.0.lock().unwrap() {
                return Err(ReaderError::Disconnected);
            }
            self.captures = self.captures.wrapping_add(1);
            match self.captures {
                2 => Err(ReaderError::CaptureFailed("smudge".into())),
                n if n % 3 == 0 => Ok(Some(Image::new(2, 2, 500, vec![n; 4]).unwrap())),
                _ => Ok(None),
            }
        }
        fn feedback(&mut self, _: Feedback) -> Result<(), ReaderError> {
            Ok(())
        }
        fn close(self: Box<Self>) -> Result<(), ReaderError> {
            Ok(())
        }
    }

    struct FakeOpener(Socket);

    impl Opener for FakeOpener {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn open(&mut self) -> Result<Box<dyn Reader>, ReaderError> {
            if !*self.0.0.lock().unwrap() {
                return Err(ReaderError::Disconnected);
            }
            let info = ReaderInfo {
                model: "fake".into(),
                address: DeviceAddress::Simulated("fake".into()),
                has_feedback: false,
            };
            Ok(Box::new(FakeReader { info, socket: self.0.clone(), captures: 0 }))
        }
    }

    fn next(events: &Receiver<ReaderEvent>) -> ReaderEvent {
        events.recv_timeout(Duration::from_secs(5)).expect("an event within 5 s")
    }

    #[test]
    fn a_reader_unplugged_and_back_is_reported_and_reopened() {
        let socket = Socket::default();
        let (tx, rx) = channel();
        let config = SupervisorConfig { retry: Duration::from_millis(500), capture_wait: Duration::from_millis(20) };
        let supervisor = ReaderSupervisor::start(FakeOpener(socket.clone()), tx, config);
        assert!(matches!(next(&rx), ReaderEvent::Unavailable(_)));

        *socket.0.lock().unwrap() = true;
        assert!(matches!(next(&rx), ReaderEvent::Connected(_)));
        assert!(matches!(next(&rx), ReaderEvent::CaptureFailed(m) if m.contains("smudge")));
        assert!(matches!(next(&rx), ReaderEvent::Image(_)));

        *socket.0.lock().unwrap() = false;
        loop {
            match next(&rx) {
                ReaderEvent::Lost(m) => {
                    assert!(m.contains("disconnected"), "{m}");
                    break;
                }
                ReaderEvent::Image(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_millis(700));
        let back = Instant::now();
        *socket.0.lock().unwrap() = true;
        // Still unavailable after the loss: reported once, not again (Unavailable only before the first open).
        let event = next(&rx);
        assert!(matches!(event, ReaderEvent::Unavailable(_) | ReaderEvent::Connected(_)), "{event:?}");
        if !matches!(event, ReaderEvent::Connected(_)) {
            assert!(matches!(next(&rx), ReaderEvent::Connected(_)));
        }
        assert!(back.elapsed() < Duration::from_secs(2), "reopened after {:?}", back.elapsed());
        supervisor.stop();
    }

    #[test]
    fn a_nudge_reopens_at_once() {
        let socket = Socket::default();
        let (tx, rx) = channel();
        let config = SupervisorConfig { retry: Duration::from_secs(60), capture_wait: Duration::from_millis(20) };
        let supervisor = ReaderSupervisor::start(FakeOpener(socket.clone()), tx, config);
        assert!(matches!(next(&rx), ReaderEvent::Unavailable(_)));
        *socket.0.lock().unwrap() = true;
        let plugged = Instant::now();
        supervisor.nudge();
        assert!(matches!(next(&rx), ReaderEvent::Connected(_)));
        assert!(plugged.elapsed() < Duration::from_secs(1));
        drop(supervisor);
    }
}
