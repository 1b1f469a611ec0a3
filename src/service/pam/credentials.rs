//! PAM credentials (§3): upsert with the contract's rules, read with custody, enable, disable,
//! release. Every change of a secret keeps the previous one as a sealed version.

use zeroize::Zeroizing;

use crate::domain::authorization::{Access, Caller, Resource};
use crate::domain::identifier::{generate_identifier, parse_identifier};
use crate::domain::pam::FoundCredential;
use crate::domain::pam::{Credential, CredentialKey, CredentialKind, CredentialSettings, Device};
use crate::error::{ApiError, ApiResult, OrNotFound, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::service::pam::devices::{check_domains, device_not_found, invalid_identifier, unknown_domain};
use crate::service::pam::history::archive;
use crate::service::pam::rotation;
use crate::service::pam::sealing::aad;
use crate::service::pam::settings::{merge_settings, open_settings, seal_settings, validate_settings};
use crate::store::StoreError;

pub const DEFAULT_TYPE: &str = "Local User";
pub const MAX_ADDITIONAL_BYTES: usize = 64 * 1024;

pub fn not_found() -> ApiError {
    ApiError::business(codes::CREDENTIAL_NOT_FOUND, "Credential not found")
}
pub fn inactive() -> ApiError {
    ApiError::business(codes::CREDENTIAL_INACTIVE, "Credential inactive")
}
pub fn no_access() -> ApiError {
    ApiError::business(codes::CREDENTIAL_NO_ACCESS, "No access to credential").with_reason("credential not linked")
}
pub fn not_a_credential() -> ApiError {
    ApiError::business(codes::NOT_A_CREDENTIAL, "The item is not a credential")
}

#[derive(Default)]
pub struct CredentialInput {
    pub identifier: Option<String>,
    /// `None` when the `username` key was absent (`INVALID_USERNAME`); an empty value becomes "usr".
    pub username: Option<String>,
    pub hostname: Option<String>,
    pub ip: Option<String>,
    pub content: Option<Zeroizing<String>>,
    pub additional: Option<String>,
    pub tags: Option<String>,
    pub credential_type: Option<String>,
    pub domain: Option<String>,
    pub parent_password: Option<String>,
    pub device_domain: Option<String>,
    pub expiration_time: Option<String>,
    /// Only the settings objects the request carried.
    pub settings: CredentialSettings,
}

pub struct Upserted {
    pub credential: Credential,
    pub created: bool,
    pub changed: bool,
}

fn required(value: Option<String>, code: u16, what: &str) -> ApiResult<String> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::business(code, &format!("The device's {what} was not informed")))
}

/// The device a request names: it must exist and be visible (`DEVICE_NOT_FOUND` otherwise).
pub async fn device_for(core: &Core, caller: &Caller, hostname: &str) -> ApiResult<Device> {
    core.store.visible_device(caller.authorization.id, hostname, Access::Read).await.or_not_found(device_not_found)
}

