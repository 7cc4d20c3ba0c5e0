//! The emulated module's state and what it answers to each instruction, without any I/O.
//!
//! [`Device::handle`] takes a command packet's payload and returns the packets the module sends
//! back (an acknowledgement, then data packets for UpImage) and whether the R503's one-byte 0x55
//! "ready" signal follows (after SoftReset). The replies follow the protocol as real modules and the
//! host libraries expect them: every acknowledgement of Search carries page and score even when
//! nothing is found, ReadSysPara carries 16 bytes of parameters, UpImage sends the image in data
//! packets of the configured size with the last one marked 08.
//!
//! Feature extraction and matching are a stand-in: a "feature set" is a 64-bit FNV-1a hash of the
//! 4-bit image, so two touches match exactly when their images are identical, and an image of one
//! flat grey has "too few features". That is enough to drive enrolment and search deterministically;
//! it says nothing about real matching. This module does not own the byte stream or fault injection
//! (`emulator.rs`).

use std::collections::BTreeMap;

use crate::command::{Status, SystemParameters};
use crate::packet::{MAX_PAYLOAD, Packet, PacketKind};
use crate::pixels;

/// The score the stand-in matcher gives identical images.
pub const MATCH_SCORE: u16 = 200;

/// Status 0F, which UpImage answers when no image was taken since power-up (host libraries call
/// it "could not upload the image").
const UPLOAD_FAILED: u8 = 0x0F;

/// Status 10, which Delete answers for a range outside the library.
const DELETE_FAILED: u8 = 0x10;

/// A stand-in feature set: the hash of the 4-bit image it came from.
pub type Features = u64;

/// What the R503 ring light was last told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuraState {
    /// Control code (1 breathing … 6 gradually off).
    pub effect: u8,
    /// Speed.
    pub speed: u8,
    /// Colour index (1 red, 2 blue, 3 purple, …).
    pub colour: u8,
    /// Cycles (0 forever).
    pub cycles: u8,
}

/// What the module sends back for one command.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    /// The acknowledgement first, then any data packets.
    pub packets: Vec<Packet>,
    /// Whether the 0x55 "ready" byte follows (after SoftReset).
    pub ready_byte: bool,
}

/// The emulated module: its fixed parameters, RAM buffers and flash library.
pub struct Device {
    /// The module's address, which it answers from and listens on.
    pub address: u32,
    /// The module's password.
    pub password: u32,
    /// Library size.
    pub capacity: u16,
    /// Data packet size code (0 to 3 for 32 to 256 bytes).
    pub packet_size_code: u16,
    /// Whether a finger is on the sensor.
    pub finger: bool,
    /// The finger's 8-bit image, `WIDTH × HEIGHT` bytes.
    pub image: Vec<u8>,
    /// The last ring light setting.
    pub aura: Option<AuraState>,
    image_buffer: Option<Vec<u8>>,
    char_buffers: [Option<Features>; 2],
    library: BTreeMap<u16, Features>,
    verified: bool,
}

