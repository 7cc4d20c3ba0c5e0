//! usbmon captures: the pcapng file Wireshark or `tcpdump -i usbmonN` writes, read into a list of
//! URB events.
//!
//! pcap-parser reads the pcapng blocks (section header, interface descriptions, enhanced packets);
//! the 64-byte usbmon header at the start of each packet (link type 220, USB_LINUX_MMAPPED) is
//! parsed here, in the section's byte order. Everything is checked against the bytes actually
//! present: a truncated block, a packet shorter than its header, or a header that claims more data
//! than was captured is refused with [`CaptureError`] naming the block or packet. This module does
//! not decide what a recording means; [`crate::replay`] does.

use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le};

/// The pcapng link type of usbmon captures with the 64-byte header.
pub const LINKTYPE_USB_LINUX_MMAPPED: i32 = 220;

/// The largest capture accepted (a reader session is a few hundred KiB).
pub const MAX_CAPTURE_BYTES: usize = 64 << 20;

const HEADER_LEN: usize = 64;
const ISO_DESCRIPTOR_LEN: usize = 16;

/// What a usbmon record reports about an URB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// 'S': the host submitted the URB.
    Submit,
    /// 'C': the URB completed (successfully or not; see the status).
    Complete,
    /// 'E': the submission itself failed.
    Error,
}

/// The transfer type of an URB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// 0.
    Isochronous,
    /// 1.
    Interrupt,
    /// 2.
    Control,
    /// 3.
    Bulk,
}

/// One usbmon record: a submission or completion of one URB.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// The packet's number in the file, from 1 (as Wireshark numbers frames).
    pub number: usize,
    /// The URB's id, which pairs a submission with its completion.
    pub urb_id: u64,
    /// Submission, completion or error.
    pub event: Event,
    /// Control, bulk, interrupt or isochronous.
    pub transfer: TransferType,
    /// Endpoint address with the direction bit (0x80 = IN).
    pub endpoint: u8,
    /// Device number on its bus.
    pub device: u8,
    /// Bus number.
    pub bus: u16,
    /// The setup packet, on control submissions that carry one.
    pub setup: Option<[u8; 8]>,
    /// URB status: 0 ok, -115 in progress (on submissions), negative errno otherwise.
    pub status: i32,
    /// URB length: bytes asked for on a submission, bytes transferred on a completion.
    pub length: u32,
    /// The data captured (OUT data on submissions, IN data on completions).
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Record(#{} urb {:#x} {:?} {:?} ep {:#04x} dev {}.{} status {} length {} data {} bytes)",
            self.number,
            self.urb_id,
            self.event,
            self.transfer,
            self.endpoint,
            self.bus,
            self.device,
            self.status,
            self.length,
            self.data.len()
        )
    }
}

