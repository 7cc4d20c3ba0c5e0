//! Turnstile controllers: what a lane needs to let exactly one person through and to know whether
//! they went.
//!
//! A [`Turnstile`] is one controller (an OSDP peripheral device on an RS-485 bus, or a simulation).
//! The lane asks it to [`Turnstile::pulse`] an output — the turnstile is free for one passage while
//! the pulse lasts — and to [`Turnstile::signal`] a decision with its light and buzzer. What the
//! controller reports comes as [`TurnstileEvent`]s on a channel the driver hands out: inputs (the
//! passage sensor), tamper and power, and whether the controller is reachable at all. A lane whose
//! controller is offline refuses every grant.

use std::fmt;
use std::time::Duration;

/// What the guard screen and the logs call a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnstileInfo {
    /// Where it is: bus and address, e.g. "OSDP 1 on /dev/tally/serial-…".
    pub name: String,
    /// What it says it is (vendor, model, serial, firmware), once it has answered.
    pub identity: Option<String>,
}

/// A decision shown at the turnstile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Allowed: green.
    Granted,
    /// Refused: red and a beep.
    Denied,
    /// Back to idle.
    Idle,
}

/// Something the controller reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnstileEvent {
    /// The controller answers (again), over the secure channel where one is configured.
    Online {
        /// What it says it is.
        identity: String,
    },
    /// The controller stopped answering (or its secure channel failed).
    Offline {
        /// Why, for the guard screen and the ledger.
        reason: String,
    },
    /// An input changed: `point` is the input's number on the controller.
    Input {
        /// Input number.
        point: u8,
        /// Whether it is now active.
        active: bool,
    },
    /// The enclosure was opened (or closed again).
    Tamper {
        /// Whether the tamper switch is now tripped.
        active: bool,
    },
    /// Mains power failed (or came back).
    Power {
        /// Whether power is now failed.
        failed: bool,
    },
}

impl fmt::Display for TurnstileEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnstileEvent::Online { identity } => write!(f, "online ({identity})"),
            TurnstileEvent::Offline { reason } => write!(f, "offline: {reason}"),
            TurnstileEvent::Input { point, active } => {
                write!(f, "input {point} {}", if *active { "active" } else { "inactive" })
            }
            TurnstileEvent::Tamper { active } => write!(f, "tamper {}", if *active { "tripped" } else { "cleared" }),
            TurnstileEvent::Power { failed } => write!(f, "power {}", if *failed { "failed" } else { "restored" }),
        }
    }
}

/// Why a command to the controller failed.
#[derive(Debug, thiserror::Error)]
pub enum TurnstileError {
    /// The controller is not answering; nothing was done.
    #[error("the turnstile controller is offline")]
    Offline,
    /// The controller refused the command.
    #[error("the turnstile controller refused the command: {0}")]
    Refused(String),
    /// No answer in time: the command may or may not have been carried out.
    #[error("the turnstile controller did not confirm within {0:?}")]
    Unconfirmed(Duration),
    /// The link below the protocol failed.
    #[error("{context}")]
    Transport {
        /// What was being done.
        context: String,
        /// The link's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One turnstile controller. Blocking; each call returns once the controller has confirmed.
pub trait Turnstile: Send {
    /// What it is.
    fn info(&self) -> TurnstileInfo;

    /// Turns output `output` on for `duration`, then back to its resting state (a temporary pulse):
    /// the turnstile is free for one passage meanwhile. `Ok` once the controller acknowledged it.
    fn pulse(&mut self, output: u8, duration: Duration) -> Result<(), TurnstileError>;

    /// Shows a decision with the controller's light and buzzer, where it has them.
    fn signal(&mut self, signal: Signal) -> Result<(), TurnstileError>;
}
