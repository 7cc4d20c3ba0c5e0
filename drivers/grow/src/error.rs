//! The driver's failures, and how they become the [`ReaderError`] classes a lane acts on.
//!
//! [`GrowError`] is what the public methods of [`crate::Module`] return; the conversion into
//! [`ReaderError`] happens once, at the `Reader` trait boundary. Line noise (a corrupted reply, only
//! garbage) and a finger the module could not use are capture failures worth retrying; a vanished
//! port, refused access and silence keep their own classes; a module that answers nonsense or refuses
//! the password is a protocol failure that asks for a reopen. This module does not decide when to
//! retry: the driver does.

use std::time::Duration;

use tally_device::ReaderError;

use crate::command::{CommandError, Status};
use crate::link::LinkError;
use crate::packet::PacketError;

/// Why a module operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GrowError {
    /// The configuration was refused before the port was opened.
    #[error("invalid module configuration: {0}")]
    Config(String),
    /// The serial link failed below the protocol.
    #[error("serial link failed")]
    Link(#[from] LinkError),
    /// A command did not fit in a packet (a driver bug, never the module's fault).
    #[error("cannot encode {command}")]
    Encode {
        /// The command.
        command: &'static str,
        /// Why.
        #[source]
        source: PacketError,
    },
    /// The module did not answer a command in time.
    #[error("the module did not answer {command} within {waited:?}")]
    Timeout {
        /// The command sent.
        command: &'static str,
        /// How long the driver waited.
        waited: Duration,
    },
    /// A reply arrived damaged (bad checksum).
    #[error("the reply to {command} arrived corrupted")]
    Corrupted {
        /// The command sent.
        command: &'static str,
        /// What was wrong with it.
        #[source]
        source: PacketError,
    },
    /// Only garbage arrived in reply, even after sending the command a second time.
    #[error("only garbage on the line in reply to {command}, twice")]
    Garbled {
        /// The command sent.
        command: &'static str,
    },
    /// The acknowledgement did not have the shape the command expects.
    #[error("the module's reply to {command} makes no sense")]
    Reply {
        /// The command sent.
        command: &'static str,
        /// What was wrong with it.
        #[source]
        source: CommandError,
    },
    /// The module reported a failure status.
    #[error("{command} failed: {status}")]
    Status {
        /// The command sent.
        command: &'static str,
        /// What the module said.
        status: Status,
    },
    /// The module refused the configured password.
    #[error("the module refused the password (check the reader's configured password)")]
    WrongPassword,
    /// An image transfer ended with the wrong number of bytes.
    #[error("the image transfer gave {got} bytes where {expected} were expected")]
    ImageSize {
        /// Bytes received.
        got: usize,
        /// Bytes a full image has.
        expected: usize,
    },
    /// A packet other than a data packet arrived during a transfer.
    #[error("a {0:?} packet arrived in the middle of an image transfer")]
    UnexpectedPacket(crate::packet::PacketKind),
    /// No finger came while enrolling or searching.
    #[error("no finger within {0:?}")]
    NoFinger(Duration),
    /// The two enrolment touches could not be combined into one template.
    #[error("the two enrolment touches do not match")]
    EnrolMismatch,
}

impl GrowError {
    /// The message with its causes, for a `ReaderError` that carries only text.
    fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            text.push_str(": ");
            text.push_str(&err.to_string());
            cause = err.source();
        }
        text
    }
}

impl From<GrowError> for ReaderError {
    fn from(err: GrowError) -> ReaderError {
        match err {
            GrowError::Link(LinkError::Disconnected { .. }) => ReaderError::Disconnected,
            GrowError::Link(LinkError::PermissionDenied { path, .. }) => ReaderError::PermissionDenied { path },
            GrowError::Link(source) => {
                ReaderError::Transport { context: "serial link to the module failed".into(), source: Box::new(source) }
            }
            GrowError::Timeout { waited, .. } => ReaderError::Timeout(waited),
            GrowError::Corrupted { .. }
            | GrowError::Garbled { .. }
            | GrowError::Status { .. }
            | GrowError::ImageSize { .. }
            | GrowError::NoFinger(_)
            | GrowError::EnrolMismatch => ReaderError::CaptureFailed(err.chain()),
            GrowError::Config(_)
            | GrowError::Encode { .. }
            | GrowError::Reply { .. }
            | GrowError::WrongPassword
            | GrowError::UnexpectedPacket(_) => ReaderError::Protocol(err.chain()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_noise_is_a_capture_failure_with_its_cause() {
        let err = GrowError::Corrupted { command: "UpImage", source: PacketError::Checksum { found: 1, computed: 2 } };
        let ReaderError::CaptureFailed(text) = ReaderError::from(err) else { panic!("not a capture failure") };
        assert!(text.starts_with("the reply to UpImage arrived corrupted: bad checksum"), "{text}");
    }

    #[test]
    fn silence_and_disappearance_keep_their_classes() {
        let waited = Duration::from_secs(1);
        assert!(
            matches!(ReaderError::from(GrowError::Timeout { command: "GenImg", waited }), ReaderError::Timeout(d) if d == waited)
        );
        let gone = LinkError::Disconnected { path: "/dev/x".into(), source: std::io::ErrorKind::BrokenPipe.into() };
        assert!(matches!(ReaderError::from(GrowError::Link(gone)), ReaderError::Disconnected));
        assert!(ReaderError::from(GrowError::WrongPassword).needs_reopen());
    }
}
