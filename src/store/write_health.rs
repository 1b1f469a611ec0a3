//! What the store knows about its own writes after one failed as an outage (a full or failing
//! disk, a lost connection): the store counts as failing until a write proves otherwise, and on
//! SQLite the one writer connection is replaced before its next use. A commit that failed may
//! leave that connection inside a transaction SQLite did or did not roll back, or in a state the
//! driver no longer tracks; a fresh connection starts clean, and closing the old one rolls back
//! whatever it still held.
//!
//! A small write succeeding is no proof: with the disk full, SQLite's heartbeat update fits in
//! WAL pages it reuses while every insert fails. Proof is an insert made durable (an audit batch,
//! which every request writes), or, for the readiness probe, a checkpoint that moved the whole
//! WAL into the database: after it, the WAL is free again for new writes.

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Row;

use super::{Backend, Store, StoreError, StoreResult};

#[derive(Default)]
pub(super) struct WriteHealth {
    /// A write failed as an outage and none has proven the store writable since.
    failing: AtomicBool,
    /// The SQLite writer connection is closed at its next acquire, and a new one opened.
    replace_writer: AtomicBool,
}

impl WriteHealth {
    /// For the writer pool's `before_acquire`: false closes the connection.
    pub(super) fn keep_writer_connection(&self) -> bool {
        !self.replace_writer.swap(false, Ordering::SeqCst)
    }

    /// Notes the outcome of a write: an outage marks the store failing and its writer
    /// connection for replacement. Returns the outcome unchanged.
    pub(super) fn noting<T>(&self, outcome: StoreResult<T>) -> StoreResult<T> {
        if let Err(StoreError::Unavailable(cause)) = &outcome {
            if !self.failing.swap(true, Ordering::SeqCst) {
                tracing::error!(error.cause = %cause, "a write failed: the store counts as failing until a write succeeds");
            }
            self.replace_writer.store(true, Ordering::SeqCst);
        }
        outcome
    }
}

impl Store {
    pub(super) fn noting_write<T>(&self, outcome: StoreResult<T>) -> StoreResult<T> {
        self.health.noting(outcome)
    }

    /// An insert was made durable: the store takes writes again.
    pub(super) fn writes_proven(&self) {
        if self.health.failing.swap(false, Ordering::SeqCst) {
            tracing::warn!("the store takes writes again");
        }
    }

    /// Whether a write failed as an outage and none has succeeded since.
    pub fn writes_failing(&self) -> bool {
        self.health.failing.load(Ordering::SeqCst)
    }

    /// For the readiness probe of a failing store: on SQLite, whether a checkpoint moves the
    /// whole WAL into the database (which needs the space the WAL's new pages take there);
    /// PostgreSQL's heartbeat, which already committed, is its own proof.
    pub(super) async fn prove_writable(&self) -> StoreResult<()> {
        if !self.writes_failing() {
            return Ok(());
        }
        if self.backend == Backend::Sqlite {
            let row = self.noting_write(
                sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&self.writer).await.map_err(StoreError::from),
            )?;
            let (busy, log, moved): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if busy != 0 || moved < log {
                return Err(StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(format!(
                    "the WAL could not be moved into the database ({moved} of {log} pages)"
                )))));
            }
        }
        self.writes_proven();
        Ok(())
    }
}
