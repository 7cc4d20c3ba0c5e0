//! Carrying out the retention rule: `tally people purge`, and the task of `tally serve` that runs it at
//! start, every hour, and whenever another process (the command line) has recorded a deletion.
//!
//! # Order of one run ([`Purger::run`])
//! 1. **clock**: record a `clock_change` if the wall clock jumped, so the measure below discounts it;
//! 2. **plan**: fold the ledger's entries of the kinds the rule reads (one read snapshot) and ask the
//!    register only about the people whose period is over ([`super::plan`]);
//! 3. **record**: one durable append of a `templates_deleted` entry per person with something not yet
//!    recorded — only if the last `templates_deleted` entry is still the one the plan saw
//!    ([`Ledger::append_if_last`]): when another process (the serve task and the command line) recorded
//!    meanwhile, the plan is made again, so one deletion is never recorded twice;
//! 4. **delete**: each person's templates and photo from the store, one transaction per person;
//! 5. **forget**: remove from the gallery (when there is one) every template of everyone whose period
//!    is over.
//!
//! A crash before 3 commits leaves everything as it was. A crash between 3 and 4 leaves templates
//! whose deletion is recorded: the next run deletes them without a second entry (see the parent
//! module's "Crash and repetition"). The ledger is only ever appended to. Both writers — the serve
//! task and the command line — write through their own [`Ledger`], which the store serialises across
//! processes, as `tally ledger note` does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info, warn};

use super::{Facts, Plan, plan};
use crate::clock::{self, Clock};
use crate::config::RetentionSetting;
use crate::ledger::entry::{Entry, EntryError};
use crate::ledger::{Ledger, LedgerError};
use crate::people::gallery::Gallery;
use crate::store::{Open, Store, StoreError};

/// Times a run plans again when another writer recorded a deletion meanwhile.
const ATTEMPTS: usize = 3;

/// Why a run stopped. Whatever was recorded stays recorded; the next run finishes it.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The register could not be read or written.
    #[error("the register")]
    Store(#[from] StoreError),
    /// An entry on disk does not decode (`tally ledger verify` will name it).
    #[error("entry {seq} does not decode")]
    Entry {
        /// Its seq.
        seq: u64,
        /// Why.
        #[source]
        source: EntryError,
    },
    /// Another writer kept recording deletions while this run planned.
    #[error("another process kept recording deletions; run again")]
    Contended,
    /// A fault injected by a test, after the record and before the deletion.
    #[cfg(test)]
    #[error("injected fault after the record")]
    Injected,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The rule's plan, carried out unless `dry_run`.
    pub plan: Plan,
    /// Seq of each new `templates_deleted` entry, in the order of the plan's recording actions.
    pub recorded: Vec<u64>,
    /// Templates deleted from the store.
    pub templates_deleted: usize,
    /// Photos deleted from the store.
    pub photos_deleted: usize,
    /// Templates removed from the gallery.
    pub forgotten: usize,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// Folds the ledger in `store` for the rule.
fn facts(store: &Store) -> Result<Facts, RetentionError> {
    let mut facts = Facts::default();
    store.retention_entries(|seq, bytes| -> Result<(), RetentionError> {
        let entry = Entry::parse_lenient(bytes).map_err(|source| RetentionError::Entry { seq, source })?;
        facts.apply(&entry);
        Ok(())
    })?;
    Ok(facts)
}

/// Plans at the clock's time and writes nothing (`tally people purge --dry-run`). A clock jump not yet
/// recorded is not discounted.
pub fn dry_run(data_dir: &Path, clock: &dyn Clock, setting: &RetentionSetting) -> Result<Outcome, RetentionError> {
    let store = Store::open(data_dir, Open::MustExist)?;
    let facts = facts(&store)?;
    let plan = plan(&facts, setting, clock.wall(), |p| store.retention_holdings(p))?;
    Ok(Outcome { plan, recorded: Vec::new(), templates_deleted: 0, photos_deleted: 0, forgotten: 0, dry_run: true })
}

/// Runs the rule on one data directory.
#[derive(Debug)]
pub struct Purger {
    ledger: Ledger,
    store: Store,
    clock: Arc<dyn Clock>,
    setting: RetentionSetting,
    /// Makes the next run stop after the record, before the deletion (a crash there).
    #[cfg(test)]
    pub(super) fail_after_record: bool,
}

impl Purger {
    /// A purger writing through `ledger` (opened, its identity checked, by the caller) on the register in
    /// `data_dir`.
    pub fn new(
        ledger: Ledger,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        setting: RetentionSetting,
    ) -> Result<Purger, RetentionError> {
        let store = Store::open(data_dir, Open::MustExist)?;
        Ok(Purger {
            ledger,
            store,
            clock,
            setting,
            #[cfg(test)]
            fail_after_record: false,
        })
    }

    /// One run (see the module docs for the order). `gallery`: the running service's, to forget the
    /// templates deleted.
    pub fn run(&mut self, gallery: Option<&Gallery>) -> Result<Outcome, RetentionError> {
        // 1. clock
        self.ledger.check_clock()?;
        let mut attempt = 0;
        let (plan, recorded) = loop {
            // 2. plan
            let facts = facts(&self.store)?;
            let plan = plan(&facts, &self.setting, self.clock.wall(), |p| self.store.retention_holdings(p))?;
            let events: Vec<_> = plan.actions.iter().filter_map(super::Action::event).collect();
            if events.is_empty() {
                break (plan, Vec::new());
            }
            // 3. record
            match self.ledger.append_if_last("templates_deleted", plan.last_recorded, events) {
                Ok(a) => break (plan, a.seqs),
                Err(LedgerError::Stale { .. }) if attempt + 1 < ATTEMPTS => attempt += 1,
                Err(LedgerError::Stale { .. }) => return Err(RetentionError::Contended),
                Err(e) => return Err(e.into()),
            }
        };
        #[cfg(test)]
        if std::mem::take(&mut self.fail_after_record) {
            return Err(RetentionError::Injected);
        }
        // 4. delete
        let now = clock::rfc3339(self.clock.wall());
        let (mut templates_deleted, mut photos_deleted) = (0, 0);
        for a in &plan.actions {
            let ids = self.store.retention_delete(&a.person, &a.fingers(), a.photo(), &now)?;
            templates_deleted += ids.len();
            photos_deleted += usize::from(a.photo());
            info!(
                person = %a.person,
                fingers = ?a.fingers(),
                photo = a.photo(),
                release = a.release.seq,
                days = a.elapsed_days,
                "biometric data deleted under the retention rule"
            );
        }
        // 5. forget
        let forgotten = gallery.map_or(0, |g| g.remove_people(&plan.expired.iter().map(String::as_str).collect()));
        Ok(Outcome { plan, recorded, templates_deleted, photos_deleted, forgotten, dry_run: false })
    }
}

/// When the serve task runs the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// A run at least this often (an hour).
    pub every: Duration,
    /// How often the last `templates_deleted` entry is looked up, to run at once when another process
    /// recorded one (so a purge from the command line reaches the running gallery quickly).
    pub watch: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { every: Duration::from_secs(3600), watch: Duration::from_secs(10) }
    }
}

