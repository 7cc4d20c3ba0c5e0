//! The ACU against the Rust PD simulator with stepped time: no port, no sleeping. Covers start-up
//! order, sequence numbers, the 200 ms retry, the real 8 s offline rule and recovery, NAKs, the
//! secure channel (right key, wrong key, install mode), line damage, and several PDs on one bus.

use std::time::{Duration, Instant};

use tally_device::TurnstileEvent;
use tally_osdp::frame::{Decoder, Frame};
use tally_osdp::message::{Command, NakReason, OutputRecord};
use tally_osdp::pd::{PdSim, SimConfig};
use tally_osdp::random::{Random, RandomError};
use tally_osdp::{Acu, AcuConfig, AcuEvent, Key, Outcome, PdConfig};

/// A predictable RND.A for tests.
struct Counter(u8);

impl Random for Counter {
    fn fill(&mut self, bytes: &mut [u8]) -> Result<(), RandomError> {
        for byte in bytes {
            self.0 = self.0.wrapping_add(17);
            *byte = self.0;
        }
        Ok(())
    }
}

const KEY: Key = Key::SCBK_D;

fn key() -> Key {
    Key::new(*b"tally-osdp-scbk!")
}

struct Rig {
    acu: Acu,
    pds: Vec<PdSim>,
    start: Instant,
    now: Instant,
    events: Vec<AcuEvent>,
    /// Every frame the ACU sent, with when.
    sent: Vec<(Duration, Frame)>,
    /// Damage the next reply's last byte.
    corrupt_next: bool,
}

impl Rig {
    fn new(acu_pds: Vec<PdConfig>, sims: Vec<SimConfig>) -> Rig {
        let start = Instant::now();
        let acu = Acu::new(AcuConfig::default(), acu_pds, Box::new(Counter(0)), start).unwrap();
        Rig {
            acu,
            pds: sims.into_iter().map(PdSim::new).collect(),
            start,
            now: start,
            events: Vec::new(),
            sent: Vec::new(),
            corrupt_next: false,
        }
    }

    fn one(acu: PdConfig, sim: SimConfig) -> Rig {
        Rig::new(vec![acu], vec![sim])
    }

    /// Moves time on by `dt` in 5 ms steps; PDs answer 5 ms after a command.
    fn run(&mut self, dt: Duration) {
        let until = self.now + dt;
        while self.now < until {
            self.now += Duration::from_millis(5);
            self.acu.poll_timeout(self.now);
            if let Some(bytes) = self.acu.next_transmission(self.now) {
                let mut decoder = Decoder::new();
                decoder.push(&bytes);
                if let Some(Ok(frame)) = decoder.next_frame() {
                    self.sent.push((self.now - self.start, frame));
                }
                let mut reply: Vec<u8> = self.pds.iter_mut().flat_map(|pd| pd.receive(&bytes)).collect();
                if self.corrupt_next && !reply.is_empty() {
                    self.corrupt_next = false;
                    let last = reply.len() - 1;
                    reply[last] ^= 0xFF;
                }
                self.now += Duration::from_millis(5);
                self.acu.receive(&reply, self.now);
            }
            while let Some(event) = self.acu.poll_event() {
                self.events.push(event);
            }
        }
    }

    fn pd_events(&self) -> Vec<TurnstileEvent> {
        self.events
            .iter()
            .filter_map(|e| match e {
                AcuEvent::Pd { event, .. } => Some(event.clone()),
                AcuEvent::Completed { .. } | AcuEvent::Speed { .. } => None,
            })
            .collect()
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.events
            .iter()
            .filter_map(|e| match e {
                AcuEvent::Completed { outcome, .. } => Some(outcome.clone()),
                AcuEvent::Pd { .. } | AcuEvent::Speed { .. } => None,
            })
            .collect()
    }

    fn online(&self) -> usize {
        self.pd_events().iter().filter(|e| matches!(e, TurnstileEvent::Online { .. })).count()
    }

    fn offline(&self) -> usize {
        self.pd_events().iter().filter(|e| matches!(e, TurnstileEvent::Offline { .. })).count()
    }
}

fn pulse() -> Command {
    Command::Output(vec![OutputRecord { output: 1, code: 5, timer: 30 }])
}

