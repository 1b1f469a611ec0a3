//! What every SCIM route shares: the SCIM media type and error body, the access check worded
//! for SCIM, the base URL a client used, and the list query parameters.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::domain::authorization::{Access, Caller, Resource};
use crate::http::middleware::RawPath;
use crate::service::access::{Denied, check};
use crate::service::scim::error::{ScimError, ScimResult, error};
use crate::service::scim::query::ListQuery;
use crate::service::scim::resources::ResourceKind;
use crate::state::AppState;

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": self.status.to_string(), "detail": self.detail});
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), t.into());
        }
        scim_json(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &body)
    }
}

pub(super) fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/scim+json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn resource_response(status: StatusCode, body: &Value, location: bool) -> Response {
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
pub(super) fn access(caller: &Caller, write: bool) -> ScimResult<()> {
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
pub(super) fn base(headers: &HeaderMap, raw: Option<&RawPath>, state: &AppState) -> String {
    let path = raw.map(|p| p.0.as_str()).unwrap_or("/scim/v2");
    let prefix = path.find("/scim/v2").map_or("/scim/v2", |i| &path[..i + "/scim/v2".len()]);
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = if state.core.config.tls == crate::config::TlsMode::Off { "http" } else { "https" };
    format!("{scheme}://{host}{prefix}")
}

pub(super) fn body_json(body: &Bytes) -> ScimResult<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if crate::http::params::holds_nul(&v) => Err(nul_refused()),
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(error(400, Some("invalidSyntax"), "The body must be a JSON object")),
    }
}

fn nul_refused() -> ScimError {
    error(400, Some("invalidValue"), "Values may not contain NUL characters (U+0000)")
}

pub(super) fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

pub(super) fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

pub(super) fn list_query(q: &HashMap<String, String>) -> ScimResult<ListQuery> {
    if q.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(nul_refused());
    }
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

pub(super) const fn kind(group: bool) -> ResourceKind {
    if group { ResourceKind::Group } else { ResourceKind::User }
}

pub(super) fn base_url(state: &AppState, headers: &HeaderMap, raw: Option<&axum::Extension<RawPath>>) -> String {
    base(headers, raw.map(|e| &e.0), state)
}

/// A SCIM path segment (`{id}`, `{name}`), refused in the SCIM error schema when malformed.
pub struct ScimPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ScimPath {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|axum::extract::Path(value)| Self(value))
            .filter(|ScimPath(value)| !value.contains('\0'))
            .ok_or_else(|| error(400, Some("invalidValue"), "The path segment is not UTF-8 text without NUL."))
    }
}
