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
use super::{census_routes, lanes, ledger_export, ledger_routes, people, photos, rollcalls, session};

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
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    // Routes that take a fingerprint image or a photo.
    let images = OpenApiRouter::new()
        .routes(routes!(people::fingers, people::enrol))
        .routes(routes!(photos::get_photo, photos::put_photo))
        .routes(routes!(people::identify))
        .layer(DefaultBodyLimit::max(MAX_IMAGE_BODY_BYTES));
    small.merge(images).split_for_parts()
}

/// `GET /api/openapi.json`: the document (any role).
pub async fn document(_: Caller<ReadApiDocs>, doc: Arc<str>) -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.to_string())
}
