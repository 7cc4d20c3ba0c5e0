//! What the ACU keeps per PD: where it is in the start-up order, its sequence number, its secure
//! channel, its queue, and the last input, tamper and power states it reported.
//!
//! Plain data with a few transitions; the decisions (what to send, what a reply means) are in the
//! parent module. Holds session keys, so its `Debug` is written by hand.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use crate::message::{Capability, Command, PdIdentity};
use crate::secure::{Key, Session, SessionKeys};

use super::{PdConfig, PdStatus, Ticket};

/// Where a PD is in the start-up order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Send ID (sequence 0: a fresh start).
    Id,
    /// Send CAP.
    Cap,
    /// Send CHLNG.
    Challenge,
    /// Send SCRYPT.
    ServerCryptogram,
    /// Send KEYSET (install mode).
    KeySet,
    /// Send LSTAT once, to learn tamper and power.
    LocalStatus,
    /// Poll, and send queued commands.
    Online,
    /// Not usable; start again at `next_due`.
    Failed,
}

/// A handshake in progress.
pub(super) struct Handshake {
    pub(super) keys: SessionKeys,
    pub(super) rnd_a: [u8; 8],
    /// What the PD's RMAC_I must be.
    pub(super) rmac_i: Option<[u8; 16]>,
}

pub(super) struct PdState {
    pub(super) config: PdConfig,
    pub(super) phase: Phase,
    /// The sequence number of the next command.
    pub(super) sequence: u8,
    pub(super) session: Option<Session>,
    pub(super) handshake: Option<Handshake>,
    pub(super) server_cryptogram: Option<[u8; 16]>,
    /// Install mode: the new SCBK was accepted, so SCBK-D is no longer used.
    pub(super) keyset_done: bool,
    pub(super) identity: Option<PdIdentity>,
    pub(super) capabilities: Vec<Capability>,
    /// The last valid reply (or start, or the last offline report).
    pub(super) last_heard: Instant,
    /// When it may next be sent something.
    pub(super) next_due: Instant,
    /// Online (`Some(true)`) or offline (`Some(false)`) as last reported; `None` before either.
    pub(super) reported: Option<bool>,
    pub(super) problem: Option<String>,
    pub(super) queue: VecDeque<(Ticket, Command)>,
    pub(super) inputs: Vec<bool>,
    pub(super) tamper: bool,
    pub(super) power_failed: bool,
}

impl fmt::Debug for PdState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PdState")
            .field("address", &self.config.address)
            .field("phase", &self.phase)
            .field("sequence", &self.sequence)
            .field("secure", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl PdState {
    pub(super) fn new(config: PdConfig, now: Instant) -> PdState {
        PdState {
            config,
            phase: Phase::Id,
            sequence: 0,
            session: None,
            handshake: None,
            server_cryptogram: None,
            keyset_done: false,
            identity: None,
            capabilities: Vec::new(),
            last_heard: now,
            next_due: now,
            reported: None,
            problem: None,
            queue: VecDeque::new(),
            inputs: Vec::new(),
            tamper: false,
            power_failed: false,
        }
    }

    /// Back to the start: ID at sequence 0, no secure channel.
    pub(super) fn restart(&mut self) {
        self.phase = Phase::Id;
        self.sequence = 0;
        self.session = None;
        self.handshake = None;
        self.server_cryptogram = None;
    }

    /// 0 → 1 → 2 → 3 → 1.
    pub(super) fn advance_sequence(&mut self) {
        self.sequence = if self.sequence >= 3 { 1 } else { self.sequence + 1 };
    }

    /// The key for the next handshake, and whether it is the SCBK (rather than SCBK-D).
    pub(super) fn handshake_key(&self) -> (Key, bool) {
        match &self.config.scbk {
            Some(_) if self.config.install_mode && !self.keyset_done => (Key::SCBK_D, false),
            Some(scbk) => (scbk.clone(), true),
            None => (Key::SCBK_D, false),
        }
    }

    /// The PD refused our key. In install mode, a PD that refuses SCBK-D may already hold the
    /// SCBK: the next attempt uses it.
    pub(super) fn key_refused(&mut self) {
        if self.config.install_mode {
            self.keyset_done = true;
        }
    }

    pub(super) fn status(&self) -> PdStatus {
        PdStatus {
            address: self.config.address,
            online: self.phase == Phase::Online,
            secure: self.session.is_some(),
            identity: self.identity,
            capabilities: self.capabilities.clone(),
            problem: self.problem.clone(),
        }
    }
}
