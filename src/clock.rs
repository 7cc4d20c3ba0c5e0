//! Time as tally sees it: a wall clock that may be wrong, a monotonic clock since boot, and the boot id.
//!
//! The ledger orders entries by sequence number, never by time; it records the wall clock reading, the
//! monotonic time since boot and the kernel's boot id so that auditors can tell a clock that was set wrong
//! from a gap in the record. [`Clock`] is a trait so tests can make the wall clock jump or time pass at will.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Readings the ledger stamps on every entry.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The wall clock (UTC). May be wrong, may jump.
    fn wall(&self) -> SystemTime;
    /// Time since boot, counting suspend; never goes backwards within one boot.
    fn since_boot(&self) -> Duration;
    /// Identifier of the current boot; changes at every power cycle.
    fn boot_id(&self) -> &str;
}

/// The machine's clocks: `CLOCK_REALTIME`, `CLOCK_BOOTTIME` and `/proc/sys/kernel/random/boot_id`.
#[derive(Debug)]
pub struct SystemClock {
    boot_id: String,
}

impl SystemClock {
    /// Reads the kernel's boot id once. Where the kernel does not give one (not Linux), a random id
    /// stands for this process's lifetime, which is the most that can honestly be said.
    pub fn new() -> Self {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(random_boot_id);
        SystemClock { boot_id }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

fn random_boot_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // A failing system RNG leaves zeros: the id then only distinguishes nothing, which the ledger tolerates.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Clock for SystemClock {
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn since_boot(&self) -> Duration {
        let ts = rustix::time::clock_gettime_dynamic(rustix::time::DynamicClockId::Boottime)
            .unwrap_or_else(|_| rustix::time::clock_gettime(rustix::time::ClockId::Monotonic));
        Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
    }

    fn boot_id(&self) -> &str {
        &self.boot_id
    }
}

/// A clock for tests: starts at a given wall time, advances only when told, and can jump.
#[derive(Debug)]
pub struct ManualClock {
    boot_id: String,
    state: Mutex<(SystemTime, Duration)>,
}

impl ManualClock {
    /// A clock reading `wall` at `since_boot` into boot `boot_id`.
    pub fn new(boot_id: &str, wall: SystemTime, since_boot: Duration) -> Self {
        ManualClock { boot_id: boot_id.to_owned(), state: Mutex::new((wall, since_boot)) }
    }

    /// Lets `d` pass on both clocks.
    pub fn advance(&self, d: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 += d;
        s.1 += d;
    }

    /// Sets the wall clock alone, as an operator or a bad RTC would.
    pub fn set_wall(&self, wall: SystemTime) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 = wall;
    }
}

impl Clock for ManualClock {
    fn wall(&self) -> SystemTime {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    fn since_boot(&self) -> Duration {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    fn boot_id(&self) -> &str {
        &self.boot_id
    }
}

/// Formats a wall-clock reading as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T21:39:42.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    let ms = dt.millisecond();
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    match dt.format(&fmt) {
        Ok(s) => format!("{s}.{ms:03}Z"),
        // Only years outside 0..=9999 fail to format; say so plainly rather than invent a date.
        Err(_) => "invalid-time".to_owned(),
    }
}

/// Parses the form [`rfc3339`] writes (any RFC 3339 timestamp is accepted).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok().map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_to_the_millisecond() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        let s = rfc3339(t);
        assert_eq!(s, "2026-11-18T11:06:40.123Z");
        assert_eq!(parse_rfc3339(&s), Some(t));
    }

    #[test]
    fn system_clock_reads_a_boot_id_and_moves_forward() {
        let c = SystemClock::new();
        assert!(!c.boot_id().is_empty());
        let a = c.since_boot();
        let b = c.since_boot();
        assert!(b >= a);
    }
}
