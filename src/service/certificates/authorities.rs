//! Certificate authorities: roots and intermediates made by operators (admin API and CLI),
//! their certificate chains, and CRLs signed on request with numbers from the store.

use zeroize::Zeroizing;

use super::{blocking, key_aad, require_read};
use crate::crypto::x509::{self, IssuerKey};
use crate::domain::authorization::Caller;
use crate::domain::certificates::{Authority, KeySpec, NewAuthority};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::store::StoreError;

pub const TABLE: &str = "certificate_authorities";
/// The longest an authority lives: twenty years.
pub const MAX_AUTHORITY_DAYS: i64 = 7300;

/// What an operator asks for.
pub struct AuthorityInput {
    pub name: String,
    /// `ECDSA-P256` (default), `ECDSA-P384`, `RSA-2048`, `RSA-3072` or `RSA-4096`.
    pub key_type: Option<String>,
    pub validity_days: Option<i64>,
    /// The parent's id or name, for an intermediate.
    pub parent: Option<String>,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::bad_request("Parameter 'name' must be 1 to 64 characters."));
    }
    if name.chars().any(char::is_control) || name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request("Parameter 'name' must not hold control characters or be only digits."));
    }
    Ok(name.to_owned())
}

/// Makes a root, or an intermediate that must not outlive its parent.
pub async fn create(core: &Core, input: AuthorityInput) -> ApiResult<Authority> {
    let name = check_name(&input.name)?;
    let key = match input.key_type.as_deref() {
        None | Some("") => KeySpec::EcdsaP256,
        Some(k) => KeySpec::from_stored(k).map_err(ApiError::bad_request)?,
    };
    let days = input.validity_days.unwrap_or(3650);
    if !(1..=MAX_AUTHORITY_DAYS).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "Parameter 'validity_days' must be a number of days from 1 to {MAX_AUTHORITY_DAYS}."
        )));
    }
    let now = core.now();
    let (not_before, not_after) = (now - 60, now + days * 86_400);
    let parent = match input.parent.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => {
            let (parent, sealed) = core
                .store
                .authority_with_key(p)
                .await?
                .ok_or_else(|| ApiError::bad_request(format!("No certificate authority named {p:?}.")))?;
            usable(&parent, now)?;
            if not_after > parent.not_after {
                return Err(ApiError::bad_request(format!(
                    "An intermediate may not outlive its parent: {} is valid for {} more days.",
                    parent.name,
                    (parent.not_after - now) / 86_400
                )));
            }
            Some((parent, sealed))
        }
    };
    let key_der = blocking(move || x509::generate_key(key)).await?;
    let issuer = match &parent {
        Some((p, sealed)) => Some(open_issuer(core, p, sealed).await?),
        None => None,
    };
    let signing = x509::signing_key(&key_der, key, key.default_digest())?;
    let certificate_pem =
        x509::authority_certificate(&name, &signing, &x509::random_serial(), not_before, not_after, issuer.as_ref())?;
    let uid = uuid::Uuid::now_v7().to_string();
    let new = NewAuthority {
        sealed_key: core.seal(&key_aad(TABLE, &uid), &key_der),
        uid,
        name: name.clone(),
        parent_id: parent.as_ref().map(|(p, _)| p.id),
        key,
        certificate_pem,
        not_before,
        not_after,
    };
    match core.store.insert_authority(&new, now).await {
        Err(StoreError::Conflict) => {
            Err(ApiError::conflict(format!("A certificate authority named {name:?} already exists.")))
        }
        Err(e) => Err(e.into()),
        Ok(id) => core.store.authority_by_id(id).await?.map(|(a, _)| a).ok_or_else(|| ApiError::internal(&"lost")),
    }
}

/// An existing authority brought in with its key (PEM): the certificate must be a CA's and the
/// key must match it. Issued certificates chain to it like to one cofre made.
pub struct AuthorityImport {
    pub name: String,
    pub certificate: Zeroizing<String>,
    pub private_key: Zeroizing<String>,
    /// For an encrypted private key.
    pub password: Option<Zeroizing<String>>,
    /// The authority held in cofre that signed this one, if any.
    pub parent: Option<String>,
}

