//! The OSDP frame as a pure type: encode, parse, and a streaming [`Decoder`] that finds frames in
//! whatever bytes arrive on the line.
//!
//! A frame is: optional 0xFF mark, SOM 0x53, address (reply bit 0x80), little-endian length (SOM
//! through the check bytes), control byte (sequence in bits 0–1, CRC flag bit 2, security-block
//! flag bit 3), optional security block (length, type, data), command or reply code, data, an
//! optional 4-byte MAC (security block types 0x15–0x18), then a CRC-16 (poly 0x1021, init 0x1D0F,
//! sent little-endian) or an 8-bit checksum.
//!
//! This module owns bytes only: it does not know what a code means (`message`), how a MAC is
//! computed or data encrypted (`secure`), nor which sequence number comes next (`acu`).

/// The start-of-message byte.
pub const SOM: u8 = 0x53;
/// The optional mark byte an ACU sends before SOM.
pub const MARK: u8 = 0xFF;
/// The address bit a PD sets in its replies.
pub const REPLY_BIT: u8 = 0x80;
/// The broadcast address.
pub const BROADCAST: u8 = 0x7F;
/// The largest frame this decoder accepts (the OSDP maximum is 1440 bytes on the wire).
pub const MAX_FRAME: usize = 1440;

const CTRL_SEQ: u8 = 0x03;
const CTRL_CRC: u8 = 0x04;
const CTRL_SCB: u8 = 0x08;
const MAC_LEN: usize = 4;

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length field is below the smallest frame or above [`MAX_FRAME`].
    #[error("frame length {0} is out of range")]
    Length(usize),
    /// The CRC-16 does not match the bytes.
    #[error("bad CRC: found {found:#06x}, computed {computed:#06x}")]
    Crc {
        /// The value on the wire.
        found: u16,
        /// The value of the bytes.
        computed: u16,
    },
    /// The 8-bit checksum does not match the bytes.
    #[error("bad checksum: found {found:#04x}, computed {computed:#04x}")]
    Checksum {
        /// The value on the wire.
        found: u8,
        /// The value of the bytes.
        computed: u8,
    },
    /// The security block does not fit in the frame, or is shorter than its own header.
    #[error("malformed security block")]
    SecurityBlock,
    /// The frame is too short for its security block's MAC and a code.
    #[error("frame too short for its contents")]
    Truncated,
    /// A frame to encode declares a MAC but carries none.
    #[error("the frame's security block needs a MAC and none was set")]
    MissingMac,
    /// A frame to encode has an address above 0x7F.
    #[error("address {0:#04x} is out of range")]
    Address(u8),
    /// A frame to encode would exceed [`MAX_FRAME`].
    #[error("frame of {0} bytes is too long")]
    TooLong(usize),
}

/// How the frame's integrity is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// CRC-16 (two bytes).
    Crc,
    /// 8-bit two's-complement checksum (one byte).
    Checksum,
}

impl Check {
    fn len(self) -> usize {
        match self {
            Check::Crc => 2,
            Check::Checksum => 1,
        }
    }
}

/// The security block: its type (SCS_11 … SCS_18) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityBlock {
    /// Type byte, e.g. 0x11 for CHLNG, 0x15 for a MACed command.
    pub kind: u8,
    /// Data after the type byte (e.g. `[1]` = SCBK in use, `[0]` = SCBK-D).
    pub data: Vec<u8>,
}

impl SecurityBlock {
    /// Whether frames with this block carry a MAC (SCS_15 … SCS_18).
    pub fn has_mac(&self) -> bool {
        (0x15..=0x18).contains(&self.kind)
    }
}

/// One frame, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The PD's address (0x00–0x7F), without the reply bit.
    pub address: u8,
    /// Whether this is a reply (PD → ACU).
    pub reply: bool,
    /// Sequence number, 0–3.
    pub sequence: u8,
    /// CRC-16 or checksum.
    pub check: Check,
    /// The security block, if any.
    pub security: Option<SecurityBlock>,
    /// Command or reply code.
    pub code: u8,
    /// Data after the code (encrypted, in SCS_17/18 frames).
    pub data: Vec<u8>,
    /// The first four bytes of the MAC, in SCS_15 … SCS_18 frames.
    pub mac: Option<[u8; 4]>,
}

impl Frame {
    /// A plain command frame with CRC.
    pub fn command(address: u8, sequence: u8, code: u8, data: Vec<u8>) -> Frame {
        Frame { address, reply: false, sequence, check: Check::Crc, security: None, code, data, mac: None }
    }

    /// A plain reply frame with CRC.
    pub fn reply(address: u8, sequence: u8, code: u8, data: Vec<u8>) -> Frame {
        Frame { reply: true, ..Frame::command(address, sequence, code, data) }
    }

    fn has_mac(&self) -> bool {
        self.security.as_ref().is_some_and(SecurityBlock::has_mac)
    }

