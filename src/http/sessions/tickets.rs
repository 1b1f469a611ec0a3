//! `POST /iso/remote/session` (also `/api/…`): form, multipart or JSON.

use axum::extract::State;
use serde_json::json;

use crate::domain::authorization::Caller;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::service::sessions::tickets::{self, TicketRequest};
use crate::state::AppState;

pub async fn create(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    // The module and read-only checks come before any parameter is read (§2.4).
    crate::service::access::require_write(&caller, crate::domain::authorization::Resource::Sessions)?;
    let request = TicketRequest {
        user: params.text("user")?,
        credential: params.text("credential")?,
        device: params.text("device")?,
        protocol: params.text("protocol")?,
        port: params.text("port")?,
        remote_addr: params.text("remoteAddr")?.or(params.text("remoteaddr")?),
        screensize: params.text("screensize")?,
    };
    let ticket = tickets::create(&state.core, &caller, request).await?;
    Ok(Reply::ok("Session created successfully")
        .with("session", json!({"session_url": ticket.session_url.as_str(), "token": ticket.token.as_str()})))
}
