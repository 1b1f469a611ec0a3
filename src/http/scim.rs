//! SCIM 2.0 routes under `/iso/scim/v2`, `/api/scim/v2` and `/scim/v2`, answering in
//! `application/scim+json` with errors in the SCIM error schema.

pub mod discovery;
pub mod resources;
mod wire;

use axum::routing::{get, post};

use super::routes::RouteTable;
use crate::state::AppState;

pub fn routes() -> RouteTable<AppState> {
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
