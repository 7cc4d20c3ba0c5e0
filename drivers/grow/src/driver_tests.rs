//! The driver's protocol logic against a scripted transport: each step is the exact packet the
//! driver must send and the bytes the module answers, so these tests do not lean on the emulator.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::*;
use crate::packet::DEFAULT_ADDRESS;

#[derive(Default)]
struct Script {
    /// (packet payload the driver must send, bytes the module answers)
    steps: VecDeque<(Vec<u8>, Vec<u8>)>,
    inbound: VecDeque<u8>,
}

#[derive(Clone, Default)]
struct ScriptedLink(Arc<Mutex<Script>>);

impl ScriptedLink {
    fn step(&self, command: &[u8], reply: Vec<u8>) -> &Self {
        self.0.lock().unwrap().steps.push_back((command.to_vec(), reply));
        self
    }

    fn steps_left(&self) -> usize {
        self.0.lock().unwrap().steps.len()
    }
}

impl Link for ScriptedLink {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, crate::link::LinkError> {
        let mut script = self.0.lock().unwrap();
        if script.inbound.is_empty() {
            drop(script);
            thread::sleep(timeout.min(Duration::from_millis(1)));
            return Ok(0);
        }
        let n = buf.len().min(script.inbound.len());
        for (slot, byte) in buf.iter_mut().zip(script.inbound.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), crate::link::LinkError> {
        let mut script = self.0.lock().unwrap();
        let (expected, reply) = script.steps.pop_front().expect("the driver sent more than the script holds");
        assert_eq!(bytes, command(&expected), "the driver sent an unexpected command");
        script.inbound.extend(reply);
        Ok(())
    }

