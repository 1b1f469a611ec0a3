//! Password policies, their assignments, and the rotation claims that keep several processes
//! from rotating the same credential twice.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::pam::Policy;
use crate::store::{Backend, Store, StoreResult, flag};

fn policy(row: &AnyRow) -> StoreResult<Policy> {
    Ok(Policy {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        length: row.try_get("length")?,
        lowercase: row.try_get("lowercase")?,
        uppercase: row.try_get("uppercase")?,
        digits: row.try_get("digits")?,
        symbols: row.try_get("symbols")?,
        exclude: row.try_get("exclude")?,
        key_algorithm: row.try_get("key_algorithm")?,
        rotation_interval: row.try_get("rotation_interval")?,
        rotate_after_custody: flag(row, "rotate_after_custody")?,
    })
}

impl Store {
    pub async fn insert_policy(&self, p: &Policy, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO password_policies (name, length, lowercase, uppercase, digits, symbols, exclude, key_algorithm, \
             rotation_interval, rotate_after_custody, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(p.name.as_str())
        .bind(p.length)
        .bind(p.lowercase)
        .bind(p.uppercase)
        .bind(p.digits)
        .bind(p.symbols)
        .bind(p.exclude.as_str())
        .bind(p.key_algorithm.as_str())
        .bind(p.rotation_interval)
        .bind(i64::from(p.rotate_after_custody))
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn policies(&self) -> StoreResult<Vec<Policy>> {
        sqlx::query("SELECT * FROM password_policies ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(policy)
            .collect()
    }

    pub async fn policy_by_name(&self, name: &str) -> StoreResult<Policy> {
        policy(&sqlx::query("SELECT * FROM password_policies WHERE name = $1").bind(name).fetch_one(&self.pool).await?)
    }

    /// Assigns (or with `None`, unassigns) a policy to `credential`/`device`/`tag` `target`.
    pub async fn assign_policy(&self, target_kind: &str, target: &str, policy_id: Option<i64>) -> StoreResult<()> {
        sqlx::query("DELETE FROM policy_assignments WHERE target_kind = $1 AND target = $2")
            .bind(target_kind)
            .bind(target)
            .execute(&self.pool)
            .await?;
        if let Some(id) = policy_id {
            sqlx::query("INSERT INTO policy_assignments (target_kind, target, policy_id) VALUES ($1, $2, $3)")
                .bind(target_kind)
                .bind(target)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// The most specific policy: the credential's own, else its device's, else its first tag's.
    pub async fn effective_policy(
        &self,
        credential_id: i64,
        device_id: i64,
        tags: &[&str],
    ) -> StoreResult<Option<Policy>> {
        let rows = sqlx::query(
            "SELECT a.target_kind, a.target, p.* FROM policy_assignments a JOIN password_policies p ON p.id = a.policy_id \
             WHERE (a.target_kind = 'credential' AND a.target = $1) OR (a.target_kind = 'device' AND a.target = $2) \
             OR a.target_kind = 'tag'",
        )
        .bind(credential_id.to_string())
        .bind(device_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let rank = |row: &AnyRow| -> Option<usize> {
            let kind: String = row.try_get("target_kind").ok()?;
            let target: String = row.try_get("target").ok()?;
            match kind.as_str() {
                "credential" => Some(0),
                "device" => Some(1),
                "tag" => tags.iter().position(|t| *t == target).map(|p| 2 + p),
                _ => None,
            }
        };
        let best = rows.iter().filter_map(|r| rank(r).map(|k| (k, r))).min_by_key(|(k, _)| *k);
        best.map(|(_, row)| policy(row)).transpose()
    }

    /// Takes up to `limit` credentials due for rotation, leasing them until `lease_until` so
    /// that no other process takes them meanwhile. PostgreSQL skips rows another transaction
    /// holds; SQLite has one writer at a time, which serialises claims by itself.
    pub async fn claim_due_rotations(&self, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<i64>> {
        let lock = if self.backend == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE credentials SET rotation_lease = $1 WHERE id IN (SELECT id FROM credentials WHERE enabled = 1 \
             AND next_rotation_at IS NOT NULL AND next_rotation_at <= $2 AND rotation_lease <= $2 \
             ORDER BY next_rotation_at LIMIT $3 {lock}) RETURNING id"
        );
        let rows = sqlx::query(&sql).bind(lease_until).bind(now).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Records a failed rotation: the secret stays, the error is kept, a retry is scheduled.
    pub async fn fail_rotation(&self, id: i64, error: &str, retry_at: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE credentials SET rotation_error = $1, next_rotation_at = $2, rotation_lease = 0, revision = revision + 1 WHERE id = $3",
        )
        .bind(error)
        .bind(retry_at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_next_rotation(&self, id: i64, at: Option<i64>) -> StoreResult<()> {
        sqlx::query("UPDATE credentials SET next_rotation_at = $1, revision = revision + 1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// (id, device id, tags, next rotation, changed at) of every credential, for rescheduling.
    pub async fn rotation_targets(&self) -> StoreResult<Vec<(i64, i64, String, Option<i64>, i64)>> {
        let rows = sqlx::query("SELECT id, device_id, tags, next_rotation_at, changed_at FROM credentials")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("device_id")?,
                    r.try_get("tags")?,
                    r.try_get("next_rotation_at")?,
                    r.try_get("changed_at")?,
                ))
            })
            .collect()
    }

    pub async fn rotation_error(&self, id: i64) -> StoreResult<String> {
        let row =
            sqlx::query("SELECT rotation_error FROM credentials WHERE id = $1").bind(id).fetch_one(&self.pool).await?;
        Ok(row.try_get("rotation_error")?)
    }
}
