//! DSM applications, their secrets (data sealed, versions kept) and provisioned pods.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::dsm::{DsmApp, DsmSecret};
use crate::store::admin::apps::{NewAuthorizationRow, insert_authorization};
use crate::store::change::Change;
use crate::store::{Backend, Store, StoreError, StoreResult, exactly_one};

/// A re-registration's authorization, and when the run credential it gets expires.
#[derive(Clone, Copy, Debug)]
pub struct FoundAuthorization {
    pub id: i64,
    pub run_expires_at: i64,
}

/// One write of `write_dsm_secrets`: `previous` is `None` for a new secret, otherwise the
/// version being replaced and its data sealed for the version history.
pub struct DsmSecretWrite {
    pub secret: DsmSecret,
    pub previous: Option<(i64, Vec<u8>)>,
}

/// The live authorization a registration of a DSM application issued: the newest enabled one.
const LIVE_AUTHORIZATION: &str =
    "SELECT id, expires_at FROM authorizations WHERE dsm_application_id = $1 AND enabled = 1 ORDER BY id DESC LIMIT 1";

fn app(row: &AnyRow) -> StoreResult<DsmApp> {
    Ok(DsmApp {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        registrar_application_id: row.try_get("registrar_application_id")?,
        name: row.try_get("name")?,
        system: row.try_get("system")?,
        environment: row.try_get("environment")?,
        unique_key: row.try_get("unique_key")?,
        description: row.try_get("description")?,
        tags: row.try_get("tags")?,
        line_of_business: row.try_get("line_of_business")?,
        application_type: row.try_get("application_type")?,
        revision: row.try_get("revision")?,
    })
}

fn secret(row: &AnyRow) -> StoreResult<DsmSecret> {
    Ok(DsmSecret {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        dsm_application_id: row.try_get("dsm_application_id")?,
        identity: row.try_get("identity")?,
        name: row.try_get("name")?,
        engine: row.try_get("engine")?,
        description: row.try_get("description")?,
        expiration_date: row.try_get("expiration_date")?,
        version: row.try_get("version")?,
        data: row.try_get("data")?,
        renew_minutes: row.try_get("renew_minutes")?,
        next_renewal_at: row.try_get("next_renewal_at")?,
    })
}

