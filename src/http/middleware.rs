//! The request pipeline around every routed handler: request id, client IP (resolved here and
//! nowhere else), deadline, and the audit record that must be durable before the response
//! leaves. Also the path normalisation that runs before routing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::envelope::{AuditCaller, AuditReason};
use crate::config::TlsMode;
use crate::domain::audit::AuditRecord;
use crate::domain::audit::request::{self, AuditedRequest};
use crate::domain::network::resolve_client_ip;
use crate::error::ApiError;
use crate::http::drain::SharedBody;
use crate::service::audit::AuditWait;
use crate::state::AppState;

const REQUEST_ID: &str = "x-request-id";
const MAX_ROUTE_CHARS: usize = 512;

/// Per-request facts, put in the request's extensions by `audited` and filled by extractors.
#[derive(Clone)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    pub client_ip: IpAddr,
    /// Whether the client reached cofre over TLS (directly, or via a trusted proxy that says so).
    pub secure: bool,
    /// What the audit trail knows of the request; the store reads it too (pending audit rows).
    audit: Arc<AuditedRequest>,
}

impl RequestContext {
    pub fn note_caller(&self, application_id: i64, authorization_id: i64) {
        self.audit.note_caller(application_id, authorization_id);
    }

    /// Records a detail; callers pass masked or non-secret values only.
    pub fn note(&self, key: &str, value: impl Into<Value>) {
        self.audit.note(key, value);
    }

    pub fn note_params(&self, params: Value) {
        self.note("params", params);
    }
}

