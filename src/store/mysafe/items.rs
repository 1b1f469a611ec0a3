//! MySafe items, their shares and file chunks. What a user may do with an item is computed in
//! the same query that reads it, from ownership, user shares and current group membership.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::mysafe::ItemAccess;
use crate::store::change::Change;
use crate::store::{Store, StoreError, StoreResult, exactly_one, flag};

#[derive(Clone, Debug)]
pub struct ItemRow {
    pub id: i64,
    pub uid: String,
    pub kind: String,
    pub owner_id: i64,
    pub name: String,
    pub url: String,
    pub username: String,
    pub identifier_code: Option<String>,
    pub method: String,
    pub tags: String,
    pub secret: Vec<u8>,
    pub content_type: String,
    pub file_size: i64,
    pub enabled: bool,
    /// Bumped on every change; a write applies only to the revision it was based on.
    pub revision: i64,
}

/// One share as stored: `user` or `group`, the principal's name, and whether it may edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    pub principal_kind: String,
    pub name: String,
    pub can_edit: bool,
}

/// Shares to write: (`user`|`group`, principal id, can_edit).
pub type ShareRows = Vec<(&'static str, i64, bool)>;

const WITH_ACCESS: &str = "SELECT i.*, (SELECT MAX(s.can_edit) FROM mysafe_shares s WHERE s.item_id = i.id AND \
     ((s.principal_kind = 'user' AND s.principal_id = $1) OR (s.principal_kind = 'group' AND s.principal_id IN \
     (SELECT m.group_id FROM group_members m WHERE m.user_id = $1)))) AS share_edit FROM mysafe_items i";

fn item(row: &AnyRow) -> StoreResult<ItemRow> {
    Ok(ItemRow {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        kind: row.try_get("kind")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        username: row.try_get("username")?,
        identifier_code: row.try_get("identifier_code")?,
        method: row.try_get("method")?,
        tags: row.try_get("tags")?,
        secret: row.try_get("secret")?,
        content_type: row.try_get("content_type")?,
        file_size: row.try_get("file_size")?,
        enabled: flag(row, "enabled")?,
        revision: row.try_get("revision")?,
    })
}

fn with_access(row: &AnyRow, user_id: i64) -> StoreResult<(ItemRow, ItemAccess)> {
    let item = item(row)?;
    let share: Option<i64> = row.try_get("share_edit")?;
    let access = if item.owner_id == user_id {
        ItemAccess::Owner
    } else {
        match share {
            Some(1) => ItemAccess::Edit,
            Some(_) => ItemAccess::View,
            None => ItemAccess::None,
        }
    };
    Ok((item, access))
}

impl Store {
    /// Inserts an item with its shares and file chunks, in one transaction.
    pub async fn insert_mysafe_item(
        &self,
        i: &ItemRow,
        shares: &ShareRows,
        chunks: &[Vec<u8>],
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.writer.begin("insert_mysafe_item").await?;
        let id: i64 = sqlx::query(
            "INSERT INTO mysafe_items (uid, kind, owner_id, name, url, username, identifier_code, method, tags, secret, \
             content_type, file_size, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13) RETURNING id",
        )
        .bind(i.uid.as_str())
        .bind(i.kind.as_str())
        .bind(i.owner_id)
        .bind(i.name.as_str())
        .bind(i.url.as_str())
        .bind(i.username.as_str())
        .bind(i.identifier_code.as_deref())
        .bind(i.method.as_str())
        .bind(i.tags.as_str())
        .bind(i.secret.clone())
        .bind(i.content_type.as_str())
        .bind(i.file_size)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (kind, principal, can_edit) in shares {
            insert_share(&mut tx, id, kind, *principal, *can_edit).await?;
        }
        for (seq, data) in chunks.iter().enumerate() {
            sqlx::query("INSERT INTO mysafe_file_chunks (item_id, seq, data) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .bind(data.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// One item of `kind` with the user's access to it.
    pub async fn mysafe_item(&self, user_id: i64, kind: &str, id: i64) -> StoreResult<(ItemRow, ItemAccess)> {
        let sql = format!("{WITH_ACCESS} WHERE i.id = $2 AND i.kind = $3");
        with_access(&sqlx::query(&sql).bind(user_id).bind(id).bind(kind).fetch_one(&self.pool).await?, user_id)
    }

    /// The items of `kind` the user owns (active or not) or is shared (active only).
    pub async fn mysafe_items(&self, user_id: i64, kind: &str) -> StoreResult<Vec<(ItemRow, ItemAccess)>> {
        let sql = format!(
            "SELECT * FROM ({WITH_ACCESS} WHERE i.kind = $2) v WHERE v.owner_id = $1 OR (v.enabled = 1 AND v.share_edit IS NOT NULL) ORDER BY v.id"
        );
        let rows = sqlx::query(&sql).bind(user_id).bind(kind).fetch_all(&self.pool).await?;
        rows.iter().map(|r| with_access(r, user_id)).collect()
    }

    pub async fn mysafe_shares(&self, item_id: i64) -> StoreResult<Vec<Share>> {
        let rows = sqlx::query(
            "SELECT s.principal_kind, COALESCE(u.username, g.name) AS name, s.can_edit FROM mysafe_shares s \
             LEFT JOIN users u ON s.principal_kind = 'user' AND u.id = s.principal_id \
             LEFT JOIN groups g ON s.principal_kind = 'group' AND g.id = s.principal_id \
             WHERE s.item_id = $1 ORDER BY s.principal_kind, name",
        )
        .bind(item_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Share {
                    principal_kind: r.try_get("principal_kind")?,
                    name: r.try_get("name")?,
                    can_edit: flag(r, "can_edit")?,
                })
            })
            .collect()
    }

    pub async fn set_mysafe_enabled(&self, id: i64, enabled: bool, now: i64) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE mysafe_items SET enabled = $1, updated_at = $2, revision = revision + 1 WHERE id = $3")
                .bind(i64::from(enabled))
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await?;
        exactly_one(&done)
    }

    /// The number of chunks of the item's file as of `revision`; `Stale` if the item changed
    /// since (its content may have been replaced).
    pub async fn mysafe_file_chunk_count(&self, item_id: i64, revision: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT i.revision, (SELECT COUNT(*) FROM mysafe_file_chunks c WHERE c.item_id = i.id) AS n \
             FROM mysafe_items i WHERE i.id = $1",
        )
        .bind(item_id)
        .fetch_one(&self.pool)
        .await?;
        if row.try_get::<i64, _>("revision")? != revision {
            return Err(StoreError::Stale);
        }
        Ok(row.try_get("n")?)
    }

    /// One sealed chunk of the item's file as of `revision`: one statement, so it is the chunk of
    /// that version or `Stale`, never a chunk of a newer content. `NotFound` when it is missing.
    pub async fn mysafe_file_chunk(&self, item_id: i64, revision: i64, seq: i64) -> StoreResult<Vec<u8>> {
        let row = sqlx::query(
            "SELECT i.revision, c.data FROM mysafe_items i \
             LEFT JOIN mysafe_file_chunks c ON c.item_id = i.id AND c.seq = $2 WHERE i.id = $1",
        )
        .bind(item_id)
        .bind(seq)
        .fetch_one(&self.pool)
        .await?;
        if row.try_get::<i64, _>("revision")? != revision {
            return Err(StoreError::Stale);
        }
        row.try_get::<Option<Vec<u8>>, _>("data")?.ok_or(StoreError::NotFound)
    }

    pub async fn group_id(&self, name: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT id FROM groups WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
        Ok(row.try_get("id")?)
    }
}

