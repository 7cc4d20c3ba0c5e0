//! USB for tally's reader drivers.
//!
//! A driver is written against [`UsbTransport`], a narrow trait with the transfers a reader needs;
//! it never names nusb. Two transports implement it:
//! - [`NusbTransport`] (in `live`): a real device through nusb, found with [`list`] and watched with
//!   [`Hotplug`];
//! - [`Replay`]: a usbmon capture ([`usbmon`]) played back strictly, so a driver's whole session
//!   with a real device is a test.
//!
//! [`umockdev`] reads the device files that come with recordings (which device, which ids). This
//! crate knows no device's protocol; that lives in the driver crates (e.g. `tally-uru4000`).

mod live;
pub mod replay;
mod transport;
pub mod umockdev;
pub mod usbmon;

pub use live::{Hotplug, NusbTransport, UsbDevice, UsbPresence, list};
pub use replay::{Replay, ReplayError};
pub use transport::{Completion, EndpointIn, EndpointKind, Setup, Status, UsbError, UsbTransport};
