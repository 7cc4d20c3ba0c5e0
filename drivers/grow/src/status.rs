//! The confirmation codes a module puts first in every acknowledgement, with readable messages.
//!
//! This module owns the codes and their meaning only; which codes are expected outcomes of which
//! command (no finger yet, no match) is decided in `command.rs`.

use std::fmt;

/// A confirmation code, the first byte of every acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 00: done.
    Ok,
    /// 01: the module could not read the command packet.
    ReceiveError,
    /// 02: no finger on the sensor.
    NoFinger,
    /// 03: the sensor failed to take an image.
    ImageFailed,
    /// 06: the image is too messy to extract features from.
    MessyImage,
    /// 07: the image has too few features.
    TooFewFeatures,
    /// 08: the two templates do not match.
    NoMatch,
    /// 09: no template in the searched range matches.
    NotFound,
    /// 0A: the two enrolment touches could not be combined.
    EnrolMismatch,
    /// 0B: the library page is outside the library.
    BadLocation,
    /// 13: the password is wrong.
    WrongPassword,
    /// 15: the image buffer holds no valid image.
    InvalidImage,
    /// 18: writing flash failed.
    FlashError,
    /// 21: a password is set and has not been verified yet (R503 and later firmware).
    PasswordNotVerified,
    /// Any other code.
    Other(u8),
}

impl Status {
    /// The status for a confirmation code.
    pub fn from_code(code: u8) -> Status {
        match code {
            0x00 => Status::Ok,
            0x01 => Status::ReceiveError,
            0x02 => Status::NoFinger,
            0x03 => Status::ImageFailed,
            0x06 => Status::MessyImage,
            0x07 => Status::TooFewFeatures,
            0x08 => Status::NoMatch,
            0x09 => Status::NotFound,
            0x0A => Status::EnrolMismatch,
            0x0B => Status::BadLocation,
            0x13 => Status::WrongPassword,
            0x15 => Status::InvalidImage,
            0x18 => Status::FlashError,
            0x21 => Status::PasswordNotVerified,
            other => Status::Other(other),
        }
    }

    /// The confirmation code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0x00,
            Status::ReceiveError => 0x01,
            Status::NoFinger => 0x02,
            Status::ImageFailed => 0x03,
            Status::MessyImage => 0x06,
            Status::TooFewFeatures => 0x07,
            Status::NoMatch => 0x08,
            Status::NotFound => 0x09,
            Status::EnrolMismatch => 0x0A,
            Status::BadLocation => 0x0B,
            Status::WrongPassword => 0x13,
            Status::InvalidImage => 0x15,
            Status::FlashError => 0x18,
            Status::PasswordNotVerified => 0x21,
            Status::Other(code) => code,
        }
    }

    /// What the code means, for people.
    pub fn message(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::ReceiveError => "the module could not read the command",
            Status::NoFinger => "no finger on the sensor",
            Status::ImageFailed => "the sensor failed to take an image",
            Status::MessyImage => "the image is too messy",
            Status::TooFewFeatures => "the image has too few features",
            Status::NoMatch => "the fingers do not match",
            Status::NotFound => "no matching template in the library",
            Status::EnrolMismatch => "the two enrolment touches do not match",
            Status::BadLocation => "the library page is out of range",
            Status::WrongPassword => "wrong password",
            Status::InvalidImage => "no valid image in the image buffer",
            Status::FlashError => "writing the module's flash failed",
            Status::PasswordNotVerified => "the password must be verified first",
            Status::Other(_) => "unknown status",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (status {:#04x})", self.message(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_read_well() {
        for code in 0..=255u8 {
            assert_eq!(Status::from_code(code).code(), code);
        }
        assert_eq!(Status::WrongPassword.to_string(), "wrong password (status 0x13)");
    }
}
