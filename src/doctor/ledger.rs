//! The doctor's checks of the ledger and the clock: the ledger opens and verifies end to end in place
//! (as its export would verify for an auditor), its latest checkpoint covers every stored entry, it is the
//! ledger of the facility and appliance the configuration names (as `tally serve` would refuse it), and the
//! system clock is neither before the latest entry (a clock gone backwards) nor before 2025 (a clock
//! reset, e.g. an RTC battery gone flat).

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::Check;
use crate::clock;
use crate::config::Config;
use crate::ledger::entry::Entry;
use crate::ledger::{LedgerError, LedgerReader, verify};

/// No appliance's clock can rightly read before this (2025-01-01T00:00:00Z), older than any build of tally.
pub const EARLIEST_SANE: Duration = Duration::from_secs(1_735_689_600);

/// The ledger check and the time of the latest entry, for the clock check.
#[derive(Debug)]
pub struct LedgerHealth {
    /// The verdict.
    pub check: Check,
    /// The wall-clock reading the latest entry carries, when the ledger could be read.
    pub last_entry_time: Option<SystemTime>,
}

/// Opens and verifies the ledger of `config`'s data directory, and compares its identity with the
/// configured facility and appliance ids (an id the configuration leaves out matches any).
pub fn check(config: &Config) -> LedgerHealth {
    let data_dir: &Path = &config.data_dir;
    const NAME: &str = "ledger";
    let failed =
        |found: String, fix: &str| LedgerHealth { check: Check::failed(NAME, found, fix), last_entry_time: None };
    let mut reader = match LedgerReader::open(data_dir) {
        Ok(r) => r,
        Err(e @ LedgerError::Missing(_)) => {
            return failed(
                e.to_string(),
                "run `tally provision` on a new appliance; on one that had a ledger, restore the data directory from its backup",
            );
        }
        Err(e) => return failed(format!("cannot open the ledger: {e}"), DAMAGED),
    };
    let stored = match verify::verify_stored(&mut reader) {
        Ok(s) => s,
        Err(e) => return failed(format!("cannot read the ledger: {e}"), DAMAGED),
    };
    let last_entry_time = stored
        .checkpoint_size
        .checked_sub(1)
        .and_then(|last| reader.entries(last, 1).ok())
        .and_then(|mut e| e.pop())
        .and_then(|bytes| Entry::parse_lenient(&bytes).ok())
        .and_then(|e| clock::parse_rfc3339(&e.stamp.time));
    let check = match stored.verified {
        Err(e) => Check::failed(NAME, format!("does not verify: {e}"), DAMAGED),
        Ok(_) if stored.entries != stored.checkpoint_size => Check::failed(
            NAME,
            format!(
                "the store holds {} entries but the latest checkpoint covers {}",
                stored.entries, stored.checkpoint_size
            ),
            DAMAGED,
        ),
        Ok(r) => match identity_mismatch(&mut reader, config) {
            Some(found) => Check::failed(NAME, found, RENAMED),
            None => Check::ok(
                NAME,
                format!(
                    "{}: {} entries verified against the latest checkpoint, {} signing key(s)",
                    r.origin, r.size, r.keys
                ),
            ),
        },
    };
    LedgerHealth { check, last_entry_time }
}

/// What differs between the ledger's identity and the configuration, if anything.
fn identity_mismatch(reader: &mut LedgerReader, config: &Config) -> Option<String> {
    let identity = match reader.identity() {
        Ok(i) => i,
        Err(e) => return Some(format!("cannot read the ledger's identity: {e}")),
    };
    let differs = |configured: &Option<String>, found: &str| configured.as_deref().is_some_and(|c| c != found);
    let mut found = Vec::new();
    if differs(&config.facility_id, &identity.facility) {
        let configured = config.facility_id.as_deref().unwrap_or_default();
        found.push(format!("facility id {configured:?} in the configuration, {:?} in the ledger", identity.facility));
    }
    if differs(&config.appliance_id, &identity.appliance) {
        let configured = config.appliance_id.as_deref().unwrap_or_default();
        found.push(format!("appliance id {configured:?} in the configuration, {:?} in the ledger", identity.appliance));
    }
    (!found.is_empty())
        .then(|| format!("the ledger {} is not this configuration's: {}", identity.origin, found.join("; ")))
}

const RENAMED: &str = "a ledger keeps the facility and appliance ids it was created with, and `tally serve` refuses to run on another: put the ledger's ids back in [facility] id and [appliance] id, or point data_dir at this appliance's own data directory";

const DAMAGED: &str = "the ledger was altered or damaged outside tally: stop the service, keep a copy of the data directory for the inspectorate, and restore the data directory from its latest backup or off-site export";

/// The clock's verdict at `now`, given the latest ledger entry's time.
pub fn clock(now: SystemTime, last_entry: Option<SystemTime>) -> Check {
    const NAME: &str = "clock";
    const FIX: &str = "set the time (`timedatectl set-time` or NTP when a network exists) and check the RTC battery; tally records the correction in the ledger";
    let floor = SystemTime::UNIX_EPOCH + EARLIEST_SANE;
    if now < floor {
        return Check::failed(NAME, format!("the system clock reads {}, before 2025", clock::rfc3339(now)), FIX);
    }
    match last_entry {
        Some(last) if now < last => Check::failed(
            NAME,
            format!(
                "the system clock reads {}, before the latest ledger entry's {}: the clock went backwards",
                clock::rfc3339(now),
                clock::rfc3339(last)
            ),
            FIX,
        ),
        Some(last) => Check::ok(
            NAME,
            format!("{} UTC, after the latest ledger entry ({})", clock::rfc3339(now), clock::rfc3339(last)),
        ),
        None => Check::ok(NAME, format!("{} UTC (no ledger entry to compare with)", clock::rfc3339(now))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn a_clock_before_2025_or_before_the_last_entry_fails() {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let now = t(1_780_000_000);
        assert_eq!(clock(now, None).status, Status::Ok);
        assert_eq!(clock(now, Some(t(1_779_999_999))).status, Status::Ok);
        let back = clock(now, Some(t(1_780_000_100)));
        assert_eq!(back.status, Status::Failed);
        assert!(back.found.contains("went backwards"));
        assert!(back.fix.as_deref().is_some_and(|f| f.contains("RTC battery")));
        assert_eq!(clock(t(1_000_000_000), None).status, Status::Failed);
    }

    #[test]
    fn a_missing_ledger_fails_with_provisioning_as_its_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::parse(Path::new("t.toml"), "").expect("config");
        config.data_dir = dir.path().to_owned();
        let h = check(&config);
        assert_eq!(h.check.status, Status::Failed);
        assert!(h.check.fix.as_deref().is_some_and(|f| f.contains("tally provision")), "{:?}", h.check);
    }
}
