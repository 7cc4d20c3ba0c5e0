//! Whole lanes, end to end: a simulated reader fed synthetic fingerprints, the real engine and
//! identification index, the real ledger (SQLite on disk, through the writer thread), and a
//! turnstile controller. Each outcome — granted and passed, granted and not passed, denied, the
//! controller offline, the ledger unwritable — must leave exactly the right entries and exactly the
//! right turnstile commands.
//!
//! The controller here is a recording stand-in implementing the `Turnstile` trait; the same
//! scenarios run against a libosdp PD over a pseudo-terminal with the secure channel in
//! `lane_osdp.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tally::clock::SystemClock;
use tally::fingerprint::extract::extract;
use tally::fingerprint::index::IndexConfig;
use tally::fingerprint::synth::{ImpressionSettings, Master};
use tally::gate::handle::lane_channel;
use tally::gate::lane::LaneConfig;
use tally::gate::operating_point::OperatingPoint;
use tally::gate::reader::{ReaderSupervisor, SupervisorConfig};
use tally::gate::runner::{self, EngineIdentifier, LaneParts, LedgerSink, OpenDoor};
use tally::gate::simulated::{Finger, simulated_reader};
use tally::ledger::entry::{Entry, Event};
use tally::ledger::{Ledger, LedgerReader};
use tally::people::gallery::{Gallery, Owner};
use tally_device::{Image, Signal, Turnstile, TurnstileError, TurnstileEvent, TurnstileInfo};

pub const SEED: u64 = 0x6a7e;
pub const PEOPLE: u64 = 6;

/// Impression `impression` of person `person`'s finger, as a reader would deliver it.
pub fn touch_image(person: u64, impression: u64) -> Image {
    let settings = ImpressionSettings { variability: 0.5, ..ImpressionSettings::default() };
    let gray = Master::generate(SEED, person).impression(impression, &settings);
    Image::new(gray.width, gray.height, gray.dpi as u16, gray.pixels).expect("an image")
}

/// Everyone enrolled: impression 0 of persons 0…PEOPLE-1 ("P-000n"); person PEOPLE is a stranger.
pub fn identifier() -> EngineIdentifier {
    let gallery = Gallery::new(IndexConfig::default());
    let settings = ImpressionSettings { variability: 0.5, ..ImpressionSettings::default() };
    for person in 0..PEOPLE {
        let gray = Master::generate(SEED, person).impression(0, &settings);
        let template = extract(&gray).expect("a synthetic impression extracts");
        let owner = Owner { person: format!("P-{person:04}"), finger: 2, duress: false };
        gallery.insert(person, owner, &template).expect("insert");
    }
    // The matcher's operating point for 1:N at this size: one in a million.
    EngineIdentifier { gallery: Arc::new(gallery), operating_point: OperatingPoint::default() }
}

pub fn lane_config() -> LaneConfig {
    LaneConfig {
        id: "L1".into(),
        from_zone: "outside".into(),
        to_zone: "block-a".into(),
        output: 0,
        pulse: Duration::from_millis(1500),
        passage_input: 0,
        passage_timeout: Duration::from_millis(1500),
        ledger_retry: Duration::from_millis(300),
    }
}

/// The real ledger writer, with a switch that makes every write fail (as a full or broken disk
/// would) without touching the ledger.
pub struct Switchable {
    pub writer: tally::api::writer::Writer,
    pub broken: Arc<AtomicBool>,
}

impl LedgerSink for Switchable {
    fn append(
        &self,
        event: Event,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send + '_>> {
        Box::pin(async move {
            if self.broken.load(Ordering::SeqCst) {
                return Err("disk I/O error (injected)".into());
            }
            LedgerSink::append(&self.writer, event).await
        })
    }
}

/// A running lane and the handles a test drives it with.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub finger: Finger,
    pub broken: Arc<AtomicBool>,
    // Kept so the lane keeps running for the rig's life.
    _runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _supervisor: ReaderSupervisor,
}

