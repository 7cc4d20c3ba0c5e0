//! The narrow transport a USB reader driver is written against.
//!
//! It has exactly what the U.are.U family needs, in the shape the kernel's URBs have: control
//! transfers that complete before they return, and IN transfers on interrupt and bulk endpoints that
//! are queued with [`UsbTransport::submit_in`] and collected later, so a driver can keep an interrupt
//! transfer pending while it does other work. Two implementations exist: [`crate::NusbTransport`] on
//! real hardware and [`crate::Replay`], which plays a usbmon capture back and holds the driver to it.
//! Nothing here knows any device's protocol.

use std::fmt;
use std::time::Duration;

/// The 8-byte setup packet of a control transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// bmRequestType: direction (bit 7), type (bits 5–6), recipient (bits 0–4).
    pub request_type: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength: bytes to read, or bytes written.
    pub length: u16,
}

impl Setup {
    /// A vendor request to the device that reads `length` bytes.
    pub fn vendor_in(request: u8, value: u16, index: u16, length: u16) -> Setup {
        Setup { request_type: 0xC0, request, value, index, length }
    }

    /// A vendor request to the device that writes `length` bytes.
    pub fn vendor_out(request: u8, value: u16, index: u16, length: u16) -> Setup {
        Setup { request_type: 0x40, request, value, index, length }
    }

    /// Whether data flows from the device to the host.
    pub fn is_in(&self) -> bool {
        self.request_type & 0x80 != 0
    }

    /// Whether this is a standard request (GET_DESCRIPTOR and the like) rather than a class or
    /// vendor one.
    pub fn is_standard(&self) -> bool {
        self.request_type & 0x60 == 0
    }

    /// The packet as it travels on the wire (multi-byte fields little-endian).
    pub fn to_bytes(&self) -> [u8; 8] {
        let [v0, v1] = self.value.to_le_bytes();
        let [i0, i1] = self.index.to_le_bytes();
        let [l0, l1] = self.length.to_le_bytes();
        [self.request_type, self.request, v0, v1, i0, i1, l0, l1]
    }

    /// A packet from its wire form.
    pub fn from_bytes(b: [u8; 8]) -> Setup {
        Setup {
            request_type: b[0],
            request: b[1],
            value: u16::from_le_bytes([b[2], b[3]]),
            index: u16::from_le_bytes([b[4], b[5]]),
            length: u16::from_le_bytes([b[6], b[7]]),
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "control {} (type {:#04x} request {:#04x} value {:#06x} index {:#06x} length {})",
            if self.is_in() { "IN" } else { "OUT" },
            self.request_type,
            self.request,
            self.value,
            self.index,
            self.length
        )
    }
}

/// The kind of a non-control endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    /// Interrupt endpoint.
    Interrupt,
    /// Bulk endpoint.
    Bulk,
}

/// An IN endpoint a driver reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointIn {
    /// Interrupt or bulk.
    pub kind: EndpointKind,
    /// The endpoint address, direction bit included (0x81, 0x82…).
    pub address: u8,
}

impl fmt::Display for EndpointIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            EndpointKind::Interrupt => "interrupt",
            EndpointKind::Bulk => "bulk",
        };
        write!(f, "{kind} IN {:#04x}", self.address)
    }
}

/// How an IN transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Completed; the data may still be shorter than asked for.
    Ok,
    /// Cancelled by the host before the device answered.
    Cancelled,
    /// The endpoint stalled.
    Stall,
    /// The device went away.
    Disconnected,
    /// Any other failure (a kernel status code, or a platform error number).
    Failed(i32),
}

/// A finished IN transfer.
#[derive(Clone, PartialEq, Eq)]
pub struct Completion {
    /// The bytes received (possibly fewer than asked for).
    pub data: Vec<u8>,
    /// How it ended.
    pub status: Status,
}

