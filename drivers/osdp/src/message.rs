//! OSDP commands (ACU → PD) and replies (PD → ACU) as typed values, each with its code, its data
//! bytes and a parser.
//!
//! A message is the code and data of one frame, in clear: this module does not own framing
//! (`frame`), encryption (`secure`) or when a message is sent (`acu`). Parsers take any bytes and
//! return [`MessageError`] for ones that do not fit, never panicking.

use std::fmt;

use crate::secure::Key;

/// Why a message's data does not fit its code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The data has the wrong length for the code.
    #[error("{name} ({code:#04x}) has {len} bytes of data, which does not fit")]
    Length {
        /// The message's name.
        name: &'static str,
        /// Its code.
        code: u8,
        /// The data's length.
        len: usize,
    },
    /// A field has a value the protocol does not allow.
    #[error("{0}")]
    Value(&'static str),
}

fn length(name: &'static str, code: u8, data: &[u8]) -> MessageError {
    MessageError::Length { name, code, len: data.len() }
}

/// One osdp_OUT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputRecord {
    /// Output number on the PD.
    pub output: u8,
    /// Control code; 5 = temporary ON for `timer`, then back to the permanent state.
    pub code: u8,
    /// Timer in 100 ms units.
    pub timer: u16,
}

impl OutputRecord {
    /// Control code: temporary ON, then back to the permanent state.
    pub const TEMPORARY_ON: u8 = 5;
}

/// One osdp_LED record (14 bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedRecord {
    /// Reader number.
    pub reader: u8,
    /// LED number.
    pub led: u8,
    /// Temporary control code (0 no change, 1 cancel, 2 set).
    pub temp_code: u8,
    /// Temporary on time, 100 ms units.
    pub temp_on: u8,
    /// Temporary off time, 100 ms units.
    pub temp_off: u8,
    /// Temporary on colour (0 black, 1 red, 2 green, 3 amber, 4 blue).
    pub temp_on_color: u8,
    /// Temporary off colour.
    pub temp_off_color: u8,
    /// How long the temporary state lasts, 100 ms units.
    pub temp_timer: u16,
    /// Permanent control code (0 no change, 1 set).
    pub perm_code: u8,
    /// Permanent on time.
    pub perm_on: u8,
    /// Permanent off time.
    pub perm_off: u8,
    /// Permanent on colour.
    pub perm_on_color: u8,
    /// Permanent off colour.
    pub perm_off_color: u8,
}

/// The osdp_BUZ record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuzzerRecord {
    /// Reader number.
    pub reader: u8,
    /// Tone code (1 off, 2 default tone).
    pub tone: u8,
    /// On time, 100 ms units.
    pub on: u8,
    /// Off time, 100 ms units.
    pub off: u8,
    /// Repetitions (0 = until told otherwise).
    pub count: u8,
}

/// A command, ACU → PD.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// osdp_POLL (0x60).
    Poll,
    /// osdp_ID (0x61): report identity.
    Id,
    /// osdp_CAP (0x62): report capabilities.
    Cap,
    /// osdp_LSTAT (0x64): local status (tamper, power).
    LocalStatus,
    /// osdp_ISTAT (0x65): input status.
    InputStatus,
    /// osdp_OSTAT (0x66): output status.
    OutputStatus,
    /// osdp_OUT (0x68).
    Output(Vec<OutputRecord>),
    /// osdp_LED (0x69).
    Led(Vec<LedRecord>),
    /// osdp_BUZ (0x6A).
    Buzzer(BuzzerRecord),
    /// osdp_COMSET (0x6E): new address and baud rate.
    ComSet {
        /// New address.
        address: u8,
        /// New baud rate.
        baud: u32,
    },
    /// osdp_KEYSET (0x75): a new SCBK (only over an established secure channel).
    KeySet(Key),
    /// osdp_CHLNG (0x76): RND.A.
    Challenge([u8; 8]),
    /// osdp_SCRYPT (0x77): the server cryptogram.
    ServerCryptogram([u8; 16]),
    /// osdp_ACURXSIZE (0x7B): the ACU's receive buffer size.
    AcuRxSize(u16),
    /// osdp_KEEPACTIVE (0xA7): keep the secure channel up for this many milliseconds.
    KeepActive(u16),
    /// Any other code, kept as bytes.
    Other {
        /// Code.
        code: u8,
        /// Data.
        data: Vec<u8>,
    },
}

