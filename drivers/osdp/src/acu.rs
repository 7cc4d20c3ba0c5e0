//! The ACU (control panel) as a sans-IO state machine for several PDs on one bus.
//!
//! The caller owns the wire and the clock: it asks [`Acu::next_transmission`] for bytes to send,
//! hands what arrives to [`Acu::receive`], calls [`Acu::poll_timeout`] as time passes, and reads
//! [`AcuEvent`]s. Time is always an argument, so tests step it instead of sleeping.
//!
//! What it owns: one exchange at a time on the bus; per PD the sequence numbers (0 first, then
//! 1→2→3→1, the same number again on a retry), the 200 ms reply rule (retry) and the 8 s offline
//! rule (then start again at sequence 0), the start-up order ID → CAP → secure channel (CHLNG →
//! CCRYPT checked → SCRYPT → RMAC_I checked; install mode: SCBK-D, KEYSET, then the real SCBK) →
//! LSTAT → polling, and a queue of OUT/LED/BUZ commands each completed as ACK, NAK, offline or
//! unconfirmed. A PD with a key configured is never used in the clear: a failed handshake takes
//! it offline. It does not own the port (`bus`, `link`), frame bytes (`frame`) or cryptography
//! (`secure`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tally_device::TurnstileEvent;

use crate::error::{OsdpError, Outcome};
use crate::frame::{Decoder, Frame, SecurityBlock};
use crate::message::{Capability, Command, NakReason, PdIdentity, Reply};
use crate::random::Random;
use crate::secure::{Direction, Key, SecureError, Session, SessionKeys};

mod pd_state;

use pd_state::{Handshake, PdState, Phase};

/// Timing of the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcuConfig {
    /// How long a PD has to answer before the command is sent again (OSDP: 200 ms).
    pub reply_timeout: Duration,
    /// How long a PD may stay silent before it is offline (OSDP: 8 s).
    pub offline_after: Duration,
    /// The pause between two polls of the same online PD.
    pub poll_interval: Duration,
    /// The pause between two attempts to reach a PD that is not online.
    pub reconnect_interval: Duration,
    /// A partial frame is dropped when no byte follows within this (OSDP: 20 ms).
    pub inter_character_timeout: Duration,
}

impl Default for AcuConfig {
    fn default() -> AcuConfig {
        AcuConfig {
            reply_timeout: Duration::from_millis(200),
            offline_after: Duration::from_secs(8),
            poll_interval: Duration::from_millis(100),
            reconnect_interval: Duration::from_secs(1),
            inter_character_timeout: Duration::from_millis(20),
        }
    }
}

/// One PD on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdConfig {
    /// Its address, 0x00–0x7E.
    pub address: u8,
    /// Its secure-channel base key; `None` runs the PD in the clear (development only).
    pub scbk: Option<Key>,
    /// Provisioning: open the channel with SCBK-D, send `scbk` with KEYSET, then use `scbk`.
    pub install_mode: bool,
}

impl PdConfig {
    /// A PD on the secure channel with `scbk`.
    pub fn secure(address: u8, scbk: Key) -> PdConfig {
        PdConfig { address, scbk: Some(scbk), install_mode: false }
    }

    /// A PD in the clear.
    pub fn plain(address: u8) -> PdConfig {
        PdConfig { address, scbk: None, install_mode: false }
    }
}

/// Names one queued command, to match its completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(pub u64);

/// What the ACU reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcuEvent {
    /// Something a PD reported, or its link state.
    Pd {
        /// The PD's address.
        address: u8,
        /// What happened.
        event: TurnstileEvent,
    },
    /// A PD took new communication settings (COMSET): the line must now run at `baud`.
    Speed {
        /// The new line speed.
        baud: u32,
    },
    /// A queued command ended.
    Completed {
        /// The command's ticket.
        ticket: Ticket,
        /// How it ended.
        outcome: Outcome,
    },
}