// By hand: transfers carry fingerprint images, which never go to logs.
impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Completion({:?}, {} bytes)", self.status, self.data.len())
    }
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum UsbError {
    /// The device was unplugged.
    #[error("the USB device is gone (unplugged?)")]
    Disconnected,
    /// The OS refused to open the device node.
    #[error("no access to {path}: is the udev rule (udev/70-tally.rules) installed and is tally in group tally?")]
    PermissionDenied {
        /// The device node.
        path: String,
    },
    /// Another program (or a kernel driver) holds the device.
    #[error("{path} is in use by another program or driver")]
    Busy {
        /// The device node.
        path: String,
    },
    /// The device stalled a transfer.
    #[error("the device stalled {0}")]
    Stall(String),
    /// A transfer did not finish within its time.
    #[error("{0} timed out")]
    Timeout(String),
    /// A transfer failed in the host controller or the kernel.
    #[error("{what} failed")]
    Transfer {
        /// Which transfer.
        what: String,
        /// The platform's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The driver asked for something the transport cannot do (e.g. wait on an endpoint with
    /// nothing pending): a bug in the driver.
    #[error("driver error: {0}")]
    Misuse(String),
    /// Replay only: the driver did not do what the capture recorded.
    #[error(transparent)]
    Replay(#[from] crate::replay::ReplayError),
}

/// A USB failure in the classes a lane acts on: gone, refused, a device that broke protocol (a
/// stall), or anything else below the protocol.
impl From<UsbError> for tally_device::ReaderError {
    fn from(e: UsbError) -> tally_device::ReaderError {
        use tally_device::ReaderError;
        match e {
            UsbError::Disconnected => ReaderError::Disconnected,
            UsbError::PermissionDenied { path } => ReaderError::PermissionDenied { path },
            UsbError::Stall(what) => ReaderError::Protocol(format!("the device stalled {what}")),
            other => ReaderError::Transport { context: "USB transfer failed".into(), source: Box::new(other) },
        }
    }
}

/// The transfers a driver makes. Blocking; a driver runs on a thread of its own.
pub trait UsbTransport: Send {
    /// A control transfer that reads `setup.length` bytes (or fewer, if the device says so).
    fn control_in(&mut self, setup: Setup) -> Result<Vec<u8>, UsbError>;

    /// A control transfer that writes `data` (`setup.length` must equal its length).
    fn control_out(&mut self, setup: Setup, data: &[u8]) -> Result<(), UsbError>;

    /// Queues an IN transfer of `length` bytes on `endpoint`; collect it with
    /// [`UsbTransport::poll_in`] or [`UsbTransport::wait_in`].
    fn submit_in(&mut self, endpoint: EndpointIn, length: usize) -> Result<(), UsbError>;

    /// The oldest queued transfer on `endpoint` if it has already finished, without waiting.
    fn poll_in(&mut self, endpoint: EndpointIn) -> Result<Option<Completion>, UsbError>;

    /// Waits up to `timeout` for the oldest queued transfer on `endpoint`; `None` if it is still
    /// pending then (it stays queued).
    fn wait_in(&mut self, endpoint: EndpointIn, timeout: Duration) -> Result<Option<Completion>, UsbError>;

    /// Cancels every queued transfer on `endpoint` and waits until the device has let go of them.
    fn cancel_in(&mut self, endpoint: EndpointIn) -> Result<(), UsbError>;

    /// Lets `duration` pass (a driver's polling delay; instant in replay).
    fn pause(&mut self, duration: Duration);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_packets_round_trip_in_wire_order() {
        let setup = Setup::vendor_out(0x04, 0x004e, 0, 1);
        assert_eq!(setup.to_bytes(), [0x40, 0x04, 0x4e, 0x00, 0x00, 0x00, 0x01, 0x00]);
        assert_eq!(Setup::from_bytes(setup.to_bytes()), setup);
        assert!(!setup.is_in());
        assert!(Setup::vendor_in(0x04, 7, 0, 1).is_in());
        assert!(Setup::from_bytes([0x80, 0x06, 0, 1, 0, 0, 18, 0]).is_standard());
        assert!(!setup.is_standard());
    }
}
