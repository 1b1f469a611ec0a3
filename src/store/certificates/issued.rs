//! Certificates: signed from requests (the request is marked signed in the same transaction),
//! listed with status filters evaluated against the caller's clock, and revoked once.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{decode_error, names_from_stored, names_to_stored};
use crate::domain::certificates::requests::{STATUS_PENDING, STATUS_SIGNED};
use crate::domain::certificates::{Certificate, CertificateFilter, CertificateStatus, NewCertificate, Origin};
use crate::store::{Store, StoreError, StoreResult};

pub(super) const COLUMNS: &str = "c.id, c.uid, c.application_id, r.code AS request_code, a.name AS authority_name, c.origin, \
    c.serial, c.common_name, c.san, c.certificate, c.chain, c.not_before, c.not_after, c.renewal_days, c.revoked_at, \
    CASE WHEN c.private_key IS NULL THEN 0 ELSE 1 END AS has_key, c.self_signed, c.auto_renew, c.renewed_by";
pub(super) const FROM: &str = "certificates c LEFT JOIN certificate_requests r ON r.id = c.request_id \
    LEFT JOIN certificate_authorities a ON a.id = c.authority_id";

/// A certificate's key and the passwords its request set, for export and revocation.
pub struct CertificateSecrets {
    pub sealed_key: Option<Vec<u8>>,
    pub key_password_hash: Option<String>,
    pub revocation_hash: Option<String>,
}

pub(super) fn certificate(row: &AnyRow) -> StoreResult<Certificate> {
    let origin: String = row.try_get("origin")?;
    Ok(Certificate {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        application_id: row.try_get("application_id")?,
        request_code: row.try_get("request_code")?,
        authority: row.try_get("authority_name")?,
        origin: Origin::parse(&origin).ok_or_else(|| decode_error(origin.clone()))?,
        serial: row.try_get("serial")?,
        common_name: row.try_get("common_name")?,
        san: names_from_stored(&row.try_get::<String, _>("san")?)?,
        certificate_pem: row.try_get("certificate")?,
        chain_pem: row.try_get("chain")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        renewal_days: row.try_get("renewal_days")?,
        revoked_at: row.try_get("revoked_at")?,
        has_key: row.try_get::<i64, _>("has_key")? == 1,
        self_signed: row.try_get::<i64, _>("self_signed")? == 1,
        auto_renew: row.try_get::<i64, _>("auto_renew")? == 1,
        renewed_by: row.try_get("renewed_by")?,
    })
}

/// The SQL condition for a status at `$1` (fixed text per status; no input reaches it).
fn status_condition(status: Option<CertificateStatus>) -> &'static str {
    match status {
        None => "1 = 1",
        Some(CertificateStatus::Revoked) => "c.revoked_at IS NOT NULL",
        Some(CertificateStatus::Expired) => "c.revoked_at IS NULL AND c.not_after <= $1",
        Some(CertificateStatus::RenewalPending) => {
            "c.revoked_at IS NULL AND c.not_after > $1 AND c.not_after - c.renewal_days * 86400 <= $1"
        }
        Some(CertificateStatus::Valid) => "c.revoked_at IS NULL AND c.not_after - c.renewal_days * 86400 > $1",
    }
}

impl Store {
    /// Stores a certificate signed from a pending request and marks the request signed, or
    /// neither: a request signed meanwhile (by any process) makes this `Stale`.
    pub async fn insert_signed_certificate(&self, c: &NewCertificate, request_id: i64, now: i64) -> StoreResult<i64> {
        let mut tx = self.writer.begin("insert_signed_certificate").await?;
        let claimed =
            sqlx::query("UPDATE certificate_requests SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(STATUS_SIGNED)
                .bind(now)
                .bind(request_id)
                .bind(STATUS_PENDING)
                .execute(&mut *tx)
                .await?;
        if claimed.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        let id = self.insert_certificate_in(&mut tx, c, Some(request_id), now).await?.ok_or(StoreError::Stale)?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores an imported or scanned certificate, or finds the one the application already holds
    /// with the same fingerprint: (id, whether this call stored it).
    pub async fn insert_certificate(&self, c: &NewCertificate, now: i64) -> StoreResult<(i64, bool)> {
        let mut tx = self.writer.begin("insert_certificate").await?;
        let inserted = self.insert_certificate_in(&mut tx, c, None, now).await?;
        tx.commit().await?;
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let row = sqlx::query("SELECT id FROM certificates WHERE application_id = $1 AND fingerprint = $2")
            .bind(c.application_id)
            .bind(&c.fingerprint)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("id")?, false))
    }

