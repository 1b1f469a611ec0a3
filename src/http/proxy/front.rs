//! The proxy origin (`proxy_listen`, `proxy_url`): its own host and port, so its cookie is never
//! the vault's. `/_cofre/enter?code=…` takes the one-time code the vault's redemption sent the
//! browser with and answers the session cookie; every other request is forwarded, with the
//! credential injected, into the session that cookie holds (`service::sessions::watch` cuts the
//! streams of dropped and expired ones).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use reqwest::Url;

use crate::domain::sessions::{EndReason, LiveSession, Protocol, RequestNote};
use crate::http::proxy::{Forwarded, Upstream, UpstreamClients, UpstreamTls, credential_headers, forward};
use crate::service::sessions::proxy;
use crate::state::AppState;

/// cofre's session cookie on the proxy origin.
pub const COOKIE: &str = "cofre_proxy";
/// A device may pin its own CA bundle or certificate (PEM) in its credential's session settings.
const TLS_PIN_KEY: &str = "tls_ca_pem";

#[derive(Clone)]
pub struct ProxyState(Arc<Inner>);

struct Inner {
    app: AppState,
    clients: UpstreamClients,
    origin: Url,
}

impl ProxyState {
    pub fn app(&self) -> &AppState {
        &self.0.app
    }

    /// The proxy's public origin (what browsers see).
    pub fn origin(&self) -> &Url {
        &self.0.origin
    }

    pub fn new(app: AppState) -> Self {
        let origin = Url::parse(&app.core.config.proxy_base()).unwrap_or_else(|_| {
            Url::parse("https://localhost:8444").unwrap_or_else(|_| unreachable!("a constant URL parses"))
        });
        Self(Arc::new(Inner { app, clients: UpstreamClients::new(), origin }))
    }
}

/// The proxy origin is its own listener: its few paths of cofre's own are not the API (and not in
/// `/openapi.json`); every other path is the target application's.
pub fn router(state: ProxyState) -> Router {
    crate::http::routes::RouteTable::new()
        .route("/_cofre/enter", axum::routing::get(enter))
        .route("/_cofre/terminal", axum::routing::get(super::terminal::socket))
        .merge(crate::http::terminal::assets_router())
        .into_router()
        .fallback(forward_request)
        .with_state(state)
}

#[derive(serde::Deserialize)]
struct Entry {
    code: String,
}

/// The hand-off from the vault: the one-time code becomes the session cookie.
async fn enter(
    State(state): State<ProxyState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(entry): Query<Entry>,
) -> Response {
    let (core, audit) = (&state.0.app.core, &state.0.app.audit);
    match proxy::enter(core, audit, &entry.code, peer.ip()).await {
        Ok((_, cookie)) => {
            let secure = if state.0.origin.scheme() == "https" { "; Secure" } else { "" };
            let value = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}", cookie.as_str());
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Ok(mut value) = HeaderValue::from_str(&value) {
                value.set_sensitive(true);
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => page(StatusCode::FORBIDDEN, "This session link is not valid, or was already used."),
    }
}

/// Every other request: into the session the cookie holds, with the credential injected.
async fn forward_request(State(state): State<ProxyState>, request: Request) -> Response {
    let (core, audit) = (&state.0.app.core, &state.0.app.audit);
    let Some(cookie) = session_cookie(&request) else {
        return page(StatusCode::UNAUTHORIZED, "No session: open the session link you were given.");
    };
    let session = match proxy::by_cookie(core, audit, &cookie).await {
        Ok(Some(session)) => session,
        Ok(None) => return page(StatusCode::GONE, "This session has ended."),
        Err(_) => return page(StatusCode::SERVICE_UNAVAILABLE, "The session could not be checked; try again."),
    };
    if session.protocol == Protocol::Ssh {
        // An SSH session has no web application behind it: its page is the terminal.
        return if request.method() == axum::http::Method::GET && request.uri().path() == "/" {
            crate::http::terminal::page()
        } else {
            page(StatusCode::NOT_FOUND, "Not found: this session is a terminal.")
        };
    }
    let upstream = match upstream_for(&state, &session).await {
        Ok(upstream) => upstream,
        Err(why) => {
            let _ = proxy::end(core, audit, &session.session_id, EndReason::Failed).await;
            return page(StatusCode::BAD_GATEWAY, why);
        }
    };
    let cancel = state.0.app.live.entry(&session.session_id).token();
    let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
    let report = {
        let (app, session) = (state.0.app.clone(), session.clone());
        move |done: Forwarded| {
            let note = RequestNote {
                method,
                path,
                status: done.status.as_u16(),
                bytes_up: done.bytes_up,
                bytes_down: done.bytes_down,
            };
            tokio::spawn(async move {
                if let Err(e) = proxy::note_request(&app.core, &session, &note).await {
                    tracing::warn!(error = %e, "could not record a proxied request");
                }
            });
        }
    };
    match forward(&state.0.clients, &upstream, request, cancel, report).await {
        Ok(response) => response,
        Err(failure) => {
            if !failure.is_session_end() {
                let _ = proxy::end(core, audit, &session.session_id, EndReason::Failed).await;
                state.0.app.live.forget(&session.session_id);
            }
            failure.into_response()
        }
    }
}

/// Where the session forwards to and as whom: the device's web application with the credential
/// as HTTP Basic, or as the header template of the credential's session settings.
async fn upstream_for(state: &ProxyState, session: &LiveSession) -> Result<Upstream, &'static str> {
    let target =
        proxy::target(&state.0.app.core, session).await.map_err(|_| "The session's credential is not available.")?;
    let scheme = match target.protocol {
        Protocol::Http => "http",
        Protocol::Https => "https",
        Protocol::Ssh => return Err("An SSH session has no web application to forward to."),
    };
    let host = if target.host.contains(':') { format!("[{}]", target.host) } else { target.host.clone() };
    let base =
        Url::parse(&format!("{scheme}://{host}:{}", target.port)).map_err(|_| "The device's address is not valid.")?;
    let settings = target.session_settings.as_ref();
    let inject = credential_headers(settings, &target.username, target.secret.password())
        .map_err(|_| "The credential's session header template is not valid.")?;
    let tls = match settings.and_then(|s| s.get(TLS_PIN_KEY)).and_then(|v| v.as_str()) {
        Some(pem) => UpstreamTls::Roots(pem.as_bytes().to_vec()),
        None => UpstreamTls::Default,
    };
    Ok(Upstream { base, inject, public_origin: state.0.origin.clone(), own_cookie: COOKIE, tls })
}

fn session_cookie(request: &Request) -> Option<String> {
    session_cookie_in(request.headers())
}

/// cofre's session cookie among a request's `Cookie` headers.
pub(super) fn session_cookie_in(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
    })
}

/// A small page that says what happened and nothing else.
pub(super) fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>cofre session</title></head>\
         <body><p>{message}</p></body></html>"
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
