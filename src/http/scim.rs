//! SCIM 2.0 routes under `/iso/scim/v2`, `/api/scim/v2` and `/scim/v2`, answering in
//! `application/scim+json` with errors in the SCIM error schema.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

use super::middleware::RawPath;
use crate::domain::authorization::{Access, Caller, Resource};
use crate::service::access::{Denied, check};
use crate::service::scim::error::{ScimError, ScimResult, error};
use crate::service::scim::query::{self, ListQuery};
use crate::service::scim::resources::{self, Change, ResourceKind};
use crate::state::AppState;

mod discovery;

use discovery::{
    me, provider_config, resource_type, resource_types, schema, schemas, search_all, search_groups, search_users,
    unknown,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{name}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Users", get(list::<false>).post(create::<false>))
        .route(
            "/Users/{id}",
            get(show::<false>).put(change::<false, false>).patch(change::<false, true>).delete(remove::<false>),
        )
        .route("/Groups", get(list::<true>).post(create::<true>))
        .route(
            "/Groups/{id}",
            get(show::<true>).put(change::<true, false>).patch(change::<true, true>).delete(remove::<true>),
        )
        .route("/Bulk", post(bulk))
        .route("/.search", post(search_all))
        .route("/Users/.search", post(search_users))
        .route("/Groups/.search", post(search_groups))
        .route("/Me", get(me).post(me).put(me).patch(me).delete(me))
        .fallback(unknown)
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": self.status.to_string(), "detail": self.detail});
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), t.into());
        }
        scim_json(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &body)
    }
}

pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/scim+json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn resource_response(status: StatusCode, body: &Value, location: bool) -> Response {
    let mut response = scim_json(status, body);
    if let Some(version) = body["meta"]["version"].as_str().and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::ETAG, version);
    }
    if location {
        if let Some(loc) = body["meta"]["location"].as_str().and_then(|v| HeaderValue::from_str(v).ok()) {
            response.headers_mut().insert(header::LOCATION, loc);
        }
    }
    response
}

/// SCIM needs the `scim` resource; changes need a read-write authorization and, for a token,
/// the `scim:write` scope: the same check as every family, worded as SCIM errors.
pub(crate) fn access(caller: &Caller, write: bool) -> ScimResult<()> {
    let access = if write { Access::Write } else { Access::Read };
    check(caller, Resource::Scim, access).map_err(|denied| {
        error(
            403,
            None,
            match denied {
                Denied::Module => "This authorization may not use SCIM",
                Denied::ReadOnly => "This authorization is read-only",
                Denied::Scope => "The token's scope does not allow this operation",
            },
        )
    })
}

/// `https://host/iso/scim/v2`: the base the client used, for `meta.location`.
pub(crate) fn base(headers: &HeaderMap, raw: Option<&RawPath>, state: &AppState) -> String {
    let path = raw.map(|p| p.0.as_str()).unwrap_or("/scim/v2");
    let prefix = path.find("/scim/v2").map_or("/scim/v2", |i| &path[..i + "/scim/v2".len()]);
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = if state.core.config.tls == crate::config::TlsMode::Off { "http" } else { "https" };
    format!("{scheme}://{host}{prefix}")
}

pub(crate) fn body_json(body: &Bytes) -> ScimResult<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(error(400, Some("invalidSyntax"), "The body must be a JSON object")),
    }
}

fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

pub(crate) fn list_query(q: &HashMap<String, String>) -> ScimResult<ListQuery> {
    let get = |k: &str| q.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    let int = |k: &str| {
        get(k)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| error(400, Some("invalidValue"), format!("{k} must be an integer")))
            })
            .transpose()
    };
    let split = |k: &str| {
        get(k)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    };
    Ok(ListQuery {
        filter: get("filter"),
        sort_by: get("sortBy"),
        descending: get("sortOrder").is_some_and(|o| o.eq_ignore_ascii_case("descending")),
        start_index: int("startIndex")?.unwrap_or(1),
        count: int("count")?,
        attributes: split("attributes"),
        excluded: split("excludedAttributes"),
    })
}

const fn kind(group: bool) -> ResourceKind {
    if group { ResourceKind::Group } else { ResourceKind::User }
}

pub(crate) fn base_url(state: &AppState, headers: &HeaderMap, raw: Option<&axum::Extension<RawPath>>) -> String {
    base(headers, raw.map(|e| &e.0), state)
}

/// `GET /Users` (`G` = false) or `/Groups` (`G` = true).
pub(crate) async fn list<const G: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let all = resources::all(&state.core, kind(G), &base_url(&state, &headers, raw.as_ref())).await?;
    Ok(scim_json(StatusCode::OK, &query::list_response(all, &list_query(&q)?)?))
}

/// Applies `attributes`/`excludedAttributes` of a single-resource request.
fn shaped(resource: Value, q: &HashMap<String, String>) -> ScimResult<Value> {
    let lq = list_query(q)?;
    Ok(query::project(resource, &lq.attributes, &lq.excluded))
}

async fn show<const G: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    access(&caller, false)?;
    let (resource, _) = resources::get(&state.core, kind(G), &base_url(&state, &headers, raw.as_ref()), &id).await?;
    Ok(resource_response(StatusCode::OK, &shaped(resource, &q)?, false))
}

async fn create<const G: bool>(
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
async fn change<const G: bool, const PATCH: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    raw: Option<axum::Extension<RawPath>>,
    Path(id): Path<String>,
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

async fn remove<const G: bool>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    access(&caller, true)?;
    resources::delete(&state.core, kind(G), &id, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn bulk(
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
