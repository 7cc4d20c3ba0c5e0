//! A facility of gates: this appliance pulls the others' ledgers over the facility LAN, verifies them,
//! keeps them, cosigns their checkpoints, and raises an alarm in its own ledger when one forks, rolls
//! back or forges its log.
//!
//! Parts: [`verify`] holds the pure checks (no network, no SQL); [`client`] the HTTP calls;
//! [`facility`] the facility-wide census over all logs; this file the sync task that ties them together.
//!
//! # One pull of one peer ([`Sync::pull`])
//! 1. fetch its latest checkpoint and open it with the pinned ledger key (else `peer_bad_signature`);
//! 2. compare it with the latest one we accepted: smaller is `peer_rollback`, same size and another root
//!    `peer_fork`; larger needs a consistency proof from ours, which must verify (else `peer_fork`);
//! 3. fetch the new entries page by page and check them (sequence, chain, author, root);
//! 4. store them with the checkpoint in one transaction, on top of exactly what was verified;
//! 5. cosign the accepted checkpoint with our witness key and give the peer the cosignature. The witness
//!    cosigns only checkpoints accepted in step 4, each consistent with every one accepted before it, so
//!    it never cosigns two inconsistent heads of one log;
//! 6. gossip: fetch the checkpoints the peer holds of the other logs and check them against our own
//!    copies (`peer_split_view` when one log showed the peer another head than it showed us); a head
//!    beyond what we hold of that log is kept and checked once we have pulled that far (step 4).
//!
//! A detection writes an `alarm` entry in our ledger (source `peer:<id>`), once per distinct piece of
//! evidence (the bad note is kept in the store), and changes nothing of what we hold of the peer: its
//! good data stays. A peer that cannot be reached is logged and retried with a doubling delay (up to
//! [`MAX_BACKOFF`]); nothing of this touches the lanes, which never wait on the network.

pub mod client;
pub mod facility;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::api::writer::Writer;
use crate::clock::{self, Clock};
use crate::config::{Config, PeerSetting};
use crate::ledger::cosign::{CosignError, Witness, witness_name};
use crate::ledger::entry::{Alarm, Event};
use crate::ledger::note::{Checkpoint, NoteError, Verifier};
use crate::store::peers::{Evidence, HeldCheckpoint};
use crate::store::{Open, Store, StoreError};
use client::{ClientError, PeerClient};
use verify::{Detected, Step};

