//! Devices and domains. Reads are scoped like every item: created by, or linked to, the caller.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::authorization::{Access, ItemKind};
use crate::domain::pam::Device;
use crate::store::admin::apps::reachable;
use crate::store::change::Change;
use crate::store::written::Written;
use crate::store::{Store, StoreResult, exactly_one, flag};

fn device(row: &AnyRow) -> StoreResult<Device> {
    Ok(Device {
        id: row.try_get("id")?,
        identifier: row.try_get("identifier")?,
        hostname: row.try_get("hostname")?,
        ip: row.try_get("ip")?,
        model: row.try_get("model")?,
        device_type: row.try_get("device_type")?,
        vendor: row.try_get("vendor")?,
        site: row.try_get("site")?,
        device_domain: row.try_get("device_domain")?,
        connectivities: row.try_get("connectivities")?,
        session_remote_config: row.try_get("session_remote_config")?,
        device_tags: row.try_get("device_tags")?,
        enabled: flag(row, "enabled")?,
        created_by: row.try_get("created_by")?,
        revision: row.try_get("revision")?,
    })
}

impl Store {
    pub async fn insert_domain(&self, name: &str, now: i64) -> StoreResult<i64> {
        let row = sqlx::query("INSERT INTO domains (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(now)
            .written_one(&self.writer)
            .await?;
        Ok(row.try_get("id")?)
    }

    /// The names among `names` that are not registered domains.
    pub async fn unknown_domains(&self, names: &[&str]) -> StoreResult<Vec<String>> {
        let known: Vec<String> = sqlx::query("SELECT name FROM domains")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("name"))
            .collect::<Result<_, _>>()?;
        Ok(names.iter().filter(|n| !known.iter().any(|k| k == *n)).map(|n| (*n).to_owned()).collect())
    }

    pub async fn domains(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM domains ORDER BY name").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| r.try_get("name")).collect::<Result<_, _>>()?)
    }

    /// Any device at `hostname` with address `ip`, visible or not: the device a credential or
    /// key upsert names (`NotFound` when the hostname's device has another address).
    pub async fn device_at(&self, hostname: &str, ip: &str) -> StoreResult<Device> {
        let row = sqlx::query("SELECT * FROM devices WHERE hostname = $1 AND ip = $2")
            .bind(hostname)
            .bind(ip)
            .fetch_one(&self.pool)
            .await?;
        device(&row)
    }

    /// Any device by hostname, visible or not (hostnames are unique).
    pub async fn device_by_hostname(&self, hostname: &str) -> StoreResult<Device> {
        device(&sqlx::query("SELECT * FROM devices WHERE hostname = $1").bind(hostname).fetch_one(&self.pool).await?)
    }

