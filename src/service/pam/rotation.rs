//! Automatic rotation: password policies, the schedule, and the job that rotates what is due.
//!
//! The job itself (claims, the value stored before the device changes, reconciling after a
//! crash) is in `rotation/job.rs`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::crypto::fill_random;
use crate::domain::pam::Policy;
use crate::domain::pam::{Credential, CredentialKind, Device};
use crate::error::ApiResult;
use crate::service::Core;
use crate::store::pam::policies::PolicyCandidates;

mod job;

pub use job::{RotationReport, run_due};

const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest rotation interval a policy may set (ten years), so schedules never overflow.
pub const MAX_ROTATION_INTERVAL: i64 = 10 * 366 * 24 * 3600;

/// What a changer is told about the target; never the old or new secret.
pub struct ChangeTarget {
    pub credential_id: i64,
    pub identifier: String,
    pub kind: CredentialKind,
    pub username: String,
    pub hostname: String,
    pub ip: String,
    /// For SSH keys: the new public key.
    pub public_key: String,
}

/// Sets a new secret on the target system.
pub trait SecretChanger: Send + Sync {
    fn change<'a>(
        &'a self,
        target: &'a ChangeTarget,
        new_secret: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The first changer: runs a configured command with the new secret on stdin (never on the
/// command line, never logged) and the target in `COFRE_*` environment variables.
pub struct CommandChanger {
    pub program: String,
    pub args: Vec<String>,
}

impl CommandChanger {
    /// `command` is split on whitespace: a program and its arguments.
    pub fn from_config(command: &str) -> Option<Self> {
        let mut words = command.split_whitespace().map(str::to_owned);
        let program = words.next()?;
        Some(Self { program, args: words.collect() })
    }
}

impl SecretChanger for CommandChanger {
    fn change<'a>(
        &'a self,
        target: &'a ChangeTarget,
        new_secret: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut child = crate::service::external_command::scrubbed(&self.program, &self.args)
                .env("COFRE_CREDENTIAL_ID", target.credential_id.to_string())
                .env("COFRE_CREDENTIAL_IDENTIFIER", &target.identifier)
                .env("COFRE_CREDENTIAL_KIND", target.kind.as_str())
                .env("COFRE_USERNAME", &target.username)
                .env("COFRE_HOSTNAME", &target.hostname)
                .env("COFRE_IP", &target.ip)
                .env("COFRE_PUBLIC_KEY", &target.public_key)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot run the rotation command: {e}"))?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(new_secret).await.map_err(|e| format!("cannot pass the secret: {e}"))?;
            }
            match tokio::time::timeout(CHANGE_TIMEOUT, child.wait()).await {
                Ok(Ok(status)) if status.success() => Ok(()),
                Ok(Ok(status)) => Err(format!("the rotation command failed ({status})")),
                Ok(Err(e)) => Err(format!("the rotation command failed: {e}")),
                Err(_) => Err("the rotation command timed out after 60 s".into()),
            }
        })
    }
}

fn tags(c: &Credential) -> Vec<&str> {
    c.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect()
}

pub async fn policy_for(core: &Core, c: &Credential, device: &Device) -> ApiResult<Option<Policy>> {
    Ok(core.store.effective_policy(c.id, device.id, &tags(c)).await?)
}

/// When the credential is next due, from its effective policy and last change.
pub async fn next_rotation(core: &Core, c: &Credential, device: &Device, now: i64) -> ApiResult<Option<i64>> {
    let candidates = core.store.policy_candidates(c.id, device.id).await?;
    Ok(next_rotation_under(&candidates, c, now))
}

/// The same, from the policies that may apply, read beforehand (by a change that holds a lock).
pub fn next_rotation_under(candidates: &PolicyCandidates, c: &Credential, now: i64) -> Option<i64> {
    let policy = candidates.effective(&tags(c));
    policy.and_then(|p| p.rotation_interval).map(|interval| c.changed_at.min(now).saturating_add(interval))
}

/// Whether releasing custody should rotate the credential.
pub async fn after_custody(core: &Core, c: &Credential, device: &Device) -> ApiResult<bool> {
    Ok(policy_for(core, c, device).await?.is_some_and(|p| p.rotate_after_custody))
}

/// When a credential falls due after policies or assignments change: its policy's interval
/// (if any) after its last change.
pub fn due_after(changed_at: i64, interval: Option<i64>) -> Option<i64> {
    interval.map(|interval| changed_at.saturating_add(interval))
}