/// Upsert (§3.3): an existing identifier updates that credential; otherwise the credential for
/// this username on this device is updated, or a new one created.
pub async fn upsert(core: &Core, caller: &Caller, mut input: CredentialInput) -> ApiResult<Upserted> {
    require_write(caller, Resource::Pam)?;
    let username =
        input.username.take().ok_or_else(|| ApiError::business(codes::INVALID_USERNAME, "Invalid username"))?;
    let username = if username.trim().is_empty() { "usr".to_owned() } else { username.trim().to_owned() };
    let hostname = required(input.hostname.take(), codes::DEVICE_HOSTNAME_NOT_INFORMED, "hostname")?;
    required(input.ip.take(), codes::DEVICE_IP_NOT_INFORMED, "IP")?;
    let identifier = parse_identifier(input.identifier.as_deref()).map_err(|_| invalid_identifier())?;
    if username.chars().count() > 255 || input.additional.as_ref().is_some_and(|a| a.len() > MAX_ADDITIONAL_BYTES) {
        return Err(ApiError::bad_request(format!(
            "Parameter 'username' is limited to 255 characters and 'additional' to {MAX_ADDITIONAL_BYTES} bytes."
        )));
    }
    let device = device_for(core, caller, &hostname).await?;
    if let Some(domain) = input.domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        if !core.store.unknown_domains(&[domain]).await?.is_empty() {
            return Err(unknown_domain());
        }
    }
    if let Some(list) = &input.device_domain {
        check_domains(core, list).await?;
    }
    validate_settings(&input.settings)?;
    let parent_id = match input.parent_password.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(raw) => {
            let id: i64 = raw
                .parse()
                .map_err(|_| ApiError::bad_request("Parameter 'parent_password' must be a credential id."))?;
            let parent = find(core, caller, &CredentialKey::Id(id)).await?;
            if parent.credential.kind != CredentialKind::Password {
                return Err(not_a_credential());
            }
            Some(id)
        }
        None => None,
    };

    let now = core.now();
    // Two callers upserting the same key at once both find nothing and both insert; the one
    // that loses the unique index reads again and updates what the winner created.
    for attempt in 0..2 {
        let existing =
            existing_for_upsert(core, caller, identifier.as_deref(), device.id, &username, CredentialKind::Password)
                .await?;
        if let Some(found) = existing {
            if !found.writable {
                return Err(no_access());
            }
            if found.credential.kind != CredentialKind::Password {
                return Err(not_a_credential());
            }
            return update(core, caller, found.credential, &device, username, input_rest(input, parent_id), now).await;
        }
        let mut credential =
            new_credential(core, caller, &device, &username, identifier.clone(), &input, parent_id, now);
        credential.next_rotation_at = rotation::next_rotation(core, &credential, &device, now).await?;
        match core.store.insert_credential(&credential, now).await {
            Ok(id) => {
                credential.id = id;
                return Ok(Upserted { credential, created: true, changed: true });
            }
            Err(StoreError::Conflict) if attempt == 0 => {}
            Err(StoreError::Conflict) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Err(no_access().with_reason("identifier held by a credential this caller cannot see"))
}

/// A new password credential from an upsert's input, its secrets sealed to a fresh uid.
#[allow(clippy::too_many_arguments)]
fn new_credential(
    core: &Core,
    caller: &Caller,
    device: &Device,
    username: &str,
    identifier: Option<String>,
    input: &CredentialInput,
    parent_id: Option<i64>,
    now: i64,
) -> Credential {
    let uid = uuid::Uuid::new_v4().to_string();
    let mut settings = CredentialSettings::default();
    merge_settings(&mut settings, input.settings.clone());
    Credential {
        id: 0,
        identifier: identifier.unwrap_or_else(generate_identifier),
        kind: CredentialKind::Password,
        device_id: device.id,
        username: username.to_owned(),
        secret: input.content.as_ref().map(|c| core.seal(&aad(&uid, "secret"), c.as_bytes())),
        public_key: String::new(),
        key_passphrase: None,
        key_name: String::new(),
        additional: input.additional.clone().unwrap_or_default(),
        tags: input.tags.clone().unwrap_or_default(),
        credential_type: input
            .credential_type
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_TYPE.to_owned()),
        domain: input.domain.clone().unwrap_or_default(),
        parent_id,
        automatic_change: settings.automatic_change(),
        settings: Some(seal_settings(core, &uid, &settings)),
        expiration_time: input.expiration_time.clone().unwrap_or_default(),
        version: 1,
        enabled: true,
        custody_by: None,
        viewed_at: None,
        changed_at: now,
        next_rotation_at: None,
        created_by: caller.authorization.id,
        uid,
    }
}

