//! Recovery of pending audit rows no successful record accounted for: chained as records of
//! their own, and deleted, in one transaction.

use sqlx::Row;

use super::{Linked, Mac, insert_sql};
use crate::domain::audit::AuditRecord;
use crate::domain::audit::request::PendingWrite;
use crate::store::writer::PENDING_COLUMNS;
use crate::store::{Store, StoreResult};

/// Pending rows taken by one pass at most.
const PASS_LIMIT: i64 = 256;

impl Store {
    /// Chains the pending rows made before `before_ms`, one record per request
    /// (`AuditRecord::recovered`), skipping the requests `held` says this process still has a
    /// record of to write. The rows are deleted in the transaction that appends their records,
    /// after the chain's head is taken (the order a batch takes them in), so though several
    /// processes recover at once, each row is chained once. Returns how many records it chained.
    pub async fn recover_pending_audit(
        &self,
        before_ms: i64,
        now_ms: i64,
        held: impl Fn(&str) -> bool,
        link: impl Fn(&[u8], i64, &AuditRecord) -> Mac,
    ) -> StoreResult<usize> {
        // A read first: a pass with nothing to recover costs one query.
        let candidates =
            sqlx::query("SELECT key, request_id FROM pending_audit WHERE at_ms < $1 ORDER BY at_ms LIMIT $2")
                .bind(before_ms)
                .bind(PASS_LIMIT)
                .fetch_all(&self.pool)
                .await?;
        let mut chosen: Vec<(String, String)> = Vec::with_capacity(candidates.len());
        for row in &candidates {
            let request_id: String = row.try_get("request_id")?;
            if !held(&request_id) {
                chosen.push((request_id, row.try_get("key")?));
            }
        }
        if chosen.is_empty() {
            return Ok(0);
        }

        let mut tx = self.writer.untracked().begin().await?;
        let head =
            sqlx::query("UPDATE audit_chain SET seq = seq WHERE id = 1 RETURNING seq, mac").fetch_one(&mut *tx).await?;
        let (seq, mac): (i64, Vec<u8>) = (head.try_get("seq")?, head.try_get("mac")?);
        // By request (the table's key leads with it), then by key.
        let requests: Vec<String> = (1..=chosen.len()).map(|n| format!("${n}")).collect();
        let keys: Vec<String> = (chosen.len() + 1..=2 * chosen.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "DELETE FROM pending_audit WHERE request_id IN ({}) AND key IN ({}) RETURNING {PENDING_COLUMNS}",
            requests.join(", "),
            keys.join(", ")
        );
        let mut claim = sqlx::query(&sql);
        for (request_id, _) in &chosen {
            claim = claim.bind(request_id.as_str());
        }
        for (_, key) in &chosen {
            claim = claim.bind(key.as_str());
        }
        // Rows a batch or another process took meanwhile are not returned.
        let claimed = claim.fetch_all(&mut *tx).await?.iter().map(pending_write).collect::<StoreResult<Vec<_>>>()?;
        let records = by_request(claimed);
        if records.is_empty() {
            return Ok(0);
        }
        let linked = Linked::new(seq, &mac, &records, &link);
        linked.bind(sqlx::query(&insert_sql(records.len())), &records).execute(&mut *tx).await?;
        sqlx::query("UPDATE audit_chain SET seq = $1, mac = $2, at_ms = $3 WHERE id = 1")
            .bind(linked.last)
            .bind(linked.head_mac())
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(records.len())
    }
}

/// One record per request, in the order of their first writes.
fn by_request(mut writes: Vec<PendingWrite>) -> Vec<AuditRecord> {
    writes.sort_by(|a, b| (a.at_ms, &a.key).cmp(&(b.at_ms, &b.key)));
    let mut requests: Vec<Vec<PendingWrite>> = Vec::new();
    for write in writes {
        match requests.iter_mut().find(|r| r[0].request_id == write.request_id) {
            Some(request) => request.push(write),
            None => requests.push(vec![write]),
        }
    }
    requests.iter().filter_map(|writes| AuditRecord::recovered(writes)).collect()
}

fn pending_write(row: &sqlx::any::AnyRow) -> StoreResult<PendingWrite> {
    Ok(PendingWrite {
        key: row.try_get("key")?,
        request_id: row.try_get("request_id")?,
        at_ms: row.try_get("at_ms")?,
        client_ip: row.try_get("client_ip")?,
        application_id: row.try_get("application_id")?,
        authorization_id: row.try_get("authorization_id")?,
        method: row.try_get("method")?,
        route: row.try_get("route")?,
        write: row.try_get("write")?,
        detail: row.try_get("detail")?,
    })
}
