//! What the driver does when the line misbehaves: a corrupted reply, garbage, silence, a closed port.

use std::time::Duration;

use tally_device::{Reader, ReaderError};
use tally_grow::{GrowError, Module};

use crate::rig::Rig;

#[test]
fn a_corrupted_reply_fails_clearly_and_the_next_command_works() {
    let rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    rig.emulator.corrupt_next_checksum();
    let err = module.template_count().unwrap_err();
    assert!(matches!(err, GrowError::Corrupted { command: "TemplateCount", .. }), "{err:?}");
    let reader_err = ReaderError::from(err);
    assert!(reader_err.to_string().contains("bad checksum"), "{reader_err}");
    assert!(!reader_err.needs_reopen());
    assert_eq!(module.template_count().unwrap(), 0);
}

#[test]
fn a_corrupted_reply_fails_that_capture_only() {
    let rig = Rig::factory();
    rig.emulator.place_finger();
    let mut module = Module::open(rig.config()).unwrap();
    // The next reply is GenImg's: the capture fails there, and the next one works.
    rig.emulator.corrupt_next_checksum();
    let err = module.capture(Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, ReaderError::CaptureFailed(_)), "{err:?}");
    assert!(module.capture(Duration::from_secs(2)).unwrap().is_some());
}

#[test]
fn garbage_before_a_reply_is_skipped() {
    let rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    rig.emulator.garbage_before_next_reply(vec![0x00, 0x55, 0xEF, 0x01, 0xFF, 0x13]);
    assert_eq!(module.template_count().unwrap(), 0);
}

#[test]
fn a_reply_swallowed_by_garbage_is_asked_for_again() {
    let rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    // A false header announcing 64 bytes swallows the real reply; the driver sends the command again.
    rig.emulator.garbage_before_next_reply(vec![0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x40]);
    assert_eq!(module.template_count().unwrap(), 0);
}

#[test]
fn a_silent_module_times_out() {
    let rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    rig.emulator.ignore_next_command();
    let err = module.template_count().unwrap_err();
    assert!(matches!(err, GrowError::Timeout { command: "TemplateCount", .. }), "{err:?}");
    assert!(matches!(ReaderError::from(err), ReaderError::Timeout(d) if d == Duration::from_millis(300)));
    assert_eq!(module.template_count().unwrap(), 0, "the next command works");
}

#[test]
fn a_closed_port_is_a_disconnection() {
    let mut rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    rig.close_master();
    let err = module.capture(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, ReaderError::Disconnected), "{err:?}");
    assert!(err.needs_reopen());
}

#[test]
fn a_missing_port_is_a_disconnection() {
    let rig = Rig::factory();
    let config = tally_grow::Config { path: "/dev/tally-no-such-module".into(), ..rig.config() };
    let err = ReaderError::from(Module::open(config).unwrap_err());
    assert!(matches!(err, ReaderError::Disconnected), "{err:?}");
}
