//! Admin: remote sessions, all of them, through the same service as `/iso/session/…`.

use axum::extract::State;

use super::{can_read, can_write};
use crate::domain::authorization::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::path::Segments;
use crate::http::sessions::records::{drop_in, list_reply, show_reply};
use crate::service::sessions::control::{self, Scope};
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    Ok(list_reply(&control::list(&state.core, Scope::All).await?, state.core.now()))
}

pub async fn show(State(state): State<AppState>, caller: Caller, Segments(id): Segments<String>) -> ApiResult<Reply> {
    can_read(&caller)?;
    Ok(show_reply(&control::show(&state.core, Scope::All, &id).await?, state.core.now()))
}

pub async fn drop_session(
    State(state): State<AppState>,
    caller: Caller,
    Segments(session_id): Segments<String>,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    // cofre's own API says what it means: no live session is a 404, not the contract's 500.
    let not_live = || ApiError::not_found("No live session has this id.");
    drop_in(&state, &caller, Scope::All, &session_id, not_live).await
}

pub async fn recording(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> ApiResult<axum::response::Response> {
    can_read(&caller)?;
    let (session, cast) = control::recording(&state.core, Scope::All, &id).await?;
    Ok(crate::http::sessions::recordings::cast_response(&session, &cast))
}
