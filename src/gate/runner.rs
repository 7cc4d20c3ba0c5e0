//! Runs a [`Lane`]: feeds it what the reader, the engine, the ledger and the turnstile report, and
//! does what it asks, in order.
//!
//! - Images come from the lane's [`super::reader::ReaderSupervisor`], turnstile events from the
//!   controller's driver; both are std channels read on threads of their own.
//! - Identification runs on the blocking pool ([`Identifier`]); the engine is pure and CPU-bound. The
//!   access policy ([`Decider`]) gives its verdict right after, on the same thread.
//! - The lane's status is published on every change, and officers' overrides come in, through its
//!   [`super::handle`].
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

use super::handle::{LaneControl, LastDecision};
use super::lane::{Action, Flag, Identification, Input, Lane, LaneConfig, Phase, Pulse, Purpose, Verdict};
use super::operating_point::OperatingPoint;
use super::reader::ReaderEvent;
use crate::fingerprint::image::GrayImage;
use crate::ledger::entry::Event;
use crate::people::gallery::Gallery;

/// Who the engine found for an image.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// An enrolled person.
    Person {
        /// Person id.
        person: String,
        /// Calibrated score, in millionths.
        score: u32,
        /// Whether the finger is the person's duress finger.
        duress: bool,
    },
    /// Nobody enrolled matches well enough.
    NoMatch,
    /// The image could not be used.
    Unusable(String),
}

/// Finds who an image belongs to.
pub trait Identifier: Send + Sync + 'static {
    /// Extracts and identifies; blocking and CPU-bound.
    fn identify(&self, image: Image) -> Found;
}

/// Decides whether an identified person may make a lane's movement (the access policy against
/// where the census last saw them).
pub trait Decider: Send + Sync + 'static {
    /// The verdict and the alarms that come with it.
    fn decide(&self, lane: &LaneConfig, person: &str, duress: bool) -> (Verdict, Vec<Flag>);
}

/// Lets everyone identified through, raising a duress alarm for a duress finger: for tools and tests
/// that run a lane without a register.
#[derive(Debug, Clone, Copy)]
pub struct OpenDoor;

impl Decider for OpenDoor {
    fn decide(&self, lane: &LaneConfig, person: &str, duress: bool) -> (Verdict, Vec<Flag>) {
        let flags = if duress {
            vec![Flag { code: "duress".into(), detail: format!("{person} at lane {}", lane.id) }]
        } else {
            Vec::new()
        };
        (Verdict::Grant, flags)
    }
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

/// The fingerprint engine against the gallery of everyone enrolled: extract, identify, and accept the
/// best candidate only if the operating point takes its score for a gallery of this size.
pub struct EngineIdentifier {
    /// Everyone enrolled.
    pub gallery: Arc<Gallery>,
    /// When the best candidate is taken.
    pub operating_point: OperatingPoint,
}

impl std::fmt::Debug for EngineIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIdentifier")
            .field("templates", &self.gallery.len())
            .field("operating_point", &self.operating_point)
            .finish_non_exhaustive()
    }
}

impl Identifier for EngineIdentifier {
    fn identify(&self, image: Image) -> Found {
        let gray = match GrayImage::from_raw(image.pixels, image.width, image.height, u32::from(image.dpi)) {
            Ok(gray) => gray.to_500dpi(),
            Err(e) => return Found::Unusable(e.to_string()),
        };
        let probe = match crate::fingerprint::extract::extract(&gray) {
            Ok(t) => t,
            Err(e) => return Found::Unusable(e.to_string()),
        };
        let searched = self.gallery.len();
        match self.gallery.identify(&probe, 1) {
            Ok(matches) => match matches.into_iter().next() {
                Some(best) if self.operating_point.accepts(best.score, searched) => {
                    Found::Person { person: best.person, score: (best.score * 1e6).round() as u32, duress: best.duress }
                }
                _ => Found::NoMatch,
            },
            Err(e) => Found::Unusable(e.to_string()),
        }
    }
}

/// Everything a lane runs with.
pub struct LaneParts {
    /// The lane's configuration.
    pub config: LaneConfig,
    /// Who is who.
    pub identifier: Arc<dyn Identifier>,
    /// Who may go where.
    pub decider: Arc<dyn Decider>,
    /// Where entries go.
    pub ledger: Arc<dyn LedgerSink>,
    /// The controller.
    pub turnstile: Box<dyn Turnstile>,
    /// What the controller reports.
    pub turnstile_events: std::sync::mpsc::Receiver<TurnstileEvent>,
    /// What the reader supervisor reports.
    pub reader_events: std::sync::mpsc::Receiver<ReaderEvent>,
    /// The status it publishes and the overrides it takes.
    pub control: LaneControl,
}

impl std::fmt::Debug for LaneParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneParts").field("config", &self.config).finish_non_exhaustive()
    }
}

/// What the runner's loop takes: the lane's inputs, and what it reports about itself.
enum Msg {
    Input(Input),
    Reader(String),
}

