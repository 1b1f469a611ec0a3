//! Enabling and disabling MySafe items: owners and editors may; a sharee who may only view gets
//! `MYSAFE_NO_ACCESS`, and an item that is missing (or inactive for a sharee) is "not found".

use crate::domain::authorization::{Caller, Resource};
use crate::domain::mysafe::ItemAccess;
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::access::require_write;
use crate::service::mysafe::items::{SafeItemKind, acting_user, no_access, not_found};
use crate::store::StoreError;
use crate::store::mysafe::items::ItemRow;

/// Activates or deactivates an item (owner or editor).
pub async fn set_active(
    core: &Core,
    caller: &Caller,
    kind: SafeItemKind,
    identifier: &str,
    active: bool,
) -> ApiResult<()> {
    require_write(caller, Resource::MySafe)?;
    let row = changeable(core, caller, kind, identifier).await?.ok_or_else(|| not_found(kind))?;
    core.store.set_mysafe_enabled(row.id, active, core.now()).await?;
    Ok(())
}

/// `/mysafe/password/{active,inactive}/{id}` reaches API secrets too: a password first, then an
/// API secret; when neither can be changed, the password's answer. Returns the kind changed.
pub async fn set_active_password_or_api_secret(
    core: &Core,
    caller: &Caller,
    identifier: &str,
    active: bool,
) -> ApiResult<SafeItemKind> {
    require_write(caller, Resource::MySafe)?;
    let kind = match changeable(core, caller, SafeItemKind::Password, identifier).await? {
        Some(row) => Some((row, SafeItemKind::Password)),
        None => match changeable(core, caller, SafeItemKind::ApiSecret, identifier).await {
            Ok(Some(row)) => Some((row, SafeItemKind::ApiSecret)),
            Ok(None) | Err(_) => None,
        },
    };
    let (row, kind) = kind.ok_or_else(|| not_found(SafeItemKind::Password))?;
    core.store.set_mysafe_enabled(row.id, active, core.now()).await?;
    Ok(kind)
}

/// The item the caller may enable or disable; `None` when the contract answers "not found"
/// (missing, or inactive for a sharee), an error when the caller may only look at it.
async fn changeable(core: &Core, caller: &Caller, kind: SafeItemKind, identifier: &str) -> ApiResult<Option<ItemRow>> {
    let user = acting_user(caller)?;
    let Ok(id) = identifier.trim().parse::<i64>() else { return Ok(None) };
    let (row, access) = match core.store.mysafe_item(user, kind.as_str(), id).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match access {
        ItemAccess::None => Err(no_access()),
        ItemAccess::View | ItemAccess::Edit if !row.enabled => Ok(None),
        ItemAccess::View => Err(no_access()),
        _ => Ok(Some(row)),
    }
}
