//! A PD simulator: a turnstile controller that answers the ACU, for timing tests and `tally demo`.
//!
//! [`PdSim`] is sans-IO: bytes in, reply bytes out. It answers POLL, ID, CAP, LSTAT, ISTAT, OSTAT,
//! OUT, LED, BUZ, KEEPACTIVE, KEYSET and the secure-channel handshake; repeats its last reply when
//! a sequence number comes again; NAKs a wrong sequence number (4) and, when it holds a key, any
//! command outside the secure channel (6). The test side trips inputs (a passage), tamper and power
//! (reported in the reply to the next POLL), makes it silent, makes it refuse commands, and reads
//! back the OUT, LED and BUZ commands it received. [`pty::PtyPd`] serves simulators on a
//! pseudo-terminal. It is a simulator: its RND.B is predictable, and it does not drive hardware.

use std::collections::VecDeque;

use crate::frame::{Decoder, Frame, SecurityBlock};
use crate::message::{BuzzerRecord, Capability, Command, LedRecord, NakReason, OutputRecord, PdIdentity, Reply};
use crate::secure::{Direction, Key, Session, SessionKeys};

pub mod pty;

/// What a simulated PD is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Its address.
    pub address: u8,
    /// Its SCBK; `None` = no secure channel unless in install mode.
    pub scbk: Option<Key>,
    /// Accepts SCBK-D (and KEYSET).
    pub install_mode: bool,
    /// What it says it is.
    pub identity: PdIdentity,
    /// Number of inputs.
    pub inputs: u8,
    /// Number of outputs.
    pub outputs: u8,
}

impl SimConfig {
    /// A turnstile controller at `address` with 4 inputs and 4 outputs, in the clear.
    pub fn new(address: u8) -> SimConfig {
        SimConfig {
            address,
            scbk: None,
            install_mode: false,
            identity: PdIdentity {
                vendor: [0x5A, 0x4C, 0x59],
                model: 1,
                version: 1,
                serial: 1000 + u32::from(address),
                firmware: [1, 0, 0],
            },
            inputs: 4,
            outputs: 4,
        }
    }

    /// The same, on the secure channel with `scbk`.
    pub fn secure(address: u8, scbk: Key) -> SimConfig {
        SimConfig { scbk: Some(scbk), ..SimConfig::new(address) }
    }
}

struct Handshake {
    keys: SessionKeys,
    rnd_a: [u8; 8],
    rnd_b: [u8; 8],
}

/// One simulated PD.
pub struct PdSim {
    config: SimConfig,
    decoder: Decoder,
    last: Option<(u8, Vec<u8>)>,
    handshake: Option<Handshake>,
    session: Option<Session>,
    counter: u64,
    inputs: Vec<bool>,
    tamper: bool,
    power_failed: bool,
    pending: VecDeque<Reply>,
    silent: bool,
    refuse: Option<NakReason>,
    outputs: Vec<OutputRecord>,
    leds: Vec<LedRecord>,
    buzzers: Vec<BuzzerRecord>,
    commands: Vec<&'static str>,
}

impl std::fmt::Debug for PdSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdSim")
            .field("address", &self.config.address)
            .field("secure", &self.session.is_some())
            .field("silent", &self.silent)
            .finish_non_exhaustive()
    }
}

impl PdSim {
    /// A PD as configured.
    pub fn new(config: SimConfig) -> PdSim {
        PdSim {
            inputs: vec![false; usize::from(config.inputs)],
            config,
            decoder: Decoder::new(),
            last: None,
            handshake: None,
            session: None,
            counter: 0,
            tamper: false,
            power_failed: false,
            pending: VecDeque::new(),
            silent: false,
            refuse: None,
            outputs: Vec::new(),
            leds: Vec::new(),
            buzzers: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// Its address.
    pub fn address(&self) -> u8 {
        self.config.address
    }

    /// Takes bytes from the line and returns what it answers.
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.decoder.push(bytes);
        let mut out = Vec::new();
        while let Some(result) = self.decoder.next_frame() {
            match result {
                Ok(frame) => out.extend(self.on_frame(&frame)),
                Err(err) => tracing::debug!(address = self.config.address, cause = %err, "simulator: damaged frame"),
            }
        }
        let _ = self.decoder.take_skipped();
        out
    }

    /// Sets an input; the change is reported in the reply to the next POLL.
    pub fn set_input(&mut self, point: u8, active: bool) {
        let point = usize::from(point);
        if self.inputs.len() <= point {
            self.inputs.resize(point + 1, false);
        }
        self.inputs[point] = active;
        self.pending.push_back(Reply::InputStatus(self.inputs.clone()));
    }

    /// Someone walks through: input `point` goes active, then inactive.
    pub fn passage(&mut self, point: u8) {
        self.set_input(point, true);
        self.set_input(point, false);
    }

    /// Opens (or closes) the enclosure.
    pub fn set_tamper(&mut self, active: bool) {
        self.tamper = active;
        self.pending.push_back(Reply::LocalStatus { tamper: self.tamper, power_failed: self.power_failed });
    }

    /// Fails (or restores) mains power.
    pub fn set_power_failed(&mut self, failed: bool) {
        self.power_failed = failed;
        self.pending.push_back(Reply::LocalStatus { tamper: self.tamper, power_failed: self.power_failed });
    }

    /// Stops (or resumes) answering anything.
    pub fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }

