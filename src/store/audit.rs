//! The audit trail: appended in batches, each extending the one chain of the store, read back
//! by `cofre audit tail`, `verify` and `export`. A batch deletes the pending audit rows of the
//! requests whose successful records it chains (`writer.rs`); `recovery` chains the rest.

mod recovery;

use futures_util::{Stream, StreamExt};
use sqlx::Row;

use super::{Backend, Store, StoreResult};
use crate::domain::audit::{AuditRecord, ChainHead, ChainedRecord};

const COLUMNS: usize = 12;
const RECORD_COLUMNS: &str =
    "at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, outcome, detail";

impl Store {
    /// Appends many records in one transaction, each linked to the one before by `link`
    /// (previous MAC, sequence number, record → MAC), and makes them durable. Taking the head
    /// row first serialises every writer of the store, in this process or another, on one chain.
    pub async fn append_audit(
        &self,
        records: &[AuditRecord],
        link: impl Fn(&[u8], i64, &AuditRecord) -> Mac,
    ) -> StoreResult<()> {
        self.append_audit_after(&mut None, records, &[], link).await
    }

    /// `append_audit` for a writer that remembers the head it last left (`known`). On
    /// PostgreSQL a batch is then one statement: it moves the head only from where this writer
    /// left it and inserts only if the head moved, so when another process appended in
    /// between nothing is written, the head is read again and the batch relinked (three tries,
    /// then the transaction, which waits its turn). SQLite takes the transaction: its one
    /// writer connection is in process, so its round trips cost nothing. The pending audit rows
    /// of the requests named in `accounted` (those whose records account for their writes) are
    /// deleted in the same statement or transaction.
    ///
    /// Returns once the batch is durable (on SQLite, flushed with every write committed before
    /// it). A durable batch of inserts proves the store takes writes again after a failure.
    pub async fn append_audit_after(
        &self,
        known: &mut Option<(i64, Vec<u8>)>,
        records: &[AuditRecord],
        accounted: &[&str],
        link: impl Fn(&[u8], i64, &AuditRecord) -> Mac,
    ) -> StoreResult<()> {
        let appended = self.append_linked(known, records, accounted, link).await;
        self.noting_write(appended)?;
        self.sync().await?;
        self.writes_proven();
        Ok(())
    }

    async fn append_linked(
        &self,
        known: &mut Option<(i64, Vec<u8>)>,
        records: &[AuditRecord],
        accounted: &[&str],
        link: impl Fn(&[u8], i64, &AuditRecord) -> Mac,
    ) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.backend == Backend::Postgres {
            // One parameter whatever their number, so a batch of `n` is always the same statement.
            let accounted_json = serde_json::to_string(accounted).unwrap_or_else(|_| "[]".into());
            for _ in 0..3 {
                let (seq, mac) = match known.take() {
                    Some(head) => head,
                    None => {
                        let head = self.audit_head().await?;
                        (head.seq, head.mac)
                    }
                };
                let linked = Linked::new(seq, &mac, records, &link);
                let sql = conditional_insert_sql(records.len());
                let query = linked
                    .bind(sqlx::query(&sql), records)
                    .bind(linked.last)
                    .bind(linked.head_mac())
                    .bind(records.last().map_or(0, |r| r.at_ms))
                    .bind(seq)
                    .bind(mac.as_slice())
                    .bind(accounted_json.as_str());
                let moved = query.execute(self.writer.untracked()).await?.rows_affected();
                if moved == records.len() as u64 {
                    *known = Some((linked.last, linked.head_mac()));
                    return Ok(());
                }
            }
        }
        let mut tx = self.writer.untracked().begin().await?;
        let head = sqlx::query("UPDATE audit_chain SET seq = seq + $1 WHERE id = 1 RETURNING seq, mac")
            .bind(i64::try_from(records.len()).unwrap_or(i64::MAX))
            .fetch_one(&mut *tx)
            .await?;
        let last: i64 = head.try_get("seq")?;
        let prev: Vec<u8> = head.try_get("mac")?;
        let linked = Linked::new(last - records.len() as i64, &prev, records, &link);
        let sql = insert_sql(records.len());
        linked.bind(sqlx::query(&sql), records).execute(&mut *tx).await?;
        delete_accounted_writes(&mut tx, accounted).await?;
        sqlx::query("UPDATE audit_chain SET mac = $1, at_ms = $2 WHERE id = 1")
            .bind(linked.head_mac())
            .bind(records.last().map_or(0, |r| r.at_ms))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        *known = Some((linked.last, linked.head_mac()));
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
        .execute(self.writer.untracked())
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

