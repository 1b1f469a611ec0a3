//! Named API tokens and the short-lived values of dynamic ones. Values are stored only as
//! keyed hashes and looked up by hash.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::admin::apps::{NewAuthorizationRow, insert_application};
use crate::store::{Store, StoreResult, exactly_one};

#[derive(Clone, Debug)]
pub struct ApiTokenRow {
    pub id: i64,
    pub authorization_id: i64,
    pub application_id: i64,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub user_id: Option<i64>,
    pub lifetime_minutes: Option<i64>,
}

const COLUMNS: &str =
    "t.id, t.authorization_id, z.application_id, t.name, t.description, t.kind, t.user_id, t.lifetime_minutes";

fn token(row: &AnyRow) -> StoreResult<ApiTokenRow> {
    Ok(ApiTokenRow {
        id: row.try_get("id")?,
        authorization_id: row.try_get("authorization_id")?,
        application_id: row.try_get("application_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        kind: row.try_get("kind")?,
        user_id: row.try_get("user_id")?,
        lifetime_minutes: row.try_get("lifetime_minutes")?,
    })
}

pub struct NewApiTokenRow<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub kind: &'a str,
    pub token_hash: Option<Vec<u8>>,
    pub user_id: Option<i64>,
    pub lifetime_minutes: Option<i64>,
}

impl Store {
    /// Dynamic token values past their expiry: they no longer authenticate anyone.
    pub async fn purge_issued_tokens(&self, now: i64) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM issued_tokens WHERE expires_at <= $1").bind(now).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }

    /// A token with the authorization it acts through, in one transaction: a clash on the
    /// token's name leaves no authorization behind.
    pub async fn insert_api_token(
        &self,
        authorization: &NewAuthorizationRow<'_>,
        row: &NewApiTokenRow<'_>,
        now: i64,
    ) -> StoreResult<(i64, i64)> {
        let mut tx = self.writer.begin("insert_api_token").await?;
        let (_, authorization_id) = insert_application(&mut tx, authorization, now).await?;
        let id = sqlx::query(
            "INSERT INTO api_tokens (authorization_id, name, description, kind, token_hash, user_id, lifetime_minutes, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(authorization_id)
        .bind(row.name)
        .bind(row.description)
        .bind(row.kind)
        .bind(row.token_hash.clone())
        .bind(row.user_id)
        .bind(row.lifetime_minutes)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        tx.commit().await?;
        Ok((id, authorization_id))
    }

    pub async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens t JOIN authorizations z ON z.id = t.authorization_id ORDER BY t.id"
        );
        sqlx::query(&sql).fetch_all(&self.pool).await?.iter().map(token).collect()
    }

    /// By id, or by name when `key` is not a number.
    pub async fn api_token(&self, key: &str) -> StoreResult<ApiTokenRow> {
        let id = key.parse::<i64>().unwrap_or(-1);
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens t JOIN authorizations z ON z.id = t.authorization_id \
             WHERE t.id = $1 OR t.name = $2 ORDER BY CASE WHEN t.id = $1 THEN 0 ELSE 1 END LIMIT 1"
        );
        token(&sqlx::query(&sql).bind(id).bind(key).fetch_one(&self.pool).await?)
    }

    /// The static token whose value hashes to `hash`.
    pub async fn static_token_by_hash(&self, hash: &[u8]) -> StoreResult<ApiTokenRow> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens t JOIN authorizations z ON z.id = t.authorization_id WHERE t.token_hash = $1"
        );
        token(&sqlx::query(&sql).bind(hash.to_vec()).fetch_one(&self.pool).await?)
    }

    /// The dynamic definitions a user may draw tokens from.
    pub async fn dynamic_tokens_of(&self, user_id: i64) -> StoreResult<Vec<ApiTokenRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens t JOIN authorizations z ON z.id = t.authorization_id \
             WHERE t.kind = 'dynamic' AND t.user_id = $1 ORDER BY t.id DESC"
        );
        sqlx::query(&sql).bind(user_id).fetch_all(&self.pool).await?.iter().map(token).collect()
    }

    pub async fn set_static_token_hash(&self, id: i64, hash: &[u8], now: i64) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE api_tokens SET token_hash = $1, updated_at = $2 WHERE id = $3 AND kind = 'static'")
                .bind(hash.to_vec())
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await?;
        exactly_one(&done)
    }

    /// Deletes a token, the values drawn from it, and disables its authorization, atomically.
    pub async fn delete_api_token(&self, id: i64, now: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin("delete_api_token").await?;
        let row =
            sqlx::query("SELECT authorization_id FROM api_tokens WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
        let authorization_id: i64 = row.try_get("authorization_id")?;
        sqlx::query("DELETE FROM issued_tokens WHERE api_token_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM api_tokens WHERE id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE authorizations SET enabled = 0, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(authorization_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.forget_authorizations();
        Ok(())
    }

    pub async fn insert_issued_token(
        &self,
        hash: &[u8],
        api_token_id: i64,
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO issued_tokens (token_hash, api_token_id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash.to_vec())
            .bind(api_token_id)
            .bind(user_id)
            .bind(expires_at)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The definition and user behind a dynamic value that has not expired, and whether the user
    /// is still enabled.
    pub async fn issued_token(&self, hash: &[u8], now: i64) -> StoreResult<(ApiTokenRow, i64, bool)> {
        let sql = format!(
            "SELECT {COLUMNS}, i.user_id AS acting_user, u.enabled AS user_enabled FROM issued_tokens i \
             JOIN api_tokens t ON t.id = i.api_token_id JOIN authorizations z ON z.id = t.authorization_id \
             JOIN users u ON u.id = i.user_id WHERE i.token_hash = $1 AND i.expires_at > $2"
        );
        let row = sqlx::query(&sql).bind(hash.to_vec()).bind(now).fetch_one(&self.pool).await?;
        Ok((token(&row)?, row.try_get("acting_user")?, row.try_get::<i64, _>("user_enabled")? != 0))
    }

    /// Sets an authorization's expiry (extending a token's lifetime).
    pub async fn set_authorization_expiry(
        &self,
        authorization_id: i64,
        expires_at: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        let done = sqlx::query("UPDATE authorizations SET expires_at = $1, updated_at = $2 WHERE id = $3")
            .bind(expires_at)
            .bind(now)
            .bind(authorization_id)
            .execute(&self.writer)
            .await?;
        self.forget_authorizations();
        exactly_one(&done)
    }
}
