//! Remote sessions: tickets, session rows and their sealed request records.

pub mod host_keys;
pub mod recordings;
pub mod records;
pub mod tickets;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::sessions::Protocol;
use crate::store::StoreResult;

/// A stored protocol name; anything else means the row was not written by cofre.
fn protocol_column(row: &AnyRow) -> StoreResult<Protocol> {
    let name: String = row.try_get("protocol")?;
    Protocol::parse(&name)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown session protocol {name:?}").into()).into())
}

fn port_column(row: &AnyRow) -> StoreResult<u16> {
    let port: i64 = row.try_get("port")?;
    u16::try_from(port).map_err(|e| sqlx::Error::Decode(Box::new(e)).into())
}
