//! `tally demo`: a synthetic prison on simulated devices, so that a newcomer sees the whole appliance
//! work in a minute with no hardware and no configuration. This module owns what is the demo's alone —
//! the facility it configures, the prison it seeds, the people it walks through the lanes, the roll-call
//! it runs and the lines it tells about them — and nothing of the appliance itself: the lanes, the
//! ledger, the census and the API are the real ones, started as `tally serve` starts them
//! ([`crate::app::start`]). The command line (`src/cli/demo.rs`) puts the two together and prints.
//!
//! - [`plan`]: the synthetic prison (who, names, zones, statuses, which synthetic finger is whose).
//! - [`portrait`]: each person's synthetic ID-style portrait, a small PNG drawn from the seed and the id.
//! - [`seed`]: writing it into the register and the ledger, fingers extracted on every core while the
//!   portraits are drawn and stored.
//! - [`traffic`]: people presenting fingers at the simulated readers and walking through the simulated
//!   OSDP turnstiles (two controllers on one pseudo-terminal, driven by the real ACU code).
//! - [`rollcall`]: the shift-change roll-call of block A in which one inmate is never found.
//! - [`narrate`]: one line per movement, refusal, alarm or status change, read from the ledger as it
//!   becomes durable.
//!
//! # The facility
//! Three zones — `reception`, `block-a`, `yard` — and the outside; two lanes on one RS-485 bus:
//! `main-gate` (outside → reception, controller 1) and `block-a-door` (reception → block A, controller
//! 2); hard anti-passback; staff may go anywhere, inmates anywhere inside, visitors to reception only.
//! The controllers' secure channel key is a random one kept (mode 0600) in the data directory.
//!
//! # A data directory used again
//! The first run writes [`MANIFEST`] (the seed and size of the prison) after seeding; a later run on the
//! same directory finds it and takes up the same prison where the ledger left it, instead of seeding
//! again. A directory that holds a ledger without it is someone else's and is refused.

pub mod narrate;
pub mod plan;
pub mod portrait;
pub mod rollcall;
pub mod seed;
pub mod traffic;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tally_osdp::Key;
use tally_osdp::pd::pty::SimHandle;
use tokio::sync::watch;

use crate::api::writer::{WriteError, Writer};
use crate::app::Facility;
use crate::auth::{AuthError, Secret};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::gate::simulated::Finger;
use crate::ledger::entry::{Boot, Event};
use crate::ledger::{Ledger, LedgerError};
use crate::people::vault::VaultError;
use crate::store::{Open, Store, StoreError};
use plan::Prison;
use seed::Seeded;