#[test]
fn starts_with_id_and_cap_then_polls_with_sequence_0_then_1_2_3_1() {
    let mut rig = Rig::one(PdConfig::plain(1), SimConfig::new(1));
    rig.run(Duration::from_secs(1));
    assert_eq!(&rig.pds[0].commands()[..4], ["ID", "CAP", "LSTAT", "POLL"]);
    let sequences: Vec<u8> = rig.sent.iter().take(7).map(|(_, f)| f.sequence).collect();
    assert_eq!(sequences, [0, 1, 2, 3, 1, 2, 3]);
    let TurnstileEvent::Online { identity } = &rig.pd_events()[0] else { panic!("not online: {:?}", rig.events) };
    assert!(identity.contains("serial 000003E9"), "{identity}");
    let status = rig.acu.status(1).unwrap();
    assert!(status.online && !status.secure && status.capabilities.iter().any(|c| c.function == 2));
}

#[test]
fn an_out_pulse_is_acknowledged_and_received_with_code_5_and_its_timer() {
    let mut rig = Rig::one(PdConfig::secure(1, key()), SimConfig::secure(1, key()));
    rig.run(Duration::from_millis(500));
    assert!(rig.acu.status(1).unwrap().secure);
    rig.acu.submit(1, pulse()).unwrap();
    rig.run(Duration::from_millis(300));
    assert_eq!(rig.outcomes(), [Outcome::Acked]);
    assert_eq!(rig.pds[0].outputs(), [OutputRecord { output: 1, code: 5, timer: 30 }]);
    // Every frame after the handshake carried a MAC.
    let after: Vec<_> = rig.sent.iter().skip_while(|(_, f)| f.code != 0x77).skip(1).collect();
    assert!(!after.is_empty() && after.iter().all(|(_, f)| f.mac.is_some()));
}

#[test]
fn a_nak_fails_the_command_with_its_reason() {
    let mut rig = Rig::one(PdConfig::plain(1), SimConfig::new(1));
    rig.run(Duration::from_millis(300));
    rig.pds[0].refuse_commands(Some(NakReason::Unable));
    rig.acu.submit(1, pulse()).unwrap();
    rig.run(Duration::from_millis(300));
    assert_eq!(rig.outcomes(), [Outcome::Refused(NakReason::Unable)]);
    assert_eq!(rig.offline(), 0);
}

#[test]
fn a_silent_pd_is_retried_every_200_ms_with_the_same_frame_and_offline_after_8_s() {
    let mut rig = Rig::one(PdConfig::secure(1, key()), SimConfig::secure(1, key()));
    rig.run(Duration::from_millis(500));
    assert_eq!(rig.online(), 1);
    rig.pds[0].set_silent(true);
    let silent_from = rig.now - rig.start;
    rig.sent.clear();
    rig.run(Duration::from_millis(7900));
    assert_eq!(rig.offline(), 0, "offline before 8 s");
    // One poll, then the very same frame again every 200 ms.
    let first = &rig.sent[0].1;
    assert!(rig.sent.iter().skip(1).all(|(_, f)| f == first), "retries changed the frame");
    let gaps: Vec<Duration> = rig.sent.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps.iter().all(|g| *g >= Duration::from_millis(200) && *g <= Duration::from_millis(215)), "{gaps:?}");
    assert!(rig.sent.len() >= 35, "{} tries", rig.sent.len());
    rig.run(Duration::from_millis(200));
    assert_eq!(rig.offline(), 1, "not offline 8 s after {silent_from:?}");
    rig.pds[0].set_silent(false);
    rig.sent.clear();
    rig.run(Duration::from_secs(2));
    assert_eq!(rig.online(), 2, "{:?}", rig.pd_events());
    assert_eq!((rig.sent[0].1.code, rig.sent[0].1.sequence), (0x61, 0), "starts again with ID at sequence 0");
    assert!(rig.acu.status(1).unwrap().secure);
}

#[test]
fn commands_to_an_offline_pd_fail_as_offline() {
    let mut rig = Rig::one(PdConfig::plain(1), SimConfig::new(1));
    rig.pds[0].set_silent(true);
    rig.run(Duration::from_secs(9));
    assert_eq!(rig.pd_events().len(), 1);
    assert_eq!(rig.offline(), 1);
    rig.acu.submit(1, pulse()).unwrap();
    rig.run(Duration::from_millis(10));
    assert_eq!(rig.outcomes(), [Outcome::Offline]);
}

#[test]
fn a_wrong_key_fails_the_handshake_and_never_falls_back_to_plain() {
    let mut rig = Rig::one(PdConfig::secure(1, key()), SimConfig::secure(1, KEY));
    rig.run(Duration::from_secs(20));
    assert_eq!(rig.online(), 0);
    let TurnstileEvent::Offline { reason } = &rig.pd_events()[0] else { panic!("{:?}", rig.events) };
    assert!(reason.contains("wrong SCBK"), "{reason}");
    assert_eq!(rig.offline(), 1, "reported once");
    assert!(!rig.pds[0].commands().iter().any(|c| *c == "POLL" || *c == "LSTAT"), "{:?}", rig.pds[0].commands());
    // Tried again after 8 s, not at poll speed.
    let challenges = rig.sent.iter().filter(|(_, f)| f.code == 0x76).count();
    assert!((2..=4).contains(&challenges), "{challenges} challenges in 20 s");
    assert!(rig.acu.status(1).unwrap().problem.is_some());
}

