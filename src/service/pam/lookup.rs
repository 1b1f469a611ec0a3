//! Finding the credential or device a request names, and the contract's answers when it
//! cannot be found or reached. Every PAM rule that locates a credential stands on this.

use crate::domain::authorization::Caller;
use crate::domain::pam::{CredentialKey, CredentialKind, Device, FoundCredential};
use crate::error::{ApiError, ApiResult, OrNotFound, codes};
use crate::service::Core;
use crate::service::pam::devices::device_not_found;
use crate::store::StoreError;

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

/// The device a credential or key is registered on: the existing device at `hostname` with
/// address `ip` (§3.3 looks credentials up by `(hostname, ip, username)`), `DEVICE_NOT_FOUND`
/// otherwise — a hostname with another address is another device, and none is made here.
/// Naming a device another application registered, to put one's own credential on it, is
/// allowed; changing the device itself needs ownership or a write link.
pub async fn device_for(core: &Core, hostname: &str, ip: &str) -> ApiResult<Device> {
    core.store.device_at(hostname.trim(), ip.trim()).await.or_not_found(device_not_found)
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
