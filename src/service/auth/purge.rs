//! Authentication leaves rows behind: nonces and signatures seen, attempt counters, dynamic
//! token values, DSM run credentials, session tickets never redeemed. Once expired they decide
//! nothing, so a background job deletes them and the tables stay as large as the traffic of one
//! window, not of the server's whole life. Credential reveals and proxied-request records are
//! kept `record_retention_days` (0: forever). Every process may run it; deleting a row twice is
//! harmless.

use crate::error::ApiResult;
use crate::service::Core;

/// How many rows one pass removed from each table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub replay_guard: u64,
    pub attempts: u64,
    pub issued_tokens: u64,
    pub run_credentials: u64,
    pub session_tickets: u64,
    pub credential_reveals: u64,
    pub session_requests: u64,
}

pub async fn purge_expired(core: &Core) -> ApiResult<Purged> {
    let now = core.now();
    let window = i64::try_from(core.config.auth_failure_window).unwrap_or(i64::MAX);
    Ok(Purged {
        replay_guard: core.store.purge_replay_guard(now).await?,
        attempts: core.store.purge_attempts(now, window).await?,
        issued_tokens: core.store.purge_issued_tokens(now).await?,
        run_credentials: core.store.purge_run_credentials(now).await?,
        session_tickets: core.store.purge_session_tickets(now).await?,
        credential_reveals: match retention_cutoff(core) {
            Some(before) => core.store.purge_reveals(before).await?,
            None => 0,
        },
        session_requests: match retention_cutoff(core) {
            Some(before) => core.store.purge_session_requests(before.saturating_mul(1000)).await?,
            None => 0,
        },
    })
}

/// Records made before this (unix seconds) are past their retention; `None` keeps them all.
fn retention_cutoff(core: &Core) -> Option<i64> {
    let days = i64::try_from(core.config.record_retention_days).ok().filter(|d| *d > 0)?;
    Some(core.now().saturating_sub(days.saturating_mul(86_400)))
}
