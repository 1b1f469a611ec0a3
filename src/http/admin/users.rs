//! Admin: users, groups and memberships.

use axum::extract::State;
use serde_json::{Value, json};

use super::{can_read, can_write, list_param};
use crate::domain::authorization::Caller;
use crate::domain::user::{Group, User};
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::admin::users::{self, NewUser, UserChanges};
use crate::state::AppState;

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id.to_string(),
        "username": u.username,
        "name": u.display_name,
        "email": u.email,
        "enabled": u.enabled,
        "groups": u.groups,
    })
}

fn group_json(g: &Group) -> Value {
    json!({"id": g.id.to_string(), "name": g.name, "members": g.members})
}

pub async fn list_users(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let all = users::list_users(&state.core).await?;
    Ok(Reply::ok(format!("{} users found", all.len())).with("users", Value::Array(all.iter().map(user_json).collect())))
}

pub async fn show_user(
    State(state): State<AppState>,
    caller: Caller,
    Segments(username): Segments<String>,
) -> ApiResult<Reply> {
    can_read(&caller)?;
    let user = users::user(&state.core, &username).await?;
    Ok(Reply::ok(format!("User {}", user.username)).with("user", user_json(&user)))
}

pub async fn create_user(State(state): State<AppState>, caller: Caller, mut params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let username =
        params.text("username")?.ok_or_else(|| ApiError::bad_request("Parameter 'username' was not informed."))?;
    let new = NewUser {
        username,
        display_name: params.text("name")?.unwrap_or_default(),
        email: params.text("email")?.unwrap_or_default(),
        password: params.take_secret("password")?,
        groups: list_param(&params, "groups")?.unwrap_or_default(),
    };
    let user = users::create_user(&state.core, new).await?;
    Ok(Reply::created("User successfully registered!").with("user", user_json(&user)))
}

pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Segments(username): Segments<String>,
    mut params: Params,
) -> ApiResult<Reply> {
    can_write(&caller)?;
    let changes = UserChanges {
        display_name: params.text("name")?,
        email: params.text("email")?,
        password: params.take_secret("password")?,
        enabled: params.flag("enabled")?,
    };
    let user = users::update_user(&state.core, &username, changes).await?;
    Ok(Reply::ok("User successfully updated!").with("user", user_json(&user)))
}

async fn set_enabled(state: &AppState, caller: &Caller, username: &str, enabled: bool) -> ApiResult<Reply> {
    can_write(caller)?;
    let changes = UserChanges { enabled: Some(enabled), ..UserChanges::default() };
    let user = users::update_user(&state.core, username, changes).await?;
    let word = if enabled { "activated" } else { "deactivated" };
    Ok(Reply::ok(format!("User successfully {word}")).with("user", user_json(&user)))
}

pub async fn enable_user(
    State(state): State<AppState>,
    caller: Caller,
    Segments(username): Segments<String>,
) -> ApiResult<Reply> {
    set_enabled(&state, &caller, &username, true).await
}

pub async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Segments(username): Segments<String>,
) -> ApiResult<Reply> {
    set_enabled(&state, &caller, &username, false).await
}

pub async fn list_groups(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let all = users::list_groups(&state.core).await?;
    Ok(Reply::ok(format!("{} groups found", all.len()))
        .with("groups", Value::Array(all.iter().map(group_json).collect())))
}

pub async fn create_group(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let name = params.text("name")?.ok_or_else(|| ApiError::bad_request("Parameter 'name' was not informed."))?;
    let group = users::create_group(&state.core, &name).await?;
    Ok(Reply::created("Group successfully registered!").with("group", group_json(&group)))
}

async fn membership(state: &AppState, caller: &Caller, group: &str, username: &str, member: bool) -> ApiResult<Reply> {
    can_write(caller)?;
    users::set_membership(&state.core, group, username, member).await?;
    let group = users::group(&state.core, group).await?;
    Ok(Reply::ok("Group membership updated").with("group", group_json(&group)))
}

pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Segments((group, username)): Segments<(String, String)>,
) -> ApiResult<Reply> {
    membership(&state, &caller, &group, &username, true).await
}

pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Segments((group, username)): Segments<(String, String)>,
) -> ApiResult<Reply> {
    membership(&state, &caller, &group, &username, false).await
}
