//! Human passwords: argon2id, run off the async runtime and bounded by a semaphore so a flood of
//! logins cannot exhaust memory or starve other requests. Unknown users are verified against a
//! dummy hash so both paths take the same time.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// OWASP's argon2id floor: 19 MiB, two passes, one lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    super::fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| HashError)?;
    argon2().hash_password(password, &salt).map(|h| h.to_string()).map_err(|_| HashError)
}

impl PasswordHasher {
    /// At most `concurrency` hashes run at once (each holds ~19 MiB).
    pub fn new(concurrency: usize) -> Self {
        let dummy = hash_now(b"cofre dummy password").unwrap_or_default();
        Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy: dummy.into() }
    }

    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError)?;
        tokio::task::spawn_blocking(move || hash_now(password.as_bytes())).await.map_err(|_| HashError)?
    }

    /// Verifies against `stored`, or against the dummy hash when there is none (unknown user,
    /// or no password set), so that the time taken does not tell which.
    pub async fn verify(&self, password: Zeroizing<String>, stored: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else { return false };
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy.to_string());
        let matched = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        })
        .await
        .unwrap_or(false);
        known && matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash(Zeroizing::new("correct horse".into())).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify(Zeroizing::new("correct horse".into()), Some(hash.clone())).await);
        assert!(!hasher.verify(Zeroizing::new("wrong".into()), Some(hash)).await);
        assert!(!hasher.verify(Zeroizing::new("anything".into()), None).await);
    }
}
