//! The wire packet of GROW/ZhianTec modules, as pure encode and parse types.
//!
//! A packet is `EF 01`, a 4-byte module address, a packet kind, a big-endian length (payload + 2),
//! the payload and a 16-bit checksum (the low 16 bits of the sum of the kind byte, both length bytes
//! and every payload byte). [`Packet`] encodes one; [`Decoder`] takes bytes as they arrive and yields
//! packets, refusing impossible lengths, unknown kinds and bad checksums with a [`PacketError`], and
//! resynchronising on the next `EF 01` after garbage. This module owns framing only: what a payload
//! means (instructions, status codes) is `command.rs`, and when to give up waiting is the driver's.

use std::fmt;

/// The two bytes every packet starts with.
pub const START: [u8; 2] = [0xEF, 0x01];

/// The address a module answers to until it is told otherwise.
pub const DEFAULT_ADDRESS: u32 = 0xFFFF_FFFF;

/// The largest payload any packet carries (a 256-byte data packet).
pub const MAX_PAYLOAD: usize = 256;

/// Bytes before the payload: start code, address, kind, length.
const HEADER_LEN: usize = 9;

/// What a packet is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// A command from the host (0x01).
    Command,
    /// A data packet with more to follow (0x02).
    Data,
    /// The module's acknowledgement of a command (0x07).
    Ack,
    /// The last data packet of a transfer (0x08).
    EndData,
}

impl PacketKind {
    /// The kind's byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            PacketKind::Command => 0x01,
            PacketKind::Data => 0x02,
            PacketKind::Ack => 0x07,
            PacketKind::EndData => 0x08,
        }
    }

    /// The kind for a byte on the wire, if it is one.
    pub fn from_code(code: u8) -> Option<PacketKind> {
        match code {
            0x01 => Some(PacketKind::Command),
            0x02 => Some(PacketKind::Data),
            0x07 => Some(PacketKind::Ack),
            0x08 => Some(PacketKind::EndData),
            _ => None,
        }
    }
}

/// Why bytes on the line are not a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The checksum in the packet does not match its contents.
    #[error("bad checksum: the packet says {found:#06x}, its contents sum to {computed:#06x}")]
    Checksum {
        /// The checksum carried by the packet.
        found: u16,
        /// The checksum of the bytes received.
        computed: u16,
    },
    /// The length field is below 2 or above the largest packet.
    #[error("impossible length field {0} (a packet carries 2 to {max} bytes after it)", max = MAX_PAYLOAD + 2)]
    Length(u16),
    /// The packet kind byte is none of 01, 02, 07, 08.
    #[error("unknown packet kind {0:#04x}")]
    Kind(u8),
    /// A payload longer than any packet may carry was to be sent.
    #[error("a payload of {0} bytes does not fit in one packet (at most {MAX_PAYLOAD})")]
    PayloadTooLong(usize),
}

/// One packet, checked: its payload fits in a packet.
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    address: u32,
    kind: PacketKind,
    payload: Vec<u8>,
}

// Written by hand: data packets carry image and template bytes, which never go to the logs.
impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Packet({:?} to {:#010x}, {} payload bytes withheld)", self.kind, self.address, self.payload.len())
    }
}

impl Packet {
    /// A packet, refusing a payload longer than [`MAX_PAYLOAD`].
    pub fn new(address: u32, kind: PacketKind, payload: Vec<u8>) -> Result<Packet, PacketError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(PacketError::PayloadTooLong(payload.len()));
        }
        Ok(Packet { address, kind, payload })
    }

    /// The module address it is sent to or from.
    pub fn address(&self) -> u32 {
        self.address
    }

    /// What it is for.
    pub fn kind(&self) -> PacketKind {
        self.kind
    }

    /// The bytes between the length and the checksum.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, giving the packet up.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The packet's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        // Cannot truncate: `new` keeps the payload at most MAX_PAYLOAD bytes.
        let length = (self.payload.len() + 2) as u16;
        let mut bytes = Vec::with_capacity(HEADER_LEN + self.payload.len() + 2);
        bytes.extend_from_slice(&START);
        bytes.extend_from_slice(&self.address.to_be_bytes());
        bytes.push(self.kind.code());
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&self.payload);
        bytes.extend_from_slice(&checksum(self.kind.code(), length, &self.payload).to_be_bytes());
        bytes
    }
}

