//! The audit pipeline: requests hand their record to one writer task through a bounded queue and
//! wait until it is durable. The writer commits whatever has queued up in one transaction,
//! linked into the store's audit chain (see `integrity::chain`), and flushes it (`Store::sync`,
//! which also makes durable every write the requests committed before their records), so under load batches grow instead of requests queueing behind one
//! another's commits. If the store cannot take the batch, every waiting request is told, and
//! answers 503: nothing is served unaudited.
//!
//! A change a request commits leaves a pending audit row with it (`store/writer.rs`); the batch
//! that chains the request's successful record deletes it. Rows no such record took — the
//! record failed after the change, never came (the process died, the client hung up before it
//! was queued), or answered an error though a write had committed — are chained by the same
//! writer as records of their own (`AuditRecord::recovered`), once older than two request
//! timeouts and not held by a request of this process whose record is still to be written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::domain::audit::AuditRecord;
use crate::domain::audit::request::AuditedRequest;
use crate::service::integrity::chain::ChainKey;
use crate::store::Store;

const QUEUE_DEPTH: usize = 4096;
const MAX_BATCH: usize = 256;
/// How often the writer looks for pending audit rows to recover (one read when there are none).
const RECOVERY_EVERY: Duration = Duration::from_secs(2);

struct Pending {
    record: AuditRecord,
    done: oneshot::Sender<bool>,
    /// Kept until the record is written or given up.
    hold: Option<Hold>,
}

impl Pending {
    /// A request's record that answers success accounts for the writes it made, if it made any.
    fn accounts_for_writes(&self) -> bool {
        self.record.accounts_for_writes() && self.hold.as_ref().is_some_and(|h| h.request.wrote())
    }
}

pub struct AuditSink {
    queue: mpsc::Sender<Pending>,
    writer: Mutex<Option<(JoinHandle<()>, oneshot::Sender<()>)>>,
    held: Arc<Held>,
}

/// Which pending rows the writer recovers: those made before `after` ago by `clock`. `after`
/// outlasts any request (two request timeouts), so a row's request has answered, or given up,
/// by then.
pub struct Recovery {
    pub clock: Arc<dyn Clock>,
    pub after: Duration,
}

/// The requests of this process whose records are still to be written (by request id, with a
/// count: a client may send one id twice). Their pending rows are left to those records.
#[derive(Default)]
struct Held(Mutex<HashMap<Arc<str>, usize>>);

impl Held {
    fn holds(&self, request_id: &str) -> bool {
        self.0.lock().is_ok_and(|held| held.contains_key(request_id))
    }
}

