//! Strict replay of a usbmon capture: a [`UsbTransport`] that holds a driver to a real recording.
//!
//! The rules (PROTOCOLS.md §2): only records of the recorded device count; every transfer the driver
//! starts must match the capture's next submission — type, endpoint, length, setup bytes and the
//! exact OUT payload — or the replay fails with a [`ReplayError`] naming both sides; each completion
//! returns the recorded data, status and length to the transfer it belongs to (paired by URB id);
//! standard requests the driver does not make (the GET_DESCRIPTOR calls of enumeration) are
//! skipped. [`Replay::finish`] fails if the driver stopped before the capture did.
//!
//! Timing is kept by order, not by clock: the replay's "now" is the last record the driver has
//! consumed. [`UsbTransport::poll_in`] returns a queued transfer only if the capture completed it
//! before now, as the kernel would have; [`UsbTransport::wait_in`] moves now forward to the
//! completion; a transfer the capture shows cancelled, or never completed, times out. Pauses take no
//! time. This is what lets one recording check the interleaving of interrupts with control
//! transfers, not only the list of transfers.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;

use crate::transport::{Completion, EndpointIn, EndpointKind, Setup, Status, UsbError, UsbTransport};
use crate::usbmon::{Event, Record, TransferType};

/// Kernel status codes that mean "cancelled by the host".
const ENOENT: i32 = -2;
const ECONNRESET: i32 = -104;
const EPIPE: i32 = -32;
const ENODEV: i32 = -19;
const ESHUTDOWN: i32 = -108;

/// The driver did something other than what the capture recorded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    /// The driver's transfer differs from the capture's next one.
    #[error(
        "transfer {transfer} (capture packet {packet}) does not match: the capture has {recorded}; \
         the driver made {made}: {difference}"
    )]
    Mismatch {
        /// The transfer's position among the device's submissions, from 1.
        transfer: usize,
        /// The packet number of the recorded submission.
        packet: usize,
        /// The recorded transfer.
        recorded: String,
        /// The driver's transfer.
        made: String,
        /// The first difference.
        difference: String,
    },
    /// The driver made a transfer after the capture's last one.
    #[error("the capture ends after {transfers} transfers, but the driver went on with {made}")]
    Ended {
        /// How many transfers the capture holds.
        transfers: usize,
        /// The driver's extra transfer.
        made: String,
    },
    /// A control transfer was submitted but the capture never completes it.
    #[error("transfer {transfer} (capture packet {packet}, {recorded}) never completes in the capture")]
    NoCompletion {
        /// Position among submissions, from 1.
        transfer: usize,
        /// Packet number of the submission.
        packet: usize,
        /// The transfer.
        recorded: String,
    },
    /// The driver stopped while the capture goes on.
    #[error(
        "the driver stopped after {done} of {transfers} transfers; the next recorded one is {recorded} (capture packet {packet})"
    )]
    Unfinished {
        /// Transfers matched.
        done: usize,
        /// Transfers in the capture.
        transfers: usize,
        /// The first one not made.
        recorded: String,
        /// Its packet number.
        packet: usize,
    },
    /// The capture holds no record of the device it is said to be of.
    #[error("the capture has no transfers of device {bus}.{device}")]
    NoDevice {
        /// Bus number.
        bus: u16,
        /// Device number.
        device: u8,
    },
}

/// One recorded URB: its submission and, if the capture has it, its completion.
#[derive(Debug)]
struct Exchange {
    submit: Record,
    /// The completion and its position among the device's records.
    completion: Option<(usize, Record)>,
    /// Position of the submission among the device's records.
    position: usize,
}

impl Exchange {
    fn skippable(&self) -> bool {
        self.submit.transfer == TransferType::Control
            && self.submit.setup.map(Setup::from_bytes).is_some_and(|s| s.is_standard())
    }

    fn describe(&self) -> String {
        let r = &self.submit;
        match (r.transfer, r.setup) {
            (TransferType::Control, Some(setup)) => {
                let setup = Setup::from_bytes(setup);
                if setup.is_in() { setup.to_string() } else { format!("{setup} with {}", hex(&r.data)) }
            }
            (kind, _) => format!("{kind:?} {} {:#04x} of {} bytes", direction(r.endpoint), r.endpoint, r.length),
        }
    }
}

fn direction(endpoint: u8) -> &'static str {
    if endpoint & 0x80 != 0 { "IN" } else { "OUT" }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + 2);
    s.push('[');
    for b in bytes.iter().take(32) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 32 {
        s.push('…');
    }
    s.push(']');
    s
}

