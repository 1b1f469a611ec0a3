//! SSH keys (§5): create or update, read, enable, disable. Private key and passphrase are
//! sealed, the key as sent (OpenSSH, PKCS#1, SEC1 or PKCS#8); the public key must match it.
//! A key may carry `session_settings` (sealed, as a password credential's), e.g. `ssh_exec`.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::domain::authorization::{Caller, Resource};
use crate::domain::identifier::{generate_identifier, parse_identifier};
use crate::domain::pam::FoundCredential;
use crate::domain::pam::{Credential, CredentialKey, CredentialKind, CredentialSettings, Device};
use crate::error::{ApiError, ApiResult, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::service::pam::credentials::expiration;
use crate::service::pam::devices::invalid_identifier;
use crate::service::pam::history::archive;
use crate::service::pam::lookup::{device_for, existing_for_upsert, no_access};
use crate::service::pam::rotation;
use crate::service::pam::sealing::aad;
use crate::service::pam::settings::{open_settings, seal_settings, validate_settings};
use crate::service::required::Required;
use crate::store::StoreError;
use crate::store::pam::credentials::Version;
use crate::store::pam::policies::PolicyCandidates;

fn not_found() -> ApiError {
    ApiError::business(codes::SSH_KEY_NOT_FOUND, "SSH key not found")
}
fn not_a_key() -> ApiError {
    ApiError::business(codes::NOT_AN_SSH_KEY, "The item is not a ssh key")
}
fn inactive() -> ApiError {
    ApiError::business(codes::SSH_KEY_INACTIVE, "Key inactive")
}

#[derive(Default)]
pub struct KeyInput {
    pub identifier: Option<String>,
    pub hostname: Option<String>,
    pub ip: Option<String>,
    pub private_key: Option<Zeroizing<String>>,
    pub public_key: Option<String>,
    pub username: Option<String>,
    pub enabled: Option<bool>,
    pub devices: Vec<String>,
    pub tags: Option<String>,
    pub key_name: Option<String>,
    pub passphrase: Option<Zeroizing<String>>,
    pub expiration_time: Option<String>,
    /// Replaces the key's session settings when given.
    pub session_settings: Option<Map<String, Value>>,
}

pub struct SavedKey {
    pub credential: Credential,
    pub devices: Vec<(String, String)>,
    pub devices_error: Vec<String>,
}

/// Checks that `public` (OpenSSH format; comments ignored) is the public half of `private`, in
/// any format `ssh_private_key` reads; `passphrase` opens an encrypted private key.
pub fn check_pair(private: &str, public: &str, passphrase: Option<&str>) -> ApiResult<()> {
    let derived = crate::crypto::ssh_private_key::public_key_of(private, passphrase)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let public = ssh_key::PublicKey::from_openssh(public.trim())
        .map_err(|_| ApiError::bad_request("The public_key is not an OpenSSH public key (e.g. ssh-ed25519 AAAA…)."))?;
    if derived != *public.key_data() {
        return Err(ApiError::bad_request("The public_key does not match the private_key."));
    }
    Ok(())
}

fn missing(code: u16, what: &str) -> ApiError {
    ApiError::business(code, &format!("The {what} was not informed"))
}

pub async fn upsert(core: &Core, caller: &Caller, input: KeyInput) -> ApiResult<SavedKey> {
    require_write(caller, Resource::Pam)?;
    let mut required = Required::new();
    let ip = required.text(input.ip, || missing(codes::DEVICE_IP_NOT_INFORMED, "device's IP"));
    let hostname = required.text(input.hostname, || missing(codes::DEVICE_HOSTNAME_NOT_INFORMED, "device's hostname"));
    // The private key stays in its zeroizing buffer; only its blankness is checked here.
    let private_key = input.private_key.filter(|k| !k.trim().is_empty());
    required.check(private_key.is_some(), || missing(codes::SSH_PRIVATE_KEY_NOT_INFORMED, "private key"));
    let public_key = required.text(input.public_key, || missing(codes::SSH_PUBLIC_KEY_NOT_INFORMED, "public key"));
    required.done()?;
    let private_key = private_key.unwrap_or_default();
    // Decrypting a key runs its KDF: keep that off the async workers.
    let (private, public, passphrase) = (private_key.clone(), public_key.clone(), input.passphrase.clone());
    tokio::task::spawn_blocking(move || check_pair(&private, &public, passphrase.as_deref().map(|p| p.as_str())))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    let identifier = parse_identifier(input.identifier.as_deref()).map_err(|_| invalid_identifier())?;
    validate_settings(&CredentialSettings { session: input.session_settings.clone(), ..Default::default() })?;
    let username =
        input.username.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).unwrap_or_else(|| "usr".to_owned());
    let device = device_for(core, &hostname, &ip).await?;
    let mut extra = Vec::new();
    let mut devices_error = Vec::new();
    for host in input.devices.iter().map(|h| h.trim()).filter(|h| !h.is_empty() && *h != hostname) {
        match core.store.device_by_hostname(host).await {
            Ok(d) => extra.push(d.id),
            Err(StoreError::NotFound) => devices_error.push(host.to_owned()),
            Err(e) => return Err(e.into()),
        }
    }
    let changes = KeyChanges {
        identifier: identifier.clone(),
        private_key,
        public_key,
        passphrase: input.passphrase,
        tags: input.tags,
        key_name: input.key_name,
        expiration_time: expiration(input.expiration_time)?,
        enabled: input.enabled,
        session_settings: input.session_settings,
    };
    // The key and its devices are one change. An existing key is updated as it is once the
    // change has locked it: concurrent upserts of one key apply one after the other, each
    // making the key it replaces a version. Two first upserts of a key may both insert: the
    // loser's change is dropped, and it updates what the winner created.
    for _ in 0..2 {
        let existing =
            existing_for_upsert(core, caller, identifier.as_deref(), device.id, &username, CredentialKind::SshKey)
                .await?;
        let now = core.now();
        let credential = match existing {
            Some(found) if !found.writable => return Err(no_access()),
            Some(found) if found.credential.kind != CredentialKind::SshKey => return Err(not_a_key()),
            Some(found) => {
                // Read before the change: once it holds its lock, it reads only through itself.
                let policies = core.store.policy_candidates(found.credential.id, device.id).await?;
                let mut change = core.store.begin("upsert_ssh_key").await?;
                let current = change.lock_credential(found.credential.id).await?;
                let (c, previous) =
                    updated_key(core, caller, current, &device, &username, &changes, &policies, now).await?;
                match change.save_credential(&c, Some(&previous), now).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => {
                        return Err(no_access().with_reason("identifier held by an item this caller cannot see"));
                    }
                    Err(e) => return Err(e.into()),
                }
                change.set_key_devices(c.id, &extra).await?;
                change.commit().await?;
                c
            }
            None => {
                let mut c = new_key(core, caller, identifier.clone(), &device, &username, &changes, now).await?;
                let mut change = core.store.begin("upsert_ssh_key").await?;
                match change.insert_credential(&c, now).await {
                    Ok(id) => c.id = id,
                    // Created meanwhile by a concurrent upsert: read again and update it.
                    Err(StoreError::Conflict) => continue,
                    Err(e) => return Err(e.into()),
                }
                change.set_key_devices(c.id, &extra).await?;
                change.commit().await?;
                c
            }
        };
        let mut devices = vec![(device.hostname.clone(), device.ip.clone())];
        devices.extend(core.store.key_devices(credential.id).await?);
        return Ok(SavedKey { credential, devices, devices_error });
    }
    Err(no_access().with_reason("identifier held by an item this caller cannot see"))
}

