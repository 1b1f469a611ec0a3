//! Password policies and where they apply (a credential, a device's credentials, or the
//! credentials with a tag). The CLI and the admin API call these.

use crate::domain::pam::Policy;
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::service::Core;
use crate::service::pam::rotation::{MAX_ROTATION_INTERVAL, due_after, policy_alphabet};
use crate::store::StoreError;

pub const TARGET_KINDS: [&str; 3] = ["credential", "device", "tag"];

pub async fn create(core: &Core, mut policy: Policy) -> ApiResult<Policy> {
    policy.name = policy.name.trim().to_owned();
    if policy.name.is_empty() || policy.name.len() > 100 {
        return Err(ApiError::bad_request("A policy name has 1 to 100 characters."));
    }
    if !(8..=256).contains(&policy.length) {
        return Err(ApiError::bad_request("A policy's length is between 8 and 256."));
    }
    let mins = [policy.lowercase, policy.uppercase, policy.digits, policy.symbols];
    // Each minimum is bounded first, so their sum cannot overflow.
    let required: i64 = mins.iter().map(|m| (*m).clamp(0, 257)).sum();
    if required > policy.length || mins.iter().all(|m| *m < 0) {
        return Err(ApiError::bad_request(
            "The policy's minimum counts exceed its length, or it allows no character class.",
        ));
    }
    policy_alphabet(&policy).map_err(|e| ApiError::bad_request(format!("Policy refused: {e}.")))?;
    let algorithm_ok = policy.key_algorithm == "ed25519"
        || policy
            .key_algorithm
            .strip_prefix("rsa-")
            .and_then(|b| b.parse::<u32>().ok())
            .is_some_and(|b| [2048, 3072, 4096].contains(&b));
    if !algorithm_ok {
        return Err(ApiError::bad_request("key_algorithm is ed25519, rsa-2048, rsa-3072 or rsa-4096."));
    }
    if policy.rotation_interval.is_some_and(|i| !(60..=MAX_ROTATION_INTERVAL).contains(&i)) {
        return Err(ApiError::bad_request(format!(
            "rotation_interval is from 60 to {MAX_ROTATION_INTERVAL} seconds (ten years)."
        )));
    }
    policy.id = core.store.insert_policy(&policy, core.now()).await.map_err(|e| match e {
        StoreError::Conflict => ApiError::conflict(format!("Policy '{}' already exists.", policy.name)),
        other => other.into(),
    })?;
    Ok(policy)
}

pub async fn list(core: &Core) -> ApiResult<Vec<Policy>> {
    Ok(core.store.policies().await?)
}

/// Applies `policy` (or, with `None`, removes the assignment) to a target and reschedules every
/// credential it changes, as one change: on a failure, neither the assignment nor any schedule
/// has changed.
pub async fn assign(core: &Core, policy: Option<&str>, target_kind: &str, target: &str) -> ApiResult<()> {
    if !TARGET_KINDS.contains(&target_kind) {
        return Err(ApiError::bad_request("A policy applies to a credential, a device or a tag."));
    }
    let target = match target_kind {
        "credential" => core
            .store
            .find_credential(0, &crate::domain::pam::CredentialKey::parse(target))
            .await
            .map(|f| f.credential.id.to_string()),
        "device" => core.store.device_by_key(target).await.map(|d| d.id.to_string()),
        _ => Ok(target.trim().to_owned()),
    }
    .or_not_found(|| ApiError::not_found(format!("{target_kind} '{target}' not found.")))?;
    let policy_id = match policy {
        Some(name) => Some(
            core.store
                .policy_by_name(name.trim())
                .await
                .or_not_found(|| ApiError::not_found(format!("Policy '{name}' not found.")))?
                .id,
        ),
        None => None,
    };
    core.store.assign_policy(target_kind, &target, policy_id, due_after).await?;
    Ok(())
}
