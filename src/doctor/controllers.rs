//! The doctor's check that each lane's turnstile controller answers: every bus is opened as the service
//! would open it (same port, speed, addresses and keys), and each controller must come online over the
//! secure channel within the wait. What a controller said it is, or why it did not come online, is the
//! finding; the fix names the wiring, the address, the speed and the key, in the order they go wrong.
//!
//! It owns only the verdicts. The OSDP link is `tally_osdp`'s; the bus is closed again when the check
//! ends, and no output is ever pulsed (freeing a turnstile is `tally turnstile test --pulse`, run by an
//! installer standing at it). A bus needs its port to itself: while `tally serve` holds it, the check says
//! so and skips.

use std::time::{Duration, Instant};

use tally_osdp::{BusConfig, OsdpBus, PdStatus};

use super::Check;
use crate::config::{Config, LaneSetting};

/// How often the buses' states are looked at while waiting.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// One check per lane with a turnstile, after waiting at most `wait` for every controller to come online.
/// Ports named in `unusable` (missing or not openable, already reported by the port check) are skipped.
pub fn check(config: &Config, unusable: &[String], wait: Duration) -> Vec<Check> {
    let mut ports: Vec<&str> = config.lanes.iter().map(|l| l.turnstile_port.as_str()).collect();
    ports.sort_unstable();
    ports.dedup();
    let mut checks = Vec::new();
    let mut buses = Vec::new();
    for port in ports {
        let lanes: Vec<&LaneSetting> = config.lanes.iter().filter(|l| l.turnstile_port == port).collect();
        let name = |lane: &LaneSetting| format!("lane {} turnstile controller", lane.id);
        if unusable.iter().any(|p| p == port) {
            checks.extend(lanes.iter().map(|l| Check::skipped(name(l), format!("{port} is not usable (above)"))));
            continue;
        }
        let pds = match lanes.iter().map(|l| crate::gate::service::pd_config(l)).collect::<Result<Vec<_>, _>>() {
            Ok(pds) => pds,
            Err(e) => {
                let why = format!("its key cannot be read ({e}), see the controller key check above");
                checks.extend(lanes.iter().map(|l| Check::skipped(name(l), why.clone())));
                continue;
            }
        };
        let mut bus_config = BusConfig::new(port, pds);
        bus_config.baud_rate = lanes[0].turnstile_baud;
        match OsdpBus::start(bus_config) {
            // The event channel is not read: the bus's status says all the check needs.
            Ok((bus, _events)) => buses.push((bus, lanes)),
            Err(e) => checks.extend(lanes.iter().map(|l| {
                Check::warning(
                    name(l),
                    format!("cannot open {port}: {e}"),
                    "if `tally serve` is running it holds the port: stop it (systemctl stop tally) to check the controllers, or run `tally doctor --no-controllers`",
                )
            })),
        }
    }
    if buses.is_empty() {
        return checks;
    }
    let deadline = Instant::now() + wait;
    let all_online = |buses: &[(OsdpBus, Vec<&LaneSetting>)]| {
        buses.iter().all(|(bus, lanes)| {
            lanes.iter().all(|l| bus.status(l.turnstile_address).is_some_and(|s| s.online && s.secure))
        })
    };
    while Instant::now() < deadline && !all_online(&buses) {
        std::thread::sleep(LOOK_EVERY);
    }
    for (bus, lanes) in &buses {
        for lane in lanes {
            checks.push(verdict(lane, bus.status(lane.turnstile_address), wait));
        }
    }
    checks
}

/// The verdict on one controller from its state after the wait.
fn verdict(lane: &LaneSetting, status: Option<PdStatus>, wait: Duration) -> Check {
    let name = format!("lane {} turnstile controller", lane.id);
    let (port, address, baud) = (&lane.turnstile_port, lane.turnstile_address, lane.turnstile_baud);
    let alone = format!("`tally turnstile test --port {port} --address {address} --baud {baud}` talks to it alone");
    match status {
        Some(s) if s.online && s.secure => {
            let what = s.identity.map_or_else(|| "a controller".to_owned(), |id| id.to_string());
            let mode = if lane.scbk_file.is_none() { " (install key)" } else { "" };
            Check::ok(name, format!("address {address} on {port} answers over the secure channel{mode}: {what}"))
        }
        Some(s) if s.online => Check::failed(
            name,
            format!("address {address} on {port} answers, but not over the secure channel"),
            format!("the lane refuses a controller without the secure channel: check its key (scbk_file); {alone}"),
        ),
        Some(PdStatus { problem: Some(problem), .. }) => Check::failed(
            name,
            format!("address {address} on {port} refused: {problem}"),
            format!(
                "a refused secure channel means the key in scbk_file is not the controller's: set the controller's key again (turnstile_install_mode) or restore the key file; {alone}"
            ),
        ),
        _ => Check::failed(
            name,
            format!("no answer from address {address} on {port} at {baud} baud within {} s", wait.as_secs()),
            format!(
                "check the controller's power, the RS-485 wiring (A to A, B to B, termination), its OSDP address ({address}) and speed ({baud} baud); {alone}"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn lane() -> LaneSetting {
        let config = Config::parse(
            std::path::Path::new("t.toml"),
            "[[lane]]\nid = \"a\"\nfrom_zone = \"outside\"\nto_zone = \"r\"\nreader = \"simulated\"\n\
             turnstile_port = \"/dev/ttyX\"\nturnstile_address = 3\nturnstile_install_mode = true\n",
        )
        .expect("config");
        config.lanes[0].clone()
    }

    fn status(online: bool, secure: bool, problem: Option<&str>) -> PdStatus {
        PdStatus {
            address: 3,
            online,
            secure,
            identity: None,
            capabilities: Vec::new(),
            problem: problem.map(Into::into),
        }
    }

    #[test]
    fn each_state_of_a_controller_has_its_verdict_and_fix() {
        let wait = Duration::from_secs(5);
        let ok = verdict(&lane(), Some(status(true, true, None)), wait);
        assert_eq!(ok.status, Status::Ok, "{ok:?}");
        assert!(ok.found.contains("install key"), "{ok:?}");
        let clear = verdict(&lane(), Some(status(true, false, None)), wait);
        assert_eq!(clear.status, Status::Failed);
        assert!(clear.fix.as_deref().is_some_and(|f| f.contains("scbk_file")));
        let refused = verdict(&lane(), Some(status(false, false, Some("cryptogram mismatch"))), wait);
        assert!(refused.found.contains("cryptogram mismatch"), "{refused:?}");
        let silent = verdict(&lane(), None, wait);
        assert_eq!(silent.status, Status::Failed);
        assert!(silent.found.contains("within 5 s"), "{silent:?}");
        let fix = silent.fix.expect("a fix");
        assert!(fix.contains("RS-485 wiring") && fix.contains("--address 3"), "{fix}");
    }
}
