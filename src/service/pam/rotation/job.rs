//! The rotation job. A pass claims due credentials one at a time with a short lease in the store
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`), renewed while this process works on it, so several
//! cofre processes never rotate one credential at once and a process that dies frees it within
//! one lease.
//!
//! Before the device is changed, the new value is stored sealed beside the credential
//! (`rotation_pending`); only once the change succeeds does it become current (the old secret
//! kept as a version), in the same write that clears it. A process that dies in between leaves
//! the value behind, and the next one to claim the credential sends that same value again
//! (setting a password the device may already hold is harmless) and commits it: vault and
//! device end in step without anyone. A failed change keeps the value for the retry too, since
//! the device may have taken it before failing; the old secret stays current meanwhile.

use std::future::Future;
use std::time::Duration;

use zeroize::Zeroizing;

use super::{ChangeTarget, SecretChanger, generate_key, generate_password, policy_for};
use crate::domain::audit::AuditRecord;
use crate::domain::pam::{CredentialKey, CredentialKind, Policy};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::audit::AuditSink;
use crate::service::pam::history::archive;
use crate::service::pam::sealing::aad;
use crate::store::StoreError;

/// A claim covers a credential this long and is renewed every `RENEW_EVERY` while its process
/// works on it (key generation, the change command): a process that dies holds it no longer.
const LEASE_SECS: i64 = 30;
const RENEW_EVERY: Duration = Duration::from_secs(10);
const _: () = assert!(RENEW_EVERY.as_secs() * 3 <= LEASE_SECS as u64);
/// The field a stored rotation value's associated data names (with the credential's uid).
const PENDING: &str = "rotation_pending";
/// How many times a commit that found the row changed reads it again before leaving the value
/// for the next pass.
const COMMIT_ATTEMPTS: usize = 3;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub rotated: Vec<i64>,
    pub failed: Vec<i64>,
}

/// Rotates every credential due now (by the core's clock), through `changer`. Each credential is
/// claimed on its own, just before it is changed; a pass never takes the same one twice.
pub async fn run_due(core: &Core, audit: &AuditSink, changer: &dyn SecretChanger) -> ApiResult<RotationReport> {
    let mut report = RotationReport::default();
    let mut seen = std::collections::HashSet::new();
    loop {
        let now = core.now();
        let lease = Lease { id: 0, until: now.saturating_add(LEASE_SECS) };
        let Some(id) = core.store.claim_due_rotations(now, lease.until, 1).await?.pop() else {
            return Ok(report);
        };
        if !seen.insert(id) {
            return Ok(report);
        }
        match rotate_one(core, audit, changer, Lease { id, ..lease }).await {
            Ok(true) => report.rotated.push(id),
            Ok(false) => report.failed.push(id),
            Err(e) => {
                report.failed.push(id);
                core.store.fail_rotation(id, &e.message, core.now().saturating_add(retry_secs(core))).await?;
            }
        }
    }
}

fn retry_secs(core: &Core) -> i64 {
    i64::try_from(core.config.rotation_retry).unwrap_or(3600)
}

/// This process's claim on a credential: the lease's end, as the store holds it.
struct Lease {
    id: i64,
    until: i64,
}

impl Lease {
    /// Runs `work` while renewing the claim, so that work longer than one lease keeps it.
    async fn hold<T>(&mut self, core: &Core, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + RENEW_EVERY, RENEW_EVERY);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = renew.tick() => {
                    let until = core.now().saturating_add(LEASE_SECS);
                    match core.store.renew_rotation_lease(self.id, self.until, until).await {
                        Ok(true) => self.until = until,
                        // The stored value lets whoever holds the claim now finish the rotation.
                        Ok(false) => tracing::warn!(credential.id = self.id, "rotation claim lost during the change"),
                        Err(e) => tracing::warn!(credential.id = self.id, error = %e, "rotation claim not renewed"),
                    }
                }
            }
        }
    }
}

/// The value a rotation sends: new, or the one an interrupted rotation left stored.
struct Outgoing {
    secret: Zeroizing<Vec<u8>>,
    public_key: String,
    resumed: bool,
}

async fn rotate_one(core: &Core, audit: &AuditSink, changer: &dyn SecretChanger, mut lease: Lease) -> ApiResult<bool> {
    let id = lease.id;
    let found = match core.store.find_credential(0, &CredentialKey::Id(id)).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let (c, device) = (found.credential, found.device);
    let policy = policy_for(core, &c, &device).await?;
    let outgoing = match core.store.pending_rotation(id).await? {
        Some(left) => Outgoing {
            secret: core.unseal(&aad(&c.uid, PENDING), &left.sealed).await?,
            public_key: left.public_key,
            resumed: true,
        },
        None => {
            let policy = policy.as_ref().ok_or_else(|| ApiError::bad_request("no policy applies any more"))?;
            let (secret, public_key) = lease.hold(core, generate(c.kind, policy)).await?;
            let sealed = core.seal(&aad(&c.uid, PENDING), secret.as_bytes());
            if !core.store.store_pending_rotation(id, lease.until, sealed, &public_key).await? {
                tracing::warn!(credential.id = id, "rotation claim lost before the change; its holder goes on");
                return Ok(false);
            }
            Outgoing { secret: Zeroizing::new(secret.as_bytes().to_vec()), public_key, resumed: false }
        }
    };
    let target = ChangeTarget {
        credential_id: c.id,
        identifier: c.identifier.clone(),
        kind: c.kind,
        username: c.username.clone(),
        hostname: device.hostname.clone(),
        ip: device.ip.clone(),
        public_key: outgoing.public_key.clone(),
    };
    let status = match lease.hold(core, changer.change(&target, &outgoing.secret)).await {
        Ok(()) => commit(core, id, &outgoing, policy.as_ref()).await?,
        Err(reason) => {
            tracing::warn!(credential.id = id, %reason, "rotation failed; the old value stays current until a retry");
            core.store.fail_rotation(id, &reason, core.now().saturating_add(retry_secs(core))).await?;
            500
        }
    };
    audit_rotation(core, audit, id, status, outgoing.resumed).await?;
    Ok(status == 200)
}

/// A new secret per the policy: (the secret, for SSH keys the public key).
async fn generate(kind: CredentialKind, policy: &Policy) -> ApiResult<(Zeroizing<String>, String)> {
    match kind {
        CredentialKind::Password => Ok((generate_password(policy).map_err(ApiError::bad_request)?, String::new())),
        CredentialKind::SshKey => {
            // RSA key generation takes seconds: keep it off the async workers.
            let algorithm = policy.key_algorithm.clone();
            tokio::task::spawn_blocking(move || generate_key(&algorithm))
                .await
                .map_err(|e| ApiError::internal(&e))?
                .map_err(|e| ApiError::internal(&e))
        }
    }
}

/// Makes the sent value current, now that the device holds it. A row changed meanwhile (an
/// update, a reseal) is read again and the value still goes on top, the other kept as a
/// version; if another process already committed it (its claim outlived ours), nothing is left
/// to do. The status is what the audit records.
async fn commit(core: &Core, id: i64, outgoing: &Outgoing, policy: Option<&Policy>) -> ApiResult<i64> {
    let reason = if outgoing.resumed { "rotation finished after an interruption" } else { "scheduled rotation" };
    for _ in 0..COMMIT_ATTEMPTS {
        let mut c = core.store.find_credential(0, &CredentialKey::Id(id)).await?.credential;
        let Some(left) = core.store.pending_rotation(id).await? else { return Ok(409) };
        if core.unseal(&aad(&c.uid, PENDING), &left.sealed).await? != outgoing.secret {
            return Ok(409);
        }
        let previous = archive(core, &c, "rotation", reason).await?;
        c.secret = Some(core.seal(&aad(&c.uid, "secret"), &outgoing.secret));
        if c.kind == CredentialKind::SshKey {
            c.public_key = outgoing.public_key.clone();
            c.key_passphrase = None;
        }
        let now = core.now();
        c.version += 1;
        c.changed_at = now;
        c.next_rotation_at = policy.and_then(|p| p.rotation_interval).map(|i| now.saturating_add(i));
        match core.store.commit_rotation(&c, &previous, now).await {
            Ok(()) => return Ok(200),
            Err(StoreError::Stale) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    tracing::warn!(
        credential.id = id,
        "rotation not committed: the credential kept changing; the next pass finishes it"
    );
    let retry = core.now().saturating_add(retry_secs(core));
    core.store.fail_rotation(id, "changed during rotation; the next pass finishes it", retry).await?;
    Ok(409)
}

/// Rotations are not requests, but they are audited like them, through the same writer. One
/// that finished what an interrupted one started says so.
async fn audit_rotation(core: &Core, audit: &AuditSink, id: i64, status: i64, resumed: bool) -> ApiResult<()> {
    let detail = if resumed {
        serde_json::json!({"job": "rotation", "reconciled": true})
    } else {
        serde_json::json!({"job": "rotation"})
    };
    let route = format!("/pam/credential/{id}");
    let record = AuditRecord::for_job(core.clock.now_ms(), "ROTATE", route, status, detail);
    audit.record(record).await.map_err(|_| ApiError::unavailable())
}
