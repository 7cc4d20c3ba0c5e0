//! The driver against real recordings (../shared/data/usb beside the project), replayed strictly:
//! every transfer it makes must be the recorded one, and the image it produces must equal, pixel for
//! pixel, the image the recording produced (`capture.png`). Then the same recordings, altered, must
//! fail clearly.
//!
//! Without the data these tests skip with a message; under CI (`CI=true`) they fail instead.

// Helpers outside #[test] functions unwrap too: a failure here is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use tally_device::{DeviceAddress, ReaderError};
use tally_uru4000::{Uru4000, find};
use tally_usb::{Replay, umockdev, usbmon};

/// The seed the recordings wrote with the key index.
const RECORDED_SEED: u32 = 0x51EA_2124;

fn recording(name: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/usb").join(name);
    if dir.join("capture.pcapng").is_file() {
        return Some(dir);
    }
    let message = format!("the recording {} is missing (../shared/data beside the project)", dir.display());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    None
}

struct Session {
    records: Vec<usbmon::Record>,
    device: umockdev::DeviceFile,
    expected: image::GrayImage,
}

fn load(name: &str) -> Option<Session> {
    let dir = recording(name)?;
    let records = usbmon::parse(&std::fs::read(dir.join("capture.pcapng")).unwrap()).unwrap();
    let device = umockdev::parse(&std::fs::read_to_string(dir.join("device")).unwrap()).unwrap();
    let expected = image::open(dir.join("capture.png")).unwrap().into_luma8();
    Some(Session { records, device, expected })
}

/// Runs one whole session — open, one capture, close — against `records`.
fn run(session: &Session, records: Vec<usbmon::Record>) -> Result<tally_device::Image, String> {
    let model = find(session.device.vendor, session.device.product).expect("a supported device");
    let replay = Replay::new(records, session.device.bus, session.device.device).map_err(|e| e.to_string())?;
    let address = DeviceAddress::Simulated("replay".into());
    let mut reader = Uru4000::open(replay, model, address, Box::new(|| RECORDED_SEED)).map_err(|e| describe(&e))?;
    let image = reader.capture(Duration::from_secs(1)).map_err(|e| describe(&e))?.ok_or("no finger")?;
    let replay = reader.shut_down().map_err(|e| describe(&e))?;
    replay.finish().map_err(|e| e.to_string())?;
    Ok(image)
}

/// The error with its causes, as a user would read them.
fn describe(e: &ReaderError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn assert_same_image(name: &str, image: &tally_device::Image, expected: &image::GrayImage) {
    assert_eq!((image.width, image.height), expected.dimensions(), "{name}: size");
    let differing = image.pixels.iter().zip(expected.as_raw()).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "{name}: {differing} pixels differ from capture.png");
}

#[test]
fn the_4500_recording_replays_to_its_image() {
    let Some(session) = load("uru4000-4500") else { return };
    let image = run(&session, session.records.clone()).unwrap();
    assert_same_image("4500", &image, &session.expected);
}

#[test]
fn the_microsoft_v2_recording_replays_to_its_image() {
    let Some(session) = load("uru4000-msv2") else { return };
    let image = run(&session, session.records.clone()).unwrap();
    assert_same_image("v2", &image, &session.expected);
}

/// Index of the first record matching `pick`.
fn find_record(records: &[usbmon::Record], pick: impl Fn(&usbmon::Record) -> bool) -> usize {
    records.iter().position(pick).expect("the recording has such a record")
}

fn is_mode_write(r: &usbmon::Record, mode: u8) -> bool {
    r.event == usbmon::Event::Submit && r.setup.is_some_and(|s| s[0] == 0x40 && s[2] == 0x4e) && r.data == [mode]
}

fn is_image(r: &usbmon::Record) -> bool {
    r.event == usbmon::Event::Complete && r.endpoint == 0x82
}

#[test]
fn one_altered_byte_of_an_out_payload_fails_naming_the_transfer() {
    let Some(session) = load("uru4000-4500") else { return };
    let mut records = session.records.clone();
    let at = find_record(&records, |r| is_mode_write(r, 0x10));
    records[at].data[0] = 0x11;
    let err = run(&session, records).unwrap_err();
    assert!(err.contains(&format!("capture packet {}", records_number(&session, at))), "{err}");
    assert!(err.contains("payload byte 0 is 0x10 instead of 0x11"), "{err}");
}

fn records_number(session: &Session, at: usize) -> usize {
    session.records[at].number
}

