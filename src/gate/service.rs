//! Starts the configured lanes: one OSDP bus per serial port (several controllers may share it), one
//! reader supervisor per lane, and one lane runner per lane; stops them in order.
//!
//! A controller's secure channel key is read from its key file, which must be readable by its owner
//! only. A bus whose port is missing, or goes away (an adapter unplugged), does not stop anything:
//! the bus keeps trying to open it, its lanes run locked meanwhile (their controllers reported
//! offline by the 8 s rule, as alarms), and they work again when the adapter is back.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use tally_device::{Turnstile, TurnstileEvent};
use tally_osdp::{BusConfig, Key, OsdpBus, PdConfig};
use tracing::{error, info, warn};

use super::handle::{LaneHandle, lane_channel};
use super::lane::LaneConfig;
use super::openers::{SerialModuleOpener, UsbPortOpener, nudge_on_usb_arrival};
use super::reader::{ReaderSupervisor, SupervisorConfig};
use super::runner::{self, Decider, Identifier, LaneParts, LedgerSink};
use super::simulated::{Finger, simulated_reader};
use crate::config::{LaneSetting, ReaderSetting};

/// Why the lanes could not be started.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// A turnstile bus could not be set up (its configuration, not its port: a missing port is
    /// waited for).
    #[error("turnstile bus on {port}")]
    Bus {
        /// The bus's port.
        port: String,
        /// Why.
        #[source]
        source: tally_osdp::OsdpError,
    },
    /// A controller's key file is missing, unreadable, or readable by others.
    #[error("secure channel key {path}: {problem}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

/// The running lanes. Dropping it stops them.
#[derive(Debug)]
pub struct Gate {
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    supervisors: Vec<ReaderSupervisor>,
    buses: Vec<OsdpBus>,
    /// The simulated readers' fingers, by lane id (for `tally demo`).
    pub fingers: HashMap<String, Finger>,
    /// Each lane's status and override channel, by lane id.
    pub lanes: std::collections::BTreeMap<String, LaneHandle>,
}

impl Gate {
    /// Stops the lanes, then their readers and buses.
    pub fn stop(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for supervisor in self.supervisors.drain(..) {
            supervisor.stop();
        }
        self.buses.clear();
    }
}

/// The lane's configuration for the state machine.
pub fn lane_config(setting: &LaneSetting) -> LaneConfig {
    LaneConfig {
        id: setting.id.clone(),
        from_zone: setting.from_zone.clone(),
        to_zone: setting.to_zone.clone(),
        output: setting.output,
        pulse: setting.pulse,
        passage_input: setting.passage_input,
        passage_timeout: setting.passage_timeout,
        ledger_retry: std::time::Duration::from_secs(5),
    }
}

/// Reads a controller's key: 32 hex digits, in a file nobody but its owner may read.
fn read_key(path: &Path) -> Result<Key, GateError> {
    super::scbk::read(path).map_err(|e| GateError::KeyFile { path: path.display().to_string(), problem: e.to_string() })
}

/// The OSDP settings of `lane`'s controller: its address and key (the install key in install mode).
pub fn pd_config(lane: &LaneSetting) -> Result<PdConfig, GateError> {
    match (&lane.scbk_file, lane.install_mode) {
        (Some(file), install_mode) => {
            Ok(PdConfig { address: lane.turnstile_address, scbk: Some(read_key(file)?), install_mode })
        }
        (None, _) => Ok(PdConfig::secure(lane.turnstile_address, Key::SCBK_D)),
    }
}

