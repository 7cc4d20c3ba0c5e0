//! Keeping the gallery in step with the store while the service runs, whoever changed the store.
//!
//! Templates are stored by the API (which indexes them itself), but also by other processes: `tally
//! people import` while the service runs, or a purge. Each of them records what it did in the ledger
//! after the store's commit (an `enrolment` entry names the person), so the ledger says whose templates
//! changed: [`follow`] reads the entries the census has folded since its last look and reloads those
//! people's templates ([`Gallery::reload_person`]). Reloading is idempotent, so the API's own enrolments
//! cost a look and change nothing.
//!
//! It owns only that loop and its position in the ledger; the SQL is the store's, the sealing the
//! vault's, the index the gallery's.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use tracing::{info, warn};

use super::gallery::{Gallery, GalleryError};
use super::vault::Vault;
use crate::census::live::LiveCensus;
use crate::ledger::entry::{Entry, Event};
use crate::ledger::{LedgerError, LedgerReader};
use crate::store::{Open, Store, StoreError};

/// Entries read at once.
const BATCH: u64 = 1024;

/// Why a look at the ledger did not bring the gallery in step.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The ledger could not be read.
    #[error("reading the ledger")]
    Ledger(#[from] LedgerError),
    /// An entry did not parse (the census would have stopped on it first).
    #[error("entry {seq} does not parse")]
    Entry {
        /// Its sequence number.
        seq: u64,
    },
    /// The store could not be opened.
    #[error("opening the store")]
    Store(#[from] StoreError),
    /// A person's templates could not be reloaded.
    #[error("reloading the templates of {person}")]
    Reload {
        /// The person.
        person: String,
        /// Why.
        #[source]
        source: GalleryError,
    },
}

/// What the gallery needs to follow the store.
#[derive(Debug)]
pub struct Follower<'a> {
    /// The data directory (ledger and store).
    pub data_dir: &'a Path,
    /// The gallery to keep in step.
    pub gallery: &'a Gallery,
    /// Opens the stored templates.
    pub vault: &'a Vault,
}

impl Follower<'_> {
    /// Reloads the templates of everyone whose templates entries `from..to` say changed; returns the
    /// position reached (`to`, or where an error stopped it, which is retried at the next look).
    pub fn apply(&self, from: u64, to: u64) -> Result<u64, SyncError> {
        let mut reader = LedgerReader::open(self.data_dir)?;
        let mut next = from;
        while next < to {
            let batch = reader.entries(next, BATCH.min(to - next))?;
            if batch.is_empty() {
                break;
            }
            let mut people = BTreeSet::new();
            for (i, bytes) in batch.iter().enumerate() {
                let seq = next + i as u64;
                let entry = Entry::parse(bytes).map_err(|_| SyncError::Entry { seq })?;
                if let Some(person) = changed_templates(&entry.event) {
                    people.insert(person.to_owned());
                }
            }
            if !people.is_empty() {
                let store = Store::open(self.data_dir, Open::MustExist)?;
                for person in people {
                    let done = self
                        .gallery
                        .reload_person(&store, self.vault, &person)
                        .map_err(|source| SyncError::Reload { person: person.clone(), source })?;
                    if done.added + done.removed > 0 {
                        info!(%person, added = done.added, removed = done.removed, "gallery reloaded from the store");
                    }
                    if done.skipped > 0 {
                        warn!(%person, skipped = done.skipped, "stored templates that do not open were left out");
                    }
                }
            }
            next += batch.len() as u64;
        }
        Ok(next)
    }
}

/// The person whose stored templates an entry says changed. Not `templates_deleted`: it is written
/// before the deletion (a reload then could put back what the deletion is taking out), and the retention
/// task removes what it deletes from the gallery itself, whoever recorded it.
fn changed_templates(event: &Event) -> Option<&str> {
    match event {
        Event::Enrolment(e) => Some(&e.person),
        _ => None,
    }
}

/// Follows the census: each time it has folded new entries, applies them from `from` on. Runs until
/// the task is aborted. `from` is the ledger's size read before the gallery was loaded, so that nothing
/// stored between the load and the census's fold is missed.
pub async fn follow(
    census: Arc<LiveCensus>,
    gallery: Arc<Gallery>,
    vault: Arc<Vault>,
    data_dir: std::path::PathBuf,
    from: u64,
) {
    let mut next = from;
    loop {
        census.wait_for(next).await;
        let to = census.next_seq();
        let (gallery, vault, dir) = (gallery.clone(), vault.clone(), data_dir.clone());
        let applied = tokio::task::spawn_blocking(move || {
            Follower { data_dir: &dir, gallery: &gallery, vault: &vault }.apply(next, to)
        })
        .await;
        match applied {
            Ok(Ok(reached)) => next = reached,
            Ok(Err(e)) => {
                warn!(cause = %e, "the gallery cannot follow the store; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            Err(e) => {
                warn!(cause = %e, "gallery follower task failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    }
}