/// The low 16 bits of the sum of the kind byte, both length bytes and the payload.
pub fn checksum(kind: u8, length: u16, payload: &[u8]) -> u16 {
    let [high, low] = length.to_be_bytes();
    let sum = payload.iter().fold(u32::from(kind) + u32::from(high) + u32::from(low), |sum, &b| sum + u32::from(b));
    (sum & 0xFFFF) as u16
}

/// Turns bytes as they arrive into packets.
///
/// Bytes before a start code are skipped (and counted, see [`Decoder::take_skipped`]). A header
/// with an unknown kind or an impossible length is reported, and decoding starts again just after
/// its start code, so a real packet hidden behind a false start is still found. A packet with a
/// bad checksum is reported and dropped whole: it was framed correctly, so it *is* the packet, damaged.
#[derive(Default)]
pub struct Decoder {
    buffer: Vec<u8>,
    skipped: usize,
}

// Written by hand: the buffer may hold image or template bytes.
impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decoder({} bytes pending, {} skipped)", self.buffer.len(), self.skipped)
    }
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Adds bytes read from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Forgets everything pending, e.g. before sending a new command.
    pub fn clear(&mut self) {
        self.buffer.clear();
        self.skipped = 0;
    }

    /// Bytes received but not yet part of a whole packet.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// How many garbage bytes were skipped since the last call.
    pub fn take_skipped(&mut self) -> usize {
        std::mem::take(&mut self.skipped)
    }

    /// The next packet, or why the next framed bytes are not one; `None` until more bytes arrive.
    pub fn next_packet(&mut self) -> Option<Result<Packet, PacketError>> {
        self.skip_to_start();
        let header = self.buffer.get(..HEADER_LEN)?;
        let kind_code = header[6];
        let length = u16::from_be_bytes([header[7], header[8]]);
        let address = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        let Some(kind) = PacketKind::from_code(kind_code) else {
            self.buffer.drain(..START.len());
            return Some(Err(PacketError::Kind(kind_code)));
        };
        if !(2..=(MAX_PAYLOAD + 2) as u16).contains(&length) {
            self.buffer.drain(..START.len());
            return Some(Err(PacketError::Length(length)));
        }
        let total = HEADER_LEN + usize::from(length);
        let frame = self.buffer.get(..total)?;
        let payload = &frame[HEADER_LEN..total - 2];
        let found = u16::from_be_bytes([frame[total - 2], frame[total - 1]]);
        let computed = checksum(kind_code, length, payload);
        let result = if found == computed {
            Ok(Packet { address, kind, payload: payload.to_vec() })
        } else {
            Err(PacketError::Checksum { found, computed })
        };
        self.buffer.drain(..total);
        Some(result)
    }

    /// Drops bytes before the first start code; keeps a trailing `EF` that may begin one.
    fn skip_to_start(&mut self) {
        let at = self.buffer.windows(2).position(|pair| pair == START).unwrap_or_else(|| match self.buffer.last() {
            Some(&last) if last == START[0] => self.buffer.len() - 1,
            _ => self.buffer.len(),
        });
        if at > 0 {
            self.buffer.drain(..at);
            self.skipped += at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GenImg to the default address, as every host library sends it.
    const GEN_IMG: [u8; 12] = [0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05];

    fn decode_all(bytes: &[u8]) -> Vec<Result<Packet, PacketError>> {
        let mut decoder = Decoder::new();
        decoder.push(bytes);
        std::iter::from_fn(|| decoder.next_packet()).collect()
    }

    #[test]
    fn encodes_a_known_vector() {
        let packet = Packet::new(DEFAULT_ADDRESS, PacketKind::Command, vec![0x01]).unwrap();
        assert_eq!(packet.encode(), GEN_IMG);
    }

    #[test]
    fn checksum_keeps_the_low_16_bits() {
        assert_eq!(checksum(0x02, 0x0102, &[0xFF; 256]), ((2 + 1 + 2 + 255 * 256) & 0xFFFF) as u16);
        assert_eq!(checksum(0xFF, 0xFFFF, &[0xFF; 256]), ((0xFF * 259) & 0xFFFF) as u16);
    }

    #[test]
    fn decodes_what_it_encodes_byte_by_byte() {
        let packet = Packet::new(0x1234_5678, PacketKind::EndData, (0..=255).collect()).unwrap();
        let mut decoder = Decoder::new();
        let bytes = packet.encode();
        let (last, rest) = bytes.split_last().unwrap();
        for &b in rest {
            decoder.push(&[b]);
            assert!(decoder.next_packet().is_none());
        }
        decoder.push(&[*last]);
        assert_eq!(decoder.next_packet(), Some(Ok(packet)));
        assert_eq!(decoder.pending(), 0);
    }

    #[test]
    fn resynchronises_after_garbage() {
        let mut bytes = vec![0x00, 0xEF, 0x13, 0xEF];
        bytes.extend_from_slice(&GEN_IMG);
        let mut decoder = Decoder::new();
        decoder.push(&bytes);
        assert!(matches!(decoder.next_packet(), Some(Ok(p)) if p.payload() == [0x01]));
        assert_eq!(decoder.take_skipped(), 4);
    }

    #[test]
    fn a_false_start_does_not_hide_the_real_packet() {
        // A start code, then an unknown kind: the real packet begins inside the false header.
        let mut bytes = vec![0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x55];
        bytes.extend_from_slice(&GEN_IMG);
        let results = decode_all(&bytes);
        assert_eq!(results[0], Err(PacketError::Kind(0x55)));
        assert!(matches!(&results[1], Ok(p) if p.payload() == [0x01]));
    }

    #[test]
    fn refuses_impossible_lengths() {
        let mut short = GEN_IMG;
        short[7..9].copy_from_slice(&[0x00, 0x01]);
        assert_eq!(decode_all(&short)[0], Err(PacketError::Length(1)));
        let mut long = GEN_IMG;
        long[7..9].copy_from_slice(&[0x01, 0x03]);
        assert_eq!(decode_all(&long)[0], Err(PacketError::Length(0x0103)));
    }

    #[test]
    fn refuses_a_bad_checksum_and_goes_on() {
        let mut bad = GEN_IMG.to_vec();
        bad[11] ^= 0x40;
        bad.extend_from_slice(&GEN_IMG);
        let results = decode_all(&bad);
        assert_eq!(results[0], Err(PacketError::Checksum { found: 0x0045, computed: 0x0005 }));
        assert!(results[1].is_ok());
        assert_eq!(results.len(), 2);
    }

    #[test]
    fn refuses_a_payload_too_long() {
        assert_eq!(Packet::new(DEFAULT_ADDRESS, PacketKind::Data, vec![0; 257]), Err(PacketError::PayloadTooLong(257)));
    }

    #[test]
    fn debug_withholds_the_payload() {
        let packet = Packet::new(DEFAULT_ADDRESS, PacketKind::Data, vec![1, 2, 3]).unwrap();
        assert_eq!(format!("{packet:?}"), "Packet(Data to 0xffffffff, 3 payload bytes withheld)");
    }

    #[test]
    fn never_panics_on_any_short_input() {
        // Every 1- to 3-byte input after a valid header prefix, plus a sweep of lengths and kinds.
        for kind in 0..=255u8 {
            for len in [0u16, 1, 2, 3, 258, 259, 0xFFFF] {
                let mut bytes = vec![0xEF, 0x01, 0, 0, 0, 0, kind];
                bytes.extend_from_slice(&len.to_be_bytes());
                bytes.extend_from_slice(&[0xEF, 0x01, 0xEF]);
                let _ = decode_all(&bytes);
            }
        }
    }
}
