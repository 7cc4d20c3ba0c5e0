//! The gate: what runs each lane — its reader kept open, and the lane's state machine from finger
//! to passage, with the access policy's verdict on whoever is identified.
//!
//! - [`reader`]: keeps one reader open on a thread of its own, reports its images and its health,
//!   and reopens it by itself when it comes back after an unplug or a fault;
//! - [`lane`]: the lane state machine, pure transitions from scan to passage;
//! - [`runner`]: runs a lane against the reader, the engine, the policy, the ledger and the turnstile;
//! - [`handle`]: a running lane's status and its override channel, for the API;
//! - [`decide`]: the policy's verdict on a person where the census last saw them;
//! - [`scbk`]: the controllers' secure channel key files (read, and made once by `tally provision`);
//! - [`service`]: starts the configured lanes (buses, readers, runners) and stops them;
//! - [`simulated`]: a reader without hardware, fed images by tests and the demo;
//! - [`openers`]: which driver opens the reader a lane names (a USB port, a serial path).
//!
//! Readers are reached only through `tally_device::Reader`; which driver opens which device is the
//! opener's business ([`reader::Opener`]), never the lane's.

pub mod decide;
pub mod handle;
pub mod lane;
pub mod openers;
pub mod operating_point;
pub mod reader;
pub mod runner;
pub mod scbk;
pub mod service;
pub mod simulated;
