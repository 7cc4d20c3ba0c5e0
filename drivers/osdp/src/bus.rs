//! The thread that runs an [`Acu`] on a [`Link`], and the [`OsdpTurnstile`] handles the service
//! holds, one per PD.
//!
//! [`OsdpBus::start`] opens the port, starts the thread and hands back a channel of
//! `(address, TurnstileEvent)`; a handle's `pulse` and `signal` queue OUT / LED / BUZ on the thread
//! and block until the PD acknowledges, refuses, or goes offline, or until `confirm_within`
//! passes. The thread stops when the bus is dropped. This module owns the clock and the port's
//! read loop; the protocol is the ACU's, and what events mean is the lane's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tally_device::{Signal, Turnstile, TurnstileError, TurnstileEvent, TurnstileInfo};

use crate::acu::{Acu, AcuConfig, AcuEvent, PdConfig, PdStatus, Ticket};
use crate::error::{OsdpError, Outcome};
use crate::link::{DEFAULT_BAUD_RATE, Link, SerialLink};
use crate::message::{BuzzerRecord, Command, LedRecord, OutputRecord};
use crate::random::{Random, SystemRng};

/// The longest the thread waits on the port before looking at requests again.
const READ_SLICE: Duration = Duration::from_millis(5);
/// How often a bus whose port is gone (adapter unplugged, never plugged in) tries to open it again.
pub const REOPEN_INTERVAL: Duration = Duration::from_secs(1);

/// Opens the bus's port again after it went away.
type Reopen = Box<dyn FnMut() -> Result<Box<dyn Link>, crate::link::LinkError> + Send>;

/// Everything needed to run one bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// The serial port, e.g. /dev/tally/serial-….
    pub port: String,
    /// Baud rate (OSDP default 9600).
    pub baud_rate: u32,
    /// The PDs on the bus.
    pub pds: Vec<PdConfig>,
    /// Timing rules (defaults: 200 ms reply, 8 s offline).
    pub timing: AcuConfig,
    /// How long `pulse` and `signal` wait for the PD's answer.
    pub confirm_within: Duration,
}

impl BusConfig {
    /// A bus on `port` at 9600 baud with the standard timing.
    pub fn new(port: impl Into<String>, pds: Vec<PdConfig>) -> BusConfig {
        BusConfig {
            port: port.into(),
            baud_rate: DEFAULT_BAUD_RATE,
            pds,
            timing: AcuConfig::default(),
            confirm_within: Duration::from_secs(3),
        }
    }
}

struct Request {
    address: u8,
    command: Command,
    done: Sender<Outcome>,
}

/// A running bus. Dropping it stops the thread.
pub struct OsdpBus {
    requests: Sender<Request>,
    status: Arc<Mutex<HashMap<u8, PdStatus>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    name: String,
    confirm_within: Duration,
}

impl std::fmt::Debug for OsdpBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsdpBus").field("name", &self.name).finish_non_exhaustive()
    }
}

impl OsdpBus {
    /// Opens the port and starts polling; RND.A from the system's cryptographic RNG.
    pub fn start(config: BusConfig) -> Result<(OsdpBus, Receiver<(u8, TurnstileEvent)>), OsdpError> {
        let link = SerialLink::open(&config.port, config.baud_rate)?;
        OsdpBus::start_on(Box::new(link), config, Box::new(SystemRng::new()))
    }

    /// Like [`OsdpBus::start`], but a port that is missing now, or disappears later (an adapter
    /// unplugged), does not stop the bus: it tries to open it again every [`REOPEN_INTERVAL`],
    /// and its PDs are reported offline meanwhile (after the 8 s rule). For the service, whose lanes
    /// must come back by themselves.
    pub fn start_resilient(config: BusConfig) -> Result<(OsdpBus, Receiver<(u8, TurnstileEvent)>), OsdpError> {
        let (port, baud) = (config.port.clone(), config.baud_rate);
        let mut reopen: Reopen = Box::new(move || Ok(Box::new(SerialLink::open(&port, baud)?) as Box<dyn Link>));
        let (link, missing) = match reopen() {
            Ok(link) => (Some(link), None),
            Err(err) => {
                tracing::error!(port = %config.port, cause = %err, "cannot open the OSDP bus; retrying");
                (None, Some(err.to_string()))
            }
        };
        let name = config.port.clone();
        OsdpBus::spawn(link, missing, Some(reopen), name, config, Box::new(SystemRng::new()))
    }

    /// Starts polling on an open link (`config.port` and `baud_rate` are not used).
    pub fn start_on(
        link: Box<dyn Link>,
        config: BusConfig,
        rng: Box<dyn Random>,
    ) -> Result<(OsdpBus, Receiver<(u8, TurnstileEvent)>), OsdpError> {
        let name = link.name();
        OsdpBus::spawn(Some(link), None, None, name, config, rng)
    }

