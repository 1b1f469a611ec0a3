//! PAM Core values: devices and credentials (passwords and SSH keys).

use serde_json::{Map, Value};
use zeroize::Zeroizing;

#[derive(Clone, Debug, Default)]
pub struct Device {
    pub id: i64,
    pub identifier: String,
    pub hostname: String,
    pub ip: String,
    pub model: String,
    pub device_type: String,
    pub vendor: String,
    pub site: String,
    pub device_domain: String,
    pub connectivities: String,
    pub session_remote_config: String,
    pub device_tags: String,
    pub enabled: bool,
    pub created_by: i64,
    /// Bumped on every change; a write applies only to the revision it read.
    pub revision: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    Password,
    SshKey,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SshKey => "ssh_key",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "ssh_key" { Self::SshKey } else { Self::Password }
    }
}

/// A credential row; `secret`, `key_passphrase` and `settings` are still sealed.
#[derive(Clone, Debug)]
pub struct Credential {
    pub id: i64,
    pub uid: String,
    pub identifier: String,
    pub kind: CredentialKind,
    pub device_id: i64,
    pub username: String,
    pub secret: Option<Vec<u8>>,
    pub public_key: String,
    pub key_passphrase: Option<Vec<u8>>,
    pub key_name: String,
    pub additional: String,
    pub tags: String,
    pub credential_type: String,
    pub domain: String,
    pub parent_id: Option<i64>,
    pub settings: Option<Vec<u8>>,
    pub automatic_change: bool,
    pub expiration_time: String,
    pub version: i64,
    /// Bumped on every change of the row; a write applies only to the revision it read.
    pub revision: i64,
    pub enabled: bool,
    pub custody_by: Option<i64>,
    pub viewed_at: Option<i64>,
    pub changed_at: i64,
    pub next_rotation_at: Option<i64>,
    pub created_by: i64,
}

/// How a path names a credential: numeric id, `username@hostname` (split at the last `@`, so a
/// username may itself hold `@`), or identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialKey {
    Id(i64),
    UserAtHost { username: String, hostname: String },
    Identifier(String),
}

impl CredentialKey {
    pub fn parse(raw: &str) -> Self {
        if let Ok(id) = raw.parse::<i64>() {
            return Self::Id(id);
        }
        match raw.rsplit_once('@') {
            Some((username, hostname)) if !hostname.is_empty() => {
                Self::UserAtHost { username: username.to_owned(), hostname: hostname.to_owned() }
            }
            _ => Self::Identifier(raw.to_owned()),
        }
    }
}

/// The four settings objects a credential carries (§3.3), validated as JSON objects.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CredentialSettings {
    pub execution: Option<Map<String, Value>>,
    pub session: Option<Map<String, Value>>,
    pub additional: Option<Map<String, Value>>,
    pub jit: Option<Map<String, Value>>,
}

pub const SETTINGS_KEYS: [&str; 4] = ["execution_settings", "session_settings", "additional_settings", "jit_settings"];

impl CredentialSettings {
    pub fn get(&self, key: &str) -> Option<&Map<String, Value>> {
        match key {
            "execution_settings" => self.execution.as_ref(),
            "session_settings" => self.session.as_ref(),
            "additional_settings" => self.additional.as_ref(),
            "jit_settings" => self.jit.as_ref(),
            _ => None,
        }
    }

    pub fn slot(&mut self, key: &str) -> Option<&mut Option<Map<String, Value>>> {
        match key {
            "execution_settings" => Some(&mut self.execution),
            "session_settings" => Some(&mut self.session),
            "additional_settings" => Some(&mut self.additional),
            "jit_settings" => Some(&mut self.jit),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        for key in SETTINGS_KEYS {
            out.insert(key.to_owned(), self.get(key).cloned().map_or(Value::Null, Value::Object));
        }
        Value::Object(out)
    }

    pub fn from_value(value: &Value) -> Self {
        let mut settings = Self::default();
        for key in SETTINGS_KEYS {
            if let (Some(slot), Some(Value::Object(map))) = (settings.slot(key), value.get(key)) {
                *slot = Some(map.clone());
            }
        }
        settings
    }

    /// `execution_settings.automatic_change`, as a flag ("1", true, "true").
    pub fn automatic_change(&self) -> bool {
        self.execution.as_ref().and_then(|e| e.get("automatic_change")).is_some_and(|v| match v {
            Value::Bool(b) => *b,
            Value::String(s) => matches!(s.as_str(), "1" | "true" | "yes"),
            Value::Number(n) => n.as_i64() == Some(1),
            _ => false,
        })
    }
}

/// A password policy: how rotation makes passwords and keys, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub id: i64,
    pub name: String,
    pub length: i64,
    pub lowercase: i64,
    pub uppercase: i64,
    pub digits: i64,
    pub symbols: i64,
    pub exclude: String,
    /// `ed25519` or `rsa-<bits>` for SSH keys.
    pub key_algorithm: String,
    /// Seconds; `None` means no scheduled rotation.
    pub rotation_interval: Option<i64>,
    pub rotate_after_custody: bool,
}

/// A related user (§9): a person an application registers and manages.
#[derive(Clone, Debug)]
pub struct RelatedUser {
    pub id: i64,
    pub name: String,
    pub username: String,
    pub enabled: bool,
    pub created_by: i64,
}

/// A credential with its device, and whether the asking authorization may see it and change it.
pub struct FoundCredential {
    pub credential: Credential,
    pub device: Device,
    pub visible: bool,
    pub writable: bool,
}

/// What a credential upsert (§3.3) carries.
#[derive(Default)]
pub struct CredentialInput {
    pub identifier: Option<String>,
    /// `None` when the `username` key was absent (`INVALID_USERNAME`); an empty value becomes "usr".
    pub username: Option<String>,
    pub hostname: Option<String>,
    pub ip: Option<String>,
    pub content: Option<Zeroizing<String>>,
    pub additional: Option<String>,
    pub tags: Option<String>,
    pub credential_type: Option<String>,
    pub domain: Option<String>,
    pub parent_password: Option<String>,
    pub device_domain: Option<String>,
    pub expiration_time: Option<String>,
    /// Only the settings objects the request carried.
    pub settings: CredentialSettings,
}

pub struct Upserted {
    pub credential: Credential,
    pub created: bool,
    pub changed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keys_split_at_the_last_at() {
        assert_eq!(CredentialKey::parse("42"), CredentialKey::Id(42));
        assert_eq!(
            CredentialKey::parse("svc@corp.example@db01"),
            CredentialKey::UserAtHost { username: "svc@corp.example".into(), hostname: "db01".into() }
        );
        assert_eq!(CredentialKey::parse("db-root"), CredentialKey::Identifier("db-root".into()));
        assert_eq!(CredentialKey::parse("trailing@"), CredentialKey::Identifier("trailing@".into()));
    }
}
