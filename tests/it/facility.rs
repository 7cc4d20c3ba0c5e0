//! A facility of gates: three real `tally serve` processes on 127.0.0.1, each listing the other two as
//! peers through a TCP proxy per link that the test cuts and restores, so a partition is real at the
//! network level. Traffic at each → the same facility headcount everywhere; one partitioned, traffic on
//! both sides, healed → the same again and no entry stored twice; one stopped and restarted → it catches
//! up; one restored from an old copy of its data → the others record `peer_rollback`. A fourth log
//! (gate-9), served by real processes from diverging copies of one data directory behind a proxy the
//! test re-points, shows gate-1 a fork (`peer_fork`) and then a checkpoint its pinned key did not sign
//! (`peer_bad_signature`); showing gate-2 the other copy meanwhile is a split view, which gate-1 finds in
//! the checkpoints gate-2 relays (`peer_split_view`, raised against gate-9, whose key signed both heads).
//! The cosignatures the appliances give each other are checked by an independent
//! Ed25519 implementation (Python's `cryptography`).

use std::io::{BufRead as _, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{agent, tally_bin, tally_ok};

/// A TCP proxy for one link; the test points it at an address, or cuts it (refusing new connections and
/// closing those open).
struct Proxy {
    port: u16,
    target: Arc<Mutex<Option<SocketAddr>>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: Option<SocketAddr>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let target = Arc::new(Mutex::new(target));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (t, o) = (target.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Some(addr) = *t.lock().expect("proxy lock") else { continue };
                let Ok(server) = TcpStream::connect(addr) else { continue };
                let pair = [client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone()];
                let [Ok(c1), Ok(s1), Ok(c2), Ok(s2)] = pair else { continue };
                o.lock().expect("proxy lock").extend([client, server]);
                for (mut from, mut to) in [(c1, s1), (s2, c2)] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, target, open }
    }

    fn point(&self, to: Option<SocketAddr>) {
        *self.target.lock().expect("proxy lock") = to;
        for s in self.open.lock().expect("proxy lock").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn cut(&self) {
        self.point(None);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One appliance: its directory, configuration, port, tokens and process.
struct Node {
    id: String,
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    supervisor: String,
    enroller: String,
    vkey: String,
    witness: String,
    child: Option<Child>,
}

const ZONES: &str =
    "[[zone]]\nid = \"reception\"\nname = \"Reception\"\n[[zone]]\nid = \"block-a\"\nname = \"Block A\"\n";

fn base_config(id: &str, dir: &Path, port: u16) -> String {
    format!(
        "data_dir = \"{}\"\n[facility]\nid = \"makala\"\n[appliance]\nid = \"{id}\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n[peers]\nsync_every_s = 1\n{ZONES}",
        dir.join("data").display()
    )
}

fn cli(config: &Path, args: &[&str]) -> String {
    let out = Command::new(tally_bin()).arg("--config").arg(config).args(args).env("TALLY_LOG", "warn").output();
    let out = out.expect("run tally");
    assert!(out.status.success(), "tally {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `vkey …` and `witness …` as `tally ledger peer-keys` prints them.
fn peer_keys(config: &Path) -> (String, String) {
    let out = cli(config, &["ledger", "peer-keys"]);
    let get = |p: &str| out.lines().find_map(|l| l.strip_prefix(p)).expect("a key line").trim().to_owned();
    (get("vkey "), get("witness "))
}

impl Node {
    fn init(root: &Path, id: &str) -> Node {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).expect("facility test step");
        let port = free_port();
        let config = dir.join("tally.toml");
        std::fs::write(&config, base_config(id, &dir, port)).expect("facility test step");
        cli(&config, &["ledger", "init"]);
        let (vkey, witness) = peer_keys(&config);
        let token = |role: &str| cli(&config, &["tokens", "create", "--role", role, "--name", role]).trim().to_owned();
        let (supervisor, enroller) = (token("supervisor"), token("enroller"));
        Node { id: id.into(), dir, config, port, supervisor, enroller, vkey, witness, child: None }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Issues `holder` a `peer` token and writes it to a file of the holder's (mode 0600).
    fn issue_peer_token(&self, holder: &Node) -> PathBuf {
        let secret =
            cli(&self.config, &["tokens", "create", "--role", "peer", "--name", &format!("peer-{}", holder.id)]);
        let file = holder.dir.join(format!("peer-{}.token", self.id));
        std::fs::write(&file, secret.trim()).expect("facility test step");
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("facility test step");
        file
    }

    fn add_peer(&self, peer_id: &str, port: u16, vkey: &str, witness: &str, token_file: &Path) {
        let entry = format!(
            "[[peer]]\nid = \"{peer_id}\"\nurl = \"http://127.0.0.1:{port}\"\nvkey = \"{vkey}\"\nwitness = \"{witness}\"\ntoken_file = \"{}\"\n",
            token_file.display()
        );
        let mut text = std::fs::read_to_string(&self.config).expect("facility test step");
        text.push_str(&entry);
        std::fs::write(&self.config, text).expect("facility test step");
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("serve.log"))
            .expect("facility test step");
        let mut child = Command::new(tally_bin())
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("TALLY_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn tally serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("facility test step"))
            .read_line(&mut line)
            .expect("facility test step");
        assert!(line.starts_with("listening on "), "{}: {line:?}", self.id);
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = rustix::process::Pid::from_child(&c);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            assert!(c.wait().expect("facility test step").success(), "{} stops cleanly", self.id);
        }
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let auth = format!("Bearer {token}");
        let resp = match body {
            None => agent().get(&url).header("Authorization", &auth).call(),
            Some(b) => agent()
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b.to_string().as_bytes()),
        };
        let _ = method;
        let mut r = resp.expect("HTTP request");
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn register(&self, person: &str, category: &str, zone: &str) {
        let body =
            json!({"id": person, "category": category, "given_names": "Jean", "family_name": "Kabila", "zone": zone});
        let (status, reply) = self.call("POST", "/api/v1/people", &self.enroller, Some(body));
        assert_eq!(status, 201, "{}: {reply}", self.id);
    }

    fn release(&self, person: &str) {
        let body = json!({"status": "released", "reason": "end of sentence"});
        let (status, reply) =
            self.call("POST", &format!("/api/v1/people/{person}/status"), &self.supervisor, Some(body));
        assert_eq!(status, 200, "{}: {reply}", self.id);
    }

    fn size(&self) -> u64 {
        let (_, cp) = self.call("GET", "/api/v1/ledger/checkpoint", &self.supervisor, None);
        cp.as_str().and_then(|t| t.lines().nth(1)).and_then(|s| s.parse().ok()).expect("a checkpoint")
    }

    fn checkpoint(&self) -> String {
        let (_, cp) = self.call("GET", "/api/v1/ledger/checkpoint", &self.supervisor, None);
        cp.as_str().expect("checkpoint text").to_owned()
    }

    fn facility(&self) -> Value {
        let (status, v) = self.call("GET", "/api/v1/facility/headcount", &self.supervisor, None);
        assert_eq!(status, 200, "{v}");
        v
    }

    fn alarms(&self) -> Vec<(String, String)> {
        let (_, v) = self.call("GET", "/api/v1/alarms", &self.supervisor, None);
        let list = v.get("alarms").and_then(Value::as_array).or_else(|| v.as_array()).cloned().unwrap_or_default();
        list.iter()
            .map(|a| (a["code"].as_str().unwrap_or("").into(), a["source"].as_str().unwrap_or("").into()))
            .collect()
    }

    /// Rows of `origin`'s entries stored here.
    fn rows_of(&self, origin: &str) -> u64 {
        let store = tally::store::Store::open(&self.data(), tally::store::Open::MustExist).expect("facility test step");
        store.peer_entry_count(origin).expect("facility test step")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The headcount part of a facility view (without the per-appliance state).
fn count(v: &Value) -> Value {
    json!({"inside": v["inside"], "zones": v["zones"], "categories": v["categories"]})
}

/// Waits until every node holds every other's whole log and all show the same headcount; returns it.
fn converged(nodes: &[&Node], what: &str) -> Value {
    wait(90, what, || {
        let sizes: Vec<(String, u64)> = nodes.iter().map(|n| (format!("makala/{}", n.id), n.size())).collect();
        let views: Vec<Value> = nodes.iter().map(|n| n.facility()).collect();
        for v in &views {
            for a in v["appliances"].as_array()? {
                if let Some((_, size)) = sizes.iter().find(|(o, _)| a["origin"] == json!(o))
                    && a["size"] != json!(size)
                {
                    return None;
                }
            }
        }
        let first = count(&views[0]);
        views.iter().all(|v| count(v) == first).then_some(first)
    })
}

fn zone_total(count: &Value, zone: &str) -> u64 {
    count["zones"]
        .as_array()
        .expect("facility test step")
        .iter()
        .find(|z| z["zone"] == zone)
        .map_or(0, |z| z["total"].as_u64().expect("facility test step"))
}

#[test]
fn three_gates_share_one_headcount_and_catch_rollback_fork_forgery_and_split_view() {
    let root = tempfile::tempdir().expect("facility test step");
    let mut nodes: Vec<Node> = ["gate-1", "gate-2", "gate-3"].iter().map(|id| Node::init(root.path(), id)).collect();
    // proxies[i][j]: the link node i pulls node j through.
    let mut proxies: Vec<Vec<Option<Proxy>>> = Vec::new();
    for i in 0..3 {
        let mut row = Vec::new();
        for j in 0..3 {
            if i == j {
                row.push(None);
                continue;
            }
            let proxy = Proxy::start(Some(addr(nodes[j].port)));
            let token = nodes[j].issue_peer_token(&nodes[i]);
            nodes[i].add_peer(&nodes[j].id, proxy.port, &nodes[j].vkey, &nodes[j].witness, &token);
            row.push(Some(proxy));
        }
        proxies.push(row);
    }
    let link = |i: usize, j: usize| proxies[i][j].as_ref().expect("facility test step");

    // gate-9: one log, three data directories — 9a and 9b copies of one ledger that will diverge
    // (a fork), 9f the same ledger whose key was replaced (its checkpoints no longer verify with the
    // pinned key). Only gate-1 lists it, through a proxy the test re-points.
    let g9 = Node::init(root.path(), "gate-9");
    let g9_token = g9.issue_peer_token(&nodes[0]);
    let g9_token_2 = g9.issue_peer_token(&nodes[1]);
    let copy = |to: &str| {
        let dir = root.path().join(to);
        std::fs::create_dir_all(&dir).expect("facility test step");
        copy_dir(&g9.data(), &dir.join("data"));
        let port = free_port();
        let config = dir.join("tally.toml");
        std::fs::write(&config, base_config("gate-9", &dir, port)).expect("facility test step");
        let mut n = clone_tokens(&g9);
        (n.dir, n.config, n.port) = (dir, config, port);
        n
    };
    let (mut g9a, mut g9b, mut g9f) = (copy("gate-9a"), copy("gate-9b"), copy("gate-9f"));
    cli(&g9f.config, &["ledger", "rotate-key"]);
    let g9_proxy = Proxy::start(Some(addr(g9a.port)));
    nodes[0].add_peer("gate-9", g9_proxy.port, &g9.vkey, &g9.witness, &g9_token);
    // gate-2 also lists gate-9, and is shown the other copy: a split view, which gate-1 finds in the
    // checkpoints gate-2 holds of the facility (gossip).
    let g9_proxy_2 = Proxy::start(Some(addr(g9b.port)));
    nodes[1].add_peer("gate-9", g9_proxy_2.port, &g9.vkey, &g9.witness, &g9_token_2);
    for n in [&mut g9a, &mut g9b, &mut g9f] {
        n.start();
    }
    for n in nodes.iter_mut() {
        n.start();
    }

    // Traffic at each gate.
    nodes[0].register("P-1", "inmate", "reception");
    nodes[0].register("P-2", "inmate", "block-a");
    nodes[1].register("P-3", "inmate", "block-a");
    nodes[1].register("S-1", "staff", "reception");
    nodes[2].register("P-4", "inmate", "reception");
    nodes[2].release("P-4");
    let c = converged(&[&nodes[0], &nodes[1], &nodes[2]], "the first traffic to reach every gate");
    assert_eq!(c["inside"], 4, "{c}");
    assert_eq!((zone_total(&c, "reception"), zone_total(&c, "block-a")), (2, 2), "{c}");
    assert_eq!(c["categories"], json!({"inmate": 3, "staff": 1}), "{c}");

    // Cosignatures: each gate's checkpoint carries the other two's, and they verify independently.
    let cp = wait(30, "gate-2's checkpoint to carry two cosignatures", || {
        let cp = nodes[1].checkpoint();
        (cp.matches("/witness ").count() == 2).then_some(cp)
    });
    check_cosignatures(&cp, &[&nodes[0].witness, &nodes[2].witness]);
    // The token gate-2 issued gate-1 reads the ledger and gives cosignatures, nothing else; a
    // cosignature by no configured witness, or over another checkpoint, is refused.
    let peer_token = std::fs::read_to_string(nodes[0].dir.join("peer-gate-2.token")).expect("token file");
    let (status, _) = nodes[1].call("GET", "/api/v1/ledger/entries?from=0&limit=1", &peer_token, None);
    assert_eq!(status, 200);
    for path in ["/api/v1/people", "/api/v1/headcount", "/api/v1/facility/headcount"] {
        let (status, _) = nodes[1].call("GET", path, &peer_token, None);
        assert_eq!(status, 403, "{path}");
    }
    let line = cp.lines().find(|l| l.contains("gate-1/witness ")).expect("gate-1's cosignature").to_owned();
    let size: u64 = cp.lines().nth(1).and_then(|s| s.parse().ok()).expect("size");
    let (status, reply) = nodes[1].call(
        "POST",
        "/api/v1/ledger/cosignatures",
        &peer_token,
        Some(json!({"size": size - 1, "cosignature": line})),
    );
    assert_eq!((status, reply["error"].as_str()), (400, Some("invalid_cosignature")), "{reply}");
    let forged = line.replacen("gate-1/witness", "gate-7/witness", 1);
    let (status, _) = nodes[1].call(
        "POST",
        "/api/v1/ledger/cosignatures",
        &peer_token,
        Some(json!({"size": size, "cosignature": forged})),
    );
    assert_eq!(status, 400);
    let (status, _) = nodes[1].call(
        "POST",
        "/api/v1/ledger/cosignatures",
        &nodes[1].supervisor,
        Some(json!({"size": size, "cosignature": line})),
    );
    assert_eq!(status, 403, "only peers give cosignatures");

    // Partition gate-3 from the others; traffic on both sides; each keeps working alone.
    for (i, j) in [(0, 2), (1, 2), (2, 0), (2, 1)] {
        link(i, j).cut();
    }
    nodes[0].register("P-5", "inmate", "reception");
    nodes[2].register("P-6", "inmate", "block-a");
    nodes[2].register("V-1", "visitor", "reception");
    let (status, local) = nodes[2].call("GET", "/api/v1/headcount", &nodes[2].supervisor, None);
    assert_eq!((status, local["inside"].as_u64()), (200, Some(2)), "gate-3 counts its own: {local}");
    std::thread::sleep(Duration::from_secs(3));
    let cut_off = nodes[0].facility();
    assert_eq!(count(&cut_off)["inside"], 5, "gate-1 sees its side only: {cut_off}");
    let g3 = cut_off["appliances"]
        .as_array()
        .expect("facility test step")
        .iter()
        .find(|a| a["appliance"] == "gate-3")
        .expect("facility test step")
        .clone();
    assert!(g3["last_error"].is_string(), "gate-3 unreachable from gate-1: {g3}");

    // Heal: the same headcount everywhere, and every entry stored once.
    for (i, j) in [(0, 2), (1, 2), (2, 0), (2, 1)] {
        link(i, j).point(Some(addr(nodes[j].port)));
    }
    let c = converged(&[&nodes[0], &nodes[1], &nodes[2]], "the partition to heal");
    assert_eq!(c["inside"], 7, "{c}");
    for (i, j) in [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)] {
        let origin = format!("makala/{}", nodes[j].id);
        assert_eq!(nodes[i].rows_of(&origin), nodes[j].size(), "{} holds {origin} once", nodes[i].id);
    }

    // Stop gate-2, traffic elsewhere, restart it: it catches up.
    nodes[1].stop();
    nodes[0].register("P-7", "inmate", "reception");
    nodes[2].register("P-8", "inmate", "reception");
    nodes[1].start();
    let c = converged(&[&nodes[0], &nodes[1], &nodes[2]], "gate-2 to catch up after its restart");
    assert_eq!(c["inside"], 9, "{c}");

    // gate-9: first a consistent log, then a fork, then a checkpoint signed by another key.
    wait(30, "gate-1 to hold gate-9's log", || (nodes[0].rows_of("makala/gate-9") == g9a.size()).then_some(()));
    assert_eq!(g9a.size(), g9b.size(), "two copies, one entry each since: the same size");
    wait(30, "gate-1 to see gate-9's split view through gate-2", || {
        nodes[0].alarms().contains(&("peer_split_view".into(), "peer:gate-9".into())).then_some(())
    });
    g9_proxy.point(Some(addr(g9b.port)));
    wait(30, "gate-1 to see gate-9's fork", || {
        nodes[0].alarms().contains(&("peer_fork".into(), "peer:gate-9".into())).then_some(())
    });
    g9_proxy.point(Some(addr(g9f.port)));
    wait(30, "gate-1 to see gate-9's forged checkpoint", || {
        nodes[0].alarms().contains(&("peer_bad_signature".into(), "peer:gate-9".into())).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let alarms = nodes[0].alarms();
    // Split view, fork, forgery: each once, against gate-9 (the log that signed them), however many
    // paths led to it (gossip from gate-2, or a relayed head checked after gate-1's own pull).
    assert_eq!(alarms.iter().filter(|a| a.1 == "peer:gate-9").count(), 3, "each evidence once: {alarms:?}");
    assert_eq!(alarms.iter().filter(|a| a.0.starts_with("peer_")).count(), 3, "nothing against the relay: {alarms:?}");
    assert_eq!(nodes[0].rows_of("makala/gate-9"), g9a.size(), "gate-9's good data is kept");

    // Rollback: an old copy of gate-3's data put back after the others saw more.
    nodes[2].stop();
    let old = root.path().join("gate-3-old");
    copy_dir(&nodes[2].data(), &old);
    nodes[2].start();
    for p in ["P-10", "P-11", "P-12"] {
        nodes[2].register(p, "inmate", "reception");
    }
    converged(&[&nodes[0], &nodes[1], &nodes[2]], "gate-3's last traffic to reach the others");
    nodes[2].stop();
    std::fs::remove_dir_all(nodes[2].data()).expect("facility test step");
    std::fs::rename(&old, nodes[2].data()).expect("facility test step");
    nodes[2].start();
    for n in [&nodes[0], &nodes[1]] {
        wait(30, "the rollback to be seen", || {
            n.alarms().contains(&("peer_rollback".into(), "peer:gate-3".into())).then_some(())
        });
        let g3 = n.facility()["appliances"]
            .as_array()
            .expect("facility test step")
            .iter()
            .find(|a| a["appliance"] == "gate-3")
            .cloned();
        let g3 = g3.expect("facility test step");
        assert_eq!(g3["alarms"][0]["code"], "peer_rollback", "{g3}");
        assert!(
            g3["alarms"][0]["detail"].as_str().expect("facility test step").contains("went back from size"),
            "{g3}"
        );
    }
    let (_, a) = nodes[0].call("GET", "/api/v1/ledger/checkpoint", &nodes[0].supervisor, None);
    assert!(a.is_string());
    for n in nodes.iter_mut() {
        n.stop();
    }
}

fn clone_tokens(n: &Node) -> Node {
    Node {
        id: n.id.clone(),
        dir: n.dir.clone(),
        config: n.config.clone(),
        port: n.port,
        supervisor: n.supervisor.clone(),
        enroller: n.enroller.clone(),
        vkey: n.vkey.clone(),
        witness: n.witness.clone(),
        child: None,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("facility test step");
    for e in std::fs::read_dir(from).expect("facility test step") {
        let e = e.expect("facility test step");
        let target = to.join(e.file_name());
        if e.file_type().expect("facility test step").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("facility test step");
        }
    }
}

/// Checks each cosignature line of `note` by a known witness with Python's `cryptography` (an Ed25519
/// implementation that is not ring), rebuilding the cosignature/v1 message from the note's body.
fn check_cosignatures(note: &str, witnesses: &[&String]) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let has = Command::new(&python).args(["-c", "import cryptography"]).output().is_ok_and(|o| o.status.success());
    // The Rust check runs in any case.
    let body = &note[..note.find("\n\n").expect("a signed note") + 1];
    let cp_lines: Vec<&str> = body.lines().collect();
    use base64::Engine as _;
    let root = base64::engine::general_purpose::STANDARD.decode(cp_lines[2]).expect("facility test step");
    let cp = tally::ledger::note::Checkpoint {
        origin: cp_lines[0].into(),
        size: cp_lines[1].parse().expect("facility test step"),
        root: root.try_into().expect("facility test step"),
    };
    let known: Vec<_> = witnesses
        .iter()
        .map(|w| tally::ledger::cosign::WitnessVerifier::parse(w).expect("facility test step"))
        .collect();
    let lines: Vec<&str> = note.lines().filter(|l| l.contains("/witness ")).collect();
    assert_eq!(lines.len(), witnesses.len(), "{note}");
    for l in &lines {
        tally::ledger::cosign::verify(l, &cp, &known).expect("facility test step");
    }
    if !has {
        let _: Option<()> = crate::util::skip("Python's cryptography is not in .venv (tests/run installs it)");
        return;
    }
    let script = r#"
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
note = sys.argv[1]
body = note[:note.index("\n\n") + 1]
keys = {}
for vkey in sys.argv[2:]:
    name, kid, key = vkey.split("+", 2)
    raw = base64.b64decode(key)
    assert raw[0] == 4, "a cosignature/v1 key"
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == kid, "key id"
    keys[(name, kid)] = Ed25519PublicKey.from_public_key_bytes(raw[1:]) if hasattr(Ed25519PublicKey, "from_public_key_bytes") else Ed25519PublicKey.from_public_bytes(raw[1:])
checked = 0
for line in note[len(body) + 1:].splitlines():
    _, name, sig = line.split(" ")
    blob = base64.b64decode(sig)
    key = keys.get((name, blob[:4].hex()))
    if key is None:
        continue
    t = int.from_bytes(blob[4:12], "big")
    key.verify(blob[12:], b"cosignature/v1\ntime %d\n" % t + body.encode())
    checked += 1
print(checked)
"#;
    let mut args: Vec<String> = vec!["-c".into(), script.into(), note.into()];
    args.extend(witnesses.iter().map(|w| w.to_string()));
    let out = Command::new(&python).args(&args).output().expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), witnesses.len().to_string());
}

#[test]
fn peers_are_refused_unless_well_configured() {
    let dir = tempfile::tempdir().expect("facility test step");
    let cfg = dir.path().join("tally.toml");
    let good_vkey = {
        let d = dir.path().join("g");
        let c = d.join("tally.toml");
        std::fs::create_dir_all(&d).expect("facility test step");
        std::fs::write(&c, base_config("gate-2", &d, 1)).expect("facility test step");
        cli(&c, &["ledger", "init"]);
        peer_keys(&c)
    };
    let peer = |extra: &str| {
        format!(
            "[appliance]\nid = \"gate-1\"\n[[peer]]\nid = \"gate-2\"\nurl = \"http://127.0.0.1:9\"\nvkey = \"{}\"\nwitness = \"{}\"\ntoken_file = \"/x/t\"\n{extra}",
            good_vkey.0, good_vkey.1
        )
    };
    let check = |text: String| {
        std::fs::write(&cfg, text).expect("facility test step");
        let out = Command::new(tally_bin())
            .arg("--config")
            .arg(&cfg)
            .args(["ledger", "checkpoint"])
            .output()
            .expect("facility test step");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(check(peer("colour = 1\n")).contains("unknown field `colour`"));
    assert!(check(peer("").replace("http://127.0.0.1:9", "ftp://x")).contains("peer url"));
    assert!(check(peer("").replace(&good_vkey.1, &good_vkey.0)).contains("witness"));
    assert!(check(peer("").replace("id = \"gate-2\"", "id = \"gate-3\"")).contains("not the key of appliance gate-3"));
    assert!(check(peer("[peers]\nsync_every_s = 0\n")).contains("sync_every_s 0"));
    let _ = tally_ok;
}
