//! The audit pipeline: requests hand their record to one writer task through a bounded queue and
//! wait until it is durable. The writer commits whatever has queued up in one transaction,
//! linked into the store's audit chain (see `integrity::chain`), and flushes it (`Store::sync`,
//! which also makes durable every write the requests committed before their records), so under load batches grow instead of requests queueing behind one
//! another's commits. If the store cannot take the batch, every waiting request is told, and
//! answers 503: nothing is served unaudited.

use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::domain::audit::AuditRecord;
use crate::service::integrity::chain::ChainKey;
use crate::store::Store;

const QUEUE_DEPTH: usize = 4096;
const MAX_BATCH: usize = 256;

struct Pending {
    record: AuditRecord,
    done: oneshot::Sender<bool>,
}

pub struct AuditSink {
    queue: mpsc::Sender<Pending>,
    writer: Mutex<Option<(JoinHandle<()>, oneshot::Sender<()>)>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the audit record could not be made durable")]
pub struct AuditUnavailable;

/// Why a request's audit record is not durable by its deadline.
#[derive(Debug, PartialEq, Eq)]
pub enum AuditWait {
    /// The store refused the batch.
    Unavailable,
    /// The store did not answer in time (it may still take the record).
    TimedOut,
}

impl AuditSink {
    /// Each batch extends the store's audit chain, linked under `key`.
    pub fn spawn(store: Store, key: ChainKey) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let (stop, stopped) = oneshot::channel();
        let writer = tokio::spawn(write_batches(store, key, rx, stopped));
        Self { queue, writer: Mutex::new(Some((writer, stop))) }
    }

    /// Returns once the record is committed.
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        let (done, wait) = oneshot::channel();
        self.queue.send(Pending { record, done }).await.map_err(|_| AuditUnavailable)?;
        match wait.await {
            Ok(true) => Ok(()),
            _ => Err(AuditUnavailable),
        }
    }

    /// Returns once the record is committed, or when `deadline` passes first. A record queued
    /// before the deadline stays queued and is written when the store takes it.
    pub async fn record_until(&self, record: AuditRecord, deadline: tokio::time::Instant) -> Result<(), AuditWait> {
        let request_id = record.request_id.clone();
        match tokio::time::timeout_at(deadline, self.record(record)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(AuditUnavailable)) => Err(AuditWait::Unavailable),
            Err(_) => {
                tracing::warn!(request.id = %request_id, "the request's deadline passed before its audit record was durable");
                Err(AuditWait::TimedOut)
            }
        }
    }

    /// Queues the record without waiting for it (for answers that refuse because the store is
    /// failing: they serve nothing). A full queue drops it, and says so in the log.
    pub fn submit(&self, record: AuditRecord) {
        let request_id = record.request_id.clone();
        let (done, _) = oneshot::channel();
        if self.queue.try_send(Pending { record, done }).is_err() {
            tracing::error!(request.id = %request_id, "audit queue full: the record of a refused request was dropped");
        }
    }

    /// Records waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        QUEUE_DEPTH - self.queue.capacity()
    }

    /// Stops taking records, commits what is queued, and waits for the writer to finish.
    pub async fn shutdown(&self) {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some((handle, stop)) = writer {
            let _ = stop.send(());
            let _ = handle.await;
        }
    }
}

async fn write_batches(store: Store, key: ChainKey, mut rx: mpsc::Receiver<Pending>, mut stop: oneshot::Receiver<()>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    let mut stopping = false;
    // Where this writer last left the chain: on PostgreSQL a batch after it is one statement.
    let mut head: Option<(i64, Vec<u8>)> = None;
    loop {
        let first = if stopping {
            rx.recv().await
        } else {
            tokio::select! {
                next = rx.recv() => next,
                _ = &mut stop => {
                    stopping = true;
                    rx.close();
                    rx.recv().await
                }
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let records: Vec<AuditRecord> = batch.iter().map(|p| p.record.clone()).collect();
        let started = std::time::Instant::now();
        // The flush covers the batch and every write its requests committed before it.
        let durable = match store.append_audit_after(&mut head, &records, |prev, seq, r| key.link(prev, seq, r)).await {
            Ok(()) => {
                crate::metrics::METRICS.audit_batch(records.len(), started.elapsed());
                true
            }
            Err(e) => {
                head = None;
                tracing::error!(error.cause = %e, records = records.len(), "audit batch failed; refusing the requests");
                false
            }
        };
        for pending in batch.drain(..) {
            let _ = pending.done.send(durable);
        }
    }
}
