//! Authentication: the one place where a request's credentials become a `Caller`, whatever the
//! scheme — OAuth 2.0 bearer token, API token (`Bearer cft_…`/`cfd_…` or `authtoken`), OAuth
//! 1.0a (header, query or form carrier) or AWS SigV4. It runs as a layer on every protected
//! route, before the handler, because OAuth 1.0a form carriers and SigV4 need the body; the
//! body is put back for the handler's parameter extractor.

pub mod api_tokens;
pub mod oauth2;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::middleware::{RawPath, RequestContext};
use super::params::parse_urlencoded;
use crate::crypto::oauth1_signature::{base_uri, parse_authorization_header};
use crate::crypto::sigv4_signature;
use crate::domain::authorization::Caller;
use crate::error::{ApiError, ApiResult};
use crate::service::auth::Origin;
use crate::service::auth::api_tokens::{DYNAMIC_PREFIX, STATIC_PREFIX, resolve as resolve_api_token};
use crate::service::auth::oauth1;
use crate::service::auth::oauth2::resolve_bearer;
use crate::service::auth::sigv4;
use crate::state::AppState;

pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    authenticate_then(&state, req, next, ApiError::into_response).await
}

/// The same gate for SCIM, whose clients read refusals in the SCIM error schema (RFC 7644 §3.12).
pub async fn authenticate_scim(State(state): State<AppState>, req: Request, next: Next) -> Response {
    authenticate_then(&state, req, next, super::scim::refusal).await
}

async fn authenticate_then(state: &AppState, req: Request, next: Next, refuse: fn(ApiError) -> Response) -> Response {
    match resolve(state, req).await {
        Ok((caller, mut req)) => {
            if let Some(context) = req.extensions().get::<RequestContext>() {
                context.note_caller(caller.authorization.application_id, caller.authorization.id);
                context.note("scheme", format!("{:?}", caller.scheme));
                if let Some(user) = caller.acting_user_id {
                    context.note("acting_user_id", user.to_string());
                }
            }
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => refuse(e),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(ApiError::unauthenticated)
    }
}

enum Presented {
    Bearer(String),
    ApiToken(String),
    OAuth1Header(Vec<(String, String)>),
    SigV4(sigv4_signature::AuthHeader),
}

/// The schemes that sign the request itself, and so may need its parameters and body.
enum Signed {
    OAuth1(Vec<(String, String)>),
    SigV4(sigv4_signature::AuthHeader),
}

async fn resolve(state: &AppState, req: Request) -> ApiResult<(Caller, Request)> {
    let context =
        req.extensions().get::<RequestContext>().cloned().ok_or_else(|| {
            ApiError::internal(&"request context missing: the audit middleware must wrap every route")
        })?;
    let core = &state.core;
    let referer = req.headers().get(header::REFERER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let origin = Origin { ip: context.client_ip, referer: referer.as_deref() };
    if let Some(value) = req.headers().get(header::AUTHORIZATION).or_else(|| req.headers().get("authtoken")) {
        context.note("credential", core.audit_mask(value.as_bytes()));
    }
    let presented = presented(req.headers())?;

    // Tokens need neither the body nor the parameters: the common case stays cheap.
    let signed = match presented {
        Some(Presented::Bearer(token)) => return Ok((resolve_bearer(core, &token, origin).await?, req)),
        Some(Presented::ApiToken(token)) => return Ok((resolve_api_token(core, &token, origin).await?, req)),
        Some(Presented::OAuth1Header(params)) => Some(Signed::OAuth1(params)),
        Some(Presented::SigV4(auth)) => Some(Signed::SigV4(auth)),
        None => None,
    };
    let headers = req.headers().clone();
    let is_form = content_type(&headers) == "application/x-www-form-urlencoded";
    let needs_body = is_form || matches!(signed, Some(Signed::SigV4(_)));
    let (req, body) = if needs_body { buffer(req, core.config.body_limit).await? } else { (req, Vec::new()) };
    let query = parse_urlencoded(req.uri().query().unwrap_or_default().as_bytes())?;
    let form = if is_form { parse_urlencoded(&body)? } else { Vec::new() };
    let param = |name: &str| query.iter().chain(form.iter()).find(|(n, _)| n == name).map(|(_, v)| v.clone());

    let caller = match signed {
        Some(Signed::OAuth1(header_params)) => {
            oauth1::verify_request(core, oauth1_request(&req, &context, header_params, &query, &form), origin).await?
        }
        Some(Signed::SigV4(auth)) => {
            let raw_path =
                req.extensions().get::<RawPath>().map_or_else(|| req.uri().path().to_owned(), |p| p.0.clone());
            let signed = sigv4::SignedRequest {
                method: req.method().as_str(),
                raw_path: &raw_path,
                raw_query: req.uri().query().unwrap_or_default(),
                headers: signed_headers(&req, &headers),
                body: &body,
            };
            sigv4::verify_request(core, auth, signed, origin).await?
        }
        None if param("oauth_consumer_key").is_some() => {
            oauth1::verify_request(core, oauth1_request(&req, &context, Vec::new(), &query, &form), origin).await?
        }
        None => match param("authtoken") {
            Some(token) => {
                context.note("credential", core.audit_mask(token.as_bytes()));
                resolve_api_token(core, &token, origin).await?
            }
            None => return Err(ApiError::unauthenticated()),
        },
    };
    Ok((caller, req))
}

/// What the headers present; `Err` for an `Authorization` header no scheme understands.
fn presented(headers: &HeaderMap) -> ApiResult<Option<Presented>> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::unauthenticated())?.trim();
        let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        let rest = rest.trim();
        return if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            Ok(Some(if is_api_token(rest) {
                Presented::ApiToken(rest.to_owned())
            } else {
                Presented::Bearer(rest.to_owned())
            }))
        } else if scheme.eq_ignore_ascii_case("oauth") {
            parse_authorization_header(value).map(|p| Some(Presented::OAuth1Header(p))).ok_or_else(|| {
                ApiError::bad_request("Malformed OAuth Authorization header.").with_reason("malformed oauth header")
            })
        } else if scheme == sigv4_signature::ALGORITHM {
            sigv4_signature::parse_authorization(value)
                .map(|a| Some(Presented::SigV4(a)))
                .ok_or_else(|| ApiError::authentication_failed("malformed SigV4 Authorization header"))
        } else {
            Err(ApiError::unauthenticated())
        };
    }
    Ok(headers.get("authtoken").and_then(|v| v.to_str().ok()).map(|t| Presented::ApiToken(t.trim().to_owned())))
}

