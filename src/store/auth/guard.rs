//! State that several cofre processes must share to defend as one: seen nonces and signatures,
//! and failed-authentication counters.

use sqlx::Row;

use crate::store::{Backend, Store, StoreError, StoreResult};

/// A throttle key's counters: failures in the window, attempts in flight, and the lock.
#[derive(Clone, Debug)]
pub struct AttemptState {
    pub key: String,
    pub failures: i64,
    pub pending: i64,
    pub locked_until: i64,
}

fn attempt_state(row: &sqlx::any::AnyRow) -> StoreResult<AttemptState> {
    Ok(AttemptState {
        key: row.try_get("key")?,
        failures: row.try_get("failures")?,
        pending: row.try_get("pending")?,
        locked_until: row.try_get("locked_until")?,
    })
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    Failed,
    /// Neither: a replay or an error; the attempt only gives its slot back.
    Neutral,
}

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

    /// Counters that no longer matter: no attempt in flight, no lock, and a window that has
    /// passed (the next attempt would start afresh anyway).
    pub async fn purge_attempts(&self, now: i64, window: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM auth_failures WHERE pending = 0 AND locked_until <= $1 AND window_start + $2 <= $1",
        )
        .bind(now)
        .bind(window)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn purge_replay_guard(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM replay_guard WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// Counts an attempt in flight against each key, in one statement, before its proof is
    /// checked; a key whose window has passed starts afresh. Returns each key's state after.
    pub async fn reserve_attempt(&self, keys: &[&str], now: i64, window: i64) -> StoreResult<Vec<AttemptState>> {
        // Rows are taken in key order, the same order `finish_attempt` locks them in.
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        let values: Vec<String> = (0..keys.len()).map(|i| format!("(${}, 0, 1, $1, 0)", i + 3)).collect();
        let sql = format!(
            "INSERT INTO auth_failures (key, failures, pending, window_start, locked_until) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN auth_failures.window_start + $2 <= $1 THEN 0 ELSE auth_failures.failures END, \
             pending = CASE WHEN auth_failures.window_start + $2 <= $1 THEN 1 ELSE auth_failures.pending + 1 END, \
             window_start = CASE WHEN auth_failures.window_start + $2 <= $1 THEN $1 ELSE auth_failures.window_start END \
             RETURNING key, failures, pending, locked_until",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now).bind(window);
        for key in &keys {
            query = query.bind(*key);
        }
        query.fetch_all(&self.pool).await?.iter().map(attempt_state).collect()
    }

    /// The keys' state without counting anything: for a caller waiting for room.
    pub async fn attempt_states(&self, keys: &[&str]) -> StoreResult<Vec<AttemptState>> {
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT key, failures, pending, locked_until FROM auth_failures WHERE key IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query.bind(*key);
        }
        query.fetch_all(&self.pool).await?.iter().map(attempt_state).collect()
    }

    /// Ends attempts reserved with `reserve_attempt`, in one statement. A failure stays counted
    /// and locks a key that reaches its limit until `now + lockout`; a success clears the
    /// failures of the keys in `clear`; a neutral end (a replay, an error) only frees the slot.
    pub async fn finish_attempt(
        &self,
        keys: &[(&str, i64)],
        outcome: AttemptOutcome,
        clear: &[&str],
        now: i64,
        lockout: i64,
    ) -> StoreResult<()> {
        let n = keys.len();
        let key_list: Vec<String> = (0..n).map(|i| format!("${}", 2 * i + 3)).collect();
        let limit_of: String = (0..n).map(|i| format!(" WHEN ${} THEN ${}", 2 * i + 3, 2 * i + 4)).collect();
        let clear_list: Vec<String> = (0..clear.len()).map(|i| format!("${}", 2 * n + 3 + i)).collect();
        let failures = match outcome {
            AttemptOutcome::Failed => "failures + 1".to_owned(),
            AttemptOutcome::Succeeded if !clear.is_empty() => {
                format!("CASE WHEN key IN ({}) THEN 0 ELSE failures END", clear_list.join(", "))
            }
            _ => "failures".to_owned(),
        };
        let locked_until = match outcome {
            AttemptOutcome::Failed => {
                format!("CASE WHEN failures + 1 >= (CASE key{limit_of} END) THEN $1 + $2 ELSE locked_until END")
            }
            _ => "locked_until".to_owned(),
        };
        // PostgreSQL locks the rows in key order first, as `reserve_attempt` does, so two
        // attempts on the same keys can never deadlock. (SQLite has one writer at a time.)
        let rows = if self.backend == Backend::Postgres {
            format!("SELECT key FROM auth_failures WHERE key IN ({}) ORDER BY key FOR UPDATE", key_list.join(", "))
        } else {
            key_list.join(", ")
        };
        let sql = format!(
            "UPDATE auth_failures SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END, \
             failures = {failures}, locked_until = {locked_until} WHERE key IN ({rows})"
        );
        let mut query = sqlx::query(&sql).bind(now).bind(lockout);
        for (key, limit) in keys {
            query = query.bind(*key).bind(*limit);
        }
        for key in clear {
            query = query.bind(*key);
        }
        query.execute(&self.pool).await?;
        Ok(())
    }
}
