//! Credentials (passwords and SSH keys), their history and custody. Secrets arrive sealed.

use std::sync::LazyLock;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::authorization::{Access, ItemKind};
use crate::domain::pam::{Credential, CredentialKey, CredentialKind, Device, FoundCredential};
use crate::store::admin::apps::reachable;
use crate::store::change::Change;
use crate::store::{Store, StoreError, StoreResult, exactly_one, flag};

/// An earlier secret, sealed.
pub struct Version {
    pub version: i64,
    pub secret: Option<Vec<u8>>,
    pub key_passphrase: Option<Vec<u8>>,
    pub public_key: String,
    pub replaced_by: String,
    pub reason: String,
    pub created_at: i64,
}

/// Credentials joined with their device; `$1` is the asking authorization.
static JOINED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.*, d.identifier AS d_identifier, d.hostname AS d_hostname, d.ip AS d_ip, d.model AS d_model, \
         d.device_type AS d_device_type, d.vendor AS d_vendor, d.site AS d_site, d.device_domain AS d_device_domain, \
         d.connectivities AS d_connectivities, d.session_remote_config AS d_session_remote_config, \
         d.device_tags AS d_device_tags, d.enabled AS d_enabled, d.created_by AS d_created_by, d.revision AS d_revision, \
         CASE WHEN {} THEN 1 ELSE 0 END AS visible, CASE WHEN {} THEN 1 ELSE 0 END AS writable \
         FROM credentials c JOIN devices d ON d.id = c.device_id",
        reachable("c", ItemKind::Credential, Access::Read),
        reachable("c", ItemKind::Credential, Access::Write)
    )
});

fn credential(row: &AnyRow) -> StoreResult<Credential> {
    Ok(Credential {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        identifier: row.try_get("identifier")?,
        kind: CredentialKind::parse(&row.try_get::<String, _>("kind")?),
        device_id: row.try_get("device_id")?,
        username: row.try_get("username")?,
        secret: row.try_get("secret")?,
        public_key: row.try_get("public_key")?,
        key_passphrase: row.try_get("key_passphrase")?,
        key_name: row.try_get("key_name")?,
        additional: row.try_get("additional")?,
        tags: row.try_get("tags")?,
        credential_type: row.try_get("credential_type")?,
        domain: row.try_get("domain")?,
        parent_id: row.try_get("parent_id")?,
        settings: row.try_get("settings")?,
        automatic_change: flag(row, "automatic_change")?,
        expiration_time: row.try_get("expiration_time")?,
        version: row.try_get("version")?,
        revision: row.try_get("revision")?,
        enabled: flag(row, "enabled")?,
        custody_by: row.try_get("custody_by")?,
        viewed_at: row.try_get("viewed_at")?,
        changed_at: row.try_get("changed_at")?,
        next_rotation_at: row.try_get("next_rotation_at")?,
        created_by: row.try_get("created_by")?,
    })
}

fn found(row: &AnyRow) -> StoreResult<FoundCredential> {
    let device = Device {
        id: row.try_get("device_id")?,
        identifier: row.try_get("d_identifier")?,
        hostname: row.try_get("d_hostname")?,
        ip: row.try_get("d_ip")?,
        model: row.try_get("d_model")?,
        device_type: row.try_get("d_device_type")?,
        vendor: row.try_get("d_vendor")?,
        site: row.try_get("d_site")?,
        device_domain: row.try_get("d_device_domain")?,
        connectivities: row.try_get("d_connectivities")?,
        session_remote_config: row.try_get("d_session_remote_config")?,
        device_tags: row.try_get("d_device_tags")?,
        enabled: flag(row, "d_enabled")?,
        created_by: row.try_get("d_created_by")?,
        revision: row.try_get("d_revision")?,
    };
    Ok(FoundCredential {
        credential: credential(row)?,
        device,
        visible: flag(row, "visible")?,
        writable: flag(row, "writable")?,
    })
}

