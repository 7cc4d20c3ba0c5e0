//! The HTTP API against a real `tally serve`: tokens and roles, notes that land in the ledger with proofs
//! that verify, bad input that is refused with a stable JSON error and changes nothing, graceful and abrupt
//! stops, and concurrent writers (the server's own requests, and the CLI beside it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use serde_json::value::RawValue;
use tally::ledger::merkle::leaf_hash;
use tally::ledger::note::{OpenedCheckpoint, Verifier, open_checkpoint};
use tally::ledger::reader::{ConsistencyProof, InclusionProof};

use crate::util::{Server, agent, get, post, tally, tally_ok, token};

const HEALTH: &str = "/healthz";
const CHECKPOINT: &str = "/api/v1/ledger/checkpoint";
const ENTRIES: &str = "/api/v1/ledger/entries";
const INCLUSION: &str = "/api/v1/ledger/proof/inclusion";
const CONSISTENCY: &str = "/api/v1/ledger/proof/consistency";
const NOTES: &str = "/api/v1/log/notes";

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/// A fresh data directory holding a new ledger.
fn new_ledger() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    tally_ok(dir.path(), &["ledger", "init"]);
    dir
}

/// An answer, with the headers these tests look at.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    www_authenticate: Option<String>,
    allow: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

/// Sends any request: `headers` are sent as given (no token or content type is added).
fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(body.to_vec()).expect("a valid request");
    let mut resp = agent().run(req).expect("HTTP request");
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().expect("ASCII header").to_owned());
    Reply {
        status: resp.status().as_u16(),
        content_type: header("content-type").unwrap_or_default(),
        www_authenticate: header("www-authenticate"),
        allow: header("allow"),
        body: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// The `Authorization` header for a token.
fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Asserts a JSON error answer with exactly this status and stable code, and a message.
fn assert_error(reply: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: status (body {:?})", reply.body);
    assert!(reply.content_type.starts_with("application/json"), "{what}: content type {:?}", reply.content_type);
    let body = reply.json();
    assert_eq!(body["error"], code, "{what}: error code in {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: no message in {body}");
}

/// Parses a JSON body, panicking with the text when it is not JSON.
fn json(what: &str, body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {body:?}"))
}

/// Reads a 200 answer of a ledger route.
fn read_ok(server: &Server, token: &str, path: &str) -> String {
    let (status, body) = get(&server.url(path), Some(token));
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The latest checkpoint note.
fn checkpoint(server: &Server, token: &str) -> String {
    read_ok(server, token, CHECKPOINT)
}

/// The tree size of a checkpoint note: its second line.
fn checkpoint_size(note: &str) -> u64 {
    note.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or_else(|| panic!("no size in checkpoint {note:?}"))
}

/// The ledger's size as the API shows it.
fn ledger_size(server: &Server, token: &str) -> u64 {
    checkpoint_size(&checkpoint(server, token))
}

/// Posts a note and returns its sequence number.
fn post_note(server: &Server, token: &str, text: &str) -> u64 {
    let body = serde_json::to_vec(&serde_json::json!({ "text": text })).expect("JSON");
    let (status, reply) = post(&server.url(NOTES), Some(token), &body);
    assert_eq!(status, 201, "POST note {text:?}: {reply}");
    let reply = json("POST note", &reply);
    assert_eq!(reply.as_object().map(|o| o.len()), Some(1), "only the seq is answered: {reply}");
    reply["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {reply}"))
}

/// Entries from `from` (at most `limit`), as their exact bytes.
fn raw_entries(server: &Server, token: &str, from: u64, limit: u64) -> Vec<Box<RawValue>> {
    #[derive(serde::Deserialize)]
    struct Page {
        from: u64,
        entries: Vec<Box<RawValue>>,
    }
    let body = read_ok(server, token, &format!("{ENTRIES}?from={from}&limit={limit}"));
    let page: Page = serde_json::from_str(&body).unwrap_or_else(|e| panic!("entries page ({e}): {body}"));
    assert_eq!(page.from, from);
    page.entries
}

/// Entries from `from` (at most `limit`), decoded.
fn entries(server: &Server, token: &str, from: u64, limit: u64) -> Vec<Value> {
    raw_entries(server, token, from, limit).iter().map(|e| json("entry", e.get())).collect()
}

/// Entry `seq`, decoded; checks that it is the one asked for.
fn entry(server: &Server, token: &str, seq: u64) -> Value {
    let mut page = entries(server, token, seq, 1);
    assert_eq!(page.len(), 1, "entry {seq} is not in the ledger");
    let e = page.remove(0);
    assert_eq!(e["seq"], seq, "entries?from={seq} answered {e}");
    e
}

/// Exports the ledger into a new directory under `out` and returns its path.
fn export(data_dir: &Path, out: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    let dir = out.path().join(name);
    tally_ok(data_dir, &["ledger", "export", "--out", dir.to_str().expect("UTF-8 path")]);
    dir
}

/// Every entry of the ledger, read through `tally ledger export` (works with no server running).
fn exported_entries(data_dir: &Path) -> Vec<Value> {
    let out = tempfile::tempdir().expect("temporary directory");
    let dir = export(data_dir, &out, "export");
    let text = std::fs::read_to_string(dir.join("entries.jsonl")).expect("entries.jsonl");
    text.lines().map(|l| json("exported entry", l)).collect()
}

/// The ledger's current verifier key, as `tally ledger export` writes it in `log.vkey`.
fn verifier_key(data_dir: &Path) -> Verifier {
    let out = tempfile::tempdir().expect("temporary directory");
    let dir = export(data_dir, &out, "export");
    let vkey = std::fs::read_to_string(dir.join("log.vkey")).expect("log.vkey");
    Verifier::parse(&vkey).unwrap_or_else(|e| panic!("log.vkey {vkey:?}: {e}"))
}

/// Opens a checkpoint note with `key`, panicking when its signature does not verify.
fn open(note: &str, key: &Verifier) -> OpenedCheckpoint {
    open_checkpoint(note, std::slice::from_ref(key))
        .unwrap_or_else(|e| panic!("checkpoint does not open ({e}): {note:?}"))
}

/// Exports the ledger and runs `tally ledger verify` on the export; returns its report.
fn export_and_verify(data_dir: &Path) -> String {
    let out = tempfile::tempdir().expect("temporary directory");
    let dir = export(data_dir, &out, "export");
    let report = tally_ok(data_dir, &["ledger", "verify", dir.to_str().expect("UTF-8 path")]);
    assert!(report.starts_with("ok: "), "verify report: {report}");
    report
}

/// The size `tally ledger verify` reports: "ok: N entries of …".
fn verified_size(report: &str) -> u64 {
    report.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("report {report:?}"))
}

