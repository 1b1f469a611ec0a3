//! The proxy's origins (`proxy_listen`, `proxy_url`): one host per session under the proxy's
//! wildcard name (`s-<session id>.sessions.localhost` by default), so no session's pages, cookies, storage
//! or Service Workers can reach another's, nor the vault's. `/_cofre/enter?code=…` takes the
//! one-time code the vault's redemption sent the browser with and answers the session cookie,
//! on the session's own host only; every other request is forwarded, with the credential
//! injected, into the session that host and cookie name together (`service::sessions::watch`
//! cuts the streams of dropped and expired ones).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use reqwest::Url;
use rustls::pki_types::ServerName;
use zeroize::Zeroizing;

use crate::domain::network::resolve_client_ip;
use crate::domain::sessions::failure::FailureCause;
use crate::domain::sessions::origin::SessionOrigins;
use crate::domain::sessions::{LiveSession, Protocol, RequestNote};
use crate::http::proxy::{ClientHop, Forwarded, Upstream, UpstreamClients, UpstreamTls, credential_headers, forward};
use crate::service::sessions::proxy;
use crate::state::AppState;

/// cofre's session cookie on a session's host. Over HTTPS it carries the `__Host-` prefix: the
/// browser then refuses any copy set with a `Domain` (by another session's page under the same
/// wildcard) or without `Secure`.
const COOKIE_HTTPS: &str = "__Host-cofre_proxy";
const COOKIE_HTTP: &str = "cofre_proxy";
/// A device may pin its own CA bundle or certificate (PEM) in its credential's session settings.
const TLS_PIN_KEY: &str = "tls_ca_pem";
/// The name a device's certificate carries, when its hostname is not it (a label such as
/// `web01` for a certificate of `web01.corp.example`): SNI, `Host` and the check use it.
const TLS_NAME_KEY: &str = "tls_server_name";
/// Methods that make a server echo the request (credential headers included) or tunnel past it.
const REFUSED_METHODS: [&str; 3] = ["TRACE", "TRACK", "CONNECT"];

#[derive(Clone)]
pub struct ProxyState(Arc<Inner>);

struct Inner {
    app: AppState,
    clients: UpstreamClients,
    origins: SessionOrigins,
}

impl ProxyState {
    pub fn app(&self) -> &AppState {
        &self.0.app
    }

    pub fn new(app: AppState) -> Self {
        let origins = app.core.config.session_origins();
        let clients = UpstreamClients::new(app.core.targets.clone());
        Self(Arc::new(Inner { app, clients, origins }))
    }

    /// The name of cofre's session cookie on this proxy's scheme.
    pub fn cookie_name(&self) -> &'static str {
        if self.0.origins.is_https() { COOKIE_HTTPS } else { COOKIE_HTTP }
    }

    /// The session whose host a request was sent to (`Host`, or HTTP/2's `:authority`).
    pub(super) fn host_session(&self, headers: &HeaderMap, uri: &Uri) -> Option<String> {
        let host =
            headers.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()));
        host.and_then(|h| self.0.origins.session_of(h)).map(str::to_owned)
    }

    /// A session's own origin, e.g. `https://s-<id>.sessions.localhost:8444`.
    pub(super) fn origin_of(&self, session_id: &str) -> String {
        self.0.origins.origin_of(session_id)
    }

    /// The live session a request's host and cookie both name: a cookie is only good on its own
    /// session's host. `Err` is the page to answer.
    pub(super) async fn session_for(&self, headers: &HeaderMap, uri: &Uri) -> Result<LiveSession, Response> {
        let no_session = || page(StatusCode::UNAUTHORIZED, "No session: open the session link you were given.");
        let Some(host_session) = self.host_session(headers, uri) else {
            return Err(page(StatusCode::NOT_FOUND, "This address is not a session's."));
        };
        let Some(cookie) = session_cookie_in(headers, self.cookie_name()) else { return Err(no_session()) };
        let (core, audit) = (&self.0.app.core, &self.0.app.audit);
        match proxy::by_cookie(core, audit, &cookie).await {
            Ok(Some(session)) if session.session_id == host_session => Ok(session),
            Ok(Some(_)) => Err(no_session()),
            Ok(None) => Err(page(StatusCode::GONE, "This session has ended.")),
            Err(_) => Err(page(StatusCode::SERVICE_UNAVAILABLE, "The session could not be checked; try again.")),
        }
    }
}

