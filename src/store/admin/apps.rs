//! Applications, authorizations and the items linked to them.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::authorization::ApplicationSummary;
use crate::domain::authorization::{Access, Authorization, AuthorizationChanges, ItemKind, Resources, Scopes};
use crate::domain::network::IpAllowList;
use crate::store::{Store, StoreError, StoreResult, exactly_one, flag};

#[derive(Clone)]
pub struct NewAuthorizationRow<'a> {
    pub application_name: &'a str,
    /// Comma list of the schemes the application may use: oauth2, oauth1, aws, token.
    pub auth_methods: &'a str,
    pub acting_user_id: Option<i64>,
    pub scopes: Option<String>,
    pub oauth1: Option<OAuth1Row>,
    pub aws: Option<AwsRow>,
    /// The DSM application a pipeline's authorization belongs to.
    pub dsm_application_id: Option<i64>,
    pub client_id: &'a str,
    pub secret_hash: &'a [u8],
    pub expires_at: Option<i64>,
    pub resources: String,
    pub read_only: bool,
    pub allowed_ips: String,
    pub allowed_referers: String,
}

/// OAuth 1.0a credentials; the secrets arrive sealed (AAD row: the client id).
#[derive(Clone)]
pub struct OAuth1Row {
    pub consumer_key: String,
    pub consumer_secret: Vec<u8>,
    pub token: String,
    pub token_secret: Vec<u8>,
    pub unsigned: bool,
}

/// An AWS-style access key; the secret arrives sealed (AAD row: the client id).
#[derive(Clone)]
pub struct AwsRow {
    pub access_key_id: String,
    pub secret_access_key: Vec<u8>,
}

const AUTHORIZATION_COLUMNS: &str = "z.id, z.application_id, a.name AS application_name, z.client_id, z.enabled, \
     a.enabled AS application_enabled, z.expires_at, z.resources, z.read_only, z.allowed_ips, z.allowed_referers, \
     z.token_generation, z.acting_user_id, z.scopes, \
     (SELECT u.enabled FROM users u WHERE u.id = z.acting_user_id) AS acting_user_enabled, z.dsm_application_id, \
     z.revision";

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
        acting_user_id: row.try_get("acting_user_id")?,
        acting_user_enabled: row.try_get::<Option<i64>, _>("acting_user_enabled")?.is_none_or(|e| e != 0),
        dsm_application_id: row.try_get("dsm_application_id")?,
        scopes: match row.try_get::<Option<String>, _>("scopes")? {
            Some(list) => Some(Scopes::parse_list(&list).map_err(stored)?),
            None => None,
        },
        revision: row.try_get("revision")?,
    })
}

