//! The module's instructions, each a small type that knows its bytes and how to read its reply.
//!
//! A command's [`Command::to_bytes`] is the payload of its command packet (instruction code, then
//! parameters, big-endian); [`Command::parse_reply`] reads the acknowledgement packet into a typed
//! reply. Outcomes a caller expects (no finger yet, no match, wrong password) are part of the reply;
//! any other non-zero status is a [`CommandError::Status`] carrying a [`Status`]. This module owns
//! the meaning of payloads only: framing is `packet.rs`, sending and waiting is the driver's, and the
//! device side of each instruction is the emulator's.

use std::fmt;

use crate::packet::{Packet, PacketKind};
pub use crate::status::Status;

/// Why an acknowledgement is not the reply a command expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The module reported a failure.
    #[error("{0}")]
    Status(Status),
    /// The reply was not an acknowledgement packet.
    #[error("expected an acknowledgement, got a {0:?} packet")]
    NotAnAck(PacketKind),
    /// The acknowledgement was shorter than the reply needs.
    #[error("the acknowledgement has {got} payload bytes, the reply needs {needed}")]
    TooShort {
        /// Payload bytes received.
        got: usize,
        /// Payload bytes the reply needs.
        needed: usize,
    },
}

/// One instruction to the module.
pub trait Command {
    /// The instruction code.
    const CODE: u8;
    /// Its name in logs and errors.
    const NAME: &'static str;
    /// What a successful (or expected) acknowledgement says.
    type Reply;

    /// The command packet's payload: instruction code, then parameters.
    fn to_bytes(&self) -> Vec<u8>;

    /// Reads the acknowledgement.
    fn parse_reply(&self, ack: &Packet) -> Result<Self::Reply, CommandError>;
}

/// Checks that `ack` is an acknowledgement of at least `needed` payload bytes (status included)
/// and returns its status and payload.
fn ack_payload(ack: &Packet, needed: usize) -> Result<(Status, &[u8]), CommandError> {
    if ack.kind() != PacketKind::Ack {
        return Err(CommandError::NotAnAck(ack.kind()));
    }
    let payload = ack.payload();
    let Some(&code) = payload.first() else {
        return Err(CommandError::TooShort { got: 0, needed: needed.max(1) });
    };
    let status = Status::from_code(code);
    if status == Status::Ok && payload.len() < needed {
        return Err(CommandError::TooShort { got: payload.len(), needed });
    }
    Ok((status, payload))
}

/// Reads a reply that is only a status, where only 00 is success.
fn status_only(ack: &Packet) -> Result<(), CommandError> {
    match ack_payload(ack, 1)?.0 {
        Status::Ok => Ok(()),
        other => Err(CommandError::Status(other)),
    }
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// One of the two feature buffers in the module's RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharBuffer {
    /// CharBuffer1 (code 1).
    One,
    /// CharBuffer2 (code 2).
    Two,
}

impl CharBuffer {
    /// The buffer's code on the wire.
    pub fn code(self) -> u8 {
        match self {
            CharBuffer::One => 1,
            CharBuffer::Two => 2,
        }
    }
}

/// Whether GenImg found a finger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// A finger was on the sensor; its image is in the image buffer.
    Finger,
    /// No finger (status 02).
    NoFinger,
}

/// 01 GenImg: take an image of the finger on the sensor into the image buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenImg;

impl Command for GenImg {
    const CODE: u8 = 0x01;
    const NAME: &'static str = "GenImg";
    type Reply = Touch;

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<Touch, CommandError> {
        match ack_payload(ack, 1)?.0 {
            Status::Ok => Ok(Touch::Finger),
            Status::NoFinger => Ok(Touch::NoFinger),
            other => Err(CommandError::Status(other)),
        }
    }
}

/// 02 Img2Tz: extract features from the image buffer into a feature buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Img2Tz(pub CharBuffer);

impl Command for Img2Tz {
    const CODE: u8 = 0x02;
    const NAME: &'static str = "Img2Tz";
    type Reply = ();

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE, self.0.code()]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<(), CommandError> {
        status_only(ack)
    }
}

/// 03 Match: compare the two feature buffers; the reply is the score, or `None` for no match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match;

impl Command for Match {
    const CODE: u8 = 0x03;
    const NAME: &'static str = "Match";
    type Reply = Option<u16>;

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<Option<u16>, CommandError> {
        match ack_payload(ack, 3)? {
            (Status::Ok, payload) => Ok(Some(be16(payload, 1))),
            (Status::NoMatch, _) => Ok(None),
            (other, _) => Err(CommandError::Status(other)),
        }
    }
}

/// Where Search found a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchHit {
    /// The library page.
    pub page: u16,
    /// The module's match score.
    pub score: u16,
}

