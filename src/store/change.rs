//! A change of several rows that applies whole or not at all. A service opens one with
//! `Store::begin`, hands it to the store's writes (methods on `Change`), and commits it;
//! dropped without a commit — an error, a cancelled request — it rolls back.
//!
//! A change also serializes writers of the rows it locks (`Change::lock_*`): a read-modify-write
//! that must not lose a concurrent write, nor refuse one, reads its row through the change, locked
//! until the change ends, and every other writer of that row waits — in any process. On
//! PostgreSQL the lock is the row's (`SELECT … FOR UPDATE`); on SQLite a change is a write
//! transaction from its start (`BEGIN IMMEDIATE`), so it excludes every other writer of the file.
//! While it holds its lock a change reads only through itself: waiting for another of the pool's
//! connections while holding one could exhaust the pool.

use std::sync::Arc;

use sqlx::Any;

use super::write_health::WriteHealth;
use crate::store::{Backend, Store, StoreResult};

pub struct Change(pub(super) sqlx::Transaction<'static, Any>, Arc<WriteHealth>, Backend);

impl Store {
    /// Opens a change; `write` names it in the pending audit row a request's change leaves.
    pub async fn begin(&self, write: &str) -> StoreResult<Change> {
        let tx = self.noting_write(self.writer.begin(write).await)?;
        Ok(Change(tx, self.health.clone(), self.backend))
    }
}

impl Change {
    pub async fn commit(self) -> StoreResult<()> {
        let Change(tx, health, _) = self;
        health.noting(tx.commit().await.map_err(Into::into))
    }

    /// What ends a query that reads rows to change them: `FOR UPDATE` on PostgreSQL (a row
    /// lock held until the change ends); nothing on SQLite, whose change already excludes
    /// every other writer.
    pub(super) fn for_update(&self) -> &'static str {
        match self.2 {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }
}
