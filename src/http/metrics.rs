//! `/metrics`: Prometheus text for a scraper on this machine, or elsewhere with the configured
//! bearer token. Outside authentication and audit, like the probes. The client is resolved as
//! for any request, so a reverse proxy on loopback does not open it to the world.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::crypto::ct_eq;
use crate::domain::network::resolve_client_ip;
use crate::metrics::{METRICS, PoolLabels};
use crate::state::AppState;

pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let loopback =
        resolve_client_ip(peer, &state.core.config.trusted_proxies, forwarded).is_ok_and(|ip| ip.is_loopback());
    let token = &state.core.config.metrics_token;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| !token.is_empty() && ct_eq(t.as_bytes(), token.as_bytes()));
    if !loopback && !presented {
        return (StatusCode::FORBIDDEN, "metrics are served to loopback clients or with the metrics token\n")
            .into_response();
    }
    METRICS.audit_queue.set(i64::try_from(state.audit.queue_depth()).unwrap_or(i64::MAX));
    METRICS.live_sessions.set(i64::try_from(state.live.count()).unwrap_or(i64::MAX));
    for (pool, size, idle) in state.core.store.pool_stats() {
        let idle = i64::try_from(idle).unwrap_or(0);
        METRICS.store_connections.get_or_create(&PoolLabels { pool, state: "idle" }).set(idle);
        METRICS.store_connections.get_or_create(&PoolLabels { pool, state: "busy" }).set(i64::from(size) - idle);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], METRICS.render()).into_response()
}