/// 04 Search: look for a feature buffer among `count` library pages from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    /// The feature buffer to look for.
    pub buffer: CharBuffer,
    /// The first library page searched.
    pub start: u16,
    /// How many pages are searched.
    pub count: u16,
}

impl Command for Search {
    const CODE: u8 = 0x04;
    const NAME: &'static str = "Search";
    type Reply = Option<SearchHit>;

    fn to_bytes(&self) -> Vec<u8> {
        let [s1, s0] = self.start.to_be_bytes();
        let [c1, c0] = self.count.to_be_bytes();
        vec![Self::CODE, self.buffer.code(), s1, s0, c1, c0]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<Option<SearchHit>, CommandError> {
        match ack_payload(ack, 5)? {
            (Status::Ok, payload) => Ok(Some(SearchHit { page: be16(payload, 1), score: be16(payload, 3) })),
            (Status::NotFound, _) => Ok(None),
            (other, _) => Err(CommandError::Status(other)),
        }
    }
}

/// 05 RegModel: combine both feature buffers into one template; `false` if they do not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegModel;

impl Command for RegModel {
    const CODE: u8 = 0x05;
    const NAME: &'static str = "RegModel";
    type Reply = bool;

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<bool, CommandError> {
        match ack_payload(ack, 1)?.0 {
            Status::Ok => Ok(true),
            Status::EnrolMismatch => Ok(false),
            other => Err(CommandError::Status(other)),
        }
    }
}

/// 06 Store: write a feature buffer to a library page in flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Store {
    /// The feature buffer written.
    pub buffer: CharBuffer,
    /// The library page.
    pub page: u16,
}

impl Command for Store {
    const CODE: u8 = 0x06;
    const NAME: &'static str = "Store";
    type Reply = ();

    fn to_bytes(&self) -> Vec<u8> {
        let [p1, p0] = self.page.to_be_bytes();
        vec![Self::CODE, self.buffer.code(), p1, p0]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<(), CommandError> {
        status_only(ack)
    }
}

/// 0A UpImage: send the image buffer to the host; data packets follow a successful acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpImage;

impl Command for UpImage {
    const CODE: u8 = 0x0A;
    const NAME: &'static str = "UpImage";
    type Reply = ();

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<(), CommandError> {
        status_only(ack)
    }
}

/// 0D Empty: delete every template in the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty;

impl Command for Empty {
    const CODE: u8 = 0x0D;
    const NAME: &'static str = "Empty";
    type Reply = ();

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<(), CommandError> {
        status_only(ack)
    }
}

/// The module's basic parameters, as ReadSysPara reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SystemParameters {
    /// Status register (bit 0 busy, bit 1 matched, bit 2 password verified, bit 3 image buffer valid).
    pub status_register: u16,
    /// System identifier code.
    pub system_id: u16,
    /// Library size in templates.
    pub capacity: u16,
    /// Security level, 1 to 5.
    pub security_level: u16,
    /// The module's address.
    pub address: u32,
    /// Data packet size code: 0, 1, 2, 3 for 32, 64, 128, 256 bytes.
    pub packet_size_code: u16,
    /// Baud rate divided by 9600.
    pub baud_multiplier: u16,
}

impl SystemParameters {
    /// The 16 bytes that follow the status in ReadSysPara's reply.
    pub const LEN: usize = 16;

    /// Data packet payload size in bytes, if the code is one of the four defined.
    pub fn packet_size(&self) -> Option<usize> {
        (self.packet_size_code <= 3).then(|| 32 << self.packet_size_code)
    }

    /// The bytes ReadSysPara sends after the status.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut bytes = [0; Self::LEN];
        bytes[0..2].copy_from_slice(&self.status_register.to_be_bytes());
        bytes[2..4].copy_from_slice(&self.system_id.to_be_bytes());
        bytes[4..6].copy_from_slice(&self.capacity.to_be_bytes());
        bytes[6..8].copy_from_slice(&self.security_level.to_be_bytes());
        bytes[8..12].copy_from_slice(&self.address.to_be_bytes());
        bytes[12..14].copy_from_slice(&self.packet_size_code.to_be_bytes());
        bytes[14..16].copy_from_slice(&self.baud_multiplier.to_be_bytes());
        bytes
    }
}

/// 0F ReadSysPara: read the module's basic parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadSysPara;

impl Command for ReadSysPara {
    const CODE: u8 = 0x0F;
    const NAME: &'static str = "ReadSysPara";
    type Reply = SystemParameters;

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<SystemParameters, CommandError> {
        match ack_payload(ack, 1 + SystemParameters::LEN)? {
            (Status::Ok, p) => Ok(SystemParameters {
                status_register: be16(p, 1),
                system_id: be16(p, 3),
                capacity: be16(p, 5),
                security_level: be16(p, 7),
                address: u32::from_be_bytes([p[9], p[10], p[11], p[12]]),
                packet_size_code: be16(p, 13),
                baud_multiplier: be16(p, 15),
            }),
            (other, _) => Err(CommandError::Status(other)),
        }
    }
}