/// A request's hold on its pending rows, from its arrival until its record is written or given
/// up: recovery never chains a row whose request's own record may still come.
pub struct Hold {
    held: Arc<Held>,
    request_id: Arc<str>,
    request: Arc<AuditedRequest>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Ok(mut held) = self.held.0.lock()
            && let Some(count) = held.get_mut(&self.request_id)
        {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.request_id);
            }
        }
    }
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
    /// Each batch extends the store's audit chain, linked under `key`. No pending rows are
    /// recovered (an operator's command).
    pub fn spawn(store: Store, key: ChainKey) -> Self {
        Self::start(store, key, None)
    }

    /// A server's writer: it also recovers pending audit rows, at start and then every
    /// `RECOVERY_EVERY`.
    pub fn spawn_recovering(store: Store, key: ChainKey, recovery: Recovery) -> Self {
        Self::start(store, key, Some(recovery))
    }

    fn start(store: Store, key: ChainKey, recovery: Option<Recovery>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let (stop, stopped) = oneshot::channel();
        let held = Arc::new(Held::default());
        let recovering = recovery.map(|r| (r, held.clone()));
        let writer = tokio::spawn(write_batches(store, key, rx, stopped, recovering));
        Self { queue, writer: Mutex::new(Some((writer, stop))), held }
    }

    /// Holds the pending rows of `request` for its record, until the `Hold` given to
    /// `record_until` or `submit` goes with it (or is dropped).
    pub fn hold(&self, request: &Arc<AuditedRequest>) -> Hold {
        let request_id = request.request_id.clone();
        if let Ok(mut held) = self.held.0.lock() {
            *held.entry(request_id.clone()).or_default() += 1;
        }
        Hold { held: self.held.clone(), request_id, request: request.clone() }
    }

    /// Returns once the record is committed.
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        self.record_holding(record, None).await
    }

    async fn record_holding(&self, record: AuditRecord, hold: Option<Hold>) -> Result<(), AuditUnavailable> {
        let (done, wait) = oneshot::channel();
        self.queue.send(Pending { record, done, hold }).await.map_err(|_| AuditUnavailable)?;
        match wait.await {
            Ok(true) => Ok(()),
            _ => Err(AuditUnavailable),
        }
    }

    /// A request's record: returns once it is committed, or when `deadline` passes first. A
    /// record queued before the deadline stays queued (with the request's hold) and is
    /// written when the store takes it.
    pub async fn record_until(
        &self,
        record: AuditRecord,
        hold: Hold,
        deadline: tokio::time::Instant,
    ) -> Result<(), AuditWait> {
        let request_id = record.request_id.clone();
        match tokio::time::timeout_at(deadline, self.record_holding(record, Some(hold))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(AuditUnavailable)) => Err(AuditWait::Unavailable),
            Err(_) => {
                tracing::warn!(request.id = %request_id, "the request's deadline passed before its audit record was durable");
                Err(AuditWait::TimedOut)
            }
        }
    }

    /// Queues the record without waiting for it (for answers that refuse because the store is
    /// failing: they serve nothing). A full queue drops it, and says so in the log (the
    /// request's committed writes, if any, are then recovered).
    pub fn submit(&self, record: AuditRecord, hold: Hold) {
        let request_id = record.request_id.clone();
        let (done, _) = oneshot::channel();
        if self.queue.try_send(Pending { record, done, hold: Some(hold) }).is_err() {
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

async fn write_batches(
    store: Store,
    key: ChainKey,
    mut rx: mpsc::Receiver<Pending>,
    mut stop: oneshot::Receiver<()>,
    recovery: Option<(Recovery, Arc<Held>)>,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    let mut stopping = false;
    // Where this writer last left the chain: on PostgreSQL a batch after it is one statement.
    let mut head: Option<(i64, Vec<u8>)> = None;
    let mut recovery_due = tokio::time::interval(RECOVERY_EVERY);
    recovery_due.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                _ = recovery_due.tick(), if recovery.is_some() => {
                    if let Some((recovery, held)) = &recovery
                        && recover(&store, &key, recovery, held).await
                    {
                        head = None;
                    }
                    continue;
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
        let accounted: Vec<&str> =
            batch.iter().filter(|p| p.accounts_for_writes()).map(|p| p.record.request_id.as_str()).collect();
        let started = std::time::Instant::now();
        // The flush covers the batch and every write its requests committed before it.
        let durable = match store
            .append_audit_after(&mut head, &records, &accounted, |prev, seq, r| key.link(prev, seq, r))
            .await
        {
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

/// One recovery pass; whether it moved the chain's head.
async fn recover(store: &Store, key: &ChainKey, recovery: &Recovery, held: &Held) -> bool {
    let now = recovery.clock.now_ms();
    let before = now.saturating_sub(i64::try_from(recovery.after.as_millis()).unwrap_or(i64::MAX));
    match store.recover_pending_audit(before, now, |id| held.holds(id), |prev, seq, r| key.link(prev, seq, r)).await {
        Ok(0) => false,
        Ok(records) => {
            tracing::warn!(records, "chained the audit records of committed writes no successful record accounted for");
            true
        }
        Err(e) => {
            tracing::warn!(error.cause = %e, "recovering pending audit rows failed; the next pass tries again");
            true
        }
    }
}
