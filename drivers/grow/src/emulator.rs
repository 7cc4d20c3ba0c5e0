//! An in-process GROW module that serves the protocol over any byte stream (usually the master end
//! of a pseudo-terminal, so a driver or a host library opens the other end as a serial port).
//!
//! [`Emulator`] is a cheap handle shared between the thread that runs [`Emulator::serve`] and the
//! test (or `tally demo`) that drives it: place or lift the finger, change its image, read back the
//! library size or the ring light, and inject faults into the next reply (a corrupted checksum,
//! garbage before it, or no reply at all). What the module answers to each instruction, and the
//! stand-in for feature matching, are in [`device`]. This module owns the byte stream and the
//! faults; it does not own the protocol's meaning, which it shares with the driver through
//! `packet.rs` and `command.rs`.

pub mod device;
mod pty;

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tracing::debug;

use crate::packet::{DEFAULT_ADDRESS, Decoder, Packet, PacketError, PacketKind};
use crate::pixels;

use device::Device;
pub use device::{AuraState, MATCH_SCORE};
pub use pty::{PtyError, PtyModule};

/// How long the emulator keeps trying to hand a reply to a peer that is slow to read.
const WRITE_PATIENCE: Duration = Duration::from_secs(10);

/// What the emulated module is.
#[derive(Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Its address (FFFFFFFF from the factory).
    pub address: u32,
    /// Its password (0 from the factory).
    pub password: u32,
    /// Library size in templates (200 on an R503).
    pub capacity: u16,
    /// Data packet size code: 0, 1, 2, 3 for 32, 64, 128 (the factory setting), 256 bytes.
    pub packet_size_code: u16,
    /// The finger's 8-bit image, 256×288.
    pub image: Vec<u8>,
}

// Written by hand: the image and password stay out of the logs.
impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("address", &format_args!("{:#010x}", self.address))
            .field("capacity", &self.capacity)
            .field("packet_size_code", &self.packet_size_code)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig {
            address: DEFAULT_ADDRESS,
            password: 0,
            capacity: 200,
            packet_size_code: 2,
            image: test_pattern(),
        }
    }
}

/// A 256×288 image of diagonal stripes: not a finger, but not flat either.
pub fn test_pattern() -> Vec<u8> {
    (0..pixels::HEIGHT)
        .flat_map(|y| (0..pixels::WIDTH).map(move |x| if (x + 2 * y) % 16 < 8 { 40 } else { 220 }))
        .collect()
}

/// Why the emulator refused a setting or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// An image was not 256×288 bytes.
    #[error("an image needs {expected} bytes (256×288), got {got}")]
    ImageSize {
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        expected: usize,
    },
    /// The packet size code is not 0 to 3.
    #[error("packet size code {0} is not 0 to 3")]
    PacketSize(u16),
    /// Reading the stream failed.
    #[error("reading from the host failed")]
    Read(#[source] io::Error),
    /// Writing a reply failed.
    #[error("writing to the host failed")]
    Write(#[source] io::Error),
}

/// Faults to inject into the next reply; each is used once.
#[derive(Default)]
struct Faults {
    corrupt_checksum: bool,
    garbage: Vec<u8>,
    silent: bool,
}

struct Shared {
    device: Mutex<Device>,
    faults: Mutex<Faults>,
    hang_up: AtomicBool,
}

/// A handle on one emulated module; clones share it.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

// Written by hand: the module holds an image and templates.
impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let device = self.device();
        f.debug_struct("Emulator")
            .field("address", &format_args!("{:#010x}", device.address))
            .field("finger", &device.finger)
            .field("templates", &device.template_count())
            .finish_non_exhaustive()
    }
}

fn check_image(image: &[u8]) -> Result<(), EmulatorError> {
    let expected = pixels::WIDTH * pixels::HEIGHT;
    if image.len() == expected { Ok(()) } else { Err(EmulatorError::ImageSize { got: image.len(), expected }) }
}

impl Emulator {
    /// A module fresh from power-up, with no finger on it.
    pub fn new(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        check_image(&config.image)?;
        if config.packet_size_code > 3 {
            return Err(EmulatorError::PacketSize(config.packet_size_code));
        }
        let device =
            Device::new(config.address, config.password, config.capacity, config.packet_size_code, config.image);
        Ok(Emulator {
            shared: Arc::new(Shared {
                device: Mutex::new(device),
                faults: Mutex::new(Faults::default()),
                hang_up: AtomicBool::new(false),
            }),
        })
    }

    // A panic while holding a lock leaves plain data behind: keep using it.
    fn device(&self) -> MutexGuard<'_, Device> {
        self.shared.device.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.shared.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts the finger on the sensor.
    pub fn place_finger(&self) {
        self.device().finger = true;
    }