// Written by hand: the device holds an image, templates and a password.
impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("address", &format_args!("{:#010x}", self.address))
            .field("finger", &self.finger)
            .field("templates", &self.library.len())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A module fresh from power-up.
    pub fn new(address: u32, password: u32, capacity: u16, packet_size_code: u16, image: Vec<u8>) -> Device {
        Device {
            address,
            password,
            capacity,
            packet_size_code,
            finger: false,
            image,
            aura: None,
            image_buffer: None,
            char_buffers: [None, None],
            library: BTreeMap::new(),
            verified: false,
        }
    }

    /// How many library pages hold a template.
    pub fn template_count(&self) -> u16 {
        // The library never holds more than `capacity` (a u16) pages.
        self.library.len() as u16
    }

    /// Answers one command packet's payload.
    pub fn handle(&mut self, payload: &[u8]) -> Reply {
        let Some((&code, params)) = payload.split_first() else {
            return self.ack(Status::ReceiveError, &[]);
        };
        if self.password != 0 && !self.verified && code != 0x13 {
            return self.ack(Status::PasswordNotVerified, &[]);
        }
        match code {
            0x01 => self.gen_img(),
            0x02 => self.img2tz(params),
            0x03 => self.match_buffers(),
            0x04 => self.search(params),
            0x05 => self.reg_model(),
            0x06 => self.store(params),
            0x0A => self.up_image(),
            0x0C => self.delete(params),
            0x0D => {
                self.library.clear();
                self.ack(Status::Ok, &[])
            }
            0x0F => self.read_sys_para(),
            0x13 => self.verify_password(params),
            0x1D => self.ack(Status::Ok, &self.template_count().to_be_bytes()),
            0x1F => self.read_index_table(params),
            0x35 => self.aura(params),
            0x3D => self.soft_reset(),
            _ => self.ack(Status::ReceiveError, &[]),
        }
    }

    fn ack(&self, status: Status, rest: &[u8]) -> Reply {
        let mut payload = vec![status.code()];
        payload.extend_from_slice(rest);
        Reply { packets: vec![self.packet(PacketKind::Ack, payload)], ready_byte: false }
    }

    fn packet(&self, kind: PacketKind, payload: Vec<u8>) -> Packet {
        // Every payload built here is at most MAX_PAYLOAD bytes (the largest is a 256-byte data packet).
        match Packet::new(self.address, kind, payload) {
            Ok(packet) => packet,
            Err(_) => unreachable!("emulator payloads are at most {MAX_PAYLOAD} bytes"),
        }
    }

    fn gen_img(&mut self) -> Reply {
        if !self.finger {
            return self.ack(Status::NoFinger, &[]);
        }
        self.image_buffer = Some(pixels::pack(&self.image));
        self.ack(Status::Ok, &[])
    }

    fn img2tz(&mut self, params: &[u8]) -> Reply {
        let Some(slot) = params.first().and_then(|&b| buffer_index(b)) else {
            return self.ack(Status::ReceiveError, &[]);
        };
        let Some(image) = &self.image_buffer else {
            return self.ack(Status::InvalidImage, &[]);
        };
        if image.iter().all(|&b| b == image[0]) {
            return self.ack(Status::TooFewFeatures, &[]);
        }
        self.char_buffers[slot] = Some(fnv1a(image));
        self.ack(Status::Ok, &[])
    }

    fn match_buffers(&mut self) -> Reply {
        match self.char_buffers {
            [Some(a), Some(b)] if a == b => self.ack(Status::Ok, &MATCH_SCORE.to_be_bytes()),
            _ => self.ack(Status::NoMatch, &[0, 0]),
        }
    }

    fn search(&mut self, params: &[u8]) -> Reply {
        let (Some(slot), Some(start), Some(count)) =
            (params.first().and_then(|&b| buffer_index(b)), be16(params, 1), be16(params, 3))
        else {
            return self.ack(Status::ReceiveError, &[]);
        };
        let end = start.saturating_add(count).min(self.capacity);
        let found = self.char_buffers[slot].and_then(|features| {
            self.library.range(start..end).find(|(_, stored)| **stored == features).map(|(&page, _)| page)
        });
        match found {
            Some(page) => self.ack(Status::Ok, &[&page.to_be_bytes()[..], &MATCH_SCORE.to_be_bytes()].concat()),
            None => self.ack(Status::NotFound, &[0, 0, 0, 0]),
        }
    }

    fn reg_model(&mut self) -> Reply {
        match self.char_buffers {
            [Some(a), Some(b)] if a == b => self.ack(Status::Ok, &[]),
            _ => self.ack(Status::EnrolMismatch, &[]),
        }
    }

    fn store(&mut self, params: &[u8]) -> Reply {
        let (Some(slot), Some(page)) = (params.first().and_then(|&b| buffer_index(b)), be16(params, 1)) else {
            return self.ack(Status::ReceiveError, &[]);
        };
        if page >= self.capacity {
            return self.ack(Status::BadLocation, &[]);
        }
        let Some(features) = self.char_buffers[slot] else {
            return self.ack(Status::ReceiveError, &[]);
        };
        self.library.insert(page, features);
        self.ack(Status::Ok, &[])
    }

    fn up_image(&mut self) -> Reply {
        let Some(image) = &self.image_buffer else {
            return self.ack(Status::Other(UPLOAD_FAILED), &[]);
        };
        let size = 32usize << self.packet_size_code.min(3);
        let chunks: Vec<&[u8]> = image.chunks(size).collect();
        let mut reply = self.ack(Status::Ok, &[]);
        for (i, chunk) in chunks.iter().enumerate() {
            let kind = if i + 1 == chunks.len() { PacketKind::EndData } else { PacketKind::Data };
            reply.packets.push(self.packet(kind, chunk.to_vec()));
        }
        reply
    }

    fn delete(&mut self, params: &[u8]) -> Reply {
        let (Some(page), Some(count)) = (be16(params, 0), be16(params, 2)) else {
            return self.ack(Status::ReceiveError, &[]);
        };
        let Some(end) = page.checked_add(count).filter(|&end| end <= self.capacity) else {
            return self.ack(Status::Other(DELETE_FAILED), &[]);
        };
        self.library.retain(|&stored, _| !(page..end).contains(&stored));
        self.ack(Status::Ok, &[])
    }

    fn read_sys_para(&mut self) -> Reply {
        let status_register = (u16::from(self.verified) << 2) | (u16::from(self.image_buffer.is_some()) << 3);
        let params = SystemParameters {
            status_register,
            system_id: 0,
            capacity: self.capacity,
            security_level: 3,
            address: self.address,
            packet_size_code: self.packet_size_code,
            baud_multiplier: 6,
        };
        self.ack(Status::Ok, &params.to_bytes())
    }

    fn verify_password(&mut self, params: &[u8]) -> Reply {
        let Some(given) = params.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])) else {
            return self.ack(Status::ReceiveError, &[]);
        };
        self.verified = given == self.password;
        self.ack(if self.verified { Status::Ok } else { Status::WrongPassword }, &[])
    }

    /// 1F ReadIndexTable: which of 256 pages in index page `n` hold a template, one bit each, the
    /// lowest bit of each byte first.
    fn read_index_table(&mut self, params: &[u8]) -> Reply {
        let Some(&index) = params.first().filter(|&&n| n <= 3) else {
            return self.ack(Status::ReceiveError, &[]);
        };
        let mut table = [0u8; 32];
        let first = u16::from(index) * 256;
        for page in self.library.range(first..first.saturating_add(256)).map(|(&page, _)| page - first) {
            table[usize::from(page / 8)] |= 1 << (page % 8);
        }
        self.ack(Status::Ok, &table)
    }

    fn aura(&mut self, params: &[u8]) -> Reply {
        let [effect, speed, colour, cycles] = match params.get(..4) {
            Some(&[a, b, c, d]) => [a, b, c, d],
            _ => return self.ack(Status::ReceiveError, &[]),
        };
        self.aura = Some(AuraState { effect, speed, colour, cycles });
        self.ack(Status::Ok, &[])
    }

    fn soft_reset(&mut self) -> Reply {
        self.image_buffer = None;
        self.char_buffers = [None, None];
        self.verified = false;
        Reply { ready_byte: true, ..self.ack(Status::Ok, &[]) }
    }
}

