//! A change of several rows that applies whole or not at all. A service opens one with
//! `Store::begin`, hands it to the store's writes (methods on `Change`), and commits it;
//! dropped without a commit — an error, a cancelled request — it rolls back.

use std::sync::Arc;

use sqlx::Any;

use super::write_health::WriteHealth;
use crate::store::{Store, StoreResult};

pub struct Change(pub(super) sqlx::Transaction<'static, Any>, Arc<WriteHealth>);

impl Store {
    /// Opens a change; `write` names it in the pending audit row a request's change leaves.
    pub async fn begin(&self, write: &str) -> StoreResult<Change> {
        let tx = self.noting_write(self.writer.begin(write).await)?;
        Ok(Change(tx, self.health.clone()))
    }
}

impl Change {
    pub async fn commit(self) -> StoreResult<()> {
        let Change(tx, health) = self;
        health.noting(tx.commit().await.map_err(Into::into))
    }
}