#[test]
fn a_different_seed_is_caught_in_the_key_index_write() {
    let Some(session) = load("uru4000-msv2") else { return };
    let model = find(session.device.vendor, session.device.product).unwrap();
    let replay = Replay::new(session.records.clone(), session.device.bus, session.device.device).unwrap();
    let mut reader =
        Uru4000::open(replay, model, DeviceAddress::Simulated("replay".into()), Box::new(|| 0x1234_5678)).unwrap();
    let err = describe(&reader.capture(Duration::from_secs(1)).unwrap_err());
    assert!(err.contains("value 0x0033"), "{err}");
    assert!(err.contains("payload byte 1 is 0x78 instead of 0x24"), "{err}");
}

#[test]
fn a_capture_cut_short_fails_clearly() {
    let Some(session) = load("uru4000-4500") else { return };
    // Cut after the image arrived: the driver goes on to read the key, which the capture lacks.
    let at = find_record(&session.records, is_image);
    let err = run(&session, session.records[..=at].to_vec()).unwrap_err();
    assert!(err.contains("the capture ends after"), "{err}");
    assert!(err.contains("value 0x0033"), "{err}");

    // Cut before the finger came: the driver waits for it in vain and reports no finger.
    let at = find_record(&session.records, |r| is_mode_write(r, 0x10));
    let err = run(&session, session.records[..at + 2].to_vec()).unwrap_err();
    assert_eq!(err, "no finger");

    // The file itself cut mid-block.
    let dir = recording("uru4000-4500").unwrap();
    let bytes = std::fs::read(dir.join("capture.pcapng")).unwrap();
    let err = usbmon::parse(&bytes[..bytes.len() / 2]).unwrap_err().to_string();
    assert!(err.contains("cut short"), "{err}");
}

#[test]
fn a_driver_that_stops_early_is_caught() {
    let Some(session) = load("uru4000-4500") else { return };
    let model = find(session.device.vendor, session.device.product).unwrap();
    let replay = Replay::new(session.records.clone(), session.device.bus, session.device.device).unwrap();
    let reader =
        Uru4000::open(replay, model, DeviceAddress::Simulated("replay".into()), Box::new(|| RECORDED_SEED)).unwrap();
    // Close without capturing: the replay notices the recorded finger-on and capture never happened.
    let err = reader.shut_down().map(|_| ()).map_err(|e| describe(&e)).unwrap_err();
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn a_stalled_or_vanished_image_transfer_ends_the_session() {
    let Some(session) = load("uru4000-msv2") else { return };
    for (status, expected) in [(-32, "stalled"), (-108, "disconnected")] {
        let mut records = session.records.clone();
        let at = find_record(&records, is_image);
        records[at].status = status;
        records[at].data.clear();
        let err = run(&session, records).unwrap_err();
        assert!(err.contains(expected), "status {status}: {err}");
    }
}

#[test]
fn a_short_frame_fails_the_capture_and_the_device_is_re_armed() {
    let Some(session) = load("uru4000-4500") else { return };
    let mut records = session.records.clone();
    let at = find_record(&records, is_image);
    records[at].data.truncate(40);
    // Without a usable frame the driver reads no key: drop the key exchange from the recording, so
    // what follows is the re-arm (MODE 0x12), finger off and shutdown.
    let key_write = find_record(&records, |r| r.setup.is_some_and(|s| s[2] == 0x33));
    let key_read_done = key_write + 3;
    records.drain(key_write..=key_read_done);
    let model = find(session.device.vendor, session.device.product).unwrap();
    let replay = Replay::new(records, session.device.bus, session.device.device).unwrap();
    let mut reader =
        Uru4000::open(replay, model, DeviceAddress::Simulated("replay".into()), Box::new(|| RECORDED_SEED)).unwrap();
    let err = reader.capture(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, ReaderError::CaptureFailed(_)), "{err}");
    assert!(err.to_string().contains("shorter than its 64-byte header"), "{err}");
    let replay = reader.shut_down().unwrap();
    replay.finish().unwrap();
}

#[test]
fn mutated_recordings_never_panic_the_parser_replay_or_driver() {
    let Some(dir) = recording("uru4000-4500") else { return };
    let original = std::fs::read(dir.join("capture.pcapng")).unwrap();
    // A few bytes changed or the file cut, by a seeded xorshift; the fuzz target does the same with
    // libFuzzer's guidance.
    let mut state: u64 = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x0005_ba0a);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let mut bytes = original.clone();
        for _ in 0..1 + next() % 8 {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes[at] ^= 1 << (next() % 8),
                _ => bytes.truncate(at.max(1)),
            }
        }
        let result = std::panic::catch_unwind(|| tally_uru4000::fuzz_replay(&bytes));
        assert!(result.is_ok(), "round {round} panicked (FUZZ_SEED to reproduce)");
    }
}
