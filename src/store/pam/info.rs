//! Protected information rows. Every read is scoped to what an authorization may see: items it
//! created or that were linked to it, so an invisible item looks exactly like a missing one.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::authorization::{Access, ItemKind};
use crate::domain::info::InfoRecord;
use crate::store::admin::apps::reachable;
use crate::store::written::Written;
use crate::store::{Store, StoreResult, flag};

fn record(row: &AnyRow) -> StoreResult<InfoRecord> {
    Ok(InfoRecord {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        identifier: row.try_get("identifier")?,
        name: row.try_get("name")?,
        info_type: row.try_get("info_type")?,
        service: row.try_get("service")?,
        url: row.try_get("url")?,
        users_allowed: row.try_get("users_allowed")?,
        sealed_content: row.try_get("content")?,
        enabled: flag(row, "enabled")?,
        created_by: row.try_get("created_by")?,
    })
}

/// The fields of protected information an upsert sets; `None` keeps what is stored.
pub struct InfoFields<'a> {
    pub name: Option<&'a str>,
    pub info_type: Option<&'a str>,
    pub service: Option<&'a str>,
    pub url: Option<&'a str>,
    pub users_allowed: Option<&'a str>,
}

impl Store {
    /// Finds an item the authorization may reach for `access`, by numeric id or by identifier;
    /// an id match wins over an identifier that happens to look numeric.
    pub async fn visible_info(&self, authorization_id: i64, key: &str, access: Access) -> StoreResult<InfoRecord> {
        let id = key.parse::<i64>().unwrap_or(-1);
        let sql = format!(
            "SELECT i.* FROM protected_info i WHERE (i.id = $2 OR i.identifier = $3) AND {} \
             ORDER BY CASE WHEN i.id = $2 THEN 0 ELSE 1 END LIMIT 1",
            reachable("i", ItemKind::Info, access)
        );
        record(&sqlx::query(&sql).bind(authorization_id).bind(id).bind(key).fetch_one(&self.pool).await?)
    }

    /// Inserts a new item whose sealed content was bound to `record.uid`; returns its id, or
    /// `None` when its identifier is taken (nothing is written then).
    pub async fn insert_info(&self, record: &InfoRecord, now: i64) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO protected_info (uid, identifier, name, info_type, service, url, users_allowed, content, enabled, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(record.uid.as_str())
        .bind(record.identifier.as_str())
        .bind(record.name.as_str())
        .bind(record.info_type.as_str())
        .bind(record.service.as_str())
        .bind(record.url.as_str())
        .bind(record.users_allowed.as_str())
        .bind(record.sealed_content.clone())
        .bind(record.created_by)
        .bind(now)
        .written_optional(&self.writer)
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// Sets an active item's content (sealed to its `uid`) and the fields given, in one
    /// statement over whatever they are now, and answers the item as written: concurrent
    /// upserts of one item apply one after the other, each keeping the fields the others set
    /// and it did not. `None` when the item is no longer active.
    pub async fn update_info(
        &self,
        id: i64,
        uid: &str,
        sealed_content: &[u8],
        fields: &InfoFields<'_>,
        now: i64,
    ) -> StoreResult<Option<InfoRecord>> {
        let row = sqlx::query(
            "UPDATE protected_info SET content = $1, name = COALESCE($2, name), info_type = COALESCE($3, info_type), \
             service = COALESCE($4, service), url = COALESCE($5, url), users_allowed = COALESCE($6, users_allowed), \
             updated_at = $7 WHERE id = $8 AND uid = $9 AND enabled = 1 RETURNING *",
        )
        .bind(sealed_content)
        .bind(fields.name)
        .bind(fields.info_type)
        .bind(fields.service)
        .bind(fields.url)
        .bind(fields.users_allowed)
        .bind(now)
        .bind(id)
        .bind(uid)
        .written_optional(&self.writer)
        .await?;
        row.as_ref().map(record).transpose()
    }

    pub async fn disable_info(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE protected_info SET enabled = 0, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Any item's id by id or identifier, regardless of visibility (for operators linking items).
    pub async fn info_id(&self, key: &str) -> StoreResult<i64> {
        let id = key.parse::<i64>().unwrap_or(-1);
        let row = sqlx::query(
            "SELECT id FROM protected_info WHERE id = $1 OR identifier = $2 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(id)
        .bind(key)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }
}
