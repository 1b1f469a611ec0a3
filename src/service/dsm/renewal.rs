//! Renewal of DSM secrets: due secrets are claimed with a lease (as rotations are) and their
//! renewable values re-issued by a pluggable issuer, as a new version.

use crate::crypto::fill_random;
use crate::domain::dsm::EntryKind;
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::dsm::secrets::{archived, next_renewal, open_entries, seal_entries};
use crate::store::StoreError;
use crate::store::dsm::secrets::DsmSecretWrite;

const LEASE_SECS: i64 = 300;

/// Re-issues the renewable values of a secret (access keys, passwords).
pub trait SecretIssuer: Send + Sync {
    fn issue(&self, kind: &EntryKind, provider: Option<&str>, field: &str) -> Option<String>;
}

/// The first issuer: fresh random values, generated locally.
pub struct LocalIssuer;

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes);
    bytes.iter().map(|b| alphabet[usize::from(*b) % alphabet.len()] as char).collect()
}

impl SecretIssuer for LocalIssuer {
    fn issue(&self, kind: &EntryKind, provider: Option<&str>, field: &str) -> Option<String> {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        match (kind, field) {
            (EntryKind::AccessKey, "access_key_id") => {
                let prefix = if provider == Some("aws") { "AKIA" } else { "" };
                Some(format!("{prefix}{}", random_from(UPPER, 16)))
            }
            (EntryKind::AccessKey, "secret_access_key") => Some(random_from(BASE62, 40)),
            (EntryKind::Credential, "password") => Some(random_from(BASE62, 24)),
            _ => None,
        }
    }
}

/// Renews every secret due now (by the core's clock); claims keep processes from doubling up.
/// A pass renews each secret at most once, even if its next renewal were already due again.
pub async fn renew_due(core: &Core, issuer: &dyn SecretIssuer) -> ApiResult<Vec<i64>> {
    let mut renewed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let now = core.now();
        let claimed = core.store.claim_due_renewals(now, now + LEASE_SECS, 20).await?;
        let fresh: Vec<i64> = claimed.into_iter().filter(|id| seen.insert(*id)).collect();
        if fresh.is_empty() {
            return Ok(renewed);
        }
        for id in fresh {
            let mut secret = core.store.dsm_secret_by_id(id).await?;
            let mut entries = open_entries(core, &secret).await?;
            for entry in &mut entries {
                let fields = entry.fields.clone();
                for (key, field) in fields {
                    if let Some(value) = issuer.issue(&entry.kind, entry.provider.as_deref(), &field) {
                        entry.values.insert(key, Some(value));
                    }
                }
            }
            let previous = Some(archived(core, &secret).await?);
            secret.version += 1;
            secret.data = seal_entries(core, &secret.uid, &entries)?;
            secret.next_renewal_at = next_renewal(now, secret.renew_minutes);
            // A write that got there first re-scheduled the secret: this renewal is dropped.
            match core.store.write_dsm_secrets(&[DsmSecretWrite { secret, previous }], now).await {
                Ok(()) => renewed.push(id),
                Err(StoreError::Stale) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
