//! Certificates once signed: listed with the contract's filters, exported with their key
//! (encrypted under the request's key password), and revoked (with the request's revocation
//! password when it set one).

use zeroize::Zeroizing;

use super::signing::TABLE;
use super::{key_aad, require_change, require_read};
use crate::crypto::x509;
use crate::domain::authorization::Caller;
use crate::domain::certificates::{Certificate, CertificateFilter};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;

/// The caller's certificates with the list's filters. A `{code}` that is both a request code and
/// another certificate's id names the request's certificate, as the English documentation reads it.
pub async fn list(core: &Core, caller: &Caller, filter: &CertificateFilter) -> ApiResult<Vec<Certificate>> {
    require_read(caller)?;
    let mut found = core.store.certificates(Some(caller.authorization.application_id), filter, core.now()).await?;
    if let Some(code) = &filter.request_code {
        let from_request = |c: &Certificate| c.request_code.as_deref() == Some(code.as_str());
        if found.iter().any(from_request) {
            found.retain(from_request);
        }
    }
    Ok(found)
}

/// Every application's certificates, for operators (the CLI).
pub async fn list_all(core: &Core, filter: &CertificateFilter) -> ApiResult<Vec<Certificate>> {
    Ok(core.store.certificates(None, filter, core.now()).await?)
}

/// A certificate with its chain and its key as encrypted PKCS#8.
pub struct Export {
    pub certificate: Certificate,
    pub encrypted_key: Zeroizing<String>,
}

fn not_found() -> ApiError {
    ApiError::not_found("Certificate not found.")
}

/// Exporting a key needs write access and the key password the request set.
pub async fn export(
    core: &Core,
    caller: &Caller,
    id: i64,
    key_password: Option<Zeroizing<String>>,
) -> ApiResult<Export> {
    require_change(caller)?;
    let (certificate, secrets) = core
        .store
        .certificate_with_secrets(Some(caller.authorization.application_id), id)
        .await?
        .ok_or_else(not_found)?;
    let (Some(sealed), Some(hash)) = (secrets.sealed_key, secrets.key_password_hash) else {
        return Err(ApiError::bad_request(
            "This certificate's key is not exportable: its request set no key_password.",
        ));
    };
    let password = key_password.ok_or_else(|| ApiError::bad_request("Parameter 'key_password' is required."))?;
    if !core.passwords.verify(password.clone(), Some(hash)).await {
        return Err(ApiError::forbidden("Wrong key_password."));
    }
    let der = core.unseal(&key_aad(TABLE, &certificate.uid), &sealed).await?;
    let encrypted_key = super::blocking(move || x509::encrypted_key_pem(&der, &password)).await?;
    Ok(Export { certificate, encrypted_key })
}

/// Revokes the caller's certificate once; its serial is in its authority's next CRL.
pub async fn revoke(
    core: &Core,
    caller: &Caller,
    id: i64,
    password: Option<Zeroizing<String>>,
    reason: Option<String>,
) -> ApiResult<Certificate> {
    require_change(caller)?;
    let application_id = caller.authorization.application_id;
    let (_, secrets) = core.store.certificate_with_secrets(Some(application_id), id).await?.ok_or_else(not_found)?;
    if let Some(hash) = secrets.revocation_hash {
        let password = password.ok_or_else(|| ApiError::bad_request("Parameter 'password_revogation' is required."))?;
        if !core.passwords.verify(password, Some(hash)).await {
            return Err(ApiError::forbidden("Wrong password_revogation."));
        }
    }
    let reason = reason.map(|r| r.trim().chars().take(255).collect::<String>()).filter(|r| !r.is_empty());
    if !core.store.revoke_certificate(id, reason.as_deref(), core.now()).await? {
        return Err(ApiError::conflict("Certificate already revoked."));
    }
    let filter = CertificateFilter { id: Some(id), limit: 1, ..CertificateFilter::default() };
    core.store.certificates(Some(application_id), &filter, core.now()).await?.pop().ok_or_else(not_found)
}