fn status(code: i32) -> Status {
    match code {
        0 => Status::Ok,
        ENOENT | ECONNRESET => Status::Cancelled,
        EPIPE => Status::Stall,
        ENODEV | ESHUTDOWN => Status::Disconnected,
        other => Status::Failed(other),
    }
}

/// A transfer a driver makes, for matching and for messages.
enum Made<'a> {
    ControlIn(Setup),
    ControlOut(Setup, &'a [u8]),
    In(EndpointIn, usize),
}

impl Made<'_> {
    fn describe(&self) -> String {
        match self {
            Made::ControlIn(setup) => setup.to_string(),
            Made::ControlOut(setup, data) => format!("{setup} with {}", hex(data)),
            Made::In(endpoint, length) => {
                let kind = match endpoint.kind {
                    EndpointKind::Interrupt => "Interrupt",
                    EndpointKind::Bulk => "Bulk",
                };
                format!("{kind} IN {:#04x} of {length} bytes", endpoint.address)
            }
        }
    }

    /// The first difference from the recorded submission, if any.
    fn difference(&self, recorded: &Record) -> Option<String> {
        let (transfer, endpoint) = match self {
            Made::ControlIn(_) => (TransferType::Control, 0x80),
            Made::ControlOut(..) => (TransferType::Control, 0x00),
            Made::In(ep, _) => {
                let kind = match ep.kind {
                    EndpointKind::Interrupt => TransferType::Interrupt,
                    EndpointKind::Bulk => TransferType::Bulk,
                };
                (kind, ep.address)
            }
        };
        if transfer != recorded.transfer {
            return Some(format!("type {transfer:?} instead of {:?}", recorded.transfer));
        }
        if endpoint != recorded.endpoint {
            return Some(format!("endpoint {endpoint:#04x} instead of {:#04x}", recorded.endpoint));
        }
        match self {
            Made::In(_, length) => (*length as u64 != u64::from(recorded.length))
                .then(|| format!("length {length} instead of {}", recorded.length)),
            Made::ControlIn(setup) | Made::ControlOut(setup, _) => {
                let Some(wire) = recorded.setup else {
                    return Some("the capture did not record this transfer's setup packet".into());
                };
                let bytes = setup.to_bytes();
                if let Some(i) = (0..8).find(|&i| bytes[i] != wire[i]) {
                    return Some(format!("setup byte {i} is {:#04x} instead of {:#04x}", bytes[i], wire[i]));
                }
                let Made::ControlOut(_, data) = self else { return None };
                if recorded.data.len() != usize::from(setup.length) {
                    return Some(format!(
                        "the capture kept {} of the {} payload bytes, so the payload cannot be checked",
                        recorded.data.len(),
                        setup.length
                    ));
                }
                if data.len() != recorded.data.len() {
                    return Some(format!("{} payload bytes instead of {}", data.len(), recorded.data.len()));
                }
                (0..data.len())
                    .find(|&i| data[i] != recorded.data[i])
                    .map(|i| format!("payload byte {i} is {:#04x} instead of {:#04x}", data[i], recorded.data[i]))
            }
        }
    }
}

/// A usbmon capture played back as a transport. See the module documentation for the rules.
#[derive(Debug)]
pub struct Replay {
    exchanges: Vec<Exchange>,
    /// The next exchange to match.
    next: usize,
    /// Transfers matched so far (skipped standard requests not counted).
    matched: usize,
    /// Position of the last record consumed.
    now: usize,
    /// Queued IN transfers per endpoint address, as indices into `exchanges`.
    queued: HashMap<u8, VecDeque<usize>>,
}

impl Replay {
    /// A replay of the records of device `bus`.`device` in `records` (other devices' are dropped).
    pub fn new(records: Vec<Record>, bus: u16, device: u8) -> Result<Replay, ReplayError> {
        let mine: Vec<Record> = records.into_iter().filter(|r| r.bus == bus && r.device == device).collect();
        if mine.is_empty() {
            return Err(ReplayError::NoDevice { bus, device });
        }
        let mut exchanges = Vec::new();
        for (position, record) in mine.iter().enumerate() {
            if record.event != Event::Submit {
                continue;
            }
            let completion = mine[position + 1..]
                .iter()
                .position(|r| r.urb_id == record.urb_id && r.event != Event::Submit)
                .map(|offset| (position + 1 + offset, mine[position + 1 + offset].clone()));
            exchanges.push(Exchange { submit: record.clone(), completion, position });
        }
        Ok(Replay { exchanges, next: 0, matched: 0, now: 0, queued: HashMap::new() })
    }

    /// How many transfers the driver has made that matched the capture.
    pub fn transfers_matched(&self) -> usize {
        self.matched
    }

