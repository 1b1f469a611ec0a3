//! Updating an existing credential through an upsert. An upsert carries no precondition, so it
//! never fails for concurrency: it applies to the credential as it is once its change has
//! locked it, so concurrent upserts of one credential apply one after the other, in any process.
//! Each keeps what the others set in fields it does not set, the last one's values win where
//! they overlap, and each new secret makes the one it replaces a version.

use zeroize::Zeroizing;

use crate::domain::authorization::Caller;
use crate::domain::pam::{Credential, CredentialSettings, Device};
use crate::domain::pam::{CredentialInput, Upserted};
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::pam::history::archive;
use crate::service::pam::lookup::no_access;
use crate::service::pam::rotation::next_rotation_under;
use crate::service::pam::sealing::aad;
use crate::service::pam::settings::{merge_settings, open_settings, seal_settings};
use crate::store::StoreError;
use crate::store::pam::credentials::Version;
use crate::store::pam::policies::PolicyCandidates;

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

/// Where an upsert puts the credential: the device and username that located it, and the
/// device's domains when the upsert changes them.
pub(super) struct Target<'a> {
    pub device: &'a Device,
    pub username: String,
    pub device_domain: Option<&'a str>,
}

/// Applies an upsert's changes to an existing credential (`read`, as found by the upsert).
pub(super) async fn update(
    core: &Core,
    caller: &Caller,
    read: Credential,
    target: Target<'_>,
    changes: Changes,
    now: i64,
) -> ApiResult<Upserted> {
    let Target { device, username, device_domain } = target;
    // Read before the change: once it holds its lock, it reads only through itself.
    let policies = core.store.policy_candidates(read.id, device.id).await?;
    // An upsert that changes nothing of the credential as read, nor of its device, writes
    // nothing and takes no lock: repeated registrations by many callers never contend.
    let unchanged = apply_changes(core, caller, read.clone(), device, &username, &changes, &policies, now).await?;
    if !unchanged.write && device_domain.is_none() {
        return Ok(Upserted { credential: read, created: false, changed: false });
    }
    let mut change = core.store.begin("upsert_credential").await?;
    // The device before the credential, the order in which disabling a device takes them.
    if let Some(domain) = device_domain {
        change.set_device_domain(device.id, domain, now).await?;
    }
    let current = change.lock_credential(read.id).await?;
    let Applied { mut credential, previous, changed, write } =
        apply_changes(core, caller, current, device, &username, &changes, &policies, now).await?;
    if !write && device_domain.is_none() {
        // A concurrent upsert set the same values meanwhile: the change is dropped unwritten.
        return Ok(Upserted { credential, created: false, changed });
    }
    if write {
        match change.save_credential(&credential, previous.as_ref(), now).await {
            Ok(()) => credential.revision += 1,
            Err(StoreError::Conflict) => {
                return Err(no_access().with_reason("identifier held by a credential this caller cannot see"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    change.commit().await?;
    Ok(Upserted { credential, created: false, changed: changed || device_domain.is_some() })
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

/// An upsert applied to a credential: the credential to write, the secret it replaces as a
/// version, whether anything the caller sees changed, and whether there is anything to write.
struct Applied {
    credential: Credential,
    previous: Option<Version>,
    changed: bool,
    write: bool,
}

/// The changes applied to `c`; only sealing and opening, no reads (see `update`).
#[allow(clippy::too_many_arguments)]
async fn apply_changes(
    core: &Core,
    caller: &Caller,
    mut c: Credential,
    device: &Device,
    username: &str,
    changes: &Changes,
    policies: &PolicyCandidates,
    now: i64,
) -> ApiResult<Applied> {
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
        c.next_rotation_at = next_rotation_under(policies, &c, now);
    }
    let write = changed || c.next_rotation_at != scheduled;
    Ok(Applied { credential: c, previous, changed, write })
}