/// What a key upsert sets: the key pair always, the rest when given.
struct KeyChanges {
    /// A new identifier for the key (§3.3, as for passwords: the identifier given is stored).
    identifier: Option<String>,
    private_key: Zeroizing<String>,
    public_key: String,
    passphrase: Option<Zeroizing<String>>,
    tags: Option<String>,
    key_name: Option<String>,
    expiration_time: Option<String>,
    enabled: Option<bool>,
    session_settings: Option<Map<String, Value>>,
}

/// The existing key with the upsert applied, and its current secret archived as a version;
/// only sealing and opening, no reads (it runs while the key is locked).
#[allow(clippy::too_many_arguments)]
async fn updated_key(
    core: &Core,
    caller: &Caller,
    mut c: Credential,
    device: &Device,
    username: &str,
    changes: &KeyChanges,
    policies: &PolicyCandidates,
    now: i64,
) -> ApiResult<(Credential, Version)> {
    let previous =
        archive(core, &c, &format!("authorization {}", caller.authorization.id), "updated through the API").await?;
    c.version += 1;
    c.changed_at = now;
    c.username = username.to_owned();
    c.device_id = device.id;
    c.secret = Some(core.seal(&aad(&c.uid, "secret"), changes.private_key.as_bytes()));
    c.public_key.clone_from(&changes.public_key);
    c.key_passphrase = changes.passphrase.as_ref().map(|p| core.seal(&aad(&c.uid, "key_passphrase"), p.as_bytes()));
    for (slot, given) in [
        (&mut c.identifier, &changes.identifier),
        (&mut c.tags, &changes.tags),
        (&mut c.key_name, &changes.key_name),
        (&mut c.expiration_time, &changes.expiration_time),
    ] {
        if let Some(value) = given {
            slot.clone_from(value);
        }
    }
    c.enabled = changes.enabled.unwrap_or(c.enabled);
    if let Some(session) = &changes.session_settings {
        let mut settings = open_settings(core, &c).await?;
        settings.session = Some(session.clone());
        c.settings = Some(seal_settings(core, &c.uid, &settings));
    }
    c.next_rotation_at = rotation::next_rotation_under(policies, &c, now);
    Ok((c, previous))
}