    /// Checks that the driver made every transfer the capture holds.
    pub fn finish(&self) -> Result<(), ReplayError> {
        let rest = self.exchanges[self.next..].iter().find(|e| !e.skippable());
        match rest {
            None => Ok(()),
            Some(e) => Err(ReplayError::Unfinished {
                done: self.matched,
                transfers: self.exchanges.iter().filter(|e| !e.skippable()).count(),
                recorded: e.describe(),
                packet: e.submit.number,
            }),
        }
    }

    /// Matches the driver's transfer against the next recorded submission; returns its index.
    fn expect(&mut self, made: Made<'_>) -> Result<usize, ReplayError> {
        loop {
            let Some(exchange) = self.exchanges.get(self.next) else {
                return Err(ReplayError::Ended {
                    transfers: self.exchanges.iter().filter(|e| !e.skippable()).count(),
                    made: made.describe(),
                });
            };
            match made.difference(&exchange.submit) {
                None => {
                    let index = self.next;
                    self.next += 1;
                    self.matched += 1;
                    self.now = self.now.max(exchange.position);
                    return Ok(index);
                }
                Some(_) if exchange.skippable() => self.next += 1,
                Some(difference) => {
                    return Err(ReplayError::Mismatch {
                        transfer: self.matched + 1,
                        packet: exchange.submit.number,
                        recorded: exchange.describe(),
                        made: made.describe(),
                        difference,
                    });
                }
            }
        }
    }

    /// The completion of a control transfer, moving now past it.
    fn complete_control(&mut self, index: usize) -> Result<Record, UsbError> {
        let exchange = &self.exchanges[index];
        let Some((position, record)) = &exchange.completion else {
            return Err(ReplayError::NoCompletion {
                transfer: self.matched,
                packet: exchange.submit.number,
                recorded: exchange.describe(),
            }
            .into());
        };
        self.now = self.now.max(*position);
        match status(record.status) {
            Status::Ok => Ok(record.clone()),
            Status::Stall => Err(UsbError::Stall(exchange.describe())),
            Status::Disconnected => Err(UsbError::Disconnected),
            other => Err(UsbError::Transfer {
                what: exchange.describe(),
                source: format!("recorded status {other:?} ({})", record.status).into(),
            }),
        }
    }

    fn completion(record: &Record) -> Completion {
        Completion { data: record.data.clone(), status: status(record.status) }
    }
}

impl UsbTransport for Replay {
    fn control_in(&mut self, setup: Setup) -> Result<Vec<u8>, UsbError> {
        let index = self.expect(Made::ControlIn(setup))?;
        Ok(self.complete_control(index)?.data)
    }

    fn control_out(&mut self, setup: Setup, data: &[u8]) -> Result<(), UsbError> {
        let index = self.expect(Made::ControlOut(setup, data))?;
        self.complete_control(index).map(drop)
    }

    fn submit_in(&mut self, endpoint: EndpointIn, length: usize) -> Result<(), UsbError> {
        let index = self.expect(Made::In(endpoint, length))?;
        self.queued.entry(endpoint.address).or_default().push_back(index);
        Ok(())
    }

    fn poll_in(&mut self, endpoint: EndpointIn) -> Result<Option<Completion>, UsbError> {
        let queue = self.queued.entry(endpoint.address).or_default();
        let Some(&index) = queue.front() else {
            return Err(UsbError::Misuse(format!("poll on {endpoint} with no transfer queued")));
        };
        match &self.exchanges[index].completion {
            Some((position, record)) if *position < self.now && status(record.status) != Status::Cancelled => {
                queue.pop_front();
                Ok(Some(Replay::completion(record)))
            }
            _ => Ok(None),
        }
    }

    fn wait_in(&mut self, endpoint: EndpointIn, _timeout: Duration) -> Result<Option<Completion>, UsbError> {
        let queue = self.queued.entry(endpoint.address).or_default();
        let Some(&index) = queue.front() else {
            return Err(UsbError::Misuse(format!("wait on {endpoint} with no transfer queued")));
        };
        match &self.exchanges[index].completion {
            Some((position, record)) if status(record.status) != Status::Cancelled => {
                queue.pop_front();
                self.now = self.now.max(*position);
                Ok(Some(Replay::completion(record)))
            }
            // Cancelled later in the capture, or never completed: in the recording it was still
            // pending, so the wait runs out.
            _ => Ok(None),
        }
    }

    fn cancel_in(&mut self, endpoint: EndpointIn) -> Result<(), UsbError> {
        let queue = self.queued.remove(&endpoint.address).unwrap_or_default();
        for index in queue {
            if let Some((position, _)) = &self.exchanges[index].completion {
                self.now = self.now.max(*position);
            }
        }
        Ok(())
    }