impl Store {
    /// One credential by key, whether or not `authorization_id` may see it (the contract tells
    /// "not found" from "no access").
    pub async fn find_credential(&self, authorization_id: i64, key: &CredentialKey) -> StoreResult<FoundCredential> {
        let query = match key {
            CredentialKey::Id(_) => format!("{} WHERE c.id = $2", *JOINED),
            CredentialKey::UserAtHost { .. } => {
                format!("{} WHERE c.username = $2 AND d.hostname = $3 ORDER BY c.kind", *JOINED)
            }
            CredentialKey::Identifier(_) => format!("{} WHERE c.identifier = $2", *JOINED),
        };
        let mut q = sqlx::query(&query).bind(authorization_id);
        q = match key {
            CredentialKey::Id(id) => q.bind(*id),
            CredentialKey::UserAtHost { username, hostname } => q.bind(username.as_str()).bind(hostname.as_str()),
            CredentialKey::Identifier(identifier) => q.bind(identifier.as_str()),
        };
        found(&q.fetch_one(&self.pool).await?)
    }

    pub async fn visible_credentials(&self, authorization_id: i64) -> StoreResult<Vec<FoundCredential>> {
        let sql = format!("SELECT * FROM ({}) v WHERE v.visible = 1 ORDER BY v.id", *JOINED);
        sqlx::query(&sql).bind(authorization_id).fetch_all(&self.pool).await?.iter().map(found).collect()
    }

    /// The credential of `kind` for `username` on a device, visible or not.
    pub async fn credential_on_device(
        &self,
        authorization_id: i64,
        device_id: i64,
        username: &str,
        kind: CredentialKind,
    ) -> StoreResult<FoundCredential> {
        let sql = format!("{} WHERE c.device_id = $2 AND c.username = $3 AND c.kind = $4", *JOINED);
        found(
            &sqlx::query(&sql)
                .bind(authorization_id)
                .bind(device_id)
                .bind(username)
                .bind(kind.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn set_credential_enabled(&self, id: i64, enabled: bool, now: i64) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE credentials SET enabled = $1, updated_at = $2, revision = revision + 1 WHERE id = $3")
                .bind(i64::from(enabled))
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await?;
        exactly_one(&done)
    }

    /// Check-out: the authorization now holds the credential.
    pub async fn start_custody(&self, id: i64, authorization_id: i64, now: i64) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE credentials SET custody_by = $1, custody_since = $2, viewed_at = $2 WHERE id = $3")
                .bind(authorization_id)
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await?;
        exactly_one(&done)
    }

    /// Check-in, only by the holder; `rotate_at` schedules a rotation (after-custody policies).
    pub async fn release_custody(&self, id: i64, authorization_id: i64, rotate_at: Option<i64>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE credentials SET custody_by = NULL, custody_since = NULL, \
             next_rotation_at = COALESCE($1, next_rotation_at) WHERE id = $2 AND custody_by = $3",
        )
        .bind(rotate_at)
        .bind(id)
        .bind(authorization_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn credential_versions(&self, credential_id: i64) -> StoreResult<Vec<Version>> {
        let rows = sqlx::query(
            "SELECT version, secret, key_passphrase, public_key, replaced_by, reason, created_at FROM credential_versions \
             WHERE credential_id = $1 ORDER BY version",
        )
        .bind(credential_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Version {
                    version: r.try_get("version")?,
                    secret: r.try_get("secret")?,
                    key_passphrase: r.try_get("key_passphrase")?,
                    public_key: r.try_get("public_key")?,
                    replaced_by: r.try_get("replaced_by")?,
                    reason: r.try_get("reason")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Hostname and IP of the extra devices of an SSH key.
    pub async fn key_devices(&self, credential_id: i64) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT d.hostname, d.ip FROM key_devices k JOIN devices d ON d.id = k.device_id WHERE k.credential_id = $1 ORDER BY d.hostname",
        )
        .bind(credential_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("hostname")?, r.try_get("ip")?))).collect()
    }
}

impl Change {
    /// The credential as it is now, locked against every other writer until the change ends.
    pub async fn lock_credential(&mut self, id: i64) -> StoreResult<Credential> {
        let sql = format!("SELECT * FROM credentials WHERE id = $1{}", self.for_update());
        credential(&sqlx::query(&sql).bind(id).fetch_one(&mut *self.0).await?)
    }