impl Rig {
    /// Starts a lane on a fresh ledger with `turnstile` and its event channel.
    pub fn start(turnstile: Box<dyn Turnstile>, turnstile_events: std::sync::mpsc::Receiver<TurnstileEvent>) -> Rig {
        let (dir, sink) = ledger();
        let broken = sink.broken.clone();
        let (opener, finger) = simulated_reader("lane-1");
        let (reader_tx, reader_rx) = std::sync::mpsc::channel();
        let supervisor = ReaderSupervisor::start(opener, reader_tx, SupervisorConfig::default());
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (_handle, control) = lane_channel(&lane_config());
        let parts = LaneParts {
            config: lane_config(),
            identifier: Arc::new(identifier()),
            decider: Arc::new(OpenDoor),
            ledger: Arc::new(sink),
            turnstile,
            turnstile_events,
            reader_events: reader_rx,
            control,
        };
        runtime.spawn(runner::run(parts, async move {
            let _ = stopped.await;
        }));
        Rig { dir, finger, broken, _runtime: runtime, stop: Some(stop), _supervisor: supervisor }
    }

    /// Every entry after the genesis key entry, decoded.
    pub fn entries(&self) -> Vec<Entry> {
        entries(self.dir.path())
    }

    /// Waits until the ledger holds `n` entries after genesis (or fails after 20 s).
    pub fn wait_entries(&self, n: usize) -> Vec<Entry> {
        wait_entries(self.dir.path(), n)
    }
}

/// Every entry of the ledger in `dir` after the genesis key entry, decoded.
pub fn entries(dir: &std::path::Path) -> Vec<Entry> {
    let mut reader = LedgerReader::open(dir).expect("reader");
    let raw = reader.entries(1, 1000).expect("entries");
    raw.iter().map(|b| Entry::parse(b).expect("a valid entry")).collect()
}

/// Waits until the ledger in `dir` holds `n` entries after genesis (or 30 s pass).
pub fn wait_entries(dir: &std::path::Path, n: usize) -> Vec<Entry> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let entries = entries(dir);
        if entries.len() >= n || Instant::now() > deadline {
            return entries;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh ledger in a temporary directory and its writer, behind a switch that breaks writes.
pub fn ledger() -> (tempfile::TempDir, Switchable) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock = Arc::new(SystemClock::new());
    let ledger = Ledger::create(dir.path(), "facility", "gate-1", clock.clone()).expect("a ledger");
    let (writer, _thread) = tally::api::writer::Writer::spawn(ledger, dir.path().to_path_buf(), clock).expect("writer");
    (dir, Switchable { writer, broken: Arc::new(AtomicBool::new(false)) })
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// "kind person/reason/code" summaries of entries, to compare whole sequences at a glance.
pub fn summary(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| match &e.event {
            Event::Grant(g) => format!("grant {}", g.person),
            Event::Denial(d) => format!("denial {}", d.reason),
            Event::Passage(_) => "passage".into(),
            Event::PassageTimeout(_) => "passage_timeout".into(),
            Event::Alarm(a) => format!("alarm {}", a.code),
            other => other.kind().to_string(),
        })
        .collect()
}

/// What the stand-in controller was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Pulse(u8, Duration),
    Signal(Signal),
}

/// A controller that records commands and whose events the test sends.
pub struct Recording {
    pub commands: Arc<Mutex<Vec<Command>>>,
    pub online: Arc<AtomicBool>,
}

impl Turnstile for Recording {
    fn info(&self) -> TurnstileInfo {
        TurnstileInfo { name: "recording".into(), identity: None }
    }
    fn pulse(&mut self, output: u8, duration: Duration) -> Result<(), TurnstileError> {
        if !self.online.load(Ordering::SeqCst) {
            return Err(TurnstileError::Offline);
        }
        self.commands.lock().expect("lock").push(Command::Pulse(output, duration));
        Ok(())
    }
    fn signal(&mut self, signal: Signal) -> Result<(), TurnstileError> {
        self.commands.lock().expect("lock").push(Command::Signal(signal));
        Ok(())
    }
}

/// Commands the stand-in received.
type Commands = Arc<Mutex<Vec<Command>>>;

