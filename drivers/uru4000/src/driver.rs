//! The U.are.U session: power-up, waiting for a finger, capture, and back to idle.
//!
//! The driver is a sequential program over a [`UsbTransport`]; it keeps one interrupt transfer
//! pending on endpoint 0x81 at all times, as the device expects, and after every control transfer
//! collects any interrupt that has already arrived (and queues a new one) before going on — which is
//! what the kernel's completion callbacks did in the recordings it is tested against. Registers
//! and events are in PROTOCOLS.md §1:
//!
//! 1. open: queue the interrupt; power up (HWSTAT, register 0x07; on the v2, answer the AES
//!    challenge between tries); wait for the 0x56AA "scanner on" event (retrying power-up up to 3
//!    times); read the device info (0xF0); MODE 0x10, await finger;
//! 2. capture: on 0x0101 (finger on) queue the 111,424-byte bulk read on 0x82, MODE 0x20; on the
//!    frame, write the key index (0x33: key number, seed) and read the key (0x34); MODE 0x12, await
//!    finger off; unscramble and orient the image ([`crate::frame`]);
//! 3. the next capture first waits for 0x0200 (finger off), then MODE 0x10: one touch, one image;
//! 4. close: finger off if it was on, MODE 0x70, cancel the interrupt.
//!
//! Recovery: a capture that fails (no frame in time, a short or malformed frame) re-arms the device
//! and reports [`ReaderError::CaptureFailed`]; the next capture may succeed. A stall, an unplug or
//! any transfer error ends the session ([`ReaderError::needs_reopen`]): the lane closes the reader
//! and opens it again when it is back (hotplug), which powers it up from scratch.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use tally_device::{DeviceAddress, Feedback, Image, Reader, ReaderError, ReaderInfo};
use tally_usb::{EndpointIn, EndpointKind, Setup, Status, UsbTransport};
use tracing::{debug, warn};

use crate::frame;
use crate::model::Model;

const INTERRUPT: EndpointIn = EndpointIn { kind: EndpointKind::Interrupt, address: 0x81 };
const IMAGE: EndpointIn = EndpointIn { kind: EndpointKind::Bulk, address: 0x82 };
const INTERRUPT_LEN: usize = 64;
/// The bulk read asked for; the device sends 111,040 bytes of it.
const IMAGE_READ_LEN: usize = 111_424;

/// Vendor request for register access.
const REQUEST: u8 = 0x04;
const REG_HWSTAT: u16 = 0x07;
const REG_KEY_INDEX: u16 = 0x33;
const REG_KEY: u16 = 0x34;
const REG_MODE: u16 = 0x4E;
const REG_DEVICE_INFO: u16 = 0xF0;
const REG_RESPONSE: u16 = 0x2000;
const REG_CHALLENGE: u16 = 0x2010;

const MODE_AWAIT_FINGER_ON: u8 = 0x10;
const MODE_AWAIT_FINGER_OFF: u8 = 0x12;
const MODE_CAPTURE: u8 = 0x20;
const MODE_OFF: u8 = 0x70;

const EVENT_SCANNER_ON: u16 = 0x56AA;
const EVENT_FINGER_ON: u16 = 0x0101;
const EVENT_FINGER_OFF: u16 = 0x0200;
const EVENT_FAILURE_WARNING: u16 = 0x0800;

const POWER_UP_TRIES: usize = 100;
const POWER_UP_PAUSE: Duration = Duration::from_millis(10);
const SCANNER_ON_WAIT: Duration = Duration::from_millis(300);
const SCANNER_ON_ATTEMPTS: usize = 3;
const FRAME_WAIT: Duration = Duration::from_secs(5);
const CLOSE_FINGER_OFF_WAIT: Duration = Duration::from_secs(1);

/// The v2's challenge key: a constant every one of these devices shares (published with the
/// reverse-engineered protocol), so it protects nothing and is not a secret of ours.
const CHALLENGE_KEY: [u8; 16] =
    [0x79, 0xac, 0x91, 0x79, 0x5c, 0xa1, 0x47, 0x8e, 0x98, 0xe0, 0x0f, 0x3c, 0x59, 0x8f, 0x5f, 0x4b];

