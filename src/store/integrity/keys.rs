//! Data keys as the master-key rotation and the reseal see them.

use crate::store::{Store, StoreResult};

impl Store {
    /// Re-wraps data key `id`, only if `from_kek` still wraps it: a second rotation, or a
    /// resumed one, never re-wraps a key twice. Returns whether it was changed.
    pub async fn rewrap_data_key(&self, id: i64, from_kek: i64, to_kek: i64, wrapped: Vec<u8>) -> StoreResult<bool> {
        let changed = sqlx::query("UPDATE data_keys SET kek_id = $1, wrapped_key = $2 WHERE id = $3 AND kek_id = $4")
            .bind(to_kek)
            .bind(wrapped)
            .bind(id)
            .bind(from_kek)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    /// Deletes a retired data key (the caller has checked that nothing is sealed under it).
    pub async fn delete_data_key(&self, id: i64) -> StoreResult<bool> {
        let deleted =
            sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(id).execute(&self.writer).await?.rows_affected();
        Ok(deleted == 1)
    }
}
