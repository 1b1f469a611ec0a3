//! Session tickets: stored by the hash of their token, redeemed by one atomic statement.

use sqlx::Row;

use super::{port_column, protocol_column};
use crate::domain::sessions::{NewTicket, Protocol, RedeemedTicket};
use crate::store::written::Written;
use crate::store::{Store, StoreResult};

/// Why a ticket could not be redeemed, found after the atomic redemption refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Reused,
    Expired,
    WrongAddress,
    /// The ticket's user was disabled or deleted since the ticket was made.
    UserInactive,
    /// A web ticket offered to the SSH gateway (it is left unused).
    WrongProtocol,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown ticket",
            Self::Reused => "ticket already used",
            Self::Expired => "ticket expired",
            Self::WrongAddress => "ticket bound to another address",
            Self::UserInactive => "the ticket's user is no longer active",
            Self::WrongProtocol => "ticket for another protocol",
        }
    }
}

impl Store {
    pub async fn insert_session_ticket(&self, t: &NewTicket, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_tickets (token_hash, authorization_id, application_id, user_id, credential_id, \
             device_id, protocol, host, port, remote_addr, screensize, expires_at, created_at, address) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(t.token_hash.as_slice())
        .bind(t.authorization_id)
        .bind(t.application_id)
        .bind(t.user_id)
        .bind(t.credential_id)
        .bind(t.device_id)
        .bind(t.protocol.as_str())
        .bind(t.host.as_str())
        .bind(i64::from(t.port))
        .bind(t.remote_addr.as_deref())
        .bind(t.screensize.as_str())
        .bind(t.expires_at)
        .bind(now)
        .bind(t.address.as_str())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Consumes the ticket in one statement, so of any number of concurrent redemptions, on one
    /// process or several, exactly one gets a row back. With `protocol`, only a ticket for it.
    pub async fn redeem_session_ticket(
        &self,
        token_hash: &[u8],
        client_ip: &str,
        protocol: Option<Protocol>,
        now: i64,
    ) -> StoreResult<Option<RedeemedTicket>> {
        let row = sqlx::query(
            "UPDATE session_tickets SET consumed_at = $2 \
             WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
             AND (remote_addr IS NULL OR remote_addr = $3) AND ($4 IS NULL OR protocol = $4) \
             RETURNING token_hash, authorization_id, application_id, user_id, credential_id, device_id, protocol, host, \
             address, port, screensize",
        )
        .bind(token_hash)
        .bind(now)
        .bind(client_ip)
        .bind(protocol.map(Protocol::as_str))
        .written_optional(&self.writer)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(RedeemedTicket {
            token_hash: row.try_get("token_hash")?,
            authorization_id: row.try_get("authorization_id")?,
            application_id: row.try_get("application_id")?,
            user_id: row.try_get("user_id")?,
            credential_id: row.try_get("credential_id")?,
            device_id: row.try_get("device_id")?,
            protocol: protocol_column(&row)?,
            host: row.try_get("host")?,
            address: row.try_get("address")?,
            port: port_column(&row)?,
            screensize: row.try_get("screensize")?,
        }))
    }

    /// Why a redemption was refused, for the audit trail (read after the refusal).
    pub async fn ticket_refusal(
        &self,
        token_hash: &[u8],
        client_ip: &str,
        protocol: Option<Protocol>,
        now: i64,
    ) -> StoreResult<Refused> {
        let row = sqlx::query(
            "SELECT consumed_at, expires_at, remote_addr, protocol FROM session_tickets WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(Refused::Unknown) };
        let consumed: Option<i64> = row.try_get("consumed_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let remote: Option<String> = row.try_get("remote_addr")?;
        let stored = protocol_column(&row)?;
        Ok(if consumed.is_some() {
            Refused::Reused
        } else if expires_at <= now {
            Refused::Expired
        } else if remote.is_some_and(|r| r != client_ip) {
            Refused::WrongAddress
        } else if protocol.is_some_and(|p| p != stored) {
            Refused::WrongProtocol
        } else {
            Refused::Unknown
        })
    }

    /// Tickets that expired unredeemed; a redeemed one stays, named by its session row.
    pub async fn purge_session_tickets(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM session_tickets WHERE consumed_at IS NULL AND expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    /// An active user's id and login, by login.
    pub async fn active_user(&self, username: &str) -> StoreResult<Option<(i64, String)>> {
        let row =
            sqlx::query("SELECT id, username FROM users WHERE username = $1 AND enabled = 1 AND deleted_at IS NULL")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("username")?))).transpose()
    }
}

impl Store {
    /// A user's login by id (deleted or not: a session row keeps the name it was opened with).
    /// The login of a user who may still open sessions (enabled, not deleted).
    pub async fn active_user_login(&self, id: i64) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT username FROM users WHERE id = $1 AND enabled = 1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("username")?)).transpose()
    }
}
