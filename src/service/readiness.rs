//! Readiness: the store must take a write within a short deadline. `SELECT 1` answers even when
//! commits hang (a PostgreSQL waiting on a synchronous standby, a stalled disk), and a process
//! that cannot commit cannot answer any request (each waits for its audit record).

use std::time::Duration;

use super::Core;

impl Core {
    /// Whether this process's heartbeat commits within `within`. The heartbeat runs in a task of
    /// its own, one at a time: a hung one keeps its connection and the next check waits for it
    /// (and fails) instead of taking another connection from the pool.
    pub async fn store_ready(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let Ok(turn) = tokio::time::timeout_at(deadline, self.heartbeat.clone().lock_owned()).await else {
            return false;
        };
        let (store, process_id, now) = (self.store.clone(), self.process_id.clone(), self.now());
        let beat = tokio::spawn(async move {
            let beaten = store.heartbeat(&process_id, now).await;
            drop(turn);
            beaten
        });
        match tokio::time::timeout_at(deadline, beat).await {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(e))) => {
                tracing::warn!(error.cause = %e, "readiness: the store refused the heartbeat");
                false
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "readiness: the heartbeat task failed");
                false
            }
            Err(_) => {
                tracing::warn!(within = ?within, "readiness: the heartbeat did not commit in time");
                false
            }
        }
    }
}
