//! [`OsdpError`]: what the crate's public operations return, and the [`Outcome`] of one command
//! with its conversion into the [`TurnstileError`] a lane acts on.
//!
//! Failures inside the protocol (a bad CRC, a NAK, a wrong key) are not errors of a call: the ACU
//! handles them and reports them as events or outcomes. This module does not decide retries (the
//! ACU does) and does not own the link's own errors (`link`).

use std::time::Duration;

use tally_device::TurnstileError;

use crate::frame::FrameError;
use crate::link::LinkError;
use crate::message::NakReason;
use crate::random::RandomError;
use crate::secure::SecureError;

/// Why an OSDP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OsdpError {
    /// The configuration was refused before anything started.
    #[error("invalid OSDP configuration: {0}")]
    Config(String),
    /// No PD with this address is configured on the bus.
    #[error("no PD with address {0} on this bus")]
    UnknownAddress(u8),
    /// A frame could not be encoded (a bug, never the PD's fault).
    #[error("cannot encode a frame")]
    Frame(#[source] FrameError),
    /// The secure channel could not seal a frame.
    #[error("secure channel failure")]
    Secure(#[source] SecureError),
    /// No random bytes for the challenge.
    #[error("no random challenge")]
    Random(#[source] RandomError),
    /// The serial link failed.
    #[error("serial link failed")]
    Link(#[source] LinkError),
    /// The bus thread has stopped.
    #[error("the OSDP bus has stopped")]
    Stopped,
    /// A pseudo-terminal for the PD simulator could not be made.
    #[error("cannot create a pseudo-terminal")]
    Pty(#[source] std::io::Error),
}

impl From<LinkError> for OsdpError {
    fn from(source: LinkError) -> OsdpError {
        OsdpError::Link(source)
    }
}

/// How a queued command (OUT, LED, BUZ) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The PD acknowledged it.
    Acked,
    /// The PD refused it.
    Refused(NakReason),
    /// The PD was offline: the command was never sent.
    Offline,
    /// Sent, but no valid answer came before the PD went offline or its channel was reset: it
    /// may or may not have been carried out.
    Unconfirmed,
}

impl Outcome {
    /// As the turnstile trait reports it; `waited` is how long the caller waited.
    pub fn into_result(self, waited: Duration) -> Result<(), TurnstileError> {
        match self {
            Outcome::Acked => Ok(()),
            Outcome::Refused(reason) => Err(TurnstileError::Refused(reason.to_string())),
            Outcome::Offline => Err(TurnstileError::Offline),
            Outcome::Unconfirmed => Err(TurnstileError::Unconfirmed(waited)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nak_becomes_a_refusal_with_its_reason() {
        let err = Outcome::Refused(NakReason::Unable).into_result(Duration::ZERO).unwrap_err();
        assert!(matches!(&err, TurnstileError::Refused(reason) if reason.contains("NAK 9")), "{err}");
        assert!(matches!(Outcome::Offline.into_result(Duration::ZERO), Err(TurnstileError::Offline)));
    }
}
