//! The router: every family mounted from one table under both `/iso` and `/api`.

pub mod admin;
pub mod auth;
pub mod certificates;
pub mod dashboards;
pub mod drain;
pub mod dsm;
pub mod envelope;
pub mod health;
mod metrics;
pub mod middleware;
pub mod mysafe;
pub mod openapi;
pub mod pam;
pub mod params;
pub mod path;
pub mod proxy;
pub mod routes;
pub mod scim;
pub mod sessions;
pub mod terminal;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;
use routes::RouteTable;

/// The route table, relative to the `/iso` and `/api` prefixes. Token endpoints authenticate
/// their clients themselves; every other route sits behind `auth::authenticate`.
fn families(state: &AppState) -> RouteTable<AppState> {
    let protected = RouteTable::new()
        .route("/pam/info", post(pam::info::register))
        .route("/pam/info/{key}", get(pam::info::show).delete(pam::info::disable))
        .route(
            "/pam/credential",
            get(pam::credentials::list).post(pam::credentials::upsert).delete(pam::credentials::disable_by_param),
        )
        .route(
            "/pam/credential/{key}",
            get(pam::credentials::show).put(pam::credentials::enable).delete(pam::credentials::disable),
        )
        .route("/pam/credential/custody/{key}", delete(pam::credentials::release))
        .route("/coe/senha/{key}", get(pam::legacy::show))
        .route("/pam/device", get(pam::devices::list).post(pam::devices::upsert).delete(pam::devices::disable_by_param))
        .route("/pam/device/{key}", get(pam::devices::show).put(pam::devices::enable).delete(pam::devices::disable))
        .route("/pam/key", post(pam::keys::upsert))
        .route("/pam/key/{key}", get(pam::keys::show).put(pam::keys::enable).delete(pam::keys::disable))
        .route("/user/related", get(pam::related::list).post(pam::related::create).put(pam::related::update_by_body))
        .route("/user/related/{id}", get(pam::related::show).put(pam::related::update).delete(pam::related::deactivate))
        .merge(mysafe_routes(state.core.config.mysafe_file_limit))
        .route("/dapp/application", get(dsm::registration::show).post(dsm::registration::register))
        .route("/dapp/application/authorization", delete(dsm::registration::revoke))
        .route("/sctm/secret", get(dsm::secrets::list_secrets).post(dsm::secrets::put_secret))
        .route("/sctm/secret/{*identity}", get(dsm::secrets::show_secret))
        .route("/cicd/variables", post(dsm::secrets::variables))
        .route("/coe/dapp/provision", post(dsm::secrets::provision))
        .route("/coe/dapp/deprovision", post(dsm::secrets::deprovision))
        .route("/dapp/deprovision", post(dsm::secrets::deprovision))
        .route("/remote/session", post(sessions::tickets::create))
        .route("/session/remotesessions", get(sessions::records::list))
        .route("/session/remotesessions/{id}", get(sessions::records::show))
        .route("/session/remotesessions/{id}/recording", get(sessions::recordings::download))
        .route("/session/drop/{session_id}", delete(sessions::records::drop_session))
        .route("/coge/sessoes/{p}", get(dashboards::sessions::pt))
        .route("/dash/sessions/{p}", get(dashboards::sessions::en))
        .route("/coge/risco/{m}", get(dashboards::risk::pt))
        .route("/dash/risk/{m}", get(dashboards::risk::en))
        .route("/coge/credenciais/{s}", get(dashboards::credentials::pt))
        .route("/dash/credentials/{s}", get(dashboards::credentials::en))
        .merge(certificate_routes())
        .merge(admin::routes())
        .map_router(|router| {
            router.route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        });
    RouteTable::new()
        .route("/oauth2/token", get(auth::oauth2::token).post(auth::oauth2::token))
        .route("/get_auth_token", get(auth::api_tokens::get_auth_token).post(auth::api_tokens::get_auth_token))
        .merge(protected)
        .nest("/scim/v2", scim::authenticated(state))
}

/// Certificates (§13.2): the English `certificate` and the Portuguese `certificado` paths, as
/// (base, sign, list, import, scan, whether the list's segment is a request code).
pub const CERTIFICATE_PATHS: [(&str, &str, &str, &str, &str, bool); 2] = [
    ("/certificate", "sign", "list", "import", "scan", true),
    ("/certificado", "assinar", "listar", "importar", "descobrir", false),
];

/// Publication: the contract's Portuguese `cert` paths and English ones beside them, as
/// (base, profile, publish, list).
pub const PUBLISHING_PATHS: [(&str, &str, &str, &str); 2] =
    [("/cert", "perfil", "publicar", "listar"), ("/certificate", "profile", "publish", "list")];

