//! The bus on a real pseudo-terminal with the Rust PD simulator on the other end: what `tally demo`
//! runs. A pulse, signals, a passage, tamper, a refusal, and opening the port by its path.

use std::time::{Duration, Instant};

use tally_device::{Signal, Turnstile, TurnstileError, TurnstileEvent};
use tally_osdp::message::{NakReason, OutputRecord};
use tally_osdp::pd::SimConfig;
use tally_osdp::pd::pty::PtyPd;
use tally_osdp::{BusConfig, Key, OsdpBus, PdConfig};

fn next_event(events: &std::sync::mpsc::Receiver<(u8, TurnstileEvent)>, want: &TurnstileEvent) {
    let until = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match events.recv_timeout(left) {
            Ok((_, event)) if event == *want => return,
            Ok(other) => seen.push(other),
            Err(_) => break,
        }
    }
    panic!("no {want:?} within 5 s; saw {seen:?}");
}

#[test]
fn the_bus_drives_the_simulator_over_a_pty() {
    let key = Key::new([0x42; 16]);
    let pd = PtyPd::start(vec![SimConfig::secure(3, key.clone())]).unwrap();
    let mut config = BusConfig::new(pd.path(), vec![PdConfig::secure(3, key)]);
    config.baud_rate = 115_200;
    let (bus, events) = OsdpBus::start(config).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while !bus.status(3).is_some_and(|s| s.online) {
        assert!(Instant::now() < until, "not online: {:?}", bus.status(3));
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut turnstile = bus.turnstile(3).unwrap();
    assert!(turnstile.info().identity.unwrap().contains("serial 000003EB"));
    assert!(turnstile.info().name.starts_with("OSDP 3 on /dev/"));

    turnstile.pulse(0, Duration::from_secs(4)).unwrap();
    assert_eq!(pd.handle.outputs(3), [OutputRecord { output: 0, code: 5, timer: 40 }]);
    turnstile.signal(Signal::Denied).unwrap();
    assert_eq!(pd.handle.leds(3).len(), 1);
    assert_eq!(pd.handle.buzzers(3).len(), 1);

    pd.handle.passage(3, 1);
    next_event(&events, &TurnstileEvent::Input { point: 1, active: true });
    next_event(&events, &TurnstileEvent::Input { point: 1, active: false });
    pd.handle.set_tamper(3, true);
    next_event(&events, &TurnstileEvent::Tamper { active: true });

    pd.handle.refuse_commands(3, Some(NakReason::Unable));
    let refused = turnstile.pulse(0, Duration::from_secs(1));
    assert!(matches!(&refused, Err(TurnstileError::Refused(reason)) if reason.contains("NAK 9")), "{refused:?}");
    assert!(bus.turnstile(9).is_err());
}

/// Places a simulated controller at `link`, as udev names an adapter (`/dev/tally/serial-…`).
fn plug(link: &std::path::Path, key: &Key) -> PtyPd {
    let pd = PtyPd::start(vec![SimConfig::secure(1, key.clone())]).unwrap();
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(pd.path(), link).unwrap();
    pd
}

fn wait_online(bus: &OsdpBus, online: bool) -> Duration {
    let start = Instant::now();
    while bus.status(1).is_none_or(|s| s.online != online) {
        assert!(start.elapsed() < Duration::from_secs(15), "online never became {online}: {:?}", bus.status(1));
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn a_resilient_bus_survives_its_adapter_missing_at_start_and_unplugged_later() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("serial-bus");
    let key = Key::new([0x24; 16]);
    let mut config = BusConfig::new(link.to_str().unwrap(), vec![PdConfig::secure(1, key.clone())]);
    config.timing.offline_after = Duration::from_secs(2);
    // Nothing plugged in yet: the bus starts anyway, and its controller is not online.
    let (bus, _events) = OsdpBus::start_resilient(config).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!bus.status(1).is_some_and(|s| s.online));

    // Plugged in: found within the reopen interval.
    let pd = plug(&link, &key);
    let took = wait_online(&bus, true);
    assert!(took < Duration::from_secs(3), "online {took:?} after the adapter appeared");

    // Unplugged: offline; plugged back: online again, the secure channel run anew.
    drop(pd);
    std::fs::remove_file(&link).unwrap();
    wait_online(&bus, false);
    let pd = plug(&link, &key);
    let took = wait_online(&bus, true);
    assert!(took < Duration::from_secs(3), "online {took:?} after the adapter came back");
    assert!(bus.status(1).unwrap().secure);
    let mut turnstile = bus.turnstile(1).unwrap();
    turnstile.pulse(0, Duration::from_secs(1)).unwrap();
    assert_eq!(pd.handle.outputs(1).len(), 1);
}
