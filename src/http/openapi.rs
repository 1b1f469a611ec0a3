//! `/openapi.json`: the API described to the field, built once from each family's operations
//! (`openapi/<family>.rs`, in the vocabulary of `openapi/spec.rs`), and `/docs`, a browser for it.
//! A test holds the document to the router both ways (tests/api/openapi.rs).

mod admin;
pub mod browser;
mod certificates;
mod components;
mod dashboards;
pub mod document;
mod dsm;
mod mysafe;
mod pam;
mod scim;
mod sessions;
pub mod spec;
mod system;
mod tokens;

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::routes::RouteTable;
use crate::state::AppState;
use document::Mounted;

/// The senhasegura families are served under both prefixes (contract §1.1).
const FAMILY_PREFIXES: &[&str] = &["/iso", "/api"];
/// SCIM is also served at the root, as IGA connectors expect.
const SCIM_PREFIXES: &[&str] = &["/scim/v2", "/iso/scim/v2", "/api/scim/v2"];

fn mounted() -> Vec<Mounted> {
    let families = [
        tokens::family(),
        pam::family(),
        dsm::family(),
        mysafe::family(),
        sessions::family(),
        dashboards::family(),
        certificates::family(),
        admin::family(),
    ];
    let mut all: Vec<Mounted> =
        families.into_iter().map(|family| Mounted { prefixes: FAMILY_PREFIXES, family }).collect();
    all.push(Mounted { prefixes: SCIM_PREFIXES, family: scim::family() });
    all.push(Mounted { prefixes: &[""], family: system::family() });
    all
}

/// The document as served, serialized once.
pub fn document_json() -> &'static [u8] {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    JSON.get_or_init(|| {
        serde_json::to_vec(&document::build(mounted())).unwrap_or_else(|e| panic!("the OpenAPI document: {e}"))
    })
}

async fn openapi_json() -> Response {
    let mut response = document_json().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn routes() -> RouteTable<AppState> {
    let table = RouteTable::new().route("/openapi.json", get(openapi_json)).route("/docs", get(browser::page));
    browser::ASSETS
        .iter()
        .fold(table, |table, asset| table.route(asset.path, get(move || async move { browser::serve(asset) })))
}
