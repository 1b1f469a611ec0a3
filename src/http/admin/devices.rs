//! Admin: a device's pinned SSH host key (issue 15). The gateway pins a device's key on first
//! use; an operator can read it, set it ahead of the first session (e.g. from `ssh-keyscan`),
//! or reset it after a legitimate change so the next session pins the new one.

use axum::extract::State;
use serde_json::{Value, json};

use super::{can_read, can_write, time_text};
use crate::domain::authorization::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::sessions::ssh;
use crate::state::AppState;
use crate::store::sessions::host_keys::PinnedHostKey;

fn device_id(raw: &str) -> ApiResult<i64> {
    raw.trim().parse().map_err(|_| ApiError::bad_request("The device id must be a number."))
}

pub fn host_key_json(k: &PinnedHostKey) -> Value {
    json!({"device_id": k.device_id.to_string(), "public_key": k.public_key, "fingerprint": k.fingerprint,
           "source": k.source, "pinned_at": time_text(Some(k.pinned_at))})
}

pub async fn show_host_key(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> ApiResult<Reply> {
    can_read(&caller)?;
    match ssh::host_key(&state.core, device_id(&id)?).await? {
        Some(key) => Ok(Reply::ok("Host key pinned").with("host_key", host_key_json(&key))),
        None => Err(ApiError::not_found("No host key is pinned for this device yet")),
    }
}

/// `public_key`: an OpenSSH public key line.
pub async fn set_host_key(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let line =
        params.text("public_key")?.ok_or_else(|| ApiError::bad_request("Parameter 'public_key' was not informed."))?;
    let key = ssh::set_host_key(&state.core, device_id(&id)?, &line).await?;
    Ok(Reply::ok("Host key set").with("host_key", host_key_json(&key)))
}

pub async fn reset_host_key(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    if ssh::reset_host_key(&state.core, device_id(&id)?).await? {
        Ok(Reply::ok("Host key reset: the next session pins the key it meets"))
    } else {
        Err(ApiError::not_found("No host key is pinned for this device yet"))
    }
}