/// 13 VfyPwd: prove the password; the reply is whether the module accepted it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VfyPwd {
    /// The module password (0 unless someone set one).
    pub password: u32,
}

// Written by hand: the password stays out of the logs.
impl fmt::Debug for VfyPwd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VfyPwd(password withheld)")
    }
}

impl Command for VfyPwd {
    const CODE: u8 = 0x13;
    const NAME: &'static str = "VfyPwd";
    type Reply = bool;

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![Self::CODE];
        bytes.extend_from_slice(&self.password.to_be_bytes());
        bytes
    }

    fn parse_reply(&self, ack: &Packet) -> Result<bool, CommandError> {
        match ack_payload(ack, 1)?.0 {
            Status::Ok => Ok(true),
            Status::WrongPassword => Ok(false),
            other => Err(CommandError::Status(other)),
        }
    }
}

/// 1D TemplateCount: how many library pages hold a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateCount;

impl Command for TemplateCount {
    const CODE: u8 = 0x1D;
    const NAME: &'static str = "TemplateCount";
    type Reply = u16;

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<u16, CommandError> {
        match ack_payload(ack, 3)? {
            (Status::Ok, payload) => Ok(be16(payload, 1)),
            (other, _) => Err(CommandError::Status(other)),
        }
    }
}

/// What the R503's ring light does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuraEffect {
    /// Breathing (01).
    Breathing,
    /// Flashing (02).
    Flashing,
    /// Always on (03).
    On,
    /// Always off (04).
    Off,
    /// Gradually on (05).
    FadeIn,
    /// Gradually off (06).
    FadeOut,
}

impl AuraEffect {
    /// The control code on the wire.
    pub fn code(self) -> u8 {
        match self {
            AuraEffect::Breathing => 1,
            AuraEffect::Flashing => 2,
            AuraEffect::On => 3,
            AuraEffect::Off => 4,
            AuraEffect::FadeIn => 5,
            AuraEffect::FadeOut => 6,
        }
    }
}

/// The R503 ring light's colours (codes 1 to 7; green and later only on newer firmware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuraColour {
    /// 01.
    Red,
    /// 02.
    Blue,
    /// 03.
    Purple,
    /// 04.
    Green,
}

impl AuraColour {
    /// The colour index on the wire.
    pub fn code(self) -> u8 {
        match self {
            AuraColour::Red => 1,
            AuraColour::Blue => 2,
            AuraColour::Purple => 3,
            AuraColour::Green => 4,
        }
    }
}

/// 35 AuraLedConfig (R503): set the ring light.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuraLed {
    /// What the light does.
    pub effect: AuraEffect,
    /// Breathing/flashing speed, 0 (fastest) to 255.
    pub speed: u8,
    /// Its colour.
    pub colour: AuraColour,
    /// Cycles for breathing and flashing; 0 repeats forever.
    pub cycles: u8,
}

impl Command for AuraLed {
    const CODE: u8 = 0x35;
    const NAME: &'static str = "AuraLedConfig";
    type Reply = ();

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE, self.effect.code(), self.speed, self.colour.code(), self.cycles]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<(), CommandError> {
        status_only(ack)
    }
}

/// 3D SoftReset: restart the module (the R503 then sends one 0x55 byte when ready).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftReset;

impl Command for SoftReset {
    const CODE: u8 = 0x3D;
    const NAME: &'static str = "SoftReset";
    type Reply = ();

    fn to_bytes(&self) -> Vec<u8> {
        vec![Self::CODE]
    }

