//! The most recent reveals and sessions matching the filters, with the facts their risk needs
//! (earlier uses of the same origin IP, reveals in the hour before) counted in SQL.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::dashboards::{AccessEvent, AccessFacts, Filters, QueryEvent, QueryFacts};
use crate::store::{Store, StoreResult};

fn query_event(row: &AnyRow) -> StoreResult<QueryEvent> {
    Ok(QueryEvent {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        application_name: row.try_get::<Option<String>, _>("application_name")?.unwrap_or_default(),
        credential_id: row.try_get("credential_id")?,
        credential_label: row.try_get("credential_label")?,
        hostname: row.try_get("hostname")?,
        facts: QueryFacts {
            at: row.try_get("at")?,
            first_from_ip: row.try_get::<i64, _>("earlier_from_ip")? == 0,
            in_last_hour: row.try_get("in_last_hour")?,
        },
    })
}

fn access_event(row: &AnyRow, now: i64) -> StoreResult<AccessEvent> {
    let started_at: i64 = row.try_get("started_at")?;
    let ended_at: Option<i64> = row.try_get("ended_at")?;
    let end_reason: Option<String> = row.try_get("end_reason")?;
    Ok(AccessEvent {
        id: row.try_get("id")?,
        host: row.try_get("host")?,
        port: row.try_get("port")?,
        protocol: row.try_get("protocol")?,
        credential_label: row.try_get("credential_label")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        ended_at,
        facts: AccessFacts {
            started_at,
            duration: ended_at.unwrap_or(now) - started_at,
            first_from_ip: row.try_get::<i64, _>("earlier_from_ip")? == 0,
            dropped: end_reason.as_deref() == Some("dropped"),
        },
    })
}

impl Store {
    /// Up to `limit` reveals, newest first. Queries have no protocol: that filter is the sessions'.
    pub async fn reveal_events(&self, f: &Filters, limit: i64) -> StoreResult<Vec<QueryEvent>> {
        let (hostname, credential) = f.device.clone().unzip();
        let rows = sqlx::query(
            "SELECT r.id, r.at, r.application_id, a.name AS application_name, r.credential_id, \
             r.credential_label, r.hostname, \
             (SELECT COUNT(*) FROM credential_reveals e WHERE e.application_id = r.application_id \
               AND e.client_ip = r.client_ip AND e.id < r.id) AS earlier_from_ip, \
             (SELECT COUNT(*) FROM credential_reveals b WHERE b.application_id = r.application_id \
               AND b.id <= r.id AND b.at > r.at - 3600) AS in_last_hour \
             FROM credential_reveals r LEFT JOIN applications a ON a.id = r.application_id \
             WHERE ($1 IS NULL OR r.at >= $1) AND ($2 IS NULL OR r.at < $2) \
             AND ($3 IS NULL OR r.hostname = $3) AND ($4 IS NULL OR r.credential_label = $4) \
             AND ($5 IS NULL OR a.name = $5) \
             ORDER BY r.id DESC LIMIT $6",
        )
        .bind(f.since)
        .bind(f.until)
        .bind(hostname)
        .bind(credential)
        .bind(f.username.clone())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(query_event).collect()
    }

    /// Up to `limit` sessions started in the window, newest first.
    pub async fn access_events(&self, f: &Filters, limit: i64, now: i64) -> StoreResult<Vec<AccessEvent>> {
        let (hostname, credential) = f.device.clone().unzip();
        let protocols = f.protocols.clone().unwrap_or_default();
        // One placeholder per protocol kept, after the six fixed ones.
        let kept = if f.protocols.is_some() {
            let marks: Vec<String> = (0..protocols.len()).map(|i| format!("${}", i + 7)).collect();
            if marks.is_empty() {
                " AND 1 = 0".to_owned()
            } else {
                format!(" AND s.protocol IN ({})", marks.join(", "))
            }
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT s.id, s.host, s.port, s.protocol, s.credential_label, s.user_id, s.username, \
             s.started_at, s.ended_at, s.end_reason, \
             (SELECT COUNT(*) FROM remote_sessions e WHERE e.user_id = s.user_id \
               AND e.origin_ip = s.origin_ip AND e.id < s.id) AS earlier_from_ip \
             FROM remote_sessions s \
             WHERE ($1 IS NULL OR s.started_at >= $1) AND ($2 IS NULL OR s.started_at < $2) \
             AND ($3 IS NULL OR s.host = $3) AND ($4 IS NULL OR s.credential_label = $4) \
             AND ($5 IS NULL OR s.username = $5){kept} \
             ORDER BY s.id DESC LIMIT $6"
        );
        let mut query = sqlx::query(&sql)
            .bind(f.since)
            .bind(f.until)
            .bind(hostname)
            .bind(credential)
            .bind(f.username.clone())
            .bind(limit);
        for p in protocols {
            query = query.bind(p);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|row| access_event(row, now)).collect()
    }
}
