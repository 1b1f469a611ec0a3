//! One holder at a time for a store-wide operation, across every process on the store. A lease
//! runs out on its own, so a holder that crashed does not block the next one for ever.

use sqlx::Row;

use crate::store::{Store, StoreResult};

/// Who holds a lease, and until when, when it could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub holder: String,
    pub expires_at: i64,
}

impl Store {
    /// Takes (or renews, for the same holder) the lease `name` until `until`; `Err(Held)` when
    /// another holder's lease has not run out.
    pub async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> StoreResult<Result<(), Held>> {
        let taken = sqlx::query(
            "INSERT INTO maintenance_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE maintenance_leases.holder = excluded.holder OR maintenance_leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(self.writer.untracked())
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(Ok(()));
        }
        let row = sqlx::query("SELECT holder, expires_at FROM maintenance_leases WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(Err(Held { holder: row.try_get("holder")?, expires_at: row.try_get("expires_at")? }))
    }

    pub async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM maintenance_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.writer.untracked())
            .await?;
        Ok(())
    }
}