    fn pause(&mut self, _duration: Duration) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usbmon::parse;
    use crate::usbmon::tests::{pcapng, usbmon};

    const INTERRUPT: EndpointIn = EndpointIn { kind: EndpointKind::Interrupt, address: 0x81 };

    fn replay(packets: &[Vec<u8>]) -> Replay {
        Replay::new(parse(&pcapng(packets)).unwrap(), 1, 5).unwrap()
    }

    fn write_mode(urb: u64, mode: u8) -> [Vec<u8>; 2] {
        [
            usbmon(urb, b'S', 2, 0x00, Some([0x40, 4, 0x4e, 0, 0, 0, 1, 0]), -115, 1, &[mode]),
            usbmon(urb, b'C', 2, 0x00, None, 0, 0, &[]),
        ]
    }

    #[test]
    fn a_matching_driver_gets_the_recorded_answers() {
        let [s, c] = write_mode(2, 0x10);
        let mut r = replay(&[
            usbmon(9, b'S', 2, 0x80, Some([0x80, 6, 0, 1, 0, 0, 18, 0]), -115, 18, &[]),
            usbmon(9, b'C', 2, 0x80, None, 0, 18, &[0x12; 18]),
            usbmon(1, b'S', 1, 0x81, None, -115, 64, &[]),
            s,
            c,
            usbmon(1, b'C', 1, 0x81, None, 0, 2, &[0x01, 0x01]),
        ]);
        r.submit_in(INTERRUPT, 64).unwrap();
        r.control_out(Setup::vendor_out(4, 0x4e, 0, 1), &[0x10]).unwrap();
        // The interrupt completed after the control transfer: not yet visible to a poll…
        assert_eq!(r.poll_in(INTERRUPT).unwrap(), None);
        // …but a wait gets it.
        let done = r.wait_in(INTERRUPT, Duration::from_secs(1)).unwrap().unwrap();
        assert_eq!((done.data, done.status), (vec![1, 1], Status::Ok));
        r.finish().unwrap();
        assert_eq!(r.transfers_matched(), 2);
    }

    #[test]
    fn the_first_difference_is_named() {
        let [s, c] = write_mode(2, 0x10);
        let mut r = replay(&[s, c]);
        let err = r.control_out(Setup::vendor_out(4, 0x4e, 0, 1), &[0x20]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("transfer 1 (capture packet 1)"), "{text}");
        assert!(text.contains("payload byte 0 is 0x20 instead of 0x10"), "{text}");

        let [s, c] = write_mode(2, 0x10);
        let mut r = replay(&[s, c]);
        let err = r.submit_in(INTERRUPT, 64).unwrap_err().to_string();
        assert!(err.contains("type Interrupt instead of Control"), "{err}");
    }

    #[test]
    fn a_capture_that_ends_early_or_a_driver_that_stops_early_fails() {
        let [s, c] = write_mode(2, 0x10);
        let mut r = replay(&[s, c]);
        r.control_out(Setup::vendor_out(4, 0x4e, 0, 1), &[0x10]).unwrap();
        let err = r.control_out(Setup::vendor_out(4, 0x4e, 0, 1), &[0x70]).unwrap_err().to_string();
        assert!(err.contains("the capture ends after 1 transfers"), "{err}");

        let [s1, c1] = write_mode(2, 0x10);
        let [s2, c2] = write_mode(3, 0x70);
        let mut r = replay(&[s1, c1, s2, c2]);
        r.control_out(Setup::vendor_out(4, 0x4e, 0, 1), &[0x10]).unwrap();
        let err = r.finish().unwrap_err().to_string();
        assert!(err.contains("stopped after 1 of 2 transfers"), "{err}");

        // A control transfer whose completion was cut off.
        let [s, _] = write_mode(2, 0x10);
        let mut r = replay(&[s]);
        let err = r.control_out(Setup::vendor_out(4, 0x4e, 0, 1), &[0x10]).unwrap_err().to_string();
        assert!(err.contains("never completes"), "{err}");
    }

    #[test]
    fn a_recorded_cancellation_is_a_timeout_then_a_cancel() {
        let mut r =
            replay(&[usbmon(1, b'S', 1, 0x81, None, -115, 64, &[]), usbmon(1, b'C', 1, 0x81, None, -2, 0, &[])]);
        r.submit_in(INTERRUPT, 64).unwrap();
        assert_eq!(r.wait_in(INTERRUPT, Duration::from_millis(5)).unwrap(), None);
        r.cancel_in(INTERRUPT).unwrap();
        r.finish().unwrap();
        assert!(matches!(r.poll_in(INTERRUPT), Err(UsbError::Misuse(_))));
    }
}