    /// Refuses every OUT, LED and BUZ with `reason` (or accepts them again with `None`).
    pub fn refuse_commands(&mut self, reason: Option<NakReason>) {
        self.refuse = reason;
    }

    /// The OUT records received so far.
    pub fn outputs(&self) -> &[OutputRecord] {
        &self.outputs
    }

    /// The LED records received so far.
    pub fn leds(&self) -> &[LedRecord] {
        &self.leds
    }

    /// The BUZ records received so far.
    pub fn buzzers(&self) -> &[BuzzerRecord] {
        &self.buzzers
    }

    /// The names of the commands it answered, in order.
    pub fn commands(&self) -> &[&'static str] {
        &self.commands
    }

    /// Whether its secure channel is up.
    pub fn is_secure(&self) -> bool {
        self.session.is_some()
    }

    /// The SCBK it holds now (after a KEYSET, the new one).
    pub fn scbk(&self) -> Option<&Key> {
        self.config.scbk.as_ref()
    }

    fn on_frame(&mut self, frame: &Frame) -> Vec<u8> {
        if frame.reply || frame.address != self.config.address || self.silent {
            return Vec::new();
        }
        let sequence = frame.sequence;
        match &self.last {
            Some((last, bytes)) if sequence != 0 && *last == sequence => return bytes.clone(),
            Some((last, _)) if sequence != 0 && sequence != next_sequence(*last) => {
                return self.answer(sequence, Reply::Nak(NakReason::Sequence), false);
            }
            None if sequence != 0 => return self.answer(sequence, Reply::Nak(NakReason::Sequence), false),
            _ => {}
        }
        if sequence == 0 {
            self.session = None;
        }
        let secured = frame.security.as_ref().is_some_and(SecurityBlock::has_mac);
        let data = if secured {
            let opened = match &mut self.session {
                Some(session) => session.open(frame, Direction::Command).ok(),
                None => None,
            };
            match opened {
                Some(data) => data,
                None => {
                    self.session = None;
                    return self.answer(sequence, Reply::Nak(NakReason::SecureConditions), false);
                }
            }
        } else {
            frame.data.clone()
        };
        let command = match Command::parse(frame.code, &data) {
            Ok(command) => command,
            Err(_) => return self.answer(sequence, Reply::Nak(NakReason::Length), secured),
        };
        self.commands.push(command.name());
        let handshake_or_hello =
            matches!(command, Command::Id | Command::Cap | Command::Challenge(_) | Command::ServerCryptogram(_));
        if !secured && !handshake_or_hello && (self.config.scbk.is_some() || self.session.is_some()) {
            self.session = None;
            return self.answer(sequence, Reply::Nak(NakReason::SecureConditions), false);
        }
        let block_flag = frame.security.as_ref().and_then(|b| b.data.first().copied());
        let reply = match command {
            Command::Poll => self.pending.pop_front().unwrap_or(Reply::Ack),
            Command::Id => Reply::Identity(self.config.identity),
            Command::Cap => Reply::Capabilities(self.capabilities()),
            Command::LocalStatus => Reply::LocalStatus { tamper: self.tamper, power_failed: self.power_failed },
            Command::InputStatus => Reply::InputStatus(self.inputs.clone()),
            Command::OutputStatus => Reply::OutputStatus(vec![false; usize::from(self.config.outputs)]),
            Command::Output(records) => self.refused().unwrap_or_else(|| {
                self.outputs.extend(records);
                Reply::Ack
            }),
            Command::Led(records) => self.refused().unwrap_or_else(|| {
                self.leds.extend(records);
                Reply::Ack
            }),
            Command::Buzzer(record) => self.refused().unwrap_or_else(|| {
                self.buzzers.push(record);
                Reply::Ack
            }),
            Command::KeepActive(_) => Reply::Ack,
            Command::KeySet(key) if secured => {
                self.config.scbk = Some(key);
                self.config.install_mode = false;
                let bytes = self.answer(sequence, Reply::Ack, true);
                self.session = None;
                return bytes;
            }
            Command::Challenge(rnd_a) => return self.challenge(sequence, rnd_a, block_flag),
            Command::ServerCryptogram(cryptogram) => return self.server_cryptogram(sequence, cryptogram, block_flag),
            _ => Reply::Nak(NakReason::UnknownCommand),
        };
        self.answer(sequence, reply, secured)
    }

