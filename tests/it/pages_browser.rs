//! The pages in a real browser: headless Chromium (Debian's `chromium`) driven by playwright-core from
//! `tests/browser/pages.mjs`, against a whole appliance in this process with simulated readers and OSDP
//! controllers. The script walks the main stories — a scan appears on the gate screen (name, ✓ and the
//! word), a refusal shows ✗ and the reason, an override is refused without a second officer and taken
//! with one, a roll-call finds the missing person and is closed with a remark and signed, the headcount
//! board, people search and enrolment (poor capture, possible duplicate, a good finger), the ledger page
//! and its export, French — and saves screenshots under `target/screenshots/`.
//!
//! When the appliance must act, the script prints `DO <action>` and waits; this side touches a reader
//! with a synthetic finger or trips a turnstile's passage sensor, then answers `done`. The export the
//! script downloads is unpacked and verified here afterwards.
//!
//! Needs node, `npm ci --prefix tests/browser` and `/usr/bin/chromium` (`tests/run` installs them);
//! without them the test is skipped, and fails under CI.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::appliance::{Appliance, png_base64, touch};
use crate::util::{skip, tally};

/// What the browser stories need: node, the installed playwright-core, and a Chromium.
struct Tools {
    node: PathBuf,
    chromium: PathBuf,
    script: PathBuf,
}

fn tools() -> Option<Tools> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/pages.mjs");
    let node = std::env::var_os("NODE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("node"));
    let has_node = Command::new(&node).arg("--version").output().is_ok_and(|o| o.status.success());
    if !has_node {
        return skip("node is not installed: install Debian's nodejs and npm (tests/run does)");
    }
    if !root.join("tests/browser/node_modules/playwright-core/package.json").is_file() {
        return skip("playwright-core is not installed: run `npm ci --prefix tests/browser` (tests/run does)");
    }
    let chromium =
        std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        return skip(&format!("{} not found: install Debian's chromium (tests/run does)", chromium.display()));
    }
    Some(Tools { node, chromium, script })
}

/// A small grey PNG standing for a photo, base64.
fn photo_png() -> String {
    let img = image::RgbImage::from_fn(120, 144, |x, y| {
        let face = (x as i32 - 60).pow(2) * 4 + (y as i32 - 60).pow(2) * 3 < 45 * 45 * 4;
        if face { image::Rgb([196, 160, 130]) } else { image::Rgb([70, 90, 120]) }
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("PNG");
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png)
}

fn write_png(path: &Path, b64: &str) {
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).expect("base64");
    std::fs::write(path, bytes).expect("write a PNG");
}

/// The appliance's side of the stories.
struct Hands<'a> {
    a: &'a Appliance,
    guard: String,
    impressions: u64,
}

impl Hands<'_> {
    /// Waits until gate-in has released its turnstile (controller 1), then walks someone through it.
    fn pass(&mut self) {
        self.a.wait(30, "the turnstile to be released", || {
            let lane = self.a.call("GET", "/api/v1/lanes/gate-in", &self.guard, None).1;
            (lane["phase"] == "awaiting_passage").then_some(())
        });
        self.a.pd.handle.passage(1, 0);
    }

    /// Touches gate-in's reader with `finger` (a fresh impression each time).
    fn touch(&mut self, finger: u64) {
        self.impressions += 1;
        self.a.finger("gate-in").touch(touch(finger, self.impressions));
    }

    fn zone_of(&self, id: &str) -> serde_json::Value {
        self.a.call("GET", &format!("/api/v1/people/{id}"), &self.guard, None).1["zone"].clone()
    }

    fn act(&mut self, action: &str) {
        match action {
            "scan P-1" => {
                self.touch(0);
                self.pass();
                self.a.wait(20, "P-1 in reception", || (self.zone_of("P-1") == json!("reception")).then_some(()));
            }
            "refuse P-1" => {
                let before = self.a.call("GET", "/api/v1/lanes/gate-in", &self.guard, None).1["last"].clone();
                self.touch(0);
                self.a.wait(30, "the refusal", || {
                    let now = self.a.call("GET", "/api/v1/lanes/gate-in", &self.guard, None).1;
                    (now["last"] != before && now["phase"] == "idle").then_some(())
                });
            }
            "pass gate-in" => {
                self.pass();
                self.a.wait(20, "P-2 in reception", || (self.zone_of("P-2") == json!("reception")).then_some(()));
            }
            other => panic!("the browser script asked for an unknown action {other:?}"),
        }
    }
}

