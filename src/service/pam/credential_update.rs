//! Updating an existing credential through an upsert, safely under concurrency: written only
//! over the revision it read, merged again when another caller changed other fields.

use zeroize::Zeroizing;

use crate::domain::authorization::Caller;
use crate::domain::pam::{Credential, CredentialKey, CredentialSettings, Device};
use crate::domain::pam::{CredentialInput, Upserted};
use crate::error::{ApiError, ApiResult};
use crate::service::pam::history::archive;
use crate::service::pam::lookup::{find, no_access};
use crate::service::pam::rotation;
use crate::service::pam::sealing::aad;
use crate::service::pam::settings::{merge_settings, open_settings, seal_settings};
use crate::service::{Core, MAX_MERGES};
use crate::store::StoreError;

/// The fields of an update, besides the device and username that located the credential.
pub(super) struct Changes {
    /// A new identifier for the credential (§3.3: the identifier given is the one stored).
    identifier: Option<String>,
    content: Option<Zeroizing<String>>,
    additional: Option<String>,
    tags: Option<String>,
    credential_type: Option<String>,
    domain: Option<String>,
    parent_id: Option<i64>,
    expiration_time: Option<String>,
    settings: CredentialSettings,
}

pub(super) fn input_rest(input: CredentialInput, identifier: Option<String>, parent_id: Option<i64>) -> Changes {
    Changes {
        identifier,
        content: input.content,
        additional: input.additional,
        tags: input.tags,
        credential_type: input.credential_type.filter(|t| !t.trim().is_empty()),
        domain: input.domain,
        parent_id,
        expiration_time: input.expiration_time,
        settings: input.settings,
    }
}

/// Applies an upsert's changes to an existing credential. The write applies only to the
/// revision it read; when another caller changed the credential in between, it is read again
/// and the changes re-applied — changes to different fields both survive — unless a field this
/// upsert sets was changed meanwhile: then 409, and nothing is overwritten.
pub(super) async fn update(
    core: &Core,
    caller: &Caller,
    mut c: Credential,
    device: &Device,
    username: String,
    changes: Changes,
    now: i64,
) -> ApiResult<Upserted> {
    let mut first_read = None;
    for _ in 0..MAX_MERGES {
        let seen = snapshot(core, &c, &changes).await?;
        match &first_read {
            Some(before) if *before != seen => return Err(ApiError::concurrent_change()),
            Some(_) => {}
            None => first_read = Some(seen),
        }
        let id = c.id;
        if let Some(done) = apply_changes(core, caller, c, device, &username, &changes, now).await? {
            return Ok(done);
        }
        let found = find(core, caller, &CredentialKey::Id(id)).await?;
        if !found.writable {
            return Err(no_access());
        }
        c = found.credential;
    }
    Err(ApiError::concurrent_change())
}

/// The current values of the fields an update sets (secrets and settings as hashes,
/// never in the clear), to tell a concurrent change of the same field from one of another.
async fn snapshot(core: &Core, c: &Credential, changes: &Changes) -> ApiResult<Vec<(&'static str, [u8; 32])>> {
    let digest = |value: &[u8]| crate::crypto::hmac_sha256(c.uid.as_bytes(), value);
    // The upsert sets the username and device too: someone moving the credential meanwhile conflicts.
    let mut seen = vec![("username", digest(c.username.as_bytes())), ("device", digest(&c.device_id.to_le_bytes()))];
    for (name, given, current) in [
        ("identifier", changes.identifier.is_some(), c.identifier.as_str()),
        ("additional", changes.additional.is_some(), c.additional.as_str()),
        ("tags", changes.tags.is_some(), c.tags.as_str()),
        ("credential_type", changes.credential_type.is_some(), c.credential_type.as_str()),
        ("domain", changes.domain.is_some(), c.domain.as_str()),
        ("expiration_time", changes.expiration_time.is_some(), c.expiration_time.as_str()),
    ] {
        if given {
            seen.push((name, digest(current.as_bytes())));
        }
    }
    if changes.parent_id.is_some() {
        seen.push(("parent", digest(&c.parent_id.unwrap_or(0).to_le_bytes())));
    }
    if changes.content.is_some() {
        let current = match &c.secret {
            Some(blob) => core.unseal(&aad(&c.uid, "secret"), blob).await?,
            None => Zeroizing::new(Vec::new()),
        };
        seen.push(("content", digest(&current)));
    }
    if changes.settings != CredentialSettings::default() {
        let current = open_settings(core, c).await?;
        let json = Zeroizing::new(format!("{current:?}"));
        seen.push(("settings", digest(json.as_bytes())));
    }
    Ok(seen)
}

