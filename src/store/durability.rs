//! Group commit for SQLite. Its connections commit with `synchronous = NORMAL`: a commit is
//! written to the WAL but not yet flushed to disk. Whoever must know its writes are durable
//! (the audit writer, before any request is answered; the store before it closes) calls
//! [`Store::sync`], and one fsync of the WAL file covers every commit made before it started,
//! so concurrent writers share flushes instead of taking one each under SQLite's write lock.
//! An acknowledged write is as durable as with `synchronous = FULL`; SQLite's own checkpoints
//! still flush the WAL before copying it into the database.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Store, StoreError, StoreResult};

pub(super) struct WalSync {
    wal: PathBuf,
    /// Tickets taken by callers, each after its commits returned.
    requested: AtomicU64,
    /// Every ticket up to this one is covered by a finished fsync.
    synced: AtomicU64,
    /// One fsync at a time; callers queued behind it usually find themselves covered.
    flushing: tokio::sync::Mutex<()>,
}

impl WalSync {
    /// For the SQLite database file at `path`.
    pub(super) fn for_database(path: &str) -> Self {
        Self {
            wal: PathBuf::from(format!("{path}-wal")),
            requested: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    async fn sync(&self) -> std::io::Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _one_at_a_time = self.flushing.lock().await;
        if self.synced.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every ticket taken so far belongs to commits that have returned: this flush covers them.
        let covered = self.requested.load(Ordering::SeqCst);
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || flush(&wal)).await.map_err(std::io::Error::other)??;
        self.synced.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }
}

/// Opened afresh each time: SQLite deletes the WAL when its last connection closes (after a
/// checkpoint that flushed the database) and makes a new file for the next one.
fn flush(wal: &std::path::Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new().read(true).open(wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl Store {
    /// Returns once every write this process committed before the call is on disk. Free on
    /// PostgreSQL, where a commit is already durable.
    pub async fn sync(&self) -> StoreResult<()> {
        let flushed = match &self.wal {
            Some(wal) => wal.sync().await.map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e))),
            None => Ok(()),
        };
        self.noting_write(flushed)
    }
}
