//! Protected information routes (contract §7): `/pam/info` and `/pam/info/{id or identifier}`.

use axum::extract::State;
use serde_json::json;

use super::super::envelope::Reply;
use super::super::params::Params;
use super::super::path::ItemKey;
use crate::domain::authorization::Caller;
use crate::domain::info::InfoInput;
use crate::error::ApiResult;
use crate::service::pam::info;
use crate::state::AppState;

/// POST: register, or update the caller's item with the same identifier.
pub async fn register(State(state): State<AppState>, caller: Caller, mut params: Params) -> ApiResult<Reply> {
    let input = InfoInput {
        identifier: params.text("identifier")?,
        name: params.text("name")?,
        info_type: params.text("type")?,
        service: params.text("service")?,
        url: params.text("url")?,
        users_allowed: params.list_text("users_allowed")?,
        content: params.take_secret("content")?.unwrap_or_default(),
    };
    let registered = info::register(&state.core, &caller, input).await?;
    let record = &registered.view.record;
    let entity = json!({
        "name": record.name,
        "type": record.info_type,
        "service": record.service,
        "url": record.url,
        "content": registered.view.content.as_str(),
        "users_allowed": record.users_allowed,
        "identifier": record.identifier,
    });
    let message =
        if registered.created { "Information successfully registered!" } else { "Information successfully updated!" };
    Ok(Reply::created(message).with("info", entity))
}

/// GET: the item with its content.
pub async fn show(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    let view = info::get(&state.core, &caller, &key).await?;
    let record = &view.record;
    let entity = json!({
        "id": record.id.to_string(),
        "tag": record.name,
        "type": record.info_type,
        "content": view.content.as_str(),
    });
    Ok(Reply::ok(format!("Information {}", record.id)).with("info", entity))
}

/// DELETE: disables the item.
pub async fn disable(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    info::disable(&state.core, &caller, &key).await?;
    Ok(Reply::ok("Information successfully disabled"))
}
