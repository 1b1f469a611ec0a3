//! The audit trail: appended in batches, read back by `cofre audit tail`.

use sqlx::Row;

use super::{Store, StoreResult};
use crate::domain::audit::AuditRecord;

const COLUMNS: usize = 10;

impl Store {
    /// Appends many records in one statement: one commit for the whole batch.
    pub async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT INTO audit_log (at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, \
             outcome, detail) VALUES ",
        );
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
        for r in records {
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
                .bind(r.detail.as_str());
        }
        // One statement is its own transaction: the batch lands whole, in one round trip.
        query.execute(&self.writer).await?;
        Ok(())
    }

    /// The newest `limit` records, oldest first.
    pub async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, outcome, detail \
             FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut records = rows
            .iter()
            .map(|r| {
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
            })
            .collect::<StoreResult<Vec<_>>>()?;
        records.reverse();
        Ok(records)
    }
}