    fn spawn(
        mut link: Option<Box<dyn Link>>,
        missing: Option<String>,
        mut reopen: Option<Reopen>,
        name: String,
        config: BusConfig,
        rng: Box<dyn Random>,
    ) -> Result<(OsdpBus, Receiver<(u8, TurnstileEvent)>), OsdpError> {
        let mut acu = Acu::new(config.timing.clone(), config.pds.clone(), rng, Instant::now())?;
        let (requests, incoming) = mpsc::channel::<Request>();
        let (events, received) = mpsc::channel();
        let status = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (status, stop, port) = (status.clone(), stop.clone(), name.clone());
            thread::Builder::new()
                .name(format!("osdp {name}"))
                .spawn(move || {
                    let mut line = Line {
                        link: link.take(),
                        reopen: reopen.take(),
                        port,
                        failed: false,
                        next_try: Instant::now(),
                        missing,
                    };
                    run(&mut acu, &mut line, &incoming, &events, &status, &stop);
                })
                .map_err(|source| OsdpError::Config(format!("cannot start the bus thread: {source}")))?
        };
        let bus = OsdpBus { requests, status, stop, thread: Some(thread), name, confirm_within: config.confirm_within };
        Ok((bus, received))
    }

    /// A handle on the PD at `address`.
    pub fn turnstile(&self, address: u8) -> Result<OsdpTurnstile, OsdpError> {
        if !self.status.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&address) {
            // The thread fills the map on its first round; wait for it briefly.
            let until = Instant::now() + Duration::from_millis(500);
            while Instant::now() < until && self.status.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                thread::sleep(Duration::from_millis(2));
            }
            if !self.status.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&address) {
                return Err(OsdpError::UnknownAddress(address));
            }
        }
        Ok(OsdpTurnstile {
            address,
            port: self.name.clone(),
            requests: self.requests.clone(),
            status: self.status.clone(),
            confirm_within: self.confirm_within,
        })
    }

    /// Gives the PD at `address` a new address and line speed (osdp_COMSET), for installers: the PD
    /// answers at `new_address` once it has confirmed, and the bus switches to `baud`. On a bus with
    /// other PDs, they must be told the same speed.
    pub fn set_communication(&self, address: u8, new_address: u8, baud: u32) -> Result<(), TurnstileError> {
        let handle = self.turnstile(address).map_err(|e| TurnstileError::Refused(e.to_string()))?;
        handle.send(Command::ComSet { address: new_address, baud })
    }

    /// What is known of the PD at `address`.
    pub fn status(&self, address: u8) -> Option<PdStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).get(&address).cloned()
    }
}

impl Drop for OsdpBus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The bus's port: open, or gone and being reopened.
struct Line {
    link: Option<Box<dyn Link>>,
    reopen: Option<Reopen>,
    port: String,
    /// A failure has been logged and not yet followed by a success.
    failed: bool,
    /// When to try reopening a port that is gone.
    next_try: Instant,
    /// Why the port is not open, while it is not.
    missing: Option<String>,
}

impl Line {
    fn failure(&mut self, operation: &str, err: &crate::link::LinkError) {
        if !self.failed {
            tracing::error!(port = %self.port, cause = %err, operation, "the OSDP bus failed");
        }
        self.failed = true;
        if matches!(err, crate::link::LinkError::Disconnected { .. }) && self.reopen.is_some() {
            // The adapter is gone: close it, and open it again when it is back.
            self.link = None;
            self.missing = Some(err.to_string());
            self.next_try = Instant::now() + REOPEN_INTERVAL;
        }
    }

    /// Reopens a port that is gone, when it is time to try.
    fn restore(&mut self) {
        if self.link.is_some() || Instant::now() < self.next_try {
            return;
        }
        self.next_try = Instant::now() + REOPEN_INTERVAL;
        if let Some(reopen) = &mut self.reopen {
            match reopen() {
                Ok(link) => {
                    tracing::info!(port = %self.port, "the OSDP bus port is back");
                    self.link = Some(link);
                    self.missing = None;
                }
                Err(err) => {
                    tracing::debug!(port = %self.port, cause = %err, "the OSDP bus port is still gone");
                    self.missing = Some(err.to_string());
                }
            }
        }
    }
}

