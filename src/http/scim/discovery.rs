//! SCIM discovery (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`), searches by POST,
//! `/Me`, and the SCIM answer to unknown endpoints.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::resources::list;
use super::wire::{ScimPath, access, base_url, body_json, list_query, scim_json};
use crate::domain::authorization::Caller;
use crate::http::middleware::RawPath;
use crate::service::scim::error::{ScimError, ScimResult, error};
use crate::service::scim::schema::{
    ENTERPRISE, GROUP, USER, resource_types_json, schema_json, service_provider_config,
};
use crate::service::scim::{query, resources};
use crate::state::AppState;

pub async fn unknown() -> ScimError {
    error(404, None, "No such SCIM endpoint")
}

/// `POST …/.search` (RFC 7644 §3.4.3): the query in a SearchRequest body.
fn search_query(body: &Value) -> ScimResult<HashMap<String, String>> {
    if !body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|v| v == "urn:ietf:params:scim:api:messages:2.0:SearchRequest"))
    {
        return Err(error(400, Some("invalidSyntax"), "a search body must name the SearchRequest schema"));
    }
    let mut q = HashMap::new();
    for (k, v) in body.as_object().into_iter().flatten() {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            _ => continue,
        };
        q.insert(k.clone(), text);
    }
    Ok(q)
}

pub(super) async fn search_users(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    body: Bytes,
) -> ScimResult<Response> {
    let q = search_query(&body_json(&body)?)?;
    list::<false>(state, caller, headers, raw, Query(q)).await
}

/// A search at the root covers every resource type.
pub(super) async fn search_all(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    body: Bytes,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let q = search_query(&body_json(&body)?)?;
    let b = base_url(&state, &headers, raw.as_ref());
    Ok(scim_json(StatusCode::OK, &query::search_all(&state.core, &b, &list_query(&q)?).await?))
}

pub(super) async fn search_groups(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    body: Bytes,
) -> ScimResult<Response> {
    let q = search_query(&body_json(&body)?)?;
    list::<true>(state, caller, headers, raw, Query(q)).await
}

pub(super) async fn provider_config(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
) -> ScimResult<Response> {
    access(&caller, false)?;
    Ok(scim_json(StatusCode::OK, &service_provider_config(&base_url(&state, &headers, raw.as_ref()))))
}

pub(super) async fn resource_types(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let all = resource_types_json(&base_url(&state, &headers, raw.as_ref()));
    let body = resources::list_of(all);
    Ok(scim_json(StatusCode::OK, &body))
}

pub(super) async fn resource_type(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    ScimPath(name): ScimPath,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let found = resource_types_json(&base_url(&state, &headers, raw.as_ref()))
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(&name)));
    found.map(|r| scim_json(StatusCode::OK, &r)).ok_or_else(|| error(404, None, format!("No resource type {name}")))
}

pub(super) async fn schemas(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let b = base_url(&state, &headers, raw.as_ref());
    let all: Vec<Value> = [USER, GROUP, ENTERPRISE].iter().filter_map(|id| schema_json(id, &b)).collect();
    let body = resources::list_of(all);
    Ok(scim_json(StatusCode::OK, &body))
}

pub(super) async fn schema(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    ScimPath(id): ScimPath,
) -> ScimResult<Response> {
    access(&caller, false)?;
    schema_json(&id, &base_url(&state, &headers, raw.as_ref()))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| error(404, None, format!("No schema {id}")))
}

pub(super) async fn me(caller: Caller) -> ScimResult<Response> {
    access(&caller, false)?;
    Err(error(501, None, "/Me is not supported: SCIM clients here are provisioning systems, not users"))
}
