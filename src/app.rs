//! The appliance's parts put together: what `tally serve` (and the demo) run on top of the ledger
//! writer — the template vault, the gallery of everyone enrolled, the census following the ledger,
//! the access policy, and the lanes.
//!
//! Start-up order: the ledger is open and its writer running (the caller's); then the vault key is
//! read (created at the first start), every template is decrypted into the gallery, the census folds
//! the whole ledger and starts following the writer, and only then do the lanes start — so that no
//! lane decides on a census that has not caught up with the record. The gallery then follows the
//! ledger ([`crate::people::sync`]), so that templates another process stores are identified without
//! a restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tracing::{info, warn};

use crate::api::writer::Writer;
use crate::census::Census;
use crate::census::live::{LiveCensus, LiveError};
use crate::clock::Clock;
use crate::config::Config;
use crate::fingerprint::index::IndexConfig;
use crate::gate::decide::PolicyDecider;
use crate::gate::handle::LaneHandle;
use crate::gate::operating_point::OperatingPoint;
use crate::gate::runner::EngineIdentifier;
use crate::gate::service::{Gate, GateError};
use crate::ledger::LedgerReader;
use crate::people::gallery::{Gallery, GalleryError};
use crate::people::vault::{Vault, VaultError};
use crate::policy::Policy;
use crate::store::{Open, Store, StoreError};

/// Why the appliance could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The template key could not be read or created.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The database could not be opened.
    #[error("opening the database")]
    Store(#[from] StoreError),
    /// The templates could not be loaded.
    #[error("loading the templates")]
    Gallery(#[from] GalleryError),
    /// The ledger could not be folded.
    #[error("folding the ledger into the census")]
    Census(#[from] LiveError),
    /// No stored template opens with the key file: it is not the key they were sealed with.
    #[error(
        "none of the {skipped} stored templates opens with the template key file: it is not their key (restore the right keys/templates.key)"
    )]
    WrongKey {
        /// Templates that did not open.
        skipped: u64,
    },
    /// The lanes could not be started.
    #[error("starting the lanes")]
    Gate(#[from] GateError),
}

/// Everything the API works with besides the ledger.
#[derive(Debug)]
pub struct Facility {
    /// The configuration (zones, lanes, access rules).
    pub config: Config,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// Seals templates and photos.
    pub vault: Arc<Vault>,
    /// Everyone enrolled, for identification.
    pub gallery: Arc<Gallery>,
    /// Where everyone is.
    pub census: Arc<LiveCensus>,
    /// Who may go where.
    pub policy: Arc<Policy>,
    /// The running lanes, by id.
    pub lanes: BTreeMap<String, LaneHandle>,
    /// The identification operating point.
    pub operating_point: OperatingPoint,
}

/// The census of `config`'s facility, empty.
pub fn empty_census(config: &Config) -> Census {
    let lanes = config.lanes.iter().map(|l| (l.id.clone(), (l.from_zone.clone(), l.to_zone.clone()))).collect();
    Census::new(&config.outside, lanes)
}

/// Opens the vault, the gallery and the census on the ledger in `config.data_dir`, starts the census
/// following `writer`, then starts the configured lanes. Call inside a tokio runtime.
pub fn start(config: &Config, clock: Arc<dyn Clock>, writer: &Writer) -> Result<(Facility, Option<Gate>), AppError> {
    let dir: &Path = &config.data_dir;
    // Where the gallery starts following the ledger: read before the load, so that templates stored
    // meanwhile by another process are brought in by the follower.
    let follow_from = LedgerReader::open(dir).and_then(|mut r| r.latest_checkpoint()).map_or(0, |(size, _)| size);
    let store = Store::open(dir, Open::MustExist)?;
    // The key is created only with the first template: a register that holds templates and has lost
    // its key must stop here rather than start over with a key that opens none of them.
    let vault = Arc::new(if store.template_count()? == 0 { Vault::open_or_create(dir)? } else { Vault::open(dir)? });
    let (gallery, report) = Gallery::load(&store, &vault, IndexConfig::default())?;
    drop(store);
    if report.loaded == 0 && report.skipped > 0 {
        return Err(AppError::WrongKey { skipped: report.skipped });
    }
    if report.skipped > 0 {
        warn!(skipped = report.skipped, "templates that do not decrypt or decode were left out of the gallery");
    }
    info!(templates = report.loaded, "gallery loaded");
    let gallery = Arc::new(gallery);
    let census = LiveCensus::load(dir, empty_census(config))?;
    info!(entries = census.next_seq(), "census folded");
    census.follow(writer.sizes());
    tokio::spawn(crate::people::sync::follow(
        census.clone(),
        gallery.clone(),
        vault.clone(),
        dir.to_owned(),
        follow_from,
    ));
    let policy = Arc::new(Policy::new(config));
    let operating_point = OperatingPoint { max_fpir: config.identification.max_false_identification };
    let gate = if config.lanes.is_empty() {
        None
    } else {
        let identifier = EngineIdentifier { gallery: gallery.clone(), operating_point };
        let decider = PolicyDecider { policy: policy.clone(), census: census.clone(), clock: clock.clone() };
        Some(crate::gate::service::start(
            &config.lanes,
            Arc::new(identifier),
            Arc::new(decider),
            Arc::new(writer.clone()),
        )?)
    };
    let lanes = gate.as_ref().map(|g| g.lanes.clone()).unwrap_or_default();
    let facility = Facility { config: config.clone(), clock, vault, gallery, census, policy, lanes, operating_point };
    Ok((facility, gate))
}