impl Change {
    /// The item as it is now, locked against every other writer until the change ends.
    pub async fn lock_mysafe_item(&mut self, id: i64) -> StoreResult<ItemRow> {
        let sql = format!("SELECT * FROM mysafe_items WHERE id = $1{}", self.for_update());
        item(&sqlx::query(&sql).bind(id).fetch_one(&mut *self.0).await?)
    }

    /// Rewrites an item; `shares` of `Some` kind replace that kind's shares; `chunks`, when given,
    /// replace the file content. The write applies only over the revision read (else `Stale`,
    /// which an item read with `lock_mysafe_item` in this change never is).
    pub async fn update_mysafe_item(
        &mut self,
        i: &ItemRow,
        users: Option<&ShareRows>,
        groups: Option<&ShareRows>,
        chunks: Option<&[Vec<u8>]>,
        now: i64,
    ) -> StoreResult<()> {
        let tx = &mut self.0;
        let done = sqlx::query(
            "UPDATE mysafe_items SET name = $1, url = $2, username = $3, identifier_code = $4, method = $5, tags = $6, \
             secret = $7, content_type = $8, file_size = $9, updated_at = $10, revision = revision + 1 \
             WHERE id = $11 AND revision = $12",
        )
        .bind(i.name.as_str())
        .bind(i.url.as_str())
        .bind(i.username.as_str())
        .bind(i.identifier_code.as_deref())
        .bind(i.method.as_str())
        .bind(i.tags.as_str())
        .bind(i.secret.clone())
        .bind(i.content_type.as_str())
        .bind(i.file_size)
        .bind(now)
        .bind(i.id)
        .bind(i.revision)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        for (kind, rows) in [("user", users), ("group", groups)] {
            if let Some(rows) = rows {
                sqlx::query("DELETE FROM mysafe_shares WHERE item_id = $1 AND principal_kind = $2")
                    .bind(i.id)
                    .bind(kind)
                    .execute(&mut **tx)
                    .await?;
                for (k, principal, can_edit) in rows {
                    insert_share(tx, i.id, k, *principal, *can_edit).await?;
                }
            }
        }
        if let Some(chunks) = chunks {
            sqlx::query("DELETE FROM mysafe_file_chunks WHERE item_id = $1").bind(i.id).execute(&mut **tx).await?;
            for (seq, data) in chunks.iter().enumerate() {
                sqlx::query("INSERT INTO mysafe_file_chunks (item_id, seq, data) VALUES ($1, $2, $3)")
                    .bind(i.id)
                    .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                    .bind(data.clone())
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }
}

async fn insert_share(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    item: i64,
    kind: &str,
    principal: i64,
    can_edit: bool,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO mysafe_shares (item_id, principal_kind, principal_id, can_edit) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (item_id, principal_kind, principal_id) DO UPDATE SET can_edit = $4",
    )
    .bind(item)
    .bind(kind)
    .bind(principal)
    .bind(i64::from(can_edit))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
