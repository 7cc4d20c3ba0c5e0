//! The ledger writer: one thread owns the [`Ledger`] and commits what the API asks, in groups.
//!
//! Requests arrive on a channel; the thread takes every request waiting (up to [`MAX_BATCH`] events) and
//! commits them in one transaction, so under load many notes share one fsync and one signature. Each
//! caller hears back only after the commit: an acknowledged entry is durable. A batch refused for a
//! reason of its own (not the disk's) is retried request by request, so one bad request fails alone.
//! After a fatal error the ledger is reopened from disk before the next write; while that fails, every
//! write is refused with the reason (the lanes fail secure on it).

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, warn};

use crate::clock::Clock;
use crate::ledger::entry::{Event, Shutdown};
use crate::ledger::{Appended, Ledger, LedgerError};

/// Most events committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Requests that may wait for the writer before callers are told to retry.
const QUEUE: usize = 4096;

/// Why a write was not made.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The ledger refused this request (it is invalid); nothing was written.
    #[error(transparent)]
    Refused(LedgerError),
    /// The ledger cannot be written now; nothing was written.
    #[error("the ledger cannot be written: {0}")]
    Unavailable(String),
}

enum Request {
    Append { events: Vec<Event>, reply: oneshot::Sender<Result<Appended, WriteError>> },
    CheckClock,
    Shutdown { reason: String, reply: oneshot::Sender<Result<Appended, WriteError>> },
}

/// A handle to send writes to the writer thread. Cloned freely; the thread stops when all are dropped.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
    /// The ledger's size after the writer's last commit.
    size: watch::Receiver<u64>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Append { events, .. } => write!(f, "Append({} events)", events.len()),
            Request::CheckClock => f.write_str("CheckClock"),
            Request::Shutdown { reason, .. } => write!(f, "Shutdown({reason})"),
        }
    }
}

impl Writer {
    /// Starts the writer thread on `ledger`. `data_dir` and `clock` are kept to reopen it after a fatal error.
    pub fn spawn(
        mut ledger: Ledger,
        data_dir: std::path::PathBuf,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<(Writer, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (size_tx, size) = watch::channel(ledger.size().unwrap_or(0));
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run(Some(ledger), rx, &data_dir, clock, &size_tx))?;
        Ok((Writer { tx, size }, thread))
    }

    /// Sees the ledger's size change after every commit (the census follows the ledger with it).
    pub fn sizes(&self) -> watch::Receiver<u64> {
        self.size.clone()
    }

    /// Appends events; returns once they are durable.
    pub async fn append(&self, events: Vec<Event>) -> Result<Appended, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Append { events, reply })
            .await
            .map_err(|_| WriteError::Unavailable("the ledger writer has stopped".into()))?;
        rx.await.map_err(|_| WriteError::Unavailable("the ledger writer stopped during the write".into()))?
    }

    /// Records the `shutdown` entry and stops the writer; returns once the entry is durable. Writes sent
    /// after this are refused.
    pub async fn shutdown(&self, reason: &str) -> Result<Appended, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Shutdown { reason: reason.to_owned(), reply })
            .await
            .map_err(|_| WriteError::Unavailable("the ledger writer has stopped".into()))?;
        rx.await.map_err(|_| WriteError::Unavailable("the ledger writer stopped during the write".into()))?
    }

    /// Asks the writer to record a clock change if the wall clock jumped.
    pub async fn check_clock(&self) {
        let _ = self.tx.send(Request::CheckClock).await;
    }
}

fn run(
    mut ledger: Option<Ledger>,
    mut rx: mpsc::Receiver<Request>,
    data_dir: &std::path::Path,
    clock: Arc<dyn Clock>,
    size: &watch::Sender<u64>,
) {
    let mut shutdown = None;
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Vec::new();
        let mut n_events = 0;
        let mut check_clock = false;
        let mut next = Some(first);
        while let Some(req) = next.take() {
            match req {
                Request::CheckClock => check_clock = true,
                Request::Shutdown { reason, reply } => {
                    shutdown = Some((reason, reply));
                    break;
                }
                Request::Append { events, reply } => {
                    n_events += events.len();
                    batch.push((events, reply));
                }
            }
            if n_events < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        reopen_if_needed(&mut ledger, data_dir, &clock);
        let Some(l) = ledger.as_mut() else {
            for (_, reply) in batch {
                let _ = reply.send(Err(WriteError::Unavailable("the ledger could not be reopened".into())));
            }
            continue;
        };
        if check_clock {
            match l.check_clock() {
                Ok(Some(a)) => warn!(size = a.size, "wall clock jumped; clock_change recorded"),
                Ok(None) => {}
                Err(e) => error!(cause = %e, "clock check failed"),
            }
        }
        if !batch.is_empty()
            && let Err(fatal) = commit(l, batch)
        {
            error!(cause = %fatal, "ledger write failed fatally; reopening from disk before the next write");
            ledger = None;
        }
        if let Some(Ok(now)) = ledger.as_mut().map(Ledger::size) {
            size.send_if_modified(|s| std::mem::replace(s, now) != now);
        }
        if shutdown.is_some() {
            break;
        }
    }
    // Record the shutdown: as asked, or because every handle was dropped without asking.
    let (reason, reply) = shutdown.map_or(("writer dropped".to_owned(), None), |(r, reply)| (r, Some(reply)));
    reopen_if_needed(&mut ledger, data_dir, &clock);
    let result = match ledger.as_mut() {
        Some(l) => {
            l.append(vec![Event::Shutdown(Shutdown { reason })]).map_err(|e| WriteError::Unavailable(e.to_string()))
        }
        None => Err(WriteError::Unavailable("the ledger could not be reopened".into())),
    };
    if let Err(e) = &result {
        error!(cause = %e, "could not record the shutdown");
    }
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
    // Anything still queued is refused: the channel closes when `rx` drops here.
}

fn reopen_if_needed(ledger: &mut Option<Ledger>, data_dir: &std::path::Path, clock: &Arc<dyn Clock>) {
    if ledger.is_none() {
        match Ledger::open(data_dir, clock.clone()) {
            Ok(l) => {
                info!("ledger reopened after a fatal error");
                *ledger = Some(l);
            }
            Err(e) => error!(cause = %e, "ledger still cannot be opened; refusing writes"),
        }
    }
}

type Reply = oneshot::Sender<Result<Appended, WriteError>>;

/// Commits a batch; on a request error retries each request alone. Returns the fatal error, if any.
fn commit(l: &mut Ledger, batch: Vec<(Vec<Event>, Reply)>) -> Result<(), LedgerError> {
    let counts: Vec<usize> = batch.iter().map(|(e, _)| e.len()).collect();
    let all: Vec<Event> = batch.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
    match l.append(all) {
        Ok(a) => {
            let mut seqs = a.seqs.into_iter();
            for ((_, reply), n) in batch.into_iter().zip(counts) {
                let mine = seqs.by_ref().take(n).collect();
                let _ = reply.send(Ok(Appended { seqs: mine, size: a.size, checkpoint: a.checkpoint.clone() }));
            }
            Ok(())
        }
        Err(e) if e.is_fatal() || e.is_busy() => {
            let why = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(WriteError::Unavailable(why.clone())));
            }
            if e.is_fatal() { Err(e) } else { Ok(()) }
        }
        Err(e) if batch.len() == 1 => {
            if let Some((_, reply)) = batch.into_iter().next() {
                let _ = reply.send(Err(WriteError::Refused(e)));
            }
            Ok(())
        }
        Err(_) => {
            for (events, reply) in batch {
                commit(l, vec![(events, reply)])?;
            }
            Ok(())
        }
    }
}
