//! Brute-force defence. Failures are counted per subject (client id, consumer key, access key,
//! login) and per source IP in the store, so every cofre process sees the same counts. A locked
//! subject or IP is answered 429 with `Retry-After` even when the next attempt would be right,
//! and the answer never says which part was wrong.

use std::net::IpAddr;

use super::Core;
use crate::error::{ApiError, ApiResult};

fn subject_key(subject: &str) -> String {
    format!("subject:{subject}")
}

fn ip_key(ip: IpAddr) -> String {
    format!("ip:{ip}")
}

/// Refuses the attempt if the subject or the source IP is locked out. Returns whether the
/// subject has failures on record, so that a success clears them only when there are some.
pub async fn ensure_not_locked(core: &Core, subject: Option<&str>, ip: IpAddr) -> ApiResult<bool> {
    let subject_key = subject.map(subject_key);
    let mut keys = vec![ip_key(ip)];
    keys.extend(subject_key.clone());
    let (until, any) = core.store.failure_state(&keys).await?;
    let now = core.now();
    if until > now {
        return Err(ApiError::too_many_attempts(u32::try_from(until - now).unwrap_or(u32::MAX)));
    }
    Ok(any)
}

pub async fn record_failure(core: &Core, subject: Option<&str>, ip: IpAddr) -> ApiResult<()> {
    let c = &core.config;
    let (now, window, lockout) = (core.now(), secs(c.auth_failure_window), secs(c.auth_lockout));
    if let Some(subject) = subject {
        core.store.record_failure(&subject_key(subject), now, window, i64::from(c.auth_failure_limit), lockout).await?;
    }
    core.store.record_failure(&ip_key(ip), now, window, i64::from(c.auth_failure_limit_per_ip), lockout).await?;
    Ok(())
}

/// A success clears the subject's count (not the IP's: one good login must not hide a spray).
/// `had_failures` comes from `ensure_not_locked`: without failures there is nothing to write.
pub async fn record_success(core: &Core, subject: &str, had_failures: bool) -> ApiResult<()> {
    if had_failures {
        core.store.clear_failures(&subject_key(subject)).await?;
    }
    Ok(())
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