/// Longest wait between attempts to reach a peer that does not answer.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Errors of the facility sync.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    /// A peer's token file could not be read.
    #[error("peer {peer}: cannot read its token file {path}")]
    TokenFile {
        /// The peer.
        peer: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A configured key does not parse (the configuration checked it; this is a bug).
    #[error(transparent)]
    Key(#[from] NoteError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A call to the peer failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The peer's entries were refused (not evidence: fetched again later).
    #[error("entries refused: {0}")]
    Entries(#[from] verify::EntriesError),
}

/// One configured peer, ready to pull.
#[derive(Debug)]
struct Peer {
    id: String,
    origin: String,
    key: Verifier,
    client: PeerClient,
    /// Failed attempts in a row, and when to try next.
    failures: u32,
    next_try: Instant,
}

/// What one pull found that needs the ledger writer.
#[derive(Debug, Default)]
struct Found {
    detected: Vec<Finding>,
}

/// One piece of evidence against one log.
#[derive(Debug)]
struct Finding {
    /// The peer whose log is at fault (for a split view, the log that signed two heads, not the peer
    /// that relayed one of them): the alarm's source and the evidence's log.
    subject: usize,
    detected: Detected,
    /// The note that proves it.
    note: String,
    /// The size it is anchored to (ours when it was seen, or the relayed one's): one alarm per code, log
    /// and anchor, whichever path found it.
    anchor: u64,
}

/// The facility sync: every peer, our witness key, the store.
#[derive(Debug)]
pub struct Sync {
    peers: Vec<Peer>,
    data_dir: PathBuf,
    witness: Witness,
    clock: Arc<dyn Clock>,
    every: Duration,
}

/// Our witness key (made at the first call), named after our origin.
pub fn witness(data_dir: &Path, own_origin: &str) -> Result<Witness, CosignError> {
    Witness::load_or_create(data_dir, &witness_name(own_origin))
}

impl Sync {
    /// Prepares the sync of `config`'s peers (reads their token files), cosigning with `witness`. `None`
    /// without peers.
    pub fn new(config: &Config, witness: Witness, clock: Arc<dyn Clock>) -> Result<Option<Sync>, PeersError> {
        if config.peers.is_empty() {
            return Ok(None);
        }
        let mut peers = Vec::new();
        for PeerSetting { id, url, vkey, token_file, .. } in &config.peers {
            let token = std::fs::read_to_string(token_file).map_err(|source| PeersError::TokenFile {
                peer: id.clone(),
                path: token_file.clone(),
                source,
            })?;
            let key = Verifier::parse(vkey)?;
            let origin = key.name().to_owned();
            let client = PeerClient::new(url, token.trim().to_owned());
            peers.push(Peer { id: id.clone(), origin, key, client, failures: 0, next_try: Instant::now() });
        }
        Ok(Some(Sync { peers, data_dir: config.data_dir.clone(), witness, clock, every: config.sync_every }))
    }

    /// Runs the sync until aborted: each peer pulled every `sync_every`, or later while it is unreachable.
    pub fn spawn(self, writer: Writer) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(writer))
    }

    async fn run(mut self, writer: Writer) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for i in 0..self.peers.len() {
                if self.peers[i].next_try > Instant::now() {
                    continue;
                }
                match self.pull_and_alarm(i, &writer).await {
                    Some(s) => self = s,
                    None => {
                        tracing::error!("the facility sync stopped: a pull panicked");
                        return;
                    }
                }
            }
        }
    }

    /// Pulls peer `i` on the blocking pool, then writes the alarms of what it found.
    async fn pull_and_alarm(self, i: usize, writer: &Writer) -> Option<Sync> {
        let joined = tokio::task::spawn_blocking(move || {
            let mut s = self;
            let r = s.pull(i);
            (s, r)
        })
        .await;
        // A pull that panicked took the sync's state with it: the caller stops the sync.
        let (mut s, result) = joined.ok()?;
        let peer = &mut s.peers[i];
        match result {
            Ok(found) => {
                peer.failures = 0;
                peer.next_try = Instant::now();
                for f in found.detected {
                    s.alarm(&f, writer).await;
                }
            }
            Err(e) => {
                peer.failures = peer.failures.saturating_add(1);
                let wait = s.every.saturating_mul(1 << peer.failures.min(8)).min(MAX_BACKOFF);
                peer.next_try = Instant::now() + wait;
                if matches!(&e, PeersError::Client(c) if c.is_unreachable()) {
                    info!(peer = %peer.id, cause = %e, retry_in_s = wait.as_secs(), "peer unreachable");
                } else {
                    warn!(peer = %peer.id, cause = %e, retry_in_s = wait.as_secs(), "peer sync failed");
                }
                let at = clock::rfc3339(s.clock.wall());
                let msg: String = crate::error_text::one_line(&e).chars().take(300).collect();
                let origin = s.peers[i].origin.clone();
                let dir = s.data_dir.clone();
                let _recorded = tokio::task::spawn_blocking(move || {
                    Store::open(&dir, Open::MustExist)?.peer_contact(&origin, &at, Some(&msg), None)
                })
                .await;
            }
        }
        Some(s)
    }

    /// Writes the alarm for `f` unless this evidence is known, then records the evidence.
    async fn alarm(&self, f: &Finding, writer: &Writer) {
        let (peer, d) = (&self.peers[f.subject], &f.detected);
        let fingerprint = evidence_fingerprint(d.code, &peer.origin, f.anchor);
        let dir = self.data_dir.clone();
        let known =
            tokio::task::spawn_blocking(move || Store::open(&dir, Open::MustExist)?.peer_evidence_known(&fingerprint))
                .await;
        if matches!(known, Ok(Ok(true))) {
            return;
        }
        warn!(peer = %peer.id, code = d.code, detail = %d.detail, "peer misbehaviour detected");
        let alarm = Alarm { code: d.code.into(), detail: d.detail.clone(), source: format!("peer:{}", peer.id) };
        let seq = match writer.append(vec![Event::Alarm(alarm)]).await {
            Ok(a) => a.seqs.first().copied(),
            Err(e) => {
                warn!(peer = %peer.id, cause = %e, "the alarm could not be written; it will be raised again");
                return;
            }
        };
        let evidence = Evidence {
            origin: peer.origin.clone(),
            code: d.code.into(),
            detail: d.detail.clone(),
            seen: clock::rfc3339(self.clock.wall()),
        };
        let (dir, note) = (self.data_dir.clone(), f.note.clone());
        let stored = tokio::task::spawn_blocking(move || {
            Store::open(&dir, Open::MustExist)?.peer_evidence_put(&evidence, &fingerprint, &note, seq)
        })
        .await;
        if !matches!(stored, Ok(Ok(()))) {
            warn!(peer = %peer.id, "the evidence could not be stored");
        }
    }

    /// One pull of peer `i` (see the module docs). Blocking.
    fn pull(&mut self, i: usize) -> Result<Found, PeersError> {
        let mut store = Store::open(&self.data_dir, Open::MustExist)?;
        let now = || clock::rfc3339(self.clock.wall());
        let peer = &self.peers[i];
        let mut found = Found::default();
        let note = peer.client.checkpoint()?;
        let held = store.peer_checkpoint(&peer.origin)?;
        let anchor = held.as_ref().map_or(0, |h| h.size);
        let got = match verify::open(&note, &peer.key) {
            Ok(cp) => cp,
            Err(d) => {
                store.peer_contact(&peer.origin, &now(), Some(&d.detail), None)?;
                found.detected.push(Finding { subject: i, detected: d, note, anchor });
                return Ok(found);
            }
        };
        store.peer_contact(&peer.origin, &now(), None, Some(got.size))?;
        let step = verify::compare(held.as_ref().map(|h| (h.size, h.root)), &got);
        let from = match step {
            Err(d) => {
                found.detected.push(Finding { subject: i, detected: d, note, anchor });
                return Ok(found);
            }
            Ok(Step::UpToDate) => None,
            Ok(Step::Grow { from }) => Some(from),
        };
        if let (Some(from), Some(h)) = (from, &held) {
            let proof = peer.client.consistency(from, got.size)?;
            if let Err(d) = verify::check_proof((h.size, h.root), &got, &proof) {
                found.detected.push(Finding { subject: i, detected: d, note, anchor });
                return Ok(found);
            }
        }
        if let Some(from) = from {
            let mut fetched = Vec::new();
            while from + (fetched.len() as u64) < got.size {
                let page = peer.client.entries(from + fetched.len() as u64)?;
                if page.is_empty() {
                    break;
                }
                fetched.extend(page);
            }
            fetched.truncate((got.size - from) as usize);
            let leaves = store.peer_leaves(&peer.origin)?;
            let appliance = crate::ledger::epochs::parse_origin(&peer.origin).map_or("", |(_, a, _)| a);
            let entries = verify::check_entries(appliance, &leaves, &fetched, &got)?;
            let accepted = HeldCheckpoint { size: got.size, root: got.root, note: note.clone(), received: now() };
            store.peer_accept(&peer.origin, from, &accepted, &entries)?;
            info!(peer = %peer.id, from, size = got.size, "peer entries verified and stored");
            // Heads of this log other peers relayed beyond what we held: checkable now.
            let leaves = store.peer_leaves(&peer.origin)?;
            for (size, root, via, relayed) in store.peer_claims_take(&peer.origin, got.size)? {
                let claim = Checkpoint { origin: peer.origin.clone(), size, root };
                if let Some(d) = verify::check_claim(&leaves, &claim, &via) {
                    found.detected.push(Finding { subject: i, detected: d, note: relayed, anchor: size });
                }
            }
        }
        // Cosign what is now accepted, unless the peer already serves our cosignature of it (it may have
        // missed the last one: it is given again at every pull until it shows).
        let ours = format!("\u{2014} {} ", self.witness.verifier().name());
        if !note.contains(&ours) {
            let line = self.witness.cosign(&got, unix_seconds(self.clock.wall()));
            if let Err(e) = peer.client.post_cosignature(got.size, &line) {
                warn!(peer = %peer.id, cause = %e, "the cosignature was not taken");
            }
        }
        found.detected.extend(self.gossip(i, &mut store));
        Ok(found)
    }

    /// Checks the checkpoints peer `i` holds of the other peers against our copies.
    fn gossip(&self, i: usize, store: &mut Store) -> Vec<Finding> {
        let peer = &self.peers[i];
        let held = match peer.client.facility_checkpoints() {
            Ok(h) => h,
            Err(e) => {
                warn!(peer = %peer.id, cause = %e, "the peer's view of the facility could not be read");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for h in held {
            let Some(j) = self.peers.iter().position(|p| p.origin == h.origin && p.origin != peer.origin) else {
                continue;
            };
            let (origin, key) = (&self.peers[j].origin, &self.peers[j].key);
            // A relayed note that does not open proves nothing against its log (the relay may lie).
            let Ok(claim) = verify::open(&h.checkpoint, key) else { continue };
            let Ok(leaves) = store.peer_leaves(origin) else { continue };
            if claim.size > leaves.len() as u64 {
                // Beyond what we hold: kept, and checked once we have pulled that far ourselves.
                if let Err(e) = store.peer_claim_put(origin, claim.size, &claim.root, &peer.id, &h.checkpoint) {
                    warn!(peer = %peer.id, cause = %e, "a relayed checkpoint could not be kept");
                }
            } else if let Some(d) = verify::check_claim(&leaves, &claim, &peer.id) {
                out.push(Finding { subject: j, detected: d, note: h.checkpoint, anchor: claim.size });
            }
        }
        out
    }
}

/// What identifies one piece of evidence: its code, the log, and the size it is anchored to (so a peer
/// that stays rolled back or forked raises its alarm once, not at every pull).
fn evidence_fingerprint(code: &str, origin: &str, anchor: u64) -> [u8; 32] {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    c.update(format!("{code}\n{origin}\n{anchor}").as_bytes());
    let mut h = [0u8; 32];
    h.copy_from_slice(c.finish().as_ref());
    h
}

fn unix_seconds(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
