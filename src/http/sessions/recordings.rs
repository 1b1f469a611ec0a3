//! `GET /iso/session/remotesessions/{id}/recording`: an SSH session's terminal recording as an
//! asciicast v2 file (what `asciinema play` plays), for whoever may show the session.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::domain::authorization::Caller;
use crate::domain::sessions::RemoteSession;
use crate::error::ApiResult;
use crate::service::sessions::control;
use crate::state::AppState;

pub async fn download(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let scope = control::scope_for(&caller, false)?;
    let (session, cast) = control::recording(&state.core, scope, &id).await?;
    Ok(cast_response(&session, &cast))
}

/// The asciicast as a file download.
pub fn cast_response(session: &RemoteSession, cast: &[u8]) -> Response {
    let mut response = cast.to_vec().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-asciicast"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("attachment; filename=\"session-{}.cast\"", session.session_id);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