// Written by hand: KEYSET carries a key.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::KeySet(_) => f.write_str("KeySet(..)"),
            Command::Output(records) => f.debug_tuple("Output").field(records).finish(),
            Command::Led(records) => f.debug_tuple("Led").field(records).finish(),
            Command::Buzzer(record) => f.debug_tuple("Buzzer").field(record).finish(),
            Command::ComSet { address, baud } => {
                f.debug_struct("ComSet").field("address", address).field("baud", baud).finish()
            }
            Command::AcuRxSize(size) => f.debug_tuple("AcuRxSize").field(size).finish(),
            Command::KeepActive(ms) => f.debug_tuple("KeepActive").field(ms).finish(),
            Command::Other { code, data } => f.debug_struct("Other").field("code", code).field("data", data).finish(),
            other => f.write_str(other.name()),
        }
    }
}

impl Command {
    /// The command's code.
    pub fn code(&self) -> u8 {
        match self {
            Command::Poll => 0x60,
            Command::Id => 0x61,
            Command::Cap => 0x62,
            Command::LocalStatus => 0x64,
            Command::InputStatus => 0x65,
            Command::OutputStatus => 0x66,
            Command::Output(_) => 0x68,
            Command::Led(_) => 0x69,
            Command::Buzzer(_) => 0x6A,
            Command::ComSet { .. } => 0x6E,
            Command::KeySet(_) => 0x75,
            Command::Challenge(_) => 0x76,
            Command::ServerCryptogram(_) => 0x77,
            Command::AcuRxSize(_) => 0x7B,
            Command::KeepActive(_) => 0xA7,
            Command::Other { code, .. } => *code,
        }
    }

    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Poll => "POLL",
            Command::Id => "ID",
            Command::Cap => "CAP",
            Command::LocalStatus => "LSTAT",
            Command::InputStatus => "ISTAT",
            Command::OutputStatus => "OSTAT",
            Command::Output(_) => "OUT",
            Command::Led(_) => "LED",
            Command::Buzzer(_) => "BUZ",
            Command::ComSet { .. } => "COMSET",
            Command::KeySet(_) => "KEYSET",
            Command::Challenge(_) => "CHLNG",
            Command::ServerCryptogram(_) => "SCRYPT",
            Command::AcuRxSize(_) => "ACURXSIZE",
            Command::KeepActive(_) => "KEEPACTIVE",
            Command::Other { .. } => "command",
        }
    }

    /// The command's data bytes.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Command::Poll | Command::LocalStatus | Command::InputStatus | Command::OutputStatus => vec![],
            // The reply-type byte: 0 = standard.
            Command::Id | Command::Cap => vec![0],
            Command::Output(records) => records
                .iter()
                .flat_map(|r| {
                    let [lo, hi] = r.timer.to_le_bytes();
                    [r.output, r.code, lo, hi]
                })
                .collect(),
            Command::Led(records) => records.iter().flat_map(led_bytes).collect(),
            Command::Buzzer(b) => vec![b.reader, b.tone, b.on, b.off, b.count],
            Command::ComSet { address, baud } => {
                let mut data = vec![*address];
                data.extend_from_slice(&baud.to_le_bytes());
                data
            }
            Command::KeySet(key) => {
                // Key type 1 (SCBK), length 16, the key.
                let mut data = vec![1, 16];
                data.extend_from_slice(key.expose());
                data
            }
            Command::Challenge(rnd_a) => rnd_a.to_vec(),
            Command::ServerCryptogram(cryptogram) => cryptogram.to_vec(),
            Command::AcuRxSize(size) | Command::KeepActive(size) => size.to_le_bytes().to_vec(),
            Command::Other { data, .. } => data.clone(),
        }
    }

    /// Parses a command's code and clear data (the PD side).
    pub fn parse(code: u8, data: &[u8]) -> Result<Command, MessageError> {
        let exact = |name, n: usize| if data.len() == n { Ok(()) } else { Err(length(name, code, data)) };
        Ok(match code {
            0x60 => Command::Poll,
            0x61 => Command::Id,
            0x62 => Command::Cap,
            0x64 => Command::LocalStatus,
            0x65 => Command::InputStatus,
            0x66 => Command::OutputStatus,
            0x68 => {
                if data.is_empty() || !data.len().is_multiple_of(4) {
                    return Err(length("OUT", code, data));
                }
                Command::Output(
                    data.chunks_exact(4)
                        .map(|c| OutputRecord { output: c[0], code: c[1], timer: u16::from_le_bytes([c[2], c[3]]) })
                        .collect(),
                )
            }
            0x69 => {
                if data.is_empty() || !data.len().is_multiple_of(14) {
                    return Err(length("LED", code, data));
                }
                Command::Led(data.chunks_exact(14).map(parse_led).collect())
            }
            0x6A => {
                exact("BUZ", 5)?;
                Command::Buzzer(BuzzerRecord {
                    reader: data[0],
                    tone: data[1],
                    on: data[2],
                    off: data[3],
                    count: data[4],
                })
            }
            0x6E => {
                exact("COMSET", 5)?;
                Command::ComSet { address: data[0], baud: u32::from_le_bytes([data[1], data[2], data[3], data[4]]) }
            }
            0x75 => {
                exact("KEYSET", 18)?;
                if data[0] != 1 || data[1] != 16 {
                    return Err(MessageError::Value("KEYSET carries a key type or length other than an SCBK"));
                }
                let mut key = [0; 16];
                key.copy_from_slice(&data[2..]);
                Command::KeySet(Key::new(key))
            }
            0x76 => Command::Challenge(data.try_into().map_err(|_| length("CHLNG", code, data))?),
            0x77 => Command::ServerCryptogram(data.try_into().map_err(|_| length("SCRYPT", code, data))?),
            0x7B => Command::AcuRxSize(u16_le(data).ok_or_else(|| length("ACURXSIZE", code, data))?),
            0xA7 => Command::KeepActive(u16_le(data).ok_or_else(|| length("KEEPACTIVE", code, data))?),
            _ => Command::Other { code, data: data.to_vec() },
        })
    }
}

