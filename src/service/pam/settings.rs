//! The settings objects of a credential (§3.3): validation of the fields the contract
//! constrains, and sealing (they may hold secrets such as a TOTP seed).

use serde_json::Value;
use zeroize::Zeroizing;

use crate::domain::pam::{Credential, CredentialSettings, SETTINGS_KEYS};
use crate::error::{ApiError, ApiResult, codes};
use crate::service::Core;
use crate::service::pam::sealing::aad;

/// Checks the settings objects' fields that the contract constrains.
pub fn validate_settings(settings: &CredentialSettings) -> ApiResult<()> {
    let truthy = |map: &serde_json::Map<String, Value>, key: &str| {
        map.get(key).is_some_and(|v| {
            matches!(v, Value::Bool(true)) || matches!(v.as_str(), Some("1" | "true")) || v.as_i64() == Some(1)
        })
    };
    let present = |map: &serde_json::Map<String, Value>, key: &str| {
        map.get(key).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty())
    };
    if let Some(jit) = &settings.jit {
        if truthy(jit, "jit") {
            let mut operations = Vec::new();
            if truthy(jit, "credential_creation_and_deletion") {
                operations.extend(["creation", "deletion"]);
            }
            if truthy(jit, "enable_disable_credential") {
                operations.extend(["enable", "disable"]);
            }
            for op in operations {
                if !present(jit, &format!("credential_{op}_plugin")) {
                    return Err(ApiError::business(codes::PLUGIN_NOT_INFORMED, "Plugin not informed"));
                }
                if !present(jit, &format!("credential_{op}_template")) {
                    return Err(ApiError::business(
                        codes::TEMPLATE_PLUGIN_NOT_INFORMED,
                        "Template plugin not informed",
                    ));
                }
            }
        }
    }
    for (name, map) in [("execution_settings", &settings.execution), ("session_settings", &settings.session)] {
        if let Some(map) = map {
            if map.contains_key("use_own_credential_to_connect") && !truthy(map, "use_own_credential_to_connect") {
                for field in ["authentication_credential", "authentication_hostname", "authentication_ip"] {
                    if !present(map, field) {
                        return Err(ApiError::bad_request(format!(
                            "{name}.{field} is required when use_own_credential_to_connect is false."
                        )));
                    }
                }
            }
        }
    }
    if let Some(criticality) = settings.additional.as_ref().and_then(|a| a.get("criticality")) {
        if !matches!(criticality.as_str(), Some("Low" | "Medium" | "High")) {
            return Err(ApiError::bad_request("additional_settings.criticality must be Low, Medium or High."));
        }
    }
    Ok(())
}

/// Opens the stored settings (they may hold secrets such as a TOTP seed).
pub async fn open_settings(core: &Core, c: &Credential) -> ApiResult<CredentialSettings> {
    match &c.settings {
        Some(blob) => {
            let bytes = core.unseal(&aad(&c.uid, "settings"), blob).await?;
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(&e))?;
            Ok(CredentialSettings::from_value(&value))
        }
        None => Ok(CredentialSettings::default()),
    }
}

pub fn seal_settings(core: &Core, uid: &str, settings: &CredentialSettings) -> Vec<u8> {
    let json = Zeroizing::new(settings.to_value().to_string());
    core.seal(&aad(uid, "settings"), json.as_bytes())
}

/// Replaces the stored objects by the given ones, key by key.
pub fn merge_settings(stored: &mut CredentialSettings, given: CredentialSettings) {
    for key in SETTINGS_KEYS {
        if let (Some(slot), Some(map)) = (stored.slot(key), given.get(key)) {
            *slot = Some(map.clone());
        }
    }
}
