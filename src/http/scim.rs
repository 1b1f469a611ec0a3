//! SCIM 2.0 routes under `/iso/scim/v2`, `/api/scim/v2` and `/scim/v2`, answering in
//! `application/scim+json` with errors in the SCIM error schema.

pub mod discovery;
pub mod resources;
mod wire;

use axum::routing::{get, post};

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::routes::RouteTable;
use crate::error::ApiError;
use crate::service::scim::error::ScimError;
use crate::state::AppState;

/// The SCIM routes behind the SCIM-worded authentication gate.
pub fn authenticated(state: &AppState) -> RouteTable<AppState> {
    routes().map_router(|router| {
        router.route_layer(axum::middleware::from_fn_with_state(state.clone(), super::auth::authenticate_scim))
    })
}

/// An authentication refusal in the SCIM error schema, with the status, challenge and audit
/// notes of the envelope it replaces. A 5xx says nothing of its cause.
pub fn refusal(error: ApiError) -> Response {
    let detail = error.message.to_string();
    let mut response = error.into_response();
    let status = response.status();
    let detail = if status.is_server_error() { "The request could not be completed.".to_owned() } else { detail };
    let scim = ScimError { status: status.as_u16(), scim_type: None, detail }.into_response();
    let (parts, body) = scim.into_parts();
    *response.body_mut() = body;
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(value) = parts.headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

fn routes() -> RouteTable<AppState> {
    RouteTable::new()
        .route("/ServiceProviderConfig", get(discovery::provider_config))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{name}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/Users", get(resources::list::<false>).post(resources::create::<false>))
        .route(
            "/Users/{id}",
            get(resources::show::<false>)
                .put(resources::change::<false, false>)
                .patch(resources::change::<false, true>)
                .delete(resources::remove::<false>),
        )
        .route("/Groups", get(resources::list::<true>).post(resources::create::<true>))
        .route(
            "/Groups/{id}",
            get(resources::show::<true>)
                .put(resources::change::<true, false>)
                .patch(resources::change::<true, true>)
                .delete(resources::remove::<true>),
        )
        .route("/Bulk", post(resources::bulk))
        .route("/.search", post(discovery::search_all))
        .route("/Users/.search", post(discovery::search_users))
        .route("/Groups/.search", post(discovery::search_groups))
        .route(
            "/Me",
            get(discovery::me).post(discovery::me).put(discovery::me).patch(discovery::me).delete(discovery::me),
        )
        .map_router(|router| router.fallback(discovery::unknown))
}
