//! Runs a [`Lane`]: feeds it what the reader, the engine, the ledger and the turnstile report, and
//! does what it asks, in order.
//!
//! - Images come from the lane's [`super::reader::ReaderSupervisor`], turnstile events from the
//!   controller's driver; both are std channels read on threads of their own.
//! - Identification runs on the blocking pool ([`Identifier`]); the engine is pure and CPU-bound.
//! - The lane's entries go through one ordered queue to the ledger ([`LedgerSink`]), so a lane's
//!   entries are written in the order it decided them, and a grant is acknowledged only once durable.
//! - Turnstile commands run on the blocking pool; the pulse's acknowledgement comes back as an input.
//! - Timers use tokio's clock, so tests run them with paused time.
//!
//! The lane decides; this module only carries messages. It stops when `shutdown` completes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tally_device::{Image, Turnstile, TurnstileError, TurnstileEvent};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::lane::{Action, Identification, Input, Lane, LaneConfig, Pulse, Purpose};
use super::reader::ReaderEvent;
use crate::fingerprint::image::GrayImage;
use crate::fingerprint::index::Index;
use crate::ledger::entry::Event;

/// The identification operating point: the best candidate is accepted only if its score stands for a
/// false match rate at most this — in the calibration table, above every impostor score measured
/// (score > 0.1494), the point at which `tally fingerprint bench-index` measured no false
/// identification of people not enrolled.
pub const DEFAULT_MAX_FMR: f64 = 1e-6;

/// Finds who an image belongs to.
pub trait Identifier: Send + Sync + 'static {
    /// Extracts and identifies; blocking and CPU-bound.
    fn identify(&self, image: Image) -> Identification;
}

/// Writes a lane's entries durably.
pub trait LedgerSink: Send + Sync + 'static {
    /// Appends one event; resolves to its sequence number once it is durable.
    fn append(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send + '_>>;
}

impl LedgerSink for crate::api::writer::Writer {
    fn append(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send + '_>> {
        Box::pin(async move {
            let appended = crate::api::writer::Writer::append(self, vec![event]).await.map_err(|e| e.to_string())?;
            appended.seqs.first().copied().ok_or_else(|| "the ledger gave no sequence number".to_string())
        })
    }
}

/// The fingerprint engine against the identification index: extract, identify, and accept the best
/// candidate only if its score stands for a false match rate at most `max_fmr`.
pub struct EngineIdentifier {
    /// Everyone enrolled.
    pub index: Arc<Index>,
    /// Whose each template is, by template id.
    pub owners: std::collections::HashMap<u64, String>,
    /// The operating point: the largest false match rate accepted.
    pub max_fmr: f64,
}

impl std::fmt::Debug for EngineIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIdentifier")
            .field("templates", &self.index.len())
            .field("max_fmr", &self.max_fmr)
            .finish_non_exhaustive()
    }
}

impl Identifier for EngineIdentifier {
    fn identify(&self, image: Image) -> Identification {
        let gray = match GrayImage::from_raw(image.pixels, image.width, image.height, u32::from(image.dpi)) {
            Ok(gray) => gray.to_500dpi(),
            Err(e) => return Identification::Unusable(e.to_string()),
        };
        let probe = match crate::fingerprint::extract::extract(&gray) {
            Ok(t) => t,
            Err(e) => return Identification::Unusable(e.to_string()),
        };
        match self.index.identify(&probe, 1) {
            Ok(candidates) => match candidates.first() {
                Some(best) if best.fmr <= self.max_fmr => match self.owners.get(&best.id.0) {
                    Some(person) => {
                        Identification::Person { person: person.clone(), score: (best.score * 1e6).round() as u32 }
                    }
                    None => Identification::NoMatch,
                },
                _ => Identification::NoMatch,
            },
            Err(e) => Identification::Unusable(e.to_string()),
        }
    }
}

/// Everything a lane runs with.
pub struct LaneParts {
    /// The lane's configuration.
    pub config: LaneConfig,
    /// Who is who.
    pub identifier: Arc<dyn Identifier>,
    /// Where entries go.
    pub ledger: Arc<dyn LedgerSink>,
    /// The controller.
    pub turnstile: Box<dyn Turnstile>,
    /// What the controller reports.
    pub turnstile_events: std::sync::mpsc::Receiver<TurnstileEvent>,
    /// What the reader supervisor reports.
    pub reader_events: std::sync::mpsc::Receiver<ReaderEvent>,
}

