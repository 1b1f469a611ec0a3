//! State that several cofre processes must share to defend as one: seen nonces and signatures,
//! and failed-authentication counters.

use sqlx::Row;

use super::{Store, StoreError, StoreResult};

impl Store {
    /// Records `key` as used until `expires_at`. `false` when it was already used: a replay.
    pub async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
        // Expired entries may be reused; clearing them here keeps the table small without a job.
        sqlx::query("DELETE FROM replay_guard WHERE key = $1 AND expires_at <= $2")
            .bind(key)
            .bind(now)
            .execute(&self.pool)
            .await?;
        match sqlx::query("INSERT INTO replay_guard (key, expires_at) VALUES ($1, $2)")
            .bind(key)
            .bind(expires_at)
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict => Ok(false),
                other => Err(other),
            },
        }
    }

    pub async fn purge_replay_guard(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM replay_guard WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// For `keys`: the latest lock expiry (0 when none is locked) and whether any of them has
    /// failures on record. One read.
    pub async fn failure_state(&self, keys: &[String]) -> StoreResult<(i64, bool)> {
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT locked_until FROM auth_failures WHERE key IN ({})", placeholders.join(", "));
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query.bind(key.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let latest = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("locked_until"))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .max()
            .unwrap_or(0);
        Ok((latest, !rows.is_empty()))
    }

    /// Counts a failure against `key` within a sliding `window`; at `limit` failures the key is
    /// locked until `now + lockout`. One statement, so concurrent processes count every failure.
    pub async fn record_failure(&self, key: &str, now: i64, window: i64, limit: i64, lockout: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO auth_failures (key, failures, window_start, locked_until) \
             VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE 0 END) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN auth_failures.window_start + $3 <= $2 THEN 1 ELSE auth_failures.failures + 1 END, \
             window_start = CASE WHEN auth_failures.window_start + $3 <= $2 THEN $2 ELSE auth_failures.window_start END, \
             locked_until = CASE WHEN (CASE WHEN auth_failures.window_start + $3 <= $2 THEN 1 \
                                          ELSE auth_failures.failures + 1 END) >= $4 \
                                 THEN $2 + $5 ELSE auth_failures.locked_until END",
        )
        .bind(key)
        .bind(now)
        .bind(window)
        .bind(limit)
        .bind(lockout)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM auth_failures WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }
}
