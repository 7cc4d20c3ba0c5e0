//! A whole appliance in the test process, as `tally serve` puts it together (`tally::app::start`):
//! ledger, writer, vault, gallery, census, policy, lanes with simulated readers, and the API on
//! 127.0.0.1:0 — with two OSDP controllers simulated on one pseudo-terminal (the real ACU code path)
//! and each lane's simulated finger in hand. It can be stopped and started again on the same data, as
//! a power cycle would.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use tally::api::{AppState, writer::Writer};
use tally::clock::SystemClock;
use tally::config::Config;
use tally::fingerprint::synth::{ImpressionSettings, Master};
use tally::gate::service::Gate;
use tally::gate::simulated::Finger;
use tally::ledger::Ledger;
use tally::store::{Open, Store};
use tally_device::Image;
use tally_osdp::Key;
use tally_osdp::pd::SimConfig;
use tally_osdp::pd::pty::PtyPd;

use crate::util::{agent, read};

pub const KEY: &str = "00112233445566778899aabbccddeeff";
pub const SEED: u64 = 0x57_0e1;

/// The facility: outside → reception through `gate-in` (controller 1), reception → block-a through
/// `block-in` (controller 2); hard anti-passback; the default access rules.
pub fn config(dir: &Path, port: &str, key_file: &Path) -> Config {
    let text = format!(
        r#"
data_dir = "{dir}"
[facility]
id = "makala"
name = "Makala Central Prison"
[appliance]
id = "gate-1"
[[zone]]
id = "reception"
name = "Reception"
[[zone]]
id = "block-a"
name = "Block A"
[access]
anti_passback = "hard"
[[lane]]
id = "gate-in"
from_zone = "outside"
to_zone = "reception"
reader = "simulated"
turnstile_port = "{port}"
turnstile_address = 1
scbk_file = "{key}"
pulse_ms = 1000
passage_timeout_s = 20
[[lane]]
id = "block-in"
from_zone = "reception"
to_zone = "block-a"
reader = "simulated"
turnstile_port = "{port}"
turnstile_address = 2
scbk_file = "{key}"
pulse_ms = 1000
passage_timeout_s = 20
"#,
        dir = dir.display(),
        key = key_file.display()
    );
    Config::parse(Path::new("test.toml"), &text).expect("the test configuration is valid")
}

/// A running appliance.
pub struct Appliance {
    pub dir: PathBuf,
    pub base: String,
    pub pd: PtyPd,
    gate: Option<Gate>,
    writer: Option<Writer>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Appliance {
    /// Starts on `dir` (creating the ledger the first time) with a fresh controller simulator.
    pub fn start(dir: &Path) -> Appliance {
        let key_file = dir.join("osdp.scbk");
        if !key_file.exists() {
            std::fs::create_dir_all(dir).expect("data dir");
            std::fs::write(&key_file, KEY).expect("key file");
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let key = Key::from_hex(KEY).expect("key");
        let pd = PtyPd::start(vec![SimConfig::secure(1, key.clone()), SimConfig::secure(2, key)]).expect("controllers");
        let config = config(dir, pd.path(), &key_file);
        let clock: Arc<dyn tally::clock::Clock> = Arc::new(SystemClock::new());
        let ledger = match Ledger::open(dir, clock.clone()) {
            Ok(l) => l,
            Err(_) => Ledger::create(dir, "makala", "gate-1", clock.clone()).expect("a ledger"),
        };
        let (writer, writer_thread) = Writer::spawn(ledger, dir.to_path_buf(), clock.clone()).expect("writer");
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("rt");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (base, gate, server) = runtime.block_on(async {
            let (facility, gate) = tally::app::start(&config, clock, &writer).expect("the appliance starts");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let state = AppState::new(writer.clone(), dir.to_path_buf(), Arc::new(facility));
            let server = tokio::spawn(async move {
                let _ = tally::api::serve(listener, state, async move {
                    let _ = stopped.await;
                })
                .await;
            });
            (format!("http://{addr}"), gate, server)
        });
        Appliance {
            dir: dir.to_path_buf(),
            base,
            pd,
            gate,
            writer: Some(writer),
            writer_thread: Some(writer_thread),
            stop: Some(stop),
            server: Some(server),
            runtime: Some(runtime),
        }
    }

    /// A lane's simulated reader.
    pub fn finger(&self, lane: &str) -> &Finger {
        self.gate.as_ref().and_then(|g| g.fingers.get(lane)).expect("the lane has a simulated reader")
    }

    /// Creates a token directly in the store.
    pub fn token(&self, role: &str, name: &str) -> String {
        let mut store = Store::open(&self.dir, Open::MustExist).expect("store");
        let (secret, _) = tally::auth::create(&mut store, name, role, "2026-11-26T00:00:00Z").expect("token");
        secret.expose().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; returns the status and the body as JSON (Null when not JSON).
    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Authorization", format!("Bearer {token}"));
        let bytes = match body {
            Some(b) => {
                req = req.header("Content-Type", "application/json");
                serde_json::to_vec(&b).expect("json")
            }
            None => Vec::new(),
        };
        let (status, text) = read(agent().run(req.body(bytes).expect("request")));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Polls `f` until it returns `Some`, or fails after `secs`.
    pub fn wait<T>(&self, secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops everything, as a clean shutdown does.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let (Some(rt), Some(server)) = (self.runtime.as_ref(), self.server.take()) {
            let _ = rt.block_on(server);
        }
        if let Some(gate) = self.gate.take() {
            gate.stop();
        }
        if let (Some(rt), Some(writer)) = (self.runtime.as_ref(), self.writer.take()) {
            let _ = rt.block_on(writer.shutdown("test"));
        }
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Impression `n` of synthetic finger `finger`, as a reader delivers it.
pub fn touch(finger: u64, n: u64) -> Image {
    let settings = ImpressionSettings { variability: 0.5, ..ImpressionSettings::default() };
    let gray = Master::generate(SEED, finger).impression(n, &settings);
    Image::new(gray.width, gray.height, gray.dpi as u16, gray.pixels).expect("an image")
}

/// The same impression as a base64 PNG, as an enrolment station sends it.
pub fn png_base64(finger: u64, n: u64) -> String {
    let image = touch(finger, n);
    let gray = image::GrayImage::from_raw(image.width, image.height, image.pixels).expect("a grey image");
    let mut png = Vec::new();
    gray.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("PNG");
    base64::engine::general_purpose::STANDARD.encode(png)
}