/// Opens the ledger and runs the rule once, forgetting in `gallery`; logs the outcome.
fn run_once(dir: &Path, clock: &Arc<dyn Clock>, setting: RetentionSetting, gallery: &Gallery) {
    let outcome = Ledger::open(dir, clock.clone())
        .map_err(RetentionError::from)
        .and_then(|l| Purger::new(l, dir, clock.clone(), setting))
        .and_then(|mut p| p.run(Some(gallery)));
    match outcome {
        Ok(o) if o.templates_deleted + o.photos_deleted + o.forgotten > 0 => info!(
            people = o.plan.actions.len(),
            templates = o.templates_deleted,
            photos = o.photos_deleted,
            forgotten = o.forgotten,
            "retention run"
        ),
        Ok(_) => {}
        Err(e) => error!(cause = %e, "retention run failed; it is tried again at the next run"),
    }
}

/// The serve task; [`RetentionTask::stop`] ends it.
#[derive(Debug)]
pub struct RetentionTask {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl RetentionTask {
    /// Stops the task, waiting for a run in progress to finish (so that nothing is recorded after the
    /// service records its shutdown).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.handle.await {
            warn!(cause = %e, "the retention task ended abnormally");
        }
    }
}

/// Starts the serve task: a run at once, then every `schedule.every`, and whenever the last
/// `templates_deleted` entry changes under it (checked every `schedule.watch`). Each run is blocking
/// work on its own connections, followed by `after_run` (the service has its census catch up with the
/// entries written outside its ledger writer). Call inside a tokio runtime.
pub fn spawn(
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    setting: RetentionSetting,
    gallery: Arc<Gallery>,
    schedule: Schedule,
    after_run: Arc<dyn Fn() + Send + Sync>,
) -> RetentionTask {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(async move {
        let mut every = tokio::time::interval(schedule.every);
        let mut watch = tokio::time::interval(schedule.watch);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first run is `every`'s immediate tick; the watch starts one period later.
        watch.reset();
        let mut seen = None;
        loop {
            tokio::select! {
                _ = stopped.changed() => return,
                _ = every.tick() => {}
                _ = watch.tick() => {
                    let dir = data_dir.clone();
                    let last = tokio::task::spawn_blocking(move || {
                        Store::open(&dir, Open::MustExist).and_then(|s| s.last_templates_deleted())
                    })
                    .await;
                    match last {
                        Ok(Ok(last)) if last != seen => seen = last,
                        Ok(Ok(_)) => continue,
                        Ok(Err(e)) => {
                            warn!(cause = %e, "cannot look for deletions recorded by another process");
                            continue;
                        }
                        Err(e) => {
                            warn!(cause = %e, "retention watch task failed");
                            continue;
                        }
                    }
                }
            }
            let (dir, clock, gallery, after_run) =
                (data_dir.clone(), clock.clone(), gallery.clone(), after_run.clone());
            let done = tokio::task::spawn_blocking(move || {
                run_once(&dir, &clock, setting, &gallery);
                after_run();
                Store::open(&dir, Open::MustExist).and_then(|s| s.last_templates_deleted()).ok().flatten()
            })
            .await;
            match done {
                // Our own entries are no news to the watch.
                Ok(last) => seen = last,
                Err(e) => warn!(cause = %e, "retention run task failed"),
            }
        }
    });
    RetentionTask { stop, handle }
}