    fn parse_reply(&self, ack: &Packet) -> Result<(), CommandError> {
        status_only(ack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::DEFAULT_ADDRESS;

    fn wire<C: Command>(command: &C) -> Vec<u8> {
        Packet::new(DEFAULT_ADDRESS, PacketKind::Command, command.to_bytes()).unwrap().encode()
    }

    fn ack(payload: &[u8]) -> Packet {
        Packet::new(DEFAULT_ADDRESS, PacketKind::Ack, payload.to_vec()).unwrap()
    }

    const HEAD: [u8; 7] = [0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];

    fn framed(rest: &[u8]) -> Vec<u8> {
        [&HEAD[..], rest].concat()
    }

    #[test]
    fn encodes_each_command() {
        assert_eq!(wire(&GenImg), framed(&[0x00, 0x03, 0x01, 0x00, 0x05]));
        assert_eq!(wire(&Img2Tz(CharBuffer::Two)), framed(&[0x00, 0x04, 0x02, 0x02, 0x00, 0x09]));
        assert_eq!(wire(&Match), framed(&[0x00, 0x03, 0x03, 0x00, 0x07]));
        assert_eq!(
            wire(&Search { buffer: CharBuffer::One, start: 0, count: 0x00C8 }),
            framed(&[0x00, 0x08, 0x04, 0x01, 0x00, 0x00, 0x00, 0xC8, 0x00, 0xD6])
        );
        assert_eq!(wire(&RegModel), framed(&[0x00, 0x03, 0x05, 0x00, 0x09]));
        assert_eq!(
            wire(&Store { buffer: CharBuffer::One, page: 0x0105 }),
            framed(&[0x00, 0x06, 0x06, 0x01, 0x01, 0x05, 0x00, 0x14])
        );
        assert_eq!(wire(&UpImage), framed(&[0x00, 0x03, 0x0A, 0x00, 0x0E]));
        assert_eq!(wire(&Empty), framed(&[0x00, 0x03, 0x0D, 0x00, 0x11]));
        assert_eq!(wire(&ReadSysPara), framed(&[0x00, 0x03, 0x0F, 0x00, 0x13]));
        assert_eq!(wire(&VfyPwd { password: 0 }), framed(&[0x00, 0x07, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1B]));
        assert_eq!(wire(&TemplateCount), framed(&[0x00, 0x03, 0x1D, 0x00, 0x21]));
        assert_eq!(
            wire(&AuraLed { effect: AuraEffect::Breathing, speed: 0x80, colour: AuraColour::Blue, cycles: 0 }),
            framed(&[0x00, 0x07, 0x35, 0x01, 0x80, 0x02, 0x00, 0x00, 0xC0])
        );
        assert_eq!(wire(&SoftReset), framed(&[0x00, 0x03, 0x3D, 0x00, 0x41]));
    }

    #[test]
    fn reads_expected_outcomes_as_replies() {
        assert_eq!(GenImg.parse_reply(&ack(&[0x02])), Ok(Touch::NoFinger));
        assert_eq!(GenImg.parse_reply(&ack(&[0x00])), Ok(Touch::Finger));
        assert_eq!(VfyPwd { password: 1 }.parse_reply(&ack(&[0x13])), Ok(false));
        assert_eq!(RegModel.parse_reply(&ack(&[0x0A])), Ok(false));
        assert_eq!(Match.parse_reply(&ack(&[0x00, 0x01, 0x2C])), Ok(Some(300)));
        assert_eq!(Match.parse_reply(&ack(&[0x08, 0x00, 0x00])), Ok(None));
        let search = Search { buffer: CharBuffer::One, start: 0, count: 10 };
        assert_eq!(
            search.parse_reply(&ack(&[0x00, 0x00, 0x05, 0x00, 0xC8])),
            Ok(Some(SearchHit { page: 5, score: 200 }))
        );
        assert_eq!(search.parse_reply(&ack(&[0x09, 0x00, 0x00, 0x00, 0x00])), Ok(None));
        assert_eq!(TemplateCount.parse_reply(&ack(&[0x00, 0x00, 0x03])), Ok(3));
    }

    #[test]
    fn reads_system_parameters() {
        let params = SystemParameters {
            status_register: 0x0004,
            system_id: 0x0000,
            capacity: 200,
            security_level: 3,
            address: DEFAULT_ADDRESS,
            packet_size_code: 2,
            baud_multiplier: 6,
        };
        let payload = [&[0x00][..], &params.to_bytes()].concat();
        assert_eq!(ReadSysPara.parse_reply(&ack(&payload)), Ok(params));
        assert_eq!(params.packet_size(), Some(128));
    }

    #[test]
    fn refuses_failures_and_bad_shapes() {
        assert_eq!(GenImg.parse_reply(&ack(&[0x03])), Err(CommandError::Status(Status::ImageFailed)));
        assert_eq!(
            Img2Tz(CharBuffer::One).parse_reply(&ack(&[0x07])),
            Err(CommandError::Status(Status::TooFewFeatures))
        );
        assert_eq!(
            Store { buffer: CharBuffer::One, page: 999 }.parse_reply(&ack(&[0x0B])),
            Err(CommandError::Status(Status::BadLocation))
        );
        assert_eq!(ReadSysPara.parse_reply(&ack(&[0x00, 0x01])), Err(CommandError::TooShort { got: 2, needed: 17 }));
        assert_eq!(GenImg.parse_reply(&ack(&[])), Err(CommandError::TooShort { got: 0, needed: 1 }));
        let data = Packet::new(DEFAULT_ADDRESS, PacketKind::Data, vec![0]).unwrap();
        assert_eq!(GenImg.parse_reply(&data), Err(CommandError::NotAnAck(PacketKind::Data)));
    }

    #[test]
    fn password_stays_out_of_debug() {
        assert_eq!(format!("{:?}", VfyPwd { password: 42 }), "VfyPwd(password withheld)");
    }
}
