//! The pages over HTTP, without a browser: served with a strict Content-Security-Policy, every path of
//! a page answers the shell, assets with their media types; and the API routes added for them — who
//! holds a token (`/api/v1/session`), the day's count (`/api/v1/headcount/history`), and the ledger's
//! export as one tar file that `tally ledger verify` (and the independent verifier) accept once unpacked.

use serde_json::json;

use crate::appliance::{Appliance, png_base64};
use crate::util::{agent, go_verifier, run_verifier, tally};

/// GET without a token: status, headers, body.
fn fetch(a: &Appliance, path: &str) -> (u16, ureq::http::HeaderMap, String) {
    let mut res = agent().get(&a.url(path)).call().expect("HTTP request");
    let headers = res.headers().clone();
    (res.status().as_u16(), headers, res.body_mut().read_to_string().unwrap_or_default())
}

fn header<'a>(headers: &'a ureq::http::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[test]
fn pages_are_served_without_a_token_under_a_strict_policy() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(dir.path());
    for path in [
        "/",
        "/gate",
        "/gate/gate-in",
        "/headcount",
        "/rollcall",
        "/rollcall/rc-1",
        "/people",
        "/people/P-1",
        "/ledger",
    ] {
        let (status, headers, body) = fetch(&a, path);
        assert_eq!(status, 200, "{path}");
        assert!(header(&headers, "content-type").starts_with("text/html"), "{path}");
        let csp = header(&headers, "content-security-policy");
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff", "{path}");
        assert!(body.contains("/assets/app.js"), "{path} serves the shell");
    }
    for (asset, media) in [
        ("app.js", "text/javascript"),
        ("i18n.js", "text/javascript"),
        ("gate.js", "text/javascript"),
        ("app.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let (status, headers, _) = fetch(&a, &format!("/assets/{asset}"));
        assert_eq!(status, 200, "{asset}");
        assert!(header(&headers, "content-type").starts_with(media), "{asset}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff", "{asset}");
    }
    let (status, _, body) = fetch(&a, "/assets/../Cargo.toml");
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = fetch(&a, "/assets/nothing.js");
    assert_eq!(status, 404);
    // The pages hold no data: the API still wants a token.
    let (status, _, _) = fetch(&a, "/api/v1/headcount");
    assert_eq!(status, 401);
}

#[test]
fn every_english_string_has_a_french_one() {
    let text = include_str!("../../src/api/pages/i18n.js");
    let table = |name: &str| -> Vec<String> {
        let start = text.find(&format!("const {name} = {{")).unwrap_or_else(|| panic!("no table {name}"));
        let body = &text[start..];
        let body = &body[..body.find("\n};").expect("the table ends")];
        body.split('\'')
            .enumerate()
            .filter(|(i, s)| i % 2 == 1 && body.contains(&format!("'{s}':")))
            .map(|(_, s)| s.to_string())
            .filter(|s| s.contains('.') || s == "yes")
            .collect()
    };
    let (en, fr) = (table("en"), table("fr"));
    assert!(en.len() > 200, "{} English strings", en.len());
    let missing: Vec<&String> = en.iter().filter(|k| !fr.contains(k)).collect();
    assert!(missing.is_empty(), "French lacks {missing:?}");
    let extra: Vec<&String> = fr.iter().filter(|k| !en.contains(k)).collect();
    assert!(extra.is_empty(), "French has keys English lacks: {extra:?}");
}

#[test]
fn the_session_names_the_holder_and_what_their_role_may_do() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(dir.path());
    let guard = a.token("guard", "guard.1");
    let auditor = a.token("auditor", "audit.1");
    let (status, me) = a.call("GET", "/api/v1/session", &guard, None);
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["name"].as_str(), me["role"].as_str()), (Some("guard.1"), Some("guard")));
    let may: Vec<&str> = me["may"].as_array().expect("may").iter().filter_map(|v| v.as_str()).collect();
    assert!(may.contains(&"override") && may.contains(&"read_lanes") && !may.contains(&"read_ledger"), "{may:?}");
    let facility = &me["facility"];
    assert_eq!(facility["name"], "Makala Central Prison");
    assert_eq!((facility["outside"].as_str(), facility["utc_offset"].as_str()), (Some("outside"), Some("+00:00")));
    assert_eq!(facility["zones"][0], json!({"id": "reception", "name": "Reception"}), "{facility}");
    let (_, me) = a.call("GET", "/api/v1/session", &auditor, None);
    let may: Vec<&str> = me["may"].as_array().expect("may").iter().filter_map(|v| v.as_str()).collect();
    assert!(may.contains(&"read_ledger") && !may.contains(&"read_people") && !may.contains(&"read_lanes"), "{may:?}");
    let (status, _) = a.call("GET", "/api/v1/session", "tly_nobody", None);
    assert_eq!(status, 401);
}