/// Forwards a std channel into the lane's input queue, on a thread of its own.
fn bridge<T: Send + 'static>(
    from: std::sync::mpsc::Receiver<T>,
    to: mpsc::UnboundedSender<Msg>,
    convert: impl Fn(T) -> Option<Msg> + Send + 'static,
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
    let LaneParts { config, identifier, decider, ledger, turnstile, turnstile_events, reader_events, control } = parts;
    let LaneControl { status, mut overrides } = control;
    let lane_id = config.id.clone();
    let mut lane = Lane::new(config);
    let (tx, mut rx) = mpsc::unbounded_channel();
    bridge(turnstile_events, tx.clone(), |e| Some(Msg::Input(Input::Turnstile(e))));
    let reader_lane = lane_id.clone();
    bridge(reader_events, tx.clone(), move |e| match e {
        ReaderEvent::Image(image) => Some(Msg::Input(Input::Image(image))),
        ReaderEvent::Connected(info) => {
            info!(lane = %reader_lane, reader = ?info, "reader connected");
            Some(Msg::Reader("connected".into()))
        }
        ReaderEvent::CaptureFailed(why) => {
            info!(lane = %reader_lane, %why, "capture failed");
            None
        }
        ReaderEvent::Lost(why) | ReaderEvent::Unavailable(why) => {
            warn!(lane = %reader_lane, %why, "reader not available");
            Some(Msg::Reader(why))
        }
    });
    let appends = spawn_append_queue(ledger, tx.clone());
    let turnstile = Arc::new(Mutex::new(turnstile));
    let mut shown = status.borrow().clone();
    // Said once when the lane locks or unlocks, not at every event.
    let mut locked: Option<String> = None;
    tokio::pin!(shutdown);
    loop {
        let input = tokio::select! {
            () = &mut shutdown => break,
            msg = rx.recv() => match msg {
                Some(Msg::Input(input)) => input,
                Some(Msg::Reader(state)) => {
                    shown.reader = state;
                    status.send_replace(shown.clone());
                    continue;
                }
                None => break,
            },
            Some(request) = overrides.recv() => {
                match lane.accepts_override() {
                    Ok(()) => {
                        let (verdict, flags) = decider.decide(lane.config(), &request.record.person, false);
                        let _ = request.reply.send(Ok(verdict.clone()));
                        Input::Override { record: request.record, verdict, flags }
                    }
                    Err(why) => {
                        let _ = request.reply.send(Err(why));
                        continue;
                    }
                }
            }
        };
        let now = tokio::time::Instant::now().into_std();
        for action in lane.handle(input, now) {
            match action {
                Action::Identify => {
                    let Some(image) = lane.take_image() else { continue };
                    let (identifier, decider, tx) = (identifier.clone(), decider.clone(), tx.clone());
                    let config = lane.config().clone();
                    tokio::task::spawn_blocking(move || {
                        let identification = match identifier.identify(image) {
                            Found::Person { person, score, duress } => {
                                let (verdict, flags) = decider.decide(&config, &person, duress);
                                Identification::Person { person, score, verdict, flags }
                            }
                            Found::NoMatch => Identification::NoMatch,
                            Found::Unusable(why) => Identification::Unusable(why),
                        };
                        let _ = tx.send(Msg::Input(Input::Identified(identification)));
                    });
                }
                Action::Append(purpose, event) => {
                    info!(lane = %lane_id, kind = event.kind(), "entry");
                    if let Some(last) = last_decision(&event) {
                        shown.last = Some(last);
                    }
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
                        let _ = tx.send(Msg::Input(Input::Pulsed(pulse)));
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
                        let _ = tx.send(Msg::Input(Input::Timer { grant }));
                    });
                }
                Action::RetryLedger { at } => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                        let _ = tx.send(Msg::Input(Input::RetryLedger));
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
        let (phase, person) = phase_name(lane.phase());
        shown.phase = phase;
        shown.person = person;
        shown.locked = locked.clone();
        shown.turnstile = match lane.turnstile_online() {
            Some(true) => "online",
            Some(false) => "offline",
            None => "unknown",
        };
        status.send_if_modified(|s| {
            let changed = *s != shown;
            if changed {
                *s = shown.clone();
            }
            changed
        });
    }
}

/// The name of a phase for the status, and its person.
fn phase_name(phase: &Phase) -> (&'static str, Option<String>) {
    match phase {
        Phase::Idle => ("idle", None),
        Phase::Identifying => ("identifying", None),
        Phase::CommittingGrant { person } => ("committing_grant", Some(person.clone())),
        Phase::Releasing { person, .. } => ("releasing", Some(person.clone())),
        Phase::AwaitingPassage { person, .. } => ("awaiting_passage", Some(person.clone())),
    }
}

/// The decision an entry records, for the status.
fn last_decision(event: &Event) -> Option<LastDecision> {
    match event {
        Event::Grant(g) => Some(LastDecision {
            person: Some(g.person.clone()),
            granted: true,
            reason: None,
            method: if g.method == "override" { "override" } else { "fingerprint" },
        }),
        Event::Denial(d) => Some(LastDecision {
            person: d.person.clone(),
            granted: false,
            reason: Some(d.reason.clone()),
            method: "fingerprint",
        }),
        _ => None,
    }
}

/// The lane's entries, written one after another in the order decided.
fn spawn_append_queue(
    ledger: Arc<dyn LedgerSink>,
    tx: mpsc::UnboundedSender<Msg>,
) -> mpsc::UnboundedSender<(Purpose, Event)> {
    let (queue, mut pending) = mpsc::unbounded_channel::<(Purpose, Event)>();
    tokio::spawn(async move {
        while let Some((purpose, event)) = pending.recv().await {
            let result = ledger.append(event).await;
            if tx.send(Msg::Input(Input::Appended { purpose, result })).is_err() {
                return;
            }
        }
    });
    queue
}
