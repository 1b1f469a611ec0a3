//! PAM credentials (§3): upsert with the contract's rules, read with custody, enable, disable,
//! release. Every change of a secret keeps the previous one as a sealed version.

use crate::domain::authorization::{Caller, Resource};
use crate::domain::expiration::normalize_expiration;
use crate::domain::identifier::{generate_identifier, parse_identifier};
use crate::domain::pam::FoundCredential;
use crate::domain::pam::{
    Credential, CredentialInput, CredentialKey, CredentialKind, CredentialSettings, Device, Upserted,
};
use crate::error::{ApiError, ApiResult, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::service::pam::credential_update::{Target, input_rest, update};
use crate::service::pam::devices::{
    check_domains, device_field_missing, device_not_found, invalid_identifier, may_write_device, unknown_domain,
};
use crate::service::pam::lookup::{device_for, existing_for_upsert, find, inactive, no_access, not_a_credential};
use crate::service::pam::rotation;
use crate::service::pam::sealing::aad;
use crate::service::pam::settings::{merge_settings, seal_settings, validate_settings};
use crate::service::required::Required;
use crate::store::StoreError;

pub const DEFAULT_TYPE: &str = "Local User";
pub const MAX_ADDITIONAL_BYTES: usize = 64 * 1024;

/// Upsert (§3.3): an existing identifier updates that credential; otherwise the credential for
/// this username on the device at `(hostname, ip)` is updated, or a new one created. A
/// `device_domain` given is stored on that device.
pub async fn upsert(core: &Core, caller: &Caller, mut input: CredentialInput) -> ApiResult<Upserted> {
    require_write(caller, Resource::Pam)?;
    let mut required = Required::new();
    let username = input.username.take();
    required.check(username.is_some(), || ApiError::business(codes::INVALID_USERNAME, "Invalid username"));
    let username = username.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).unwrap_or_else(|| "usr".to_owned());
    let hostname =
        required.text(input.hostname.take(), device_field_missing(codes::DEVICE_HOSTNAME_NOT_INFORMED, "hostname"));
    let ip = required.text(input.ip.take(), device_field_missing(codes::DEVICE_IP_NOT_INFORMED, "IP"));
    required.done()?;
    let identifier = parse_identifier(input.identifier.as_deref()).map_err(|_| invalid_identifier())?;
    if username.chars().count() > 255 || input.additional.as_ref().is_some_and(|a| a.len() > MAX_ADDITIONAL_BYTES) {
        return Err(ApiError::bad_request(format!(
            "Parameter 'username' is limited to 255 characters and 'additional' to {MAX_ADDITIONAL_BYTES} bytes."
        )));
    }
    if let Some(domain) = input.domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        if !core.store.unknown_domains(&[domain]).await?.is_empty() {
            return Err(unknown_domain());
        }
    }
    // An empty list names no domain: it leaves the device's as they are.
    let device_domain = input.device_domain.take().map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if let Some(list) = &device_domain {
        check_domains(core, list).await?;
    }
    validate_settings(&input.settings)?;
    input.expiration_time = expiration(input.expiration_time.take())?;
    // The request is whole; now what it names.
    let device = device_for(core, &hostname, &ip).await?;
    let device_domain = device_domain.filter(|d| *d != device.device_domain);
    if device_domain.is_some() && !may_write_device(core, caller, &device).await? {
        return Err(device_not_found().with_reason("device_domain of a device of another authorization"));
    }
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
    for _ in 0..2 {
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
            let target = Target { device: &device, username, device_domain: device_domain.as_deref() };
            return update(core, caller, found.credential, target, input_rest(input, identifier, parent_id), now).await;
        }
        let mut credential =
            new_credential(core, caller, &device, &username, identifier.clone(), &input, parent_id, now);
        credential.next_rotation_at = rotation::next_rotation(core, &credential, &device, now).await?;
        let mut change = core.store.begin("insert_credential").await?;
        // The device before the credential, the order in which disabling a device takes them.
        if let Some(domain) = &device_domain {
            change.set_device_domain(device.id, domain, now).await?;
        }
        match change.insert_credential(&credential, now).await {
            Ok(id) => credential.id = id,
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
        change.commit().await?;
        return Ok(Upserted { credential, created: true, changed: true });
    }
    Err(no_access().with_reason("identifier held by a credential this caller cannot see"))
}

/// An `expiration_time` in its stored form; garbage is a 400, never stored and echoed.
pub(super) fn expiration(value: Option<String>) -> ApiResult<Option<String>> {
    value
        .map(|v| {
            normalize_expiration(&v).ok_or_else(|| {
                ApiError::bad_request(
                    "Parameter 'expiration_time' must be an ISO 8601 date-time, e.g. 2025-01-31T17:00:00-03:00.",
                )
            })
        })
        .transpose()
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
        revision: 0,
        enabled: true,
        custody_by: None,
        viewed_at: None,
        changed_at: now,
        next_rotation_at: None,
        created_by: caller.authorization.id,
        uid,
    }
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
