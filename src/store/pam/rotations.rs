//! A rotation's value in flight: stored (sealed) before the device is changed and cleared in
//! the change that makes it current, so a process that dies in between leaves it for the next
//! one; and the claim's lease, renewed while a change runs.

use sqlx::Row;

use crate::domain::pam::Credential;
use crate::store::change::Change;
use crate::store::pam::credentials::Version;
use crate::store::written::Written;
use crate::store::{Store, StoreResult};

/// A stored rotation value: the sealed secret and, for SSH keys, its public key.
pub struct PendingRotation {
    pub sealed: Vec<u8>,
    pub public_key: String,
}

impl Store {
    /// Stores the value a rotation is about to send, only while `lease` is still this process's
    /// claim and no other value waits. False when either is not so.
    pub async fn store_pending_rotation(
        &self,
        id: i64,
        lease: i64,
        sealed: Vec<u8>,
        public_key: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE credentials SET rotation_pending = $1, rotation_pending_public_key = $2, revision = revision + 1 \
             WHERE id = $3 AND rotation_lease = $4 AND rotation_pending IS NULL",
        )
        .bind(sealed)
        .bind(public_key)
        .bind(id)
        .bind(lease)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn pending_rotation(&self, id: i64) -> StoreResult<Option<PendingRotation>> {
        let row = sqlx::query("SELECT rotation_pending, rotation_pending_public_key FROM credentials WHERE id = $1")
            .bind(id)
            .written_one(&self.writer)
            .await?;
        let sealed: Option<Vec<u8>> = row.try_get("rotation_pending")?;
        Ok(sealed.map(|sealed| PendingRotation {
            sealed,
            public_key: row.try_get("rotation_pending_public_key").unwrap_or_default(),
        }))
    }

    /// Moves this process's claim on to `until`, while it still holds it (`held`, the lease's
    /// current end). False when the claim is gone: expired and taken, or released by an update.
    pub async fn renew_rotation_lease(&self, id: i64, held: i64, until: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE credentials SET rotation_lease = $1 WHERE id = $2 AND rotation_lease = $3")
            .bind(until)
            .bind(id)
            .bind(held)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Makes the rotated value current (`c`, read at its revision, with the old secret kept as
    /// `previous`) and clears the stored value, in one change: `Stale` if the row moved.
    pub async fn commit_rotation(&self, c: &Credential, previous: &Version, now: i64) -> StoreResult<()> {
        let mut change = self.begin("commit_rotation").await?;
        change.save_credential(c, Some(previous), now).await?;
        change.clear_pending_rotation(c.id).await?;
        change.commit().await
    }
}

impl Change {
    async fn clear_pending_rotation(&mut self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE credentials SET rotation_pending = NULL, rotation_pending_public_key = '' WHERE id = $1")
            .bind(id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}