/// Where the driver gets the seed it writes with the key index before each capture. The scramble
/// hides nothing, so the seed need not be secret; tests inject the one a recording used.
pub type SeedSource = Box<dyn FnMut() -> u32 + Send>;

/// A seed source that varies from capture to capture (std's per-process random hashing keys).
pub fn varying_seed() -> SeedSource {
    use std::hash::{BuildHasher as _, Hasher as _};
    let state = std::hash::RandomState::new();
    let mut counter = 0u64;
    Box::new(move || {
        counter += 1;
        let mut h = state.build_hasher();
        h.write_u64(counter);
        h.finish() as u32
    })
}

/// An open U.are.U reader.
pub struct Uru4000<T: UsbTransport> {
    usb: T,
    model: &'static Model,
    info: ReaderInfo,
    seed: SeedSource,
    /// Interrupt events received and not yet acted on.
    events: VecDeque<u16>,
    /// The last capture's finger has not been seen lifting yet.
    finger_down: bool,
    /// The 16 bytes of register 0xF0, read at power-up.
    device_info: [u8; 16],
}

impl<T: UsbTransport> std::fmt::Debug for Uru4000<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uru4000").field("model", &self.model.name).field("address", &self.info.address).finish()
    }
}

impl<T: UsbTransport> Uru4000<T> {
    /// Powers the device up and arms it for a finger.
    pub fn open(usb: T, model: &'static Model, address: DeviceAddress, seed: SeedSource) -> Result<Self, ReaderError> {
        let info = ReaderInfo { model: model.name.to_string(), address, has_feedback: false };
        let mut reader =
            Uru4000 { usb, model, info, seed, events: VecDeque::new(), finger_down: false, device_info: [0; 16] };
        reader.usb.submit_in(INTERRUPT, INTERRUPT_LEN).map_err(ReaderError::from)?;
        reader.start()?;
        Ok(reader)
    }

    /// The 16 bytes of device information (register 0xF0) read at power-up.
    pub fn device_info(&self) -> [u8; 16] {
        self.device_info
    }

    /// Puts the device to sleep and hands back the transport (a replay checks it was used up).
    pub fn shut_down(mut self) -> Result<T, ReaderError> {
        if self.finger_down {
            // Let the person lift the finger first, as the device expects; don't hang on it.
            let _ = self.wait_event(&[EVENT_FINGER_OFF], CLOSE_FINGER_OFF_WAIT)?;
        }
        self.write_reg(REG_MODE, &[MODE_OFF])?;
        self.usb.cancel_in(INTERRUPT).map_err(ReaderError::from)?;
        Ok(self.usb)
    }

