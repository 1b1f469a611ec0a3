//! Certificate authorities: their certificates, sealed keys and CRL counters.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::decode_error;
use crate::domain::certificates::{Authority, KeySpec, NewAuthority};
use crate::store::written::Written;
use crate::store::{Store, StoreResult};

const COLUMNS: &str = "id, uid, name, parent_id, key_type, certificate, not_before, not_after, created_at";

fn authority(row: &AnyRow) -> StoreResult<Authority> {
    let key_type: String = row.try_get("key_type")?;
    Ok(Authority {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        name: row.try_get("name")?,
        parent_id: row.try_get("parent_id")?,
        key: KeySpec::from_stored(&key_type).map_err(decode_error)?,
        certificate_pem: row.try_get("certificate")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a new authority; a taken name is a `Conflict`.
    pub async fn insert_authority(&self, a: &NewAuthority, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO certificate_authorities \
             (uid, name, parent_id, key_type, certificate, private_key, not_before, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&a.uid)
        .bind(&a.name)
        .bind(a.parent_id)
        .bind(a.key.as_stored())
        .bind(&a.certificate_pem)
        .bind(a.sealed_key.as_slice())
        .bind(a.not_before)
        .bind(a.not_after)
        .bind(now)
        .written_one(&self.writer)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// An authority by id or by name.
    pub async fn authority(&self, key: &str) -> StoreResult<Option<Authority>> {
        Ok(self.authority_with_key(key).await?.map(|(a, _)| a))
    }

    /// An authority with its sealed key, for signing.
    pub async fn authority_with_key(&self, key: &str) -> StoreResult<Option<(Authority, Vec<u8>)>> {
        let id: Option<i64> = key.parse().ok();
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, private_key FROM certificate_authorities WHERE id = $1 OR name = $2 ORDER BY id LIMIT 1"
        ))
        .bind(id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((authority(&r)?, r.try_get("private_key")?))).transpose()
    }

    pub async fn authority_by_id(&self, id: i64) -> StoreResult<Option<(Authority, Vec<u8>)>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS}, private_key FROM certificate_authorities WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((authority(&r)?, r.try_get("private_key")?))).transpose()
    }

    pub async fn authorities(&self) -> StoreResult<Vec<Authority>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM certificate_authorities ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(authority).collect()
    }

    /// The next CRL number of an authority, taken by one atomic statement: concurrent CRLs,
    /// from any process, never share a number.
    pub async fn next_crl_number(&self, authority_id: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE certificate_authorities SET crl_number = crl_number + 1 WHERE id = $1 RETURNING crl_number",
        )
        .bind(authority_id)
        .written_one(&self.writer)
        .await?;
        Ok(row.try_get("crl_number")?)
    }

    /// The serials (hex) an authority signed that are revoked, with when.
    pub async fn revoked_serials(&self, authority_id: i64) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT serial, revoked_at FROM certificates \
             WHERE authority_id = $1 AND revoked_at IS NOT NULL ORDER BY revoked_at, id",
        )
        .bind(authority_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("serial")?, r.try_get("revoked_at")?))).collect()
    }
}
