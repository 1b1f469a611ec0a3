//! Version history of credential secrets: archive on change, list (metadata only), restore.

use crate::crypto::cipher::Aad;
use crate::domain::pam::Credential;
use crate::domain::pam::CredentialKey;
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::service::Core;
use crate::service::pam::sealing::aad;
use crate::store::pam::credentials::Version;

/// Who replaced which version, when and why; never the secrets.
pub async fn versions(core: &Core, credential: &str) -> ApiResult<(i64, Vec<Version>)> {
    let found = find(core, credential).await?;
    let mut versions = core.store.credential_versions(found.credential.id).await?;
    for v in &mut versions {
        v.secret = None;
        v.key_passphrase = None;
    }
    Ok((found.credential.version, versions))
}

/// Makes an earlier secret current again; the secret it replaces becomes a version too. It
/// applies to the credential as it is once its change has locked it, so a concurrent upsert or
/// restore is never lost nor refused: the two apply one after the other.
pub async fn restore(core: &Core, credential: &str, version: i64, by: &str) -> ApiResult<i64> {
    let found = find(core, credential).await?;
    let id = found.credential.id;
    let old = core
        .store
        .credential_versions(id)
        .await?
        .into_iter()
        .find(|v| v.version == version)
        .ok_or_else(|| ApiError::not_found(format!("Version {version} of credential {id} not found.")))?;
    let mut change = core.store.begin("restore_credential_version").await?;
    let mut c = change.lock_credential(id).await?;
    let row = version_row(&c.uid, version);
    let previous = archive(core, &c, by, &format!("restore of version {version}")).await?;
    let now = core.now();
    c.secret = match &old.secret {
        Some(b) => Some(
            core.seal(&aad(&c.uid, "secret"), &core.unseal(&Aad::new("credential_versions", &row, "secret"), b).await?),
        ),
        None => None,
    };
    c.key_passphrase = match &old.key_passphrase {
        Some(b) => Some(core.seal(
            &aad(&c.uid, "key_passphrase"),
            &core.unseal(&Aad::new("credential_versions", &row, "key_passphrase"), b).await?,
        )),
        None => None,
    };
    if !old.public_key.is_empty() {
        c.public_key = old.public_key;
    }
    c.version += 1;
    c.changed_at = now;
    change.save_credential(&c, Some(&previous), now).await?;
    change.commit().await?;
    Ok(c.version)
}

async fn find(core: &Core, key: &str) -> ApiResult<crate::domain::pam::FoundCredential> {
    core.store
        .find_credential(0, &CredentialKey::parse(key))
        .await
        .or_not_found(|| ApiError::not_found(format!("Credential '{key}' not found.")))
}

/// Versions are bound to their credential and number: `<uid>:<version>`.
pub fn version_row(uid: &str, version: i64) -> String {
    format!("{uid}:{version}")
}

/// The current secret of `c` re-sealed as version `c.version`, ready to be stored as history.
pub async fn archive(core: &Core, c: &Credential, by: &str, reason: &str) -> ApiResult<Version> {
    let row = version_row(&c.uid, c.version);
    let mut resealed = [None, None];
    for (slot, (field, blob)) in resealed.iter_mut().zip([("secret", &c.secret), ("key_passphrase", &c.key_passphrase)])
    {
        if let Some(b) = blob {
            let plain = core.unseal(&aad(&c.uid, field), b).await?;
            *slot = Some(core.seal(&Aad::new("credential_versions", &row, field), &plain));
        }
    }
    let [secret, key_passphrase] = resealed;
    Ok(Version {
        version: c.version,
        secret,
        key_passphrase,
        public_key: c.public_key.clone(),
        replaced_by: by.to_owned(),
        reason: reason.to_owned(),
        created_at: core.now(),
    })
}
