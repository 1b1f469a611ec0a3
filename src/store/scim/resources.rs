//! Users and groups as SCIM sees them: cofre's columns plus a JSON document of the other
//! attributes, an external id, and a version for ETags.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Store, StoreError, StoreResult, flag};

#[derive(Clone, Debug)]
pub struct ScimUserRow {
    pub id: i64,
    pub username: String,
    pub enabled: bool,
    pub external_id: Option<String>,
    pub scim: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// (group id, group name)
    pub groups: Vec<(i64, String)>,
}

#[derive(Clone, Debug)]
pub struct ScimGroupRow {
    pub id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// (user id, username)
    pub members: Vec<(i64, String)>,
}

/// What a write sets on a user; `password_hash` `None` keeps the stored one.
pub struct ScimUserWrite<'a> {
    pub username: &'a str,
    pub password_hash: Option<&'a str>,
    pub enabled: bool,
    pub external_id: Option<&'a str>,
    pub scim: &'a str,
}

fn user(row: &AnyRow) -> StoreResult<ScimUserRow> {
    Ok(ScimUserRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        enabled: flag(row, "enabled")?,
        external_id: row.try_get("external_id")?,
        scim: row.try_get("scim")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        groups: Vec::new(),
    })
}

fn group(row: &AnyRow) -> StoreResult<ScimGroupRow> {
    Ok(ScimGroupRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        external_id: row.try_get("external_id")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        members: Vec::new(),
    })
}

impl Store {
    /// Every live user, or one (`id`), with their groups.
    pub async fn scim_users(&self, id: Option<i64>) -> StoreResult<Vec<ScimUserRow>> {
        let rows = sqlx::query(
            "SELECT id, username, enabled, external_id, scim, version, created_at, updated_at FROM users \
             WHERE deleted_at IS NULL AND ($1 IS NULL OR id = $1) ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let memberships = sqlx::query(
            "SELECT m.user_id, g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id ORDER BY g.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut u = user(r)?;
                u.groups = memberships
                    .iter()
                    .filter(|m| m.try_get::<i64, _>("user_id").is_ok_and(|x| x == u.id))
                    .map(|m| Ok((m.try_get("id")?, m.try_get("name")?)))
                    .collect::<StoreResult<_>>()?;
                Ok(u)
            })
            .collect()
    }

    pub async fn insert_scim_user(&self, w: &ScimUserWrite<'_>, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO users (username, display_name, email, password_hash, enabled, external_id, scim, version, created_at, updated_at) \
             VALUES ($1, '', '', $2, $3, $4, $5, 1, $6, $6) RETURNING id",
        )
        .bind(w.username)
        .bind(w.password_hash)
        .bind(i64::from(w.enabled))
        .bind(w.external_id)
        .bind(w.scim)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Writes a user if its version is still `expected` (ETag check); bumps the version.
    pub async fn update_scim_user(&self, id: i64, w: &ScimUserWrite<'_>, expected: i64, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET username = $1, password_hash = COALESCE($2, password_hash), enabled = $3, external_id = $4, scim = $5, \
             version = version + 1, updated_at = $6 WHERE id = $7 AND version = $8 AND deleted_at IS NULL",
        )
        .bind(w.username)
        .bind(w.password_hash)
        .bind(i64::from(w.enabled))
        .bind(w.external_id)
        .bind(w.scim)
        .bind(now)
        .bind(id)
        .bind(expected)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 { Err(StoreError::Stale) } else { Ok(()) }
    }

    /// Deletes a user: disabled, out of every group and share, its username freed. Rows that
    /// point at the user (items it owns, audit) stay consistent. Applies only at version
    /// `expected` (`Stale` otherwise): an If-Match delete never removes a changed user.
    pub async fn delete_scim_user(&self, id: i64, expected: i64, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mysafe_shares WHERE principal_kind = 'user' AND principal_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "UPDATE users SET enabled = 0, deleted_at = $1, username = 'deleted:' || CAST(id AS TEXT) || ':' || username, \
             version = version + 1 WHERE id = $2 AND deleted_at IS NULL AND version = $3",
        )
        .bind(now)
        .bind(id)
        .bind(expected)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn scim_groups(&self, id: Option<i64>) -> StoreResult<Vec<ScimGroupRow>> {
        let rows = sqlx::query("SELECT id, name, external_id, version, created_at, updated_at FROM groups WHERE $1 IS NULL OR id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let members = sqlx::query(
            "SELECT m.group_id, u.id, u.username FROM group_members m JOIN users u ON u.id = m.user_id WHERE u.deleted_at IS NULL ORDER BY u.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut g = group(r)?;
                g.members = members
                    .iter()
                    .filter(|m| m.try_get::<i64, _>("group_id").is_ok_and(|x| x == g.id))
                    .map(|m| Ok((m.try_get("id")?, m.try_get("username")?)))
                    .collect::<StoreResult<_>>()?;
                Ok(g)
            })
            .collect()
    }

    /// Creates or rewrites a group with exactly `members`, in one transaction. `id` 0 creates;
    /// otherwise the write applies only at version `expected`.
    pub async fn save_scim_group(
        &self,
        id: i64,
        name: &str,
        external_id: Option<&str>,
        members: &[i64],
        expected: i64,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let id = if id == 0 {
            sqlx::query("INSERT INTO groups (name, external_id, version, created_at, updated_at) VALUES ($1, $2, 1, $3, $3) RETURNING id")
                .bind(name)
                .bind(external_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?
        } else {
            let done = sqlx::query("UPDATE groups SET name = $1, external_id = $2, version = version + 1, updated_at = $3 WHERE id = $4 AND version = $5")
                .bind(name)
                .bind(external_id)
                .bind(now)
                .bind(id)
                .bind(expected)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale);
            }
            sqlx::query("DELETE FROM group_members WHERE group_id = $1").bind(id).execute(&mut *tx).await?;
            id
        };
        for member in members {
            sqlx::query("INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (group_id, user_id) DO NOTHING")
                .bind(id)
                .bind(member)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Deletes a group and every grant it carried, only at version `expected` (`Stale`
    /// otherwise).
    pub async fn delete_group(&self, id: i64, expected: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE group_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mysafe_shares WHERE principal_kind = 'group' AND principal_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM groups WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(expected)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Which of `ids` are live users.
    pub async fn live_user_ids(&self, ids: &[i64]) -> StoreResult<Vec<i64>> {
        let all: Vec<i64> = sqlx::query("SELECT id FROM users WHERE deleted_at IS NULL")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        Ok(ids.iter().copied().filter(|i| all.contains(i)).collect())
    }
}
