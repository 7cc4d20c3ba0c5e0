//! Serial ports for tally's drivers: the one crate that names `serialport`.
//!
//! # Layout
//! - [`port`]: [`Port`], a port opened by path at a baud rate (8N1, no flow control): read with a
//!   timeout, write all bytes, drain, discard pending input;
//! - [`error`]: [`SerialError`], failures sorted into the classes a driver acts on (gone, refused,
//!   in use, other), and [`is_gone`] for errors from a raw stream;
//! - [`mod@ports`]: the serial ports on this machine and whether tally may open them (`tally devices`);
//! - [`pty`]: pseudo-terminal pairs, so an emulator serves the master end and a driver opens the
//!   slave's path as it would a USB serial adapter.
//!
//! This crate knows nothing of what runs on a port: packets, frames, per-command timeouts and the
//! narrow `Link` traits the drivers' protocol logic is tested against belong to the driver crates
//! (`tally-grow`, `tally-osdp`), which implement those traits on a [`Port`].

pub mod error;
pub mod port;
pub mod ports;
pub mod pty;

pub use error::{SerialError, is_gone};
pub use port::Port;
pub use ports::{PortError, PortInfo, ports};
pub use pty::{PtyMaster, PtySlave};