fn certificate_routes() -> RouteTable<AppState> {
    use certificates::{authorities, imports, issued, publishing, requests};
    let mut routes = RouteTable::new();
    for (base, sign, list, import, scan, list_by_code) in CERTIFICATE_PATHS {
        let list_one = if list_by_code { get(issued::list_code) } else { get(issued::list_id) };
        routes = routes
            .route(&format!("{base}/request/{{code}}"), post(requests::submit))
            .route(&format!("{base}/request/list"), get(requests::list))
            .route(&format!("{base}/request/list/{{code}}"), get(requests::list_code))
            .route(&format!("{base}/request/{sign}/{{code}}"), get(issued::sign))
            .route(&format!("{base}/{list}"), get(issued::list))
            .route(&format!("{base}/{list}/{{id}}"), list_one)
            .route(&format!("{base}/export/{{id}}"), post(issued::export))
            .route(&format!("{base}/revoke/{{id}}"), post(issued::revoke))
            .route(&format!("{base}/renewal/{{id}}"), post(issued::renewal))
            .route(&format!("{base}/{import}"), post(imports::import))
            .route(&format!("{base}/{scan}"), post(imports::scan))
            .route(&format!("{base}/ca/{{key}}"), get(authorities::show))
            .route(&format!("{base}/ca/{{key}}/crl"), get(authorities::crl));
    }
    for (base, profile, publish, list) in PUBLISHING_PATHS {
        routes = routes
            .route(&format!("{base}/{profile}/{{kind}}"), post(publishing::save_profile))
            .route(&format!("{base}/{publish}"), post(publishing::publish))
            .route(&format!("{base}/{publish}/{list}/{{id}}"), get(publishing::list));
    }
    routes
}

/// MySafe: one set of routes per kind, as §11 prints them.
fn mysafe_routes(file_limit: usize) -> RouteTable<AppState> {
    use mysafe::files;
    use mysafe::items::{self, api_secrets, notes, passwords};
    let upload_limit = DefaultBodyLimit::max(file_limit + 1024 * 1024);
    RouteTable::new()
        .route("/mysafe/password", get(passwords::list).post(passwords::create))
        .route("/mysafe/password/{key}", get(passwords::show))
        .route("/mysafe/password/update/{key}", put(passwords::update))
        .route("/mysafe/password/active/{key}", post(items::password_path_active))
        .route("/mysafe/password/inactive/{key}", post(items::password_path_inactive))
        .route("/mysafe/note", get(notes::list).post(notes::create))
        .route("/mysafe/note/{key}", get(notes::show))
        .route("/mysafe/note/update/{key}", put(notes::update))
        .route("/mysafe/note/active/{key}", post(notes::activate))
        .route("/mysafe/note/inactive/{key}", post(notes::deactivate))
        .route("/mysafe/secretapi", get(api_secrets::list).post(api_secrets::create))
        .route("/mysafe/secretapi/{key}", get(api_secrets::show))
        .route("/mysafe/secretapi/update/{key}", put(api_secrets::update))
        .route("/mysafe/secretapi/active/{key}", post(api_secrets::activate))
        .route("/mysafe/secretapi/inactive/{key}", post(api_secrets::deactivate))
        .route("/mysafe/file", get(files::list).post(files::upload).layer(upload_limit))
        .route("/mysafe/file/{key}", get(files::show))
        .route("/mysafe/file/update/{key}", put(files::update).layer(upload_limit))
        .route("/mysafe/file/active/{key}", post(files::activate))
        .route("/mysafe/file/inactive/{key}", post(files::deactivate))
}

/// Every API route: the families under `/iso` and `/api`, SCIM at the root too, the session
/// ticket, the probes, metrics and the API's own description.
pub fn routes(state: &AppState) -> RouteTable<AppState> {
    RouteTable::new()
        .nest("/iso", families(state))
        .nest("/api", families(state))
        .nest("/scim/v2", scim::authenticated(state))
        // Unauthenticated: the single-use ticket in the query is the credential.
        .route("/modulos/auth", get(sessions::redeem::redeem))
        .merge(openapi::routes())
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.core.config.body_limit;
    routes(&state)
        .into_router()
        .fallback(unrouted)
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        // Innermost first: a panic becomes a 500 envelope that is still audited.
        .layer(CatchPanicLayer::custom(|_| panic_response()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::audited))
        .layer(DefaultBodyLimit::max(body_limit))
        // Spans carry method and path only: query strings may hold credentials.
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &Request<_>| tracing::info_span!("http.request", method = %req.method(), path = %req.uri().path()),
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION]))
        .merge(probes().into_router())
        .with_state(state)
}

/// The probes and metrics, served outside the audit trail.
fn probes() -> RouteTable<AppState> {
    RouteTable::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
}

/// Every path the API listener serves, in axum's template syntax: what `/openapi.json` is held to.
pub fn registered_paths(state: &AppState) -> Vec<String> {
    let mut paths = routes(state).paths().to_vec();
    paths.extend(probes().paths().iter().cloned());
    paths
}

/// What a path that matches no route is told: a SCIM error under any SCIM base (as SCIM
/// clients expect), the contract's 404 "Resource sub not found" under a known family (§1.5),
/// the dashboards' 404 "Resource/sub-resource not found" (a missing path parameter), and the
/// gateway's "No route matched" anywhere else.
async fn unrouted(uri: axum::http::Uri) -> Response {
    const FAMILIES: [&str; 13] = [
        "admin",
        "cert",
        "certificado",
        "certificate",
        "cicd",
        "coe",
        "dapp",
        "mysafe",
        "pam",
        "remote",
        "sctm",
        "session",
        "user",
    ];
    let segments: Vec<&str> = uri.path().split('/').skip(1).collect();
    match segments.as_slice() {
        ["scim", "v2", ..] | ["iso" | "api", "scim", "v2", ..] => scim::discovery::unknown().await.into_response(),
        ["iso" | "api", "coge" | "dash", ..] => ApiError::not_found("Resource/sub-resource not found").into_response(),
        ["iso" | "api", family, ..] if FAMILIES.contains(family) => {
            ApiError::not_found("Resource sub not found").into_response()
        }
        _ => ApiError::no_route().into_response(),
    }
}

fn panic_response() -> Response {
    ApiError::internal(&"handler panicked").into_response()
}