/// Asserts that entry `e` is a note by `author` saying `text`.
fn assert_note(e: &Value, author: &str, text: &str) {
    assert_eq!(e["kind"], "note", "{e}");
    assert_eq!(e["body"], serde_json::json!({ "author": author, "text": text }), "{e}");
}

/// `token` with its last character replaced by another.
fn changed_last(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "A" { "B" } else { "A" })
}

/// A request to every route but `/healthz`, with parameters that are valid on a started ledger.
fn guarded_routes() -> Vec<(&'static str, String, Vec<u8>)> {
    vec![
        ("GET", CHECKPOINT.to_owned(), Vec::new()),
        ("GET", format!("{ENTRIES}?from=0&limit=10"), Vec::new()),
        ("GET", format!("{INCLUSION}?index=0"), Vec::new()),
        ("GET", format!("{CONSISTENCY}?from=1"), Vec::new()),
        ("POST", NOTES.to_owned(), br#"{"text":"let me in"}"#.to_vec()),
    ]
}

/// Sends `(method, path, body)` with an `Authorization` header (or none) and a JSON content type.
fn send_route(server: &Server, (method, path, body): &(&str, String, Vec<u8>), auth: Option<&str>) -> Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    send(method, &server.url(path), &headers, body)
}

// ---------------------------------------------------------------------------------------------------------
// 1. Authentication
// ---------------------------------------------------------------------------------------------------------

