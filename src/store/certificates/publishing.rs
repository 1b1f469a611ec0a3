//! Publishing profiles (one per application and name, replaced in place) and the per-device
//! record of every publication.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::decode_error;
use crate::domain::certificates::publishing::{NewProfile, Profile, ProfileKind, Publication};
use crate::store::written::Written;
use crate::store::{Store, StoreResult};

const PROFILE_COLUMNS: &str = "id, application_id, authorization_id, kind, name, credential_id, devices, key_db_path, \
    label, created_at, updated_at";

fn profile(row: &AnyRow) -> StoreResult<Profile> {
    let kind: String = row.try_get("kind")?;
    let devices: String = row.try_get("devices")?;
    Ok(Profile {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        authorization_id: row.try_get("authorization_id")?,
        kind: ProfileKind::parse(&kind).ok_or_else(|| decode_error(kind.clone()))?,
        name: row.try_get("name")?,
        credential_id: row.try_get("credential_id")?,
        devices: serde_json::from_str(&devices).map_err(|e| decode_error(e.to_string()))?,
        key_db_path: row.try_get("key_db_path")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn publication(row: &AnyRow) -> StoreResult<Publication> {
    Ok(Publication {
        id: row.try_get("id")?,
        certificate_id: row.try_get("certificate_id")?,
        profile_id: row.try_get("profile_id")?,
        device_id: row.try_get("device_id")?,
        hostname: row.try_get("hostname")?,
        succeeded: row.try_get::<i64, _>("succeeded")? == 1,
        error: row.try_get("error")?,
        reason: row.try_get("reason")?,
        published_at: row.try_get("published_at")?,
    })
}

/// What publishing to a device of a profile records.
pub struct NewPublication<'a> {
    pub certificate_id: i64,
    pub profile_id: i64,
    pub device_id: i64,
    pub hostname: &'a str,
    pub error: Option<&'a str>,
    pub reason: Option<&'a str>,
}

impl Store {
    /// Creates the application's profile of this name, or replaces it: (profile, created).
    pub async fn upsert_publish_profile(&self, p: &NewProfile, now: i64) -> StoreResult<(Profile, bool)> {
        let row = sqlx::query(&format!(
            "INSERT INTO certificate_publish_profiles (application_id, authorization_id, kind, name, credential_id, \
             devices, key_db_path, key_db_password, label, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (application_id, name) DO UPDATE SET authorization_id = excluded.authorization_id, \
             kind = excluded.kind, credential_id = excluded.credential_id, devices = excluded.devices, \
             key_db_path = excluded.key_db_path, key_db_password = excluded.key_db_password, label = excluded.label, \
             updated_at = excluded.updated_at, revision = certificate_publish_profiles.revision + 1 \
             RETURNING {PROFILE_COLUMNS}, revision"
        ))
        .bind(p.application_id)
        .bind(p.authorization_id)
        .bind(p.kind.as_str())
        .bind(&p.name)
        .bind(p.credential_id)
        .bind(serde_json::Value::from(p.devices.clone()).to_string())
        .bind(p.key_db_path.as_deref())
        .bind(p.key_db_password.as_deref())
        .bind(p.label.as_deref())
        .bind(now)
        .written_one(&self.writer)
        .await?;
        Ok((profile(&row)?, row.try_get::<i64, _>("revision")? == 1))
    }

    /// One of the application's profiles (any application's when `application_id` is None),
    /// with its sealed key database password.
    pub async fn publish_profile(
        &self,
        application_id: Option<i64>,
        id: i64,
    ) -> StoreResult<Option<(Profile, Option<Vec<u8>>)>> {
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS}, key_db_password FROM certificate_publish_profiles \
             WHERE id = $1 AND ($2 IS NULL OR application_id = $2)"
        ))
        .bind(id)
        .bind(application_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((profile(&r)?, r.try_get("key_db_password")?))).transpose()
    }

    pub async fn insert_publication(&self, p: &NewPublication<'_>, now: i64) -> StoreResult<Publication> {
        let row = sqlx::query(
            "INSERT INTO certificate_publications (certificate_id, profile_id, device_id, hostname, succeeded, error, \
             reason, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, certificate_id, profile_id, \
             device_id, hostname, succeeded, error, reason, published_at",
        )
        .bind(p.certificate_id)
        .bind(p.profile_id)
        .bind(p.device_id)
        .bind(p.hostname)
        .bind(i64::from(p.error.is_none()))
        .bind(p.error)
        .bind(p.reason)
        .bind(now)
        .written_one(&self.writer)
        .await?;
        publication(&row)
    }

    /// Every publication of a certificate, oldest first.
    pub async fn publications(&self, certificate_id: i64) -> StoreResult<Vec<Publication>> {
        let rows = sqlx::query(
            "SELECT id, certificate_id, profile_id, device_id, hostname, succeeded, error, reason, published_at \
             FROM certificate_publications WHERE certificate_id = $1 ORDER BY id",
        )
        .bind(certificate_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(publication).collect()
    }
}