/// The characters a policy leaves for each class it allows, with the class's minimum count;
/// refused when a required class, or the policy as a whole, has no usable character left.
pub fn policy_alphabet(policy: &Policy) -> Result<Vec<(Vec<char>, i64)>, String> {
    const CLASSES: [(&str, &str); 4] = [
        ("lowercase", "abcdefghijklmnopqrstuvwxyz"),
        ("uppercase", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ("digits", "0123456789"),
        ("symbols", "!#$%&()*+,-./:;<=>?@[]^_{|}~"),
    ];
    let mins = [policy.lowercase, policy.uppercase, policy.digits, policy.symbols];
    let mut classes = Vec::new();
    for ((name, set), min) in CLASSES.into_iter().zip(mins) {
        let usable: Vec<char> = set.chars().filter(|c| !policy.exclude.contains(*c)).collect();
        if usable.is_empty() && min > 0 {
            return Err(format!("the policy requires {name} but excludes every one of them"));
        }
        if !usable.is_empty() && min >= 0 {
            classes.push((usable, min));
        }
    }
    if classes.is_empty() {
        return Err("the policy leaves no character to make a password from".into());
    }
    Ok(classes)
}

/// A password drawn from the OS CSPRNG that meets the policy's minimum counts per class.
pub fn generate_password(policy: &Policy) -> Result<Zeroizing<String>, String> {
    let classes = policy_alphabet(policy)?;
    let all: Vec<char> = classes.iter().flat_map(|(set, _)| set.iter().copied()).collect();
    let pick = |set: &[char]| -> char {
        // Rejection sampling keeps the choice uniform.
        let bound = u32::try_from(set.len()).unwrap_or(1);
        let zone = u32::MAX - (u32::MAX % bound);
        loop {
            let mut b = [0u8; 4];
            fill_random(&mut b);
            let v = u32::from_le_bytes(b);
            if v < zone {
                return set[(v % bound) as usize];
            }
        }
    };
    let length = usize::try_from(policy.length.max(1)).unwrap_or(24);
    let mut chars: Vec<char> = Vec::with_capacity(length);
    for (set, min) in &classes {
        for _ in 0..usize::try_from(*min).unwrap_or(0) {
            chars.push(pick(set));
        }
    }
    while chars.len() < length {
        chars.push(pick(&all));
    }
    // Fisher-Yates, so the required characters are not all at the front.
    for i in (1..chars.len()).rev() {
        let j = {
            let mut b = [0u8; 4];
            fill_random(&mut b);
            (u32::from_le_bytes(b) as usize) % (i + 1)
        };
        chars.swap(i, j);
    }
    let password = Zeroizing::new(chars.iter().collect::<String>());
    chars.iter_mut().for_each(|c| *c = '\0');
    Ok(password)
}

/// A new SSH key pair per the policy (`ed25519`, or `rsa-<bits>`): (OpenSSH private, public).
pub fn generate_key(algorithm: &str) -> Result<(Zeroizing<String>, String), String> {
    use ssh_key::{Algorithm, LineEnding, PrivateKey};
    let mut rng = rand_core::OsRng;
    let key = match algorithm.strip_prefix("rsa-") {
        Some(bits) => {
            let bits: usize = bits.parse().map_err(|_| format!("bad RSA size in {algorithm:?}"))?;
            let pair = ssh_key::private::RsaKeypair::random(&mut rng, bits).map_err(|e| e.to_string())?;
            PrivateKey::from(pair)
        }
        None => PrivateKey::random(&mut rng, Algorithm::Ed25519).map_err(|e| e.to_string())?,
    };
    let private = key.to_openssh(LineEnding::LF).map_err(|e| e.to_string())?;
    let public = key.public_key().to_openssh().map_err(|e| e.to_string())?;
    Ok((Zeroizing::new(private.to_string()), public))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(length: i64, mins: [i64; 4], exclude: &str) -> Policy {
        Policy {
            id: 1,
            name: "p".into(),
            length,
            lowercase: mins[0],
            uppercase: mins[1],
            digits: mins[2],
            symbols: mins[3],
            exclude: exclude.into(),
            key_algorithm: "ed25519".into(),
            rotation_interval: Some(60),
            rotate_after_custody: false,
        }
    }

    #[test]
    fn passwords_meet_the_policy() {
        for _ in 0..200 {
            let p = generate_password(&policy(16, [2, 2, 2, 2], "0O1lI")).expect("usable");
            assert_eq!(p.chars().count(), 16);
            assert!(p.chars().filter(char::is_ascii_lowercase).count() >= 2);
            assert!(p.chars().filter(char::is_ascii_uppercase).count() >= 2);
            assert!(p.chars().filter(char::is_ascii_digit).count() >= 2);
            assert!(p.chars().filter(|c| !c.is_ascii_alphanumeric()).count() >= 2);
            assert!(!p.contains(['0', 'O', '1', 'l', 'I']));
        }
        let digits_only = generate_password(&policy(8, [-1, -1, 8, -1], "")).expect("usable");
        assert!(digits_only.chars().all(|c| c.is_ascii_digit()), "{}", digits_only.as_str());
    }

    #[test]
    fn a_policy_without_usable_characters_is_refused_not_a_panic() {
        assert!(generate_password(&policy(8, [-1, -1, 0, -1], "0123456789")).is_err());
        assert!(generate_password(&policy(8, [0, 0, 2, 0], "0123456789")).is_err(), "digits required, all excluded");
        assert!(generate_password(&policy(8, [0, -1, -1, -1], "0123456789")).is_ok());
    }

    #[test]
    fn keys_are_generated_as_openssh() {
        let (private, public) = generate_key("ed25519").expect("ed25519");
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(public.starts_with("ssh-ed25519 "));
    }
}
