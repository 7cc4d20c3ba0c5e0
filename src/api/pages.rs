//! The web pages for guards, supervisors, enrolment officers and auditors: static files built into the
//! binary (`src/api/pages/`: one HTML shell, one stylesheet, small JavaScript modules, the strings of
//! every language in `i18n.js`), so they work offline and need nothing from outside.
//!
//! Pages hold no data and need no token: the shell is the same for every page, and its scripts read
//! everything from the API with the token the officer typed at login (kept in the tab's
//! `sessionStorage`). What a page offers follows the role (`GET /api/v1/session`); the API checks every
//! request anyway. Every page answer carries a strict Content-Security-Policy: scripts, styles and
//! requests from this origin only, images also from `blob:` (photos fetched with the token), no frames.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::ApiError;

/// The policy of every page and asset.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' blob:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page shell, the same for every page: its script shows the page the path names.
const SHELL: &str = include_str!("pages/index.html");

/// Files under `/assets/`: name, media type, contents.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("pages/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("pages/app.js")),
    ("core.js", "text/javascript; charset=utf-8", include_str!("pages/core.js")),
    ("i18n.js", "text/javascript; charset=utf-8", include_str!("pages/i18n.js")),
    ("gate.js", "text/javascript; charset=utf-8", include_str!("pages/gate.js")),
    ("headcount.js", "text/javascript; charset=utf-8", include_str!("pages/headcount.js")),
    ("rollcall.js", "text/javascript; charset=utf-8", include_str!("pages/rollcall.js")),
    ("people.js", "text/javascript; charset=utf-8", include_str!("pages/people.js")),
    ("ledger.js", "text/javascript; charset=utf-8", include_str!("pages/ledger.js")),
    ("icon.svg", "image/svg+xml", include_str!("pages/icon.svg")),
];

/// The paths that show a page (each serves the shell).
const PAGES: &[&str] =
    &["/", "/gate", "/gate/{lane}", "/headcount", "/rollcall", "/rollcall/{id}", "/people", "/people/{id}", "/ledger"];

/// The pages' routes: outside the OpenAPI document, since they are not the API.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/assets/{name}", get(asset));
    for page in PAGES {
        router = router.route(page, get(shell));
    }
    router
}

/// A static answer with the pages' security headers.
fn page(media: &'static str, body: &'static str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, media)], body).into_response();
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Small files: always revalidated, so a new version of the binary is seen at once.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    res
}

async fn shell() -> Response {
    page("text/html; charset=utf-8", SHELL)
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media, body)) => page(media, body),
        None => ApiError::not_found().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_loads_only_assets_that_exist() {
        let mut referenced = Vec::new();
        for (_, _, body) in ASSETS.iter().chain([&("index.html", "", SHELL)]) {
            for part in body.split("/assets/").skip(1) {
                let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
                referenced.push(name);
            }
        }
        assert!(referenced.iter().any(|n| n == "app.js"), "the shell loads app.js");
        for name in referenced {
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "/assets/{name} is referenced but not served");
        }
    }

    #[test]
    fn no_page_loads_anything_from_elsewhere_or_inline() {
        for (name, _, body) in ASSETS.iter().chain([&("index.html", "", SHELL)]) {
            // SVG's namespace is a name, not something loaded.
            let body = body.replace("http://www.w3.org/2000/svg", "");
            for bad in ["http://", "https://", "innerHTML", "eval(", "new Function", "<style", "style=\""] {
                assert!(!body.contains(bad), "{name} contains {bad:?}");
            }
        }
        assert!(!SHELL.contains("<script>"), "no inline script: the policy would block it");
    }
}
