//! `GET /iso/session/remotesessions[/{id}]` and `DELETE /iso/session/drop/{session_id}` (§8),
//! with the contract's mixed Portuguese and English keys.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::domain::authorization::Caller;
use crate::domain::sessions::{RemoteSession, hms};
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::pam::datetime;
use crate::service::sessions::control::{self, Scope};
use crate::state::AppState;

/// One `remote_sessions[]` item; `now` gives a live session's running time. `failure` is cofre's
/// own (not in the contract): why a session that failed did (`connection_refused`, `tls`, …),
/// empty otherwise, as `end` is while a session is live.
pub fn session_json(s: &RemoteSession, now: i64) -> Value {
    let text = |v: Value| if v.is_null() { Value::String(String::new()) } else { v };
    json!({
        "id": s.id.to_string(),
        "user": s.username,
        "origin_ip": s.origin_ip,
        "credencial": s.credential_label,
        "dispositivo": s.device_label,
        "protocol": s.protocol.as_str(),
        "proxy": s.protocol.proxy_name(),
        "session_id": s.session_id,
        "start": text(datetime(Some(s.started_at))),
        "end": text(datetime(s.ended_at)),
        "time": hms(s.ended_at.unwrap_or(now) - s.started_at),
        "prevent_purge": "Não",
        "request": "",
        "ITSM": "",
        "failure": s.failure.as_deref().unwrap_or_default(),
    })
}

pub fn list_reply(sessions: &[RemoteSession], now: i64) -> Reply {
    Reply::ok(format!("{} sessions found", sessions.len()))
        .with("remote_sessions", Value::Array(sessions.iter().map(|s| session_json(s, now)).collect()))
}

pub fn show_reply(s: &RemoteSession, now: i64) -> Reply {
    Reply::ok("Session found").with("remote_sessions", Value::Array(vec![session_json(s, now)]))
}

pub const DROPPED: &str = "Sessão interrompida com sucesso";

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    let scope = control::scope_for(&caller, false)?;
    Ok(list_reply(&control::list(&state.core, scope).await?, state.core.now()))
}

pub async fn show(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Reply> {
    let scope = control::scope_for(&caller, false)?;
    Ok(show_reply(&control::show(&state.core, scope, &id).await?, state.core.now()))
}

pub async fn drop_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> ApiResult<Reply> {
    let scope = control::scope_for(&caller, true)?;
    // §8: the contract answers any failure, an unknown id included, with this 500.
    let not_live = || ApiError::operation_failed("An error occurred while droping session");
    drop_in(&state, &caller, scope, &session_id, not_live).await
}

/// Drops the session, or answers `not_live()` when the scope sees no live session by that id.
pub async fn drop_in(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    session_id: &str,
    not_live: impl FnOnce() -> ApiError,
) -> ApiResult<Reply> {
    let actor = (caller.authorization.application_id, caller.authorization.id);
    if control::drop_session(&state.core, &state.audit, scope, session_id, Some(actor)).await? {
        Ok(Reply::ok(DROPPED))
    } else {
        Err(not_live())
    }
}
