//! A change of several rows that applies whole or not at all. A service opens one with
//! `Store::begin`, hands it to the store's writes (methods on `Change`), and commits it;
//! dropped without a commit — an error, a cancelled request — it rolls back.

use sqlx::Any;

use crate::store::{Store, StoreResult};

pub struct Change(pub(super) sqlx::Transaction<'static, Any>);

impl Store {
    /// Opens a change; `write` names it in the pending audit row a request's change leaves.
    pub async fn begin(&self, write: &str) -> StoreResult<Change> {
        Ok(Change(self.writer.begin(write).await?))
    }
}

impl Change {
    pub async fn commit(self) -> StoreResult<()> {
        self.0.commit().await?;
        Ok(())
    }
}
