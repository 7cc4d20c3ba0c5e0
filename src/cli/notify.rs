//! systemd's service notification protocol (`sd_notify`), for `tally serve` under `Type=notify`: READY=1
//! once the appliance serves, WATCHDOG=1 while the ledger writer answers, STOPPING=1 on the way out.
//!
//! A datagram of `KEY=VALUE` lines to the socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the
//! abstract namespace); the watchdog period is `$WATCHDOG_USEC`, for the process `$WATCHDOG_PID` if set.
//! Without these variables (not under systemd) every call does nothing. Nothing here is ever secret.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where notifications go, if anywhere.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment systemd sets; a missing or unusable socket means no notifications.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let addr = match path.strip_prefix('@') {
                Some(name) => {
                    use std::os::linux::net::SocketAddrExt as _;
                    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()?
                }
                None => std::os::unix::net::SocketAddr::from_pathname(&path).ok()?,
            };
            Some((UnixDatagram::unbound().ok()?, addr))
        });
        let for_us = std::env::var("WATCHDOG_PID").ok().is_none_or(|p| p.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        Notifier { socket, watchdog }
    }

    /// Sends `state` (e.g. `READY=1`); failures are ignored, as sd_notify's callers do.
    pub fn notify(&self, state: &str) {
        if let Some((socket, addr)) = &self.socket {
            let _ = socket.send_to_addr(state.as_bytes(), addr);
        }
    }

    /// How often to send WATCHDOG=1 (half the period systemd allows), if systemd asked for it.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.socket.as_ref().and(self.watchdog).map(|d| d / 2)
    }
}
