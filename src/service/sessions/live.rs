//! The sessions this process carries (web-proxy streams, SSH terminals), by session id, each with
//! the token that cuts it and why it was cut. The store is the truth for every process; this is
//! only how the holder reaches its own streams when the store says a session is over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio_util::sync::CancellationToken;

/// Why a holder cut a session; shown to its user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    Dropped,
    Expired,
    ShuttingDown,
}

impl Cut {
    pub fn message(self) -> &'static str {
        match self {
            Self::Dropped => "Session ended by an administrator.",
            Self::Expired => "Session ended: it was idle too long or reached its maximum length.",
            Self::ShuttingDown => "Session ended: the vault is shutting down.",
        }
    }
}

/// One carried session: cancelled once, with the first reason given.
#[derive(Default)]
pub struct LiveEntry {
    cancel: CancellationToken,
    cut: OnceLock<Cut>,
    /// A terminal lives in this process's memory and dies with it; a web session's cookie
    /// works on through another process.
    terminal: std::sync::atomic::AtomicBool,
}

impl LiveEntry {
    /// Marks the session as a terminal this process relays; false when it already was (a
    /// session has one terminal).
    pub fn mark_terminal(&self) -> bool {
        !self.terminal.swap(true, std::sync::atomic::Ordering::AcqRel)
    }

    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    pub async fn cut(&self) -> Cut {
        self.cancel.cancelled().await;
        self.cut.get().copied().unwrap_or(Cut::Dropped)
    }

    fn fire(&self, why: Cut) {
        let _ = self.cut.set(why);
        self.cancel.cancel();
    }
}

#[derive(Clone, Default)]
pub struct LiveSessions(Arc<Mutex<HashMap<String, Arc<LiveEntry>>>>);

impl LiveSessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LiveEntry>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of a session this process carries, made on first use.
    pub fn entry(&self, session_id: &str) -> Arc<LiveEntry> {
        self.map().entry(session_id.to_owned()).or_default().clone()
    }

    /// Cuts a session's streams (if this process carries it) and forgets it.
    pub fn cut(&self, session_id: &str, why: Cut) {
        let entry = self.map().remove(session_id);
        if let Some(e) = entry {
            e.fire(why);
        }
    }

    /// How many sessions this process carries now.
    pub fn count(&self) -> usize {
        self.map().len()
    }

    /// Forgets a session that ended by itself.
    pub fn forget(&self, session_id: &str) {
        self.map().remove(session_id);
    }

    /// Cuts every terminal this process relays (at shutdown); answers their ids.
    pub fn cut_terminals(&self, why: Cut) -> Vec<String> {
        let mut map = self.map();
        let ids: Vec<String> = map
            .iter()
            .filter(|(_, e)| e.terminal.load(std::sync::atomic::Ordering::Acquire))
            .map(|(id, _)| id.clone())
            .collect();
        let cut: Vec<_> = ids.iter().filter_map(|id| map.remove(id)).collect();
        drop(map);
        cut.iter().for_each(|e| e.fire(why));
        ids
    }
}