/// Why a capture file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureError {
    /// The file does not start with a pcapng section header.
    #[error("not a pcapng file (no section header block at the start)")]
    NotPcapng,
    /// The file is larger than [`MAX_CAPTURE_BYTES`].
    #[error("the capture is {0} bytes, more than the {MAX_CAPTURE_BYTES} accepted")]
    TooLarge(usize),
    /// A block is cut short or malformed.
    #[error("pcapng block at byte {offset}: {problem}")]
    Block {
        /// Where the block starts in the file.
        offset: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An interface is not a usbmon one.
    #[error("interface {interface} has link type {link_type}; only usbmon captures (link type 220) are read")]
    LinkType {
        /// The interface's index in its section.
        interface: usize,
        /// Its link type.
        link_type: i32,
    },
    /// A packet does not hold a well-formed usbmon record.
    #[error("packet {number}: {problem}")]
    Packet {
        /// The packet's number, from 1.
        number: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// Reads every usbmon record of a pcapng capture, in file order.
pub fn parse(file: &[u8]) -> Result<Vec<Record>, CaptureError> {
    if file.len() > MAX_CAPTURE_BYTES {
        return Err(CaptureError::TooLarge(file.len()));
    }
    if file.len() < 4 || file[..4] != [0x0A, 0x0D, 0x0D, 0x0A] {
        return Err(CaptureError::NotPcapng);
    }
    let mut records = Vec::new();
    let mut rest = file;
    let mut big_endian = false;
    // Link types of the current section's interfaces, by index.
    let mut interfaces: Vec<i32> = Vec::new();
    let mut number = 0;
    while !rest.is_empty() {
        let offset = file.len() - rest.len();
        // The block's length is checked here before pcap-parser sees it: it trusts the length more
        // than it should (a length under 12 underflows inside it).
        check_block_length(rest, big_endian).map_err(|problem| CaptureError::Block { offset, problem })?;
        let parsed = if big_endian { parse_block_be(rest) } else { parse_block_le(rest) };
        let (after, block) = match parsed {
            Ok(parsed) => parsed,
            Err(pcap_parser::nom::Err::Incomplete(_)) => {
                return Err(CaptureError::Block { offset, problem: "cut short" });
            }
            Err(pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e)) => {
                let problem = match e {
                    pcap_parser::PcapError::Incomplete(_) | pcap_parser::PcapError::UnexpectedEof => "cut short",
                    _ => "malformed",
                };
                return Err(CaptureError::Block { offset, problem });
            }
        };
        rest = after;
        match block {
            Block::SectionHeader(shb) => {
                big_endian = shb.big_endian();
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => {
                if idb.linktype.0 != LINKTYPE_USB_LINUX_MMAPPED {
                    return Err(CaptureError::LinkType { interface: interfaces.len(), link_type: idb.linktype.0 });
                }
                interfaces.push(idb.linktype.0);
            }
            Block::EnhancedPacket(epb) => {
                number += 1;
                if epb.if_id as usize >= interfaces.len() {
                    return Err(CaptureError::Packet {
                        number,
                        problem: format!("refers to interface {}, which was not described", epb.if_id),
                    });
                }
                let captured = epb.data.get(..epb.caplen as usize).ok_or_else(|| CaptureError::Packet {
                    number,
                    problem: format!("claims {} captured bytes, the block holds {}", epb.caplen, epb.data.len()),
                })?;
                records.push(record(number, captured, big_endian)?);
            }
            Block::SimplePacket(_) => {
                number += 1;
                return Err(CaptureError::Packet {
                    number,
                    problem: "a simple packet block has no interface or length; only enhanced packets are read".into(),
                });
            }
            // Statistics, name resolution, comments and the like say nothing about transfers.
            _ => {}
        }
    }
    Ok(records)
}

/// Checks that the block at the start of `rest` has a sane length that fits in `rest`. A section
/// header says its own byte order (its byte-order magic follows the length).
fn check_block_length(rest: &[u8], big_endian: bool) -> Result<(), &'static str> {
    const SECTION_HEADER: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];
    if rest.len() < 12 {
        return Err("cut short");
    }
    let big_endian = if rest[..4] == SECTION_HEADER { rest[8..12] == [0x1A, 0x2B, 0x3C, 0x4D] } else { big_endian };
    let raw = [rest[4], rest[5], rest[6], rest[7]];
    let length = if big_endian { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) } as usize;
    if length < 12 || !length.is_multiple_of(4) {
        return Err("malformed (impossible block length)");
    }
    if length > rest.len() {
        return Err("cut short");
    }
    Ok(())
}

