//! The driver and the emulator over a real pseudo-terminal: the emulator serves the master end on a
//! thread, the driver opens the slave end by its path through its serial link, as it would a USB serial
//! adapter. `peer` checks the emulator against an independent host library (pyfingerprint).

mod faults;
mod module;
mod peer;
mod rig;
