//! Automatic renewal: due certificates are leased to one pass at a time (as rotations are), and
//! a replacement is stored in the same transaction that marks the old one renewed, so each
//! certificate is renewed once however many processes run the job.

use sqlx::Row;

use super::decode_error;
use super::issued::{COLUMNS, FROM, certificate};
use crate::domain::certificates::{Certificate, KeySpec, NewCertificate, SignatureDigest};
use crate::store::{Backend, Store, StoreError, StoreResult};

/// What renewing a certificate takes besides its listing.
pub struct RenewalSource {
    pub certificate: Certificate,
    pub authority_id: i64,
    pub organization: String,
    pub key: KeySpec,
    pub digest: SignatureDigest,
    pub key_password_hash: Option<String>,
    pub revocation_hash: Option<String>,
}

impl Store {
    /// Leases up to `limit` certificates due for automatic renewal at `now`.
    pub async fn claim_due_certificate_renewals(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<i64>> {
        let lock = if self.backend == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE certificates SET renewal_lease = $1 WHERE id IN (SELECT id FROM certificates \
             WHERE auto_renew = 1 AND renewed_by IS NULL AND revoked_at IS NULL AND authority_id IS NOT NULL \
             AND key_type IS NOT NULL AND not_after - renewal_days * 86400 <= $2 AND renewal_lease <= $2 \
             ORDER BY not_after LIMIT $3 {lock}) RETURNING id"
        );
        let rows = sqlx::query(&sql).bind(lease_until).bind(now).bind(limit).fetch_all(&self.writer).await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    pub async fn certificate_renewal_source(&self, id: i64) -> StoreResult<Option<RenewalSource>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, c.authority_id, c.organization, c.key_type, c.digest, \
             COALESCE(c.key_password_hash, r.key_password_hash) AS key_password_hash, \
             COALESCE(c.revocation_hash, r.revocation_hash) AS revocation_hash \
             FROM {FROM} WHERE c.id = $1 AND c.authority_id IS NOT NULL AND c.key_type IS NOT NULL"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let key_type: String = r.try_get("key_type")?;
            let digest: String = r.try_get("digest")?;
            Ok(RenewalSource {
                certificate: certificate(&r)?,
                authority_id: r.try_get("authority_id")?,
                organization: r.try_get("organization")?,
                key: KeySpec::from_stored(&key_type).map_err(decode_error)?,
                digest: SignatureDigest::parse(&digest).map_err(decode_error)?,
                key_password_hash: r.try_get("key_password_hash")?,
                revocation_hash: r.try_get("revocation_hash")?,
            })
        })
        .transpose()
    }

    /// Stores `replacement` and marks `old_id` renewed by it, or neither: a certificate renewed
    /// meanwhile makes this `Stale`.
    pub async fn insert_renewed_certificate(
        &self,
        replacement: &NewCertificate,
        old_id: i64,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.writer.begin("insert_renewed_certificate").await?;
        let id = self.insert_certificate_in(&mut tx, replacement, None, now).await?.ok_or(StoreError::Stale)?;
        let marked = sqlx::query("UPDATE certificates SET renewed_by = $1 WHERE id = $2 AND renewed_by IS NULL")
            .bind(id)
            .bind(old_id)
            .execute(&mut *tx)
            .await?;
        if marked.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Sets a certificate's renewal settings; false when the application holds no such certificate.
    pub async fn set_certificate_renewal(
        &self,
        application_id: i64,
        id: i64,
        auto_renew: bool,
        renewal_days: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE certificates SET auto_renew = $1, renewal_days = $2 WHERE id = $3 AND application_id = $4",
        )
        .bind(i64::from(auto_renew))
        .bind(renewal_days)
        .bind(id)
        .bind(application_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
