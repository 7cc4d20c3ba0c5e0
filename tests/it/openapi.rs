//! The OpenAPI document against the routes it describes: every documented operation exists and is
//! behind a token (401 without one, never 404 or 405), the document is OpenAPI 3 with the bearer
//! scheme, and every route the API serves (but health) is in it.

use serde_json::Value;

use crate::appliance::Appliance;

fn document(a: &Appliance, token: &str) -> Value {
    let (status, doc) = a.call("GET", "/api/openapi.json", token, None);
    assert_eq!(status, 200, "{doc}");
    doc
}

/// Every (method, path) the document lists, with `{param}`s filled in.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                let concrete = path.replace("{id}", "x").replace("{zone}", "x");
                ops.push((method.to_uppercase(), concrete));
            }
        }
    }
    ops
}

#[test]
fn every_documented_route_exists_and_needs_a_token() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = Appliance::start(dir.path());
    let auditor = a.token("auditor", "audit.1");
    let (status, _) = a.call("GET", "/api/openapi.json", "tly_wrong", None);
    assert_eq!(status, 401, "the document needs a token too");
    let doc = document(&a, &auditor);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["token"]["scheme"], "bearer");
    let ops = operations(&doc);
    assert!(ops.len() >= 30, "{} operations documented", ops.len());
    for (method, path) in &ops {
        let (status, body) = a.call(method, path, "tly_not_a_token", None);
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(body["error"], "unauthenticated", "{method} {path}");
    }
    // Routes the pages and screens rely on are all there.
    let paths: Vec<&str> = doc["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    for expected in [
        "/api/v1/people",
        "/api/v1/people/{id}",
        "/api/v1/people/{id}/status",
        "/api/v1/people/{id}/fingers",
        "/api/v1/people/{id}/photo",
        "/api/v1/identify",
        "/api/v1/lanes",
        "/api/v1/lanes/{id}/override",
        "/api/v1/headcount",
        "/api/v1/zones/{zone}/occupants",
        "/api/v1/rollcalls",
        "/api/v1/rollcalls/{id}/close",
        "/api/v1/rollcalls/{id}/sheet",
        "/api/v1/alarms",
        "/api/v1/events",
        "/api/v1/ledger/entries",
    ] {
        assert!(paths.contains(&expected), "{expected} is not documented");
    }
}
