//! One GROW module, driven over any [`Link`]: handshake, image capture, the module's own
//! enrolment and search, and its ring light.
//!
//! [`Module`] sends one command at a time and waits for its acknowledgement, at most
//! [`Config::reply_timeout`]. What the line does wrong is handled here:
//! - garbage before a reply is skipped (the decoder resynchronises on the next `EF 01`);
//! - a reply lost in garbage (nothing whole arrived in time, but something did) makes the driver send
//!   the command once more, since every command used here can be repeated safely;
//! - a reply with a bad checksum fails the command with [`GrowError::Corrupted`], after the line is
//!   drained so the next command starts clean;
//! - silence fails the command with [`GrowError::Timeout`].
//!
//! Capturing follows the trait's rule that one touch gives one image: after an image, the finger must
//! be seen lifted (GenImg says "no finger") before the next image is taken. This module does not own
//! framing (`packet.rs`), payloads (`command.rs`) or the port (`link.rs`).

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use tally_device::{DeviceAddress, Feedback, Image, Reader, ReaderError, ReaderInfo};
use tracing::{debug, info, warn};

use crate::command::{
    AuraColour, AuraEffect, AuraLed, CharBuffer, Command, CommandError, Empty, GenImg, Img2Tz, ReadSysPara, RegModel,
    Search, SearchHit, Store, SystemParameters, TemplateCount, Touch, UpImage, VfyPwd,
};
use crate::config::Config;
use crate::error::GrowError;
use crate::link::{Link, SerialLink};
use crate::packet::{Decoder, Packet, PacketError, PacketKind};
use crate::pixels;

/// After a corrupted reply, the line counts as drained once it has been quiet this long.
const QUIET: Duration = Duration::from_millis(50);

/// The longest a drain goes on: a whole image at 9600 baud takes about 40 s, at 57600 about 7 s.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// An open GROW/ZhianTec module.
pub struct Module<L> {
    link: L,
    config: Config,
    decoder: Decoder,
    info: ReaderInfo,
    parameters: SystemParameters,
    /// Set after an image is taken, cleared once GenImg reports no finger: one touch, one image.
    awaiting_lift: bool,
}

impl<L> fmt::Debug for Module<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("info", &self.info)
            .field("parameters", &self.parameters)
            .field("awaiting_lift", &self.awaiting_lift)
            .finish_non_exhaustive()
    }
}

impl Module<SerialLink> {
    /// Opens the module on its serial port and shakes hands with it (see [`Module::with_link`]).
    pub fn open(config: Config) -> Result<Module<SerialLink>, GrowError> {
        config.validate()?;
        let link = SerialLink::open(&config.path, config.baud_rate)?;
        Module::with_link(link, config)
    }
}

impl<L: Link> Module<L> {
    /// Shakes hands with the module on `link`: verifies the password, then reads its parameters.
    pub fn with_link(link: L, config: Config) -> Result<Module<L>, GrowError> {
        config.validate()?;
        let info = ReaderInfo {
            model: config.model.clone(),
            address: DeviceAddress::Serial(config.path.clone()),
            has_feedback: config.has_aura_led,
        };
        let mut module = Module {
            link,
            config,
            decoder: Decoder::new(),
            info,
            parameters: SystemParameters::default(),
            awaiting_lift: false,
        };
        if !module.transact(&VfyPwd { password: module.config.password })? {
            return Err(GrowError::WrongPassword);
        }
        module.parameters = module.transact(&ReadSysPara)?;
        info!(
            path = %module.config.path,
            capacity = module.parameters.capacity,
            packet_size = ?module.parameters.packet_size(),
            "fingerprint module ready"
        );
        Ok(module)
    }

    /// The parameters the module reported when it was opened.
    pub fn parameters(&self) -> &SystemParameters {
        &self.parameters
    }

    /// Waits up to `timeout` for a new touch and returns its image, or `None` if none came.
    pub fn capture_image(&mut self, timeout: Duration) -> Result<Option<Image>, GrowError> {
        if !self.wait_for_touch(Instant::now() + timeout)? {
            return Ok(None);
        }
        let image = match self.upload_image() {
            Err(GrowError::Garbled { .. }) => {
                warn!(path = %self.config.path, "image transfer lost in garbage; asking for it again");
                self.upload_image()?
            }
            other => other?,
        };
        Ok(Some(image))
    }

