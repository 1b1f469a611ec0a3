//! Monitoring and automatic renewal. A certificate's status (valid, renewal pending, expired) is
//! derived from its dates and the clock whenever it is read, so every process agrees on it at
//! every moment; this job renews the ones marked for automatic renewal once they are due:
//! a new key of the same kind, the same subject and names, signed by the same authority.
//! Due certificates are leased as rotations are, so several processes renew each once.

use super::authorities::usable;
use super::imports::by_id;
use super::publishing::{self, CommandPublisher};
use super::signing::{TABLE, issue};
use super::{blocking, key_aad, require_change};
use crate::crypto::x509::{self, LeafSubject};
use crate::domain::audit::AuditRecord;
use crate::domain::authorization::Caller;
use crate::domain::certificates::{Certificate, NewCertificate};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::audit::AuditSink;
use crate::store::StoreError;
use crate::store::certificates::renewals::RenewalSource;

const LEASE_SECS: i64 = 300;

/// A certificate replaced by a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    pub old: i64,
    pub new: i64,
}

/// Renews every certificate due now (by the core's clock), each at most once per pass.
pub async fn renew_due(core: &Core, audit: &AuditSink) -> ApiResult<Vec<Renewal>> {
    let mut renewed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let now = core.now();
        let claimed = core.store.claim_due_certificate_renewals(now, now + LEASE_SECS, 20).await?;
        let fresh: Vec<i64> = claimed.into_iter().filter(|id| seen.insert(*id)).collect();
        if fresh.is_empty() {
            return Ok(renewed);
        }
        for id in fresh {
            match renew_one(core, id).await {
                Ok(Some(new)) => {
                    audit_renewal(core, audit, id, 200, new).await?;
                    republish(core, id, new).await;
                    renewed.push(Renewal { old: id, new });
                }
                Ok(None) => {}
                Err(e) => {
                    // Retried when the lease runs out; the old certificate stays in place.
                    tracing::warn!(certificate = id, error = %e, "certificate renewal failed");
                    audit_renewal(core, audit, id, 500, 0).await?;
                }
            }
        }
    }
}

/// Marks one of the caller's certificates for automatic renewal (or not) and sets how many days
/// before expiry it is due. Only certificates signed by a cofre authority with a key cofre made
/// can be renewed here.
pub async fn configure(
    core: &Core,
    caller: &Caller,
    id: i64,
    auto_renew: Option<bool>,
    renewal_days: Option<i64>,
) -> ApiResult<Certificate> {
    require_change(caller)?;
    let application_id = caller.authorization.application_id;
    let current = by_id(core, application_id, id).await?;
    let days = match renewal_days {
        None => current.renewal_days,
        some => super::signing::renewal_days(some)?,
    };
    let auto_renew = auto_renew.unwrap_or(current.auto_renew);
    if auto_renew && core.store.certificate_renewal_source(id).await?.is_none() {
        return Err(ApiError::bad_request(
            "Only certificates signed by a certificate authority in cofre, with a key cofre made, renew automatically.",
        ));
    }
    if !core.store.set_certificate_renewal(application_id, id, auto_renew, days).await? {
        return Err(ApiError::not_found("Certificate not found."));
    }
    by_id(core, application_id, id).await
}

/// The replacement's id, or None when another pass renewed it first.
async fn renew_one(core: &Core, id: i64) -> ApiResult<Option<i64>> {
    let Some(source) = core.store.certificate_renewal_source(id).await? else { return Ok(None) };
    let RenewalSource { certificate: old, authority_id, organization, key, digest, .. } = &source;
    let authority = core
        .store
        .authority_with_key(&authority_id.to_string())
        .await?
        .ok_or_else(|| ApiError::internal(&format!("authority {authority_id} is gone")))?;
    let now = core.now();
    usable(&authority.0, now)?;
    let not_before = now - 60;
    // The same lifetime as before, within the authority's own.
    let not_after = (now + (old.not_after - old.not_before)).min(authority.0.not_after);
    let spec = *key;
    let key_der = blocking(move || x509::generate_key(spec)).await?;
    let subject = LeafSubject { common_name: &old.common_name, organization, names: &old.san };
    let serial = x509::random_serial();
    let (certificate_pem, chain_pem) =
        issue(core, &subject, &key_der, (*key, *digest), &serial, (not_before, not_after), Some(&authority)).await?;
    let uid = uuid::Uuid::now_v7().to_string();
    let replacement = NewCertificate {
        sealed_key: Some(core.seal(&key_aad(TABLE, &uid), &key_der)),
        uid,
        application_id: old.application_id,
        request_id: None,
        authority_id: Some(*authority_id),
        origin: old.origin,
        fingerprint: x509::import::fingerprint_pem(&certificate_pem).map_err(|e| ApiError::internal(&e))?,
        self_signed: false,
        serial: x509::serial_hex(&serial),
        common_name: old.common_name.clone(),
        organization: organization.clone(),
        key: Some((*key, *digest)),
        san: old.san.clone(),
        certificate_pem,
        chain_pem,
        auto_renew: true,
        renewal_days: old.renewal_days,
        // The passwords that guarded the old key's export and revocation guard the new one.
        key_password_hash: source.key_password_hash.clone(),
        revocation_hash: source.revocation_hash.clone(),
        not_before,
        not_after,
        sign_reason: Some(format!("automatic renewal of certificate {id}")),
        sign_justification: None,
        itsm_code: None,
    };
    match core.store.insert_renewed_certificate(&replacement, id, now).await {
        Ok(new) => Ok(Some(new)),
        Err(StoreError::Stale) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Installs the replacement where the old certificate was published. A failure is recorded
/// per device (and the old certificate stays there); it does not undo the renewal.
async fn republish(core: &Core, old: i64, new: i64) {
    let Some(publisher) = CommandPublisher::from_config(core) else { return };
    let result = match core.store.certificate_renewal_source(new).await {
        Ok(Some(source)) => publishing::republish(core, &publisher, old, &source.certificate).await.map(drop),
        Ok(None) => Ok(()),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = result {
        tracing::warn!(certificate = new, error = %e, "republishing a renewed certificate failed");
    }
}

/// Renewals are not requests, but they are audited like them, through the same writer.
async fn audit_renewal(core: &Core, audit: &AuditSink, id: i64, status: i64, new: i64) -> ApiResult<()> {
    let detail = serde_json::json!({"job": "certificate renewal", "renewed_by": new.to_string()});
    let record = AuditRecord::for_job(core.clock.now_ms(), "RENEW", format!("/certificate/{id}"), status, detail);
    audit.record(record).await.map_err(|_| ApiError::unavailable())
}
