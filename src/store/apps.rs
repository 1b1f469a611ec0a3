//! Applications, authorizations and the items linked to them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, StoreResult, flag};
use crate::domain::authorization::{Authorization, ItemKind, Resources};
use crate::domain::network::IpAllowList;

pub struct NewAuthorizationRow<'a> {
    pub application_name: &'a str,
    pub client_id: &'a str,
    pub secret_hash: &'a [u8],
    pub expires_at: Option<i64>,
    pub resources: String,
    pub read_only: bool,
    pub allowed_ips: String,
    pub allowed_referers: String,
}

pub struct ApplicationSummary {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub authorizations: Vec<Authorization>,
}

const AUTHORIZATION_COLUMNS: &str = "z.id, z.application_id, a.name AS application_name, z.client_id, z.enabled, \
     a.enabled AS application_enabled, z.expires_at, z.resources, z.read_only, z.allowed_ips, z.allowed_referers, \
     z.token_generation";

fn authorization(row: &AnyRow) -> StoreResult<Authorization> {
    let stored = |e: String| StoreError::Other(sqlx::Error::Decode(e.into()));
    let referers: String = row.try_get("allowed_referers")?;
    let ips: String = row.try_get("allowed_ips")?;
    Ok(Authorization {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        application_name: row.try_get("application_name")?,
        client_id: row.try_get("client_id")?,
        enabled: flag(row, "enabled")?,
        application_enabled: flag(row, "application_enabled")?,
        expires_at: row.try_get("expires_at")?,
        resources: Resources::parse_list(&row.try_get::<String, _>("resources")?).map_err(stored)?,
        read_only: flag(row, "read_only")?,
        allowed_ips: IpAllowList::parse([ips.as_str()]).map_err(stored)?,
        allowed_referers: referers.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        token_generation: row.try_get("token_generation")?,
    })
}

impl Store {
    /// Creates an application with its first authorization; returns both ids.
    pub async fn insert_application(&self, row: &NewAuthorizationRow<'_>, now: i64) -> StoreResult<(i64, i64)> {
        let mut tx = self.pool.begin().await?;
        let application_id: i64 = sqlx::query(
            "INSERT INTO applications (name, enabled, created_at, updated_at) VALUES ($1, 1, $2, $2) RETURNING id",
        )
        .bind(row.application_name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let authorization_id: i64 = sqlx::query(
            "INSERT INTO authorizations (application_id, client_id, secret_hash, enabled, expires_at, resources, read_only, \
             allowed_ips, allowed_referers, token_generation, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, 0, $9, $9) RETURNING id",
        )
        .bind(application_id)
        .bind(row.client_id)
        .bind(row.secret_hash.to_vec())
        .bind(row.expires_at)
        .bind(row.resources.as_str())
        .bind(i64::from(row.read_only))
        .bind(row.allowed_ips.as_str())
        .bind(row.allowed_referers.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        tx.commit().await?;
        Ok((application_id, authorization_id))
    }

    /// The per-request lookup: one indexed read joining the application.
    pub async fn authorization(&self, id: i64) -> StoreResult<Authorization> {
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations z JOIN applications a ON a.id = z.application_id WHERE z.id = $1"
        );
        authorization(&sqlx::query(&sql).bind(id).fetch_one(&self.pool).await?)
    }

    /// The authorization for `client_id` with its stored secret hash, for token issue.
    pub async fn authorization_by_client_id(&self, client_id: &str) -> StoreResult<(Authorization, Vec<u8>)> {
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS}, z.secret_hash FROM authorizations z \
             JOIN applications a ON a.id = z.application_id WHERE z.client_id = $1"
        );
        let row = sqlx::query(&sql).bind(client_id).fetch_one(&self.pool).await?;
        Ok((authorization(&row)?, row.try_get("secret_hash")?))
    }

    pub async fn applications(&self) -> StoreResult<Vec<ApplicationSummary>> {
        let apps = sqlx::query("SELECT id, name, enabled FROM applications ORDER BY id").fetch_all(&self.pool).await?;
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations z JOIN applications a ON a.id = z.application_id ORDER BY z.id"
        );
        let auths = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(authorization)
            .collect::<StoreResult<Vec<_>>>()?;
        apps.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                Ok(ApplicationSummary {
                    id,
                    name: r.try_get("name")?,
                    enabled: flag(r, "enabled")?,
                    authorizations: auths.iter().filter(|z| z.application_id == id).cloned().collect(),
                })
            })
            .collect()
    }

    pub async fn set_application_enabled(&self, id: i64, enabled: bool, now: i64) -> StoreResult<()> {
        let done = sqlx::query("UPDATE applications SET enabled = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(enabled))
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Links an item to every authorization of an application; linking twice is harmless.
    pub async fn link_item(&self, application_id: i64, kind: ItemKind, item_id: i64, now: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "INSERT INTO authorization_links (authorization_id, item_kind, item_id, created_at) \
             SELECT id, $1, $2, $3 FROM authorizations WHERE application_id = $4 \
             ON CONFLICT (authorization_id, item_kind, item_id) DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(item_id)
        .bind(now)
        .bind(application_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