    /// Enrols a finger in the module's own library at `page`: two touches (each within `timeout`),
    /// combined into one template and stored in flash.
    pub fn enrol(&mut self, page: u16, timeout: Duration) -> Result<(), GrowError> {
        for buffer in [CharBuffer::One, CharBuffer::Two] {
            if !self.wait_for_touch(Instant::now() + timeout)? {
                return Err(GrowError::NoFinger(timeout));
            }
            self.transact(&Img2Tz(buffer))?;
        }
        if !self.transact(&RegModel)? {
            return Err(GrowError::EnrolMismatch);
        }
        self.transact(&Store { buffer: CharBuffer::One, page })?;
        info!(path = %self.config.path, page, "finger enrolled in the module's library");
        Ok(())
    }

    /// Waits up to `timeout` for a touch and searches the module's whole library for it.
    pub fn search(&mut self, timeout: Duration) -> Result<Option<SearchHit>, GrowError> {
        if !self.wait_for_touch(Instant::now() + timeout)? {
            return Err(GrowError::NoFinger(timeout));
        }
        self.transact(&Img2Tz(CharBuffer::One))?;
        self.transact(&Search { buffer: CharBuffer::One, start: 0, count: self.parameters.capacity })
    }

    /// How many templates the module's library holds.
    pub fn template_count(&mut self) -> Result<u16, GrowError> {
        self.transact(&TemplateCount)
    }

    /// Deletes every template in the module's library.
    pub fn empty_library(&mut self) -> Result<(), GrowError> {
        self.transact(&Empty)?;
        info!(path = %self.config.path, "module library emptied");
        Ok(())
    }

    /// Shows `feedback` on the R503 ring light; does nothing on modules without one.
    ///
    /// Ready breathes blue, busy flashes purple, accepted is steady blue, refused flashes red three
    /// times, off is off. (Green exists only on newer R503 firmware, so it is not used.)
    pub fn set_light(&mut self, feedback: Feedback) -> Result<(), GrowError> {
        if !self.config.has_aura_led {
            return Ok(());
        }
        let (effect, speed, colour, cycles) = match feedback {
            Feedback::Ready => (AuraEffect::Breathing, 100, AuraColour::Blue, 0),
            Feedback::Busy => (AuraEffect::Flashing, 30, AuraColour::Purple, 0),
            Feedback::Accepted => (AuraEffect::On, 0, AuraColour::Blue, 0),
            Feedback::Refused => (AuraEffect::Flashing, 30, AuraColour::Red, 3),
            Feedback::Off => (AuraEffect::Off, 0, AuraColour::Blue, 0),
        };
        self.transact(&AuraLed { effect, speed, colour, cycles })
    }

    /// Polls GenImg until a new finger is on the sensor (first waiting for the last one to lift).
    /// `false` if `deadline` came first.
    fn wait_for_touch(&mut self, deadline: Instant) -> Result<bool, GrowError> {
        if self.awaiting_lift {
            if !self.poll_until(Touch::NoFinger, deadline)? {
                return Ok(false);
            }
            self.awaiting_lift = false;
            debug!(path = %self.config.path, "finger lifted");
        }
        if !self.poll_until(Touch::Finger, deadline)? {
            return Ok(false);
        }
        self.awaiting_lift = true;
        Ok(true)
    }

    fn poll_until(&mut self, wanted: Touch, deadline: Instant) -> Result<bool, GrowError> {
        loop {
            if self.transact(&GenImg)? == wanted {
                return Ok(true);
            }
            if Instant::now() + self.config.poll_interval > deadline {
                return Ok(false);
            }
            thread::sleep(self.config.poll_interval);
        }
    }

    /// UpImage, then the data packets up to the last one, unpacked to 8-bit grey.
    fn upload_image(&mut self) -> Result<Image, GrowError> {
        self.transact(&UpImage)?;
        let mut packed = Vec::with_capacity(pixels::PACKED_LEN);
        loop {
            let packet = self.receive(UpImage::NAME)?;
            let kind = packet.kind();
            if !matches!(kind, PacketKind::Data | PacketKind::EndData) {
                self.drain()?;
                return Err(GrowError::UnexpectedPacket(kind));
            }
            packed.extend_from_slice(packet.payload());
            if packed.len() > pixels::PACKED_LEN {
                self.drain()?;
                return Err(GrowError::ImageSize { got: packed.len(), expected: pixels::PACKED_LEN });
            }
            if kind == PacketKind::EndData {
                break;
            }
        }
        if packed.len() != pixels::PACKED_LEN {
            return Err(GrowError::ImageSize { got: packed.len(), expected: pixels::PACKED_LEN });
        }
        // Exactly WIDTH × HEIGHT pixels, as checked above.
        Ok(Image {
            width: pixels::WIDTH as u32,
            height: pixels::HEIGHT as u32,
            dpi: pixels::DPI,
            pixels: pixels::unpack(&packed),
        })
    }