async fn new_key(
    core: &Core,
    caller: &Caller,
    identifier: Option<String>,
    device: &Device,
    username: &str,
    changes: &KeyChanges,
    now: i64,
) -> ApiResult<Credential> {
    let uid = uuid::Uuid::new_v4().to_string();
    let mut c = Credential {
        id: 0,
        identifier: identifier.unwrap_or_else(generate_identifier),
        kind: CredentialKind::SshKey,
        device_id: device.id,
        username: username.to_owned(),
        secret: Some(core.seal(&aad(&uid, "secret"), changes.private_key.as_bytes())),
        public_key: changes.public_key.clone(),
        key_passphrase: changes.passphrase.as_ref().map(|p| core.seal(&aad(&uid, "key_passphrase"), p.as_bytes())),
        key_name: changes.key_name.clone().unwrap_or_default(),
        additional: String::new(),
        tags: changes.tags.clone().unwrap_or_default(),
        credential_type: "SSH Key".to_owned(),
        domain: String::new(),
        parent_id: None,
        settings: Some(seal_settings(
            core,
            &uid,
            &CredentialSettings { session: changes.session_settings.clone(), ..Default::default() },
        )),
        automatic_change: false,
        expiration_time: changes.expiration_time.clone().unwrap_or_default(),
        version: 1,
        revision: 0,
        enabled: changes.enabled.unwrap_or(true),
        custody_by: None,
        viewed_at: None,
        changed_at: now,
        next_rotation_at: None,
        created_by: caller.authorization.id,
        uid,
    };
    c.next_rotation_at = rotation::next_rotation(core, &c, device, now).await?;
    Ok(c)
}

async fn lookup(core: &Core, caller: &Caller, key: &CredentialKey) -> ApiResult<Option<FoundCredential>> {
    match core.store.find_credential(caller.authorization.id, key).await {
        Ok(found) => Ok(Some(found)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub struct RevealedKey {
    pub found: FoundCredential,
    pub private_key: Zeroizing<String>,
    pub passphrase: Zeroizing<String>,
    pub devices: Vec<(String, String)>,
}

/// A key with its private half and passphrase (or `SSH_KEY_NOT_FOUND`, `NOT_AN_SSH_KEY`,
/// `SSH_KEY_INACTIVE`).
pub async fn reveal(core: &Core, caller: &Caller, key: &str) -> ApiResult<RevealedKey> {
    require_resource(caller, Resource::Pam)?;
    let found = lookup(core, caller, &CredentialKey::parse(key)).await?.filter(|f| f.visible).ok_or_else(not_found)?;
    let c = &found.credential;
    if c.kind != CredentialKind::SshKey {
        return Err(not_a_key());
    }
    if !c.enabled {
        return Err(inactive());
    }
    let (private_key, passphrase) = open_key(core, c).await?;
    let mut devices = vec![(found.device.hostname.clone(), found.device.ip.clone())];
    devices.extend(core.store.key_devices(c.id).await?);
    Ok(RevealedKey { found, private_key, passphrase, devices })
}

/// A key credential's private key and passphrase (empty when it has none), opened.
pub async fn open_key(core: &Core, c: &Credential) -> ApiResult<(Zeroizing<String>, Zeroizing<String>)> {
    Ok((
        open_field(core, c, "secret", c.secret.as_ref()).await?,
        open_field(core, c, "key_passphrase", c.key_passphrase.as_ref()).await?,
    ))
}

async fn open_field(core: &Core, c: &Credential, field: &str, blob: Option<&Vec<u8>>) -> ApiResult<Zeroizing<String>> {
    match blob {
        Some(b) => {
            let bytes = core.unseal(&aad(&c.uid, field), b).await?;
            Ok(Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|e| ApiError::internal(&e))?))
        }
        None => Ok(Zeroizing::new(String::new())),
    }
}

/// PUT enables (`SSH_KEY_ALREADY_ACTIVE`), DELETE disables (`SSH_KEY_INACTIVE`).
pub async fn set_enabled(core: &Core, caller: &Caller, key: &str, enabled: bool) -> ApiResult<i64> {
    require_write(caller, Resource::Pam)?;
    let found = lookup(core, caller, &CredentialKey::parse(key)).await?.ok_or_else(not_found)?;
    if !found.writable {
        return Err(no_access());
    }
    let c = found.credential;
    if c.kind != CredentialKind::SshKey {
        return Err(not_a_key());
    }
    match (enabled, c.enabled) {
        (true, true) => return Err(ApiError::business(codes::SSH_KEY_ALREADY_ACTIVE, "Ssh key is already activated")),
        (false, false) => return Err(inactive()),
        _ => {}
    }
    core.store.set_credential_enabled(c.id, enabled, core.now()).await?;
    Ok(c.id)
}