    fn refused(&self) -> Option<Reply> {
        self.refuse.map(Reply::Nak)
    }

    fn capabilities(&self) -> Vec<Capability> {
        let cap = |function, count| Capability { function, compliance: 1, count };
        let mut caps = vec![cap(1, self.config.inputs), cap(2, self.config.outputs), cap(4, 1), cap(5, 1), cap(8, 1)];
        if self.config.scbk.is_some() || self.config.install_mode {
            caps.push(cap(9, 1));
        }
        caps
    }

    fn challenge(&mut self, sequence: u8, rnd_a: [u8; 8], flag: Option<u8>) -> Vec<u8> {
        let key = match (flag, &self.config.scbk) {
            (Some(1), Some(scbk)) => scbk.clone(),
            (Some(0), _) if self.config.install_mode => Key::SCBK_D,
            _ => return self.answer(sequence, Reply::Nak(NakReason::SecureConditions), false),
        };
        self.session = None;
        self.counter += 1;
        let rnd_b = self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
        let keys = SessionKeys::derive(&key, &rnd_a);
        let cryptogram = keys.client_cryptogram(&rnd_a, &rnd_b);
        self.handshake = Some(Handshake { keys, rnd_a, rnd_b });
        let cuid = [
            self.config.identity.vendor[0],
            self.config.identity.vendor[1],
            self.config.identity.vendor[2],
            0,
            0,
            0,
            0,
            self.config.address,
        ];
        let reply = Reply::ClientCryptogram { cuid, rnd_b, cryptogram };
        self.answer_with_block(sequence, reply, 0x12, flag.unwrap_or(0))
    }

    fn server_cryptogram(&mut self, sequence: u8, cryptogram: [u8; 16], flag: Option<u8>) -> Vec<u8> {
        let Some(handshake) = self.handshake.take() else {
            return self.answer(sequence, Reply::Nak(NakReason::SecureConditions), false);
        };
        if handshake.keys.server_cryptogram(&handshake.rnd_a, &handshake.rnd_b) != cryptogram {
            return self.answer(sequence, Reply::Nak(NakReason::SecureConditions), false);
        }
        let rmac_i = handshake.keys.initial_rmac(&cryptogram);
        self.session = Some(Session::new(handshake.keys, rmac_i));
        self.answer_with_block(sequence, Reply::InitialRmac(rmac_i), 0x14, flag.unwrap_or(0))
    }

    fn answer_with_block(&mut self, sequence: u8, reply: Reply, kind: u8, flag: u8) -> Vec<u8> {
        let mut frame = Frame::reply(self.config.address, sequence, reply.code(), reply.data());
        frame.security = Some(SecurityBlock { kind, data: vec![flag] });
        self.finish(sequence, &frame)
    }

    fn answer(&mut self, sequence: u8, reply: Reply, secured: bool) -> Vec<u8> {
        let mut frame = Frame::reply(self.config.address, sequence, reply.code(), reply.data());
        if secured
            && let Some(session) = &mut self.session
            && let Err(err) = session.seal(&mut frame, Direction::Reply)
        {
            tracing::error!(cause = %err, "simulator: cannot seal a reply");
            return Vec::new();
        }
        self.finish(sequence, &frame)
    }

    fn finish(&mut self, sequence: u8, frame: &Frame) -> Vec<u8> {
        match frame.encode() {
            Ok(bytes) => {
                self.last = Some((sequence, bytes.clone()));
                bytes
            }
            Err(err) => {
                tracing::error!(cause = %err, "simulator: cannot encode a reply");
                Vec::new()
            }
        }
    }
}

fn next_sequence(sequence: u8) -> u8 {
    if sequence >= 3 { 1 } else { sequence + 1 }
}
