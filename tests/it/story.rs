//! The whole story through the API, against a real store, ledger and lanes: register and enrol
//! people (a duplicate and a poor capture refused), pass them through lanes into zones, refuse a
//! passback, count them in a roll-call that loses someone, close the short count with a remark (an
//! alarm), override a finger that will not read (a second officer needed), release someone who is
//! then refused and raises an alarm — then restart and find the same headcount, and verify the
//! ledger with the independent verifier.

use serde_json::{Value, json};

use crate::appliance::{Appliance, png_base64, touch};

struct Tokens {
    enroller: String,
    guard: String,
    guard2: String,
    supervisor: String,
    auditor: String,
}

fn tokens(a: &Appliance) -> Tokens {
    Tokens {
        enroller: a.token("enroller", "enrol.1"),
        guard: a.token("guard", "guard.1"),
        guard2: a.token("guard", "guard.2"),
        supervisor: a.token("supervisor", "sup.1"),
        auditor: a.token("auditor", "audit.1"),
    }
}

fn register(a: &Appliance, t: &Tokens, id: &str, category: &str, family: &str) {
    let body = json!({"id": id, "category": category, "given_names": "Jean", "family_name": family});
    let (status, reply) = a.call("POST", "/api/v1/people", &t.enroller, Some(body));
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["registered"], true);
}

fn enrol(a: &Appliance, t: &Tokens, id: &str, finger: u64) -> (u16, Value) {
    let body = json!({"finger": 2, "image": png_base64(finger, 0)});
    a.call("POST", &format!("/api/v1/people/{id}/fingers"), &t.enroller, Some(body))
}

fn zone_of(a: &Appliance, t: &Tokens, id: &str) -> Value {
    let (status, person) = a.call("GET", &format!("/api/v1/people/{id}"), &t.guard, None);
    assert_eq!(status, 200, "{person}");
    person["zone"].clone()
}

/// Where a passage goes: through `lane` (controller `address`) into `zone`.
struct Through<'a> {
    lane: &'a str,
    address: u8,
    zone: &'a str,
}

const GATE_IN: Through = Through { lane: "gate-in", address: 1, zone: "reception" };
const BLOCK_IN: Through = Through { lane: "block-in", address: 2, zone: "block-a" };

/// Touches the lane's reader with `finger`'s impression `n`; when the controller is pulsed, trips its
/// passage sensor; waits until the census places `id` in the lane's zone.
fn pass(a: &Appliance, t: &Tokens, through: &Through, id: &str, finger: u64, n: u64) {
    let Through { lane, address, zone } = *through;
    let pulses = a.pd.handle.outputs(address).len();
    a.finger(lane).touch(touch(finger, n));
    a.wait(30, "the turnstile to be released", || (a.pd.handle.outputs(address).len() > pulses).then_some(()));
    a.pd.handle.passage(address, 0);
    a.wait(20, "the passage to be folded", || (zone_of(a, t, id) == json!(zone)).then_some(()));
}

/// Touches and waits for the lane's decision to show on its status.
fn refused(a: &Appliance, t: &Tokens, lane: &str, finger: u64, n: u64) -> Value {
    let (_, before) = a.call("GET", &format!("/api/v1/lanes/{lane}"), &t.guard, None);
    a.finger(lane).touch(touch(finger, n));
    a.wait(30, "the lane's decision", || {
        let (_, now) = a.call("GET", &format!("/api/v1/lanes/{lane}"), &t.guard, None);
        (now["last"] != before["last"] && now["phase"] == "idle").then_some(now["last"].clone())
    })
}

fn headcount_without_size(a: &Appliance, t: &Tokens) -> Value {
    let (status, mut count) = a.call("GET", "/api/v1/headcount", &t.supervisor, None);
    assert_eq!(status, 200);
    count.as_object_mut().expect("an object").remove("ledger_size");
    count
}