fn recording_rig() -> (Rig, Commands, Arc<AtomicBool>, Sender<TurnstileEvent>) {
    let commands = Arc::new(Mutex::new(Vec::new()));
    let online = Arc::new(AtomicBool::new(true));
    let (events, events_rx) = std::sync::mpsc::channel();
    let turnstile = Recording { commands: commands.clone(), online: online.clone() };
    let rig = Rig::start(Box::new(turnstile), events_rx);
    events.send(TurnstileEvent::Online { identity: "stand-in".into() }).expect("send");
    (rig, commands, online, events)
}

fn pulses(commands: &Mutex<Vec<Command>>) -> Vec<Command> {
    commands.lock().expect("lock").iter().filter(|c| matches!(c, Command::Pulse(..))).cloned().collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_outcome_leaves_exactly_its_entries_and_commands() {
    let (rig, commands, online, events) = recording_rig();
    let mut expected = vec!["alarm turnstile_online".to_string()];
    assert_eq!(summary(&rig.wait_entries(1)), expected);

    // Granted and passed.
    rig.finger.touch(touch_image(3, 2));
    wait_for("the release", || pulses(&commands).len() == 1);
    assert_eq!(pulses(&commands), [Command::Pulse(0, Duration::from_millis(1500))]);
    // The grant was durable before the pulse: it is in the ledger already.
    assert_eq!(summary(&rig.entries()).last().map(String::as_str), Some("grant P-0003"));
    events.send(TurnstileEvent::Input { point: 0, active: true }).expect("send");
    expected.extend(["grant P-0003".into(), "passage".into()]);
    let entries = rig.wait_entries(expected.len());
    assert_eq!(summary(&entries), expected);
    let (Event::Grant(_), Event::Passage(p)) = (&entries[1].event, &entries[2].event) else { unreachable!() };
    assert_eq!(p.grant, entries[1].stamp.seq, "the passage names its grant");
    events.send(TurnstileEvent::Input { point: 0, active: false }).expect("send");

    // Granted and not passed.
    rig.finger.touch(touch_image(1, 3));
    wait_for("the second release", || pulses(&commands).len() == 2);
    expected.extend(["grant P-0001".into(), "passage_timeout".into()]);
    assert_eq!(summary(&rig.wait_entries(expected.len())), expected);

    // Denied: a stranger.
    rig.finger.touch(touch_image(PEOPLE, 1));
    expected.push("denial no_match".into());
    assert_eq!(summary(&rig.wait_entries(expected.len())), expected);
    assert_eq!(pulses(&commands).len(), 2, "no release for a denial");
    assert!(commands.lock().expect("lock").contains(&Command::Signal(Signal::Denied)));

    // The controller offline: an alarm, and a known person is refused.
    online.store(false, Ordering::SeqCst);
    events.send(TurnstileEvent::Offline { reason: "silent for 8 s".into() }).expect("send");
    rig.finger.touch(touch_image(2, 1));
    expected.extend(["alarm turnstile_offline".into(), "denial lane_locked".into()]);
    assert_eq!(summary(&rig.wait_entries(expected.len())), expected);
    online.store(true, Ordering::SeqCst);
    events.send(TurnstileEvent::Online { identity: "stand-in".into() }).expect("send");
    expected.push("alarm turnstile_online".into());
    assert_eq!(summary(&rig.wait_entries(expected.len())), expected);

    // The ledger unwritable: nobody passes, and nothing half-written.
    rig.broken.store(true, Ordering::SeqCst);
    rig.finger.touch(touch_image(4, 2));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(summary(&rig.entries()), expected, "nothing was written while the ledger was down");
    assert_eq!(pulses(&commands).len(), 2, "no release without a durable grant");
    // Back: the outage is recorded, and the lane works again.
    rig.broken.store(false, Ordering::SeqCst);
    expected.push("alarm ledger_unwritable".into());
    assert_eq!(summary(&rig.wait_entries(expected.len())), expected);
    rig.finger.touch(touch_image(4, 3));
    wait_for("the release after recovery", || pulses(&commands).len() == 3);
    expected.extend(["grant P-0004".into(), "passage_timeout".into()]);
    assert_eq!(summary(&rig.wait_entries(expected.len())), expected);
}