/// Inserts an authorization inside a caller's transaction.
pub(in crate::store) async fn insert_authorization(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    application_id: i64,
    row: &NewAuthorizationRow<'_>,
    now: i64,
) -> StoreResult<i64> {
    let (oauth1, aws) = (row.oauth1.as_ref(), row.aws.as_ref());
    let id = sqlx::query(
        "INSERT INTO authorizations (application_id, client_id, secret_hash, enabled, expires_at, resources, read_only, \
         allowed_ips, allowed_referers, token_generation, acting_user_id, scopes, oauth1_consumer_key, \
         oauth1_consumer_secret, oauth1_token, oauth1_token_secret, oauth1_unsigned, aws_access_key_id, \
         aws_secret_access_key, dsm_application_id, created_at, updated_at) \
         VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19) RETURNING id",
    )
    .bind(application_id)
    .bind(row.client_id)
    .bind(row.secret_hash.to_vec())
    .bind(row.expires_at)
    .bind(row.resources.as_str())
    .bind(i64::from(row.read_only))
    .bind(row.allowed_ips.as_str())
    .bind(row.allowed_referers.as_str())
    .bind(row.acting_user_id)
    .bind(row.scopes.as_deref())
    .bind(oauth1.map(|o| o.consumer_key.as_str()))
    .bind(oauth1.map(|o| o.consumer_secret.clone()))
    .bind(oauth1.map(|o| o.token.as_str()))
    .bind(oauth1.map(|o| o.token_secret.clone()))
    .bind(i64::from(oauth1.is_some_and(|o| o.unsigned)))
    .bind(aws.map(|a| a.access_key_id.as_str()))
    .bind(aws.map(|a| a.secret_access_key.clone()))
    .bind(row.dsm_application_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    Ok(id)
}

impl Store {
    /// Creates an application with its first authorization; returns both ids.
    pub async fn insert_application(&self, row: &NewAuthorizationRow<'_>, now: i64) -> StoreResult<(i64, i64)> {
        let mut tx = self.writer.begin("insert_application").await?;
        let ids = insert_application(&mut tx, row, now).await?;
        tx.commit().await?;
        Ok(ids)
    }
}

/// An application with its one authorization, inside the caller's transaction.
pub(in crate::store) async fn insert_application(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    row: &NewAuthorizationRow<'_>,
    now: i64,
) -> StoreResult<(i64, i64)> {
    let application_id: i64 = sqlx::query(
        "INSERT INTO applications (name, enabled, auth_methods, created_at, updated_at) VALUES ($1, 1, $2, $3, $3) \
         RETURNING id",
    )
    .bind(row.application_name)
    .bind(row.auth_methods)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    let authorization_id = insert_authorization(tx, application_id, row, now).await?;
    Ok((application_id, authorization_id))
}

impl Store {
    /// The authorization holding an OAuth 1.0a consumer key, with its sealed secrets.
    pub async fn authorization_by_consumer_key(&self, consumer_key: &str) -> StoreResult<(Authorization, OAuth1Row)> {
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS}, z.oauth1_consumer_key, z.oauth1_consumer_secret, z.oauth1_token, \
             z.oauth1_token_secret, z.oauth1_unsigned FROM authorizations z JOIN applications a ON a.id = z.application_id \
             WHERE z.oauth1_consumer_key = $1"
        );
        let row = sqlx::query(&sql).bind(consumer_key).fetch_one(&self.pool).await?;
        let oauth1 = OAuth1Row {
            consumer_key: row.try_get("oauth1_consumer_key")?,
            consumer_secret: row.try_get("oauth1_consumer_secret")?,
            token: row.try_get("oauth1_token")?,
            token_secret: row.try_get("oauth1_token_secret")?,
            unsigned: flag(&row, "oauth1_unsigned")?,
        };
        Ok((authorization(&row)?, oauth1))
    }

    /// The authorization holding an access key id, with its sealed secret.
    pub async fn authorization_by_access_key(&self, access_key_id: &str) -> StoreResult<(Authorization, Vec<u8>)> {
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS}, z.aws_secret_access_key FROM authorizations z \
             JOIN applications a ON a.id = z.application_id WHERE z.aws_access_key_id = $1"
        );
        let row = sqlx::query(&sql).bind(access_key_id).fetch_one(&self.pool).await?;
        Ok((authorization(&row)?, row.try_get("aws_secret_access_key")?))
    }

    /// The per-request lookup: one indexed read joining the application.
    pub async fn authorization(&self, id: i64) -> StoreResult<Authorization> {
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations z JOIN applications a ON a.id = z.application_id WHERE z.id = $1"
        );
        authorization(&sqlx::query(&sql).bind(id).fetch_one(&self.pool).await?)
    }

    /// The authorization a client id logs in to, with the secret hash to check: its own, or
    /// that of one of its unexpired run credentials (DSM re-registrations).
    pub async fn authorization_by_client_id(&self, client_id: &str, now: i64) -> StoreResult<(Authorization, Vec<u8>)> {
        let (authorization, hash, _) = self.client_login(client_id, now).await?;
        Ok((authorization, hash))
    }

    /// `authorization_by_client_id` with the run credential's expiry, if it is one.
    pub(in crate::store) async fn client_login(
        &self,
        client_id: &str,
        now: i64,
    ) -> StoreResult<(Authorization, Vec<u8>, Option<i64>)> {
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS}, z.secret_hash, NULL AS run_expires_at FROM authorizations z \
             JOIN applications a ON a.id = z.application_id WHERE z.client_id = $1 \
             UNION ALL SELECT {AUTHORIZATION_COLUMNS}, r.secret_hash, r.expires_at AS run_expires_at FROM run_credentials r \
             JOIN authorizations z ON z.id = r.authorization_id JOIN applications a ON a.id = z.application_id \
             WHERE r.client_id = $1 AND r.expires_at > $2"
        );
        let row = sqlx::query(&sql).bind(client_id).bind(now).fetch_one(&self.pool).await?;
        Ok((authorization(&row)?, row.try_get("secret_hash")?, row.try_get("run_expires_at")?))
    }

    /// Every application, or only `only`, with its authorizations.
    pub async fn applications(&self, only: Option<i64>) -> StoreResult<Vec<ApplicationSummary>> {
        let apps = sqlx::query(
            "SELECT id, name, enabled, auth_methods FROM applications WHERE $1 IS NULL OR id = $1 ORDER BY id",
        )
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        let sql = format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations z JOIN applications a ON a.id = z.application_id \
             WHERE $1 IS NULL OR z.application_id = $1 ORDER BY z.id"
        );
        let auths = sqlx::query(&sql)
            .bind(only)
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
                    auth_methods: r.try_get("auth_methods")?,
                    authorizations: auths.iter().filter(|z| z.application_id == id).cloned().collect(),
                })
            })
            .collect()
    }

    pub async fn set_application_enabled(&self, id: i64, enabled: bool, now: i64) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE applications SET enabled = $1, updated_at = $2, revision = revision + 1 WHERE id = $3")
                .bind(i64::from(enabled))
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await?;
        self.forget_authorizations();
        exactly_one(&done)
    }

    /// Links an item to every authorization of an application, for reading or also for writing;
    /// linking again sets the access level anew.
    pub async fn link_item(
        &self,
        application_id: i64,
        kind: ItemKind,
        item_id: i64,
        access: Access,
        now: i64,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "INSERT INTO authorization_links (authorization_id, item_kind, item_id, created_at, can_write) \
             SELECT id, $1, $2, $3, $5 FROM authorizations WHERE application_id = $4 \
             ON CONFLICT (authorization_id, item_kind, item_id) DO UPDATE SET can_write = excluded.can_write",
        )
        .bind(kind.as_str())
        .bind(item_id)
        .bind(now)
        .bind(application_id)
        .bind(i64::from(access == Access::Write))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}

