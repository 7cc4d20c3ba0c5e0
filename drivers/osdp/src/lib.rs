//! OSDP v2.2 (IEC 60839-11-5) for tally: the ACU (control panel) that drives turnstile
//! controllers on an RS-485 bus, with the secure channel, and a PD simulator for tests and the demo.
//!
//! # Layout
//! - [`frame`]: the frame (mark, SOM, address, length, control, security block, code, data, MAC,
//!   CRC-16 or checksum) and a streaming decoder that resynchronises after garbage;
//! - [`message`]: commands and replies as typed values with their bytes;
//! - [`secure`]: keys, session keys, cryptograms, MAC chaining and data encryption;
//! - [`random`]: where RND.A comes from (`ring`'s system RNG, or a test source);
//! - [`acu`]: the control panel as a sans-IO state machine over several PDs, time passed in;
//! - [`link`]: the narrow byte transport and its implementation on a `tally-serial` port;
//! - [`bus`]: the thread that runs an [`Acu`] on a link, and [`OsdpTurnstile`], which implements
//!   [`tally_device::Turnstile`];
//! - [`pd`]: a PD simulator (sans-IO, plus a pseudo-terminal server);
//! - [`error`]: [`OsdpError`] and command [`Outcome`]s.
//!
//! # Why not the `osdp` crate
//! crates.io has a pure-Rust `osdp` crate (0.3.x, BSD-3). Its ACU has no secure channel, which
//! tally must run in production, its ACU drives its own I/O and clock (so the 200 ms and 8 s rules
//! could not be tested with stepped time), and it is young. The codec is a few hundred lines and
//! was checked byte for byte against libosdp 3.2.9; owning it keeps one implementation of the
//! frame layout for the ACU, the simulator and the fuzz target.
//!
//! This crate does not decide what a lane does with events (the service's lane state machine), nor
//! where keys are stored (provisioning): it takes the SCBK in its configuration.

pub mod acu;
pub mod bus;
pub mod error;
pub mod frame;
pub mod link;
pub mod message;
pub mod pd;
pub mod random;
pub mod secure;

pub use acu::{Acu, AcuConfig, AcuEvent, PdConfig, PdStatus, Ticket};
pub use bus::{BusConfig, OsdpBus, OsdpTurnstile};
pub use error::{OsdpError, Outcome};
pub use link::{Link, LinkError, SerialLink};
pub use random::{Random, SystemRng};
pub use secure::Key;
