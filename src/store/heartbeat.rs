//! The readiness check's proof that the store takes writes: one row per process, rewritten and
//! made durable (committed, and on SQLite flushed) like any acknowledged change.

use super::{Store, StoreResult};

/// A process that has not beaten for this long is gone: its row is removed.
const GONE_AFTER_SECS: i64 = 86_400;

impl Store {
    /// Rewrites `process_id`'s heartbeat with `now` (unix seconds) through the write path.
    /// A store whose writes failed must also prove it takes them again (`prove_writable`).
    pub async fn heartbeat(&self, process_id: &str, now: i64) -> StoreResult<()> {
        let beaten = self.beat(process_id, now).await;
        self.noting_write(beaten)?;
        self.prove_writable().await
    }

    async fn beat(&self, process_id: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.writer.untracked().begin().await?;
        sqlx::query(
            "INSERT INTO process_heartbeats (process_id, beat_at) VALUES ($1, $2) \
             ON CONFLICT (process_id) DO UPDATE SET beat_at = excluded.beat_at",
        )
        .bind(process_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM process_heartbeats WHERE beat_at < $1")
            .bind(now - GONE_AFTER_SECS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.sync().await
    }
}