    /// The first row (by id) with no place in the chain: no sequence number, or one before
    /// the chain's first record. Every row of `audit_log` is chained (migration 0020 moved the
    /// records from before the chain out), so any such row was put there behind cofre's back.
    pub async fn first_row_outside_the_chain(&self) -> StoreResult<Option<(i64, Option<i64>)>> {
        let row = sqlx::query("SELECT id, seq FROM audit_log WHERE seq IS NULL OR seq < 1 ORDER BY id LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("id")?, r.try_get("seq")?)),
            None => None,
        })
    }
}

/// Deletes the pending rows of the `accounted` requests.
async fn delete_accounted_writes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    accounted: &[&str],
) -> StoreResult<()> {
    if accounted.is_empty() {
        return Ok(());
    }
    let params: Vec<String> = (1..=accounted.len()).map(|n| format!("${n}")).collect();
    let sql = format!("DELETE FROM pending_audit WHERE request_id IN ({})", params.join(", "));
    let mut query = sqlx::query(&sql);
    for id in accounted {
        query = query.bind(*id);
    }
    query.execute(&mut **tx).await?;
    Ok(())
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

type Mac = [u8; 32];

/// A batch linked after the head `(first - 1, prev)`: each record's sequence number and MAC.
struct Linked {
    first: i64,
    last: i64,
    macs: Vec<Mac>,
}

impl Linked {
    fn new(after: i64, prev: &[u8], records: &[AuditRecord], link: &impl Fn(&[u8], i64, &AuditRecord) -> Mac) -> Self {
        let first = after + 1;
        let mut macs: Vec<Mac> = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let mac = link(macs.last().map_or(prev, |m| m.as_slice()), first + i as i64, r);
            macs.push(mac);
        }
        Self { first, last: first + records.len() as i64 - 1, macs }
    }

    fn head_mac(&self) -> Vec<u8> {
        self.macs.last().map(|m| m.to_vec()).unwrap_or_default()
    }

    fn bind<'q>(&'q self, mut query: AnyQuery<'q>, records: &'q [AuditRecord]) -> AnyQuery<'q> {
        for (i, (r, mac)) in records.iter().zip(&self.macs).enumerate() {
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
                .bind(self.first + i as i64)
                .bind(mac.as_slice());
        }
        query
    }
}

/// `INSERT … VALUES (…), (…)` of `n` records with their places in the chain.
fn insert_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n).map(|i| placeholders(i * COLUMNS, "")).collect();
    format!("INSERT INTO audit_log ({RECORD_COLUMNS}, seq, mac) VALUES {}", rows.join(", "))
}

/// One PostgreSQL statement for `n` records: the head moves from where the writer left it
/// (`seq`, `mac`: the second and third last parameters) to the batch's end, and the records are
/// inserted — and the pending rows of the requests the last parameter names (a JSON array)
/// deleted — only if it did, so a writer holding a stale head writes nothing. The head is
/// taken before any pending row: the order recovery takes them in too.
fn conditional_insert_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n).map(|i| placeholders(i * COLUMNS, CASTS)).collect();
    let p = n * COLUMNS;
    format!(
        "WITH moved AS (UPDATE audit_chain SET seq = ${}, mac = ${}, at_ms = ${} \
         WHERE id = 1 AND seq = ${} AND mac = ${} RETURNING 1), \
         accounted AS (DELETE FROM pending_audit WHERE request_id IN (SELECT json_array_elements_text(${}::json)) \
         AND EXISTS (SELECT 1 FROM moved)) \
         INSERT INTO audit_log ({RECORD_COLUMNS}, seq, mac) \
         SELECT * FROM (VALUES {}) AS batch WHERE EXISTS (SELECT 1 FROM moved)",
        p + 1,
        p + 2,
        p + 3,
        p + 4,
        p + 5,
        p + 6,
        rows.join(", "),
    )
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The casts a `VALUES` list outside an `INSERT … VALUES` needs on PostgreSQL, which cannot
/// infer its parameters' types from the target columns there.
const CASTS: &str = "bigint text text bigint bigint text text bigint text text bigint bytea";

/// `($n+1, $n+2, …)` for one record, each with its cast when `casts` names them.
fn placeholders(offset: usize, casts: &str) -> String {
    let casts: Vec<&str> = casts.split(' ').filter(|c| !c.is_empty()).collect();
    let params: Vec<String> = (1..=COLUMNS)
        .map(|c| match casts.get(c - 1) {
            Some(cast) => format!("${}::{cast}", offset + c),
            None => format!("${}", offset + c),
        })
        .collect();
    format!("({})", params.join(", "))
}