#[test]
fn the_count_history_follows_registrations_and_status_changes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(dir.path());
    let enroller = a.token("enroller", "enrol.1");
    let supervisor = a.token("supervisor", "sup.1");
    let auditor = a.token("auditor", "audit.1");
    for id in ["P-1", "P-2"] {
        let body =
            json!({"id": id, "category": "inmate", "given_names": "Jean", "family_name": "Mbuyi", "zone": "reception"});
        assert_eq!(a.call("POST", "/api/v1/people", &enroller, Some(body)).0, 201);
    }
    let body = json!({"status": "transferred", "reason": "to Ndolo"});
    assert_eq!(a.call("POST", "/api/v1/people/P-1/status", &supervisor, Some(body)).0, 200);
    let (status, history) = a.call("GET", "/api/v1/headcount/history", &auditor, None);
    assert_eq!(status, 200, "{history}");
    let counts: Vec<u64> =
        history["points"].as_array().expect("points").iter().filter_map(|p| p["inside"].as_u64()).collect();
    assert_eq!(counts, [1, 2, 1], "{history}");
    assert_eq!(history["inside"], 1);
    assert!(history["points"][0]["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{history}");
    let (status, _) = a.call("GET", "/api/v1/headcount/history", "tly_nobody", None);
    assert_eq!(status, 401);
}

#[test]
fn the_ledger_export_downloads_as_a_tar_that_verifies() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(&dir.path().join("data"));
    let enroller = a.token("enroller", "enrol.1");
    let auditor = a.token("auditor", "audit.1");
    let guard = a.token("guard", "guard.1");
    let body = json!({"id": "P-1", "category": "inmate", "given_names": "Jean", "family_name": "Mbuyi"});
    assert_eq!(a.call("POST", "/api/v1/people", &enroller, Some(body)).0, 201);
    let body = json!({"finger": 2, "image": png_base64(0, 0)});
    assert_eq!(a.call("POST", "/api/v1/people/P-1/fingers", &enroller, Some(body)).0, 201);

    let (status, _) = a.call("GET", "/api/v1/ledger/export", &guard, None);
    assert_eq!(status, 403, "guards do not take the ledger away");
    let mut res = agent()
        .get(&a.url("/api/v1/ledger/export"))
        .header("Authorization", &format!("Bearer {auditor}"))
        .call()
        .expect("export");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(header(res.headers(), "content-type"), "application/x-tar");
    let disposition = header(res.headers(), "content-disposition").to_string();
    assert!(disposition.starts_with("attachment; filename=\"ledger-makala-gate-1-"), "{disposition}");
    let length: usize = header(res.headers(), "content-length").parse().expect("a length");
    let tar = res.body_mut().with_config().limit(1 << 30).read_to_vec().expect("the tar");
    assert_eq!(tar.len(), length);
    assert_eq!(tar.len() % 512, 0);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .expect("data dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".export-"))
        .collect();
    assert!(leftovers.is_empty(), "the scratch directory is removed: {leftovers:?}");

    // Unpacked by the system's tar, it is what `tally ledger export` writes, and it verifies.
    let out = dir.path().join("unpacked");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(dir.path().join("export.tar"), &tar).expect("write");
    let untar = std::process::Command::new("tar")
        .arg("-xf")
        .arg(dir.path().join("export.tar"))
        .arg("-C")
        .arg(&out)
        .status()
        .expect("run tar");
    assert!(untar.success());
    let export = std::fs::read_dir(&out).expect("unpacked").next().expect("one directory").expect("entry").path();
    for file in ["README", "checkpoint", "log.vkey", "keys.vkey", "entries.jsonl"] {
        assert!(export.join(file).is_file(), "{file} is in the export");
    }
    let verified = tally(&dir.path().join("elsewhere"), &["ledger", "verify", &export.to_string_lossy()]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    if let Some(verifier) = go_verifier() {
        let (ok, text) = run_verifier(verifier, &["check".as_ref(), export.as_os_str()]);
        assert!(ok, "the independent verifier refuses the export: {text}");
    }
}
