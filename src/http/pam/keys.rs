//! SSH keys (§5): `/pam/key` and `/pam/key/{key}`.

use axum::extract::State;
use serde_json::{Value, json};

use crate::domain::authorization::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::ItemKey;
use crate::service::pam::keys::{self, KeyInput};
use crate::state::AppState;

fn devices_json(devices: &[(String, String)]) -> Value {
    Value::Array(devices.iter().map(|(h, ip)| json!({"hostname": h, "ip": ip})).collect())
}

/// `devices` as `[{"hostname": …}]`, or hostnames in any encoding `Params::list` reads.
fn device_list(params: &Params) -> ApiResult<Vec<String>> {
    if let Ok(Some(hostnames)) = params.list("devices") {
        return Ok(hostnames);
    }
    match params.raw("devices") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.get("hostname").and_then(Value::as_str).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::bad_request("Parameter 'devices' must be a list of {\"hostname\": …} objects.")),
        Some(_) => Err(ApiError::bad_request("Parameter 'devices' must be a list of {\"hostname\": …} objects.")),
    }
}

pub async fn upsert(State(state): State<AppState>, caller: Caller, mut params: Params) -> ApiResult<Reply> {
    let input = KeyInput {
        identifier: params.text("identifier")?,
        hostname: params.text("hostname")?,
        ip: params.text("ip")?,
        private_key: params.take_secret("private_key")?,
        public_key: params.text("public_key")?,
        username: params.text("username")?,
        enabled: params.flag("enabled")?,
        devices: device_list(&params)?,
        tags: params.list_text("tags")?,
        key_name: params.text("key_name")?,
        passphrase: params.take_secret("password")?,
        expiration_time: params.text("expiration_time")?,
        session_settings: params.object("session_settings")?,
    };
    let saved = keys::upsert(&state.core, &caller, input).await?;
    let entity = json!({
        "id": saved.credential.id.to_string(),
        "identifier": saved.credential.identifier,
        "devices": devices_json(&saved.devices),
        "devices_error": saved.devices_error,
    });
    Ok(Reply::created("Key successfully registered!").with("key", entity))
}

pub async fn show(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    let r = keys::reveal(&state.core, &caller, &key).await?;
    let c = &r.found.credential;
    // The contract shows private keys with CRLF line breaks.
    let private_key = r.private_key.replace("\r\n", "\n").replace('\n', "\r\n");
    let entity = json!({
        "id": c.id.to_string(),
        "username": c.username,
        "key_name": c.key_name,
        "hostname": r.found.device.hostname,
        "ip": r.found.device.ip,
        "private_key": private_key,
        "public_key": c.public_key,
        "password": r.passphrase.as_str(),
        "tags": c.tags,
        "devices": devices_json(&r.devices),
        "expiration_time": c.expiration_time,
    });
    Ok(Reply::ok(format!("Key {}", c.id))
        .with("tenant", Value::String(state.core.config.tenant.clone()))
        .with("key", entity))
}

pub async fn enable(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    keys::set_enabled(&state.core, &caller, &key, true).await?;
    Ok(Reply::ok("Key successfully activated"))
}

pub async fn disable(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    keys::set_enabled(&state.core, &caller, &key, false).await?;
    Ok(Reply::ok("Key successfully deactivated"))
}