/// The proxy's listener: its few paths of cofre's own are not the API (and not in
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

/// The hand-off from the vault: the one-time code becomes the session cookie, on the code's own
/// session host only. A `HEAD` (a link preview, a mail scanner) is answered without using the code.
async fn enter(
    State(state): State<ProxyState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    Query(entry): Query<Entry>,
) -> Response {
    let Some(session_id) = state.host_session(&headers, &uri) else {
        return page(StatusCode::NOT_FOUND, "This address is not a session's.");
    };
    if method == Method::HEAD {
        return page(StatusCode::OK, "Open this link in a browser to enter the session.");
    }
    let (core, audit) = (&state.0.app.core, &state.0.app.audit);
    match proxy::enter(core, audit, &entry.code, &session_id, peer.ip()).await {
        Ok((_, cookie)) => {
            let secure = if state.0.origins.is_https() { "; Secure" } else { "" };
            let value =
                format!("{}={}; Path=/; HttpOnly; SameSite=Strict{secure}", state.cookie_name(), cookie.as_str());
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            let headers = response.headers_mut();
            if let Ok(mut value) = HeaderValue::from_str(&value) {
                value.set_sensitive(true);
                headers.insert(header::SET_COOKIE, value);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            // The host is new, but a browser may keep what an earlier page left on it: start clean.
            headers
                .insert(HeaderName::from_static("clear-site-data"), HeaderValue::from_static("\"cache\", \"storage\""));
            response
        }
        Err(_) => page(StatusCode::FORBIDDEN, "This session link is not valid, or was already used."),
    }
}

/// Every other request: into the session its host and cookie name, with the credential injected.
async fn forward_request(
    State(state): State<ProxyState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if REFUSED_METHODS.contains(&request.method().as_str()) {
        let mut refused = page(StatusCode::METHOD_NOT_ALLOWED, "This method is not forwarded.");
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"));
        return refused;
    }
    let (core, audit) = (&state.0.app.core, &state.0.app.audit);
    let session = match state.session_for(request.headers(), request.uri()).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    if session.protocol == Protocol::Ssh {
        // An SSH session has no web application behind it: its host serves the terminal alone.
        return if request.method() == Method::GET && request.uri().path() == "/" {
            crate::http::terminal::page()
        } else {
            page(StatusCode::NOT_FOUND, "Not found: this session is a terminal.")
        };
    }
    let client = client_hop(&state, peer, request.headers(), &session.session_id);
    let upstream = match upstream_for(&state, &session, client).await {
        Ok(upstream) => upstream,
        Err(cause) => {
            tracing::warn!(session = %session.session_id, failure = cause.as_str(), "web session failed");
            let _ = proxy::fail(core, audit, &session.session_id, cause, cause.message()).await;
            return page(StatusCode::BAD_GATEWAY, &format!("The session could not be opened: {cause}."));
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
            // The error names the device's origin at most: never the browser's path or query.
            if let Some(cause) = failure.cause() {
                tracing::warn!(
                    session = %session.session_id, failure = cause.as_str(), error = %failure, "web session failed"
                );
                let _ = proxy::fail(core, audit, &session.session_id, cause, &failure.to_string()).await;
                state.0.app.live.forget(&session.session_id);
            }
            failure.into_response()
        }
    }
}

/// The browser as cofre tells the device: the address it came from (through trusted proxies
/// only), and the scheme and host it used. The browser's own forwarding headers never pass.
fn client_hop(state: &ProxyState, peer: SocketAddr, headers: &HeaderMap, session_id: &str) -> ClientHop {
    let trusted = &state.0.app.core.config.trusted_proxies;
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let ip =
        resolve_client_ip(peer, trusted, forwarded).unwrap_or_else(|_| crate::domain::network::canonical(peer.ip()));
    let origin = state.origin_of(session_id);
    let host = origin.split_once("://").map_or(origin.as_str(), |(_, host)| host);
    ClientHop { ip, proto: if state.0.origins.is_https() { "https" } else { "http" }, host: host.to_owned() }
}

/// Where the session forwards to and as whom: the device's web application, reached at its
/// address under its name, with the credential as HTTP Basic, or as the header template of the
/// credential's session settings. `Err` says why the session cannot go on.
async fn upstream_for(state: &ProxyState, session: &LiveSession, client: ClientHop) -> Result<Upstream, FailureCause> {
    let target = proxy::target(&state.0.app.core, session).await.map_err(|_| FailureCause::Credential)?;
    let scheme = match target.protocol {
        Protocol::Http => "http",
        Protocol::Https => "https",
        Protocol::Ssh => return Err(FailureCause::Protocol),
    };
    let settings = target.session_settings.as_ref();
    let name = match settings.and_then(|s| s.get(TLS_NAME_KEY)) {
        None => target.host.as_str(),
        Some(configured) => configured.as_str().filter(|n| is_dns_name(n)).ok_or(FailureCause::Settings)?,
    };
    let base = device_base(scheme, name, &target.address, target.port).ok_or(FailureCause::Unreachable)?;
    let inject =
        credential_headers(settings, &target.username, target.secret.password()).map_err(|_| FailureCause::Settings)?;
    let tls = match settings.and_then(|s| s.get(TLS_PIN_KEY)).and_then(|v| v.as_str()) {
        Some(pem) => UpstreamTls::Roots(pem.as_bytes().to_vec()),
        None => UpstreamTls::Default,
    };
    let public_origin = Url::parse(&state.origin_of(&session.session_id)).map_err(|_| FailureCause::Settings)?;
    let password = target.secret.password();
    let secrets = vec![Zeroizing::new(password.to_owned()), Zeroizing::new(format!("{}:{password}", target.username))];
    let address = Some(target.address.clone());
    Ok(Upstream { base, address, inject, public_origin, own_cookie: state.cookie_name(), tls, client, secrets })
}

/// A name TLS can check and a URL can carry as a name: not an address literal.
fn is_dns_name(name: &str) -> bool {
    name.parse::<IpAddr>().is_err() && ServerName::try_from(name).is_ok()
}

/// The device's origin under its name when the name can be one, so TLS and `Host` name it as
/// the session does; under its address otherwise (a name that is an address literal, or one a
/// URL cannot carry), which the certificate must then name.
fn device_base(scheme: &str, name: &str, address: &str, port: u16) -> Option<Url> {
    let origin = |host: &str| {
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
        Url::parse(&format!("{scheme}://{host}:{port}")).ok().filter(|url| url.host_str().is_some())
    };
    // A URL reads some names as addresses (`10.1` is 10.0.0.1): those are not taken as names.
    let named = is_dns_name(name)
        .then(|| origin(name))
        .flatten()
        .filter(|url| url.host_str().is_some_and(|h| h.parse::<IpAddr>().is_err()));
    named.or_else(|| origin(address))
}

/// cofre's session cookie `name` among a request's `Cookie` headers.
pub(super) fn session_cookie_in(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
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

#[cfg(test)]
mod tests {
    use super::device_base;

    #[test]
    fn a_device_is_named_by_its_name_when_it_can_be() {
        let base = |name: &str, address: &str| device_base("https", name, address, 8443).map(|u| u.to_string());
        assert_eq!(base("web01", "10.0.0.5").as_deref(), Some("https://web01:8443/"));
        assert_eq!(base("10.0.0.9", "10.0.0.5").as_deref(), Some("https://10.0.0.5:8443/"), "a literal is not a name");
        assert_eq!(base("10.1", "10.0.0.5").as_deref(), Some("https://10.0.0.5:8443/"), "nor what a URL reads as one");
        assert_eq!(base("web 01", "::1").as_deref(), Some("https://[::1]:8443/"));
        assert_eq!(base("web 01", "not an address"), None);
    }
}
