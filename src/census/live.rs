//! The census kept current: the fold of [`super::Census`] over the ledger on disk, caught up after
//! every commit, shared by the lanes (anti-passback), the API and the live event stream.
//!
//! At start-up every entry is folded from the first (on a restored appliance, the archived earlier
//! epochs' entries first, see [`crate::ledger::epochs`]) (the ledger is the truth; nothing of the census is
//! stored). Then [`LiveCensus::follow`] watches the writer's size and reads the new entries back from
//! the database, so what the census shows is exactly what is durable, in ledger order, including
//! entries written by other processes (`tally ledger note`). Each entry folded is also published to
//! subscribers (the Server-Sent Events stream) as a [`LiveEntry`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tracing::{error, warn};

use super::{Census, CensusError};
use crate::ledger::entry::{Entry, EntryError};
use crate::ledger::epochs::{self, EpochError};
use crate::ledger::{LedgerError, LedgerReader};

/// Entries read from the database at a time while catching up.
const BATCH: u64 = 2048;
/// Entries kept for slow subscribers before they are told they lagged.
const SUBSCRIBER_QUEUE: usize = 1024;
/// How often the follower looks for entries written by other processes, which the writer's sizes do
/// not announce.
const OTHER_WRITERS: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the census could not follow the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The ledger could not be read.
    #[error("reading the ledger")]
    Ledger(#[from] LedgerError),
    /// An entry on disk does not decode (the verifier will name it).
    #[error("entry {seq} does not decode")]
    Entry {
        /// Its sequence number.
        seq: u64,
        /// Why.
        #[source]
        source: EntryError,
    },
    /// The fold refused an entry.
    #[error(transparent)]
    Census(#[from] CensusError),
    /// An archived earlier epoch could not be read.
    #[error(transparent)]
    Epochs(#[from] EpochError),
}

/// One entry as the live stream shows it: never more than the ledger itself holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveEntry {
    /// Sequence number.
    pub seq: u64,
    /// Wall clock when written.
    pub time: String,
    /// Entry kind.
    pub kind: &'static str,
    /// The entry's body.
    pub body: serde_json::Value,
}

/// The census, current with the ledger.
#[derive(Debug)]
pub struct LiveCensus {
    data_dir: PathBuf,
    /// A std RwLock: held only to fold or to read a view, never across an await.
    state: RwLock<Census>,
    next: watch::Sender<u64>,
    events: broadcast::Sender<Arc<LiveEntry>>,
    /// Serialises catching up (the follower, and callers who need their own write folded now).
    catching_up: std::sync::Mutex<()>,
}

impl LiveCensus {
    /// Folds every entry of the ledger in `data_dir` into `empty`, after those of its archived earlier
    /// epochs, if any.
    pub fn load(data_dir: &Path, mut empty: Census) -> Result<Arc<LiveCensus>, LiveError> {
        for archived in epochs::archived(data_dir)? {
            epochs::for_each_entry::<LiveError>(&archived, |entry| Ok(empty.apply(entry)?))?;
            empty.begin_epoch();
        }
        let (next, _) = watch::channel(empty.next_seq());
        let (events, _) = broadcast::channel(SUBSCRIBER_QUEUE);
        let live = Arc::new(LiveCensus {
            data_dir: data_dir.to_owned(),
            state: RwLock::new(empty),
            next,
            events,
            catching_up: std::sync::Mutex::new(()),
        });
        live.catch_up()?;
        Ok(live)
    }

    /// Reads and folds every entry written since the last call; returns the next sequence number.
    pub fn catch_up(&self) -> Result<u64, LiveError> {
        let _one_at_a_time = self.catching_up.lock().unwrap_or_else(|e| e.into_inner());
        let mut reader = LedgerReader::open(&self.data_dir)?;
        loop {
            let from = self.next_seq();
            let batch = reader.entries(from, BATCH)?;
            if batch.is_empty() {
                return Ok(from);
            }
            let mut entries = Vec::with_capacity(batch.len());
            for (i, bytes) in batch.iter().enumerate() {
                let seq = from + i as u64;
                entries.push(Entry::parse(bytes).map_err(|source| LiveError::Entry { seq, source })?);
            }
            {
                let mut census = self.state.write().unwrap_or_else(|e| e.into_inner());
                for entry in &entries {
                    census.apply(entry)?;
                }
            }
            let next = from + entries.len() as u64;
            self.next.send_replace(next);
            if self.events.receiver_count() > 0 {
                for entry in entries {
                    let _ = self.events.send(Arc::new(live_entry(&entry)));
                }
            }
        }
    }

    /// The sequence number the next entry folded will have.
    pub fn next_seq(&self) -> u64 {
        *self.next.borrow()
    }

    /// Runs `f` on the census as it is now.
    pub fn read<T>(&self, f: impl FnOnce(&Census) -> T) -> T {
        f(&self.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Resolves once entry `seq` has been folded (so a caller's own write shows in what it reads next).
    pub async fn wait_for(&self, seq: u64) {
        let mut next = self.next.subscribe();
        let _ = next.wait_for(|n| *n > seq).await;
    }

    /// Every entry folded from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEntry>> {
        self.events.subscribe()
    }

    /// Follows the writer: catches up every time the ledger's size changes, and every [`OTHER_WRITERS`]
    /// for what other processes wrote, until `sizes` closes.
    pub fn follow(self: &Arc<Self>, mut sizes: watch::Receiver<u64>) -> tokio::task::JoinHandle<()> {
        let live = self.clone();
        tokio::spawn(async move {
            loop {
                let caught = {
                    let live = live.clone();
                    tokio::task::spawn_blocking(move || live.catch_up()).await
                };
                match caught {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => error!(cause = %e, "the census cannot follow the ledger"),
                    Err(e) => warn!(cause = %e, "census catch-up task failed"),
                }
                // Another process (an import, a purge) writes without our writer knowing: look anyway
                // every OTHER_WRITERS.
                tokio::select! {
                    changed = sizes.changed() => if changed.is_err() { return },
                    () = tokio::time::sleep(OTHER_WRITERS) => {}
                }
            }
        })
    }
}

/// An entry for the live stream.
pub fn live_entry(entry: &Entry) -> LiveEntry {
    LiveEntry {
        seq: entry.stamp.seq,
        time: entry.stamp.time.clone(),
        kind: entry.event.kind(),
        body: serde_json::to_value(&entry.event).unwrap_or(serde_json::Value::Null),
    }
}