/// Parses one packet: the usbmon header and the data after it.
fn record(number: usize, packet: &[u8], big_endian: bool) -> Result<Record, CaptureError> {
    let bad = |problem: String| CaptureError::Packet { number, problem };
    if packet.len() < HEADER_LEN {
        return Err(bad(format!("{} bytes, shorter than the {HEADER_LEN}-byte usbmon header", packet.len())));
    }
    let u16_at = |at: usize| {
        let b = [packet[at], packet[at + 1]];
        if big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) }
    };
    let u32_at = |at: usize| {
        let b = [packet[at], packet[at + 1], packet[at + 2], packet[at + 3]];
        if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
    };
    let urb_id = {
        let (a, b) = (u64::from(u32_at(0)), u64::from(u32_at(4)));
        if big_endian { a << 32 | b } else { b << 32 | a }
    };
    let event = match packet[8] {
        b'S' => Event::Submit,
        b'C' => Event::Complete,
        b'E' => Event::Error,
        other => return Err(bad(format!("event {other:#04x} is none of S, C, E"))),
    };
    let transfer = match packet[9] {
        0 => TransferType::Isochronous,
        1 => TransferType::Interrupt,
        2 => TransferType::Control,
        3 => TransferType::Bulk,
        other => return Err(bad(format!("transfer type {other} is none of 0–3"))),
    };
    let setup = (packet[14] == 0).then(|| {
        let mut s = [0; 8];
        s.copy_from_slice(&packet[40..48]);
        s
    });
    let status = u32_at(28) as i32;
    let length = u32_at(32);
    let captured = u32_at(36) as usize;
    let descriptors = if transfer == TransferType::Isochronous { u32_at(60) as usize } else { 0 };
    let start = descriptors
        .checked_mul(ISO_DESCRIPTOR_LEN)
        .and_then(|n| n.checked_add(HEADER_LEN))
        .filter(|&start| start <= packet.len())
        .ok_or_else(|| bad(format!("{descriptors} isochronous descriptors do not fit in the packet")))?;
    let data = start.checked_add(captured).and_then(|end| packet.get(start..end)).ok_or_else(|| {
        bad(format!("the header claims {captured} data bytes, the packet holds {}", packet.len() - start))
    })?;
    Ok(Record {
        number,
        urb_id,
        event,
        transfer,
        endpoint: packet[10],
        device: packet[11],
        bus: u16_at(12),
        setup,
        status,
        length,
        data: data.to_vec(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal little-endian pcapng file: section header, one usbmon interface, and `packets`.
    pub(crate) fn pcapng(packets: &[Vec<u8>]) -> Vec<u8> {
        fn block(kind: u32, body: &[u8]) -> Vec<u8> {
            let padded = body.len().div_ceil(4) * 4;
            let total = (12 + padded) as u32;
            let mut b = Vec::new();
            b.extend(kind.to_le_bytes());
            b.extend(total.to_le_bytes());
            b.extend(body);
            b.resize(8 + padded, 0);
            b.extend(total.to_le_bytes());
            b
        }
        let mut file =
            block(0x0A0D0D0A, &[0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        let mut idb = Vec::new();
        idb.extend(220u16.to_le_bytes());
        idb.extend([0, 0]);
        idb.extend(65535u32.to_le_bytes());
        file.extend(block(1, &idb));
        for p in packets {
            let mut epb = Vec::new();
            epb.extend(0u32.to_le_bytes());
            epb.extend([0u8; 8]);
            epb.extend((p.len() as u32).to_le_bytes());
            epb.extend((p.len() as u32).to_le_bytes());
            epb.extend(p);
            epb.resize(20 + p.len().div_ceil(4) * 4, 0);
            file.extend(block(6, &epb));
        }
        file
    }

    /// A usbmon packet (little-endian header) for tests.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn usbmon(
        urb: u64,
        event: u8,
        transfer: u8,
        endpoint: u8,
        setup: Option<[u8; 8]>,
        status: i32,
        length: u32,
        data: &[u8],
    ) -> Vec<u8> {
        let mut p = vec![0u8; 64];
        p[..8].copy_from_slice(&urb.to_le_bytes());
        p[8] = event;
        p[9] = transfer;
        p[10] = endpoint;
        p[11] = 5;
        p[12..14].copy_from_slice(&1u16.to_le_bytes());
        p[14] = if setup.is_some() { 0 } else { b'-' };
        p[15] = if data.is_empty() { b'<' } else { 0 };
        p[28..32].copy_from_slice(&status.to_le_bytes());
        p[32..36].copy_from_slice(&length.to_le_bytes());
        p[36..40].copy_from_slice(&(data.len() as u32).to_le_bytes());
        if let Some(s) = setup {
            p[40..48].copy_from_slice(&s);
        }
        p.extend(data);
        p
    }

    #[test]
    fn reads_submissions_and_completions() {
        let file = pcapng(&[
            usbmon(0xAB, b'S', 2, 0x00, Some([0x40, 4, 0x4e, 0, 0, 0, 1, 0]), -115, 1, &[0x10]),
            usbmon(0xAB, b'C', 2, 0x00, None, 0, 0, &[]),
            usbmon(0xCD, b'C', 1, 0x81, None, 0, 2, &[0x01, 0x01]),
        ]);
        let records = parse(&file).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].number, 1);
        assert_eq!(records[0].event, Event::Submit);
        assert_eq!(records[0].setup, Some([0x40, 4, 0x4e, 0, 0, 0, 1, 0]));
        assert_eq!(records[0].data, vec![0x10]);
        assert_eq!((records[0].bus, records[0].device), (1, 5));
        assert_eq!(records[1].setup, None);
        assert_eq!(records[2].transfer, TransferType::Interrupt);
        assert_eq!(records[2].urb_id, 0xCD);
        assert_eq!(records[2].data, vec![1, 1]);
    }

    #[test]
    fn refuses_what_is_not_a_usbmon_capture() {
        assert_eq!(parse(b"\x89PNG\r\n"), Err(CaptureError::NotPcapng));
        let mut file = pcapng(&[usbmon(1, b'S', 3, 0x82, None, -115, 64, &[])]);
        // Link type 1 (Ethernet) instead of 220: the interface block follows the 28-byte section header.
        file[36] = 1;
        file[37] = 0;
        assert!(matches!(parse(&file), Err(CaptureError::LinkType { link_type: 1, .. })), "{:?}", parse(&file));
    }

    #[test]
    fn refuses_a_cut_block_and_a_lying_header() {
        let file = pcapng(&[usbmon(1, b'C', 3, 0x82, None, 0, 4, &[1, 2, 3, 4])]);
        let mut lying = file.clone();
        lying[4] = 8; // the section header claims 8 bytes, fewer than any block has
        assert_eq!(
            parse(&lying),
            Err(CaptureError::Block { offset: 0, problem: "malformed (impossible block length)" })
        );
        for cut in [1, 5, 40] {
            let err = parse(&file[..file.len() - cut]).unwrap_err();
            assert!(matches!(err, CaptureError::Block { .. }), "cut {cut}: {err}");
        }
        let mut packet = usbmon(1, b'C', 3, 0x82, None, 0, 4, &[1, 2, 3, 4]);
        packet[36] = 200; // claims 200 captured data bytes
        let err = parse(&pcapng(&[packet])).unwrap_err();
        assert!(err.to_string().contains("claims 200 data bytes"), "{err}");
        let err = parse(&pcapng(&[vec![0; 20]])).unwrap_err();
        assert!(err.to_string().contains("shorter than the 64-byte usbmon header"), "{err}");
    }
}
