//! Sharing of MySafe items: names in a request resolved to users and groups. Unknown names are
//! reported in `shared_error` rather than failing the request.

use serde_json::Value;

use crate::domain::user::canonical_login;
use crate::error::ApiResult;
use crate::service::Core;
use crate::store::StoreError;
use crate::store::mysafe::items::ShareRows;

/// One entry of `users_allowed` (a username) or `groups_allowed` (a group name).
#[derive(Clone, Debug)]
pub struct ShareInput {
    pub name: String,
    pub can_edit: bool,
}

/// Resolves share names to ids; unknown names go to `shared_error` instead of failing.
pub async fn resolve_shares(
    core: &Core,
    owner: i64,
    users: Option<&[ShareInput]>,
    groups: Option<&[ShareInput]>,
) -> ApiResult<(Option<ShareRows>, Option<ShareRows>, Vec<Value>)> {
    let mut errors = Vec::new();
    let users = match users {
        Some(list) => {
            let mut rows = ShareRows::new();
            for share in list {
                match core.store.user_id(&canonical_login(&share.name)).await {
                    Ok(id) if id == owner => {}
                    Ok(id) => rows.push(("user", id, share.can_edit)),
                    Err(StoreError::NotFound) => {
                        errors.push(serde_json::json!({"username": share.name, "error": "User not found"}))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Some(rows)
        }
        None => None,
    };
    let groups = match groups {
        Some(list) => {
            let mut rows = ShareRows::new();
            for share in list {
                match core.store.group_id(share.name.trim()).await {
                    Ok(id) => rows.push(("group", id, share.can_edit)),
                    Err(StoreError::NotFound) => {
                        errors.push(serde_json::json!({"name": share.name, "error": "Group not found"}))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Some(rows)
        }
        None => None,
    };
    Ok((users, groups, errors))
}