pub async fn import(core: &Core, input: AuthorityImport) -> ApiResult<Authority> {
    let name = check_name(&input.name)?;
    let parent = match input.parent.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            core.store
                .authority(p)
                .await?
                .ok_or_else(|| ApiError::bad_request(format!("No certificate authority named {p:?}.")))?,
        ),
    };
    let (certificate, private_key, password) = (input.certificate, input.private_key, input.password);
    let (imported, key) = super::blocking_text(move || {
        let imported = x509::import::import(
            x509::import::Format::Pem,
            certificate.as_bytes(),
            password.as_deref().map(String::as_str),
            Some(&private_key),
        )?;
        let der = imported.key_der.as_ref().ok_or("No private key given.")?;
        let key = x509::import::authority_key(&imported.described.certificate_pem, der)?;
        Ok((imported, key))
    })
    .await?;
    let key_der = imported.key_der.expect("checked above");
    let d = imported.described;
    let uid = uuid::Uuid::now_v7().to_string();
    let new = NewAuthority {
        sealed_key: core.seal(&key_aad(TABLE, &uid), &key_der),
        uid,
        name: name.clone(),
        parent_id: parent.as_ref().map(|p| p.id),
        key,
        certificate_pem: d.certificate_pem,
        not_before: d.not_before,
        not_after: d.not_after,
    };
    match core.store.insert_authority(&new, core.now()).await {
        Err(StoreError::Conflict) => {
            Err(ApiError::conflict(format!("A certificate authority named {name:?} already exists.")))
        }
        Err(e) => Err(e.into()),
        Ok(id) => core.store.authority_by_id(id).await?.map(|(a, _)| a).ok_or_else(|| ApiError::internal(&"lost")),
    }
}

/// An authority may sign only while it is valid.
pub fn usable(a: &Authority, now: i64) -> ApiResult<()> {
    if now >= a.not_after {
        return Err(ApiError::bad_request(format!("The certificate authority {} has expired.", a.name)));
    }
    Ok(())
}

/// Opens an authority's key for signing.
pub async fn open_issuer<'a>(core: &Core, a: &'a Authority, sealed: &[u8]) -> ApiResult<IssuerKey<'a>> {
    let der: Zeroizing<Vec<u8>> = core.unseal(&key_aad(TABLE, &a.uid), sealed).await?;
    Ok(IssuerKey { certificate_pem: &a.certificate_pem, key: x509::signing_key(&der, a.key, a.key.default_digest())? })
}

/// The authority's certificate followed by its parents', up to the root.
pub async fn chain_pem(core: &Core, a: &Authority) -> ApiResult<String> {
    let mut chain = a.certificate_pem.clone();
    let mut next = a.parent_id;
    // Parents were made before their children, so the walk ends; the bound guards bad rows.
    for _ in 0..16 {
        let Some(id) = next else { break };
        let (parent, _) = core.store.authority_by_id(id).await?.ok_or_else(|| ApiError::internal(&"missing parent"))?;
        chain.push_str(&parent.certificate_pem);
        next = parent.parent_id;
    }
    Ok(chain)
}

pub async fn list(core: &Core) -> ApiResult<Vec<Authority>> {
    Ok(core.store.authorities().await?)
}

/// An authority by id or name, for any `certificates` caller.
pub async fn show(core: &Core, caller: &Caller, key: &str) -> ApiResult<Authority> {
    require_read(caller)?;
    find(core, key).await
}

async fn find(core: &Core, key: &str) -> ApiResult<Authority> {
    core.store.authority(key).await?.ok_or_else(|| ApiError::not_found("Certificate authority not found."))
}

/// A CRL of the authority's revoked certificates, signed now with the next CRL number.
pub async fn crl(core: &Core, caller: &Caller, key: &str) -> ApiResult<String> {
    require_read(caller)?;
    let authority = find(core, key).await?;
    let (authority, sealed) = core
        .store
        .authority_by_id(authority.id)
        .await?
        .ok_or_else(|| ApiError::not_found("Certificate authority not found."))?;
    let revoked = core
        .store
        .revoked_serials(authority.id)
        .await?
        .into_iter()
        .map(|(serial, at)| Ok((hex::decode(&serial).map_err(|e| ApiError::internal(&e))?, at)))
        .collect::<ApiResult<Vec<_>>>()?;
    let number = core.store.next_crl_number(authority.id).await?;
    let issuer = open_issuer(core, &authority, &sealed).await?;
    Ok(x509::crl_pem(&issuer, number.unsigned_abs(), &revoked, core.now())?)
}