    fn start(&mut self) -> Result<(), ReaderError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.power_up()?;
            if self.wait_event(&[EVENT_SCANNER_ON], SCANNER_ON_WAIT)?.is_some() {
                break;
            }
            if attempt == SCANNER_ON_ATTEMPTS {
                return Err(ReaderError::Protocol(format!(
                    "the scanner did not report power-on after {SCANNER_ON_ATTEMPTS} power-ups"
                )));
            }
            warn!(reader = %self.info.address, attempt, "no power-on event; powering up again");
        }
        let info = self.read_reg(REG_DEVICE_INFO, 16)?;
        self.device_info.copy_from_slice(&info);
        self.write_reg(REG_MODE, &[MODE_AWAIT_FINGER_ON])
    }

    /// Brings HWSTAT out of low-power mode (bit 7), rebooting it first if it reports a fault.
    fn power_up(&mut self) -> Result<(), ReaderError> {
        let mut hwstat = self.read_reg(REG_HWSTAT, 1)?[0];
        if hwstat & 0x84 == 0x84 {
            // Fault bit with low power: reboot, and wait for bit 0.
            self.write_reg(REG_HWSTAT, &[hwstat & 0x0F])?;
            for _ in 0..POWER_UP_TRIES {
                hwstat = self.read_reg(REG_HWSTAT, 1)?[0];
                if hwstat & 0x01 != 0 {
                    break;
                }
                self.usb.pause(POWER_UP_PAUSE);
            }
        }
        if hwstat & 0x80 == 0 {
            hwstat |= 0x80;
            self.write_reg(REG_HWSTAT, &[hwstat])?;
        }
        for _ in 0..POWER_UP_TRIES {
            self.write_reg(REG_HWSTAT, &[hwstat & 0x0F])?;
            hwstat = self.read_reg(REG_HWSTAT, 1)?[0];
            if hwstat & 0x80 == 0 {
                debug!(reader = %self.info.address, hwstat, "powered up");
                return Ok(());
            }
            if self.model.challenge {
                self.answer_challenge()?;
            } else {
                self.usb.pause(POWER_UP_PAUSE);
            }
        }
        Err(ReaderError::Protocol(format!("the device stayed in low-power mode after {POWER_UP_TRIES} tries")))
    }

    fn answer_challenge(&mut self) -> Result<(), ReaderError> {
        let challenge = self.read_reg(REG_CHALLENGE, 16)?;
        let mut block = Array::from(
            <[u8; 16]>::try_from(challenge.as_slice())
                .map_err(|_| ReaderError::Protocol(format!("the challenge was {} bytes, not 16", challenge.len())))?,
        );
        Aes128::new(&Array::from(CHALLENGE_KEY)).encrypt_block(&mut block);
        self.write_reg(REG_RESPONSE, &block)
    }

    fn read_reg(&mut self, reg: u16, len: u16) -> Result<Vec<u8>, ReaderError> {
        let data = self.usb.control_in(Setup::vendor_in(REQUEST, reg, 0, len)).map_err(ReaderError::from)?;
        if data.len() != usize::from(len) {
            return Err(ReaderError::Protocol(format!(
                "register {reg:#06x}: read {} bytes, expected {len}",
                data.len()
            )));
        }
        self.collect_events()?;
        Ok(data)
    }

    fn write_reg(&mut self, reg: u16, data: &[u8]) -> Result<(), ReaderError> {
        let len = u16::try_from(data.len()).map_err(|_| ReaderError::Protocol("register write too long".into()))?;
        self.usb.control_out(Setup::vendor_out(REQUEST, reg, 0, len), data).map_err(ReaderError::from)?;
        self.collect_events()
    }

    /// Takes any interrupt that has already arrived and queues the next one.
    fn collect_events(&mut self) -> Result<(), ReaderError> {
        while let Some(done) = self.usb.poll_in(INTERRUPT).map_err(ReaderError::from)? {
            self.interrupt(done)?;
        }
        Ok(())
    }

    fn interrupt(&mut self, done: tally_usb::Completion) -> Result<(), ReaderError> {
        match done.status {
            Status::Ok => {}
            Status::Disconnected => return Err(ReaderError::Disconnected),
            other => return Err(ReaderError::Protocol(format!("the interrupt endpoint failed: {other:?}"))),
        }
        self.usb.submit_in(INTERRUPT, INTERRUPT_LEN).map_err(ReaderError::from)?;
        let Some(&[hi, lo]) = done.data.get(..2).and_then(|b| <&[u8; 2]>::try_from(b).ok()) else {
            warn!(reader = %self.info.address, bytes = done.data.len(), "interrupt too short; ignored");
            return Ok(());
        };
        let event = u16::from_be_bytes([hi, lo]);
        if event == EVENT_FAILURE_WARNING {
            warn!(reader = %self.info.address, "the device warns that its next capture may fail");
        }
        self.events.push_back(event);
        Ok(())
    }

    /// Waits up to `timeout` for one of `wanted`, dropping other events; `None` if none came.
    fn wait_event(&mut self, wanted: &[u16], timeout: Duration) -> Result<Option<u16>, ReaderError> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(event) = self.events.pop_front() {
                if wanted.contains(&event) {
                    return Ok(Some(event));
                }
                debug!(reader = %self.info.address, event, "interrupt ignored");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.usb.wait_in(INTERRUPT, left).map_err(ReaderError::from)? {
                Some(done) => self.interrupt(done)?,
                None => return Ok(None),
            }
        }
    }

    /// Reads one frame after a finger-on event; `None` if the device sent none in time.
    fn read_frame(&mut self) -> Result<Vec<u8>, ReaderError> {
        self.usb.submit_in(IMAGE, IMAGE_READ_LEN).map_err(ReaderError::from)?;
        self.write_reg(REG_MODE, &[MODE_CAPTURE])?;
        let Some(done) = self.usb.wait_in(IMAGE, FRAME_WAIT).map_err(ReaderError::from)? else {
            self.usb.cancel_in(IMAGE).map_err(ReaderError::from)?;
            return Err(ReaderError::CaptureFailed(format!("no image within {FRAME_WAIT:?}")));
        };
        match done.status {
            Status::Ok => Ok(done.data),
            Status::Disconnected => Err(ReaderError::Disconnected),
            Status::Stall => Err(ReaderError::Protocol("the image endpoint stalled".into())),
            other => Err(ReaderError::CaptureFailed(format!("the image transfer ended with {other:?}"))),
        }
    }

    /// Unscrambles a frame with a fresh key, and arms the device for the finger to lift.
    fn finish_capture(&mut self, frame: &[u8]) -> Result<Image, ReaderError> {
        let header = frame::header(frame).map_err(|e| ReaderError::CaptureFailed(e.to_string()))?;
        let seed = (self.seed)();
        let mut index = [0u8; 5];
        index[0] = header.key_number;
        index[1..].copy_from_slice(&seed.to_le_bytes());
        self.write_reg(REG_KEY_INDEX, &index)?;
        let key = self.read_reg(REG_KEY, 4)?;
        let key = u32::from_le_bytes([key[0], key[1], key[2], key[3]]) ^ seed;
        self.write_reg(REG_MODE, &[MODE_AWAIT_FINGER_OFF])?;
        self.finger_down = true;
        let pixels =
            frame::decode(frame, key, self.model.rotate).map_err(|e| ReaderError::CaptureFailed(e.to_string()))?;
        Image::new(frame::WIDTH as u32, frame::HEIGHT as u32, 500, pixels)
    }

    /// See [`Reader::capture`].
    pub fn capture(&mut self, timeout: Duration) -> Result<Option<Image>, ReaderError> {
        let deadline = Instant::now() + timeout;
        if self.finger_down {
            if self.wait_event(&[EVENT_FINGER_OFF], timeout)?.is_none() {
                return Ok(None);
            }
            self.finger_down = false;
            self.write_reg(REG_MODE, &[MODE_AWAIT_FINGER_ON])?;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if self.wait_event(&[EVENT_FINGER_ON], left)?.is_none() {
            return Ok(None);
        }
        let captured = self.read_frame().and_then(|frame| self.finish_capture(&frame));
        match captured {
            Err(ReaderError::CaptureFailed(why)) => {
                warn!(reader = %self.info.address, %why, "capture failed; re-arming");
                self.finger_down = true;
                self.write_reg(REG_MODE, &[MODE_AWAIT_FINGER_OFF])?;
                Err(ReaderError::CaptureFailed(why))
            }
            other => other.map(Some),
        }
    }
}