    /// Sends `command` and reads its reply; sends it once more if only garbage came back.
    pub(crate) fn transact<C: Command>(&mut self, command: &C) -> Result<C::Reply, GrowError> {
        let ack = match self.exchange(C::NAME, command.to_bytes()) {
            Err(GrowError::Garbled { .. }) => {
                warn!(path = %self.config.path, command = C::NAME, "reply lost in garbage; sending the command again");
                self.exchange(C::NAME, command.to_bytes())?
            }
            other => other?,
        };
        command.parse_reply(&ack).map_err(|source| match source {
            CommandError::Status(status) => GrowError::Status { command: C::NAME, status },
            source => GrowError::Reply { command: C::NAME, source },
        })
    }

    fn exchange(&mut self, command: &'static str, payload: Vec<u8>) -> Result<Packet, GrowError> {
        let packet = Packet::new(self.config.address, PacketKind::Command, payload)
            .map_err(|source| GrowError::Encode { command, source })?;
        // A late reply to an earlier command must not pass for this one's.
        self.decoder.clear();
        self.link.discard_input()?;
        self.link.write_all(&packet.encode())?;
        self.receive(command)
    }

    /// Reads until a whole packet from the module arrives, or the reply timeout passes.
    fn receive(&mut self, command: &'static str) -> Result<Packet, GrowError> {
        let deadline = Instant::now() + self.config.reply_timeout;
        let mut garbage = false;
        let mut buf = [0; 512];
        loop {
            while let Some(result) = self.decoder.next_packet() {
                // Every branch below either returns or counts as garbage itself.
                self.note_skipped(command);
                match result {
                    Ok(packet) if packet.address() == self.config.address => return Ok(packet),
                    Ok(packet) => {
                        warn!(command, address = packet.address(), "ignored a packet from another address");
                        garbage = true;
                    }
                    Err(source @ PacketError::Checksum { .. }) => {
                        warn!(path = %self.config.path, command, cause = %source, "corrupted reply");
                        self.drain()?;
                        return Err(GrowError::Corrupted { command, source });
                    }
                    Err(cause) => {
                        warn!(path = %self.config.path, command, %cause, "garbage on the line; resynchronising");
                        garbage = true;
                    }
                }
            }
            garbage |= self.note_skipped(command);
            let now = Instant::now();
            if now >= deadline {
                return Err(if garbage || self.decoder.pending() > 0 {
                    GrowError::Garbled { command }
                } else {
                    GrowError::Timeout { command, waited: self.config.reply_timeout }
                });
            }
            let n = self.link.read(&mut buf, deadline - now)?;
            self.decoder.push(&buf[..n]);
        }
    }

    /// Logs garbage the decoder skipped; whether there was any.
    fn note_skipped(&mut self, command: &'static str) -> bool {
        let skipped = self.decoder.take_skipped();
        if skipped > 0 {
            warn!(path = %self.config.path, command, skipped, "skipped garbage on the line; resynchronised");
        }
        skipped > 0
    }

    /// Reads and drops whatever the module is still sending, until the line is quiet.
    fn drain(&mut self) -> Result<(), GrowError> {
        let limit = Instant::now() + DRAIN_LIMIT;
        let mut buf = [0; 512];
        let mut dropped = self.decoder.pending();
        while Instant::now() < limit {
            let n = self.link.read(&mut buf, QUIET)?;
            if n == 0 {
                break;
            }
            dropped += n;
        }
        self.decoder.clear();
        debug!(path = %self.config.path, dropped, "drained the line");
        Ok(())
    }
}

impl<L: Link> Reader for Module<L> {
    fn info(&self) -> &ReaderInfo {
        &self.info
    }

    fn capture(&mut self, timeout: Duration) -> Result<Option<Image>, ReaderError> {
        Ok(self.capture_image(timeout)?)
    }

    fn feedback(&mut self, feedback: Feedback) -> Result<(), ReaderError> {
        Ok(self.set_light(feedback)?)
    }

    fn close(mut self: Box<Self>) -> Result<(), ReaderError> {
        self.set_light(Feedback::Off)?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
