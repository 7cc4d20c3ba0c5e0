//! Driver for GROW/ZhianTec serial fingerprint modules (R30x, R503, AS608, ZFM-20), and an emulator
//! of one.
//!
//! # Layout
//! - [`packet`]: the wire packet (`EF 01`, address, kind, length, payload, checksum) and a streaming
//!   decoder that resynchronises after garbage;
//! - [`command`]: each instruction as a small type with its bytes and its reply;
//! - [`status`]: the confirmation codes, with readable messages;
//! - [`pixels`]: the 4-bit image format UpImage sends;
//! - [`link`]: the narrow byte transport the driver runs on, and its implementation on a
//!   `tally-serial` port;
//! - [`config`]: the settings for one module, validated;
//! - [`driver`]: [`Module`], which implements [`tally_device::Reader`], plus the module's own
//!   enrolment and search;
//! - [`error`]: [`GrowError`] and its conversion into [`tally_device::ReaderError`];
//! - [`mod@ports`]: the serial ports on this machine and whether tally may open them (`tally devices`),
//!   from `tally-serial`;
//! - [`emulator`]: an in-process module that serves the protocol on any byte stream, for tests and
//!   for `tally demo`.
//!
//! This crate does not decide which port is which (the service's configuration names them) nor own
//! extraction and matching (the service's fingerprint engine; the module's own matcher is offered
//! only as an option).

pub mod command;
pub mod config;
pub mod driver;
pub mod emulator;
pub mod error;
pub mod link;
pub mod packet;
pub mod pixels;
pub mod status;

pub use config::Config;
pub use driver::Module;
pub use error::GrowError;
pub use link::{Link, SerialLink};
// The module and the function both: `tally_grow::ports()` and `tally_grow::ports::PortError`.
pub use tally_serial::ports;
pub use tally_serial::ports::PortInfo;