    /// The length field's value: SOM through the check bytes.
    pub fn wire_len(&self) -> usize {
        let security = self.security.as_ref().map_or(0, |block| 2 + block.data.len());
        let mac = if self.has_mac() { MAC_LEN } else { 0 };
        5 + security + 1 + self.data.len() + mac + self.check.len()
    }

    /// The bytes a MAC is computed over: SOM through the end of the data.
    pub fn mac_input(&self) -> Result<Vec<u8>, FrameError> {
        if self.address > BROADCAST {
            return Err(FrameError::Address(self.address));
        }
        let len = self.wire_len();
        if len > MAX_FRAME {
            return Err(FrameError::TooLong(len));
        }
        let mut ctrl = self.sequence & CTRL_SEQ;
        if self.check == Check::Crc {
            ctrl |= CTRL_CRC;
        }
        let mut out = Vec::with_capacity(len);
        out.push(SOM);
        out.push(self.address | if self.reply { REPLY_BIT } else { 0 });
        out.extend_from_slice(&(len as u16).to_le_bytes());
        if let Some(block) = &self.security {
            ctrl |= CTRL_SCB;
            out.push(ctrl);
            out.push((2 + block.data.len()) as u8);
            out.push(block.kind);
            out.extend_from_slice(&block.data);
        } else {
            out.push(ctrl);
        }
        out.push(self.code);
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// The frame's bytes, without the mark.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = self.mac_input()?;
        if self.has_mac() {
            out.extend_from_slice(&self.mac.ok_or(FrameError::MissingMac)?);
        }
        match self.check {
            Check::Crc => out.extend_from_slice(&crc16(&out).to_le_bytes()),
            Check::Checksum => out.push(checksum(&out)),
        }
        Ok(out)
    }

    /// The frame's bytes after a 0xFF mark, as an ACU sends them.
    pub fn encode_marked(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = vec![MARK];
        out.extend(self.encode()?);
        Ok(out)
    }

    /// Parses exactly one frame (no mark) from `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Frame, FrameError> {
        if bytes.len() < 7 || bytes[0] != SOM {
            return Err(FrameError::Truncated);
        }
        let len = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
        let ctrl = bytes[4];
        let check = if ctrl & CTRL_CRC != 0 { Check::Crc } else { Check::Checksum };
        if len != bytes.len() || len < 6 + check.len() || len > MAX_FRAME {
            return Err(FrameError::Length(len));
        }
        let body_end = len - check.len();
        match check {
            Check::Crc => {
                let found = u16::from_le_bytes([bytes[body_end], bytes[body_end + 1]]);
                let computed = crc16(&bytes[..body_end]);
                if found != computed {
                    return Err(FrameError::Crc { found, computed });
                }
            }
            Check::Checksum => {
                let found = bytes[body_end];
                let computed = checksum(&bytes[..body_end]);
                if found != computed {
                    return Err(FrameError::Checksum { found, computed });
                }
            }
        }
        let mut at = 5;
        let security = if ctrl & CTRL_SCB != 0 {
            let block_len = usize::from(bytes[at]);
            if block_len < 2 || at + block_len >= body_end {
                return Err(FrameError::SecurityBlock);
            }
            let block = SecurityBlock { kind: bytes[at + 1], data: bytes[at + 2..at + block_len].to_vec() };
            at += block_len;
            Some(block)
        } else {
            None
        };
        let mut data_end = body_end;
        let mac = if security.as_ref().is_some_and(SecurityBlock::has_mac) {
            if data_end < at + 1 + MAC_LEN {
                return Err(FrameError::Truncated);
            }
            data_end -= MAC_LEN;
            let mut mac = [0; MAC_LEN];
            mac.copy_from_slice(&bytes[data_end..data_end + MAC_LEN]);
            Some(mac)
        } else {
            None
        };
        if at >= data_end {
            return Err(FrameError::Truncated);
        }
        Ok(Frame {
            address: bytes[1] & !REPLY_BIT,
            reply: bytes[1] & REPLY_BIT != 0,
            sequence: ctrl & CTRL_SEQ,
            check,
            security,
            code: bytes[at],
            data: bytes[at + 1..data_end].to_vec(),
            mac,
        })
    }
}

/// CRC-16/AUG-CCITT as OSDP uses it: poly 0x1021, init 0x1D0F, not reflected.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0x1D0F;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The 8-bit checksum: the two's complement of the byte sum.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, &byte| sum.wrapping_add(byte)).wrapping_neg()
}