fn u16_le(data: &[u8]) -> Option<u16> {
    let bytes: [u8; 2] = data.try_into().ok()?;
    Some(u16::from_le_bytes(bytes))
}

fn led_bytes(r: &LedRecord) -> [u8; 14] {
    let [lo, hi] = r.temp_timer.to_le_bytes();
    [
        r.reader,
        r.led,
        r.temp_code,
        r.temp_on,
        r.temp_off,
        r.temp_on_color,
        r.temp_off_color,
        lo,
        hi,
        r.perm_code,
        r.perm_on,
        r.perm_off,
        r.perm_on_color,
        r.perm_off_color,
    ]
}

fn parse_led(c: &[u8]) -> LedRecord {
    LedRecord {
        reader: c[0],
        led: c[1],
        temp_code: c[2],
        temp_on: c[3],
        temp_off: c[4],
        temp_on_color: c[5],
        temp_off_color: c[6],
        temp_timer: u16::from_le_bytes([c[7], c[8]]),
        perm_code: c[9],
        perm_on: c[10],
        perm_off: c[11],
        perm_on_color: c[12],
        perm_off_color: c[13],
    }
}

/// Why a PD refused a command (osdp_NAK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NakReason {
    /// 1: bad CRC or checksum.
    Check,
    /// 2: bad length.
    Length,
    /// 3: unknown command.
    UnknownCommand,
    /// 4: unexpected sequence number.
    Sequence,
    /// 5: the secure channel is not supported.
    NoSecureChannel,
    /// 6: secure-channel conditions not met (e.g. the command needs it and it is not up).
    SecureConditions,
    /// 9: unable to process.
    Unable,
    /// Another reason code.
    Other(u8),
}

