//! Signing a request: self-signed, or by an authority held in cofre. The certificate carries the
//! request's subject and names; its validity may not reach past the authority's. The request is
//! marked signed in the same transaction that stores the certificate, so it is signed once.

use super::authorities::{self, open_issuer, usable};
use super::requests::{TABLE as REQUESTS, key_row};
use super::{key_aad, require_change};
use crate::crypto::x509::{self, LeafSubject};
use crate::domain::authorization::Caller;
use crate::domain::certificates::requests::STATUS_SIGNED;
use crate::domain::certificates::{
    Authority, Certificate, CertificateFilter, DEFAULT_RENEWAL_DAYS, KeySpec, NewCertificate, Origin, SignatureDigest,
};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::store::StoreError;

pub const TABLE: &str = "certificates";

pub struct SignInput {
    pub code: String,
    /// Renew automatically with the same authority before expiry (cofre's own parameter).
    pub auto_renew: Option<bool>,
    pub renewal_days: Option<i64>,
    pub self_signed: Option<bool>,
    pub ca: Option<String>,
    pub reason: Option<String>,
    pub justification: Option<String>,
    pub itsm_code: Option<String>,
}

fn text(value: Option<String>, name: &str, max: usize) -> ApiResult<Option<String>> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(ApiError::bad_request(format!(
            "Parameter '{name}' must be at most {max} characters, without control characters."
        ))),
        other => Ok(other),
    }
}

/// Days before expiry from which a certificate is due for renewal: 1 to 365 (default 30).
pub fn renewal_days(days: Option<i64>) -> ApiResult<i64> {
    match days {
        None => Ok(DEFAULT_RENEWAL_DAYS),
        Some(d @ 1..=365) => Ok(d),
        Some(_) => Err(ApiError::bad_request("Parameter 'renewal_days' must be a whole number from 1 to 365.")),
    }
}

/// A certificate for `subject` with `key_der`: self-signed, or signed by `authority` with the
/// authority's chain. Returns the certificate and the chain, in PEM.
pub(super) async fn issue(
    core: &Core,
    subject: &LeafSubject<'_>,
    key_der: &[u8],
    (spec, digest): (KeySpec, SignatureDigest),
    serial: &[u8],
    (not_before, not_after): (i64, i64),
    authority: Option<&(Authority, Vec<u8>)>,
) -> ApiResult<(String, String)> {
    let key = x509::signing_key(key_der, spec, digest)?;
    Ok(match authority {
        None => (subject.certificate_pem(&key, serial, not_before, not_after, None)?, String::new()),
        Some((a, sealed)) => {
            let issuer = open_issuer(core, a, sealed).await?;
            let pem = subject.certificate_pem(&key, serial, not_before, not_after, Some(&issuer))?;
            (pem, authorities::chain_pem(core, a).await?)
        }
    })
}

pub async fn sign(core: &Core, caller: &Caller, input: SignInput) -> ApiResult<Certificate> {
    require_change(caller)?;
    let self_signed = input.self_signed.ok_or_else(|| ApiError::bad_request("Parameter 'self_signed' is required."))?;
    let reason =
        text(input.reason, "reason", 255)?.ok_or_else(|| ApiError::bad_request("Parameter 'reason' is required."))?;
    let justification = text(input.justification, "justification", 1024)?;
    let itsm_code = text(input.itsm_code, "itsm_code", 128)?;
    let renewal_days = renewal_days(input.renewal_days)?;
    let auto_renew = input.auto_renew.unwrap_or(false);
    if auto_renew && self_signed {
        return Err(ApiError::bad_request(
            "Parameter 'auto_renew' needs a certificate authority in cofre: a self-signed certificate is not renewed.",
        ));
    }
    let application_id = caller.authorization.application_id;
    let (request, secrets) = core
        .store
        .certificate_request_with_secrets(application_id, &input.code)
        .await?
        .ok_or_else(|| ApiError::not_found("Certificate request not found."))?;
    if request.status == STATUS_SIGNED {
        return Err(ApiError::conflict(format!("Certificate request {} is already signed.", request.code)));
    }
    let now = core.now();
    let not_before = now - 60;
    let not_after = now + request.fields.validity_days * 86_400;
    let authority = match (self_signed, input.ca.as_deref().map(str::trim).filter(|c| !c.is_empty())) {
        (true, _) => None,
        (false, None) => {
            return Err(ApiError::bad_request("Parameter 'ca' is required when the certificate is not self-signed."));
        }
        (false, Some(ca)) => {
            let (a, sealed) = core
                .store
                .authority_with_key(ca)
                .await?
                .ok_or_else(|| ApiError::bad_request(format!("No certificate authority named {ca:?}.")))?;
            usable(&a, now)?;
            if not_after > a.not_after {
                return Err(ApiError::bad_request(format!(
                    "A validity of {} days goes beyond the certificate authority's own: {} is valid for {} more days.",
                    request.fields.validity_days,
                    a.name,
                    (a.not_after - now) / 86_400
                )));
            }
            Some((a, sealed))
        }
    };
    let key_der = core.unseal(&key_aad(REQUESTS, &key_row(application_id, &request.code)), &secrets.sealed_key).await?;
    let f = &request.fields;
    let subject = LeafSubject { common_name: &f.common_name, organization: &f.organization, names: &f.san };
    let serial = x509::random_serial();
    let validity = (not_before, not_after);
    let (certificate_pem, chain_pem) =
        issue(core, &subject, &key_der, (f.key, f.digest), &serial, validity, authority.as_ref()).await?;
    let uid = uuid::Uuid::now_v7().to_string();
    let new = NewCertificate {
        sealed_key: Some(core.seal(&key_aad(TABLE, &uid), &key_der)),
        uid,
        application_id,
        request_id: Some(request.id),
        authority_id: authority.as_ref().map(|(a, _)| a.id),
        origin: Origin::Requested,
        fingerprint: x509::import::fingerprint_pem(&certificate_pem).map_err(|e| ApiError::internal(&e))?,
        self_signed: authority.is_none(),
        key_password_hash: None,
        revocation_hash: None,
        auto_renew,
        renewal_days,
        serial: x509::serial_hex(&serial),
        common_name: f.common_name.clone(),
        organization: f.organization.clone(),
        key: Some((f.key, f.digest)),
        san: f.san.clone(),
        certificate_pem,
        chain_pem,
        not_before,
        not_after,
        sign_reason: Some(reason),
        sign_justification: justification,
        itsm_code,
    };
    let id = match core.store.insert_signed_certificate(&new, request.id, now).await {
        Err(StoreError::Stale) => {
            return Err(ApiError::conflict(format!("Certificate request {} is already signed.", request.code)));
        }
        other => other?,
    };
    let filter = CertificateFilter { id: Some(id), limit: 1, ..CertificateFilter::default() };
    core.store.certificates(Some(application_id), &filter, now).await?.pop().ok_or_else(|| ApiError::internal(&"lost"))
}