    fn discard_input(&mut self) -> Result<(), crate::link::LinkError> {
        self.0.lock().unwrap().inbound.clear();
        Ok(())
    }
}

fn command(payload: &[u8]) -> Vec<u8> {
    Packet::new(DEFAULT_ADDRESS, PacketKind::Command, payload.to_vec()).unwrap().encode()
}

fn packet(kind: PacketKind, payload: &[u8]) -> Vec<u8> {
    Packet::new(DEFAULT_ADDRESS, kind, payload.to_vec()).unwrap().encode()
}

fn ack(payload: &[u8]) -> Vec<u8> {
    packet(PacketKind::Ack, payload)
}

const VFY_PWD_0: [u8; 5] = [0x13, 0, 0, 0, 0];
const GEN_IMG: [u8; 1] = [0x01];

fn parameters() -> SystemParameters {
    SystemParameters {
        status_register: 0,
        system_id: 0,
        capacity: 200,
        security_level: 3,
        address: DEFAULT_ADDRESS,
        packet_size_code: 2,
        baud_multiplier: 6,
    }
}

fn test_config() -> Config {
    Config {
        reply_timeout: Duration::from_millis(30),
        poll_interval: Duration::from_millis(1),
        ..Config::new("scripted")
    }
}

/// A link whose script starts with a successful handshake.
fn after_handshake() -> ScriptedLink {
    let link = ScriptedLink::default();
    link.step(&VFY_PWD_0, ack(&[0x00]));
    link.step(&[0x0F], ack(&[&[0x00][..], &parameters().to_bytes()].concat()));
    link
}

fn open(link: &ScriptedLink, config: Config) -> Module<ScriptedLink> {
    Module::with_link(link.clone(), config).unwrap()
}

#[test]
fn handshake_verifies_the_password_then_reads_parameters() {
    let link = after_handshake();
    let module = open(&link, test_config());
    assert_eq!(module.parameters(), &parameters());
    assert_eq!(link.steps_left(), 0);
}

#[test]
fn sends_the_configured_password() {
    let link = ScriptedLink::default();
    link.step(&[0x13, 0x12, 0x34, 0x56, 0x78], ack(&[0x13]));
    let err = Module::with_link(link.clone(), Config { password: 0x1234_5678, ..test_config() }).unwrap_err();
    assert!(matches!(err, GrowError::WrongPassword), "{err:?}");
}

#[test]
fn skips_garbage_before_a_reply() {
    let link = after_handshake();
    let mut module = open(&link, test_config());
    link.step(&GEN_IMG, [&[0x55, 0x00, 0xEF][..], &ack(&[0x02])].concat());
    assert_eq!(module.transact(&GenImg).unwrap(), Touch::NoFinger);
}

#[test]
fn asks_again_for_a_reply_lost_in_garbage() {
    let link = after_handshake();
    let mut module = open(&link, test_config());
    // A false header announcing 64 bytes swallows the real reply.
    let swallowed = [&[0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x40][..], &ack(&[0x02])].concat();
    link.step(&GEN_IMG, swallowed).step(&GEN_IMG, ack(&[0x00]));
    assert_eq!(module.transact(&GenImg).unwrap(), Touch::Finger);
    assert_eq!(link.steps_left(), 0);
}

#[test]
fn gives_up_after_garbage_twice() {
    let link = after_handshake();
    let mut module = open(&link, test_config());
    link.step(&GEN_IMG, vec![0xEF, 0x01, 0xFF]).step(&GEN_IMG, vec![0x00, 0x00]);
    let err = module.transact(&GenImg).unwrap_err();
    assert!(matches!(err, GrowError::Garbled { command: "GenImg" }), "{err:?}");
}

#[test]
fn a_corrupted_reply_fails_clearly_and_the_next_command_works() {
    let link = after_handshake();
    let mut module = open(&link, test_config());
    let mut corrupted = ack(&[0x00]);
    *corrupted.last_mut().unwrap() ^= 0x01;
    link.step(&GEN_IMG, corrupted).step(&GEN_IMG, ack(&[0x02]));
    let err = module.transact(&GenImg).unwrap_err();
    assert!(matches!(err, GrowError::Corrupted { source: PacketError::Checksum { .. }, .. }), "{err:?}");
    assert_eq!(module.transact(&GenImg).unwrap(), Touch::NoFinger);
}

#[test]
fn silence_is_a_timeout() {
    let link = after_handshake();
    let mut module = open(&link, test_config());
    link.step(&GEN_IMG, Vec::new());
    let err = module.transact(&GenImg).unwrap_err();
    assert!(matches!(err, GrowError::Timeout { command: "GenImg", .. }), "{err:?}");
}

#[test]
fn captures_one_image_per_touch() {
    let link = after_handshake();
    let mut module = open(&link, test_config());
    let pixels: Vec<u8> = (0..pixels::WIDTH * pixels::HEIGHT).map(|i| (i % 251) as u8).collect();
    let packed = pixels::pack(&pixels);
    let mut upload = ack(&[0x00]);
    let chunks: Vec<&[u8]> = packed.chunks(128).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let kind = if i + 1 == chunks.len() { PacketKind::EndData } else { PacketKind::Data };
        upload.extend(packet(kind, chunk));
    }
    link.step(&GEN_IMG, ack(&[0x02])).step(&GEN_IMG, ack(&[0x00])).step(&[0x0A], upload);
    let image = module.capture_image(Duration::from_secs(1)).unwrap().expect("a finger was placed");
    assert_eq!((image.width, image.height, image.dpi), (256, 288, 500));
    let expected: Vec<u8> = pixels.iter().map(|&v| pixels::quantise(v)).collect();
    assert!(image.pixels == expected, "pixels differ");

    // The finger stays: no second image.
    link.step(&GEN_IMG, ack(&[0x00]));
    assert!(module.capture_image(Duration::ZERO).unwrap().is_none());
    // Lifted, but no new finger yet.
    link.step(&GEN_IMG, ack(&[0x02])).step(&GEN_IMG, ack(&[0x02]));
    assert!(module.capture_image(Duration::ZERO).unwrap().is_none());
    assert_eq!(link.steps_left(), 0);
}

#[test]
fn a_short_image_is_refused() {
    let link = after_handshake();
    let mut module = open(&link, test_config());
    let upload = [ack(&[0x00]), packet(PacketKind::EndData, &[0; 128])].concat();
    link.step(&GEN_IMG, ack(&[0x00])).step(&[0x0A], upload);
    let err = module.capture_image(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, GrowError::ImageSize { got: 128, .. }), "{err:?}");
}

#[test]
fn feedback_lights_the_ring_only_where_there_is_one() {
    let link = after_handshake();
    let mut plain = open(&link, test_config());
    plain.feedback(Feedback::Refused).unwrap();
    let link = after_handshake();
    let mut r503 = open(&link, Config { has_aura_led: true, ..test_config() });
    link.step(&[0x35, 0x02, 30, 0x01, 3], ack(&[0x00]));
    r503.feedback(Feedback::Refused).unwrap();
    assert_eq!(link.steps_left(), 0);
}
