//! Counts for the sessions and credentials dashboards, as SQL aggregates.

use sqlx::Row;

use crate::domain::dashboards::{Filters, ProtocolCount};
use crate::store::{Store, StoreResult};

impl Store {
    /// Sessions started in the window, per stored protocol: all of them and those still open.
    pub async fn session_counts(&self, f: &Filters) -> StoreResult<Vec<ProtocolCount>> {
        let (hostname, credential) = f.device.clone().unzip();
        let rows = sqlx::query(
            "SELECT protocol, COUNT(*) AS total, SUM(CASE WHEN ended_at IS NULL THEN 1 ELSE 0 END) AS active \
             FROM remote_sessions \
             WHERE ($1 IS NULL OR started_at >= $1) AND ($2 IS NULL OR started_at < $2) \
             AND ($3 IS NULL OR host = $3) AND ($4 IS NULL OR credential_label = $4) \
             AND ($5 IS NULL OR username = $5) \
             GROUP BY protocol",
        )
        .bind(f.since)
        .bind(f.until)
        .bind(hostname)
        .bind(credential)
        .bind(f.username.clone())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ProtocolCount {
                    protocol: row.try_get("protocol")?,
                    total: row.try_get("total")?,
                    active: row.try_get::<Option<i64>, _>("active")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// Enabled credentials per stored expiration time (values carry their own offsets, so
    /// which are past is decided by the caller on these few distinct values).
    pub async fn expiration_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT expiration_time, COUNT(*) AS n FROM credentials \
             WHERE enabled = 1 AND expiration_time <> '' GROUP BY expiration_time",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((row.try_get("expiration_time")?, row.try_get("n")?))).collect()
    }

    /// Enabled credentials in someone's custody.
    pub async fn credentials_in_use(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM credentials WHERE enabled = 1 AND custody_by IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
