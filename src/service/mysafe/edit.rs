//! Updating a MySafe item (§11). An update carries no precondition, so it never fails for
//! concurrency: it applies to the item as it is once its change has locked it, so concurrent
//! updates of one item apply one after the other, in any process. Each keeps what the others
//! set in fields it does not set; the last one's values win where they overlap.

use serde_json::Value;

use crate::domain::authorization::{Caller, Resource};
use crate::domain::mysafe::ItemAccess;
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::access::require_write;
use crate::service::mysafe::items::{
    ItemInput, ItemView, SafeItemKind, SealedFile, acting_user, check_lengths, duplicate_code, find, no_access,
    open_secrets, seal_secrets,
};
use crate::service::mysafe::sharing::resolve_shares;
use crate::store::StoreError;

/// Partial update; an empty `users_allowed`/`groups_allowed` removes that sharing. Editors may
/// change fields; only the owner changes sharing.
pub async fn update(
    core: &Core,
    caller: &Caller,
    kind: SafeItemKind,
    identifier: &str,
    mut input: ItemInput,
    file: Option<SealedFile>,
) -> ApiResult<ItemView> {
    require_write(caller, Resource::MySafe)?;
    let user = acting_user(caller)?;
    check_lengths(&input)?;
    let code = input.identifier_code.take().map(|c| c.trim().to_owned());
    let (read, access) = find(core, user, kind, identifier).await?;
    if access < ItemAccess::Edit || (access != ItemAccess::Owner && (input.users.is_some() || input.groups.is_some())) {
        return Err(no_access());
    }
    // Everything the update reads besides the item, before its change: once that holds its
    // lock, it reads only through itself.
    if let Some(code) = code.as_deref().filter(|c| !c.is_empty()) {
        let clash = core
            .store
            .mysafe_items(read.owner_id, kind.as_str())
            .await?
            .iter()
            .any(|(i, a)| *a == ItemAccess::Owner && i.id != read.id && i.identifier_code.as_deref() == Some(code));
        if clash {
            return Err(duplicate_code());
        }
    }
    let (users, groups, shared_error) =
        resolve_shares(core, read.owner_id, input.users.as_deref(), input.groups.as_deref()).await?;

    let mut change = core.store.begin("update_mysafe_item").await?;
    let mut row = change.lock_mysafe_item(read.id).await?;
    let mut secrets = open_secrets(core, &row).await?;
    if let Some(code) = &code {
        row.identifier_code = (!code.is_empty()).then(|| code.clone());
    }
    for (slot, given) in [
        (&mut row.name, &input.name),
        (&mut row.url, &input.url),
        (&mut row.username, &input.username),
        (&mut row.method, &input.method),
        (&mut row.tags, &input.tags),
    ] {
        if let Some(value) = given {
            value.clone_into(slot);
        }
    }
    for (k, v) in &input.secrets {
        secrets.insert((*k).to_owned(), Value::String(v.to_string()));
    }
    row.secret = seal_secrets(core, &row.uid, &secrets);
    if let Some(f) = &file {
        row.file_size = f.size;
        row.content_type.clone_from(&f.content_type);
    }
    let chunks = file.as_ref().map(|f| f.chunks.as_slice());
    match change.update_mysafe_item(&row, users.as_ref(), groups.as_ref(), chunks, core.now()).await {
        Ok(()) => change.commit().await?,
        Err(StoreError::Conflict) => return Err(duplicate_code()),
        Err(e) => return Err(e.into()),
    }
    row.revision += 1;
    let shares = core.store.mysafe_shares(row.id).await?;
    Ok(ItemView { row, access, secrets, shares, shared_error })
}
