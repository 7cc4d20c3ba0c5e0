//! The driver against the emulator on a pseudo-terminal: handshake, capture, enrolment and search.

use std::time::{Duration, Instant};

use tally_device::{Feedback, Reader, ReaderError};
use tally_grow::command::SearchHit;
use tally_grow::emulator::{AuraState, EmulatorConfig, MATCH_SCORE};
use tally_grow::{Config, GrowError, Module};

use crate::rig::{Rig, every_grey};

#[test]
fn handshake_reads_the_module_parameters() {
    let rig = Rig::factory();
    let module = Module::open(rig.config()).unwrap();
    let params = module.parameters();
    assert_eq!(params.capacity, 200);
    assert_eq!(params.packet_size(), Some(128));
    assert_eq!(params.address, 0xFFFF_FFFF);
    assert_eq!(params.baud_multiplier * 9600, 57_600);
    assert!(format!("{module:?}").contains(&rig.path));
}

#[test]
fn a_wrong_password_is_refused() {
    let rig = Rig::new(EmulatorConfig { password: 0x00C0_FFEE, ..EmulatorConfig::default() });
    let err = Module::open(rig.config()).unwrap_err();
    assert!(matches!(err, GrowError::WrongPassword), "{err:?}");
    assert!(err.to_string().contains("refused the password"), "{err}");
    assert!(ReaderError::from(err).needs_reopen());
    // The right one opens it.
    Module::open(Config { password: 0x00C0_FFEE, ..rig.config() }).unwrap();
}

#[test]
fn capture_returns_the_image_quantised_to_4_bits() {
    let rig = Rig::factory();
    rig.emulator.set_image(every_grey()).unwrap();
    rig.emulator.place_finger();
    let mut module = Module::open(rig.config()).unwrap();
    let image = module.capture(Duration::from_secs(2)).unwrap().expect("the finger is on the sensor");
    assert_eq!((image.width, image.height, image.dpi), (256, 288, 500));
    // (x + 3y) mod 256 cut to its top four bits, times 17.
    assert_eq!(&image.pixels[..4], &[0, 0, 0, 0]);
    assert_eq!(image.pixels[0x10], 17);
    assert_eq!(image.pixels[0x37], 3 * 17);
    assert_eq!(image.pixels[0xFF], 255);
    assert_eq!(image.pixels[256 + 0x3D], 4 * 17, "row 1 starts at grey 3");
    assert!(image.pixels == rig.emulator.quantised_image(), "pixels differ from the emulator's");
}

#[test]
fn one_touch_gives_one_image() {
    let rig = Rig::factory();
    rig.emulator.place_finger();
    let mut module = Module::open(rig.config()).unwrap();
    assert!(module.capture(Duration::from_secs(2)).unwrap().is_some());
    assert!(module.capture(Duration::from_millis(200)).unwrap().is_none(), "the finger never lifted");
    let retouch = rig.retouch_after(Duration::from_millis(100), Duration::from_millis(300));
    assert!(module.capture(Duration::from_secs(2)).unwrap().is_some());
    retouch.join().unwrap();
}

#[test]
fn no_finger_gives_none_after_the_timeout() {
    let rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    let started = Instant::now();
    assert!(module.capture(Duration::from_millis(300)).unwrap().is_none());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(2), "waited {waited:?}");
}

#[test]
fn enrols_and_searches_with_the_module_matcher() {
    let rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    rig.emulator.place_finger();
    let retouch = rig.retouch_after(Duration::from_millis(150), Duration::from_millis(300));
    module.enrol(3, Duration::from_secs(3)).unwrap();
    retouch.join().unwrap();
    assert_eq!(module.template_count().unwrap(), 1);
    assert_eq!(rig.emulator.template_count(), 1);

    let retouch = rig.retouch_after(Duration::from_millis(100), Duration::from_millis(300));
    assert_eq!(module.search(Duration::from_secs(3)).unwrap(), Some(SearchHit { page: 3, score: MATCH_SCORE }));
    retouch.join().unwrap();

    rig.emulator.set_image(every_grey()).unwrap();
    let retouch = rig.retouch_after(Duration::from_millis(100), Duration::from_millis(300));
    assert_eq!(module.search(Duration::from_secs(3)).unwrap(), None, "another finger");
    retouch.join().unwrap();

    module.empty_library().unwrap();
    assert_eq!(module.template_count().unwrap(), 0);
}

#[test]
fn enrolment_refuses_two_different_touches() {
    let rig = Rig::factory();
    let mut module = Module::open(rig.config()).unwrap();
    rig.emulator.place_finger();
    let emulator = rig.emulator.clone();
    let swap = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        emulator.lift_finger();
        emulator.set_image(every_grey()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        emulator.place_finger();
    });
    let err = module.enrol(0, Duration::from_secs(3)).unwrap_err();
    swap.join().unwrap();
    assert!(matches!(err, GrowError::EnrolMismatch), "{err:?}");
    assert_eq!(rig.emulator.template_count(), 0);
}

#[test]
fn feedback_drives_the_r503_ring_light() {
    let rig = Rig::factory();
    let module = Module::open(Config { has_aura_led: true, ..rig.config() }).unwrap();
    let mut reader: Box<dyn Reader> = Box::new(module);
    assert!(reader.info().has_feedback);
    reader.feedback(Feedback::Ready).unwrap();
    assert_eq!(rig.emulator.aura(), Some(AuraState { effect: 1, speed: 100, colour: 2, cycles: 0 }));
    reader.close().unwrap();
    assert_eq!(rig.emulator.aura().map(|a| a.effect), Some(4), "off on close");
}