impl std::fmt::Debug for LaneParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneParts").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Forwards a std channel into the lane's input queue, on a thread of its own.
fn bridge<T: Send + 'static>(
    from: std::sync::mpsc::Receiver<T>,
    to: mpsc::UnboundedSender<Input>,
    convert: impl Fn(T) -> Option<Input> + Send + 'static,
) {
    let spawned = std::thread::Builder::new().name("lane-bridge".into()).spawn(move || {
        while let Ok(item) = from.recv() {
            if let Some(input) = convert(item)
                && to.send(input).is_err()
            {
                return;
            }
        }
    });
    if let Err(e) = spawned {
        warn!(cause = %e, "cannot start a lane bridge thread");
    }
}

/// Runs the lane until `shutdown` completes.
pub async fn run(parts: LaneParts, shutdown: impl Future<Output = ()>) {
    let LaneParts { config, identifier, ledger, turnstile, turnstile_events, reader_events } = parts;
    let lane_id = config.id.clone();
    let mut lane = Lane::new(config);
    let (tx, mut rx) = mpsc::unbounded_channel();
    bridge(turnstile_events, tx.clone(), |e| Some(Input::Turnstile(e)));
    let reader_lane = lane_id.clone();
    bridge(reader_events, tx.clone(), move |e| match e {
        ReaderEvent::Image(image) => Some(Input::Image(image)),
        other => {
            info!(lane = %reader_lane, reader = ?other, "reader");
            None
        }
    });
    let appends = spawn_append_queue(ledger, tx.clone());
    let turnstile = Arc::new(Mutex::new(turnstile));
    // Said once when the lane locks or unlocks, not at every event.
    let mut locked: Option<String> = None;
    tokio::pin!(shutdown);
    loop {
        let input = tokio::select! {
            () = &mut shutdown => break,
            input = rx.recv() => match input { Some(i) => i, None => break },
        };
        let now = tokio::time::Instant::now().into_std();
        for action in lane.handle(input, now) {
            match action {
                Action::Identify => {
                    let Some(image) = lane.take_image() else { continue };
                    let (identifier, tx) = (identifier.clone(), tx.clone());
                    tokio::task::spawn_blocking(move || {
                        let _ = tx.send(Input::Identified(identifier.identify(image)));
                    });
                }
                Action::Append(purpose, event) => {
                    info!(lane = %lane_id, kind = event.kind(), "entry");
                    let _ = appends.send((purpose, event));
                }
                Action::Pulse { output, duration } => {
                    let (turnstile, tx) = (turnstile.clone(), tx.clone());
                    tokio::task::spawn_blocking(move || {
                        let pulse = match turnstile.lock() {
                            Ok(mut t) => match t.pulse(output, duration) {
                                Ok(()) => Pulse::Confirmed,
                                Err(e @ TurnstileError::Unconfirmed(_)) => Pulse::Unconfirmed(e.to_string()),
                                Err(e) => Pulse::Failed(e.to_string()),
                            },
                            Err(_) => Pulse::Failed("the turnstile driver panicked".to_string()),
                        };
                        let _ = tx.send(Input::Pulsed(pulse));
                    });
                }
                Action::Signal(signal) => {
                    let turnstile = turnstile.clone();
                    let lane_id = lane_id.clone();
                    tokio::task::spawn_blocking(move || {
                        if let Ok(mut t) = turnstile.lock()
                            && let Err(e) = t.signal(signal)
                        {
                            warn!(lane = %lane_id, cause = %e, "turnstile signal failed");
                        }
                    });
                }
                Action::Timer { at, grant } => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                        let _ = tx.send(Input::Timer { grant });
                    });
                }
                Action::RetryLedger { at } => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                        let _ = tx.send(Input::RetryLedger);
                    });
                }
            }
        }
        let now_locked = lane.locked();
        if now_locked != locked {
            match &now_locked {
                Some(why) => warn!(lane = %lane_id, %why, "lane locked: every scan is refused"),
                None => info!(lane = %lane_id, "lane unlocked"),
            }
            locked = now_locked;
        }
    }
}

/// The lane's entries, written one after another in the order decided.
fn spawn_append_queue(
    ledger: Arc<dyn LedgerSink>,
    tx: mpsc::UnboundedSender<Input>,
) -> mpsc::UnboundedSender<(Purpose, Event)> {
    let (queue, mut pending) = mpsc::unbounded_channel::<(Purpose, Event)>();
    tokio::spawn(async move {
        while let Some((purpose, event)) = pending.recv().await {
            let result = ledger.append(event).await;
            if tx.send(Input::Appended { purpose, result }).is_err() {
                return;
            }
        }
    });
    queue
}
