//! Driver for the DigitalPersona U.are.U 4000, 4000B and 4500 and their Microsoft rebadges
//! (Fingerprint Reader, keyboard and mouse versions, and the v2 with its AES challenge).
//!
//! - [`model`]: the supported USB ids and what differs between them;
//! - [`frame`]: the image frame, its scramble, and the oriented grey image (pure);
//! - [`driver`]: the USB session, generic over [`tally_usb::UsbTransport`], so the same code runs on
//!   a real device ([`tally_usb::NusbTransport`]) and against recordings ([`tally_usb::Replay`]).
//!
//! Protocol facts: PROTOCOLS.md §1 beside the project. It implements [`tally_reader::Reader`]; the
//! service sees nothing else of it.

pub mod driver;
pub mod frame;
pub mod model;

pub use driver::{SeedSource, Uru4000, varying_seed};
pub use model::{MODELS, Model, find, supported};