#[test]
fn pages_walk_the_main_stories_in_a_real_browser() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(&dir.path().join("data"));
    let enroller = a.token("enroller", "enrol.1");
    let tokens = json!({
        "guard": a.token("guard", "guard.1"),
        "guard2": a.token("guard", "guard.2"),
        "supervisor": a.token("supervisor", "sup.1"),
        "enroller": enroller,
        "auditor": a.token("auditor", "audit.1"),
    });
    // Three inmates enrolled and outside; a fourth, just registered, to enrol in the browser.
    for (id, given, family) in
        [("P-1", "Jean", "Mbuyi"), ("P-2", "Jean", "Kabongo"), ("P-3", "Paul", "Ilunga"), ("P-4", "Marie", "Tshiala")]
    {
        let body = json!({"id": id, "category": "inmate", "given_names": given, "family_name": family});
        let (status, reply) = a.call("POST", "/api/v1/people", &enroller, Some(body));
        assert_eq!(status, 201, "{reply}");
    }
    for (id, finger) in [("P-1", 0), ("P-2", 1), ("P-3", 2)] {
        let body = json!({"finger": 2, "image": png_base64(finger, 0)});
        let (status, reply) = a.call("POST", &format!("/api/v1/people/{id}/fingers"), &enroller, Some(body));
        assert_eq!(status, 201, "{id}: {reply}");
    }
    for id in ["P-1", "P-2"] {
        let (status, reply) =
            a.call("PUT", &format!("/api/v1/people/{id}/photo"), &enroller, Some(json!({"image": photo_png()})));
        assert_eq!(status, 204, "{reply}");
    }
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    let blank = {
        let img = image::GrayImage::from_pixel(300, 300, image::Luma([200]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("png");
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png)
    };
    write_png(&files.join("blank.png"), &blank);
    write_png(&files.join("duplicate.png"), &png_base64(0, 1));
    write_png(&files.join("good.png"), &png_base64(7, 0));
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots dir");

    let mut child = Command::new(&tools.node)
        .arg(&tools.script)
        .env("TALLY_BASE", &a.base)
        .env("TALLY_TOKENS", tokens.to_string())
        .env("TALLY_FILES", &files)
        .env("TALLY_SCREENSHOTS", &shots)
        .env("CHROMIUM", &tools.chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let mut to_script = child.stdin.take().expect("stdin");
    let from_script = BufReader::new(child.stdout.take().expect("stdout"));
    let mut hands = Hands { a: &a, guard: tokens["guard"].as_str().expect("guard").to_string(), impressions: 1 };
    let mut steps = Vec::new();
    let mut passed = false;
    for line in from_script.lines() {
        let line = line.expect("the script's output");
        if let Some(action) = line.strip_prefix("DO ") {
            hands.act(action);
            writeln!(to_script, "done").expect("answer the script");
        } else if let Some(step) = line.strip_prefix("STEP ") {
            eprintln!("browser: {step}");
            steps.push(step.to_string());
        } else if line == "PASS" {
            passed = true;
        } else {
            eprintln!("browser: {line}");
        }
    }
    let status = child.wait().expect("node exits");
    assert!(passed && status.success(), "the browser stories failed after step {:?} ({status})", steps.last());
    eprintln!("screenshots in {}", shots.display());
    for name in [
        "login",
        "gate-granted",
        "gate-refused",
        "override-refused",
        "gate-override",
        "gate-fr",
        "rollcall-missing",
        "headcount",
        "enrol-duplicate",
        "ledger",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "screenshot {name}.png");
    }

    // The export the auditor downloaded verifies once unpacked.
    let out = dir.path().join("unpacked");
    std::fs::create_dir_all(&out).expect("mkdir");
    let untar = Command::new("tar").arg("-xf").arg(files.join("export.tar")).arg("-C").arg(&out).status();
    assert!(untar.expect("run tar").success());
    let export = std::fs::read_dir(&out).expect("unpacked").next().expect("a directory").expect("entry").path();
    let verified = tally(&dir.path().join("elsewhere"), &["ledger", "verify", &export.to_string_lossy()]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
}
