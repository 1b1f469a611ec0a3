//! The audit trail: appended in batches, each extending the one chain of the store, read back
//! by `cofre audit tail`, `verify` and `export`.

use futures_util::{Stream, StreamExt};
use sqlx::Row;

use super::{Store, StoreResult};
use crate::domain::audit::{AuditRecord, ChainHead, ChainedRecord};

const COLUMNS: usize = 12;
const RECORD_COLUMNS: &str =
    "at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, outcome, detail";

impl Store {
    /// Appends many records in one transaction, each linked to the one before by `link`
    /// (previous MAC, sequence number, record → MAC). Taking the head row first serialises
    /// every writer of the store, in this process or another, on one chain.
    pub async fn append_audit(
        &self,
        records: &[AuditRecord],
        link: impl Fn(&[u8], i64, &AuditRecord) -> [u8; 32],
    ) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let count = i64::try_from(records.len()).unwrap_or(i64::MAX);
        let mut tx = self.writer.begin().await?;
        let head = sqlx::query("UPDATE audit_chain SET seq = seq + $1 WHERE id = 1 RETURNING seq, mac")
            .bind(count)
            .fetch_one(&mut *tx)
            .await?;
        let last: i64 = head.try_get("seq")?;
        let mut prev: Vec<u8> = head.try_get("mac")?;
        let first = last - count + 1;
        let mut macs = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let mac = link(&prev, first + i as i64, r).to_vec();
            prev.clone_from(&mac);
            macs.push(mac);
        }
        let mut sql = format!("INSERT INTO audit_log ({RECORD_COLUMNS}, seq, mac) VALUES ");
        for i in 0..records.len() {
            let n = i * COLUMNS;
            let params: Vec<String> = (1..=COLUMNS).map(|c| format!("${}", n + c)).collect();
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for (i, (r, mac)) in records.iter().zip(&macs).enumerate() {
            query = query
                .bind(r.at_ms)
                .bind(r.request_id.as_str())
                .bind(r.client_ip.as_str())
                .bind(r.application_id)
                .bind(r.authorization_id)
                .bind(r.method.as_str())
                .bind(r.route.as_str())
                .bind(r.status)
                .bind(r.outcome.as_str())
                .bind(r.detail.as_str())
                .bind(first + i as i64)
                .bind(mac.as_slice());
        }
        query.execute(&mut *tx).await?;
        let at_ms = records.last().map_or(0, |r| r.at_ms);
        sqlx::query("UPDATE audit_chain SET mac = $1, at_ms = $2 WHERE id = 1")
            .bind(prev)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` records, oldest first.
    pub async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query(&format!("SELECT {RECORD_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut records = rows.iter().map(record).collect::<StoreResult<Vec<_>>>()?;
        records.reverse();
        Ok(records)
    }

    /// The chain's head: its last sequence number and MAC.
    pub async fn audit_head(&self) -> StoreResult<ChainHead> {
        let r = sqlx::query("SELECT seq, mac, at_ms FROM audit_chain WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(ChainHead { seq: r.try_get("seq")?, mac: r.try_get("mac")?, at_ms: r.try_get("at_ms")? })
    }

    /// Chained records from `since` on, by sequence number, streamed (never all in memory).
    pub fn chained_audit(&self, since: i64) -> impl Stream<Item = StoreResult<ChainedRecord>> + '_ {
        sqlx::query(
            "SELECT id, seq, mac, at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, \
             outcome, detail FROM audit_log WHERE seq >= $1 ORDER BY seq",
        )
        .bind(since)
        .fetch(&self.pool)
        .map(|row| chained(&row?))
    }

    /// Up to `limit` chained records after `after`, by sequence number.
    pub async fn audit_page(&self, after: i64, limit: i64) -> StoreResult<Vec<ChainedRecord>> {
        let rows = sqlx::query(
            "SELECT id, seq, mac, at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, \
             outcome, detail FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(chained).collect()
    }

    /// How far the sink `name` has been acknowledged (0: nothing yet).
    pub async fn audit_sink_cursor(&self, name: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT seq FROM audit_sink_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("seq")?,
            None => 0,
        })
    }

    /// Moves the sink's cursor forward (never back).
    pub async fn advance_audit_sink_cursor(&self, name: &str, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_sink_cursors (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE \
             SET seq = excluded.seq WHERE audit_sink_cursors.seq < excluded.seq",
        )
        .bind(name)
        .bind(seq)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The MAC stored on record `seq`, if there is one.
    pub async fn audit_mac(&self, seq: i64) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT mac FROM audit_log WHERE seq = $1").bind(seq).fetch_optional(&self.pool).await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<Vec<u8>>, _>("mac")?,
            None => None,
        })
    }

    /// A record with no place in the chain written after the chain began: an insertion.
    pub async fn unchained_audit_after_chain_start(&self) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT id FROM audit_log WHERE seq IS NULL AND id > (SELECT MIN(id) FROM audit_log WHERE seq IS NOT NULL) \
             ORDER BY id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }
}

fn chained(row: &sqlx::any::AnyRow) -> StoreResult<ChainedRecord> {
    Ok(ChainedRecord {
        id: row.try_get("id")?,
        seq: row.try_get("seq")?,
        mac: row.try_get::<Option<Vec<u8>>, _>("mac")?.unwrap_or_default(),
        record: record(row)?,
    })
}

fn record(r: &sqlx::any::AnyRow) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        at_ms: r.try_get("at_ms")?,
        request_id: r.try_get("request_id")?,
        client_ip: r.try_get("client_ip")?,
        application_id: r.try_get("application_id")?,
        authorization_id: r.try_get("authorization_id")?,
        method: r.try_get("method")?,
        route: r.try_get("route")?,
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        detail: r.try_get("detail")?,
    })
}