impl Store {
    /// By unique key when given, otherwise by (name, system, environment).
    pub async fn find_dsm_app(
        &self,
        unique_key: Option<&str>,
        name: &str,
        system: &str,
        environment: &str,
    ) -> StoreResult<Option<DsmApp>> {
        let row = match unique_key {
            Some(key) => {
                sqlx::query("SELECT * FROM dsm_applications WHERE unique_key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM dsm_applications WHERE name = $1 AND system = $2 AND environment = $3")
                    .bind(name)
                    .bind(system)
                    .bind(environment)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        row.as_ref().map(app).transpose()
    }

    pub async fn dsm_app(&self, id: i64) -> StoreResult<DsmApp> {
        app(&sqlx::query("SELECT * FROM dsm_applications WHERE id = $1").bind(id).fetch_one(&self.pool).await?)
    }

    /// Registers a new DSM application (a new cofre application) and adds an authorization for
    /// it, in one change (`Conflict` when its name or unique key was taken meanwhile). Returns
    /// the DSM app id and the authorization id.
    pub async fn register_dsm(
        &self,
        dsm: &DsmApp,
        authorization: &NewAuthorizationRow<'_>,
        now: i64,
    ) -> StoreResult<(i64, i64)> {
        let mut change = self.begin("register_dsm").await?;
        let tx = &mut change.0;
        let application_id: i64 =
            sqlx::query("INSERT INTO applications (name, enabled, auth_methods, created_at, updated_at) VALUES ($1, 1, 'oauth2', $2, $2) RETURNING id")
                .bind(dsm.name.as_str())
                .bind(now)
                .fetch_one(&mut **tx)
                .await?
                .try_get("id")?;
        let dsm_id: i64 = sqlx::query(
            "INSERT INTO dsm_applications (application_id, name, system, environment, unique_key, description, tags, \
             line_of_business, application_type, created_at, updated_at, registrar_application_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING id",
        )
        .bind(application_id)
        .bind(dsm.name.as_str())
        .bind(dsm.system.as_str())
        .bind(dsm.environment.as_str())
        .bind(dsm.unique_key.as_deref())
        .bind(dsm.description.as_str())
        .bind(dsm.tags.as_str())
        .bind(dsm.line_of_business.as_str())
        .bind(dsm.application_type.as_str())
        .bind(now)
        .bind(dsm.registrar_application_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")?;
        let row = NewAuthorizationRow { dsm_application_id: Some(dsm_id), ..authorization.clone() };
        let authorization_id = insert_authorization(tx, application_id, &row, now).await?;
        change.commit().await?;
        Ok((dsm_id, authorization_id))
    }

    pub async fn purge_run_credentials(&self, now: i64) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM run_credentials WHERE expires_at <= $1").bind(now).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }

    pub async fn engine_exists(&self, name: &str) -> StoreResult<bool> {
        Ok(sqlx::query("SELECT name FROM dsm_engines WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    pub async fn dsm_secrets(&self, dsm_application_id: i64) -> StoreResult<Vec<DsmSecret>> {
        sqlx::query("SELECT * FROM dsm_secrets WHERE dsm_application_id = $1 ORDER BY id")
            .bind(dsm_application_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(secret)
            .collect()
    }

    pub async fn dsm_secret(&self, dsm_application_id: i64, identity: &str) -> StoreResult<DsmSecret> {
        secret(
            &sqlx::query("SELECT * FROM dsm_secrets WHERE dsm_application_id = $1 AND identity = $2")
                .bind(dsm_application_id)
                .bind(identity)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn dsm_secret_by_id(&self, id: i64) -> StoreResult<DsmSecret> {
        secret(&sqlx::query("SELECT * FROM dsm_secrets WHERE id = $1").bind(id).fetch_one(&self.pool).await?)
    }

    /// Applies secret writes whole or not at all. A new secret is inserted (`Conflict` if its
    /// identity was taken meanwhile); an existing one becomes version `secret.version`, with the
    /// data it replaces kept as `previous`, only if it is still at the version before (else `Stale`).
    pub async fn write_dsm_secrets(&self, writes: &[DsmSecretWrite], now: i64) -> StoreResult<()> {
        let mut change = self.begin("write_dsm_secrets").await?;
        for DsmSecretWrite { secret, previous } in writes {
            match previous {
                Some(previous) => change.update_dsm_secret(secret, previous, now).await?,
                None if change.insert_dsm_secret(secret, now).await? => {}
                None => return Err(StoreError::Conflict),
            }
        }
        change.commit().await
    }

    pub async fn dsm_secret_versions(&self, secret_id: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let rows = sqlx::query("SELECT version, data FROM dsm_secret_versions WHERE secret_id = $1 ORDER BY version")
            .bind(secret_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("version")?, r.try_get("data")?))).collect()
    }

    /// Leases due renewals, like rotation claims (see `claim_due_rotations`).
    pub async fn claim_due_renewals(&self, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<i64>> {
        let lock = if self.backend == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE dsm_secrets SET renewal_lease = $1 WHERE id IN (SELECT id FROM dsm_secrets WHERE next_renewal_at IS NOT NULL \
             AND next_renewal_at <= $2 AND renewal_lease <= $2 ORDER BY next_renewal_at LIMIT $3 {lock}) RETURNING id"
        );
        let rows = sqlx::query(&sql).bind(lease_until).bind(now).bind(limit).fetch_all(&self.writer).await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    pub async fn upsert_provision(
        &self,
        dsm_application_id: i64,
        pod: &str,
        deploy: &str,
        namespace: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO dsm_provisions (dsm_application_id, pod_name, deploy, namespace, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (dsm_application_id, pod_name, deploy, namespace) DO NOTHING",
        )
        .bind(dsm_application_id)
        .bind(pod)
        .bind(deploy)
        .bind(namespace)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_provision(
        &self,
        dsm_application_id: i64,
        pod: &str,
        deploy: &str,
        namespace: &str,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM dsm_provisions WHERE dsm_application_id = $1 AND pod_name = $2 AND deploy = $3 AND namespace = $4")
            .bind(dsm_application_id)
            .bind(pod)
            .bind(deploy)
            .bind(namespace)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn set_authorization_enabled(&self, id: i64, enabled: bool, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE authorizations SET enabled = $1, updated_at = $2, revision = revision + 1 WHERE id = $3",
        )
        .bind(i64::from(enabled))
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.forget_authorizations();
        exactly_one(&done)
    }
}

impl Change {
    /// The application's secrets among `identities`, as they are now, locked against every
    /// other writer until the change ends (in id order, so that changes lock in one order).
    pub async fn lock_dsm_secrets(
        &mut self,
        dsm_application_id: i64,
        identities: &[&str],
    ) -> StoreResult<Vec<DsmSecret>> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (2..identities.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT * FROM dsm_secrets WHERE dsm_application_id = $1 AND identity IN ({}) ORDER BY id{}",
            marks.join(", "),
            self.for_update()
        );
        let mut query = sqlx::query(&sql).bind(dsm_application_id);
        for identity in identities {
            query = query.bind(*identity);
        }
        query.fetch_all(&mut *self.0).await?.iter().map(secret).collect()
    }

    /// Inserts a new secret; `false`, writing nothing, when its identity was taken meanwhile
    /// (on PostgreSQL, after the change that took it committed: `lock_dsm_secrets` then finds it).
    pub async fn insert_dsm_secret(&mut self, s: &DsmSecret, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO dsm_secrets (uid, dsm_application_id, identity, name, engine, description, expiration_date, \
             version, data, renew_minutes, next_renewal_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $11) \
             ON CONFLICT (dsm_application_id, identity) DO NOTHING",
        )
        .bind(s.uid.as_str())
        .bind(s.dsm_application_id)
        .bind(s.identity.as_str())
        .bind(s.name.as_str())
        .bind(s.engine.as_str())
        .bind(s.description.as_str())
        .bind(s.expiration_date.as_str())
        .bind(s.data.clone())
        .bind(s.renew_minutes)
        .bind(s.next_renewal_at)
        .bind(now)
        .execute(&mut *self.0)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Makes `s` the secret's version `s.version`, over the version `previous` names (else
    /// `Stale`, which a secret read with `lock_dsm_secrets` in this change never is), keeping
    /// that version's data, sealed for the history.
    pub async fn update_dsm_secret(&mut self, s: &DsmSecret, previous: &(i64, Vec<u8>), now: i64) -> StoreResult<()> {
        let (previous_version, previous_data) = previous;
        let done = sqlx::query(
            "UPDATE dsm_secrets SET name = $1, engine = $2, description = $3, expiration_date = $4, version = $5, data = $6, \
             renew_minutes = $7, next_renewal_at = $8, renewal_lease = 0, updated_at = $9 WHERE id = $10 AND version = $11",
        )
        .bind(s.name.as_str())
        .bind(s.engine.as_str())
        .bind(s.description.as_str())
        .bind(s.expiration_date.as_str())
        .bind(s.version)
        .bind(s.data.clone())
        .bind(s.renew_minutes)
        .bind(s.next_renewal_at)
        .bind(now)
        .bind(s.id)
        .bind(*previous_version)
        .execute(&mut *self.0)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        sqlx::query("INSERT INTO dsm_secret_versions (secret_id, version, data, created_at) VALUES ($1, $2, $3, $4)")
            .bind(s.id)
            .bind(*previous_version)
            .bind(previous_data.clone())
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

/// Re-registration of an existing DSM application, in a change that holds it locked.
impl Change {
    /// The DSM application as it is now, locked against every other writer until the change ends.
    pub async fn lock_dsm_app(&mut self, id: i64) -> StoreResult<DsmApp> {
        let sql = format!("SELECT * FROM dsm_applications WHERE id = $1{}", self.for_update());
        app(&sqlx::query(&sql).bind(id).fetch_one(&mut *self.0).await?)
    }

    /// The live authorization a registration of this DSM application issued, if any.
    pub async fn dsm_authorization(&mut self, dsm_application_id: i64) -> StoreResult<Option<(i64, Option<i64>)>> {
        let row = sqlx::query(LIVE_AUTHORIZATION).bind(dsm_application_id).fetch_optional(&mut *self.0).await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("expires_at")?))).transpose()
    }

    /// Writes a locked DSM application's fields back and issues the run its credentials: a
    /// run credential under the application's live authorization (`found`), else a new
    /// authorization. Returns the authorization's id.
    pub async fn reregister_dsm(
        &mut self,
        dsm: &DsmApp,
        authorization: &NewAuthorizationRow<'_>,
        found: Option<FoundAuthorization>,
        now: i64,
    ) -> StoreResult<i64> {
        let tx = &mut self.0;
        let done = sqlx::query(
            "UPDATE dsm_applications SET description = $1, tags = $2, line_of_business = $3, application_type = $4, \
             updated_at = $5, revision = revision + 1 WHERE id = $6",
        )
        .bind(dsm.description.as_str())
        .bind(dsm.tags.as_str())
        .bind(dsm.line_of_business.as_str())
        .bind(dsm.application_type.as_str())
        .bind(now)
        .bind(dsm.id)
        .execute(&mut **tx)
        .await?;
        exactly_one(&done)?;
        match found {
            // The application's authorization is found: the run gets a credential of its own.
            Some(FoundAuthorization { id, run_expires_at }) => {
                sqlx::query(
                    "INSERT INTO run_credentials (client_id, authorization_id, secret_hash, expires_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(authorization.client_id)
                .bind(id)
                .bind(authorization.secret_hash.to_vec())
                .bind(run_expires_at)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(id)
            }
            None => {
                let row = NewAuthorizationRow { dsm_application_id: Some(dsm.id), ..authorization.clone() };
                insert_authorization(tx, dsm.application_id, &row, now).await
            }
        }
    }
}