/// Wraps every routed request: resolves the client, runs the handler under the deadline, and
/// answers 503 instead if the audit record cannot be made durable within that deadline.
pub async fn audited(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let request_id: Arc<str> = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string().into(), Into::into);
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let resolved = resolve_client_ip(peer, &state.core.config.trusted_proxies, forwarded);
    let client_ip = resolved.as_ref().map_or_else(|_| crate::domain::network::canonical(peer.ip()), |ip| *ip);
    let via_trusted_proxy = state.core.config.trusted_proxies.iter().any(|r| r.contains(peer.ip()));
    let forwarded_https =
        req.headers().get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = state.core.config.tls != TlsMode::Off || (via_trusted_proxy && forwarded_https);
    let method = req.method().to_string();
    let route: String = req.uri().path().chars().take(MAX_ROUTE_CHARS).collect();
    let arrived_ms = state.core.clock.now_ms();
    let audit = Arc::new(AuditedRequest::new(
        request_id.clone(),
        client_ip.to_string(),
        method.clone(),
        route.clone(),
        arrived_ms,
    ));
    // From here until its record is written, recovery leaves the request's pending rows alone.
    let hold = state.audit.hold(&audit);
    let context = RequestContext { request_id: request_id.clone(), client_ip, secure, audit: audit.clone() };
    req.extensions_mut().insert(context);
    let started = std::time::Instant::now();
    // One deadline for the handler and the wait for its audit record to be durable.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(state.core.config.request_timeout);

    let mut response = match resolved {
        Err(_) => ApiError::bad_request("Malformed X-Forwarded-For header.")
            .with_reason("malformed X-Forwarded-For")
            .into_response(),
        Ok(_) => {
            // The handler runs in its own task: the deadline (or a client hanging up) ends the
            // wait for it, never the handler itself, so a change is never cut in half. It runs
            // within its request, so each change it commits leaves a pending audit row.
            let (parts, body) = req.into_parts();
            let body = SharedBody::new(body);
            let req = Request::from_parts(parts, Body::new(body.clone()));
            let mut handler = tokio::spawn(request::within(audit.clone(), next.run(req)));
            let response = match tokio::time::timeout_at(deadline, &mut handler).await {
                Ok(Ok(response)) => response,
                Ok(Err(failed)) => ApiError::internal(&failed).into_response(),
                Err(_) => ApiError::timed_out()
                    .with_reason("deadline passed; the request completes in the background")
                    .into_response(),
            };
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                body.drain().await;
            }
            response
        }
    };

    let status = response.status().as_u16();
    let reason = response.extensions().get::<AuditReason>().map(|r| r.0);
    let (mut application_id, mut authorization_id, mut detail) = audit.facts();
    if let (None, Some(refused)) = (authorization_id, response.extensions().get::<AuditCaller>()) {
        (application_id, authorization_id) = (Some(refused.0), Some(refused.1));
    }
    if let Some(reason) = reason {
        detail.insert("reason".into(), reason.into());
    }
    crate::metrics::METRICS.request(&route, &method, status, started.elapsed());
    let record = AuditRecord {
        at_ms: state.core.clock.now_ms(),
        request_id: request_id.to_string(),
        client_ip: client_ip.to_string(),
        application_id,
        authorization_id,
        method,
        route,
        status: i64::from(status),
        outcome: outcome(status, reason).to_owned(),
        detail: Value::Object(detail).to_string(),
    };
    if status == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
        // Refused because the store fails or is slow: the answer serves nothing, and waiting on
        // that store for its record would only delay it.
        state.audit.submit(record, hold);
    } else {
        match state.audit.record_until(record, hold, deadline).await {
            Ok(()) => {}
            Err(AuditWait::Unavailable) => response = ApiError::unavailable().into_response(),
            Err(AuditWait::TimedOut) => response = ApiError::timed_out().into_response(),
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

fn outcome(status: u16, reason: Option<&str>) -> &'static str {
    match status {
        s if s < 400 => "success",
        401 | 403 | 429 => "denied",
        _ if matches!(reason, Some("resource not authorized" | "read-only authorization")) => "denied",
        s if s >= 500 => "error",
        _ => "rejected",
    }
}

/// The request path exactly as the client sent it, before normalisation: signatures cover it.
#[derive(Clone, Debug)]
pub struct RawPath(pub String);

/// Every fixed segment of the route table (sorted, lower case).
const ROUTE_WORDS: &[&str] = &[
    "active",
    "admin",
    "api",
    "application",
    "applications",
    "assign",
    "authorization",
    "authorizations",
    "cicd",
    "coe",
    "coge",
    "credenciais",
    "credential",
    "credentials",
    "custody",
    "dapp",
    "dash",
    "deprovision",
    "device",
    "disable",
    "domains",
    "enable",
    "file",
    "get_auth_token",
    "groups",
    "health",
    "inactive",
    "info",
    "iso",
    "key",
    "links",
    "members",
    "mysafe",
    "note",
    "oauth2",
    "pam",
    "password",
    "password-policies",
    "provision",
    "ready",
    "regenerate",
    "related",
    "restore",
    "risco",
    "risk",
    "scim",
    "sctm",
    "secret",
    "secretapi",
    "senha",
    "sessions",
    "sessoes",
    "token",
    "tokens",
    "update",
    "user",
    "users",
    "v2",
    "variables",
    "versions",
];

/// Before routing: a trailing slash is tolerated (`/iso/pam/info/` is `/iso/pam/info`).
pub fn normalize_path<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let raw = RawPath(req.uri().path().to_owned());
    req.extensions_mut().insert(raw);
    let path = req.uri().path();
    let mut normal = if path.len() > 1 { path.trim_end_matches('/').to_owned() } else { path.to_owned() };
    if normal.is_empty() {
        normal.push('/');
    }
    // Paths match without case (§16.3; dsmcli sends /iso/dapp/Application): the leading run of
    // fixed route words is folded to lower case. Folding stops at the first other segment (an
    // id or identifier, whose case matters) and after `/scim/v2`, whose resource names SCIM
    // spells itself.
    let mut folded = Vec::new();
    let mut folding = true;
    for segment in normal.split('/') {
        let lower = segment.to_ascii_lowercase();
        folding &= segment.is_empty() || ROUTE_WORDS.binary_search(&lower.as_str()).is_ok();
        let after_scim = folded.last().is_some_and(|s: &String| s == "v2");
        folding &= !after_scim;
        folded.push(if folding { lower } else { segment.to_owned() });
    }
    normal = folded.join("/");
    if normal != path {
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{normal}?{q}"),
            None => normal,
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(path: &str) -> String {
        let req = axum::http::Request::builder().uri(path).body(()).expect("request");
        normalize_path(req).uri().to_string()
    }

    #[test]
    fn route_words_are_sorted_for_the_binary_search() {
        assert!(ROUTE_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn fixed_segments_fold_and_identifiers_keep_their_case() {
        assert_eq!(normalized("/ISO/Pam/Credential/AbC"), "/iso/pam/credential/AbC");
        assert_eq!(normalized("/iso/dapp/Application/Authorization/"), "/iso/dapp/application/authorization");
        assert_eq!(normalized("/Api/MySafe/Password/Update/Key1?x=Y"), "/api/mysafe/password/update/Key1?x=Y");
        assert_eq!(normalized("/ISO/SCIM/V2/Users/7"), "/iso/scim/v2/Users/7");
        assert_eq!(normalized("/iso/sctm/secret/Team/App"), "/iso/sctm/secret/Team/App");
    }
}