/// SQL true when authorization `$1` may reach the item aliased `alias`: it created the item, or
/// a link grants it — for writes, a link made with write access. Links are read access unless
/// they say otherwise.
pub(in crate::store) fn reachable(alias: &str, kind: ItemKind, access: Access) -> String {
    let write = if access == Access::Write { " AND l.can_write = 1" } else { "" };
    format!(
        "({alias}.created_by = $1 OR EXISTS (SELECT 1 FROM authorization_links l WHERE l.authorization_id = $1 \
         AND l.item_kind = '{}' AND l.item_id = {alias}.id{write}))",
        kind.as_str()
    )
}

impl Store {
    /// Sets the gate fields `changes` gives, in one statement over whatever they are now, so
    /// that concurrent changes apply one after the other and keep each other's other fields.
    pub async fn change_authorization(&self, id: i64, changes: &AuthorizationChanges, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE authorizations SET resources = COALESCE($1, resources), read_only = COALESCE($2, read_only), \
             allowed_ips = COALESCE($3, allowed_ips), allowed_referers = COALESCE($4, allowed_referers), \
             expires_at = CASE WHEN $5 = 1 THEN $6 ELSE expires_at END, enabled = COALESCE($7, enabled), \
             updated_at = $8, revision = revision + 1 WHERE id = $9",
        )
        .bind(changes.resources.as_ref().map(Resources::to_stored))
        .bind(changes.read_only.map(i64::from))
        .bind(changes.allowed_ips.as_ref().map(IpAllowList::to_stored))
        .bind(changes.allowed_referers.as_ref().map(|r| r.join(" ")))
        .bind(i64::from(changes.expires_at.is_some()))
        .bind(changes.expires_at.flatten())
        .bind(changes.enabled.map(i64::from))
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.forget_authorizations();
        exactly_one(&done)
    }

    /// A new secret hash; bumping the generation retires every token issued before.
    pub async fn replace_client_secret(&self, id: i64, hash: &[u8], now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE authorizations SET secret_hash = $1, token_generation = token_generation + 1, updated_at = $2, \
             revision = revision + 1 WHERE id = $3",
        )
        .bind(hash.to_vec())
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.forget_authorizations();
        exactly_one(&done)
    }

    pub async fn unlink_item(&self, application_id: i64, kind: ItemKind, item_id: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM authorization_links WHERE item_kind = $1 AND item_id = $2 \
             AND authorization_id IN (SELECT id FROM authorizations WHERE application_id = $3)",
        )
        .bind(kind.as_str())
        .bind(item_id)
        .bind(application_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