impl NakReason {
    /// From the reason byte.
    pub fn from_code(code: u8) -> NakReason {
        match code {
            1 => NakReason::Check,
            2 => NakReason::Length,
            3 => NakReason::UnknownCommand,
            4 => NakReason::Sequence,
            5 => NakReason::NoSecureChannel,
            6 => NakReason::SecureConditions,
            9 => NakReason::Unable,
            other => NakReason::Other(other),
        }
    }

    /// The reason byte.
    pub fn code(self) -> u8 {
        match self {
            NakReason::Check => 1,
            NakReason::Length => 2,
            NakReason::UnknownCommand => 3,
            NakReason::Sequence => 4,
            NakReason::NoSecureChannel => 5,
            NakReason::SecureConditions => 6,
            NakReason::Unable => 9,
            NakReason::Other(code) => code,
        }
    }
}

impl fmt::Display for NakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NakReason::Check => f.write_str("bad CRC or checksum (NAK 1)"),
            NakReason::Length => f.write_str("bad length (NAK 2)"),
            NakReason::UnknownCommand => f.write_str("unknown command (NAK 3)"),
            NakReason::Sequence => f.write_str("unexpected sequence number (NAK 4)"),
            NakReason::NoSecureChannel => f.write_str("secure channel not supported (NAK 5)"),
            NakReason::SecureConditions => f.write_str("secure channel conditions not met (NAK 6)"),
            NakReason::Unable => f.write_str("unable to process (NAK 9)"),
            NakReason::Other(code) => write!(f, "NAK {code}"),
        }
    }
}

/// What a PD says it is (osdp_PDID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdIdentity {
    /// IEEE OUI of the vendor.
    pub vendor: [u8; 3],
    /// Model number.
    pub model: u8,
    /// Model version.
    pub version: u8,
    /// Serial number.
    pub serial: u32,
    /// Firmware major, minor, build.
    pub firmware: [u8; 3],
}

impl fmt::Display for PdIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [v0, v1, v2] = self.vendor;
        let [major, minor, build] = self.firmware;
        write!(
            f,
            "vendor {v0:02X}-{v1:02X}-{v2:02X} model {} version {} serial {:08X} firmware {major}.{minor}.{build}",
            self.model, self.version, self.serial
        )
    }
}

/// One osdp_PDCAP entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Function code (1 inputs, 2 outputs, 4 LEDs, 5 buzzer, 9 secure channel, …).
    pub function: u8,
    /// Compliance level.
    pub compliance: u8,
    /// Number of items.
    pub count: u8,
}

/// A reply, PD → ACU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// osdp_ACK (0x40).
    Ack,
    /// osdp_NAK (0x41).
    Nak(NakReason),
    /// osdp_PDID (0x45).
    Identity(PdIdentity),
    /// osdp_PDCAP (0x46).
    Capabilities(Vec<Capability>),
    /// osdp_LSTATR (0x48).
    LocalStatus {
        /// Tamper switch tripped.
        tamper: bool,
        /// Mains power failed.
        power_failed: bool,
    },
    /// osdp_ISTATR (0x49): one byte per input, nonzero = active.
    InputStatus(Vec<bool>),
    /// osdp_OSTATR (0x4A): one byte per output.
    OutputStatus(Vec<bool>),
    /// osdp_COM (0x54): the communication settings a PD takes after COMSET.
    Communication {
        /// Its address from now on.
        address: u8,
        /// Its line speed from now on.
        baud: u32,
    },
    /// osdp_CCRYPT (0x76).
    ClientCryptogram {
        /// The PD's unique id.
        cuid: [u8; 8],
        /// RND.B.
        rnd_b: [u8; 8],
        /// AES(S-ENC, RND.A ‖ RND.B).
        cryptogram: [u8; 16],
    },
    /// osdp_RMAC_I (0x78): the initial reply MAC.
    InitialRmac([u8; 16]),
    /// osdp_BUSY (0x79).
    Busy,
    /// Any other code, kept as bytes.
    Other {
        /// Code.
        code: u8,
        /// Data.
        data: Vec<u8>,
    },
}

