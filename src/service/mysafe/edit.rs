//! Updating a MySafe item (§11) safely under concurrency: written only over the revision it
//! read, merged again when another caller changed other fields, 409 when the same field.

use serde_json::{Map, Value};

use crate::domain::authorization::{Caller, Resource};
use crate::domain::mysafe::ItemAccess;
use crate::error::{ApiError, ApiResult};
use crate::service::access::require_write;
use crate::service::mysafe::items::{
    ItemInput, ItemView, SafeItemKind, SealedFile, acting_user, check_lengths, duplicate_code, find, no_access,
    open_secrets, seal_secrets,
};
use crate::service::mysafe::sharing::resolve_shares;
use crate::service::{Core, MAX_MERGES};
use crate::store::StoreError;
use crate::store::mysafe::items::ItemRow;

/// Partial update; an empty `users_allowed`/`groups_allowed` removes that sharing. Editors may
/// change fields; only the owner changes sharing.
///
/// The write applies only to the revision it read. When another caller changed the item in
/// between, the update reads it again and re-applies its own fields — two callers changing
/// different fields both keep their change — unless one of its fields was changed by the other
/// caller meanwhile: that is a real conflict, answered 409, and nothing is overwritten.
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
    let mut first_read: Option<Snapshot> = None;
    for _ in 0..MAX_MERGES {
        let (mut row, access) = find(core, user, kind, identifier).await?;
        if access < ItemAccess::Edit
            || (access != ItemAccess::Owner && (input.users.is_some() || input.groups.is_some()))
        {
            return Err(no_access());
        }
        let mut secrets = open_secrets(core, &row).await?;
        let now_seen = Snapshot::of(&input, code.is_some(), &row, &secrets);
        match &first_read {
            Some(before) if *before != now_seen => return Err(ApiError::concurrent_change()),
            Some(_) => {}
            None => first_read = Some(now_seen),
        }
        if let Some(code) = &code {
            let clash = !code.is_empty()
                && core.store.mysafe_items(row.owner_id, kind.as_str()).await?.iter().any(|(i, a)| {
                    *a == ItemAccess::Owner && i.id != row.id && i.identifier_code.as_deref() == Some(code.as_str())
                });
            if clash {
                return Err(duplicate_code());
            }
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
        let (users, groups, shared_error) =
            resolve_shares(core, row.owner_id, input.users.as_deref(), input.groups.as_deref()).await?;
        let written = core
            .store
            .update_mysafe_item(
                &row,
                users.as_ref(),
                groups.as_ref(),
                file.as_ref().map(|f| f.chunks.as_slice()),
                core.now(),
            )
            .await;
        match written {
            Ok(()) => {
                row.revision += 1;
                let shares = core.store.mysafe_shares(row.id).await?;
                return Ok(ItemView { row, access, secrets, shares, shared_error });
            }
            Err(StoreError::Stale) => {}
            Err(StoreError::Conflict) => return Err(duplicate_code()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::concurrent_change())
}

/// The values of the fields an update changes, as it found them: if another caller changed one
/// of them before the update could be written, the two updates conflict. Secret values are
/// kept as hashes, never in the clear.
#[derive(PartialEq, Eq)]
struct Snapshot(Vec<(&'static str, [u8; 32])>);

impl Snapshot {
    fn of(input: &ItemInput, changes_code: bool, row: &ItemRow, secrets: &Map<String, Value>) -> Self {
        let digest = |value: &str| crate::crypto::hmac_sha256(row.uid.as_bytes(), value.as_bytes());
        let mut seen = Vec::new();
        for (name, given, current) in [
            ("name", input.name.is_some(), row.name.as_str()),
            ("url", input.url.is_some(), row.url.as_str()),
            ("username", input.username.is_some(), row.username.as_str()),
            ("method", input.method.is_some(), row.method.as_str()),
            ("tags", input.tags.is_some(), row.tags.as_str()),
            ("identifier_code", changes_code, row.identifier_code.as_deref().unwrap_or_default()),
        ] {
            if given {
                seen.push((name, digest(current)));
            }
        }
        for key in input.secrets.keys() {
            seen.push((*key, digest(secrets.get(*key).and_then(Value::as_str).unwrap_or_default())));
        }
        Self(seen)
    }
}
