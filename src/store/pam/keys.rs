//! Wrapped data keys and sealed server-wide secrets (token signing key, audit HMAC key, pepper).

use sqlx::Row;

use crate::store::{Store, StoreResult};

pub struct WrappedKey {
    pub id: i64,
    pub kek_id: i64,
    pub wrapped: Vec<u8>,
}

impl Store {
    pub async fn data_keys(&self) -> StoreResult<Vec<WrappedKey>> {
        let rows =
            sqlx::query("SELECT id, kek_id, wrapped_key FROM data_keys ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(WrappedKey {
                    id: r.try_get("id")?,
                    kek_id: r.try_get("kek_id")?,
                    wrapped: r.try_get("wrapped_key")?,
                })
            })
            .collect()
    }

    pub async fn data_key(&self, id: i64) -> StoreResult<WrappedKey> {
        let r = sqlx::query("SELECT id, kek_id, wrapped_key FROM data_keys WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(WrappedKey { id: r.try_get("id")?, kek_id: r.try_get("kek_id")?, wrapped: r.try_get("wrapped_key")? })
    }

    /// Inserts a data key whose wrapping needs its own id: the row is reserved, then filled, in
    /// one transaction, so no half-made key is ever visible.
    pub async fn insert_data_key(&self, kek_id: i64, now: i64, wrap: impl FnOnce(i64) -> Vec<u8>) -> StoreResult<i64> {
        let mut tx = self.writer.begin("insert_data_key").await?;
        let id: i64 =
            sqlx::query("INSERT INTO data_keys (kek_id, wrapped_key, created_at) VALUES ($1, $2, $3) RETURNING id")
                .bind(kek_id)
                .bind(Vec::<u8>::new())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
        sqlx::query("UPDATE data_keys SET wrapped_key = $1 WHERE id = $2")
            .bind(wrap(id))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores `sealed` under `name` unless a value exists, then returns the stored value: several
    /// processes starting at once agree on one secret.
    pub async fn server_secret_or_insert(&self, name: &str, sealed: Vec<u8>, now: i64) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO server_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(sealed)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let row =
            sqlx::query("SELECT sealed FROM server_secrets WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
        Ok(row.try_get("sealed")?)
    }
}
