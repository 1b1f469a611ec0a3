//! Users, groups and memberships. Usernames arrive already canonical (see domain::user).

use sqlx::Row;

use crate::domain::user::{Group, User};
use crate::store::written::Written;
use crate::store::{Store, StoreResult, exactly_one, flag};

pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub password_hash: Option<String>,
}

/// What a login check needs.
pub struct Credentials {
    pub user_id: i64,
    pub enabled: bool,
    pub password_hash: Option<String>,
}

impl Store {
    /// A user and its group memberships, in one transaction: a group that does not exist
    /// (`NotFound`) leaves no user behind.
    pub async fn insert_user(&self, row: &NewUserRow<'_>, groups: &[String], now: i64) -> StoreResult<i64> {
        let mut tx = self.writer.begin("insert_user").await?;
        let id: i64 = sqlx::query(
            "INSERT INTO users (username, display_name, email, password_hash, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
        )
        .bind(row.username)
        .bind(row.display_name)
        .bind(row.email)
        .bind(row.password_hash.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for group in groups {
            let group_id: i64 = sqlx::query("SELECT id FROM groups WHERE name = $1")
                .bind(group.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
            sqlx::query(
                "INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind(group_id)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn user_credentials(&self, username: &str) -> StoreResult<Credentials> {
        let row = sqlx::query("SELECT id, enabled, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(&self.pool)
            .await?;
        Ok(Credentials {
            user_id: row.try_get("id")?,
            enabled: flag(&row, "enabled")?,
            password_hash: row.try_get("password_hash")?,
        })
    }

    pub async fn user_id(&self, username: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT id FROM users WHERE username = $1").bind(username).fetch_one(&self.pool).await?;
        Ok(row.try_get("id")?)
    }

    /// Users with the names of their groups, by username; all when `only` is `None`.
    pub async fn users(&self, only: Option<&str>) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, username, display_name, email, enabled FROM users WHERE deleted_at IS NULL AND ($1 IS NULL OR username = $1) ORDER BY id",
        )
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        let memberships = sqlx::query(
            "SELECT m.user_id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id ORDER BY g.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let groups = memberships
                    .iter()
                    .filter(|m| m.try_get::<i64, _>("user_id").is_ok_and(|u| u == id))
                    .map(|m| m.try_get::<String, _>("name"))
                    .collect::<Result<_, _>>()?;
                Ok(User {
                    id,
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    email: r.try_get("email")?,
                    enabled: flag(r, "enabled")?,
                    groups,
                })
            })
            .collect()
    }

    /// Changes the given fields of a user; `None` leaves a field as it is. One statement, so
    /// concurrent changes of other fields survive; the SCIM version moves, so a SCIM write based
    /// on the user as it was before is refused.
    pub async fn update_user(
        &self,
        username: &str,
        display_name: Option<&str>,
        email: Option<&str>,
        password_hash: Option<&str>,
        enabled: Option<bool>,
        now: i64,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET display_name = COALESCE($1, display_name), email = COALESCE($2, email), \
             password_hash = COALESCE($3, password_hash), enabled = COALESCE($4, enabled), updated_at = $5, \
             version = version + 1 WHERE username = $6",
        )
        .bind(display_name)
        .bind(email)
        .bind(password_hash)
        .bind(enabled.map(i64::from))
        .bind(now)
        .bind(username)
        .execute(&self.writer)
        .await?;
        self.forget_authorizations();
        exactly_one(&done)
    }

    pub async fn insert_group(&self, name: &str, now: i64) -> StoreResult<i64> {
        let id = sqlx::query("INSERT INTO groups (name, created_at, updated_at) VALUES ($1, $2, $2) RETURNING id")
            .bind(name)
            .bind(now)
            .written_one(&self.writer)
            .await?
            .try_get("id")?;
        Ok(id)
    }

    pub async fn groups(&self) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query("SELECT id, name FROM groups ORDER BY name").fetch_all(&self.pool).await?;
        let members = sqlx::query(
            "SELECT m.group_id, u.username FROM group_members m JOIN users u ON u.id = m.user_id ORDER BY u.username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let members = members
                    .iter()
                    .filter(|m| m.try_get::<i64, _>("group_id").is_ok_and(|g| g == id))
                    .map(|m| m.try_get::<String, _>("username"))
                    .collect::<Result<_, _>>()?;
                Ok(Group { id, name: r.try_get("name")?, members })
            })
            .collect()
    }

    /// Adds or removes a membership; both names must exist. The group's and the user's SCIM
    /// versions move with it, in the same transaction.
    pub async fn set_membership(&self, group: &str, username: &str, member: bool, now: i64) -> StoreResult<()> {
        let ids = sqlx::query(
            "SELECT g.id AS group_id, u.id AS user_id FROM groups g, users u WHERE g.name = $1 AND u.username = $2",
        )
        .bind(group)
        .bind(username)
        .fetch_one(&self.pool)
        .await?;
        let (group_id, user_id): (i64, i64) = (ids.try_get("group_id")?, ids.try_get("user_id")?);
        let sql = if member {
            "INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id, user_id) DO NOTHING"
        } else {
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 AND $3 >= 0"
        };
        let mut tx = self.writer.begin("set_membership").await?;
        sqlx::query(sql).bind(group_id).bind(user_id).bind(now).execute(&mut *tx).await?;
        sqlx::query("UPDATE groups SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