/// What is known of one PD, for status screens and the installer's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdStatus {
    /// Its address.
    pub address: u8,
    /// Whether it answers (over the secure channel, where one is configured).
    pub online: bool,
    /// Whether the secure channel is up.
    pub secure: bool,
    /// What it said it is.
    pub identity: Option<PdIdentity>,
    /// What it said it can do.
    pub capabilities: Vec<Capability>,
    /// Why it is not online, if it was refused.
    pub problem: Option<String>,
}

/// The frame in flight.
#[derive(Debug)]
struct Outstanding {
    /// Index into `pds`.
    pd: usize,
    sequence: u8,
    bytes: Vec<u8>,
    name: &'static str,
    sent: Instant,
    ticket: Option<Ticket>,
    /// Send the same bytes again at the next chance.
    resend: bool,
}

/// The control panel for one bus.
pub struct Acu {
    config: AcuConfig,
    pds: Vec<PdState>,
    rng: Box<dyn Random>,
    decoder: Decoder,
    last_byte: Option<Instant>,
    outstanding: Option<Outstanding>,
    events: VecDeque<AcuEvent>,
    next_ticket: u64,
}

impl std::fmt::Debug for Acu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addresses: Vec<u8> = self.pds.iter().map(|pd| pd.config.address).collect();
        f.debug_struct("Acu").field("pds", &addresses).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Acu {
    /// An ACU for `pds`, starting at `now`; `rng` gives RND.A.
    pub fn new(config: AcuConfig, pds: Vec<PdConfig>, rng: Box<dyn Random>, now: Instant) -> Result<Acu, OsdpError> {
        if pds.is_empty() {
            return Err(OsdpError::Config("no PD on the bus".into()));
        }
        for (i, pd) in pds.iter().enumerate() {
            if pd.address > 0x7E {
                return Err(OsdpError::Config(format!("PD address {} is above 126", pd.address)));
            }
            if pds[..i].iter().any(|other| other.address == pd.address) {
                return Err(OsdpError::Config(format!("PD address {} appears twice", pd.address)));
            }
            if pd.install_mode && pd.scbk.is_none() {
                return Err(OsdpError::Config(format!("PD {}: install mode needs the SCBK to install", pd.address)));
            }
            if pd.scbk.is_none() {
                tracing::warn!(
                    address = pd.address,
                    "PD configured without a secure channel key: running in the clear"
                );
            }
        }
        let pds = pds.into_iter().map(|config| PdState::new(config, now)).collect();
        Ok(Acu {
            config,
            pds,
            rng,
            decoder: Decoder::new(),
            last_byte: None,
            outstanding: None,
            events: VecDeque::new(),
            next_ticket: 1,
        })
    }

    /// The configured addresses.
    pub fn addresses(&self) -> Vec<u8> {
        self.pds.iter().map(|pd| pd.config.address).collect()
    }

    /// What is known of the PD at `address`.
    pub fn status(&self, address: u8) -> Option<PdStatus> {
        self.pds.iter().find(|pd| pd.config.address == address).map(PdState::status)
    }

    /// Queues OUT, LED or BUZ for the PD at `address`; its [`AcuEvent::Completed`] follows.
    pub fn submit(&mut self, address: u8, command: Command) -> Result<Ticket, OsdpError> {
        let index = self.index(address).ok_or(OsdpError::UnknownAddress(address))?;
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        if self.pds[index].phase == Phase::Online {
            self.pds[index].queue.push_back((ticket, command));
        } else {
            self.events.push_back(AcuEvent::Completed { ticket, outcome: Outcome::Offline });
        }
        Ok(ticket)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<AcuEvent> {
        self.events.pop_front()
    }

    /// When the ACU next needs [`Acu::poll_timeout`] or has something to send.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut deadline = match &self.outstanding {
            Some(out) => Some(out.sent + self.config.reply_timeout),
            None => self.pds.iter().map(|pd| pd.next_due).min(),
        };
        if let (Some(last), true) = (self.last_byte, self.decoder.pending() > 0) {
            let drop_at = last + self.config.inter_character_timeout;
            deadline = Some(deadline.map_or(drop_at, |d| d.min(drop_at)));
        }
        deadline
    }

    /// The bytes to send now, if the bus is free and a PD is due.
    pub fn next_transmission(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some(out) = &mut self.outstanding {
            if !out.resend {
                return None;
            }
            out.resend = false;
            out.sent = now;
            return Some(out.bytes.clone());
        }
        let index =
            (0..self.pds.len()).filter(|&i| self.pds[i].next_due <= now).min_by_key(|&i| self.pds[i].next_due)?;
        match self.build(index, now) {
            Ok(out) => {
                let bytes = out.bytes.clone();
                tracing::trace!(
                    address = self.pds[index].config.address,
                    command = out.name,
                    sequence = out.sequence,
                    "send"
                );
                self.outstanding = Some(out);
                Some(bytes)
            }
            Err(err) => {
                tracing::error!(address = self.pds[index].config.address, cause = %err, "cannot build a command");
                self.fail(index, now, format!("internal failure: {err}"), self.config.reconnect_interval);
                None
            }
        }
    }

    /// Bytes from the line.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        if bytes.is_empty() {
            return;
        }
        self.last_byte = Some(now);
        self.decoder.push(bytes);
        while let Some(result) = self.decoder.next_frame() {
            match result {
                Ok(frame) => self.on_frame(frame, now),
                Err(err) => tracing::warn!(cause = %err, "damaged frame on the bus"),
            }
        }
        let skipped = self.decoder.take_skipped();
        if skipped > 0 {
            tracing::debug!(bytes = skipped, "garbage on the bus");
        }
    }

    /// Lets time pass: drops a stalled partial frame, resends an unanswered command, takes a silent
    /// PD offline.
    pub fn poll_timeout(&mut self, now: Instant) {
        if let Some(last) = self.last_byte
            && self.decoder.pending() > 0
            && now.duration_since(last) >= self.config.inter_character_timeout
        {
            tracing::debug!(bytes = self.decoder.pending(), "partial frame dropped after the inter-character timeout");
            self.decoder.clear();
        }
        for index in 0..self.pds.len() {
            let pd = &self.pds[index];
            if pd.reported != Some(false) && now.duration_since(pd.last_heard) >= self.config.offline_after {
                let reason = format!("no valid reply for {:?}", self.config.offline_after);
                if self.outstanding.as_ref().is_some_and(|out| out.pd == index) {
                    let out = self.outstanding.take();
                    self.unconfirm(out);
                }
                self.go_offline(index, now, reason);
            }
        }
        let Some(out) = &self.outstanding else { return };
        if now.duration_since(out.sent) < self.config.reply_timeout {
            return;
        }
        let index = out.pd;
        if self.pds[index].phase != Phase::Id {
            // Same bytes, same sequence number: the PD answers again with its last reply.
            tracing::debug!(
                address = self.pds[index].config.address,
                command = out.name,
                "no reply in time, resending"
            );
            if let Some(out) = &mut self.outstanding {
                out.resend = true;
            }
        } else {
            let out = self.outstanding.take();
            self.unconfirm(out);
            let pd = &mut self.pds[index];
            pd.next_due = now + self.config.reconnect_interval;
            pd.restart();
        }
    }

    fn index(&self, address: u8) -> Option<usize> {
        self.pds.iter().position(|pd| pd.config.address == address)
    }

    fn build(&mut self, index: usize, now: Instant) -> Result<Outstanding, OsdpError> {
        let pd = &mut self.pds[index];
        if pd.phase == Phase::Failed {
            pd.restart();
        }
        let (command, ticket, security) = match pd.phase {
            Phase::Id => (Command::Id, None, None),
            Phase::Cap => (Command::Cap, None, None),
            Phase::Challenge => {
                let mut rnd_a = [0; 8];
                self.rng.fill(&mut rnd_a).map_err(OsdpError::Random)?;
                let (key, is_scbk) = pd.handshake_key();
                pd.handshake = Some(Handshake { keys: SessionKeys::derive(&key, &rnd_a), rnd_a, rmac_i: None });
                (Command::Challenge(rnd_a), None, Some(SecurityBlock { kind: 0x11, data: vec![u8::from(is_scbk)] }))
            }
            Phase::ServerCryptogram => {
                let (_, is_scbk) = pd.handshake_key();
                let cryptogram = pd.server_cryptogram.unwrap_or_default();
                (
                    Command::ServerCryptogram(cryptogram),
                    None,
                    Some(SecurityBlock { kind: 0x13, data: vec![u8::from(is_scbk)] }),
                )
            }
            Phase::KeySet => (Command::KeySet(pd.config.scbk.clone().unwrap_or(Key::SCBK_D)), None, None),
            Phase::LocalStatus => (Command::LocalStatus, None, None),
            Phase::Online => match pd.queue.front() {
                Some((ticket, command)) => (command.clone(), Some(*ticket), None),
                None => (Command::Poll, None, None),
            },
            Phase::Failed => (Command::Id, None, None),
        };
        let mut frame = Frame::command(pd.config.address, pd.sequence, command.code(), command.data());
        frame.security = security;
        if let Some(session) = &mut pd.session {
            session.seal(&mut frame, Direction::Command).map_err(OsdpError::Secure)?;
        }
        let bytes = frame.encode_marked().map_err(OsdpError::Frame)?;
        Ok(Outstanding {
            pd: index,
            sequence: pd.sequence,
            bytes,
            name: command.name(),
            sent: now,
            ticket,
            resend: false,
        })
    }

    fn on_frame(&mut self, frame: Frame, now: Instant) {
        let Some(out) = &self.outstanding else {
            tracing::debug!(address = frame.address, code = frame.code, "reply with nothing outstanding, ignored");
            return;
        };
        let index = out.pd;
        if !frame.reply || frame.address != self.pds[index].config.address || frame.sequence != out.sequence {
            tracing::debug!(address = frame.address, sequence = frame.sequence, "frame not for the command in flight");
            return;
        }
        let Some(out) = self.outstanding.take() else { return };
        let pd = &mut self.pds[index];
        // A PD that lost its channel answers in the clear; only a NAK is believed then.
        let clear = match (&mut pd.session, frame.security.as_ref().is_some_and(SecurityBlock::has_mac)) {
            (Some(session), true) => session.open(&frame, Direction::Reply).map(Some),
            (Some(_), false) if frame.code == 0x41 => Ok(None),
            (Some(_), false) => Err(SecureError::Unsecured),
            (None, _) => Ok(None),
        };
        let data = match clear {
            Ok(Some(data)) => data,
            Ok(None) => frame.data.clone(),
            Err(err) => {
                tracing::warn!(address = pd.config.address, cause = %err, "secure-channel reply refused");
                self.unconfirm(Some(out));
                self.fail(index, now, format!("secure channel broken: {err}"), Duration::ZERO);
                return;
            }
        };
        let reply = match Reply::parse(frame.code, &data) {
            Ok(reply) => reply,
            Err(err) => {
                tracing::warn!(address = pd.config.address, cause = %err, "malformed reply");
                // Treated as no reply: the command is sent again on the timeout.
                self.outstanding = Some(out);
                return;
            }
        };
        pd.last_heard = now;
        pd.advance_sequence();
        self.on_reply(index, out, reply, now);
    }

    fn on_reply(&mut self, index: usize, out: Outstanding, reply: Reply, now: Instant) {
        let address = self.pds[index].config.address;
        tracing::trace!(address, command = out.name, reply = reply.code(), "reply");
        if let Reply::Nak(reason) = reply {
            return self.on_nak(index, out, reason, now);
        }
        if reply == Reply::Busy {
            // Same command, same sequence number, a little later.
            let pd = &mut self.pds[index];
            pd.sequence = out.sequence;
            self.outstanding = Some(Outstanding { sent: now, ..out });
            return;
        }
        let poll_interval = self.config.poll_interval;
        let pd = &mut self.pds[index];
        pd.next_due = now;
        match (pd.phase, reply) {
            (Phase::Id, Reply::Identity(identity)) => {
                pd.identity = Some(identity);
                pd.phase = Phase::Cap;
            }
            (Phase::Cap, Reply::Capabilities(capabilities)) => {
                pd.capabilities = capabilities;
                if pd.config.scbk.is_some() {
                    pd.phase = Phase::Challenge;
                } else {
                    self.come_online(index);
                }
            }
            (Phase::Challenge, Reply::ClientCryptogram { rnd_b, cryptogram, .. }) => {
                let Some(handshake) = &mut pd.handshake else { return };
                if handshake.keys.client_cryptogram(&handshake.rnd_a, &rnd_b) != cryptogram {
                    pd.key_refused();
                    let retry = self.config.offline_after;
                    return self.fail(
                        index,
                        now,
                        format!("secure channel refused: {}", SecureError::ClientCryptogram),
                        retry,
                    );
                }
                let server = handshake.keys.server_cryptogram(&handshake.rnd_a, &rnd_b);
                handshake.rmac_i = Some(handshake.keys.initial_rmac(&server));
                pd.server_cryptogram = Some(server);
                pd.phase = Phase::ServerCryptogram;
            }
            (Phase::ServerCryptogram, Reply::InitialRmac(rmac_i)) => {
                let Some(handshake) = pd.handshake.take() else { return };
                if handshake.rmac_i != Some(rmac_i) {
                    let retry = self.config.offline_after;
                    return self.fail(
                        index,
                        now,
                        format!("secure channel refused: {}", SecureError::InitialRmac),
                        retry,
                    );
                }
                pd.session = Some(Session::new(handshake.keys, rmac_i));
                if pd.config.install_mode && !pd.keyset_done {
                    pd.phase = Phase::KeySet;
                } else {
                    self.come_online(index);
                }
            }
            (Phase::KeySet, Reply::Ack) => {
                tracing::info!(address, "PD accepted the new SCBK; opening the channel with it");
                pd.keyset_done = true;
                pd.session = None;
                pd.phase = Phase::Challenge;
            }
            (Phase::LocalStatus, Reply::LocalStatus { tamper, power_failed }) => {
                self.announce_online(index);
                self.local_status(index, tamper, power_failed);
            }
            (Phase::Online, reply) => {
                pd.next_due = now + poll_interval;
                if let Some(ticket) = out.ticket {
                    pd.queue.pop_front();
                    let outcome = match (&reply, out.name) {
                        (Reply::Ack, _) | (Reply::Communication { .. }, "COMSET") => Outcome::Acked,
                        _ => Outcome::Unconfirmed,
                    };
                    self.events.push_back(AcuEvent::Completed { ticket, outcome });
                }
                match reply {
                    // COMSET taken: the PD answers at its new address from now on, at its new speed.
                    Reply::Communication { address: new, baud } if out.name == "COMSET" => {
                        tracing::info!(address, new, baud, "PD took new communication settings");
                        pd.config.address = new;
                        self.events.push_back(AcuEvent::Speed { baud });
                    }
                    Reply::InputStatus(points) => self.inputs(index, &points),
                    Reply::LocalStatus { tamper, power_failed } => self.local_status(index, tamper, power_failed),
                    _ => {}
                }
            }
            (phase, reply) => {
                tracing::warn!(address, ?phase, reply = reply.code(), "unexpected reply during start-up");
                let retry = self.config.reconnect_interval;
                self.fail(index, now, format!("unexpected reply {:#04x} to {}", reply.code(), out.name), retry);
            }
        }
    }

    fn on_nak(&mut self, index: usize, out: Outstanding, reason: NakReason, now: Instant) {
        let pd = &mut self.pds[index];
        let address = pd.config.address;
        tracing::info!(address, command = out.name, %reason, "NAK");
        match (pd.phase, reason) {
            (_, NakReason::Check | NakReason::Length) => {
                // The PD saw damaged bytes and answered: that exchange is over (the sequence number
                // and, on the secure channel, the MAC chain moved on), so the same command is built
                // afresh for the next turn. A queued command is still at the front of its queue.
                pd.next_due = now;
            }
            (Phase::Online, NakReason::Sequence | NakReason::SecureConditions | NakReason::NoSecureChannel) => {
                // The PD lost our session (restarted, or its channel timed out): start again.
                self.unconfirm(Some(out));
                self.fail(index, now, format!("PD reset the session: {reason}"), Duration::ZERO);
            }
            (Phase::Online, _) => {
                pd.next_due = now + self.config.poll_interval;
                if let Some(ticket) = out.ticket {
                    pd.queue.pop_front();
                    self.events.push_back(AcuEvent::Completed { ticket, outcome: Outcome::Refused(reason) });
                }
            }
            (Phase::LocalStatus, _) => {
                pd.next_due = now;
                self.announce_online(index);
            }
            (Phase::Challenge | Phase::ServerCryptogram, _) => {
                let retry = self.config.offline_after;
                self.fail(index, now, format!("the PD refused the secure channel: {reason}"), retry);
            }
            (_, _) => {
                let retry = self.config.reconnect_interval;
                self.fail(index, now, format!("the PD refused {}: {reason}", out.name), retry);
            }
        }
    }

    /// Start-up done but for LSTAT: the channel is up.
    fn come_online(&mut self, index: usize) {
        let pd = &mut self.pds[index];
        pd.phase = Phase::LocalStatus;
        pd.problem = None;
    }

    /// LSTAT answered (or refused): the PD is online and takes commands.
    fn announce_online(&mut self, index: usize) {
        let pd = &mut self.pds[index];
        pd.phase = Phase::Online;
        let identity = pd.identity.map_or_else(|| "unidentified PD".to_owned(), |id| id.to_string());
        tracing::info!(address = pd.config.address, secure = pd.session.is_some(), %identity, "PD online");
        if pd.reported != Some(true) {
            pd.reported = Some(true);
            self.events
                .push_back(AcuEvent::Pd { address: pd.config.address, event: TurnstileEvent::Online { identity } });
        }
    }

    /// A PD that cannot be used now: offline, its queue failed, tried again later.
    fn fail(&mut self, index: usize, now: Instant, reason: String, retry_after: Duration) {
        tracing::warn!(address = self.pds[index].config.address, %reason, "PD not usable");
        self.go_offline(index, now, reason);
        self.pds[index].next_due = now + retry_after;
    }

    fn go_offline(&mut self, index: usize, now: Instant, reason: String) {
        let pd = &mut self.pds[index];
        let address = pd.config.address;
        pd.restart();
        pd.phase = Phase::Failed;
        pd.last_heard = now;
        pd.next_due = now + self.config.reconnect_interval;
        pd.problem = Some(reason.clone());
        for (ticket, _) in pd.queue.drain(..) {
            self.events.push_back(AcuEvent::Completed { ticket, outcome: Outcome::Offline });
        }
        if pd.reported != Some(false) {
            pd.reported = Some(false);
            tracing::warn!(address, %reason, "PD offline");
            self.events.push_back(AcuEvent::Pd { address, event: TurnstileEvent::Offline { reason } });
        }
    }

    /// The command in flight got no usable answer: if it was a queued one, it is unconfirmed.
    fn unconfirm(&mut self, out: Option<Outstanding>) {
        let Some(Outstanding { pd, ticket: Some(ticket), .. }) = out else { return };
        self.pds[pd].queue.retain(|(queued, _)| *queued != ticket);
        self.events.push_back(AcuEvent::Completed { ticket, outcome: Outcome::Unconfirmed });
    }

    fn inputs(&mut self, index: usize, points: &[bool]) {
        let pd = &mut self.pds[index];
        if pd.inputs.len() < points.len() {
            pd.inputs.resize(points.len(), false);
        }
        for (point, &active) in points.iter().enumerate() {
            if pd.inputs[point] != active {
                pd.inputs[point] = active;
                let event = TurnstileEvent::Input { point: point as u8, active };
                self.events.push_back(AcuEvent::Pd { address: pd.config.address, event });
            }
        }
    }

    fn local_status(&mut self, index: usize, tamper: bool, power_failed: bool) {
        let pd = &mut self.pds[index];
        let address = pd.config.address;
        if pd.tamper != tamper {
            pd.tamper = tamper;
            self.events.push_back(AcuEvent::Pd { address, event: TurnstileEvent::Tamper { active: tamper } });
        }
        if pd.power_failed != power_failed {
            pd.power_failed = power_failed;
            self.events.push_back(AcuEvent::Pd { address, event: TurnstileEvent::Power { failed: power_failed } });
        }
    }
}
