//! `POST /iso/remote/session` (also `/api/…`): form, multipart or JSON.

use axum::Extension;
use axum::extract::State;
use serde_json::json;

use crate::domain::authorization::{Caller, Resource};
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::middleware::RequestContext;
use crate::http::params::Params;
use crate::service::sessions::tickets::{self, TicketRequest};
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    caller: Caller,
    params: Params,
) -> ApiResult<Reply> {
    // The module and read-only checks come before any parameter is read (§2.4).
    crate::service::access::require_write(&caller, Resource::Sessions)?;
    let request = TicketRequest {
        user: params.text("user")?,
        credential: params.text("credential")?,
        device: params.text("device")?,
        protocol: params.text("protocol")?,
        port: params.text("port")?,
        remote_addr: params.text("remoteAddr")?.or(params.text("remoteaddr")?),
        screensize: params.text("screensize")?,
    };
    let user = request.user.clone();
    let ticket = tickets::create(&state.core, &caller, request).await?;
    // The audit names the user the session is for (the parameters are masked there).
    context.note("session_user", user.unwrap_or_default().trim());
    Ok(Reply::ok("Session created successfully")
        .with("session", json!({"session_url": ticket.session_url.as_str(), "token": ticket.token.as_str()})))
}
