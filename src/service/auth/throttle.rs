//! Brute-force defence. Attempts are counted per subject (client id, consumer key, access key,
//! login) and per source IP in the store, so every cofre process sees the same counts.
//!
//! An attempt is counted *before* its proof is checked, in one atomic statement that also
//! reads the lock: at most `limit` attempts per key can be in flight or failed within the
//! window, so parallel guesses get no more tries than sequential ones. An attempt that finds
//! no room but no lock either (many honest requests in flight at once) waits briefly for room.
//! A locked subject or IP is answered 429 with `Retry-After` even when the next attempt would be
//! right, and the answer never says which part was wrong.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::store::auth::guard::{AttemptOutcome, AttemptState};

/// How long an attempt waits for room before it is refused, in steps of 5 ms and more (about 2 s).
const ROOM_WAIT_STEPS: u64 = 60;

/// What checking a proof of identity found.
pub enum Proof<T> {
    /// The proof holds: the attempt succeeded.
    Valid(T),
    /// A wrong secret, signature or password: counts towards the lockout.
    Invalid(ApiError),
    /// A correct proof seen before (a replayed request): refused, but not a failed login.
    Replayed(ApiError),
}

/// Runs `check` as one counted attempt of `subject` from `ip`: counted before it runs, and
/// ended as its outcome says. An error (store, gate, bad request) ends it without counting.
pub async fn guard<T>(
    core: &Core,
    subject: Option<&str>,
    ip: IpAddr,
    check: impl Future<Output = ApiResult<Proof<T>>>,
) -> ApiResult<T> {
    let attempt = begin(core, subject, ip).await?;
    match check.await {
        Ok(Proof::Valid(value)) => {
            attempt.finish(core, AttemptOutcome::Succeeded).await?;
            Ok(value)
        }
        Ok(Proof::Invalid(e)) => {
            attempt.finish(core, AttemptOutcome::Failed).await?;
            Err(e)
        }
        Ok(Proof::Replayed(e)) | Err(e) => {
            // Best effort: the slot also frees itself when the window passes.
            if let Err(release) = attempt.finish(core, AttemptOutcome::Neutral).await {
                tracing::warn!(error.cause = %release, "could not release an authentication attempt");
            }
            Err(e)
        }
    }
}

/// An authentication attempt counted in flight.
struct Attempt {
    subject: Option<String>,
    ip: String,
    subject_limit: i64,
    ip_limit: i64,
}

impl Attempt {
    fn keys(&self) -> Vec<(&str, i64)> {
        let mut keys = vec![(self.ip.as_str(), self.ip_limit)];
        if let Some(subject) = &self.subject {
            keys.push((subject.as_str(), self.subject_limit));
        }
        keys
    }

    fn limit_of(&self, key: &str) -> i64 {
        if key == self.ip { self.ip_limit } else { self.subject_limit }
    }

    async fn finish(&self, core: &Core, outcome: AttemptOutcome) -> ApiResult<()> {
        // A success clears the subject's failures, not the IP's: one good login must not hide a spray.
        let clear: Vec<&str> = match (outcome, &self.subject) {
            (AttemptOutcome::Succeeded, Some(subject)) => vec![subject.as_str()],
            _ => Vec::new(),
        };
        let lockout = secs(core.config.auth_lockout);
        core.store.finish_attempt(&self.keys(), outcome, &clear, core.now(), lockout).await?;
        Ok(())
    }
}

enum Verdict {
    Admitted,
    Locked(i64),
    NoRoom,
}

impl Attempt {
    fn verdict(&self, states: &[AttemptState], now: i64, counted: bool) -> Verdict {
        let mut verdict = Verdict::Admitted;
        for state in states {
            if state.locked_until > now {
                return Verdict::Locked(state.locked_until - now);
            }
            // Our own attempt is among `pending` once it is counted.
            let in_use = state.failures + state.pending + i64::from(!counted);
            if in_use > self.limit_of(&state.key) {
                verdict = Verdict::NoRoom;
            }
        }
        verdict
    }
}

/// Counts an attempt for `subject` from `ip` before its proof is checked. Refused with 429
/// while either is locked, or when no room opens up within a short wait.
async fn begin(core: &Core, subject: Option<&str>, ip: IpAddr) -> ApiResult<Attempt> {
    let c = &core.config;
    let attempt = Attempt {
        subject: subject.map(|s| format!("subject:{s}")),
        ip: format!("ip:{ip}"),
        subject_limit: i64::from(c.auth_failure_limit),
        ip_limit: i64::from(c.auth_failure_limit_per_ip),
    };
    let window = secs(c.auth_failure_window);
    for step in 0..ROOM_WAIT_STEPS {
        let keys: Vec<&str> = attempt.keys().into_iter().map(|(k, _)| k).collect();
        if step > 0 {
            // Wait without counting until the stored state shows room, then try to take it.
            tokio::time::sleep(Duration::from_millis(5 + step)).await;
            let states = core.store.attempt_states(&keys).await?;
            match attempt.verdict(&states, core.now(), false) {
                Verdict::Locked(secs) => return Err(locked(secs)),
                Verdict::NoRoom => continue,
                Verdict::Admitted => {}
            }
        }
        let now = core.now();
        let states = core.store.reserve_attempt(&keys, now, window).await?;
        match attempt.verdict(&states, now, true) {
            Verdict::Admitted => return Ok(attempt),
            Verdict::Locked(secs) => {
                attempt.finish(core, AttemptOutcome::Neutral).await?;
                return Err(locked(secs));
            }
            Verdict::NoRoom => attempt.finish(core, AttemptOutcome::Neutral).await?,
        }
    }
    Err(locked(1))
}

fn locked(secs: i64) -> ApiError {
    ApiError::too_many_attempts(u32::try_from(secs).unwrap_or(u32::MAX))
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
