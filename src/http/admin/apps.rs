//! Admin: applications and their authorizations.

use axum::extract::State;
use serde_json::{Value, json};

use super::{can_read, can_write, expiry, list_param, number, time_text};
use crate::domain::authorization::ApplicationSummary;
use crate::domain::authorization::{Access, Authorization, Caller, ItemKind, Resource, Resources};
use crate::domain::network::IpAllowList;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::admin::apps::{self, AuthMethods, AuthorizationChanges, NewApplication};
use crate::state::AppState;

pub fn authorization_json(z: &Authorization) -> Value {
    json!({
        "id": z.id.to_string(),
        "client_id": z.client_id,
        "enabled": z.enabled,
        "resources": z.resources.to_stored(),
        "read_only": z.read_only,
        "allowed_ips": z.allowed_ips.to_stored(),
        "allowed_referers": z.allowed_referers,
        "expires_at": time_text(z.expires_at),
        "scopes": z.scopes.as_ref().map(|s| s.to_stored()),
        "acting_user_id": z.acting_user_id.map(|u| u.to_string()),
    })
}

fn application_json(app: &ApplicationSummary) -> Value {
    json!({
        "id": app.id.to_string(),
        "name": app.name,
        "enabled": app.enabled,
        "auth_methods": app.auth_methods,
        "authorizations": app.authorizations.iter().map(authorization_json).collect::<Vec<_>>(),
    })
}

fn resources(params: &Params, name: &str) -> ApiResult<Option<Resources>> {
    match list_param(params, name)? {
        None => Ok(None),
        Some(names) => names
            .iter()
            .map(|n| n.parse::<Resource>())
            .collect::<Result<Resources, _>>()
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("Parameter '{name}': {e}."))),
    }
}

fn ips(params: &Params) -> ApiResult<Option<IpAllowList>> {
    match list_param(params, "allowed_ips")? {
        None => Ok(None),
        Some(entries) => IpAllowList::parse(entries.iter().map(String::as_str))
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("Parameter 'allowed_ips': {e}."))),
    }
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let apps = apps::list_applications(&state.core).await?;
    Ok(Reply::ok(format!("{} applications found", apps.len()))
        .with("applications", Value::Array(apps.iter().map(application_json).collect())))
}

pub async fn show(State(state): State<AppState>, caller: Caller, Segments(id): Segments<String>) -> ApiResult<Reply> {
    can_read(&caller)?;
    let app = apps::application(&state.core, number(&id, "Application")?).await?;
    Ok(Reply::ok(format!("Application {}", app.id)).with("application", application_json(&app)))
}

pub async fn create(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let name = params.text("name")?.ok_or_else(|| ApiError::bad_request("Parameter 'name' was not informed."))?;
    let methods = match params.list_text("auth")? {
        Some(list) => {
            AuthMethods::parse_list(&list).map_err(|e| ApiError::bad_request(format!("Parameter 'auth': {e}.")))?
        }
        None => AuthMethods { oauth2: true, ..AuthMethods::default() },
    };
    let new = NewApplication {
        name,
        resources: resources(&params, "resources")?.unwrap_or_default(),
        read_only: params.flag("read_only")?.unwrap_or(false),
        allowed_ips: ips(&params)?.unwrap_or_default(),
        allowed_referers: list_param(&params, "allowed_referers")?.unwrap_or_default(),
        expires_at: expiry(&params, "expires_at")?.flatten(),
        methods,
        oauth1_unsigned: params.flag("oauth1_unsigned")?.unwrap_or(false),
        owner: params.text("owner")?,
    };
    let created = apps::create_application(&state.core, new).await?;
    Ok(Reply::created("Application successfully registered!").with("application", created.to_json()))
}

async fn set_enabled(state: &AppState, caller: &Caller, id: &str, enabled: bool) -> ApiResult<Reply> {
    can_write(caller)?;
    let id = number(id, "Application")?;
    apps::set_application_enabled(&state.core, id, enabled).await?;
    let word = if enabled { "activated" } else { "deactivated" };
    Ok(Reply::ok(format!("Application successfully {word}")))
}

pub async fn enable(State(state): State<AppState>, caller: Caller, Segments(id): Segments<String>) -> ApiResult<Reply> {
    set_enabled(&state, &caller, &id, true).await
}

pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> ApiResult<Reply> {
    set_enabled(&state, &caller, &id, false).await
}

/// Links the items named by `info`, `credential` and `device` (ids or identifiers), for reading,
/// or for reading and writing with `write=true`.
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let app_id = number(&id, "Application")?;
    let access = if params.flag("write")?.unwrap_or(false) { Access::Write } else { Access::Read };
    let mut linked = 0;
    for (name, kind) in [("info", ItemKind::Info), ("credential", ItemKind::Credential), ("device", ItemKind::Device)] {
        for key in list_param(&params, name)?.unwrap_or_default() {
            apps::set_link(&state.core, app_id, kind, &key, Some(access)).await?;
            linked += 1;
        }
    }
    if linked == 0 {
        return Err(ApiError::bad_request("Name an item to link: 'info', 'credential' or 'device'."));
    }
    Ok(Reply::ok(format!("{linked} items linked")))
}

pub async fn unlink(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, kind, item)): Segments<(String, String, String)>,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let kind = match kind.as_str() {
        "info" => ItemKind::Info,
        "credential" => ItemKind::Credential,
        "device" => ItemKind::Device,
        _ => return Err(ApiError::not_found(format!("No item kind {kind:?}."))),
    };
    let item = apps::set_link(&state.core, number(&id, "Application")?, kind, &item, None).await?;
    Ok(Reply::ok(format!("Item {item} unlinked")))
}

pub async fn update_authorization(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let changes = AuthorizationChanges {
        resources: resources(&params, "resources")?,
        read_only: params.flag("read_only")?,
        allowed_ips: ips(&params)?,
        allowed_referers: list_param(&params, "allowed_referers")?,
        expires_at: expiry(&params, "expires_at")?,
        enabled: params.flag("enabled")?,
    };
    let updated = apps::update_authorization(&state.core, number(&id, "Authorization")?, changes).await?;
    Ok(Reply::ok("Authorization successfully updated").with("authorization", authorization_json(&updated)))
}

pub async fn regenerate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let secret = apps::regenerate_secret(&state.core, number(&id, "Authorization")?).await?;
    Ok(Reply::ok("Client secret regenerated")
        .with("authorization", json!({"id": id, "client_secret": secret.as_str()})))
}
