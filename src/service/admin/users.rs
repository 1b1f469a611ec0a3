//! Users and groups, and password logins. The CLI and the admin API call these same functions.

use zeroize::Zeroizing;

use crate::domain::user::{Group, User, canonical_login, valid_login};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::store::StoreError;
use crate::store::admin::users::NewUserRow;

pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub password: Option<Zeroizing<String>>,
    pub groups: Vec<String>,
}

#[derive(Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub password: Option<Zeroizing<String>>,
    pub enabled: Option<bool>,
}

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_FIELD_CHARS: usize = 255;

pub fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(format!(
            "The password must have at least {MIN_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes."
        )));
    }
    Ok(())
}

fn check_text(name: &str, value: &str) -> ApiResult<()> {
    if value.chars().count() > MAX_FIELD_CHARS || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "Parameter '{name}' is invalid or longer than {MAX_FIELD_CHARS} characters."
        )));
    }
    Ok(())
}

fn username(raw: &str) -> ApiResult<String> {
    let canonical = canonical_login(raw);
    if !valid_login(&canonical) {
        return Err(ApiError::bad_request("Parameter 'username' must have 1 to 128 printable characters."));
    }
    Ok(canonical)
}

fn conflict_or(e: StoreError, what: &str) -> ApiError {
    match e {
        StoreError::Conflict => ApiError::conflict(format!("{what} already exists.")),
        StoreError::NotFound => ApiError::not_found(format!("{what} not found.")),
        other => other.into(),
    }
}

pub async fn create_user(core: &Core, new: NewUser) -> ApiResult<User> {
    let username = username(&new.username)?;
    check_text("name", &new.display_name)?;
    check_text("email", &new.email)?;
    let password_hash = match new.password {
        Some(password) => {
            check_password(&password)?;
            Some(core.passwords.hash(password).await.map_err(|e| ApiError::internal(&e))?)
        }
        None => None,
    };
    let row = NewUserRow {
        username: &username,
        display_name: new.display_name.trim(),
        email: new.email.trim(),
        password_hash,
    };
    let groups: Vec<String> = new.groups.iter().map(|g| g.trim().to_owned()).collect();
    match core.store.insert_user(&row, &groups, core.now()).await {
        Ok(_) => {}
        // Nothing was created; name the group that does not exist.
        Err(StoreError::NotFound) => {
            let known: Vec<String> = core.store.groups().await?.into_iter().map(|g| g.name).collect();
            let missing = groups.iter().find(|g| !known.contains(g)).map_or("?", String::as_str);
            return Err(ApiError::not_found(format!("Group '{missing}' not found.")));
        }
        Err(e) => return Err(conflict_or(e, &format!("User '{username}'"))),
    }
    user(core, &username).await
}

pub async fn user(core: &Core, raw_username: &str) -> ApiResult<User> {
    let username = username(raw_username)?;
    core.store
        .users(Some(&username))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("User '{username}' not found.")))
}

pub async fn list_users(core: &Core) -> ApiResult<Vec<User>> {
    Ok(core.store.users(None).await?)
}

pub async fn update_user(core: &Core, raw_username: &str, changes: UserChanges) -> ApiResult<User> {
    let username = username(raw_username)?;
    for (name, value) in [("name", &changes.display_name), ("email", &changes.email)] {
        if let Some(value) = value {
            check_text(name, value)?;
        }
    }
    let password_hash = match changes.password {
        Some(password) => {
            check_password(&password)?;
            Some(core.passwords.hash(password).await.map_err(|e| ApiError::internal(&e))?)
        }
        None => None,
    };
    core.store
        .update_user(
            &username,
            changes.display_name.as_deref().map(str::trim),
            changes.email.as_deref().map(str::trim),
            password_hash.as_deref(),
            changes.enabled,
            core.now(),
        )
        .await
        .map_err(|e| conflict_or(e, &format!("User '{username}'")))?;
    user(core, &username).await
}

pub async fn create_group(core: &Core, name: &str) -> ApiResult<Group> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request("Parameter 'name' was not informed."));
    }
    check_text("name", name)?;
    core.store.insert_group(name, core.now()).await.map_err(|e| conflict_or(e, &format!("Group '{name}'")))?;
    group(core, name).await
}

pub async fn group(core: &Core, name: &str) -> ApiResult<Group> {
    core.store
        .groups()
        .await?
        .into_iter()
        .find(|g| g.name == name.trim())
        .ok_or_else(|| ApiError::not_found(format!("Group '{}' not found.", name.trim())))
}

pub async fn list_groups(core: &Core) -> ApiResult<Vec<Group>> {
    Ok(core.store.groups().await?)
}

/// Adds a user to a group, or removes them; takes effect on the next request.
pub async fn set_membership(core: &Core, group: &str, raw_username: &str, member: bool) -> ApiResult<()> {
    let username = username(raw_username)?;
    core.store
        .set_membership(group.trim(), &username, member, core.now())
        .await
        .map_err(|e| conflict_or(e, &format!("Group '{}' or user '{username}'", group.trim())))
}
