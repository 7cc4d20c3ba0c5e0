//! How one GROW module is reached and what it has: one validated type, with defaults that fit a
//! module fresh from the factory.
//!
//! This module owns the settings and their checks only; reading them from tally's configuration
//! file is the service's job.

use std::fmt;
use std::time::Duration;

use crate::error::GrowError;
use crate::link::DEFAULT_BAUD_RATE;
use crate::packet::DEFAULT_ADDRESS;

/// Settings for one module.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The serial port, e.g. `/dev/tally/serial-gate-1`.
    pub path: String,
    /// Baud rate: a multiple of 9600 from 9600 to 115200 (modules ship at 57600).
    pub baud_rate: u32,
    /// The module's address (FFFFFFFF unless someone changed it).
    pub address: u32,
    /// The module's password (0 unless someone set one).
    pub password: u32,
    /// Whether the module has the R503's ring light ("Aura"), which then shows [`tally_device::Feedback`].
    pub has_aura_led: bool,
    /// Make and model, as the guard screen names the reader.
    pub model: String,
    /// How long to wait for the module to answer one command. At 57600 baud a 256-byte data packet
    /// takes about 45 ms, so a second is generous; it bounds how long a dead module stalls a lane.
    pub reply_timeout: Duration,
    /// How often to ask the module for an image while waiting for a finger (or for it to lift).
    pub poll_interval: Duration,
}

// Written by hand: the password stays out of the logs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("baud_rate", &self.baud_rate)
            .field("address", &format_args!("{:#010x}", self.address))
            .field("password", &"withheld")
            .field("has_aura_led", &self.has_aura_led)
            .field("model", &self.model)
            .field("reply_timeout", &self.reply_timeout)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

impl Config {
    /// The factory settings for a module on `path`.
    pub fn new(path: impl Into<String>) -> Config {
        Config {
            path: path.into(),
            baud_rate: DEFAULT_BAUD_RATE,
            address: DEFAULT_ADDRESS,
            password: 0,
            has_aura_led: false,
            model: "GROW/ZhianTec fingerprint module".into(),
            reply_timeout: Duration::from_secs(1),
            poll_interval: Duration::from_millis(100),
        }
    }

    /// Refuses settings no module accepts.
    pub fn validate(&self) -> Result<(), GrowError> {
        if !self.baud_rate.is_multiple_of(9600) || !(9600..=115_200).contains(&self.baud_rate) {
            return Err(GrowError::Config(format!(
                "baud rate {} is not a multiple of 9600 from 9600 to 115200",
                self.baud_rate
            )));
        }
        if self.reply_timeout.is_zero() {
            return Err(GrowError::Config("the reply timeout must be above zero".into()));
        }
        if self.poll_interval.is_zero() {
            return Err(GrowError::Config("the finger poll interval must be above zero".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_settings_are_valid() {
        assert!(Config::new("/dev/ttyUSB0").validate().is_ok());
    }

    #[test]
    fn refuses_a_baud_rate_no_module_speaks() {
        let config = Config { baud_rate: 57_601, ..Config::new("/dev/ttyUSB0") };
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("57601"), "{err}");
    }

    #[test]
    fn debug_withholds_the_password() {
        let config = Config { password: 0x1234_5678, ..Config::new("/dev/ttyUSB0") };
        let text = format!("{config:?}");
        assert!(!text.contains("305419896") && text.contains("withheld"), "{text}");
    }
}
