//! Users and groups as SCIM sees them: cofre's columns plus a JSON document of the other
//! attributes, an external id, and a version for ETags. Reads are bounded: lists count and page
//! in SQL (`query.rs`) and load only the rows and memberships of the ids asked for.

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::query::{Cond, Order, ScimTable, Sql, Val};
use crate::store::written::Written;
use crate::store::{Store, StoreError, StoreResult, flag};

#[derive(Clone, Debug)]
pub struct ScimUserRow {
    pub id: i64,
    pub username: String,
    pub enabled: bool,
    pub external_id: Option<String>,
    /// The display name and primary email cofre's other APIs read and change.
    pub display_name: String,
    pub email: String,
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
    pub display_name: &'a str,
    pub email: &'a str,
    pub scim: &'a str,
}

fn user(row: &AnyRow) -> StoreResult<ScimUserRow> {
    Ok(ScimUserRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        enabled: flag(row, "enabled")?,
        external_id: row.try_get("external_id")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
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

/// Ids per `IN (…)` list: well under both dialects' limits on bound parameters.
const IN_CHUNK: usize = 500;

fn bind_all<'q>(sql: &'q Sql) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sql.binds.iter().fold(sqlx::query(&sql.text), |q, v| match v {
        Val::Int(i) => q.bind(*i),
        Val::Text(t) => q.bind(t.as_str()),
    })
}

/// Puts `rows` in the order of `ids` (ids without a row are left out).
fn in_order<T>(ids: &[i64], rows: Vec<T>, id: impl Fn(&T) -> i64) -> Vec<T> {
    let mut by_id: HashMap<i64, T> = rows.into_iter().map(|r| (id(&r), r)).collect();
    ids.iter().filter_map(|i| by_id.remove(i)).collect()
}

impl Store {
    /// Runs `sql`, whose `{ids}` stands for a list of placeholders, over `ids` a chunk at a time.
    async fn for_ids(&self, sql: &str, ids: &[i64]) -> StoreResult<Vec<AnyRow>> {
        let mut rows = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let query = sql.replace("{ids}", &list.join(", "));
            rows.extend(chunk.iter().fold(sqlx::query(&query), |q, id| q.bind(*id)).fetch_all(&self.pool).await?);
        }
        Ok(rows)
    }

    /// How many live resources of `table` match `cond`.
    pub async fn scim_count(&self, table: ScimTable, cond: &Cond) -> StoreResult<i64> {
        let sql = Sql::select(self.backend, "COUNT(*) AS n", table, cond);
        Ok(bind_all(&sql).fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// The ids of one page of the live resources of `table` matching `cond`, in `order`.
    pub async fn scim_page_ids(
        &self,
        table: ScimTable,
        cond: &Cond,
        order: Order,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut sql = Sql::select(self.backend, "id", table, cond);
        sql.page(self.backend, order, offset, limit);
        bind_all(&sql).fetch_all(&self.pool).await?.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// The live users among `ids`, in that order, with their groups (only theirs are read).
    pub async fn scim_users_by_id(&self, ids: &[i64]) -> StoreResult<Vec<ScimUserRow>> {
        let rows = self
            .for_ids(
                "SELECT id, username, enabled, external_id, display_name, email, scim, version, created_at, updated_at \
                 FROM users WHERE deleted_at IS NULL AND id IN ({ids})",
                ids,
            )
            .await?;
        let mut users: HashMap<i64, ScimUserRow> =
            rows.iter().map(|r| user(r).map(|u| (u.id, u))).collect::<StoreResult<_>>()?;
        let memberships = self
            .for_ids(
                "SELECT m.user_id, g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id IN ({ids}) ORDER BY g.name",
                ids,
            )
            .await?;
        for m in memberships {
            if let Some(u) = users.get_mut(&m.try_get("user_id")?) {
                u.groups.push((m.try_get("id")?, m.try_get("name")?));
            }
        }
        Ok(in_order(ids, users.into_values().collect(), |u| u.id))
    }

    /// The groups among `ids`, in that order, with their live members (only theirs are read).
    pub async fn scim_groups_by_id(&self, ids: &[i64]) -> StoreResult<Vec<ScimGroupRow>> {
        let rows = self
            .for_ids(
                "SELECT id, name, external_id, version, created_at, updated_at FROM groups WHERE id IN ({ids})",
                ids,
            )
            .await?;
        let mut groups: HashMap<i64, ScimGroupRow> =
            rows.iter().map(|r| group(r).map(|g| (g.id, g))).collect::<StoreResult<_>>()?;
        let members = self
            .for_ids(
                "SELECT m.group_id, u.id, u.username FROM group_members m JOIN users u ON u.id = m.user_id \
                 WHERE u.deleted_at IS NULL AND m.group_id IN ({ids}) ORDER BY u.id",
                ids,
            )
            .await?;
        for m in members {
            if let Some(g) = groups.get_mut(&m.try_get("group_id")?) {
                g.members.push((m.try_get("id")?, m.try_get("username")?));
            }
        }
        Ok(in_order(ids, groups.into_values().collect(), |g| g.id))
    }

    pub async fn insert_scim_user(&self, w: &ScimUserWrite<'_>, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO users (username, display_name, email, password_hash, enabled, external_id, scim, version, created_at, updated_at) \
             VALUES ($1, $7, $8, $2, $3, $4, $5, 1, $6, $6) RETURNING id",
        )
        .bind(w.username)
        .bind(w.password_hash)
        .bind(i64::from(w.enabled))
        .bind(w.external_id)
        .bind(w.scim)
        .bind(now)
        .bind(w.display_name)
        .bind(w.email)
        .written_one(&self.writer)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Writes a user if its version is still `expected` (ETag check); bumps the version.
    pub async fn update_scim_user(&self, id: i64, w: &ScimUserWrite<'_>, expected: i64, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET username = $1, password_hash = COALESCE($2, password_hash), enabled = $3, external_id = $4, scim = $5, \
             display_name = $9, email = $10, version = version + 1, updated_at = $6 \
             WHERE id = $7 AND version = $8 AND deleted_at IS NULL",
        )
        .bind(w.username)
        .bind(w.password_hash)
        .bind(i64::from(w.enabled))
        .bind(w.external_id)
        .bind(w.scim)
        .bind(now)
        .bind(id)
        .bind(expected)
        .bind(w.display_name)
        .bind(w.email)
        .execute(&self.writer)
        .await?;
        self.forget_authorizations();
        if done.rows_affected() == 0 { Err(StoreError::Stale) } else { Ok(()) }
    }

    /// Deletes a user: disabled, out of every group and share, its username freed. Rows that
    /// point at the user (items it owns, audit) stay consistent. Applies only at version
    /// `expected` (`Stale` otherwise): an If-Match delete never removes a changed user.
    pub async fn delete_scim_user(&self, id: i64, expected: i64, now: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin("delete_scim_user").await?;
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
        self.forget_authorizations();
        Ok(())
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
        let mut tx = self.writer.begin("save_scim_group").await?;
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
        let mut tx = self.writer.begin("delete_group").await?;
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

    /// Which of `ids` are live users, in the order given.
    pub async fn live_user_ids(&self, ids: &[i64]) -> StoreResult<Vec<i64>> {
        let rows = self.for_ids("SELECT id FROM users WHERE deleted_at IS NULL AND id IN ({ids})", ids).await?;
        let live: HashSet<i64> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
        Ok(ids.iter().copied().filter(|i| live.contains(i)).collect())
    }
}
