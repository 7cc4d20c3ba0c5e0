//! `tally devices`: the listing an installer reads, and `devices replay`, which runs the U.are.U
//! driver against the real recordings in ../shared/data/usb and must write their images exactly.

use std::path::Path;

use crate::util::{tally, usb_recording};

/// Runs `tally devices replay` on a recording (optionally an altered copy of its capture) and
/// returns (success, stdout, stderr).
fn replay(dir: &Path, capture: &Path, out: &Path) -> (bool, String, String) {
    let data = tempfile::tempdir().expect("temporary directory");
    let output = tally(
        data.path(),
        &[
            "devices",
            "replay",
            capture.to_str().expect("utf-8 path"),
            "--device",
            dir.join("device").to_str().expect("utf-8 path"),
            "-o",
            out.to_str().expect("utf-8 path"),
        ],
    );
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn both_recordings_replay_to_their_images_pixel_for_pixel() {
    for name in ["uru4000-4500", "uru4000-msv2"] {
        let Some(dir) = usb_recording(name) else { return };
        let work = tempfile::tempdir().expect("temporary directory");
        let out = work.path().join("out.png");
        let (ok, stdout, stderr) = replay(&dir, &dir.join("capture.pcapng"), &out);
        assert!(ok, "{name}: {stderr}");
        assert!(stdout.contains("384×290 at 500 dpi"), "{name}: {stdout}");
        let ours = image::open(&out).expect("our PNG decodes").into_luma8();
        let theirs = image::open(dir.join("capture.png")).expect("capture.png decodes").into_luma8();
        assert_eq!(ours.dimensions(), theirs.dimensions(), "{name}");
        let differing = ours.pixels().zip(theirs.pixels()).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 0, "{name}: {differing} pixels differ from capture.png");
    }
}

#[test]
fn an_altered_or_cut_capture_fails_clearly_and_writes_nothing() {
    let Some(dir) = usb_recording("uru4000-msv2") else { return };
    let original = std::fs::read(dir.join("capture.pcapng")).expect("capture");
    let work = tempfile::tempdir().expect("temporary directory");

    // One byte of an OUT payload: the v2's challenge response (packet 18) starts with 0x32 93 51 37.
    let at = original.windows(4).position(|w| w == [0x32, 0x93, 0x51, 0x37]).expect("the recorded response");
    let mut altered = original.clone();
    altered[at] ^= 0x01;
    let capture = work.path().join("altered.pcapng");
    std::fs::write(&capture, &altered).expect("write");
    let out = work.path().join("altered.png");
    let (ok, _, stderr) = replay(&dir, &capture, &out);
    assert!(!ok, "an altered capture replayed");
    assert!(stderr.contains("does not match") && stderr.contains("value 0x2000"), "{stderr}");
    assert!(stderr.contains("payload byte 0 is 0x32 instead of 0x33"), "{stderr}");
    assert!(!out.exists(), "an image was written from a capture that failed");

    // Cut short mid-block, and cut at half its packets.
    let capture = work.path().join("cut.pcapng");
    std::fs::write(&capture, &original[..original.len() - 100]).expect("write");
    let (ok, _, stderr) = replay(&dir, &capture, &out);
    assert!(!ok && stderr.contains("cut short"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_device_no_driver_supports_is_named() {
    let Some(dir) = usb_recording("uru4000-4500") else { return };
    let work = tempfile::tempdir().expect("temporary directory");
    let text = std::fs::read_to_string(dir.join("device")).expect("device file");
    // The same recording claimed by a device of other ids (a keyboard's).
    let other = text.replacen("1201000200000040BA050A00", "12010002000000406D041BC3", 2);
    assert_ne!(other, text, "the descriptors were not where expected");
    let device = work.path().join("device");
    std::fs::write(&device, other).expect("write");
    let data = tempfile::tempdir().expect("temporary directory");
    let output = tally(
        data.path(),
        &[
            "devices",
            "replay",
            dir.join("capture.pcapng").to_str().expect("utf-8"),
            "--device",
            device.to_str().expect("utf-8"),
            "-o",
            work.path().join("x.png").to_str().expect("utf-8"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("046d:c31b, which no tally driver supports"), "{stderr}");
}

#[test]
fn the_listing_says_something_useful_on_a_machine_without_readers() {
    let data = tempfile::tempdir().expect("temporary directory");
    let output = tally(data.path(), &["devices"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("USB fingerprint readers:"), "{stdout}");
    assert!(stdout.contains("Serial ports"), "{stdout}");
    // Either the readers it found, or what it looked for, or why it cannot look.
    assert!(
        stdout.contains("05ba:000a") || stdout.contains("no USB bus") || stdout.contains("cannot list"),
        "{stdout}"
    );
}