/// The demo ledger's facility id.
pub const FACILITY_ID: &str = "demo";
/// The demo ledger's appliance id.
pub const APPLIANCE_ID: &str = "gate-1";
/// The facility's display name.
pub const FACILITY_NAME: &str = "Demo Central Prison (synthetic)";
/// The lane from outside into reception, on controller 1.
pub const MAIN_GATE: &str = "main-gate";
/// The lane from reception into block A, on controller 2.
pub const BLOCK_A_DOOR: &str = "block-a-door";
/// The file in the data directory that marks it as the demo's, with the prison's seed and size.
pub const MANIFEST: &str = "demo.json";
/// The controllers' secure channel key, under the data directory.
pub const KEY_FILE: &str = "keys/osdp-demo.scbk";
/// The token name of the guard who counts the roll-call.
pub const GUARD: &str = "demo-guard";
/// The roles a token is made for at every start, with the token's name.
pub const TOKENS: [(&str, &str); 5] = [
    ("guard", GUARD),
    ("enroller", seed::ENROLLER),
    ("supervisor", seed::SUPERVISOR),
    ("auditor", "demo-auditor"),
    ("admin", "demo-admin"),
];

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database failed.
    #[error("the database")]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error("the ledger")]
    Ledger(#[from] LedgerError),
    /// The template key failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A synthetic portrait could not be made.
    #[error("drawing a synthetic portrait")]
    Portrait(#[from] portrait::PortraitError),
    /// A token could not be made.
    #[error("making the demo's tokens")]
    Auth(#[from] AuthError),
    /// The demo's own configuration was refused (a bug, or a data directory path TOML cannot hold).
    #[error("the demo's configuration")]
    Config(#[from] ConfigError),
    /// A file of the demo could not be read or written.
    #[error("{path}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest or the key file holds something else than the demo wrote.
    #[error("{path}: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A person just registered was gone when their photo was stored (something else writes the
    /// data directory).
    #[error("{0} vanished from the register while the demo was seeding it")]
    Vanished(String),
    /// The data directory holds a ledger the demo did not create.
    #[error("{0} holds a ledger that `tally demo` did not create; give the demo a directory of its own")]
    NotDemo(PathBuf),
}

/// The prison's seed and size, kept in [`MANIFEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The seed the prison was drawn from.
    pub seed: u64,
    /// How many people it holds.
    pub people: usize,
}

/// A data directory ready for the appliance: the ledger open with its `boot` recorded, the prison
/// seeded (the first time) or found (later).
#[derive(Debug)]
pub struct Prepared {
    /// The ledger, for the writer.
    pub ledger: Ledger,
    /// The prison.
    pub prison: Prison,
    /// What seeding did; `None` when the prison was found from an earlier run.
    pub seeded: Option<Seeded>,
}

fn file_error(path: &Path) -> impl Fn(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::File { path: path.to_owned(), source }
}

/// Opens the demo's ledger in `dir`, or creates it and seeds a prison of `people` drawn from `seed`;
/// records the boot (`software` is the name and version recorded) before anything else is written.
pub fn prepare(
    dir: &Path,
    seed: u64,
    people: usize,
    software: &str,
    clock: Arc<dyn Clock>,
) -> Result<Prepared, DemoError> {
    let manifest_path = dir.join(MANIFEST);
    let found = match std::fs::read(&manifest_path) {
        Ok(bytes) => Some(
            serde_json::from_slice::<Manifest>(&bytes)
                .map_err(|e| DemoError::Damaged { path: manifest_path.clone(), reason: e.to_string() })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(file_error(&manifest_path)(e)),
    };
    let mut ledger = match (found, Ledger::open(dir, clock.clone())) {
        (Some(_), Ok(l)) => l,
        (None, Ok(_)) => return Err(DemoError::NotDemo(dir.to_owned())),
        (None, Err(LedgerError::Missing(_))) => Ledger::create(dir, FACILITY_ID, APPLIANCE_ID, clock.clone())?,
        (_, Err(e)) => return Err(e.into()),
    };
    let clean_start = ledger.reader()?.last_run_ended_cleanly()?;
    ledger.append(vec![Event::Boot(Boot { software: software.to_owned(), clean_start })])?;
    if let Some(m) = found {
        return Ok(Prepared { ledger, prison: Prison::plan(m.seed, m.people), seeded: None });
    }
    let prison = Prison::plan(seed, people);
    let seeded = seed::seed(&mut ledger, dir, &prison, clock.as_ref())?;
    // Written last: a directory whose seeding was cut short holds a ledger and no manifest, and is
    // refused rather than taken for a whole prison.
    let text = serde_json::to_vec(&Manifest { seed, people })
        .map_err(|e| DemoError::Damaged { path: manifest_path.clone(), reason: e.to_string() })?;
    let partial = dir.join(format!("{MANIFEST}.partial"));
    std::fs::write(&partial, text).map_err(file_error(&partial))?;
    std::fs::rename(&partial, &manifest_path).map_err(file_error(&manifest_path))?;
    Ok(Prepared { ledger, prison, seeded: Some(seeded) })
}

/// The controllers' secure channel key: read from [`KEY_FILE`], or made at random and written there
/// (mode 0600) the first time. Returns the file and the key.
pub fn controller_key(dir: &Path) -> Result<(PathBuf, Key), DemoError> {
    let path = dir.join(KEY_FILE);
    if !path.exists() {
        crate::gate::scbk::create(&path)
            .map_err(|e| DemoError::Damaged { path: path.clone(), reason: e.to_string() })?;
    }
    let key =
        crate::gate::scbk::read(&path).map_err(|e| DemoError::Damaged { path: path.clone(), reason: e.to_string() })?;
    Ok((path, key))
}

/// `s` as a TOML string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The demo facility's configuration, for data in `dir`, the controllers on serial port `port` and
/// their key in `key_file`. Built as text and validated like any configuration file.
pub fn config(dir: &Path, port: &str, key_file: &Path) -> Result<Config, ConfigError> {
    let lane = |id: &str, from: &str, to: &str, address: u8| {
        format!(
            "[[lane]]\nid = \"{id}\"\nfrom_zone = \"{from}\"\nto_zone = \"{to}\"\nreader = \"simulated\"\n\
             turnstile_port = {port}\nturnstile_address = {address}\nscbk_file = {key}\n\
             pulse_ms = 2000\npassage_timeout_s = 6\n",
            port = quoted(port),
            key = quoted(&key_file.to_string_lossy()),
        )
    };
    let text = format!(
        r#"data_dir = {dir}
[facility]
id = "{FACILITY_ID}"
name = "{FACILITY_NAME}"
utc_offset = "+01:00"
[appliance]
id = "{APPLIANCE_ID}"
[[zone]]
id = "{reception}"
name = "Reception"
[[zone]]
id = "{block_a}"
name = "Block A"
[[zone]]
id = "{yard}"
name = "Yard"
[access]
anti_passback = "hard"
[[access.rule]]
categories = ["staff"]
zones = ["*"]
[[access.rule]]
categories = ["inmate"]
zones = ["{reception}", "{block_a}", "{yard}"]
[[access.rule]]
categories = ["visitor"]
zones = ["{reception}"]
{main}{door}"#,
        dir = quoted(&dir.to_string_lossy()),
        reception = plan::RECEPTION,
        block_a = plan::BLOCK_A,
        yard = plan::YARD,
        main = lane(MAIN_GATE, "outside", plan::RECEPTION, 1),
        door = lane(BLOCK_A_DOOR, plan::RECEPTION, plan::BLOCK_A, 2),
    );
    Config::parse(Path::new("(tally demo)"), &text)
}

/// A token for each role of [`TOKENS`], revoking those of an earlier run first. The secrets are
/// returned once, as always, and stored only as hashes.
pub fn issue_tokens(dir: &Path, now: &str) -> Result<Vec<(&'static str, Secret)>, DemoError> {
    let mut store = Store::open(dir, Open::MustExist)?;
    let mut out = Vec::with_capacity(TOKENS.len());
    for (role, name) in TOKENS {
        store.token_revoke(name, now)?;
        let (secret, _) = crate::auth::create(&mut store, name, role, now)?;
        out.push((role, secret));
    }
    Ok(out)
}

/// Appends `events` through the writer and returns once they are durable and folded into the census
/// (as the API's writes do), with their sequence numbers.
pub async fn record(facility: &Facility, writer: &Writer, events: Vec<Event>) -> Result<Vec<u64>, WriteError> {
    let appended = writer.append(events).await?;
    if let Some(&last) = appended.seqs.last() {
        let _ = tokio::time::timeout(Duration::from_secs(5), facility.census.wait_for(last)).await;
    }
    Ok(appended.seqs)
}

/// The wall clock as `HH:MM:SS`, in the facility's local time.
pub fn local_time(facility: &Facility) -> String {
    let now = time::OffsetDateTime::from(facility.clock.wall()).to_offset(facility.config.utc_offset);
    format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second())
}

/// Where the demo's lines go (the command line prints them).
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

/// What the demo's tasks run on: the running appliance and its simulated devices.
pub struct Running {
    /// The appliance's parts, shared with the API.
    pub facility: Arc<Facility>,
    /// The ledger writer.
    pub writer: Writer,
    /// The prison.
    pub prison: Arc<Prison>,
    /// Each lane's simulated reader.
    pub fingers: HashMap<String, Finger>,
    /// The simulated controllers.
    pub turnstiles: SimHandle,
    /// When the shift-change roll-call starts, from now.
    pub rollcall_after: Duration,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("rollcall_after", &self.rollcall_after).finish_non_exhaustive()
    }
}

/// The demo's running tasks. [`Tasks::stop`] ends them.
#[derive(Debug)]
pub struct Tasks {
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts the narrator, the gate traffic and the roll-call. Call inside a tokio runtime.
pub fn start(running: Running, say: Say) -> Tasks {
    let (stop, stopped) = watch::channel(false);
    let running = Arc::new(running);
    let handles = vec![
        tokio::spawn(narrate::run(running.clone(), say.clone(), stopped.clone())),
        tokio::spawn(traffic::run(running.clone(), say.clone(), stopped.clone())),
        tokio::spawn(rollcall::run(running, say, stopped)),
    ];
    Tasks { stop, handles }
}

impl Tasks {
    /// Stops the tasks and waits for them (a roll-call or a passage under way is left as it is).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

/// Sleeps `d`, or less if the demo is stopped; returns whether it was stopped.
pub(crate) async fn pause(d: Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    if *stopped.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(d) => *stopped.borrow(),
        _ = stopped.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_has_three_zones_two_lanes_on_one_bus_and_hard_anti_passback() {
        let c = config(Path::new("/tmp/with \"quotes\" and \\"), "/dev/pts/9", Path::new("/k/osdp.scbk")).unwrap();
        assert_eq!(c.data_dir, Path::new("/tmp/with \"quotes\" and \\"));
        let zones: Vec<&str> = c.zones.iter().map(|z| z.id.as_str()).collect();
        assert_eq!(zones, [plan::RECEPTION, plan::BLOCK_A, plan::YARD]);
        let lanes: Vec<(&str, &str, &str, u8)> = c
            .lanes
            .iter()
            .map(|l| (l.id.as_str(), l.from_zone.as_str(), l.to_zone.as_str(), l.turnstile_address))
            .collect();
        assert_eq!(lanes, [(MAIN_GATE, "outside", "reception", 1), (BLOCK_A_DOOR, "reception", "block-a", 2)]);
        assert!(c.lanes.iter().all(|l| l.turnstile_port == "/dev/pts/9" && l.scbk_file.is_some()));
        assert_eq!(c.access.anti_passback, crate::config::AntiPassback::Hard);
        assert_eq!(c.access.rules.len(), 3);
    }

    #[test]
    fn the_key_is_made_once_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = controller_key(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let (again, same) = controller_key(dir.path()).unwrap();
        assert!(again == path && same == key, "the second start reads the key the first one made");
    }
}
