//! Related users (§9, resource `users`): list, read, create, update, deactivate. Each
//! authorization sees the related users it registered.

use crate::domain::authorization::{Caller, Resource};
use crate::domain::pam::RelatedUser;
use crate::error::{ApiError, ApiResult, OrNotFound, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::service::required::Required;

fn does_not_exist() -> ApiError {
    ApiError::business(codes::RELATED_USER_NOT_FOUND, "User does not exist")
}

fn not_informed(name: &str) -> ApiError {
    ApiError::business(codes::PARAMETER_NOT_INFORMED, &format!("Parameter '{name}' was not informed!"))
}

fn check(name: &str, value: &str) -> ApiResult<()> {
    if value.chars().count() > 255 || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("Parameter '{name}' is invalid or longer than 255 characters.")));
    }
    Ok(())
}

pub async fn list(core: &Core, caller: &Caller) -> ApiResult<Vec<RelatedUser>> {
    require_resource(caller, Resource::Users)?;
    Ok(core.store.related_users(caller.authorization.id).await?)
}

pub async fn get(core: &Core, caller: &Caller, id: &str) -> ApiResult<RelatedUser> {
    require_resource(caller, Resource::Users)?;
    find(core, caller, id).await
}

async fn find(core: &Core, caller: &Caller, id: &str) -> ApiResult<RelatedUser> {
    let id: i64 = id.trim().parse().map_err(|_| does_not_exist())?;
    core.store.related_user(id, caller.authorization.id).await.or_not_found(does_not_exist)
}

pub async fn create(
    core: &Core,
    caller: &Caller,
    name: Option<String>,
    username: Option<String>,
) -> ApiResult<RelatedUser> {
    require_write(caller, Resource::Users)?;
    let mut required = Required::new();
    let name = required.text(name, || not_informed("name"));
    let username = required.text(username, || not_informed("username"));
    required.done()?;
    check("name", &name)?;
    check("username", &username)?;
    let id = core.store.insert_related_user(&name, &username, caller.authorization.id, core.now()).await?;
    Ok(RelatedUser { id, name, username, enabled: true, created_by: caller.authorization.id })
}

pub async fn update(
    core: &Core,
    caller: &Caller,
    id: &str,
    name: Option<String>,
    username: Option<String>,
) -> ApiResult<RelatedUser> {
    require_write(caller, Resource::Users)?;
    let mut user = find(core, caller, id).await?;
    if let Some(name) = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        check("name", &name)?;
        user.name = name;
    }
    if let Some(username) = username.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) {
        check("username", &username)?;
        user.username = username;
    }
    core.store.update_related_user(&user, core.now()).await?;
    Ok(user)
}

pub async fn deactivate(core: &Core, caller: &Caller, id: &str) -> ApiResult<RelatedUser> {
    require_write(caller, Resource::Users)?;
    let mut user = find(core, caller, id).await?;
    user.enabled = false;
    core.store.update_related_user(&user, core.now()).await?;
    Ok(user)
}
