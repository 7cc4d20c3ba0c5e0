//! The OpenAPI 3 document and the router, built from one list of annotated handlers (utoipa-axum), so
//! a route cannot exist undocumented or be documented without existing.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorBody;
use super::extract::{Caller, ReadApiDocs};
use super::{AppState, MAX_BODY_BYTES, MAX_IMAGE_BODY_BYTES};
use super::{
    census_routes, fingers, lanes, ledger_export, ledger_routes, peer_routes, people, photos, rollcalls, session,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tally",
        description = "The local API of a tally gate appliance. Every route needs a bearer token whose role may do \
                       what the route does; errors are JSON `{error, message}` with a stable code."
    ),
    modifiers(&BearerTokens),
    components(schemas(ErrorBody)),
    tags(
        (name = "people", description = "The register: people, photos, status, fingers, identification"),
        (name = "census", description = "Headcount, zones, alarms, live events"),
        (name = "rollcalls", description = "Roll-calls"),
        (name = "lanes", description = "Lanes and overrides"),
        (name = "ledger", description = "The signed ledger"),
        (name = "facility", description = "The facility's appliances: cosignatures, their checkpoints, the facility headcount"),
        (name = "session", description = "Who holds a token, and what their role may do"),
    )
)]
struct ApiDoc;

/// Declares the bearer scheme and requires it everywhere in the document.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("token", Vec::<String>::new())]);
    }
}

/// The API's routes and their document.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let small = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(people::search, people::create))
        .routes(routes!(people::get_person, people::update))
        .routes(routes!(people::change_status))
        .routes(routes!(session::session))
        .routes(routes!(census_routes::headcount))
        .routes(routes!(census_routes::history))
        .routes(routes!(census_routes::zones))
        .routes(routes!(census_routes::occupants))
        .routes(routes!(census_routes::alarms))
        .routes(routes!(census_routes::events))
        .routes(routes!(rollcalls::list, rollcalls::start))
        .routes(routes!(rollcalls::get_rollcall))
        .routes(routes!(rollcalls::count))
        .routes(routes!(rollcalls::recount))
        .routes(routes!(rollcalls::close))
        .routes(routes!(rollcalls::sheet))
        .routes(routes!(lanes::list))
        .routes(routes!(lanes::get_lane))
        .routes(routes!(lanes::override_passage))
        .routes(routes!(ledger_routes::checkpoint))
        .routes(routes!(ledger_routes::entries))
        .routes(routes!(ledger_export::export))
        .routes(routes!(ledger_routes::inclusion))
        .routes(routes!(ledger_routes::consistency))
        .routes(routes!(ledger_routes::post_note))
        .routes(routes!(peer_routes::post_cosignature))
        .routes(routes!(peer_routes::checkpoints))
        .routes(routes!(peer_routes::headcount))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    // Routes that take a fingerprint image or a photo.
    let images = OpenApiRouter::new()
        .routes(routes!(fingers::fingers, fingers::enrol))
        .routes(routes!(photos::get_photo, photos::put_photo))
        .routes(routes!(fingers::identify))
        .layer(DefaultBodyLimit::max(MAX_IMAGE_BODY_BYTES));
    let (router, mut doc) = small.merge(images).split_for_parts();
    common_errors(&mut doc);
    (router, doc)
}

/// Adds to every operation the errors any route can answer besides its own, so the document lists
/// every status the API gives: 401 and 403 (the token), 503 (storage failing), 400 when it takes a
/// path parameter (one that is not UTF-8), and when it takes a body, 413 (too large) and 415 (not
/// JSON). A status an operation documents itself is kept.
fn common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
        RefOr::T(ResponseBuilder::new().description(description).content("application/json", body).build())
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in operations.into_iter().flatten() {
            let in_path = |p: &RefOr<utoipa::openapi::path::Parameter>| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Path));
            let path_parameters = op.parameters.iter().flatten().any(in_path);
            let body = op.request_body.is_some();
            let mut errors = vec![
                ("401", "no token, or not a valid one"),
                ("403", "the token's role may not do this"),
                ("503", "the ledger cannot be read or written now"),
            ];
            if path_parameters {
                errors.push(("400", "a path parameter is not valid (not UTF-8)"));
            }
            if body {
                errors.push(("413", "the body is larger than this route accepts"));
                errors.push(("415", "the body is not JSON (Content-Type: application/json)"));
            }
            for (status, description) in errors {
                op.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description));
            }
        }
    }
}

/// `GET /api/openapi.json`: the document (any role).
pub async fn document(_: Caller<ReadApiDocs>, doc: Arc<str>) -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.to_string())
}
