//! Devices (§4): `/pam/device` and `/pam/device/{id, identifier or hostname}`.

use axum::extract::State;
use serde_json::{Value, json};

use super::key_param;
use crate::domain::authorization::Caller;
use crate::domain::pam::Device;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::ItemKey;
use crate::service::pam::devices::{self, DeviceInput};
use crate::state::AppState;

pub fn device_json(d: &Device) -> Value {
    json!({
        "id": d.id.to_string(),
        "hostname": d.hostname,
        "ip": d.ip,
        "model": d.model,
        "type": d.device_type,
        "vendor": d.vendor,
        "site": d.site,
        "device_domain": d.device_domain,
        "connectivities": d.connectivities,
        "session_remote_config": d.session_remote_config,
        "device_tags": d.device_tags,
    })
}

fn tenant(state: &AppState) -> Value {
    Value::String(state.core.config.tenant.clone())
}

pub async fn upsert(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    let input = DeviceInput {
        identifier: params.text("identifier")?,
        hostname: params.text("hostname")?,
        ip: params.text("ip")?,
        model: params.text("model")?,
        device_type: params.text("type")?,
        vendor: params.text("vendor")?,
        site: params.text("site")?,
        device_domain: params.list_text("device_domain")?,
        connectivities: params.list_text("connectivities")?,
        session_remote_config: params.text("session_remote_config")?,
        device_tags: params.list_text("device_tags")?,
    };
    let (device, _created) = devices::upsert(&state.core, &caller, input).await?;
    Ok(Reply::created("Device successfully registered!")
        .with("tenant", tenant(&state))
        .with("device", device_json(&device)))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    let all = devices::list(&state.core, &caller).await?;
    let items: Vec<Value> = all
        .iter()
        .map(|d| {
            json!({"id": d.id.to_string(), "hostname": d.hostname, "ip": d.ip, "model": d.model,
                        "type": d.device_type, "vendor": d.vendor, "site": d.site, "tags": d.device_tags})
        })
        .collect();
    Ok(Reply::ok(format!("{} devices found", items.len())).with("devices", Value::Array(items)))
}

pub async fn show(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    let device = devices::get(&state.core, &caller, &key).await?;
    Ok(Reply::ok(format!("Device {}", device.id)).with("tenant", tenant(&state)).with("device", device_json(&device)))
}

pub async fn enable(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    devices::set_enabled(&state.core, &caller, &key, true).await?;
    Ok(Reply::ok("Device successfully activated"))
}

pub async fn disable(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    devices::set_enabled(&state.core, &caller, &key, false).await?;
    Ok(Reply::ok("Device successfully deactivated"))
}

/// DELETE `/pam/device` with `device=<hostname>` in the body (Ansible).
pub async fn disable_by_param(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    let key = key_param(&params, &["device", "hostname", "identifier", "id"])?.ok_or_else(devices::device_not_found)?;
    devices::set_enabled(&state.core, &caller, &key, false).await?;
    Ok(Reply::ok("Device successfully deactivated"))
}
