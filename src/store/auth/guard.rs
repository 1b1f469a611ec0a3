//! State that several cofre processes must share to defend as one: seen nonces and signatures,
//! and failed-authentication counters.

use sqlx::Row;

use crate::store::{Store, StoreError, StoreResult};

/// A throttle key's counters: failures in the window, and the lock.
#[derive(Clone, Debug)]
pub struct AttemptState {
    pub key: String,
    pub failures: i64,
    pub locked_until: i64,
}

fn attempt_state(row: &sqlx::any::AnyRow) -> StoreResult<AttemptState> {
    Ok(AttemptState {
        key: row.try_get("key")?,
        failures: row.try_get("failures")?,
        locked_until: row.try_get("locked_until")?,
    })
}

impl Store {
    /// Records `key` as used until `expires_at`. `false` when it was already used: a replay.
    pub async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
        // Expired entries may be reused; clearing them here keeps the table small without a job.
        sqlx::query("DELETE FROM replay_guard WHERE key = $1 AND expires_at <= $2")
            .bind(key)
            .bind(now)
            .execute(self.writer.untracked())
            .await?;
        match sqlx::query("INSERT INTO replay_guard (key, expires_at) VALUES ($1, $2)")
            .bind(key)
            .bind(expires_at)
            .execute(self.writer.untracked())
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Counters that no longer matter: no lock, and a window that has
    /// passed (the next attempt would start afresh anyway).
    pub async fn purge_attempts(&self, now: i64, window: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM auth_failures WHERE locked_until <= $1 AND window_start + $2 <= $1")
            .bind(now)
            .bind(window)
            .execute(self.writer.untracked())
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn purge_replay_guard(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM replay_guard WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer.untracked())
            .await?;
        Ok(done.rows_affected())
    }

    /// The keys' counters, as of one instant.
    pub async fn attempt_states(&self, keys: &[&str]) -> StoreResult<Vec<AttemptState>> {
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
        let sql =
            format!("SELECT key, failures, locked_until FROM auth_failures WHERE key IN ({})", placeholders.join(", "));
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query.bind(*key);
        }
        query.fetch_all(&self.pool).await?.iter().map(attempt_state).collect()
    }

    /// Counts a failure against each key `(key, limit)` in one statement, and returns each
    /// key's counters after it. A key whose window has passed (and that is not locked) starts
    /// afresh; a key reaching its limit is locked until `now + lockout`. While a key is
    /// locked its failures keep counting, so a failure beyond the limit shows as such.
    pub async fn record_failure(
        &self,
        keys: &[(&str, i64)],
        now: i64,
        window: i64,
        lockout: i64,
    ) -> StoreResult<Vec<AttemptState>> {
        // Rows are taken in key order, so two attempts on the same keys never deadlock.
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        let key_param = |i: usize| 2 * i + 4;
        let values: Vec<String> = (0..keys.len())
            .map(|i| {
                format!(
                    "(${k}, 1, $1, CASE WHEN 1 >= ${l} THEN $1 + $3 ELSE 0 END)",
                    k = key_param(i),
                    l = key_param(i) + 1
                )
            })
            .collect();
        let limit_of: String =
            (0..keys.len()).map(|i| format!(" WHEN ${} THEN ${}", key_param(i), key_param(i) + 1)).collect();
        let fresh = "auth_failures.window_start + $2 <= $1 AND auth_failures.locked_until <= $1";
        let failures = format!("CASE WHEN {fresh} THEN 1 ELSE auth_failures.failures + 1 END");
        let sql = format!(
            "INSERT INTO auth_failures (key, failures, window_start, locked_until) VALUES {values} \
             ON CONFLICT (key) DO UPDATE SET failures = {failures}, \
             window_start = CASE WHEN {fresh} THEN $1 ELSE auth_failures.window_start END, \
             locked_until = CASE WHEN auth_failures.locked_until > $1 THEN auth_failures.locked_until \
             WHEN {failures} >= (CASE auth_failures.key{limit_of} END) THEN $1 + $3 ELSE auth_failures.locked_until END \
             RETURNING key, failures, locked_until",
            values = values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now).bind(window).bind(lockout);
        for (key, limit) in &keys {
            query = query.bind(*key).bind(*limit);
        }
        query.fetch_all(self.writer.untracked()).await?.iter().map(attempt_state).collect()
    }

    /// Forgets a key's failures (a successful login of its subject).
    pub async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("UPDATE auth_failures SET failures = 0 WHERE key = $1")
            .bind(key)
            .execute(self.writer.untracked())
            .await?;
        Ok(())
    }
}
