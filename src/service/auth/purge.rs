//! Authentication leaves rows behind: nonces and signatures seen, attempt counters, dynamic
//! token values, DSM run credentials, session tickets never redeemed. Once expired they decide nothing, so a background job deletes them and the
//! tables stay as large as the traffic of one window, not of the server's whole life. Every
//! process may run it; deleting an expired row twice is harmless.

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
    })
}
