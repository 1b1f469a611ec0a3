//! Related users (§9): `/user/related` and `/user/related/{id}`, with the contract's quirks: 200
//! on create with an integer id, and a single user as an object under the plural key.

use axum::extract::State;
use serde_json::{Value, json};

use crate::domain::authorization::Caller;
use crate::domain::pam::RelatedUser;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::ItemKey;
use crate::service::pam::related;
use crate::state::AppState;

fn user_json(u: &RelatedUser) -> Value {
    json!({"id": u.id.to_string(), "name": u.name, "username": u.username})
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    let all = related::list(&state.core, &caller).await?;
    Ok(Reply::ok(format!("{} related users found", all.len()))
        .with("relatedUsers", Value::Array(all.iter().map(user_json).collect())))
}

pub async fn show(State(state): State<AppState>, caller: Caller, ItemKey(id): ItemKey) -> ApiResult<Reply> {
    let user = related::get(&state.core, &caller, &id).await?;
    Ok(Reply::ok(format!("Related user {}", user.id)).with("relatedUsers", user_json(&user)))
}

pub async fn create(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    let user = related::create(&state.core, &caller, params.text("name")?, params.text("username")?).await?;
    let entity = json!({"id": user.id, "name": user.name, "username": user.username});
    Ok(Reply::ok("Related user successfully registered!").with("relatedUsers", entity))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ItemKey(id): ItemKey,
    params: Params,
) -> ApiResult<Reply> {
    update_user(&state, &caller, &id, &params).await
}

/// `PUT /user/related` with the id in the body (the OAS form).
pub async fn update_by_body(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    let id = params.text("id")?.unwrap_or_default();
    update_user(&state, &caller, &id, &params).await
}

async fn update_user(state: &AppState, caller: &Caller, id: &str, params: &Params) -> ApiResult<Reply> {
    let user = related::update(&state.core, caller, id, params.text("name")?, params.text("username")?).await?;
    Ok(Reply::ok("Related user successfully updated!").with("relatedUsers", user_json(&user)))
}

pub async fn deactivate(State(state): State<AppState>, caller: Caller, ItemKey(id): ItemKey) -> ApiResult<Reply> {
    related::deactivate(&state.core, &caller, &id).await?;
    Ok(Reply::ok("Related user successfully deactivated!"))
}
