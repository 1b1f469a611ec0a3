//! SCIM users and groups (RFC 7644 §3): list, read, create, replace, patch, delete, and Bulk.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::wire::{
    ScimPath, access, base_url, body_json, if_match, kind, list_query, object, resource_response, scim_json,
};
use crate::domain::authorization::Caller;
use crate::http::middleware::RawPath;
use crate::service::scim::error::ScimResult;
use crate::service::scim::query;
use crate::service::scim::resources::{self, Change};
use crate::state::AppState;

/// `GET /Users` (`G` = false) or `/Groups` (`G` = true).
pub async fn list<const G: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let b = base_url(&state, &headers, raw.as_ref());
    Ok(scim_json(StatusCode::OK, &query::list(&state.core, kind(G), &b, &list_query(&q)?).await?))
}

/// Applies `attributes`/`excludedAttributes` of a single-resource request.
fn shaped(resource: Value, q: &HashMap<String, String>) -> ScimResult<Value> {
    let lq = list_query(q)?;
    Ok(query::project(resource, &lq.attributes, &lq.excluded))
}

pub async fn show<const G: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    ScimPath(id): ScimPath,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let (resource, _) = resources::get(&state.core, kind(G), &base_url(&state, &headers, raw.as_ref()), &id).await?;
    Ok(resource_response(StatusCode::OK, &shaped(resource, &q)?, false))
}

pub async fn create<const G: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    body: Bytes,
) -> ScimResult<Response> {
    access(&caller, true)?;
    let created =
        resources::create(&state.core, kind(G), &base_url(&state, &headers, raw.as_ref()), &object(&body_json(&body)?))
            .await?;
    Ok(resource_response(StatusCode::CREATED, &created, true))
}

/// PUT (`PATCH` = false) or PATCH (`PATCH` = true) of a user or group.
pub async fn change<const G: bool, const PATCH: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    ScimPath(id): ScimPath,
    body: Bytes,
) -> ScimResult<Response> {
    access(&caller, true)?;
    let request = body_json(&body)?;
    let doc = object(&request);
    let change = if PATCH { Change::Patch(&request) } else { Change::Replace(&doc) };
    let b = base_url(&state, &headers, raw.as_ref());
    let updated = resources::update(&state.core, kind(G), &b, &id, if_match(&headers), change).await?;
    Ok(resource_response(StatusCode::OK, &updated, false))
}

pub async fn remove<const G: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ScimPath(id): ScimPath,
) -> ScimResult<Response> {
    access(&caller, true)?;
    resources::delete(&state.core, kind(G), &id, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    body: Bytes,
) -> ScimResult<Response> {
    access(&caller, true)?;
    let b = base_url(&state, &headers, raw.as_ref());
    let response = crate::service::scim::bulk::run(&state.core, &b, &body_json(&body)?, body.len()).await?;
    Ok(scim_json(StatusCode::OK, &response))
}