impl<T: UsbTransport + 'static> Reader for Uru4000<T> {
    fn info(&self) -> &ReaderInfo {
        &self.info
    }

    fn capture(&mut self, timeout: Duration) -> Result<Option<Image>, ReaderError> {
        Uru4000::capture(self, timeout)
    }

    fn feedback(&mut self, _feedback: Feedback) -> Result<(), ReaderError> {
        // The ring light follows the device's own state; there is no register for it.
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<(), ReaderError> {
        self.shut_down().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_answer_matches_the_v2_recording() {
        // Challenge and response as exchanged in ../shared/data/usb/uru4000-msv2 (packets 17, 18).
        let challenge =
            [0x4d, 0xae, 0x5a, 0x0b, 0x12, 0x47, 0xa8, 0x6c, 0x9f, 0xbf, 0x29, 0xfd, 0xcc, 0x17, 0x8a, 0x74];
        let mut block = Array::from(challenge);
        Aes128::new(&Array::from(CHALLENGE_KEY)).encrypt_block(&mut block);
        let expected = [0x32, 0x93, 0x51, 0x37, 0x1e, 0x4a, 0xdf, 0xb1, 0xf3, 0x5f, 0x09, 0xf3, 0x29, 0xc6, 0xab, 0x46];
        assert_eq!(<[u8; 16]>::from(block), expected);
    }
}
