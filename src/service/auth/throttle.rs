//! Brute-force defence. Failures are counted per subject (client id, consumer key, access key,
//! login) and per source IP in the store, so every cofre process sees the same counts.
//!
//! Every attempt reads its keys' counters first and is refused if one is locked. A right proof
//! is then let through on that read; a wrong one is answered only after it is counted, in one
//! atomic statement that tells whether it still fell within the limit (401) or beyond it (429).
//! The check in between is invisible to the caller, so the store's order of those reads and
//! counts is one sequence of attempts in which at most `limit` failures come before the lock:
//! parallel guesses get no more answers than sequential ones, while honest logins cost one
//! read and never wait for one another. A locked subject or IP is answered 429 with `Retry-After` even
//! when the proof is right, and the answer never says which part was wrong.

use std::net::IpAddr;

use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::store::auth::guard::AttemptState;

/// What checking a proof of identity found.
pub enum Proof<T> {
    /// The proof holds: the attempt succeeded.
    Valid(T),
    /// A wrong secret, signature or password: counts towards the lockout.
    Invalid(ApiError),
    /// A correct proof seen before (a replayed request): refused, but not a failed login.
    Replayed(ApiError),
}

/// Runs `check` as one counted attempt of `subject` from `ip`. An error (store, gate, bad
/// request) or a replay counts nothing.
pub async fn guard<T>(
    core: &Core,
    scheme: &'static str,
    subject: Option<&str>,
    ip: IpAddr,
    check: impl Future<Output = ApiResult<Proof<T>>>,
) -> ApiResult<T> {
    let keys = Keys::new(core, subject, ip);
    // Read before the check, so a locked key costs no argon2 and consumes no nonce or ticket.
    let states = core.store.attempt_states(&keys.names()).await?;
    keys.refuse_if_locked(&states, core.now()).inspect_err(|_| crate::metrics::METRICS.throttled(scheme))?;
    match check.await? {
        Proof::Valid(value) => {
            // A success clears the subject's failures, not the IP's: one good login must not hide a spray.
            if let Some(subject) = &keys.subject
                && states.iter().any(|s| &s.key == subject && s.failures > 0)
            {
                core.store.clear_failures(subject).await?;
            }
            Ok(value)
        }
        Proof::Invalid(e) => {
            crate::metrics::METRICS.auth_failure(scheme);
            let c = &core.config;
            let counted = core
                .store
                .record_failure(&keys.with_limits(), core.now(), secs(c.auth_failure_window), secs(c.auth_lockout))
                .await?;
            match counted.iter().find(|s| s.failures > keys.limit_of(&s.key)) {
                Some(beyond) => {
                    crate::metrics::METRICS.throttled(scheme);
                    Err(locked(beyond.locked_until - core.now()))
                }
                None => Err(e),
            }
        }
        Proof::Replayed(e) => Err(e),
    }
}

/// The store keys an attempt is counted under, with their limits.
struct Keys {
    subject: Option<String>,
    ip: String,
    subject_limit: i64,
    ip_limit: i64,
}

impl Keys {
    fn new(core: &Core, subject: Option<&str>, ip: IpAddr) -> Self {
        Self {
            subject: subject.map(|s| format!("subject:{s}")),
            ip: format!("ip:{ip}"),
            subject_limit: i64::from(core.config.auth_failure_limit),
            ip_limit: i64::from(core.config.auth_failure_limit_per_ip),
        }
    }

    fn with_limits(&self) -> Vec<(&str, i64)> {
        let mut keys = vec![(self.ip.as_str(), self.ip_limit)];
        if let Some(subject) = &self.subject {
            keys.push((subject.as_str(), self.subject_limit));
        }
        keys
    }

    fn names(&self) -> Vec<&str> {
        self.with_limits().into_iter().map(|(k, _)| k).collect()
    }

    fn limit_of(&self, key: &str) -> i64 {
        if key == self.ip { self.ip_limit } else { self.subject_limit }
    }

    fn refuse_if_locked(&self, states: &[AttemptState], now: i64) -> ApiResult<()> {
        match states.iter().map(|s| s.locked_until).max() {
            Some(until) if until > now => Err(locked(until - now)),
            _ => Ok(()),
        }
    }
}

fn locked(secs: i64) -> ApiError {
    ApiError::too_many_attempts(u32::try_from(secs.max(1)).unwrap_or(u32::MAX))
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