/// Finds frames in a byte stream that may hold marks, garbage and damaged frames.
///
/// Bytes go in with [`Decoder::push`]; [`Decoder::next_frame`] yields each complete frame or a
/// typed error for a damaged one, after which it resynchronises on the next SOM byte.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
    skipped: usize,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Appends bytes from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes held that are not yet a frame.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Drops a partial frame (after the inter-character timeout).
    pub fn clear(&mut self) {
        self.skipped += self.buffer.len();
        self.buffer.clear();
    }

    /// How many bytes were thrown away as garbage since the last call.
    pub fn take_skipped(&mut self) -> usize {
        std::mem::take(&mut self.skipped)
    }

    /// The next frame, an error for a damaged one, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        let start = match self.buffer.iter().position(|&byte| byte == SOM) {
            Some(start) => start,
            None => {
                self.skipped += self.buffer.len();
                self.buffer.clear();
                return None;
            }
        };
        // Marks before SOM are not garbage.
        self.skipped += self.buffer[..start].iter().filter(|&&byte| byte != MARK).count();
        self.buffer.drain(..start);
        if self.buffer.len() < 5 {
            return None;
        }
        let len = usize::from(u16::from_le_bytes([self.buffer[2], self.buffer[3]]));
        let check = if self.buffer[4] & CTRL_CRC != 0 { Check::Crc } else { Check::Checksum };
        if len < 6 + check.len() || len > MAX_FRAME {
            self.resync();
            return Some(Err(FrameError::Length(len)));
        }
        if self.buffer.len() < len {
            return None;
        }
        let result = Frame::parse(&self.buffer[..len]);
        match &result {
            Ok(_) => drop(self.buffer.drain(..len)),
            Err(_) => self.resync(),
        }
        Some(result)
    }

    /// Drops the SOM byte at the front so the search starts again after it.
    fn resync(&mut self) {
        self.buffer.drain(..1);
        self.skipped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: [u8; 9] = [0xff, 0x53, 0x01, 0x08, 0x00, 0x06, 0x60, 0xd8, 0x66];
    const ACK: [u8; 8] = [0x53, 0x81, 0x08, 0x00, 0x06, 0x40, 0x6a, 0x60];

    #[test]
    fn encodes_the_protocol_examples() {
        assert_eq!(Frame::command(1, 2, 0x60, vec![]).encode_marked().unwrap(), POLL);
        assert_eq!(Frame::reply(1, 2, 0x40, vec![]).encode().unwrap(), ACK);
    }

    #[test]
    fn decodes_the_protocol_examples() {
        let mut decoder = Decoder::new();
        decoder.push(&POLL);
        decoder.push(&ACK);
        assert_eq!(decoder.next_frame(), Some(Ok(Frame::command(1, 2, 0x60, vec![]))));
        assert_eq!(decoder.next_frame(), Some(Ok(Frame::reply(1, 2, 0x40, vec![]))));
        assert_eq!(decoder.next_frame(), None);
        assert_eq!(decoder.take_skipped(), 0);
    }

    #[test]
    fn resynchronises_after_garbage_and_reports_a_bad_crc() {
        let mut damaged = ACK.to_vec();
        damaged[6] ^= 1;
        let mut decoder = Decoder::new();
        decoder.push(&[0x00, 0x12, 0x53, 0x00]);
        decoder.push(&damaged);
        decoder.push(&POLL);
        // The stray SOM announces a length out of range; the damaged ACK fails its CRC.
        assert!(matches!(decoder.next_frame(), Some(Err(FrameError::Length(_)))));
        assert!(matches!(decoder.next_frame(), Some(Err(FrameError::Crc { .. }))));
        assert_eq!(decoder.next_frame(), Some(Ok(Frame::command(1, 2, 0x60, vec![]))));
        assert!(decoder.take_skipped() > 0);
    }

    #[test]
    fn round_trips_security_block_mac_and_checksum() {
        let frame = Frame {
            address: 0x12,
            reply: true,
            sequence: 3,
            check: Check::Checksum,
            security: Some(SecurityBlock { kind: 0x18, data: vec![] }),
            code: 0x49,
            data: vec![1, 2, 3],
            mac: Some([9, 8, 7, 6]),
        };
        let bytes = frame.encode().unwrap();
        assert_eq!(bytes.len(), frame.wire_len());
        assert_eq!(Frame::parse(&bytes), Ok(frame));
    }

    #[test]
    fn refuses_to_encode_a_missing_mac_or_a_bad_address() {
        let mut frame = Frame::command(1, 1, 0x60, vec![]);
        frame.security = Some(SecurityBlock { kind: 0x15, data: vec![] });
        assert_eq!(frame.encode(), Err(FrameError::MissingMac));
        assert_eq!(Frame::command(0x80, 1, 0x60, vec![]).encode(), Err(FrameError::Address(0x80)));
    }

    #[test]
    fn a_frame_split_in_pieces_waits_for_the_rest() {
        let mut decoder = Decoder::new();
        for byte in POLL {
            assert_eq!(decoder.next_frame(), None);
            decoder.push(&[byte]);
        }
        assert!(matches!(decoder.next_frame(), Some(Ok(_))));
    }
}