#[test]
fn install_mode_sends_the_new_key_then_uses_it() {
    let sim = SimConfig { install_mode: true, ..SimConfig::new(1) };
    let acu = PdConfig { address: 1, scbk: Some(key()), install_mode: true };
    let mut rig = Rig::one(acu, sim);
    rig.run(Duration::from_secs(1));
    assert_eq!(rig.online(), 1, "{:?}", rig.events);
    assert_eq!(rig.pds[0].scbk(), Some(&key()));
    assert!(rig.pds[0].is_secure());
    let challenge_flags: Vec<Vec<u8>> = rig
        .sent
        .iter()
        .filter(|(_, f)| f.code == 0x76)
        .map(|(_, f)| f.security.as_ref().map(|b| b.data.clone()).unwrap_or_default())
        .collect();
    assert_eq!(challenge_flags, [vec![0], vec![1]], "SCBK-D first, then the SCBK");
}

#[test]
fn passage_tamper_and_power_become_events() {
    let mut rig = Rig::one(PdConfig::secure(1, key()), SimConfig::secure(1, key()));
    rig.run(Duration::from_millis(500));
    rig.pds[0].passage(0);
    rig.pds[0].set_tamper(true);
    rig.pds[0].set_power_failed(true);
    rig.run(Duration::from_millis(600));
    assert_eq!(
        rig.pd_events()[1..],
        [
            TurnstileEvent::Input { point: 0, active: true },
            TurnstileEvent::Input { point: 0, active: false },
            TurnstileEvent::Tamper { active: true },
            TurnstileEvent::Power { failed: true },
        ]
    );
}

#[test]
fn a_corrupted_reply_is_retried_and_the_pd_repeats_its_answer_without_acting_twice() {
    let mut rig = Rig::one(PdConfig::secure(1, key()), SimConfig::secure(1, key()));
    rig.run(Duration::from_millis(500));
    rig.acu.submit(1, pulse()).unwrap();
    rig.corrupt_next = true;
    rig.run(Duration::from_millis(600));
    assert_eq!(rig.outcomes(), [Outcome::Acked]);
    assert_eq!(rig.pds[0].outputs().len(), 1);
    assert_eq!(rig.offline(), 0);
}

#[test]
fn garbage_between_frames_is_skipped() {
    let mut rig = Rig::one(PdConfig::plain(1), SimConfig::new(1));
    rig.run(Duration::from_millis(300));
    let now = rig.now;
    rig.acu.receive(&[0x00, 0x53, 0x99, 0xFF, 0x12], now);
    rig.run(Duration::from_millis(500));
    rig.acu.submit(1, pulse()).unwrap();
    rig.run(Duration::from_millis(300));
    assert_eq!(rig.outcomes(), [Outcome::Acked]);
    assert_eq!(rig.offline(), 0);
}

#[test]
fn several_pds_share_the_bus() {
    let mut rig = Rig::new(
        vec![PdConfig::secure(1, key()), PdConfig::plain(2), PdConfig::plain(3)],
        vec![SimConfig::secure(1, key()), SimConfig::new(2)],
    );
    rig.run(Duration::from_secs(10));
    let online: Vec<u8> = rig
        .events
        .iter()
        .filter_map(|e| match e {
            AcuEvent::Pd { address, event: TurnstileEvent::Online { .. } } => Some(*address),
            _ => None,
        })
        .collect();
    let mut online = online;
    online.sort_unstable();
    assert_eq!(online, [1, 2]);
    assert!(rig.events.iter().any(|e| matches!(e, AcuEvent::Pd { address: 3, event: TurnstileEvent::Offline { .. } })));
    rig.pds[1].passage(2);
    rig.run(Duration::from_millis(1500));
    assert!(rig.events.contains(&AcuEvent::Pd { address: 2, event: TurnstileEvent::Input { point: 2, active: true } }));
    // Polls keep going to the PDs that answer.
    let last_second: Vec<u8> = rig
        .sent
        .iter()
        .filter(|(t, _)| *t > rig.now - rig.start - Duration::from_secs(1))
        .map(|(_, f)| f.address)
        .collect();
    assert!(last_second.contains(&1) && last_second.contains(&2));
}
