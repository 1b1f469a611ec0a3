//! Reading a credential's password (§3.2): checks, opens it (or its parent's), starts custody.

use zeroize::Zeroizing;

use crate::domain::authorization::{Caller, Resource};
use crate::domain::dashboards::NewReveal;
use crate::domain::pam::FoundCredential;
use crate::domain::pam::{Credential, CredentialKey, CredentialKind, CredentialSettings};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::access::require_resource;
use crate::service::pam::lookup::{find, inactive, no_access, not_a_credential};
use crate::service::pam::sealing::aad;
use crate::service::pam::settings::open_settings;
use crate::store::StoreError;

/// A read with the password: checks, opens, and starts custody.
pub struct Revealed {
    pub found: FoundCredential,
    pub password: Zeroizing<String>,
    pub settings: CredentialSettings,
}

pub async fn reveal(core: &Core, caller: &Caller, key: &str) -> ApiResult<Revealed> {
    require_resource(caller, Resource::Pam)?;
    let found = find(core, caller, &CredentialKey::parse(key)).await?;
    let c = &found.credential;
    if c.kind != CredentialKind::Password {
        return Err(not_a_credential());
    }
    if !c.enabled {
        return Err(inactive());
    }
    let password = current_password(core, caller.authorization.id, c).await?;
    let settings = open_settings(core, c).await?;
    core.store.start_custody(c.id, caller.authorization.id, core.now()).await?;
    // The risk dashboard scores reveals by time, origin and rate (never the secret).
    let reveal = NewReveal {
        at: core.now(),
        application_id: caller.authorization.application_id,
        authorization_id: caller.authorization.id,
        credential_id: c.id,
        credential_label: &c.username,
        hostname: &found.device.hostname,
        client_ip: caller.client_ip.to_string(),
    };
    core.store.record_reveal(&reveal).await?;
    Ok(Revealed { found, password, settings })
}

/// The credential's own password, or its parent's when it inherits one. The parent is read as
/// this reader (an authorization) sees it, every time: a parent the reader can no longer see (unlinked, or never
/// theirs) answers `CREDENTIAL_NO_ACCESS`, a disabled parent `CREDENTIAL_INACTIVE`, as reading the parent itself would.
pub async fn current_password(core: &Core, reader: i64, c: &Credential) -> ApiResult<Zeroizing<String>> {
    let (uid, blob) = match c.parent_id {
        Some(parent) => {
            let parent = match core.store.find_credential(reader, &CredentialKey::Id(parent)).await {
                Ok(found) if found.visible => found.credential,
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(no_access().with_reason("parent credential not reachable"));
                }
                Err(e) => return Err(e.into()),
            };
            if !parent.enabled {
                return Err(inactive());
            }
            (parent.uid, parent.secret)
        }
        None => (c.uid.clone(), c.secret.clone()),
    };
    match blob {
        Some(blob) => {
            let bytes = core.unseal(&aad(&uid, "secret"), &blob).await?;
            Ok(Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|e| ApiError::internal(&e))?))
        }
        None => Ok(Zeroizing::new(String::new())),
    }
}