#[test]
fn enrol_pass_count_lose_someone_override_release_and_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(dir.path());
    let t = tokens(&a);

    // Roles: no token, the wrong role.
    let (status, _) = a.call("GET", "/api/v1/people", "tly_nobody", None);
    assert_eq!(status, 401);
    let (status, _) = a.call("GET", "/api/v1/people", &t.auditor, None);
    assert_eq!(status, 403, "auditors do not read the register");
    let (status, _) = a.call("POST", "/api/v1/people", &t.guard, Some(json!({})));
    assert_eq!(status, 403, "guards do not register people");

    // Registration and enrolment. Inmates 0, 1, 2 and a staff member 3 (synthetic fingers of the same numbers).
    for (id, family) in [("P-1", "Mbuyi"), ("P-2", "Kabongo"), ("P-3", "Ilunga")] {
        register(&a, &t, id, "inmate", family);
    }
    register(&a, &t, "S-1", "staff", "Tshibanda");
    for (id, finger) in [("P-1", 0), ("P-2", 1), ("P-3", 2), ("S-1", 3)] {
        let (status, reply) = enrol(&a, &t, id, finger);
        assert_eq!(status, 201, "{id}: {reply}");
    }
    // S-1's duress finger: it opens as usual and raises a silent alarm. Only staff have one, and only
    // enrolment officers and supervisors see which finger it is.
    let duress = json!({"finger": 7, "image": png_base64(4, 0), "duress": true});
    let (status, reply) = a.call("POST", "/api/v1/people/P-1/fingers", &t.enroller, Some(duress.clone()));
    assert_eq!((status, reply["error"].as_str()), (400, Some("invalid_field")), "inmates have no duress finger");
    let (status, reply) = a.call("POST", "/api/v1/people/S-1/fingers", &t.enroller, Some(duress));
    assert_eq!(status, 201, "{reply}");
    let (_, seen_by_guard) = a.call("GET", "/api/v1/people/S-1", &t.guard, None);
    assert!(seen_by_guard["fingers"].as_array().expect("fingers").iter().all(|f| f.get("duress").is_none()));
    let (_, seen_by_enroller) = a.call("GET", "/api/v1/people/S-1", &t.enroller, None);
    assert_eq!(seen_by_enroller["fingers"][1]["duress"], true);

    // P-1's finger again, under another name: an alias is reported, not enrolled.
    register(&a, &t, "P-9", "inmate", "Alias");
    let (status, reply) = enrol(&a, &t, "P-9", 0);
    assert_eq!(status, 409, "{reply}");
    assert_eq!(reply["error"], "possible_duplicate");
    assert_eq!(reply["detail"]["candidates"][0]["person"], "P-1");
    assert_eq!(reply["detail"]["candidates"][0]["family_name"], "Mbuyi");
    // A capture with no fingerprint: ask again.
    let blank = {
        let img = image::GrayImage::from_pixel(300, 300, image::Luma([200]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("png");
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png)
    };
    let (status, reply) =
        a.call("POST", "/api/v1/people/P-9/fingers", &t.enroller, Some(json!({"finger": 3, "image": blank})));
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"], "poor_quality");

    // Into the facility and on to block A.
    for (id, finger) in [("P-1", 0), ("P-2", 1), ("P-3", 2)] {
        pass(&a, &t, &GATE_IN, id, finger, 2);
    }
    for (id, finger) in [("P-1", 0), ("P-2", 1)] {
        pass(&a, &t, &BLOCK_IN, id, finger, 3);
    }
    // P-1 is in block A: at the outer gate, a passback.
    let last = refused(&a, &t, "gate-in", 0, 4);
    assert_eq!(last, json!({"person": "P-1", "granted": false, "reason": "anti_passback", "method": "fingerprint"}));

    let count = headcount_without_size(&a, &t);
    assert_eq!(count["inside"], 3);
    let zones: Vec<(String, u64)> = count["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .map(|z| (z["zone"].as_str().expect("id").to_owned(), z["inmates"].as_u64().expect("n")))
        .collect();
    assert_eq!(zones, [("reception".to_owned(), 1), ("block-a".to_owned(), 2)], "in the configuration's order");
    let (_, occupants) = a.call("GET", "/api/v1/zones/block-a/occupants", &t.guard, None);
    let names: Vec<&str> = occupants.as_array().expect("list").iter().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!(names, ["MBUYI Jean", "KABONGO Jean"]);

    // Roll-call of both zones; P-2 cannot be found.
    let (status, rc) =
        a.call("POST", "/api/v1/rollcalls", &t.supervisor, Some(json!({"zones": ["block-a", "reception"]})));
    assert_eq!(status, 201, "{rc}");
    assert_eq!(rc["expected"], 3);
    let id = rc["id"].as_str().expect("id").to_owned();
    let count_path = format!("/api/v1/rollcalls/{id}/counts");
    for (person, zone) in [("P-1", "block-a"), ("P-1", "block-a"), ("P-1", "block-a"), ("P-3", "block-a")] {
        let (status, reply) = a.call("POST", &count_path, &t.guard, Some(json!({"person": person, "zone": zone})));
        assert_eq!(status, 200, "{reply}");
    }
    let (_, rc) = a.call("GET", &format!("/api/v1/rollcalls/{id}"), &t.supervisor, None);
    assert_eq!(rc["counted"], 2);
    assert_eq!(rc["duplicates"], json!(["P-1"]), "counted three times, flagged once");
    assert_eq!(rc["missing"][0]["person"], "P-2");
    assert_eq!(rc["missing"][0]["name"], "KABONGO Jean");
    assert_eq!(rc["out_of_zone"][0]["person"], "P-3");
    assert_eq!(rc["out_of_zone"][0]["expected_zone"], "reception");
    let (status, reply) = a.call("POST", &format!("/api/v1/rollcalls/{id}/close"), &t.supervisor, Some(json!({})));
    assert_eq!((status, reply["error"].as_str()), (400, Some("remark_required")));
    let remark = "P-2 not found in block A; search ordered";
    let (status, rc) =
        a.call("POST", &format!("/api/v1/rollcalls/{id}/close"), &t.supervisor, Some(json!({"remark": remark})));
    assert_eq!(status, 200, "{rc}");
    assert_eq!(rc["state"], "closed");
    assert_eq!(rc["closed"]["missing"], 1);
    let (_, alarms) = a.call("GET", "/api/v1/alarms", &t.auditor, None);
    assert!(alarms.as_array().expect("alarms").iter().any(|al| al["code"] == "short_count"), "{alarms}");
    let (status, sheet) = a.call("GET", &format!("/api/v1/rollcalls/{id}/sheet"), &t.auditor, None);
    assert_eq!(status, 200);
    assert_eq!(sheet, Value::Null, "the sheet is HTML");

    // An override: S-1's finger will not read at the outer gate. A second officer is needed.
    let body = |second: &str| json!({"person": "S-1", "reason": "cut on the finger", "second_token": second});
    let (status, reply) = a.call("POST", "/api/v1/lanes/gate-in/override", &t.guard, Some(body(&t.guard)));
    assert_eq!((status, reply["error"].as_str()), (403, Some("second_officer_required")));
    let (status, reply) = a.call("POST", "/api/v1/lanes/gate-in/override", &t.guard, Some(body(&t.auditor)));
    assert_eq!(status, 403, "an auditor cannot be the second officer: {reply}");
    let pulses = a.pd.handle.outputs(1).len();
    let (status, reply) = a.call("POST", "/api/v1/lanes/gate-in/override", &t.guard, Some(body(&t.guard2)));
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["granted"], true);
    a.wait(30, "the override's release", || (a.pd.handle.outputs(1).len() > pulses).then_some(()));
    a.pd.handle.passage(1, 0);
    a.wait(20, "S-1 in reception", || (zone_of(&a, &t, "S-1") == json!("reception")).then_some(()));
    // The lane's recent scans, folded from the ledger, name the override's officers and its passage.
    let (_, lane) = a.call("GET", "/api/v1/lanes/gate-in", &t.guard, None);
    let newest = &lane["recent"][0];
    assert_eq!(
        (&newest["person"], &newest["method"], &newest["passage"]),
        (&json!("S-1"), &json!("override"), &json!("passed"))
    );
    assert_eq!((&newest["officer"], &newest["second_officer"]), (&json!("guard.1"), &json!("guard.2")), "{lane}");

    // P-3 is released, then tries the inner lane: refused, and an alarm.
    let (status, reply) = a.call(
        "POST",
        "/api/v1/people/P-3/status",
        &t.supervisor,
        Some(json!({"status": "released", "reason": "sentence served, order 2026/114"})),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["zone"], Value::Null);
    let last = refused(&a, &t, "block-in", 2, 5);
    assert_eq!(last["reason"], "status");
    // The lane shows its decision before the census has folded the alarm recorded with it.
    a.wait(10, "the released_person_seen alarm", || {
        let (_, alarms) = a.call("GET", "/api/v1/alarms", &t.supervisor, None);
        alarms.as_array().expect("alarms").iter().any(|al| al["code"] == "released_person_seen").then_some(())
    });

    // Every step is in the ledger, by id only.
    let (_, page) = a.call("GET", "/api/v1/ledger/entries?limit=1000", &t.auditor, None);
    let text = page.to_string();
    for kind in [
        "registration",
        "enrolment",
        "grant",
        "passage",
        "denial",
        "rollcall_started",
        "rollcall_counted",
        "rollcall_closed",
        "override",
        "status_change",
        "alarm",
    ] {
        assert!(
            text.contains(&format!("\\\"kind\\\":\\\"{kind}\\\"")) || text.contains(&format!("\"kind\":\"{kind}\"")),
            "no {kind} entry"
        );
    }
    assert!(!text.contains("Mbuyi") && !text.contains("Jean"), "names never enter the ledger");

    // A restart: the headcount is rebuilt from the ledger alone, and is the same.
    let before = headcount_without_size(&a, &t);
    let dir_path = a.dir.clone();
    a.stop();
    let a = Appliance::start(&dir_path);
    let after = headcount_without_size(&a, &t);
    assert_eq!(before, after);
    assert_eq!(after["inside"], 3, "P-1, P-2 (missing, but the ledger still places them) and S-1");

    // The lanes work after the restart: the gallery was loaded from the sealed templates. S-1 is
    // made to open the inner lane: the duress finger opens it, and the alarm is raised.
    pass(&a, &t, &BLOCK_IN, "S-1", 4, 2);
    let (_, alarms) = a.call("GET", "/api/v1/alarms", &t.supervisor, None);
    assert_eq!(alarms[0]["code"], "duress", "{alarms}");
    assert!(alarms[0]["detail"].as_str().is_some_and(|d| d.contains("S-1") && !d.contains("Tshibanda")));
    a.stop();
    // The ledger the story wrote verifies with the independent verifier.
    let out = dir.path().join("export");
    crate::util::tally_ok(&dir_path, &["ledger", "export", "--out", out.to_str().expect("utf-8 path")]);
    if let Some(go) = crate::util::go_verifier() {
        let (ok, text) = crate::util::run_verifier(go, &[std::ffi::OsStr::new("check"), out.as_os_str()]);
        assert!(ok, "Go verifier: {text}");
    }
}

