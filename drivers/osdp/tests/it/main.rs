//! The ACU, the PD simulator and the bus: sans-IO with stepped time (`sans_io`), the bus over a
//! real pseudo-terminal with the Rust simulator (`pty`), against a recorded libosdp conversation
//! (`capture`), and against a live libosdp 3.2.9 PD from Python (`peer`).
// Test helpers fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

mod capture;
mod peer;
mod pty;
mod sans_io;