/// CharBuffer code 1 or 2 as an index.
fn buffer_index(code: u8) -> Option<usize> {
    match code {
        1 => Some(0),
        2 => Some(1),
        _ => None,
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// 64-bit FNV-1a: a fixed, dependency-free hash, the same on every platform and run.
fn fnv1a(bytes: &[u8]) -> Features {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::DEFAULT_ADDRESS;

    fn device() -> Device {
        let image = (0..pixels::WIDTH * pixels::HEIGHT).map(|i| (i * 7 % 256) as u8).collect();
        Device::new(DEFAULT_ADDRESS, 0, 200, 2, image)
    }

    fn status(reply: &Reply) -> u8 {
        reply.packets[0].payload()[0]
    }

    #[test]
    fn enrols_and_finds_a_finger() {
        let mut d = device();
        assert_eq!(status(&d.handle(&[0x01])), 0x02, "no finger yet");
        d.finger = true;
        for buffer in [1, 2] {
            assert_eq!(status(&d.handle(&[0x01])), 0x00);
            assert_eq!(status(&d.handle(&[0x02, buffer])), 0x00);
        }
        assert_eq!(status(&d.handle(&[0x05])), 0x00);
        assert_eq!(status(&d.handle(&[0x06, 0x01, 0x00, 0x07])), 0x00);
        let found = d.handle(&[0x04, 0x01, 0x00, 0x00, 0x00, 0xC8]);
        assert_eq!(found.packets[0].payload(), [0x00, 0x00, 0x07, 0x00, 0xC8]);
        let table = d.handle(&[0x1F, 0x00]);
        assert_eq!(table.packets[0].payload()[1], 0b1000_0000);
        assert_eq!(d.handle(&[0x1D]).packets[0].payload(), [0x00, 0x00, 0x01]);
        assert_eq!(status(&d.handle(&[0x0D])), 0x00);
        assert_eq!(d.handle(&[0x04, 0x01, 0x00, 0x00, 0x00, 0xC8]).packets[0].payload(), [0x09, 0, 0, 0, 0]);
    }

    #[test]
    fn uploads_the_image_in_data_packets() {
        let mut d = device();
        assert_eq!(status(&d.handle(&[0x0A])), UPLOAD_FAILED);
        d.finger = true;
        d.handle(&[0x01]);
        let reply = d.handle(&[0x0A]);
        assert_eq!(reply.packets.len(), 1 + pixels::PACKED_LEN / 128);
        let kinds: Vec<PacketKind> = reply.packets.iter().map(Packet::kind).collect();
        assert_eq!(kinds[0], PacketKind::Ack);
        assert!(kinds[1..kinds.len() - 1].iter().all(|&k| k == PacketKind::Data));
        assert_eq!(kinds.last(), Some(&PacketKind::EndData));
    }

    #[test]
    fn a_flat_image_has_too_few_features() {
        let mut d = device();
        d.image = vec![0xFF; pixels::WIDTH * pixels::HEIGHT];
        d.finger = true;
        d.handle(&[0x01]);
        assert_eq!(status(&d.handle(&[0x02, 0x01])), 0x07);
    }

    #[test]
    fn a_set_password_must_be_verified_first() {
        let mut d = device();
        d.password = 0x0000_BEEF;
        assert_eq!(status(&d.handle(&[0x1D])), 0x21);
        assert_eq!(status(&d.handle(&[0x13, 0, 0, 0, 1])), 0x13);
        assert_eq!(status(&d.handle(&[0x13, 0, 0, 0xBE, 0xEF])), 0x00);
        assert_eq!(status(&d.handle(&[0x1D])), 0x00);
    }

    #[test]
    fn refuses_short_and_unknown_commands() {
        let mut d = device();
        for payload in [&[][..], &[0x02], &[0x04, 0x01, 0x00], &[0x06, 0x03, 0, 0], &[0x35, 1], &[0x77]] {
            assert_eq!(status(&d.handle(payload)), 0x01, "{payload:?}");
        }
        assert_eq!(status(&d.handle(&[0x06, 0x01, 0x00, 0xC8])), 0x0B, "page 200 is outside a 200-page library");
    }
}