/// The live stream a guard screen follows: each decision as it becomes durable, and the lane's state.
#[test]
fn the_event_stream_shows_scans_as_they_become_durable() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(dir.path());
    let t = tokens(&a);
    register(&a, &t, "P-1", "inmate", "Mbuyi");
    assert_eq!(enrol(&a, &t, "P-1", 0).0, 201);
    let (status, _) = a.call("GET", "/api/v1/events", &t.auditor, None);
    assert_eq!(status, 403, "auditors do not watch the gates live");

    let url = a.url("/api/v1/events");
    let token = t.guard.clone();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let resp = crate::util::agent().get(&url).header("Authorization", &format!("Bearer {token}")).call();
        let Ok(mut resp) = resp else { return };
        let reader = std::io::BufReader::new(resp.body_mut().as_reader());
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The stream is open once the server answers; give it a moment before the scan.
    std::thread::sleep(std::time::Duration::from_millis(300));
    pass(&a, &t, &GATE_IN, "P-1", 0, 2);
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(seen.iter().any(|l: &String| l.contains("\"kind\":\"passage\""))) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).expect("the stream goes on");
        if line.starts_with("data:") || line.starts_with("event:") {
            seen.push(line);
        }
    }
    let text = seen.join("\n");
    assert!(text.contains("event: entry") && text.contains("\"kind\":\"grant\""), "{text}");
    assert!(text.contains("\"person\":\"P-1\""), "{text}");
    assert!(text.contains("event: lane") && text.contains("\"phase\":\"awaiting_passage\""), "{text}");
    assert!(!text.contains("Mbuyi"), "names are not streamed");
}