    pub async fn insert_credential(&mut self, c: &Credential, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO credentials (uid, identifier, kind, device_id, username, secret, public_key, key_passphrase, key_name, \
             additional, tags, credential_type, domain, parent_id, settings, automatic_change, expiration_time, version, \
             enabled, changed_at, next_rotation_at, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18, $19, $20, $21, $19, $19) \
             RETURNING id",
        )
        .bind(c.uid.as_str())
        .bind(c.identifier.as_str())
        .bind(c.kind.as_str())
        .bind(c.device_id)
        .bind(c.username.as_str())
        .bind(c.secret.clone())
        .bind(c.public_key.as_str())
        .bind(c.key_passphrase.clone())
        .bind(c.key_name.as_str())
        .bind(c.additional.as_str())
        .bind(c.tags.as_str())
        .bind(c.credential_type.as_str())
        .bind(c.domain.as_str())
        .bind(c.parent_id)
        .bind(c.settings.clone())
        .bind(i64::from(c.automatic_change))
        .bind(c.expiration_time.as_str())
        .bind(i64::from(c.enabled))
        .bind(now)
        .bind(c.next_rotation_at)
        .bind(c.created_by)
        .fetch_one(&mut *self.0)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Writes a credential back; when `previous` is given (the secret changed), the old secret
    /// is kept as a version in the same change. The write applies only if nobody changed
    /// the credential since it was read (its revision is unchanged): otherwise `Stale` — which
    /// a credential read with `lock_credential` in this change never is.
    pub async fn save_credential(&mut self, c: &Credential, previous: Option<&Version>, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE credentials SET device_id = $1, username = $2, secret = $3, public_key = $4, key_passphrase = $5, \
             key_name = $6, additional = $7, tags = $8, credential_type = $9, domain = $10, parent_id = $11, settings = $12, \
             automatic_change = $13, expiration_time = $14, version = $15, enabled = $16, changed_at = $17, \
             next_rotation_at = $18, rotation_error = '', rotation_lease = 0, updated_at = $19, revision = revision + 1, \
             identifier = $22 WHERE id = $20 AND revision = $21",
        )
        .bind(c.device_id)
        .bind(c.username.as_str())
        .bind(c.secret.clone())
        .bind(c.public_key.as_str())
        .bind(c.key_passphrase.clone())
        .bind(c.key_name.as_str())
        .bind(c.additional.as_str())
        .bind(c.tags.as_str())
        .bind(c.credential_type.as_str())
        .bind(c.domain.as_str())
        .bind(c.parent_id)
        .bind(c.settings.clone())
        .bind(i64::from(c.automatic_change))
        .bind(c.expiration_time.as_str())
        .bind(c.version)
        .bind(i64::from(c.enabled))
        .bind(c.changed_at)
        .bind(c.next_rotation_at)
        .bind(now)
        .bind(c.id)
        .bind(c.revision)
        .bind(c.identifier.as_str())
        .execute(&mut *self.0)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        if let Some(v) = previous {
            sqlx::query(
                "INSERT INTO credential_versions (credential_id, version, secret, key_passphrase, public_key, replaced_by, \
                 reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(c.id)
            .bind(v.version)
            .bind(v.secret.clone())
            .bind(v.key_passphrase.clone())
            .bind(v.public_key.as_str())
            .bind(v.replaced_by.as_str())
            .bind(v.reason.as_str())
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    /// Replaces the extra devices of an SSH key.
    pub async fn set_key_devices(&mut self, credential_id: i64, device_ids: &[i64]) -> StoreResult<()> {
        sqlx::query("DELETE FROM key_devices WHERE credential_id = $1")
            .bind(credential_id)
            .execute(&mut *self.0)
            .await?;
        for device_id in device_ids {
            sqlx::query("INSERT INTO key_devices (credential_id, device_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(credential_id)
                .bind(device_id)
                .execute(&mut *self.0)
                .await?;
        }
        Ok(())
    }
}