/// The upsert rule shared by passwords and SSH keys (§3.3): an existing identifier names the
/// item; otherwise the item of this kind for this username on this device, if any.
pub async fn existing_for_upsert(
    core: &Core,
    caller: &Caller,
    identifier: Option<&str>,
    device_id: i64,
    username: &str,
    kind: CredentialKind,
) -> ApiResult<Option<FoundCredential>> {
    let by_identifier = match identifier {
        Some(identifier) => {
            core.store.find_credential(caller.authorization.id, &CredentialKey::Identifier(identifier.to_owned())).await
        }
        None => Err(StoreError::NotFound),
    };
    let found = match by_identifier {
        Err(StoreError::NotFound) => {
            core.store.credential_on_device(caller.authorization.id, device_id, username, kind).await
        }
        other => other,
    };
    match found {
        Ok(found) => Ok(Some(found)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The fields of an update, besides the device and username that located the credential.
struct Changes {
    content: Option<Zeroizing<String>>,
    additional: Option<String>,
    tags: Option<String>,
    credential_type: Option<String>,
    domain: Option<String>,
    parent_id: Option<i64>,
    expiration_time: Option<String>,
    settings: CredentialSettings,
}

fn input_rest(input: CredentialInput, parent_id: Option<i64>) -> Changes {
    Changes {
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

async fn update(
    core: &Core,
    caller: &Caller,
    mut c: Credential,
    device: &Device,
    username: String,
    changes: Changes,
    now: i64,
) -> ApiResult<Upserted> {
    let before = (
        c.username.clone(),
        c.device_id,
        c.additional.clone(),
        c.tags.clone(),
        c.credential_type.clone(),
        c.domain.clone(),
        c.parent_id,
        c.expiration_time.clone(),
    );
    let old_settings = open_settings(core, &c).await?;
    let mut settings = old_settings.clone();
    merge_settings(&mut settings, changes.settings);
    c.username = username;
    c.device_id = device.id;
    for (slot, given) in [
        (&mut c.additional, changes.additional),
        (&mut c.tags, changes.tags),
        (&mut c.credential_type, changes.credential_type),
        (&mut c.domain, changes.domain),
        (&mut c.expiration_time, changes.expiration_time),
    ] {
        if let Some(value) = given {
            *slot = value;
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
    let after = (
        c.username.clone(),
        c.device_id,
        c.additional.clone(),
        c.tags.clone(),
        c.credential_type.clone(),
        c.domain.clone(),
        c.parent_id,
        c.expiration_time.clone(),
    );
    let changed = previous.is_some() || settings_changed || before != after;
    if previous.is_some() || c.next_rotation_at.is_none() {
        c.next_rotation_at = rotation::next_rotation(core, &c, device, now).await?;
    }
    core.store.save_credential(&c, previous.as_ref(), now).await?;
    Ok(Upserted { credential: c, created: false, changed })
}

/// A credential the caller names: `CREDENTIAL_NOT_FOUND` when missing,
/// `CREDENTIAL_NO_ACCESS` when not theirs to see.
pub async fn find(core: &Core, caller: &Caller, key: &CredentialKey) -> ApiResult<FoundCredential> {
    let found = core.store.find_credential(caller.authorization.id, key).await.or_not_found(not_found)?;
    if !found.visible {
        return Err(no_access());
    }
    Ok(found)
}

pub async fn list(core: &Core, caller: &Caller) -> ApiResult<Vec<FoundCredential>> {
    require_resource(caller, Resource::Pam)?;
    Ok(core.store.visible_credentials(caller.authorization.id).await?)
}

/// PUT (enable; `CREDENTIAL_ALREADY_ACTIVE`) and DELETE (disable; `CREDENTIAL_INACTIVE`).
pub async fn set_enabled(core: &Core, caller: &Caller, key: &str, enabled: bool) -> ApiResult<Credential> {
    require_write(caller, Resource::Pam)?;
    let found = find(core, caller, &CredentialKey::parse(key)).await?;
    if !found.writable {
        return Err(no_access().with_reason("credential linked for reading only"));
    }
    let c = found.credential;
    if c.kind != CredentialKind::Password {
        return Err(not_a_credential());
    }
    match (enabled, c.enabled) {
        (true, true) => {
            return Err(ApiError::business(codes::CREDENTIAL_ALREADY_ACTIVE, "Credential is already activated!"));
        }
        (false, false) => return Err(inactive()),
        _ => {}
    }
    core.store.set_credential_enabled(c.id, enabled, core.now()).await?;
    Ok(c)
}

/// Check-in (`NOT_IN_CUSTODY` when the caller does not hold it); schedules a rotation when the policy says.
pub async fn release(core: &Core, caller: &Caller, key: &str) -> ApiResult<Credential> {
    require_write(caller, Resource::Pam)?;
    let found = find(core, caller, &CredentialKey::parse(key)).await?;
    let c = found.credential;
    if !c.enabled {
        return Err(inactive());
    }
    let rotate_at = rotation::after_custody(core, &c, &found.device).await?.then(|| core.now());
    if !core.store.release_custody(c.id, caller.authorization.id, rotate_at).await? {
        return Err(ApiError::business(codes::NOT_IN_CUSTODY, "The credential is not in the user custody"));
    }
    Ok(c)
}