/// Starts every configured lane on the current tokio runtime.
pub fn start(
    lanes: &[LaneSetting],
    identifier: Arc<dyn Identifier>,
    decider: Arc<dyn Decider>,
    ledger: Arc<dyn LedgerSink>,
) -> Result<Gate, GateError> {
    let mut gate = Gate {
        stops: Vec::new(),
        supervisors: Vec::new(),
        buses: Vec::new(),
        fingers: HashMap::new(),
        lanes: Default::default(),
    };
    // Turnstile events, per lane.
    let mut turnstiles: HashMap<String, (Box<dyn Turnstile>, std::sync::mpsc::Receiver<TurnstileEvent>)> =
        HashMap::new();
    let mut ports: Vec<&str> = lanes.iter().map(|l| l.turnstile_port.as_str()).collect();
    ports.sort_unstable();
    ports.dedup();
    for port in ports {
        let on_port: Vec<&LaneSetting> = lanes.iter().filter(|l| l.turnstile_port == port).collect();
        let pds = on_port.iter().map(|l| pd_config(l)).collect::<Result<Vec<_>, _>>()?;
        let mut config = BusConfig::new(port, pds);
        config.baud_rate = on_port[0].turnstile_baud;
        let mut senders: HashMap<u8, Sender<TurnstileEvent>> = HashMap::new();
        let bus_error = |source| GateError::Bus { port: port.to_string(), source };
        let (bus, events) = OsdpBus::start_resilient(config).map_err(bus_error)?;
        for lane in &on_port {
            let (tx, rx) = std::sync::mpsc::channel();
            senders.insert(lane.turnstile_address, tx);
            let turnstile: Box<dyn Turnstile> = Box::new(bus.turnstile(lane.turnstile_address).map_err(bus_error)?);
            turnstiles.insert(lane.id.clone(), (turnstile, rx));
        }
        let spawned = std::thread::Builder::new().name("osdp-events".into()).spawn(move || {
            while let Ok((address, event)) = events.recv() {
                if let Some(tx) = senders.get(&address) {
                    let _ = tx.send(event);
                }
            }
        });
        if let Err(e) = spawned {
            error!(cause = %e, "cannot start the OSDP event thread");
        }
        gate.buses.push(bus);
    }

    let mut usb_lanes = Vec::new();
    for lane in lanes {
        let (reader_tx, reader_rx) = std::sync::mpsc::channel();
        let timing = SupervisorConfig::default();
        let supervisor = match &lane.reader {
            ReaderSetting::Usb(port) => {
                ReaderSupervisor::start(UsbPortOpener { port: port.clone() }, reader_tx, timing)
            }
            ReaderSetting::Serial(path) => {
                let opener = SerialModuleOpener { config: tally_grow::Config::new(path.clone()) };
                ReaderSupervisor::start(opener, reader_tx, timing)
            }
            ReaderSetting::Simulated => {
                let (opener, finger) = simulated_reader(&lane.id);
                gate.fingers.insert(lane.id.clone(), finger);
                ReaderSupervisor::start(opener, reader_tx, timing)
            }
        };
        if let ReaderSetting::Usb(port) = &lane.reader {
            usb_lanes.push((port.clone(), supervisor.nudger()));
        }
        gate.supervisors.push(supervisor);
        let Some((turnstile, turnstile_events)) = turnstiles.remove(&lane.id) else { continue };
        let config = lane_config(lane);
        let (handle, control) = lane_channel(&config);
        gate.lanes.insert(lane.id.clone(), handle);
        let parts = LaneParts {
            config,
            identifier: identifier.clone(),
            decider: decider.clone(),
            ledger: ledger.clone(),
            turnstile,
            turnstile_events,
            reader_events: reader_rx,
            control,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        gate.stops.push(stop);
        tokio::spawn(runner::run(parts, async move {
            let _ = stopped.await;
        }));
        info!(lane = %lane.id, from = %lane.from_zone, to = %lane.to_zone, "lane started");
    }
    if !usb_lanes.is_empty() {
        tokio::spawn(async move {
            if let Err(e) = nudge_on_usb_arrival(usb_lanes).await {
                warn!(cause = %e, "no USB hotplug; missing readers are retried every 500 ms instead");
            }
        });
    }
    Ok(gate)
}