#[test]
fn health_needs_no_token_and_every_other_route_answers_401_without_a_valid_one() {
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");
    let revokee = token(dir.path(), "admin", "admin.2");
    let server = Server::start(dir.path());

    let no_token: &[(&str, &str)] = &[];
    for headers in [no_token, &[("Authorization", "Bearer tly_not_a_token")]] {
        let r = send("GET", &server.url(HEALTH), headers, b"");
        assert_eq!((r.status, r.json()), (200, serde_json::json!({ "status": "ok" })), "health with {headers:?}");
    }

    // The valid tokens pass on every route, so what follows fails for the credentials alone.
    for route in guarded_routes() {
        for t in [&admin, &revokee] {
            let r = send_route(&server, &route, Some(&bearer(t)));
            assert!(matches!(r.status, 200 | 201), "{} {} with a valid token: {r:?}", route.0, route.1);
        }
    }
    let size = ledger_size(&server, &admin);
    tally_ok(dir.path(), &["tokens", "revoke", "admin.2"]);

    let wrong = format!("tly_{}", "A".repeat(43));
    let credentials: Vec<(&str, Option<String>)> = vec![
        ("no Authorization header", None),
        ("another scheme", Some("Basic YWRtaW46YWRtaW4=".to_owned())),
        ("the scheme alone", Some("Bearer".to_owned())),
        ("an empty token", Some("Bearer ".to_owned())),
        ("a token without its scheme", Some(admin.clone())),
        ("a token after another scheme", Some(format!("Token {admin}"))),
        ("a token with a character changed", Some(bearer(&changed_last(&admin)))),
        ("a well-formed unknown token", Some(bearer(&wrong))),
        ("a token longer than any", Some(bearer(&format!("tly_{}", "A".repeat(200))))),
        ("a revoked token", Some(bearer(&revokee))),
    ];
    for (what, auth) in &credentials {
        for route in guarded_routes() {
            let r = send_route(&server, &route, auth.as_deref());
            let what = format!("{} {} with {what}", route.0, route.1);
            assert_error(&r, 401, "unauthenticated", &what);
            assert_eq!(r.www_authenticate.as_deref(), Some("Bearer"), "{what}: WWW-Authenticate");
        }
    }
    assert_eq!(ledger_size(&server, &admin), size, "a refused note was written");
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    // RFC 9110 §11.1: the authentication scheme is matched without regard to case.
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");
    let server = Server::start(dir.path());
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = send("GET", &server.url(CHECKPOINT), &[("Authorization", &format!("{scheme} {admin}"))], b"");
        assert_eq!(r.status, 200, "scheme {scheme:?}: {r:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// 2. Roles
// ---------------------------------------------------------------------------------------------------------

/// What each role may do through this API: (role, reads the ledger, writes notes).
const ROLE_TABLE: [(&str, bool, bool); 5] = [
    ("guard", false, true),
    ("enroller", false, true),
    ("supervisor", true, true),
    ("auditor", true, false),
    ("admin", true, true),
];

#[test]
fn each_role_reads_and_writes_what_the_role_table_allows() {
    let dir = new_ledger();
    let tokens: Vec<(&str, bool, bool, String)> = ROLE_TABLE
        .iter()
        .map(|&(role, reads, writes)| (role, reads, writes, token(dir.path(), role, &format!("{role}.1"))))
        .collect();
    let admin = &tokens.iter().find(|t| t.0 == "admin").expect("admin").3;
    let server = Server::start(dir.path());

    for (role, reads, writes, secret) in &tokens {
        let auth = bearer(secret);
        for route in guarded_routes() {
            let (method, path, _) = &route;
            let before = ledger_size(&server, admin);
            let r = send_route(&server, &route, Some(&auth));
            let what = format!("{role}: {method} {path}");
            let allowed = if *method == "POST" { *writes } else { *reads };
            match (allowed, *method) {
                (true, "POST") => {
                    assert_eq!(r.status, 201, "{what}: {r:?}");
                    let seq = r.json()["seq"].as_u64().expect("seq");
                    assert_note(&entry(&server, admin, seq), &format!("{role}.1"), "let me in");
                }
                (true, _) => {
                    assert_eq!(r.status, 200, "{what}: {r:?}");
                    assert_eq!(ledger_size(&server, admin), before, "{what}: a read wrote");
                }
                (false, _) => {
                    assert_error(&r, 403, "forbidden", &what);
                    assert_eq!(ledger_size(&server, admin), before, "{what}: a refused request wrote");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 3. Notes in the ledger, with proofs
// ---------------------------------------------------------------------------------------------------------

#[test]
fn a_posted_note_is_in_the_ledger_with_an_inclusion_proof_to_a_signed_checkpoint() {
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");
    let guard = token(dir.path(), "guard", "sgt.kabila");
    let server = Server::start(dir.path());
    let key = verifier_key(dir.path());

    let text = "Lane 2 turnstile \"sticky\"\nreported to maintenance \u{e9}\u{1F512}";
    let seq = post_note(&server, &guard, text);
    let note = entry(&server, &admin, seq);
    assert_note(&note, "sgt.kabila", text);
    // Acknowledged means released: the latest checkpoint already covers it.
    assert!(ledger_size(&server, &admin) > seq);

    // Some more notes, so the proof is against a tree that grew after the note.
    for i in 0..5 {
        post_note(&server, &guard, &format!("round {i}"));
    }
    let raw = raw_entries(&server, &admin, seq, 1);
    let leaf = leaf_hash(raw[0].get().as_bytes());
    for query in [format!("index={seq}"), format!("index={seq}&size={}", seq + 1)] {
        let body = read_ok(&server, &admin, &format!("{INCLUSION}?{query}"));
        let proof: InclusionProof = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{query}: {e}: {body}"));
        assert_eq!(proof.index, seq, "{query}");
        assert_eq!(proof.leaf_hash, leaf, "{query}: the proof is not of the entry's exact bytes");
        proof.verify().unwrap_or_else(|e| panic!("{query}: inclusion proof does not verify: {e}"));
        let opened = open(&proof.checkpoint, &key);
        assert_eq!(opened.checkpoint.origin, key.name(), "{query}");
        assert_eq!((opened.checkpoint.size, opened.checkpoint.root), (proof.size, proof.root), "{query}");
        // The check has teeth: the same path does not prove another entry.
        let other = InclusionProof { leaf_hash: leaf_hash(b"{}"), ..proof.clone() };
        assert!(other.verify().is_err(), "{query}: a proof verified for the wrong leaf");
    }
    let latest = read_ok(&server, &admin, &format!("{INCLUSION}?index={seq}"));
    let latest: InclusionProof = serde_json::from_str(&latest).expect("proof");
    assert_eq!(latest.size, ledger_size(&server, &admin), "the default size is the latest checkpoint's");
}

#[test]
fn a_consistency_proof_links_checkpoints_taken_before_and_after_notes() {
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");
    let server = Server::start(dir.path());
    let key = verifier_key(dir.path());

    let before = open(&checkpoint(&server, &admin), &key).checkpoint;
    for i in 0..7 {
        post_note(&server, &admin, &format!("note {i}"));
    }
    let after = open(&checkpoint(&server, &admin), &key).checkpoint;
    assert_eq!(after.size, before.size + 7);
    assert_eq!(after.origin, before.origin);

    let queries = [format!("from={}&to={}", before.size, after.size), format!("from={}", before.size)];
    for query in queries {
        let body = read_ok(&server, &admin, &format!("{CONSISTENCY}?{query}"));
        let proof: ConsistencyProof = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{query}: {e}: {body}"));
        assert_eq!((proof.from, proof.to), (before.size, after.size), "{query}");
        assert_eq!((proof.from_root, proof.to_root), (before.root, after.root), "{query}: roots");
        proof.verify().unwrap_or_else(|e| panic!("{query}: consistency proof does not verify: {e}"));
        let forged = ConsistencyProof { from_root: after.root, ..proof.clone() };
        assert!(forged.verify().is_err(), "{query}: a proof verified for the wrong old root");
    }
}

// ---------------------------------------------------------------------------------------------------------
// 4. Bad input: a clear error, nothing changed
// ---------------------------------------------------------------------------------------------------------

/// A request that must be refused, and how.
struct Bad {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

/// A note body (sent as JSON) that must be refused.
fn bad_note(what: &'static str, body: impl Into<Vec<u8>>, status: u16, code: &'static str) -> Bad {
    bad_upload(what, Some("application/json"), body, status, code)
}

/// A note upload with this content type (or none) that must be refused.
fn bad_upload(
    what: &'static str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
) -> Bad {
    Bad { what, method: "POST", path: NOTES.to_owned(), content_type, body: body.into(), status, code }
}

/// A request without a body that must be refused.
fn bad_request(what: &'static str, method: &'static str, path: &str, status: u16, code: &'static str) -> Bad {
    Bad { what, method, path: path.to_owned(), content_type: None, body: Vec::new(), status, code }
}

/// A query that must be refused.
fn bad_query(what: &'static str, path: &str, status: u16, code: &'static str) -> Bad {
    bad_request(what, "GET", path, status, code)
}

/// Every kind of bad request, for a ledger of `size` entries whose checkpoints were all released.
fn bad_requests(size: u64) -> Vec<Bad> {
    let big = u64::MAX;
    let sql_max = i64::MAX as u64;
    vec![
        bad_note("malformed JSON", r#"{"text": "x""#, 400, "invalid_body"),
        bad_note("not an object", r#"["x"]"#, 400, "invalid_body"),
        bad_note("trailing data", r#"{"text":"x"} {"text":"y"}"#, 400, "invalid_body"),
        bad_note("an empty body", "", 400, "invalid_body"),
        bad_note("a body over 16 KiB", format!(r#"{{"text":"{}"}}"#, "x".repeat(17 * 1024)), 413, "body_too_large"),
        bad_note("an unknown field", r#"{"text":"x","extra":1}"#, 400, "invalid_body"),
        bad_note("a duplicate field", r#"{"text":"x","text":"y"}"#, 400, "invalid_body"),
        bad_note("a missing field", "{}", 400, "invalid_body"),
        bad_note("a wrong type", r#"{"text":5}"#, 400, "invalid_body"),
        bad_note("a null text", r#"{"text":null}"#, 400, "invalid_body"),
        bad_note("invalid UTF-8", b"{\"text\":\"caf\xe9 \xff\"}".to_vec(), 400, "invalid_body"),
        bad_note("a lone surrogate", r#"{"text":"\ud800"}"#, 400, "invalid_body"),
        bad_note("an empty text", r#"{"text":""}"#, 400, "invalid_note"),
        bad_note("a blank text", r#"{"text":" \n\t "}"#, 400, "invalid_note"),
        bad_note("a NUL in the text", r#"{"text":"a\u0000b"}"#, 400, "invalid_note"),
        bad_note("a terminal escape in the text", r#"{"text":"\u001b[2Jcleared"}"#, 400, "invalid_note"),
        bad_note("a carriage return in the text", r#"{"text":"line\rover"}"#, 400, "invalid_note"),
        bad_note("a C1 control in the text", r#"{"text":"a\u0085b"}"#, 400, "invalid_note"),
        bad_note("a note over 4000 characters", format!(r#"{{"text":"{}"}}"#, "x".repeat(4001)), 400, "invalid_note"),
        bad_note(
            "a note over 4000 multi-byte characters",
            format!(r#"{{"text":"{}"}}"#, "\u{e9}".repeat(4001)),
            400,
            "invalid_note",
        ),
        bad_upload("a text/plain body", Some("text/plain"), r#"{"text":"x"}"#, 415, "unsupported_media_type"),
        bad_upload("a form body", Some("application/x-www-form-urlencoded"), "text=x", 415, "unsupported_media_type"),
        bad_upload("no content type", None, r#"{"text":"x"}"#, 415, "unsupported_media_type"),
        bad_query("limit=0", &format!("{ENTRIES}?limit=0"), 400, "invalid_query"),
        bad_query("a limit over the page size", &format!("{ENTRIES}?limit=1001"), 400, "invalid_query"),
        bad_query("limit=abc", &format!("{ENTRIES}?limit=abc"), 400, "invalid_query"),
        bad_query("from=-1", &format!("{ENTRIES}?from=-1"), 400, "invalid_query"),
        bad_query("an empty from", &format!("{ENTRIES}?from="), 400, "invalid_query"),
        bad_query("from beyond u64", &format!("{ENTRIES}?from=18446744073709551616"), 400, "invalid_query"),
        bad_query("an unknown query parameter", &format!("{ENTRIES}?from=0&colour=red"), 400, "invalid_query"),
        bad_query("inclusion without an index", INCLUSION, 400, "invalid_query"),
        bad_query("an unknown inclusion parameter", &format!("{INCLUSION}?index=0&leaf=1"), 400, "invalid_query"),
        bad_query(
            "an inclusion index beyond the size",
            &format!("{INCLUSION}?index={size}"),
            400,
            "invalid_proof_request",
        ),
        bad_query(
            "an inclusion index beyond an earlier size",
            &format!("{INCLUSION}?index=1&size=1"),
            400,
            "invalid_proof_request",
        ),
        bad_query("an inclusion index of u64::MAX", &format!("{INCLUSION}?index={big}"), 400, "invalid_proof_request"),
        bad_query(
            "an inclusion size with no released checkpoint",
            &format!("{INCLUSION}?index=0&size={}", size + 10),
            404,
            "no_checkpoint",
        ),
        bad_query("an inclusion size of 0", &format!("{INCLUSION}?index=0&size=0"), 404, "no_checkpoint"),
        bad_query(
            "an inclusion size beyond any ledger",
            &format!("{INCLUSION}?index=0&size={}", sql_max + 1),
            404,
            "no_checkpoint",
        ),
        bad_query("an inclusion size of u64::MAX", &format!("{INCLUSION}?index=0&size={big}"), 404, "no_checkpoint"),
        bad_query("consistency without from", CONSISTENCY, 400, "invalid_query"),
        bad_query(
            "consistency from > to",
            &format!("{CONSISTENCY}?from={size}&to={}", size - 1),
            400,
            "invalid_proof_request",
        ),
        bad_query(
            "consistency from beyond the latest size",
            &format!("{CONSISTENCY}?from={}", size + 1),
            400,
            "invalid_proof_request",
        ),
        bad_query(
            "a consistency size with no released checkpoint",
            &format!("{CONSISTENCY}?from=1&to={}", size + 10),
            404,
            "no_checkpoint",
        ),
        bad_query("a consistency to of u64::MAX", &format!("{CONSISTENCY}?from=1&to={big}"), 404, "no_checkpoint"),
        bad_query("a consistency from of u64::MAX", &format!("{CONSISTENCY}?from={big}"), 400, "invalid_proof_request"),
        bad_query("an unknown route", "/api/v1/nope", 404, "not_found"),
        bad_query("an unknown API version", "/api/v2/ledger/checkpoint", 404, "not_found"),
        bad_query("a path that is neither a page nor the API", "/nothing-here", 404, "not_found"),
        bad_request("GET on notes", "GET", NOTES, 405, "method_not_allowed"),
        bad_request("DELETE on notes", "DELETE", NOTES, 405, "method_not_allowed"),
        bad_request("POST on the checkpoint", "POST", CHECKPOINT, 405, "method_not_allowed"),
        bad_request("PUT on entries", "PUT", ENTRIES, 405, "method_not_allowed"),
        bad_request("POST on health", "POST", HEALTH, 405, "method_not_allowed"),
    ]
}

#[test]
fn bad_input_gets_a_stable_json_error_and_changes_nothing() {
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");
    let server = Server::start(dir.path());
    post_note(&server, &admin, "so that the ledger has a few entries");
    let size = ledger_size(&server, &admin);
    let auth = bearer(&admin);

    for bad in bad_requests(size) {
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(ct) = bad.content_type {
            headers.push(("Content-Type", ct));
        }
        let r = send(bad.method, &server.url(&bad.path), &headers, &bad.body);
        let what = format!("{} ({} {})", bad.what, bad.method, bad.path);
        assert_error(&r, bad.status, bad.code, &what);
        if bad.status == 405 {
            assert!(r.allow.is_some(), "{what}: a 405 names the allowed methods");
        }
        assert_eq!(ledger_size(&server, &admin), size, "{what} changed the ledger");
    }

    // The limits are where they say: a note of exactly 4000 characters, multi-byte ones too, is taken,
    // as are the whitespace controls a note may hold.
    for text in ["x".repeat(4000), "\u{e9}".repeat(4000), "line one\n\tline two".to_owned()] {
        let seq = post_note(&server, &admin, &text);
        assert_note(&entry(&server, &admin, seq), "admin.1", &text);
    }
    assert_eq!(ledger_size(&server, &admin), size + 3);
    // And reads past the end are an empty page, not an error.
    assert!(entries(&server, &admin, size + 100, 10).is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// 5. Shutdown and restart
// ---------------------------------------------------------------------------------------------------------

/// The boot entry at `seq`: asserts its kind and returns `clean_start`.
fn boot_clean_start(e: &Value) -> bool {
    assert_eq!(e["kind"], "boot", "{e}");
    e["body"]["clean_start"].as_bool().unwrap_or_else(|| panic!("no clean_start in {e}"))
}

#[test]
fn sigterm_records_a_shutdown_and_the_next_boot_is_clean_but_not_after_sigkill() {
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");

    let server = Server::start(dir.path());
    let note = post_note(&server, &admin, "end of shift");
    assert!(server.stop(), "tally serve did not exit cleanly on SIGTERM");
    let all = exported_entries(dir.path());
    let last = all.last().expect("entries");
    assert_eq!(last["kind"], "shutdown", "last entry after SIGTERM: {last}");
    assert_eq!(last["seq"], note + 1, "the shutdown directly follows the last note");
    let shutdown = note + 1;

    let server = Server::start(dir.path());
    assert!(boot_clean_start(&entry(&server, &admin, shutdown + 1)), "boot after a SIGTERM");
    let killed_at = post_note(&server, &admin, "power cut coming");
    server.kill();
    // The acknowledged note survived, and nothing was written after it.
    let all = exported_entries(dir.path());
    assert_eq!(all.len() as u64, killed_at + 1, "entries after SIGKILL");
    assert_note(&all[killed_at as usize], "admin.1", "power cut coming");

    let server = Server::start(dir.path());
    assert!(!boot_clean_start(&entry(&server, &admin, killed_at + 1)), "boot after a SIGKILL");
    assert_eq!(ledger_size(&server, &admin), killed_at + 2);
    assert!(server.stop());
    export_and_verify(dir.path());
}

// ---------------------------------------------------------------------------------------------------------
// 6 and 7. Concurrent writers
// ---------------------------------------------------------------------------------------------------------

#[test]
fn two_hundred_concurrent_notes_get_distinct_seqs_and_the_ledger_verifies() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 25;
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");
    let writers: Vec<String> = (0..THREADS).map(|t| token(dir.path(), "guard", &format!("guard.{t}"))).collect();
    let server = Server::start(dir.path());
    let start = ledger_size(&server, &admin);

    let posted: Vec<(u64, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(t, secret)| {
                let server = &server;
                s.spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            let text = format!("thread {t} note {i}");
                            (post_note(server, secret, &text), format!("guard.{t}"), text)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a posting thread panicked")).collect()
    });

    let seqs: BTreeSet<u64> = posted.iter().map(|p| p.0).collect();
    assert_eq!(seqs.len(), THREADS * PER_THREAD, "sequence numbers were given twice");
    assert!(seqs.iter().all(|&s| s >= start), "a note got a seq below the size before it was posted");
    let by_seq: BTreeMap<u64, Value> =
        entries(&server, &admin, start, 1000).into_iter().map(|e| (e["seq"].as_u64().expect("seq"), e)).collect();
    for (seq, author, text) in &posted {
        let e = by_seq.get(seq).unwrap_or_else(|| panic!("note {seq} is not in the ledger"));
        assert_note(e, author, text);
    }
    let size = ledger_size(&server, &admin);
    assert_eq!(size, start + (THREADS * PER_THREAD) as u64, "entries besides the notes were written");
    assert_eq!(verified_size(&export_and_verify(dir.path())), size);
}

#[test]
fn notes_from_the_cli_share_the_sequence_with_the_running_server() {
    let dir = new_ledger();
    let admin = token(dir.path(), "admin", "admin.1");
    let server = Server::start(dir.path());
    let cli_note = |text: &str| -> u64 {
        let out = tally_ok(dir.path(), &["ledger", "note", "--author", "sgt.cli", text]);
        out.trim().parse().unwrap_or_else(|_| panic!("tally ledger note printed {out:?}"))
    };

    let a = post_note(&server, &admin, "from the API");
    let b = cli_note("from the CLI");
    assert_eq!(b, a + 1, "the CLI's note follows the server's");
    assert_eq!(ledger_size(&server, &admin), b + 1, "the server's checkpoint covers the CLI's note");
    assert_note(&entry(&server, &admin, b), "sgt.cli", "from the CLI");
    let c = post_note(&server, &admin, "from the API again");
    assert_eq!(c, b + 1, "the server continues after the CLI's note");

    // Both at once: the store serialises the two processes, and nothing is lost or doubled.
    let (api, cli): (Vec<u64>, Vec<u64>) = std::thread::scope(|s| {
        let api = s.spawn(|| (0..20).map(|i| post_note(&server, &admin, &format!("api {i}"))).collect());
        let cli = s.spawn(|| (0..5).map(|i| cli_note(&format!("cli {i}"))).collect());
        (api.join().expect("API thread"), cli.join().expect("CLI thread"))
    });
    let all: BTreeSet<u64> = api.iter().chain(&cli).copied().collect();
    assert_eq!(all.len(), 25, "sequence numbers were given twice");
    assert_eq!(all, (c + 1..c + 26).collect(), "the two writers left a gap or wrote something else");
    for (i, seq) in cli.iter().enumerate() {
        assert_note(&entry(&server, &admin, *seq), "sgt.cli", &format!("cli {i}"));
    }
    assert!(server.stop());
    assert_eq!(verified_size(&export_and_verify(dir.path())), c + 27, "25 notes and the shutdown");
}

/// `tally ledger note` refuses an empty note, like the API.
#[test]
fn the_cli_refuses_an_empty_note_and_writes_nothing() {
    let dir = new_ledger();
    let before = exported_entries(dir.path()).len();
    let out = tally(dir.path(), &["ledger", "note", "--author", "sgt.cli", "  "]);
    assert!(!out.status.success(), "an empty note was accepted");
    assert_eq!(exported_entries(dir.path()).len(), before);
}

#[test]
fn logs_at_debug_carry_no_token_and_no_key() {
    let dir = new_ledger();
    let guard = token(dir.path(), "guard", "sgt.logs");
    let auditor = token(dir.path(), "auditor", "auditor.logs");
    let log = dir.path().join("serve.log");
    let server = Server::start_logging_to(dir.path(), &log);
    assert_eq!(post(&server.url(NOTES), Some(&guard), br#"{"text":"logged?"}"#).0, 201);
    assert_eq!(get(&server.url(CHECKPOINT), Some(&auditor)).0, 200);
    assert_eq!(get(&server.url(CHECKPOINT), Some(&format!("{guard}x"))).0, 401);
    assert_eq!(post(&server.url(NOTES), Some(&auditor), b"{").0, 403);
    assert!(server.stop());
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("/api/v1/log/notes"), "requests are logged at debug: {text}");
    for secret in [&guard, &auditor] {
        let body = secret.trim_start_matches("tly_");
        assert!(!text.contains(body), "a token reached the log");
    }
    for key in std::fs::read_dir(dir.path().join("keys")).expect("keys") {
        let bytes = std::fs::read(key.expect("key file").path()).expect("read key");
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes[bytes.len() - 32..]);
        assert!(!text.contains(&b64[..20]), "key material reached the log");
    }
}
