//! What tally needs of its devices, and nothing of how they are reached: the traits every driver
//! under `drivers/` implements, so the service holds devices only as trait objects and never sees
//! nusb or serialport.
//!
//! - [`reader`]: fingerprint readers — wait for a finger and capture its image, give feedback,
//!   close; hotplug presence; the failures a lane must tell apart.
//! - [`turnstile`]: turnstile controllers — release for one passage, signal a denial, and report
//!   passage, tamper, power and link state as events.
//!
//! It does not own discovery (each driver crate knows its own devices), the fingerprint engine, or
//! threads: the traits are blocking, and the service gives each device a thread of its own, so a
//! driver is a plain sequential program that tests can replay.

pub mod reader;
pub mod turnstile;

pub use reader::{DeviceAddress, Feedback, Image, Presence, Reader, ReaderError, ReaderInfo};
pub use turnstile::{Signal, Turnstile, TurnstileError, TurnstileEvent, TurnstileInfo};
