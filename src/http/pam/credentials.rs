//! Credentials (§3): `/pam/credential`, `/pam/credential/{key}`, `/pam/credential/custody/{key}`.
//! A key is an id, `username@hostname`, or an identifier.

use axum::extract::State;
use serde_json::{Value, json};

use super::{datetime, key_param};
use crate::domain::authorization::Caller;
use crate::domain::pam::CredentialInput;
use crate::domain::pam::FoundCredential;
use crate::domain::pam::{CredentialKind, CredentialSettings, SETTINGS_KEYS};
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::ItemKey;
use crate::service::pam::credentials;
use crate::service::pam::lookup;
use crate::service::pam::reveal;
use crate::state::AppState;

/// Stable codes for the usual credential types; other types report "0".
fn type_code(name: &str) -> &'static str {
    match name {
        "Local User" => "1",
        "Domain User" => "2",
        "SSH Key" => "3",
        "Database User" => "4",
        "Application User" => "5",
        _ => "0",
    }
}

/// `RDP:3389,SSH:22` → ("RDP", "3389").
fn first_connectivity(list: &str) -> (String, String) {
    let first = list.split(',').next().unwrap_or_default().trim();
    let (name, port) = first.split_once(':').unwrap_or((first, ""));
    (name.to_owned(), port.to_owned())
}

fn list_item(f: &FoundCredential) -> Value {
    let c = &f.credential;
    let (connectivity, code) = first_connectivity(&f.device.connectivities);
    json!({
        "id": c.id.to_string(),
        "identifier": c.identifier,
        "username": c.username,
        "expiration": if c.expiration_time.is_empty() { Value::Null } else { Value::String(c.expiration_time.clone()) },
        "change": datetime(Some(c.changed_at)),
        "view": datetime(c.viewed_at),
        "hostname": f.device.hostname,
        "management_ip": f.device.ip,
        "type": if c.kind == CredentialKind::SshKey { "SSH Key".to_owned() } else { c.credential_type.clone() },
        "type_code": type_code(if c.kind == CredentialKind::SshKey { "SSH Key" } else { &c.credential_type }),
        "device_model": f.device.model,
        "device_type": f.device.device_type,
        "device_vendor": f.device.vendor,
        "automatic_change": c.automatic_change,
        "connectivity": connectivity,
        "connectivity_code": code,
    })
}

fn settings_from(params: &Params) -> ApiResult<CredentialSettings> {
    let mut settings = CredentialSettings::default();
    for key in SETTINGS_KEYS {
        if let Some(slot) = settings.slot(key) {
            *slot = params.object(key)?;
        }
    }
    Ok(settings)
}

/// POST: create or update (§3.3); 201 either way, with `response.changed`.
pub async fn upsert(State(state): State<AppState>, caller: Caller, mut params: Params) -> ApiResult<Reply> {
    let credential_type = match params.text("credential_type")? {
        Some(t) => Some(t),
        None => params.text("type")?,
    };
    let input = CredentialInput {
        identifier: params.text("identifier")?,
        username: params.text("username")?,
        hostname: params.text("hostname")?,
        ip: params.text("ip")?,
        content: params.take_secret("content")?,
        additional: params.text("additional")?,
        tags: params.list_text("tags")?,
        credential_type,
        domain: params.text("domain")?,
        parent_password: params.text("parent_password")?,
        device_domain: params.list_text("device_domain")?,
        expiration_time: params.text("expiration_time")?,
        settings: settings_from(&params)?,
    };
    let saved = credentials::upsert(&state.core, &caller, input).await?;
    let message =
        if saved.created { "Credential successfully registered!" } else { "Credential updated successfully!" };
    Ok(Reply::created(message)
        .with_response_field("changed", Value::String(saved.changed.to_string()))
        .with("tenant", Value::String(state.core.config.tenant.clone()))
        .with("credential", json!({"id": saved.credential.id.to_string(), "identifier": saved.credential.identifier})))
}

/// GET: every credential visible to the caller, SSH keys included; with `?credential=`, one.
pub async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    if let Some(key) = key_param(&params, &["credential"])? {
        return reveal(&state, &caller, &key).await;
    }
    let all = credentials::list(&state.core, &caller).await?;
    let items: Vec<Value> = all.iter().map(list_item).collect();
    Ok(Reply::ok(format!("{} credentials found", items.len())).with("credentials", Value::Array(items)))
}

pub async fn show(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    reveal(&state, &caller, &key).await
}

/// One credential with its password; starts custody.
async fn reveal(state: &AppState, caller: &Caller, key: &str) -> ApiResult<Reply> {
    let r = reveal::reveal(&state.core, caller, key).await?;
    let (c, d) = (&r.found.credential, &r.found.device);
    let (_, port) = first_connectivity(&d.connectivities);
    let mut entity = json!({
        "id": c.id.to_string(),
        "identifier": c.identifier,
        "username": c.username,
        "password": r.password.as_str(),
        "content": r.password.as_str(),
        "hostname": d.hostname,
        "parent_credential_cod": c.parent_id.map(|p| p.to_string()),
        "parent_credential": c.parent_id.map(|p| p.to_string()),
        "additional": c.additional,
        "domain": c.domain,
        "ip": d.ip,
        "port": port,
        "model": d.model,
        "expiration_time": c.expiration_time,
        "expiration": if c.expiration_time.is_empty() { Value::Null } else { Value::String(c.expiration_time.clone()) },
        "tag": Value::Null,
        "tags": c.tags,
        "type": c.credential_type,
    });
    if let (Some(map), Value::Object(settings)) = (entity.as_object_mut(), r.settings.to_value()) {
        map.extend(settings);
    }
    Ok(Reply::ok(format!("Credential {}", c.id)).with("credential", entity))
}

pub async fn enable(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    credentials::set_enabled(&state.core, &caller, &key, true).await?;
    Ok(Reply::ok("Credential successfully activated"))
}

pub async fn disable(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    credentials::set_enabled(&state.core, &caller, &key, false).await?;
    Ok(Reply::ok("Credential successfully deactivated"))
}

/// DELETE `/pam/credential` with `identifier=` (or `credential=`) in the body.
pub async fn disable_by_param(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    let key = key_param(&params, &["identifier", "credential", "id"])?.ok_or_else(lookup::not_found)?;
    credentials::set_enabled(&state.core, &caller, &key, false).await?;
    Ok(Reply::ok("Credential successfully deactivated"))
}

pub async fn release(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    let c = credentials::release(&state.core, &caller, &key).await?;
    Ok(Reply::ok(format!("Credential custody {} released", c.id)))
}