    /// The first device registered with this IP, if any (IPs need not be unique).
    pub async fn device_by_ip(&self, ip: &str) -> StoreResult<Option<Device>> {
        let row = sqlx::query("SELECT * FROM devices WHERE ip = $1 ORDER BY id LIMIT 1")
            .bind(ip)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device).transpose()
    }

    pub async fn device(&self, id: i64) -> StoreResult<Device> {
        device(&sqlx::query("SELECT * FROM devices WHERE id = $1").bind(id).fetch_one(&self.pool).await?)
    }

    /// Any device by id, identifier or hostname (for operators linking items).
    pub async fn device_by_key(&self, key: &str) -> StoreResult<Device> {
        let id = key.parse::<i64>().unwrap_or(-1);
        let sql = "SELECT * FROM devices WHERE id = $1 OR identifier = $2 OR hostname = $2 \
                   ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1";
        device(&sqlx::query(sql).bind(id).bind(key).fetch_one(&self.pool).await?)
    }

    /// A device the authorization may reach for `access`, by id, identifier or hostname.
    pub async fn visible_device(&self, authorization_id: i64, key: &str, access: Access) -> StoreResult<Device> {
        let id = key.parse::<i64>().unwrap_or(-1);
        let sql = format!(
            "SELECT d.* FROM devices d WHERE (d.id = $2 OR d.identifier = $3 OR d.hostname = $3) AND {} \
             ORDER BY CASE WHEN d.id = $2 THEN 0 ELSE 1 END LIMIT 1",
            reachable("d", ItemKind::Device, access)
        );
        device(&sqlx::query(&sql).bind(authorization_id).bind(id).bind(key).fetch_one(&self.pool).await?)
    }

    pub async fn visible_devices(&self, authorization_id: i64) -> StoreResult<Vec<Device>> {
        let sql =
            format!("SELECT d.* FROM devices d WHERE {} ORDER BY d.id", reachable("d", ItemKind::Device, Access::Read));
        sqlx::query(&sql).bind(authorization_id).fetch_all(&self.pool).await?.iter().map(device).collect()
    }

    pub async fn insert_device(&self, d: &Device, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO devices (identifier, hostname, ip, model, device_type, vendor, site, device_domain, connectivities, \
             session_remote_config, device_tags, enabled, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $13) RETURNING id",
        )
        .bind(d.identifier.as_str())
        .bind(d.hostname.as_str())
        .bind(d.ip.as_str())
        .bind(d.model.as_str())
        .bind(d.device_type.as_str())
        .bind(d.vendor.as_str())
        .bind(d.site.as_str())
        .bind(d.device_domain.as_str())
        .bind(d.connectivities.as_str())
        .bind(d.session_remote_config.as_str())
        .bind(d.device_tags.as_str())
        .bind(d.created_by)
        .bind(now)
        .written_one(&self.writer)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Sets a device's fields in one statement over whatever they are now — `required` (ip,
    /// model, type, vendor, site) always, each of `optional` (domain, connectivities, remote
    /// session config, tags) when given — and answers the device as written. Concurrent
    /// upserts of one device so apply one after the other, the last one's values winning.
    pub async fn set_device_fields(
        &self,
        id: i64,
        required: [&str; 5],
        optional: [Option<&str>; 4],
        now: i64,
    ) -> StoreResult<Device> {
        let [ip, model, device_type, vendor, site] = required;
        let [domain, connectivities, session_remote_config, tags] = optional;
        let row = sqlx::query(
            "UPDATE devices SET ip = $1, model = $2, device_type = $3, vendor = $4, site = $5, \
             device_domain = COALESCE($6, device_domain), connectivities = COALESCE($7, connectivities), \
             session_remote_config = COALESCE($8, session_remote_config), device_tags = COALESCE($9, device_tags), \
             updated_at = $10, revision = revision + 1 WHERE id = $11 RETURNING *",
        )
        .bind(ip)
        .bind(model)
        .bind(device_type)
        .bind(vendor)
        .bind(site)
        .bind(domain)
        .bind(connectivities)
        .bind(session_remote_config)
        .bind(tags)
        .bind(now)
        .bind(id)
        .written_one(&self.writer)
        .await?;
        device(&row)
    }

    /// Enables or disables a device; disabling also suspends all its credentials, in one
    /// transaction. Enabling does not re-enable them.
    pub async fn set_device_enabled(&self, id: i64, enabled: bool, now: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin("set_device_enabled").await?;
        sqlx::query("UPDATE devices SET enabled = $1, updated_at = $2, revision = revision + 1 WHERE id = $3")
            .bind(i64::from(enabled))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if !enabled {
            sqlx::query(
                "UPDATE credentials SET enabled = 0, updated_at = $1, revision = revision + 1 WHERE device_id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Change {
    /// Sets a device's domains (a credential upsert gave them).
    pub async fn set_device_domain(&mut self, id: i64, device_domain: &str, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE devices SET device_domain = $1, updated_at = $2, revision = revision + 1 WHERE id = $3",
        )
        .bind(device_domain)
        .bind(now)
        .bind(id)
        .execute(&mut *self.0)
        .await?;
        exactly_one(&done)
    }
}