    /// Lifts the finger off the sensor.
    pub fn lift_finger(&self) {
        self.device().finger = false;
    }

    /// Changes the finger's 8-bit image (256×288, row-major).
    pub fn set_image(&self, image: Vec<u8>) -> Result<(), EmulatorError> {
        check_image(&image)?;
        self.device().image = image;
        Ok(())
    }

    /// The finger's image as a host receives it: each pixel cut to 4 bits and expanded back.
    pub fn quantised_image(&self) -> Vec<u8> {
        self.device().image.iter().map(|&v| pixels::quantise(v)).collect()
    }

    /// How many templates the library holds.
    pub fn template_count(&self) -> u16 {
        self.device().template_count()
    }

    /// What the ring light was last told, if anything.
    pub fn aura(&self) -> Option<AuraState> {
        self.device().aura
    }

    /// Corrupts the checksum of the next reply's first packet.
    pub fn corrupt_next_checksum(&self) {
        self.faults().corrupt_checksum = true;
    }

    /// Sends `garbage` on the line just before the next reply.
    pub fn garbage_before_next_reply(&self, garbage: Vec<u8>) {
        self.faults().garbage = garbage;
    }

    /// Leaves the next command unanswered.
    pub fn ignore_next_command(&self) {
        self.faults().silent = true;
    }

    /// Makes [`Emulator::serve`] return (and so close its stream) at its next read timeout.
    pub fn hang_up(&self) {
        self.shared.hang_up.store(true, Ordering::SeqCst);
    }

    /// Runs [`Emulator::serve`] on a thread of its own.
    pub fn spawn<S: Read + Write + Send + 'static>(&self, stream: S) -> thread::JoinHandle<Result<(), EmulatorError>> {
        let emulator = self.clone();
        thread::spawn(move || emulator.serve(stream))
    }

    /// Answers commands on `stream` until the host hangs up, the stream ends, or [`Emulator::hang_up`].
    /// The stream should have a read timeout (a pseudo-terminal's master end has one), so that a
    /// hang-up takes effect while the host is silent.
    pub fn serve<S: Read + Write>(&self, mut stream: S) -> Result<(), EmulatorError> {
        let mut decoder = Decoder::new();
        let mut buf = [0; 1024];
        while !self.shared.hang_up.load(Ordering::SeqCst) {
            let n = match stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(e) if tally_serial::is_gone(&e) => return Ok(()),
                Err(e) => return Err(EmulatorError::Read(e)),
            };
            decoder.push(&buf[..n]);
            while let Some(result) = decoder.next_packet() {
                let Some(bytes) = self.answer(result) else { continue };
                match write_patiently(&mut stream, &bytes) {
                    Err(EmulatorError::Write(e)) if tally_serial::is_gone(&e) => return Ok(()),
                    other => other?,
                }
            }
        }
        debug!("emulated module hung up");
        Ok(())
    }

    /// The bytes to send for one decoded packet (faults applied), or `None` to stay silent.
    fn answer(&self, received: Result<Packet, PacketError>) -> Option<Vec<u8>> {
        let mut device = self.device();
        let reply = match received {
            Ok(packet) if packet.address() != device.address || packet.kind() != PacketKind::Command => return None,
            Ok(packet) => device.handle(packet.payload()),
            // A damaged command packet: the module says it could not read it.
            Err(PacketError::Checksum { .. }) => device.handle(&[]),
            Err(_) => return None,
        };
        drop(device);
        let mut faults = self.faults();
        if std::mem::take(&mut faults.silent) {
            return None;
        }
        let mut bytes = std::mem::take(&mut faults.garbage);
        for (i, packet) in reply.packets.iter().enumerate() {
            let mut encoded = packet.encode();
            if i == 0
                && std::mem::take(&mut faults.corrupt_checksum)
                && let Some(last) = encoded.last_mut()
            {
                *last ^= 0xA5;
            }
            bytes.extend(encoded);
        }
        if reply.ready_byte {
            bytes.push(0x55);
        }
        Some(bytes)
    }
}

/// Writes all of `bytes`, waiting out a peer that is slow to read (a pseudo-terminal holds only a
/// few kilobytes, and an image is 40).
fn write_patiently<S: Write>(stream: &mut S, mut bytes: &[u8]) -> Result<(), EmulatorError> {
    let give_up = Instant::now() + WRITE_PATIENCE;
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(EmulatorError::Write(io::ErrorKind::WriteZero.into())),
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) && Instant::now() < give_up => {}
            Err(e) => return Err(EmulatorError::Write(e)),
        }
    }
    stream.flush().map_err(EmulatorError::Write)
}
