//! Fingerprint readers: [`Reader`], the [`Image`] a capture produces, [`ReaderError`], and
//! [`Presence`] events for hotplug.

use std::fmt;
use std::time::Duration;

/// A fingerprint image as a reader delivered it: 8-bit grey, row-major, ridges dark on a light
/// background (the orientation a finger is seen from outside, as on an ink card).
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Resolution the sensor is built for, in dots per inch.
    pub dpi: u16,
    /// `width × height` bytes, 0 black, 255 white.
    pub pixels: Vec<u8>,
}

// Written by hand: an image of a finger never goes to the logs.
impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}×{} at {} dpi, pixels withheld)", self.width, self.height, self.dpi)
    }
}

impl Image {
    /// An image from its pixels, refusing a buffer that does not hold exactly `width × height` bytes.
    pub fn new(width: u32, height: u32, dpi: u16, pixels: Vec<u8>) -> Result<Image, ReaderError> {
        let expected = u64::from(width) * u64::from(height);
        if pixels.len() as u64 != expected {
            return Err(ReaderError::Protocol(format!(
                "a {width}×{height} image needs {expected} bytes, the reader gave {}",
                pixels.len()
            )));
        }
        Ok(Image { width, height, dpi, pixels })
    }
}

/// What the person at the reader should be told, where the device has a light or a buzzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Ready for a finger.
    Ready,
    /// Working: keep the finger still / wait.
    Busy,
    /// Recognised and allowed.
    Accepted,
    /// Not allowed, or not recognised: the guard decides.
    Refused,
    /// All lights off.
    Off,
}

/// Which device a driver serves, as the service and the guard screen name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Make and model, e.g. "DigitalPersona U.are.U 4500".
    pub model: String,
    /// Where it is attached, e.g. "usb 1-10 (05ba:000a)" or "/dev/tally/serial-…".
    pub address: DeviceAddress,
    /// Whether [`Reader::feedback`] does anything on this device.
    pub has_feedback: bool,
}

/// Where a reader is attached: what hotplug events and the configuration refer to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceAddress {
    /// A USB device, by its port path (stable across replugging into the same port) and its ids.
    Usb {
        /// Bus number.
        bus: u8,
        /// Port path below the root hub, e.g. "1-10" or "1-2.3".
        port: String,
        /// Vendor id.
        vendor: u16,
        /// Product id.
        product: u16,
    },
    /// A serial port by its path.
    Serial(String),
    /// A recording or a simulation, named for the humans reading logs.
    Simulated(String),
}

impl fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceAddress::Usb { port, vendor, product, .. } => {
                write!(f, "usb {port} ({vendor:04x}:{product:04x})")
            }
            DeviceAddress::Serial(path) => write!(f, "serial {path}"),
            DeviceAddress::Simulated(name) => write!(f, "simulated {name}"),
        }
    }
}

/// A reader arriving or leaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// A supported reader was plugged in (or was there when watching began).
    Arrived(DeviceAddress),
    /// A reader was unplugged, or its port disappeared.
    Left(DeviceAddress),
}

/// Why a reader operation failed, in the classes a lane acts on.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The device is gone (unplugged, port removed): wait for it to come back.
    #[error("the reader was disconnected")]
    Disconnected,
    /// The operating system refused access to the device node.
    #[error("no access to {path}: is the udev rule (udev/70-tally.rules) installed and is tally in group tally?")]
    PermissionDenied {
        /// The device node refused.
        path: String,
    },
    /// The device did not answer in time.
    #[error("the reader did not answer within {0:?}")]
    Timeout(Duration),
    /// One capture went wrong (smudged, lifted too early, a short transfer); the next may work.
    #[error("capture failed: {0}")]
    CaptureFailed(String),
    /// The device answered something the driver does not understand; reopening it may help.
    #[error("the reader broke protocol: {0}")]
    Protocol(String),
    /// The transport failed below the protocol (USB or serial error).
    #[error("{context}")]
    Transport {
        /// What was being done.
        context: String,
        /// The transport's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ReaderError {
    /// Whether the lane should close this reader and open it again (rather than just retry).
    pub fn needs_reopen(&self) -> bool {
        !matches!(self, ReaderError::CaptureFailed(_) | ReaderError::Timeout(_))
    }
}

/// An open fingerprint reader. Blocking: the service runs each reader on a thread of its own.
pub trait Reader: Send {
    /// What this reader is and where it is attached.
    fn info(&self) -> &ReaderInfo;

    /// Waits up to `timeout` for a finger and returns its image, or `Ok(None)` if no finger came
    /// (so the caller can check for shutdown and call again). A finger still on the reader from the
    /// previous capture must be lifted first: one touch gives one image.
    fn capture(&mut self, timeout: Duration) -> Result<Option<Image>, ReaderError>;

    /// Shows `feedback` on the device's light or buzzer; does nothing where there is none.
    fn feedback(&mut self, feedback: Feedback) -> Result<(), ReaderError>;

    /// Puts the device in its idle state and releases it.
    fn close(self: Box<Self>) -> Result<(), ReaderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_needs_exactly_its_pixels() {
        assert!(Image::new(3, 2, 500, vec![0; 6]).is_ok());
        let err = Image::new(3, 2, 500, vec![0; 5]).unwrap_err();
        assert!(err.to_string().contains("needs 6 bytes"), "{err}");
    }

    #[test]
    fn image_debug_withholds_pixels() {
        let image = Image::new(2, 1, 500, vec![7, 9]).unwrap();
        assert_eq!(format!("{image:?}"), "Image(2×1 at 500 dpi, pixels withheld)");
    }

    #[test]
    fn only_device_failures_ask_for_a_reopen() {
        assert!(!ReaderError::CaptureFailed("smudge".into()).needs_reopen());
        assert!(!ReaderError::Timeout(Duration::from_secs(1)).needs_reopen());
        assert!(ReaderError::Disconnected.needs_reopen());
        assert!(ReaderError::Protocol("bad".into()).needs_reopen());
    }
}
