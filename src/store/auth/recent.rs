//! Authorizations as requests read them, kept for at most [`MAX_AGE`]: a busy client's every
//! request or token issue no longer costs a round trip for its authorization row. A change this
//! process makes to applications, authorizations or users forgets them all at once; a change
//! made by another process reaches this one when its copy ages out, so disabling an application,
//! revoking a token or rotating a secret still takes effect on every process within one second.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::authorization::Authorization;
use crate::store::{Store, StoreResult};

pub const MAX_AGE: Duration = Duration::from_millis(500);
const SHARDS: usize = 16;
/// A shard this full drops its aged-out copies before taking another.
const SHARD_SWEEP_AT: usize = 1024;

/// Copies of rows by key, each for at most `MAX_AGE`, in shards so requests rarely share a lock.
struct Recent<K, V> {
    shards: Vec<Mutex<HashMap<K, (Instant, V)>>>,
    hasher: RandomState,
    /// Bumped by every forget: a row read before a forget is not kept after it.
    epoch: AtomicU64,
}

impl<K: Hash + Eq + Clone, V: Clone> Recent<K, V> {
    fn new() -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Self { shards, hasher: RandomState::new(), epoch: AtomicU64::new(0) }
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, HashMap<K, (Instant, V)>> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &K) -> Option<V> {
        self.shard(key).get(key).filter(|(at, _)| at.elapsed() < MAX_AGE).map(|(_, v)| v.clone())
    }

    /// Reads through: `read` runs when there is no fresh copy, and its row is kept unless a
    /// forget happened while it ran.
    async fn get_or_read(&self, key: K, read: impl Future<Output = StoreResult<V>>) -> StoreResult<V> {
        if let Some(found) = self.get(&key) {
            return Ok(found);
        }
        let (read_at, epoch) = (Instant::now(), self.epoch.load(Ordering::SeqCst));
        let found = read.await?;
        let mut shard = self.shard(&key);
        if self.epoch.load(Ordering::SeqCst) == epoch {
            if shard.len() >= SHARD_SWEEP_AT {
                shard.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
            }
            shard.insert(key, (read_at, found.clone()));
        }
        Ok(found)
    }

    fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for shard in &self.shards {
            shard.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}

pub(crate) struct RecentAuthorizations {
    by_id: Recent<i64, Authorization>,
    /// For token issue: the authorization a client id logs in to, with the secret hash to check
    /// and, for a run credential, when it expires.
    by_client_id: Recent<String, (Authorization, Vec<u8>, Option<i64>)>,
}

impl RecentAuthorizations {
    pub(crate) fn new() -> Self {
        Self { by_id: Recent::new(), by_client_id: Recent::new() }
    }
}

impl Store {
    /// The authorization `id` as of at most [`MAX_AGE`] ago: for authenticating requests. A
    /// read that will be written back (which needs its current revision) uses `authorization`.
    pub async fn recent_authorization(&self, id: i64) -> StoreResult<Authorization> {
        self.recent.by_id.get_or_read(id, self.authorization(id)).await
    }

    /// `authorization_by_client_id` as of at most [`MAX_AGE`] ago: for token issue.
    pub async fn recent_authorization_by_client_id(
        &self,
        client_id: &str,
        now: i64,
    ) -> StoreResult<(Authorization, Vec<u8>)> {
        let read = self.client_login(client_id, now);
        let (authorization, hash, run_expires_at) =
            self.recent.by_client_id.get_or_read(client_id.to_owned(), read).await?;
        if run_expires_at.is_some_and(|expires| expires <= now) {
            // A copy of a run credential that has expired since: read again (it may be renewed).
            let (authorization, hash, _) = self.client_login(client_id, now).await?;
            return Ok((authorization, hash));
        }
        Ok((authorization, hash))
    }

    /// After a change to applications, authorizations or users: no copy outlives it here.
    pub(crate) fn forget_authorizations(&self) {
        self.recent.by_id.forget_all();
        self.recent.by_client_id.forget_all();
    }
}
