//! Session rows: opened by a redemption, entered by the proxy, held by a cookie, ended once;
//! and the sealed record of each proxied request.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{port_column, protocol_column};
use crate::domain::sessions::{EndReason, Protocol, RemoteSession};
use crate::store::written::Written;
use crate::store::{Store, StoreResult, flag};

/// A session row to insert when a ticket is redeemed (not yet entered).
pub struct NewSessionRow<'a> {
    pub session_id: &'a str,
    pub ticket_hash: &'a [u8],
    pub authorization_id: i64,
    pub application_id: i64,
    pub user_id: i64,
    pub username: &'a str,
    pub origin_ip: &'a str,
    pub credential_id: i64,
    pub credential_label: &'a str,
    pub device_id: i64,
    pub device_label: &'a str,
    pub host: &'a str,
    pub address: Option<&'a str>,
    pub port: u16,
    pub protocol: Protocol,
    pub screensize: &'a str,
    pub entry_code_hash: &'a [u8],
    pub entry_expires_at: i64,
}

/// A session that was ended, with whom it belonged to (for the audit trail).
pub struct Ended {
    pub session_id: String,
    pub application_id: i64,
    pub authorization_id: i64,
}

fn session(row: &AnyRow) -> StoreResult<RemoteSession> {
    Ok(RemoteSession {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        authorization_id: row.try_get("authorization_id")?,
        application_id: row.try_get("application_id")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        origin_ip: row.try_get("origin_ip")?,
        credential_id: row.try_get("credential_id")?,
        credential_label: row.try_get("credential_label")?,
        device_id: row.try_get("device_id")?,
        device_label: row.try_get("device_label")?,
        host: row.try_get("host")?,
        address: row.try_get("address")?,
        port: port_column(row)?,
        protocol: protocol_column(row)?,
        screensize: row.try_get("screensize")?,
        owner: row.try_get("owner")?,
        owner_seen_at: row.try_get("owner_seen_at")?,
        started_at: row.try_get("started_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        ended_at: row.try_get("ended_at")?,
        end_reason: row.try_get("end_reason")?,
        failure: row.try_get("failure")?,
        drop_requested: flag(row, "drop_requested")?,
    })
}

fn ended(row: &AnyRow) -> StoreResult<Ended> {
    Ok(Ended {
        session_id: row.try_get("session_id")?,
        application_id: row.try_get("application_id")?,
        authorization_id: row.try_get("authorization_id")?,
    })
}

const ENDED_COLUMNS: &str = "RETURNING session_id, application_id, authorization_id";

impl Store {
    pub async fn insert_remote_session(&self, s: &NewSessionRow<'_>, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO remote_sessions (session_id, ticket_hash, authorization_id, application_id, user_id, \
             username, origin_ip, credential_id, credential_label, device_label, host, port, protocol, screensize, \
             entry_code_hash, entry_expires_at, started_at, last_seen_at, device_id, address) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19) \
             RETURNING id",
        )
        .bind(s.session_id)
        .bind(s.ticket_hash)
        .bind(s.authorization_id)
        .bind(s.application_id)
        .bind(s.user_id)
        .bind(s.username)
        .bind(s.origin_ip)
        .bind(s.credential_id)
        .bind(s.credential_label)
        .bind(s.device_label)
        .bind(s.host)
        .bind(i64::from(s.port))
        .bind(s.protocol.as_str())
        .bind(s.screensize)
        .bind(s.entry_code_hash)
        .bind(s.entry_expires_at)
        .bind(now)
        .bind(s.device_id)
        .bind(s.address)
        .written_one(&self.writer)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Consumes an entry code in one statement and gives the session to `owner` under a cookie.
    pub async fn enter_remote_session(
        &self,
        code_hash: &[u8],
        session_id: &str,
        client_ip: &str,
        cookie_hash: &[u8],
        owner: &str,
        now: i64,
    ) -> StoreResult<Option<RemoteSession>> {
        let row = sqlx::query(
            "UPDATE remote_sessions SET entry_code_hash = NULL, cookie_hash = $3, owner = $4, owner_seen_at = $5, \
             last_seen_at = $5 \
             WHERE entry_code_hash = $1 AND origin_ip = $2 AND entry_expires_at > $5 AND session_id = $6 \
             AND ended_at IS NULL AND drop_requested = 0 RETURNING *",
        )
        .bind(code_hash)
        .bind(client_ip)
        .bind(cookie_hash)
        .bind(owner)
        .bind(now)
        .bind(session_id)
        .written_optional(&self.writer)
        .await?;
        row.as_ref().map(session).transpose()
    }

    pub async fn remote_session_by_cookie(&self, cookie_hash: &[u8]) -> StoreResult<Option<RemoteSession>> {
        let row = sqlx::query("SELECT * FROM remote_sessions WHERE cookie_hash = $1")
            .bind(cookie_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session).transpose()
    }

    pub async fn remote_session(&self, id: i64) -> StoreResult<Option<RemoteSession>> {
        let row =
            sqlx::query("SELECT * FROM remote_sessions WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(session).transpose()
    }

    pub async fn remote_session_by_session_id(&self, session_id: &str) -> StoreResult<Option<RemoteSession>> {
        let row = sqlx::query("SELECT * FROM remote_sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session).transpose()
    }

    /// Every session, or those opened through one application's tickets; newest first.
    pub async fn remote_sessions(&self, application_id: Option<i64>) -> StoreResult<Vec<RemoteSession>> {
        sqlx::query("SELECT * FROM remote_sessions WHERE ($1 IS NULL OR application_id = $1) ORDER BY id DESC")
            .bind(application_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(session)
            .collect()
    }

    /// Records user activity, at most once per `every` seconds.
    pub async fn touch_remote_session(&self, id: i64, now: i64, every: i64) -> StoreResult<()> {
        sqlx::query("UPDATE remote_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at <= $3")
            .bind(id)
            .bind(now)
            .bind(now - every)
            .execute(self.writer.untracked())
            .await?;
        Ok(())
    }

    /// Ends an open session, with why it failed when it did; `None` when it was not open
    /// (unknown, or already ended): one statement, so a session ends once however many try.
    pub async fn end_remote_session(
        &self,
        session_id: &str,
        reason: EndReason,
        failure: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<Ended>> {
        let sql = format!(
            "UPDATE remote_sessions SET ended_at = $2, end_reason = $3, failure = $4, entry_code_hash = NULL \
             WHERE session_id = $1 AND ended_at IS NULL {ENDED_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(session_id)
            .bind(now)
            .bind(reason.as_str())
            .bind(failure)
            .written_optional(&self.writer)
            .await?;
        row.as_ref().map(ended).transpose()
    }

    /// Marks an open session to be dropped by whichever process holds it: `None` when it was not
    /// open or a drop was already accepted. The mark is the drop: one statement, so of any number
    /// of concurrent drops exactly one gets the row, and a session whose holder has not yet
    /// ended it counts as ended for every later drop.
    pub async fn request_session_drop(&self, session_id: &str) -> StoreResult<Option<RemoteSession>> {
        let row = sqlx::query(
            "UPDATE remote_sessions SET drop_requested = 1 \
             WHERE session_id = $1 AND ended_at IS NULL AND drop_requested = 0 RETURNING *",
        )
        .bind(session_id)
        .written_optional(&self.writer)
        .await?;
        row.as_ref().map(session).transpose()
    }

    /// Open sessions `owner` holds that an operator asked to drop.
    pub async fn session_drops_for(&self, owner: &str) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT session_id FROM remote_sessions WHERE owner = $1 AND drop_requested = 1 AND ended_at IS NULL",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("session_id")?)).collect()
    }

    /// The holder's heartbeat on its open sessions: it is alive.
    /// Written at most once per `every` seconds per session.
    pub async fn heartbeat_sessions(&self, owner: &str, now: i64, every: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE remote_sessions SET owner_seen_at = $2 WHERE owner = $1 AND ended_at IS NULL AND owner_seen_at <= $3",
        )
        .bind(owner)
        .bind(now)
        .bind(now - every)
            .execute(self.writer.untracked())
            .await?;
        Ok(())
    }

    /// Ends open sessions whose holder's heartbeat stopped before `silent_since` (interrupted),
    /// and those never entered whose entry code has expired.
    pub async fn end_abandoned_sessions(&self, silent_since: i64, now: i64) -> StoreResult<(Vec<Ended>, Vec<Ended>)> {
        let interrupted = format!(
            "UPDATE remote_sessions SET ended_at = $2, end_reason = $3 \
             WHERE ended_at IS NULL AND owner IS NOT NULL AND owner_seen_at < $1 {ENDED_COLUMNS}"
        );
        let interrupted = sqlx::query(&interrupted)
            .bind(silent_since)
            .bind(now)
            .bind(EndReason::Interrupted.as_str())
            .fetch_all(&self.writer)
            .await?;
        let never_entered = format!(
            "UPDATE remote_sessions SET ended_at = $1, end_reason = $2, entry_code_hash = NULL \
             WHERE ended_at IS NULL AND owner IS NULL AND entry_expires_at <= $1 {ENDED_COLUMNS}"
        );
        let never_entered =
            sqlx::query(&never_entered).bind(now).bind(EndReason::Expired.as_str()).fetch_all(&self.writer).await?;
        Ok((
            interrupted.iter().map(ended).collect::<StoreResult<_>>()?,
            never_entered.iter().map(ended).collect::<StoreResult<_>>()?,
        ))
    }

    /// Ends entered sessions idle since before `idle_before` or started before `started_before`.
    pub async fn end_overdue_sessions(
        &self,
        idle_before: i64,
        started_before: i64,
        now: i64,
    ) -> StoreResult<Vec<Ended>> {
        let sql = format!(
            "UPDATE remote_sessions SET ended_at = $3, end_reason = $4 WHERE ended_at IS NULL AND owner IS NOT NULL \
             AND (last_seen_at < $1 OR started_at < $2) {ENDED_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(idle_before)
            .bind(started_before)
            .bind(now)
            .bind(EndReason::Expired.as_str())
            .fetch_all(&self.writer)
            .await?;
        rows.iter().map(ended).collect()
    }

    /// Deletes proxied-request records made before `before_ms`.
    pub async fn purge_session_requests(&self, before_ms: i64) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM session_requests WHERE at_ms < $1").bind(before_ms).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }

    pub async fn insert_session_request(&self, session: i64, uid: &str, at_ms: i64, sealed: &[u8]) -> StoreResult<()> {
        sqlx::query("INSERT INTO session_requests (uid, session, at_ms, record) VALUES ($1, $2, $3, $4)")
            .bind(uid)
            .bind(session)
            .bind(at_ms)
            .bind(sealed)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A session's request records, oldest first: (uid, at_ms, sealed record).
    pub async fn session_requests(&self, session: i64) -> StoreResult<Vec<(String, i64, Vec<u8>)>> {
        let rows = sqlx::query("SELECT uid, at_ms, record FROM session_requests WHERE session = $1 ORDER BY id")
            .bind(session)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("uid")?, r.try_get("at_ms")?, r.try_get("record")?))).collect()
    }
}