impl Reply {
    /// The reply's code.
    pub fn code(&self) -> u8 {
        match self {
            Reply::Ack => 0x40,
            Reply::Nak(_) => 0x41,
            Reply::Identity(_) => 0x45,
            Reply::Capabilities(_) => 0x46,
            Reply::LocalStatus { .. } => 0x48,
            Reply::InputStatus(_) => 0x49,
            Reply::OutputStatus(_) => 0x4A,
            Reply::Communication { .. } => 0x54,
            Reply::ClientCryptogram { .. } => 0x76,
            Reply::InitialRmac(_) => 0x78,
            Reply::Busy => 0x79,
            Reply::Other { code, .. } => *code,
        }
    }

    /// The reply's data bytes.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Reply::Ack | Reply::Busy => vec![],
            Reply::Nak(reason) => vec![reason.code()],
            Reply::Identity(id) => {
                let mut data = id.vendor.to_vec();
                data.extend_from_slice(&[id.model, id.version]);
                data.extend_from_slice(&id.serial.to_le_bytes());
                data.extend_from_slice(&id.firmware);
                data
            }
            Reply::Capabilities(caps) => caps.iter().flat_map(|c| [c.function, c.compliance, c.count]).collect(),
            Reply::LocalStatus { tamper, power_failed } => vec![u8::from(*tamper), u8::from(*power_failed)],
            Reply::InputStatus(points) | Reply::OutputStatus(points) => points.iter().map(|&p| u8::from(p)).collect(),
            Reply::Communication { address, baud } => [&[*address][..], &baud.to_le_bytes()[..]].concat(),
            Reply::ClientCryptogram { cuid, rnd_b, cryptogram } => [&cuid[..], &rnd_b[..], &cryptogram[..]].concat(),
            Reply::InitialRmac(rmac) => rmac.to_vec(),
            Reply::Other { data, .. } => data.clone(),
        }
    }

    /// Parses a reply's code and clear data (the ACU side).
    pub fn parse(code: u8, data: &[u8]) -> Result<Reply, MessageError> {
        Ok(match code {
            0x40 => Reply::Ack,
            // The reason byte may be followed by detail bytes.
            0x41 => Reply::Nak(NakReason::from_code(*data.first().ok_or_else(|| length("NAK", code, data))?)),
            0x45 => {
                if data.len() != 12 {
                    return Err(length("PDID", code, data));
                }
                Reply::Identity(PdIdentity {
                    vendor: [data[0], data[1], data[2]],
                    model: data[3],
                    version: data[4],
                    serial: u32::from_le_bytes([data[5], data[6], data[7], data[8]]),
                    firmware: [data[9], data[10], data[11]],
                })
            }
            0x46 => {
                if !data.len().is_multiple_of(3) {
                    return Err(length("PDCAP", code, data));
                }
                Reply::Capabilities(
                    data.chunks_exact(3)
                        .map(|c| Capability { function: c[0], compliance: c[1], count: c[2] })
                        .collect(),
                )
            }
            0x48 => {
                if data.len() != 2 {
                    return Err(length("LSTATR", code, data));
                }
                Reply::LocalStatus { tamper: data[0] != 0, power_failed: data[1] != 0 }
            }
            0x49 => Reply::InputStatus(data.iter().map(|&b| b != 0).collect()),
            0x4A => Reply::OutputStatus(data.iter().map(|&b| b != 0).collect()),
            0x54 => {
                if data.len() != 5 {
                    return Err(length("COM", code, data));
                }
                Reply::Communication {
                    address: data[0],
                    baud: u32::from_le_bytes([data[1], data[2], data[3], data[4]]),
                }
            }
            0x76 => {
                if data.len() != 32 {
                    return Err(length("CCRYPT", code, data));
                }
                let mut cuid = [0; 8];
                let mut rnd_b = [0; 8];
                let mut cryptogram = [0; 16];
                cuid.copy_from_slice(&data[..8]);
                rnd_b.copy_from_slice(&data[8..16]);
                cryptogram.copy_from_slice(&data[16..]);
                Reply::ClientCryptogram { cuid, rnd_b, cryptogram }
            }
            0x78 => Reply::InitialRmac(data.try_into().map_err(|_| length("RMAC_I", code, data))?),
            0x79 => Reply::Busy,
            _ => Reply::Other { code, data: data.to_vec() },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn com_carries_the_new_address_and_speed() {
        let com = Reply::Communication { address: 5, baud: 19_200 };
        assert_eq!((com.code(), com.data()), (0x54, vec![5, 0x00, 0x4B, 0, 0]));
        assert_eq!(Reply::parse(0x54, &com.data()), Ok(com));
        assert!(Reply::parse(0x54, &[5, 0]).is_err());
    }

    #[test]
    fn out_carries_code_5_and_the_timer_little_endian() {
        let out = Command::Output(vec![OutputRecord { output: 0, code: 5, timer: 30 }]);
        // As libosdp's ACU sends it: 68 00 05 1e 00.
        assert_eq!((out.code(), out.data()), (0x68, vec![0, 5, 0x1e, 0]));
        assert_eq!(Command::parse(0x68, &out.data()), Ok(out));
    }

    #[test]
    fn parses_libosdp_pdid_and_pdcap() {
        let pdid = [0xbe, 0xba, 0xfe, 1, 1, 0xaf, 0xbe, 0xad, 0xde, 0xad, 0xde, 0xad];
        let Ok(Reply::Identity(id)) = Reply::parse(0x45, &pdid) else { panic!("not a PDID") };
        assert_eq!(id.serial, 0xdeadbeaf);
        assert_eq!(Reply::Identity(id).data(), pdid);
        let caps = Reply::parse(0x46, &[1, 1, 4, 2, 1, 4]).unwrap();
        assert_eq!(
            caps,
            Reply::Capabilities(vec![
                Capability { function: 1, compliance: 1, count: 4 },
                Capability { function: 2, compliance: 1, count: 4 }
            ])
        );
    }

    #[test]
    fn round_trips_every_command_shape() {
        let commands = [
            Command::Poll,
            Command::Id,
            Command::Led(vec![LedRecord { temp_code: 2, temp_on_color: 2, temp_timer: 20, ..LedRecord::default() }]),
            Command::Buzzer(BuzzerRecord { reader: 0, tone: 2, on: 2, off: 1, count: 1 }),
            Command::ComSet { address: 3, baud: 115_200 },
            Command::KeySet(Key::new([7; 16])),
            Command::Challenge([1; 8]),
            Command::ServerCryptogram([2; 16]),
            Command::KeepActive(5000),
        ];
        for command in commands {
            let parsed = Command::parse(command.code(), &command.data());
            assert_eq!(parsed.as_ref(), Ok(&command), "{command:?}");
        }
    }

    #[test]
    fn short_replies_are_errors_not_panics() {
        for code in 0x40..=0x7F {
            let _ = Reply::parse(code, &[]);
            let _ = Command::parse(code, &[]);
        }
        assert!(Reply::parse(0x41, &[]).is_err());
        assert!(Reply::parse(0x76, &[0; 31]).is_err());
    }

    #[test]
    fn keyset_never_shows_its_key() {
        assert_eq!(format!("{:?}", Command::KeySet(Key::new([0xAB; 16]))), "KeySet(..)");
    }
}
