//! The appliance under load, put together as `tally serve` does (`src/cli/serve.rs`): the ledger
//! writer, `tally::app::start` (template key, gallery loaded from the sealed store, census folded,
//! lanes started) and the API on 127.0.0.1:0, on a tokio runtime of the default size. The turnstile
//! controllers are simulated on pseudo-terminals (`PtyPd`), one per bus, so the lanes run the real
//! OSDP ACU. It owns starting, waiting for readiness, settling after the run and stopping; it does
//! not drive anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tally::api::AppState;
use tally::api::writer::Writer;
use tally::app::Facility;
use tally::clock::Clock;
use tally::config::Config;
use tally::gate::service::Gate;
use tally::ledger::Ledger;
use tally_osdp::Key;
use tally_osdp::pd::SimConfig;
use tally_osdp::pd::pty::PtyPd;

use super::site::{Layout, OSDP_KEY};

/// The simulated controllers, one pseudo-terminal per bus.
pub fn controllers(layout: &Layout) -> Result<Vec<PtyPd>, String> {
    let key = Key::from_hex(OSDP_KEY).map_err(|e| e.to_string())?;
    (0..layout.buses)
        .map(|bus| {
            let pds = layout
                .lanes
                .iter()
                .filter(|l| l.bus == bus)
                .map(|l| SimConfig::secure(l.address, key.clone()))
                .collect();
            PtyPd::start(pds).map_err(|e| format!("simulated controllers on bus {bus}: {e}"))
        })
        .collect()
}

/// Writes the controllers' key file (mode 0600, as the lanes require).
pub fn key_file(dir: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("osdp.scbk");
    std::fs::write(&path, OSDP_KEY).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    Ok(path)
}

/// A running appliance.
pub struct Appliance {
    pub facility: Arc<Facility>,
    pub base: String,
    pub writer: Writer,
    /// The runtime's handle, for threads that wait on the lanes' status.
    pub handle: tokio::runtime::Handle,
    gate: Option<Gate>,
    writer_thread: Option<JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Appliance {
    /// Starts on `ledger` (open, its boot recorded) and returns how long `tally::app::start` took.
    pub fn start(config: &Config, ledger: Ledger, clock: Arc<dyn Clock>) -> Result<(Appliance, Duration), String> {
        let dir = config.data_dir.clone();
        let (writer, writer_thread) =
            Writer::spawn(ledger, dir.clone(), clock.clone()).map_err(|e| format!("the writer: {e}"))?;
        // The default multi-threaded runtime, one worker per core, as `tally serve` builds it.
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let started = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let t0 = Instant::now();
            let (facility, gate) =
                tally::app::start(config, clock, &writer).map_err(|e| format!("the appliance: {e:?}"))?;
            let boot = t0.elapsed();
            let facility = Arc::new(facility);
            let state = AppState::new(writer.clone(), dir.clone(), facility.clone());
            let server = tokio::spawn(async move {
                let _ = tally::api::serve(listener, state, async move {
                    let _ = stopped.await;
                })
                .await;
            });
            Ok::<_, String>((format!("http://{addr}"), facility, gate, server, boot))
        });
        let (base, facility, gate, server, boot) = started?;
        let appliance = Appliance {
            facility,
            base,
            writer,
            handle: runtime.handle().clone(),
            gate,
            writer_thread: Some(writer_thread),
            stop: Some(stop),
            server: Some(server),
            runtime: Some(runtime),
        };
        Ok((appliance, boot))
    }

    /// The lanes' simulated readers.
    pub fn fingers(&self) -> std::collections::HashMap<String, tally::gate::simulated::Finger> {
        self.gate.as_ref().map(|g| g.fingers.clone()).unwrap_or_default()
    }

    /// Waits until every lane is idle, unlocked, with its reader connected and its controller online.
    pub fn ready(&self, within: Duration) -> Result<(), String> {
        let until = Instant::now() + within;
        loop {
            let waiting: Vec<String> = self
                .facility
                .lanes
                .values()
                .map(|h| h.status())
                .filter(|s| {
                    s.phase != "idle" || s.locked.is_some() || s.reader != "connected" || s.turnstile != "online"
                })
                .map(|s| {
                    format!("{} ({}, {:?}, reader {}, turnstile {})", s.id, s.phase, s.locked, s.reader, s.turnstile)
                })
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!("lanes not ready after {within:?}: {}", waiting.join("; ")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// After the run: waits until every lane is idle and the census has folded every durable entry,
    /// with nothing written for a while. Returns the ledger's size then.
    pub fn settle(&self, within: Duration) -> Result<u64, String> {
        let until = Instant::now() + within;
        let sizes = self.writer.sizes();
        let mut last = (u64::MAX, Instant::now());
        loop {
            let size = *sizes.borrow();
            let idle = self.facility.lanes.values().all(|h| h.status().phase == "idle");
            let folded = self.facility.census.next_seq() == size;
            if size != last.0 {
                last = (size, Instant::now());
            } else if idle && folded && last.1.elapsed() > Duration::from_millis(500) {
                return Ok(size);
            }
            if Instant::now() > until {
                return Err(format!(
                    "not settled after {within:?}: ledger {size}, census at {}, lanes idle: {idle}",
                    self.facility.census.next_seq()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the API, the lanes and the writer (which records the shutdown), as a clean stop does.
    pub fn stop(mut self) -> Result<(), String> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), String> {
        let mut result = Ok(());
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let (Some(rt), Some(server)) = (self.runtime.as_ref(), self.server.take()) {
            let _ = rt.block_on(server);
        }
        if let Some(gate) = self.gate.take() {
            gate.stop();
        }
        if let Some(rt) = self.runtime.as_ref()
            && let Err(e) = rt.block_on(self.writer.shutdown("gate_load bench"))
        {
            result = Err(format!("recording the shutdown: {e}"));
        }
        if let Some(thread) = self.writer_thread.take()
            && thread.join().is_err()
        {
            result = Err("the ledger writer panicked".into());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        result
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}
