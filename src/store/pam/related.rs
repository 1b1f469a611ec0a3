//! Related users (§9): credential usernames associated with a senhasegura user.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::pam::RelatedUser;
use crate::store::written::Written;
use crate::store::{Store, StoreResult, exactly_one, flag};

fn related(row: &AnyRow) -> StoreResult<RelatedUser> {
    Ok(RelatedUser {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        username: row.try_get("username")?,
        enabled: flag(row, "enabled")?,
        created_by: row.try_get("created_by")?,
    })
}

impl Store {
    pub async fn insert_related_user(&self, name: &str, username: &str, created_by: i64, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO related_users (name, username, enabled, created_by, created_at, updated_at) VALUES ($1, $2, 1, $3, $4, $4) RETURNING id",
        )
        .bind(name)
        .bind(username)
        .bind(created_by)
        .bind(now)
        .written_one(&self.writer)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Active related users the authorization created.
    pub async fn related_users(&self, created_by: i64) -> StoreResult<Vec<RelatedUser>> {
        sqlx::query("SELECT * FROM related_users WHERE created_by = $1 AND enabled = 1 ORDER BY id")
            .bind(created_by)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(related)
            .collect()
    }

    pub async fn related_user(&self, id: i64, created_by: i64) -> StoreResult<RelatedUser> {
        related(
            &sqlx::query("SELECT * FROM related_users WHERE id = $1 AND created_by = $2 AND enabled = 1")
                .bind(id)
                .bind(created_by)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn update_related_user(&self, u: &RelatedUser, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE related_users SET name = $1, username = $2, enabled = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(u.name.as_str())
        .bind(u.username.as_str())
        .bind(i64::from(u.enabled))
        .bind(now)
        .bind(u.id)
        .execute(&self.writer)
        .await?;
        exactly_one(&done)
    }
}
