//! [`SerialError`]: why opening, reading or writing a port failed, sorted into the classes a driver
//! acts on (the port is gone, access was refused, another program holds it, anything else), each
//! keeping what the system said.
//!
//! This module owns the sorting, including the cases where `serialport` hides the errno; it does not
//! decide what a driver does about a class (reopen, report, give up).

use std::io;

/// Why a serial port failed.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    /// The port is gone: unplugged, removed, or the other end of a pseudo-terminal closed.
    #[error("{path} is gone")]
    Disconnected {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The system refused access to the port.
    #[error("no access to {path}: is the udev rule (udev/70-tally.rules) installed and is tally in group tally?")]
    PermissionDenied {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Another program holds the port (it is busy, or locked).
    #[error("{path} is in use by another program")]
    InUse {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The port could not be opened for another reason.
    #[error("cannot open {path}")]
    Open {
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Reading, writing or flushing failed for another reason.
    #[error("{operation} on {path} failed")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The port's path.
        path: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

/// Sorts a failure to open `path`. `serialport` reports EBUSY and a lock held by another process as
/// `NoDevice`, which its conversion to `io::Error` would make look like a missing port.
pub(crate) fn classify_open(path: &str, error: serialport::Error) -> SerialError {
    if error.kind() == serialport::ErrorKind::NoDevice {
        SerialError::InUse { path: path.to_owned(), source: error.into() }
    } else {
        classify(path, "open", error.into())
    }
}

/// Sorts an I/O failure on `path` into the classes a driver acts on.
pub(crate) fn classify(path: &str, operation: &'static str, source: io::Error) -> SerialError {
    let path = path.to_owned();
    if source.kind() == io::ErrorKind::PermissionDenied {
        SerialError::PermissionDenied { path, source }
    } else if is_gone(&source) {
        SerialError::Disconnected { path, source }
    } else if operation == "open" {
        SerialError::Open { path, source }
    } else {
        SerialError::Io { operation, path, source }
    }
}

/// Whether an error means the device (or the other end of a pseudo-terminal) went away.
///
/// `serialport` passes ENOENT on as `NotFound` and a hang-up seen by poll as `BrokenPipe`, but turns
/// EIO, ENXIO and ENODEV into `Other` errors that keep only the system's description, so those
/// are recognised by their text.
pub fn is_gone(error: &io::Error) -> bool {
    use io::ErrorKind as K;
    match error.kind() {
        K::NotFound | K::BrokenPipe | K::NotConnected | K::ConnectionReset | K::ConnectionAborted => true,
        K::UnexpectedEof => true,
        K::Other => gone_text(&error.to_string()),
        _ => false,
    }
}

/// EIO ("I/O error", "Input/output error"), ENXIO ("No such device or address"), ENODEV ("No such device").
fn gone_text(text: &str) -> bool {
    ["I/O error", "Input/output error", "No such device"].iter().any(|gone| text.contains(gone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_disappearance_from_other_failures() {
        assert!(is_gone(&io::Error::new(io::ErrorKind::BrokenPipe, "Broken pipe")));
        assert!(is_gone(&io::Error::new(io::ErrorKind::NotFound, "No such file or directory")));
        assert!(is_gone(&io::Error::other("I/O error")));
        assert!(is_gone(&io::Error::other("Input/output error")));
        assert!(is_gone(&io::Error::other("No such device or address")));
        assert!(!is_gone(&io::Error::other("Settings did not apply correctly")));
        assert!(!is_gone(&io::Error::new(io::ErrorKind::TimedOut, "Operation timed out")));
    }

    #[test]
    fn a_locked_port_is_in_use_not_gone() {
        let busy =
            serialport::Error::new(serialport::ErrorKind::NoDevice, "Unable to acquire exclusive lock on serial port");
        assert!(matches!(classify_open("/dev/ttyUSB0", busy), SerialError::InUse { .. }));
    }

    #[test]
    fn a_refused_port_is_permission_denied_with_the_udev_hint() {
        let err = classify("/dev/ttyS9", "open", io::Error::new(io::ErrorKind::PermissionDenied, "Permission denied"));
        assert!(matches!(err, SerialError::PermissionDenied { .. }));
        assert!(err.to_string().contains("udev rule"), "{err}");
    }

    #[test]
    fn other_failures_keep_their_operation_and_cause() {
        let open = classify("/dev/ttyS9", "open", io::Error::other("Settings did not apply correctly"));
        assert!(matches!(open, SerialError::Open { .. }), "{open:?}");
        let read = classify("/dev/ttyS9", "read", io::Error::other("Settings did not apply correctly"));
        assert_eq!(read.to_string(), "read on /dev/ttyS9 failed");
        let cause = std::error::Error::source(&read).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("Settings did not apply correctly"));
    }
}
