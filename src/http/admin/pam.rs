//! Admin: domains, password policies and their assignments, credential version history.

use axum::extract::State;
use serde_json::{Value, json};

use super::{can_read, can_write, time_text};
use crate::domain::authorization::Caller;
use crate::domain::pam::Policy;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::pam::devices;
use crate::service::pam::history;
use crate::service::pam::policies;
use crate::state::AppState;

pub async fn list_domains(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let names = devices::domains(&state.core).await?;
    Ok(Reply::ok(format!("{} domains found", names.len())).with("domains", json!(names)))
}

pub async fn create_domain(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let name = params.text("name")?.ok_or_else(|| ApiError::bad_request("Parameter 'name' was not informed."))?;
    devices::create_domain(&state.core, &name).await?;
    Ok(Reply::created("Domain successfully registered!").with("domain", json!({"name": name.trim()})))
}

pub fn policy_json(p: &Policy) -> Value {
    json!({
        "id": p.id.to_string(), "name": p.name, "length": p.length, "lowercase": p.lowercase, "uppercase": p.uppercase,
        "digits": p.digits, "symbols": p.symbols, "exclude": p.exclude, "key_algorithm": p.key_algorithm,
        "rotation_interval": p.rotation_interval, "rotate_after_custody": p.rotate_after_custody,
    })
}

fn int(params: &Params, name: &str, default: i64) -> ApiResult<i64> {
    match params.text(name)? {
        None => Ok(default),
        Some(v) => {
            v.trim().parse().map_err(|_| ApiError::bad_request(format!("Parameter '{name}' must be an integer.")))
        }
    }
}

pub async fn list_policies(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let all = policies::list(&state.core).await?;
    Ok(Reply::ok(format!("{} policies found", all.len()))
        .with("policies", Value::Array(all.iter().map(policy_json).collect())))
}

/// Class minimums: a count, or -1 to leave the class out.
pub async fn create_policy(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let policy = Policy {
        id: 0,
        name: params.text("name")?.ok_or_else(|| ApiError::bad_request("Parameter 'name' was not informed."))?,
        length: int(&params, "length", 24)?,
        lowercase: int(&params, "lowercase", 1)?,
        uppercase: int(&params, "uppercase", 1)?,
        digits: int(&params, "digits", 1)?,
        symbols: int(&params, "symbols", 1)?,
        exclude: params.text("exclude")?.unwrap_or_default(),
        key_algorithm: params.text("key_algorithm")?.unwrap_or_else(|| "ed25519".into()),
        rotation_interval: match params.text("rotation_interval")? {
            Some(v) if !v.trim().is_empty() => Some(
                v.trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request("Parameter 'rotation_interval' must be seconds."))?,
            ),
            _ => None,
        },
        rotate_after_custody: params.flag("rotate_after_custody")?.unwrap_or(false),
    };
    let created = policies::create(&state.core, policy).await?;
    Ok(Reply::created("Policy successfully registered!").with("policy", policy_json(&created)))
}

/// `policy` (empty to remove) and one of `credential`, `device`, `tag`.
pub async fn assign_policy(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let policy = params.text("policy")?.filter(|p| !p.trim().is_empty());
    for kind in policies::TARGET_KINDS {
        if let Some(target) = params.text(kind)? {
            policies::assign(&state.core, policy.as_deref(), kind, &target).await?;
            return Ok(Reply::ok("Policy assignment updated"));
        }
    }
    Err(ApiError::bad_request("Name a 'credential', 'device' or 'tag'."))
}

pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Segments(key): Segments<String>,
) -> ApiResult<Reply> {
    can_read(&caller)?;
    let (current, versions) = history::versions(&state.core, &key).await?;
    let items: Vec<Value> = versions
        .iter()
        .map(|v| json!({"version": v.version, "replaced_by": v.replaced_by, "reason": v.reason, "replaced_at": time_text(Some(v.created_at))}))
        .collect();
    Ok(Reply::ok(format!("{} versions found", items.len()))
        .with("current_version", json!(current))
        .with("versions", Value::Array(items)))
}

pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Segments((key, version)): Segments<(String, i64)>,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let by = format!("authorization {}", caller.authorization.id);
    let current = history::restore(&state.core, &key, version, &by).await?;
    Ok(Reply::ok(format!("Version {version} restored")).with("current_version", json!(current)))
}
