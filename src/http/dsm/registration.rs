//! DSM registration routes: `/dapp/application` (matched case-insensitively, as dsmcli sends
//! `/iso/dapp/Application`) and the calling authorization's own inactivation.

use axum::extract::State;
use serde_json::Value;

use crate::domain::authorization::Caller;
use crate::domain::network::IpAllowList;
use crate::error::{ApiError, ApiResult};
use crate::http::dsm::secrets::{application_json, required_all, text};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::service::dsm::registration::{self, Registration};
use crate::service::dsm::secrets;
use crate::state::AppState;

/// POST: register or update the application; answers a new client id and secret.
pub async fn register(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    super::module(&caller)?;
    let [application, system, environment] = required_all(&params, ["application", "system", "environment"])?;
    let expires_at = match text(&params, "expiration_date")? {
        Some(date) => Some(
            time::PrimitiveDateTime::parse(
                date.trim(),
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
            )
            .map_err(|_| ApiError::bad_request("Parameter 'expiration_date' must be YYYY-MM-DD HH:MM:SS."))?
            .assume_utc()
            .unix_timestamp(),
        ),
        None => None,
    };
    let registration = Registration {
        application,
        system,
        environment,
        unique_key: text(&params, "unique_key")?,
        description: text(&params, "description")?,
        tags: params.list_text("tags")?,
        line_of_business: text(&params, "line_of_business")?,
        application_type: text(&params, "application_type")?,
        allowed_ips: match params.list_text("allowed_ips")? {
            Some(list) => Some(
                IpAllowList::parse([list.as_str()])
                    .map_err(|e| ApiError::bad_request(format!("Parameter 'allowed_ips': {e}.")))?,
            ),
            None => None,
        },
        allowed_referers: params.list("allowed_http_referers")?,
        expires_at,
    };
    let registered = registration::register(&state.core, &caller, registration).await?;
    Ok(Reply::ok(registered.message)
        .with("id", Value::String(registered.client_id.clone()))
        .with("signature", Value::String(registered.client_secret.to_string())))
}

pub async fn show(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    let (app, secrets) = secrets::application(&state.core, &caller).await?;
    Ok(Reply::ok(format!("Application {}", app.name)).with("application", application_json(&app, &secrets)))
}

pub async fn revoke(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    secrets::revoke_own_authorization(&state.core, &caller).await?;
    Ok(Reply::ok("Authorization successfully inactivated"))
}
