//! Liveness and readiness, outside authentication and audit (probes would flood the trail).

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// How long readiness waits for its heartbeat to commit: a probe's own timeout is often 1-3 s.
const READY_DEADLINE: Duration = Duration::from_secs(2);

pub async fn health() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Ready when a write commits in time (see `service::readiness`), else 503 with Retry-After.
pub async fn ready(State(state): State<AppState>) -> axum::response::Response {
    if state.core.store_ready(READY_DEADLINE).await {
        (StatusCode::OK, axum::Json(json!({"status": "ready"}))).into_response()
    } else {
        let retry = [(header::RETRY_AFTER, "2")];
        (StatusCode::SERVICE_UNAVAILABLE, retry, axum::Json(json!({"status": "store unavailable"}))).into_response()
    }
}
