//! SSH host keys: each device's, pinned on first use, and the gateway's own (sealed).

use sqlx::Row;

use crate::store::{Store, StoreResult};

/// A device's pinned SSH host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedHostKey {
    pub device_id: i64,
    /// The OpenSSH public key line (`ssh-ed25519 AAAA…`).
    pub public_key: String,
    /// `SHA256:…`, as ssh-keygen -l prints it.
    pub fingerprint: String,
    /// `first use` or `operator`.
    pub source: String,
    pub pinned_at: i64,
}

impl Store {
    /// Pins `key` for the device unless one is pinned already, and answers the pinned one: of two
    /// processes meeting the device for the first time, both get the same answer.
    pub async fn pin_device_host_key(&self, key: &PinnedHostKey) -> StoreResult<PinnedHostKey> {
        self.write_device_host_key(key, "DO NOTHING").await?;
        self.device_host_key(key.device_id).await?.ok_or(crate::store::StoreError::NotFound)
    }

    /// Sets (replaces) the device's pinned key, as an operator does.
    pub async fn set_device_host_key(&self, key: &PinnedHostKey) -> StoreResult<()> {
        let replace = "DO UPDATE SET public_key = excluded.public_key, fingerprint = excluded.fingerprint, \
                       source = excluded.source, pinned_at = excluded.pinned_at";
        self.write_device_host_key(key, replace).await
    }

    async fn write_device_host_key(&self, key: &PinnedHostKey, on_conflict: &str) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO device_host_keys (device_id, public_key, fingerprint, source, pinned_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id) {on_conflict}"
        );
        sqlx::query(&sql)
            .bind(key.device_id)
            .bind(key.public_key.as_str())
            .bind(key.fingerprint.as_str())
            .bind(key.source.as_str())
            .bind(key.pinned_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn device_host_key(&self, device_id: i64) -> StoreResult<Option<PinnedHostKey>> {
        let row = sqlx::query(
            "SELECT device_id, public_key, fingerprint, source, pinned_at FROM device_host_keys WHERE device_id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PinnedHostKey {
                device_id: r.try_get("device_id")?,
                public_key: r.try_get("public_key")?,
                fingerprint: r.try_get("fingerprint")?,
                source: r.try_get("source")?,
                pinned_at: r.try_get("pinned_at")?,
            })
        })
        .transpose()
    }

    /// Forgets the device's pinned key: the next connection pins what it meets. False when none was.
    pub async fn reset_device_host_key(&self, device_id: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM device_host_keys WHERE device_id = $1")
            .bind(device_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The gateway key `name` (sealed), made by whichever process asks first: `sealed` is stored
    /// only when none is, and the stored one is answered.
    pub async fn gateway_key(&self, name: &str, sealed: &[u8], now: i64) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO gateway_keys (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(sealed)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let row =
            sqlx::query("SELECT sealed FROM gateway_keys WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
        Ok(row.try_get("sealed")?)
    }
}
