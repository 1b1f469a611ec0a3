//! The admin API under `/api/admin/…` (and `/iso/admin/…`), for authorizations holding the
//! `admin` resource: applications and authorizations, users and groups, API tokens. It calls the
//! same service functions as the CLI. Secrets appear only in creation and regeneration answers.

mod apps;
mod audit;
mod certificates;
mod devices;
mod pam;
mod sessions;
mod tokens;
mod users;

use axum::routing::{get, post, put};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::params::Params;
use super::routes::RouteTable;
use crate::domain::authorization::{Caller, Resource};
use crate::error::{ApiError, ApiResult};
use crate::service::access::{require_resource, require_write};
use crate::state::AppState;

pub fn routes() -> RouteTable<AppState> {
    RouteTable::new()
        .route("/admin/applications", get(apps::list).post(apps::create))
        .route("/admin/applications/{id}", get(apps::show))
        .route("/admin/applications/{id}/enable", post(apps::enable))
        .route("/admin/applications/{id}/disable", post(apps::disable))
        .route("/admin/applications/{id}/links", post(apps::link))
        .route("/admin/applications/{id}/links/{kind}/{item}", axum::routing::delete(apps::unlink))
        .route("/admin/domains", get(pam::list_domains).post(pam::create_domain))
        .route("/admin/password-policies", get(pam::list_policies).post(pam::create_policy))
        .route("/admin/password-policies/assign", post(pam::assign_policy))
        .route("/admin/credentials/{key}/versions", get(pam::versions))
        .route("/admin/credentials/{key}/versions/{version}/restore", post(pam::restore))
        .route("/admin/authorizations/{id}", put(apps::update_authorization))
        .route("/admin/authorizations/{id}/secret", post(apps::regenerate_secret))
        .route("/admin/users", get(users::list_users).post(users::create_user))
        .route("/admin/users/{username}", get(users::show_user).put(users::update_user))
        .route("/admin/users/{username}/enable", post(users::enable_user))
        .route("/admin/users/{username}/disable", post(users::disable_user))
        .route("/admin/groups", get(users::list_groups).post(users::create_group))
        .route("/admin/groups/{name}/members/{username}", put(users::add_member).delete(users::remove_member))
        .route("/admin/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/tokens/{key}", put(tokens::update).delete(tokens::delete))
        .route("/admin/tokens/{key}/regenerate", post(tokens::regenerate))
        .route(
            "/admin/devices/{id}/ssh-host-key",
            get(devices::show_host_key).put(devices::set_host_key).delete(devices::reset_host_key),
        )
        .route("/admin/certificate-authorities", get(certificates::list).post(certificates::create))
        .route("/admin/audit/head", get(audit::head))
        .route("/admin/sessions", get(sessions::list))
        .route("/admin/sessions/{id}", get(sessions::show))
        .route("/admin/sessions/{id}/recording", get(sessions::recording))
        .route("/admin/sessions/{session_id}/drop", post(sessions::drop_session))
}

fn can_read(caller: &Caller) -> ApiResult<()> {
    require_resource(caller, Resource::Admin)
}

fn can_write(caller: &Caller) -> ApiResult<()> {
    require_write(caller, Resource::Admin)
}

/// A list parameter in any of the encodings `Params::list` reads.
fn list_param(params: &Params, name: &str) -> ApiResult<Option<Vec<String>>> {
    params.list(name)
}

/// An RFC 3339 time; an empty value means "never" (`Some(None)`).
fn expiry(params: &Params, name: &str) -> ApiResult<Option<Option<i64>>> {
    match params.text(name)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() || s.trim() == "never" => Ok(Some(None)),
        Some(s) => OffsetDateTime::parse(s.trim(), &Rfc3339).map(|t| Some(Some(t.unix_timestamp()))).map_err(|_| {
            ApiError::bad_request(format!("Parameter '{name}' must be an RFC 3339 time, or empty for never."))
        }),
    }
}

fn time_text(unix: Option<i64>) -> Value {
    unix.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

fn number(raw: &str, what: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::not_found(format!("{what} {raw:?} not found.")))
}
