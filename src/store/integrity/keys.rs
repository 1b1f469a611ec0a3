//! Data keys as the master-key rotation, the reseal and the vault check at start see them.

use crate::store::{Backend, Store, StoreResult};

impl Store {
    /// Whether this store holds a vault: a `data_keys` table with a key in it. Only reads, so
    /// it may be asked of a store no command may write to (see `service::vault`).
    pub async fn holds_vault(&self) -> StoreResult<bool> {
        let tables = match self.backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'data_keys'",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() \
                 AND table_name = 'data_keys'"
            }
        };
        let table: i64 = sqlx::query_scalar(tables).fetch_one(&self.pool).await?;
        if table == 0 {
            return Ok(false);
        }
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM data_keys LIMIT 1) AS any_key")
            .fetch_one(&self.pool)
            .await?;
        Ok(keys > 0)
    }

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
