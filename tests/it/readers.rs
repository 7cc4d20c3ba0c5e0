//! A lane's reader recovers by itself: a serial fingerprint module (the emulator on a pseudo-terminal,
//! opened by our real serial driver through a stable name, as udev gives one) whose port goes
//! away is reported lost, and is in use again within 2 s of the port coming back.

use std::path::Path;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use tally::gate::openers::SerialModuleOpener;
use tally::gate::reader::{ReaderEvent, ReaderSupervisor, SupervisorConfig};
use tally_grow::emulator::{EmulatorConfig, PtyModule};

/// An emulated module on a fresh pseudo-terminal, reachable at `link` (a symlink, as udev makes
/// /dev/tally/serial-…).
fn plug(link: &Path) -> PtyModule {
    let module = PtyModule::start(EmulatorConfig::default()).expect("an emulated module");
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(module.path(), link).expect("symlink");
    module
}

/// The adapter pulled out: the line hangs up and the name disappears.
fn unplug(module: PtyModule, link: &Path) {
    module.hang_up();
    std::fs::remove_file(link).expect("remove the link");
}

fn next(events: &Receiver<ReaderEvent>, within: Duration) -> ReaderEvent {
    events.recv_timeout(within).expect("a reader event in time")
}

#[test]
fn a_serial_reader_whose_port_vanishes_and_returns_recovers_within_2_s() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let link = dir.path().join("serial-lane1");
    let port = plug(&link);

    let mut config = tally_grow::Config::new(link.to_str().expect("utf-8 path"));
    config.reply_timeout = Duration::from_millis(300);
    config.poll_interval = Duration::from_millis(20);
    let (tx, rx) = channel();
    let timing = SupervisorConfig { retry: Duration::from_millis(500), capture_wait: Duration::from_millis(200) };
    let supervisor = ReaderSupervisor::start(SerialModuleOpener { config }, tx, timing);

    assert!(matches!(next(&rx, Duration::from_secs(5)), ReaderEvent::Connected(_)));
    port.emulator.place_finger();
    match next(&rx, Duration::from_secs(5)) {
        ReaderEvent::Image(image) => assert_eq!((image.width, image.height), (256, 288)),
        other => panic!("expected an image, got {other:?}"),
    }
    port.emulator.lift_finger();

    unplug(port, &link);
    match next(&rx, Duration::from_secs(5)) {
        ReaderEvent::Lost(why) => assert!(why.contains("disconnected") || why.contains("did not answer"), "{why}"),
        other => panic!("expected the reader lost, got {other:?}"),
    }
    // Gone for a while: the supervisor keeps trying without flooding the lane with events.
    std::thread::sleep(Duration::from_millis(1200));
    while let Ok(event) = rx.try_recv() {
        assert!(matches!(event, ReaderEvent::Unavailable(_)), "{event:?}");
    }

    let port = plug(&link);
    let back = Instant::now();
    loop {
        match next(&rx, Duration::from_secs(5)) {
            ReaderEvent::Connected(info) => {
                assert!(info.address.to_string().contains("serial-lane1"), "{}", info.address);
                break;
            }
            ReaderEvent::Unavailable(_) => {}
            other => panic!("expected the reader back, got {other:?}"),
        }
    }
    let took = back.elapsed();
    eprintln!("serial reader back in use {} ms after its port returned", took.as_millis());
    assert!(took < Duration::from_secs(2), "the reader was back in use after {took:?}");
    port.emulator.place_finger();
    assert!(matches!(next(&rx, Duration::from_secs(5)), ReaderEvent::Image(_)));
    supervisor.stop();
}

/// Opens the U.are.U driver on a recorded session: first a session in which the reader is unplugged
/// while the image is on its way (the recorded bulk transfer ends with ESHUTDOWN), then nothing (the
/// reader is out) for `absent` opens, then the intact session.
struct RecordedUsb {
    dir: std::path::PathBuf,
    opens: usize,
    absent: usize,
}

impl tally::gate::reader::Opener for RecordedUsb {
    fn describe(&self) -> String {
        "recorded U.are.U 4500".into()
    }

    fn open(&mut self) -> Result<Box<dyn tally_device::Reader>, tally_device::ReaderError> {
        use tally_usb::{Replay, umockdev, usbmon};
        self.opens += 1;
        let device = umockdev::parse(&std::fs::read_to_string(self.dir.join("device")).expect("device file"))
            .expect("device file parses");
        let mut records =
            usbmon::parse(&std::fs::read(self.dir.join("capture.pcapng")).expect("capture")).expect("capture parses");
        match self.opens {
            1 => {
                let image = records
                    .iter()
                    .position(|r| r.event == usbmon::Event::Complete && r.endpoint == 0x82)
                    .expect("the image transfer");
                records[image].status = -108;
                records[image].data.clear();
            }
            n if n <= 1 + self.absent => return Err(tally_device::ReaderError::Disconnected),
            _ => {}
        }
        let model = tally_uru4000::find(device.vendor, device.product).expect("a supported reader");
        let replay = Replay::new(records, device.bus, device.device).expect("the device is in the capture");
        let address = tally_device::DeviceAddress::Simulated("recorded 4500".into());
        Ok(Box::new(tally_uru4000::Uru4000::open(replay, model, address, Box::new(|| 0x51EA_2124))?))
    }
}

#[test]
fn a_usb_reader_unplugged_mid_capture_is_reported_and_taken_up_again() {
    let Some(dir) = crate::util::usb_recording("uru4000-4500") else { return };
    let (tx, rx) = channel();
    let timing = SupervisorConfig { retry: Duration::from_millis(300), capture_wait: Duration::from_millis(200) };
    let supervisor = ReaderSupervisor::start(RecordedUsb { dir, opens: 0, absent: 2 }, tx, timing);
    assert!(matches!(next(&rx, Duration::from_secs(5)), ReaderEvent::Connected(_)));
    match next(&rx, Duration::from_secs(5)) {
        ReaderEvent::Lost(why) => assert!(why.contains("disconnected"), "{why}"),
        other => panic!("expected the reader lost, got {other:?}"),
    }
    let gone = Instant::now();
    loop {
        match next(&rx, Duration::from_secs(5)) {
            ReaderEvent::Unavailable(_) => {}
            ReaderEvent::Connected(_) => break,
            other => panic!("expected the reader back, got {other:?}"),
        }
    }
    // Two failed opens at the retry pace, then the reader is back.
    eprintln!("USB reader back in use {} ms after it was lost (two absent retries)", gone.elapsed().as_millis());
    assert!(gone.elapsed() < Duration::from_secs(2), "back after {:?}", gone.elapsed());
    match next(&rx, Duration::from_secs(5)) {
        ReaderEvent::Image(image) => assert_eq!((image.width, image.height), (384, 290)),
        other => panic!("expected the recorded image, got {other:?}"),
    }
    supervisor.stop();
}
