//! The credential reveals the risk dashboard scores (written at every password handed out).

use crate::domain::dashboards::NewReveal;
use crate::store::{Store, StoreResult};

impl Store {
    pub async fn record_reveal(&self, r: &NewReveal<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO credential_reveals \
             (at, application_id, authorization_id, credential_id, credential_label, hostname, client_ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.at)
        .bind(r.application_id)
        .bind(r.authorization_id)
        .bind(r.credential_id)
        .bind(r.credential_label)
        .bind(r.hostname)
        .bind(&r.client_ip)
        .execute(self.writer.untracked())
        .await?;
        Ok(())
    }

    /// Deletes reveals older than `before` (unix seconds).
    pub async fn purge_reveals(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM credential_reveals WHERE at < $1")
            .bind(before)
            .execute(self.writer.untracked())
            .await?;
        Ok(done.rows_affected())
    }
}