fn is_api_token(token: &str) -> bool {
    token.starts_with(STATIC_PREFIX) || token.starts_with(DYNAMIC_PREFIX)
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads the body (within the limit) and puts an identical one back for the handler.
async fn buffer(req: Request, limit: usize) -> ApiResult<(Request, Vec<u8>)> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::payload_too_large(limit))?;
    Ok((Request::from_parts(parts, Body::from(bytes.clone())), bytes.to_vec()))
}

/// The host the client addressed: the `Host` header over HTTP/1.1, `:authority` over HTTP/2
/// (which carries no `Host` header). Signatures cover it, so both versions must agree.
fn authority(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
}

/// Every header, lower-case, with `host` present whichever HTTP version carried the request.
fn signed_headers(req: &Request, headers: &HeaderMap) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    if !headers.contains_key(header::HOST) {
        all.extend(authority(req).map(|a| ("host".to_owned(), a)));
    }
    all
}

fn oauth1_request<'a>(
    req: &'a Request,
    context: &RequestContext,
    header_params: Vec<(String, String)>,
    query: &[(String, String)],
    form: &[(String, String)],
) -> oauth1::SignedRequest<'a> {
    let host = authority(req).unwrap_or_default();
    let path = req.extensions().get::<RawPath>().map_or_else(|| req.uri().path().to_owned(), |p| p.0.clone());
    let scheme = if context.secure { "https" } else { "http" };
    let mut params = header_params;
    params.extend(query.iter().cloned());
    params.extend(form.iter().cloned());
    oauth1::SignedRequest {
        method: req.method().as_str(),
        base_uri: base_uri(scheme, &host, &path),
        params,
        secure: context.secure,
    }
}
