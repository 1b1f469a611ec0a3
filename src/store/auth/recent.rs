//! Authorizations as requests read them, kept for at most [`MAX_AGE`]: a busy client's every
//! request no longer costs a round trip for its authorization row. A change this process makes
//! to applications, authorizations or users forgets them all at once; a change made by another
//! process reaches this one when its copy ages out, so disabling an application or revoking a
//! token still stops it on every process within one second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::domain::authorization::Authorization;
use crate::store::{Store, StoreResult};

pub const MAX_AGE: Duration = Duration::from_millis(500);
const SHARDS: usize = 16;
/// A shard this full drops its aged-out copies before taking another.
const SHARD_SWEEP_AT: usize = 1024;

type Shard = HashMap<i64, (Instant, Authorization)>;

pub(crate) struct RecentAuthorizations {
    shards: Vec<Mutex<Shard>>,
    /// Bumped by every forget: a row read before a forget is not kept after it.
    epoch: AtomicU64,
}

impl RecentAuthorizations {
    pub(crate) fn new() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(), epoch: AtomicU64::new(0) }
    }

    fn shard(&self, id: i64) -> std::sync::MutexGuard<'_, Shard> {
        let shard = &self.shards[id.unsigned_abs() as usize % SHARDS];
        shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: i64) -> Option<Authorization> {
        let shard = self.shard(id);
        shard.get(&id).filter(|(at, _)| at.elapsed() < MAX_AGE).map(|(_, a)| a.clone())
    }

    fn keep(&self, authorization: &Authorization, read_at: Instant, epoch: u64) {
        let mut shard = self.shard(authorization.id);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if shard.len() >= SHARD_SWEEP_AT {
            shard.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
        }
        shard.insert(authorization.id, (read_at, authorization.clone()));
    }

    pub(crate) fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for shard in &self.shards {
            shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        }
    }
}

impl Store {
    /// The authorization `id` as of at most [`MAX_AGE`] ago: for authenticating requests. A
    /// read that will be written back (which needs its current revision) uses `authorization`.
    pub async fn recent_authorization(&self, id: i64) -> StoreResult<Authorization> {
        if let Some(found) = self.recent.get(id) {
            return Ok(found);
        }
        let (read_at, epoch) = (Instant::now(), self.recent.epoch.load(Ordering::SeqCst));
        let found = self.authorization(id).await?;
        self.recent.keep(&found, read_at, epoch);
        Ok(found)
    }

    /// After a change to applications, authorizations or users: no copy outlives it here.
    pub(crate) fn forget_authorizations(&self) {
        self.recent.forget_all();
    }
}