fn run(
    acu: &mut Acu,
    line: &mut Line,
    incoming: &Receiver<Request>,
    events: &Sender<(u8, TurnstileEvent)>,
    status: &Mutex<HashMap<u8, PdStatus>>,
    stop: &AtomicBool,
) {
    let mut waiting: HashMap<Ticket, Sender<Outcome>> = HashMap::new();
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        while let Ok(request) = incoming.try_recv() {
            match acu.submit(request.address, request.command) {
                Ok(ticket) => {
                    waiting.insert(ticket, request.done);
                }
                Err(err) => {
                    tracing::warn!(address = request.address, cause = %err, "command for an unknown PD");
                    let _ = request.done.send(Outcome::Offline);
                }
            }
        }
        line.restore();
        let now = Instant::now();
        acu.poll_timeout(now);
        // With the port gone, frames are not sent and the PDs fall silent: the 8 s rule reports them.
        if let Some(bytes) = acu.next_transmission(now)
            && let Some(link) = &mut line.link
            && let Err(err) = link.write_all(&bytes)
        {
            line.failure("write", &err);
        }
        let wait = acu.next_deadline().map_or(READ_SLICE, |d| d.saturating_duration_since(Instant::now()));
        match &mut line.link {
            Some(link) => match link.read(&mut buf, wait.min(READ_SLICE)) {
                Ok(n) => {
                    line.failed = false;
                    acu.receive(&buf[..n], Instant::now());
                }
                Err(err) => {
                    line.failure("read", &err);
                    thread::sleep(Duration::from_millis(50));
                }
            },
            None => thread::sleep(wait.min(READ_SLICE)),
        }
        while let Some(event) = acu.poll_event() {
            match event {
                AcuEvent::Pd { address, event } => {
                    // A PD silent because its port is gone: say so, it is what the installer must fix.
                    let event = match (event, &line.missing) {
                        (TurnstileEvent::Offline { reason }, Some(missing)) => {
                            TurnstileEvent::Offline { reason: format!("{reason}: {missing}") }
                        }
                        (event, _) => event,
                    };
                    let _ = events.send((address, event));
                }
                AcuEvent::Completed { ticket, outcome } => {
                    if let Some(done) = waiting.remove(&ticket) {
                        let _ = done.send(outcome);
                    }
                }
                AcuEvent::Speed { baud } => {
                    if let Some(link) = &mut line.link
                        && let Err(err) = link.set_baud_rate(baud)
                    {
                        line.failure("set the baud rate", &err);
                    }
                }
            }
        }
        let snapshot: HashMap<u8, PdStatus> =
            acu.addresses().into_iter().filter_map(|a| acu.status(a).map(|s| (a, s))).collect();
        *status.lock().unwrap_or_else(PoisonError::into_inner) = snapshot;
    }
}

/// One PD on a running bus, as a [`Turnstile`].
pub struct OsdpTurnstile {
    address: u8,
    port: String,
    requests: Sender<Request>,
    status: Arc<Mutex<HashMap<u8, PdStatus>>>,
    confirm_within: Duration,
}

impl std::fmt::Debug for OsdpTurnstile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsdpTurnstile").field("address", &self.address).field("port", &self.port).finish()
    }
}

/// LED colours of osdp_LED.
const RED: u8 = 1;
const GREEN: u8 = 2;
/// How long a decision shows, in 100 ms units.
const SHOW_FOR: u16 = 30;

impl OsdpTurnstile {
    /// Sends `command` and waits for its outcome.
    pub fn send(&self, command: Command) -> Result<(), TurnstileError> {
        let started = Instant::now();
        let (done, outcome) = mpsc::channel();
        self.requests.send(Request { address: self.address, command, done }).map_err(|source| {
            TurnstileError::Transport { context: "the OSDP bus has stopped".into(), source: Box::new(source) }
        })?;
        match outcome.recv_timeout(self.confirm_within) {
            Ok(outcome) => outcome.into_result(started.elapsed()),
            Err(RecvTimeoutError::Timeout) => Err(TurnstileError::Unconfirmed(self.confirm_within)),
            Err(RecvTimeoutError::Disconnected) => Err(TurnstileError::Transport {
                context: "the OSDP bus has stopped".into(),
                source: Box::new(OsdpError::Stopped),
            }),
        }
    }

    /// What the PD has reported about itself.
    pub fn status(&self) -> Option<PdStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).get(&self.address).cloned()
    }

    /// Whether the PD declared capability `function` (or declared none at all).
    fn can(&self, function: u8) -> bool {
        self.status().is_none_or(|s| s.capabilities.is_empty() || s.capabilities.iter().any(|c| c.function == function))
    }
}

impl Turnstile for OsdpTurnstile {
    fn info(&self) -> TurnstileInfo {
        TurnstileInfo {
            name: format!("OSDP {} on {}", self.address, self.port),
            identity: self.status().and_then(|s| s.identity).map(|id| id.to_string()),
        }
    }

    fn pulse(&mut self, output: u8, duration: Duration) -> Result<(), TurnstileError> {
        let tenths = duration.as_millis().div_ceil(100).clamp(1, u128::from(u16::MAX));
        let timer = u16::try_from(tenths).unwrap_or(u16::MAX);
        self.send(Command::Output(vec![OutputRecord { output, code: OutputRecord::TEMPORARY_ON, timer }]))
    }

    fn signal(&mut self, signal: Signal) -> Result<(), TurnstileError> {
        let led = match signal {
            Signal::Granted => LedRecord {
                temp_code: 2,
                temp_on: 10,
                temp_on_color: GREEN,
                temp_timer: SHOW_FOR,
                ..LedRecord::default()
            },
            Signal::Denied => LedRecord {
                temp_code: 2,
                temp_on: 10,
                temp_on_color: RED,
                temp_timer: SHOW_FOR,
                ..LedRecord::default()
            },
            // Cancel the temporary state: back to the permanent one.
            Signal::Idle => LedRecord { temp_code: 1, ..LedRecord::default() },
        };
        if self.can(4) {
            self.send(Command::Led(vec![led]))?;
        }
        if signal == Signal::Denied && self.can(5) {
            self.send(Command::Buzzer(BuzzerRecord { reader: 0, tone: 2, on: 5, off: 1, count: 1 }))?;
        }
        Ok(())
    }
}