    pub(super) async fn insert_certificate_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        c: &NewCertificate,
        request_id: Option<i64>,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO certificates (uid, application_id, request_id, authority_id, origin, serial, common_name, san, \
             certificate, chain, private_key, not_before, not_after, sign_reason, sign_justification, itsm_code, \
             created_at, fingerprint, self_signed, key_password_hash, revocation_hash, organization, key_type, digest, \
             auto_renew, renewal_days) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) \
             ON CONFLICT (application_id, fingerprint) DO NOTHING RETURNING id",
        )
        .bind(&c.uid)
        .bind(c.application_id)
        .bind(request_id)
        .bind(c.authority_id)
        .bind(c.origin.as_str())
        .bind(&c.serial)
        .bind(&c.common_name)
        .bind(names_to_stored(&c.san))
        .bind(&c.certificate_pem)
        .bind(&c.chain_pem)
        .bind(c.sealed_key.as_deref())
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(c.sign_reason.as_deref())
        .bind(c.sign_justification.as_deref())
        .bind(c.itsm_code.as_deref())
        .bind(now)
        .bind(&c.fingerprint)
        .bind(i64::from(c.self_signed))
        .bind(c.key_password_hash.as_deref())
        .bind(c.revocation_hash.as_deref())
        .bind(&c.organization)
        .bind(c.key.map(|(k, _)| k.as_stored()))
        .bind(c.key.map(|(_, d)| d.as_str()))
        .bind(i64::from(c.auto_renew))
        .bind(c.renewal_days)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
    }

    /// Certificates with the list's filters; `application_id` confines them to one application.
    pub async fn certificates(
        &self,
        application_id: Option<i64>,
        f: &CertificateFilter,
        now: i64,
    ) -> StoreResult<Vec<Certificate>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {} AND ($2 IS NULL OR c.application_id = $2) \
             AND (($3 IS NULL AND $11 IS NULL) OR c.id = $3 OR r.code = $11) AND ($4 IS NULL OR c.origin = $4) AND ($5 IS NULL OR c.common_name = $5) \
             AND ($6 IS NULL OR c.not_before >= $6) AND ($7 IS NULL OR c.not_after <= $7) \
             AND ($10 IS NULL OR (CASE WHEN c.revoked_at IS NULL AND c.not_after > $1 THEN 1 ELSE 0 END) = $10) \
             ORDER BY c.id LIMIT $8 OFFSET $9",
            status_condition(f.status)
        ))
        .bind(now)
        .bind(application_id)
        .bind(f.id)
        .bind(f.origin.map(Origin::as_str))
        .bind(f.common_name.as_deref())
        .bind(f.start_validity)
        .bind(f.end_validity)
        .bind(f.limit)
        .bind(f.offset)
        .bind(f.active.map(i64::from))
        .bind(f.request_code.as_deref())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(certificate).collect()
    }

    /// One certificate with its sealed key and its request's password hashes.
    pub async fn certificate_with_secrets(
        &self,
        application_id: Option<i64>,
        id: i64,
    ) -> StoreResult<Option<(Certificate, CertificateSecrets)>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, c.private_key, COALESCE(c.key_password_hash, r.key_password_hash) AS key_password_hash, \
             COALESCE(c.revocation_hash, r.revocation_hash) AS revocation_hash FROM {FROM} \
             WHERE c.id = $1 AND ($2 IS NULL OR c.application_id = $2)"
        ))
        .bind(id)
        .bind(application_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let secrets = CertificateSecrets {
                sealed_key: r.try_get("private_key")?,
                key_password_hash: r.try_get("key_password_hash")?,
                revocation_hash: r.try_get("revocation_hash")?,
            };
            Ok((certificate(&r)?, secrets))
        })
        .transpose()
    }

    /// Revokes a certificate once; false when it was already revoked.
    pub async fn revoke_certificate(&self, id: i64, reason: Option<&str>, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE certificates SET revoked_at = $1, revocation_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
