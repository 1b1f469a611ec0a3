//! Admin: API tokens. A static token's value is returned at creation and regeneration only.

use axum::extract::State;
use serde_json::{Value, json};

use super::{can_read, can_write, expiry, time_text};
use crate::domain::authorization::{Caller, Scopes};
use crate::domain::network::IpAllowList;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::auth::api_tokens::{self, NewToken, TokenKind, TokenSummary};
use crate::state::AppState;

fn token_json(t: &TokenSummary) -> Value {
    json!({
        "id": t.row.id.to_string(),
        "name": t.row.name,
        "description": t.row.description,
        "type": t.row.kind,
        "scope": t.scopes,
        "allowed_ips": t.allowed_ips,
        "expires_at": time_text(t.expires_at),
        "lifetime_minutes": t.row.lifetime_minutes,
        "enabled": t.enabled,
    })
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let all = api_tokens::list(&state.core).await?;
    Ok(Reply::ok(format!("{} tokens found", all.len()))
        .with("tokens", Value::Array(all.iter().map(token_json).collect())))
}

pub async fn create(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let scope = params.list_text("scope")?.unwrap_or_default();
    let new = NewToken {
        name: params.text("name")?.ok_or_else(|| ApiError::bad_request("Parameter 'name' was not informed."))?,
        description: params.text("description")?.unwrap_or_default(),
        kind: match params.text("type")? {
            Some(kind) => kind.parse().map_err(|e| ApiError::bad_request(format!("Parameter 'type': {e}.")))?,
            None => TokenKind::Static,
        },
        scopes: Scopes::parse_list(&scope).map_err(|e| ApiError::bad_request(format!("Parameter 'scope': {e}.")))?,
        allowed_ips: match super::list_param(&params, "allowed_ips")? {
            Some(entries) => IpAllowList::parse(entries.iter().map(String::as_str))
                .map_err(|e| ApiError::bad_request(format!("Parameter 'allowed_ips': {e}.")))?,
            None => IpAllowList::Any,
        },
        expires_at: expiry(&params, "expires_at")?.flatten(),
        user: params.text("user")?,
    };
    let created = api_tokens::create(&state.core, new).await?;
    Ok(Reply::created("Token successfully registered!").with(
        "token",
        json!({"token_id": created.token_id.to_string(), "token": created.token.as_ref().map(|t| t.as_str())}),
    ))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Segments(key): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let expires_at = expiry(&params, "expires_at")?
        .ok_or_else(|| ApiError::bad_request("Parameter 'expires_at' was not informed."))?;
    api_tokens::set_expiry(&state.core, &key, expires_at).await?;
    Ok(Reply::ok("Token successfully updated!"))
}

pub async fn regenerate(
    State(state): State<AppState>,
    caller: Caller,
    Segments(key): Segments<String>,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let value = api_tokens::regenerate(&state.core, &key).await?;
    Ok(Reply::ok("Token regenerated").with("token", json!({"token": value.as_str()})))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Segments(key): Segments<String>,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    api_tokens::delete(&state.core, &key).await?;
    Ok(Reply::ok("Token successfully deleted!"))
}