/// The fields an upsert may change that are not sealed, to tell whether it changed any.
fn plain_fields(c: &Credential) -> impl PartialEq + use<> {
    (
        c.identifier.clone(),
        c.username.clone(),
        c.device_id,
        c.additional.clone(),
        c.tags.clone(),
        c.credential_type.clone(),
        c.domain.clone(),
        c.parent_id,
        c.expiration_time.clone(),
    )
}

/// One attempt: the changes applied to `c` as read and written over its revision; `None` when
/// the credential changed since it was read.
async fn apply_changes(
    core: &Core,
    caller: &Caller,
    mut c: Credential,
    device: &Device,
    username: &str,
    changes: &Changes,
    now: i64,
) -> ApiResult<Option<Upserted>> {
    let before = plain_fields(&c);
    let old_settings = open_settings(core, &c).await?;
    let mut settings = old_settings.clone();
    merge_settings(&mut settings, changes.settings.clone());
    username.clone_into(&mut c.username);
    c.device_id = device.id;
    for (slot, given) in [
        (&mut c.identifier, &changes.identifier),
        (&mut c.additional, &changes.additional),
        (&mut c.tags, &changes.tags),
        (&mut c.credential_type, &changes.credential_type),
        (&mut c.domain, &changes.domain),
        (&mut c.expiration_time, &changes.expiration_time),
    ] {
        if let Some(value) = given {
            value.clone_into(slot);
        }
    }
    if changes.parent_id.is_some() {
        c.parent_id = changes.parent_id;
    }
    let mut previous = None;
    if let Some(content) = &changes.content {
        let same = match &c.secret {
            Some(blob) => core.unseal(&aad(&c.uid, "secret"), blob).await?.as_slice() == content.as_bytes(),
            None => false,
        };
        if !same {
            previous = Some(
                archive(core, &c, &format!("authorization {}", caller.authorization.id), "updated through the API")
                    .await?,
            );
            c.secret = Some(core.seal(&aad(&c.uid, "secret"), content.as_bytes()));
            c.version += 1;
            c.changed_at = now;
        }
    }
    let settings_changed = settings != old_settings;
    c.automatic_change = settings.automatic_change();
    c.settings = Some(seal_settings(core, &c.uid, &settings));
    let after = plain_fields(&c);
    let changed = previous.is_some() || settings_changed || before != after;
    let scheduled = c.next_rotation_at;
    if previous.is_some() || c.next_rotation_at.is_none() {
        c.next_rotation_at = rotation::next_rotation(core, &c, device, now).await?;
    }
    if !changed && c.next_rotation_at == scheduled {
        // An upsert that changes nothing writes nothing: repeated registrations of the same
        // credential by many callers never contend.
        return Ok(Some(Upserted { credential: c, created: false, changed }));
    }
    match core.store.save_credential(&c, previous.as_ref(), now).await {
        Ok(()) => {
            c.revision += 1;
            Ok(Some(Upserted { credential: c, created: false, changed }))
        }
        Err(StoreError::Stale) => Ok(None),
        Err(StoreError::Conflict) => {
            Err(no_access().with_reason("identifier held by a credential this caller cannot see"))
        }
        Err(e) => Err(e.into()),
    }
}
