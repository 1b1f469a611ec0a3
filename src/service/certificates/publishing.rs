//! Publication (§13.2 `cert/perfil/{type}`, `cert/publicar`): a profile names a credential and
//! devices; publishing hands the certificate, its chain and its key to the publisher once per
//! device and records each outcome. The first publisher runs the configured command with the
//! material on stdin and the device and credential in its environment (never on its command
//! line, never logged), killed after the configured time. A failed device keeps what it had.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use zeroize::Zeroizing;

use super::imports::by_id;
use super::signing::TABLE;
use super::{key_aad, require_change, require_read};
use crate::crypto::cipher::Aad;
use crate::domain::authorization::{Caller, Resource};
use crate::domain::certificates::Certificate;
use crate::domain::certificates::publishing::{NewProfile, Profile, ProfileKind, Publication};
use crate::domain::pam::{CredentialKey, Device};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::access::require_resource;
use crate::service::pam::reveal::current_password;
use crate::store::StoreError;
use crate::store::certificates::publishing::NewPublication;

/// Everything one device's installation needs. Debug never shows the secrets.
pub struct PublishJob {
    pub profile_kind: ProfileKind,
    pub profile_name: String,
    pub device_id: i64,
    pub hostname: String,
    pub ip: String,
    pub username: String,
    pub password: Zeroizing<String>,
    pub certificate_id: i64,
    pub serial: String,
    /// Certificate, chain and private key, PEM.
    pub material: Zeroizing<String>,
    pub key_db_path: Option<String>,
    pub key_db_password: Option<Zeroizing<String>>,
    pub label: Option<String>,
}

/// Installs a certificate on one device.
pub trait Publisher: Send + Sync {
    fn publish<'a>(&'a self, job: &'a PublishJob) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The configured command, once per device.
pub struct CommandPublisher {
    program: String,
    args: Vec<String>,
    timeout: Duration,
}

impl CommandPublisher {
    /// None when no command is configured.
    pub fn from_config(core: &Core) -> Option<Self> {
        let mut words = core.config.certificate_publish_command.split_whitespace().map(str::to_owned);
        let program = words.next()?;
        let timeout = Duration::from_secs(core.config.certificate_publish_timeout);
        Some(Self { program, args: words.collect(), timeout })
    }
}

impl Publisher for CommandPublisher {
    fn publish<'a>(&'a self, job: &'a PublishJob) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut command = crate::service::external_command::scrubbed(&self.program, &self.args);
            command
                .env("COFRE_PROFILE_TYPE", job.profile_kind.as_str())
                .env("COFRE_PROFILE_NAME", &job.profile_name)
                .env("COFRE_DEVICE_ID", job.device_id.to_string())
                .env("COFRE_DEVICE_HOSTNAME", &job.hostname)
                .env("COFRE_DEVICE_IP", &job.ip)
                .env("COFRE_CREDENTIAL_USERNAME", &job.username)
                .env("COFRE_CREDENTIAL_PASSWORD", job.password.as_str())
                .env("COFRE_CERTIFICATE_ID", job.certificate_id.to_string())
                .env("COFRE_CERTIFICATE_SERIAL", &job.serial);
            if let Some(path) = &job.key_db_path {
                command.env("COFRE_KEY_DB_PATH", path);
            }
            if let Some(password) = &job.key_db_password {
                command.env("COFRE_KEY_DB_PASSWORD", password.as_str());
            }
            if let Some(label) = &job.label {
                command.env("COFRE_LABEL", label);
            }
            let mut child = command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot run the publish command: {e}"))?;
            let seconds = self.timeout.as_secs();
            let run = async {
                if let Some(mut stdin) = child.stdin.take() {
                    // A command that exits without reading is judged by its exit status.
                    let _ = stdin.write_all(job.material.as_bytes()).await;
                }
                child.wait().await
            };
            match tokio::time::timeout(self.timeout, run).await {
                Ok(Ok(status)) if status.success() => Ok(()),
                Ok(Ok(status)) => Err(format!("the publish command failed ({status})")),
                Ok(Err(e)) => Err(format!("the publish command failed: {e}")),
                Err(_) => Err(format!("the publish command timed out after {seconds} s")),
            }
        })
    }
}

pub struct ProfileInput {
    pub kind: String,
    pub name: Option<String>,
    pub credential: Option<String>,
    pub devices: Vec<String>,
    pub key_db_path: Option<String>,
    pub key_db_password: Option<Zeroizing<String>>,
    pub label: Option<String>,
}

fn profile_aad<'a>(row: &'a str) -> Aad<'a> {
    Aad::new("certificate_publish_profiles", row, "key_db_password")
}

fn profile_row(application_id: i64, name: &str) -> String {
    format!("{application_id}:{name}")
}

fn id_param(raw: &str, name: &str) -> ApiResult<i64> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Parameter '{name}' must name an item by its numeric id.")))
}

/// The devices the caller can see, of those named (by id or hostname).
async fn caller_devices(core: &Core, caller: &Caller, named: &[String]) -> ApiResult<Vec<Device>> {
    let visible = core.store.visible_devices(caller.authorization.id).await?;
    named
        .iter()
        .map(|n| {
            let n = n.trim();
            visible
                .iter()
                .find(|d| d.id.to_string() == n || d.hostname.eq_ignore_ascii_case(n))
                .cloned()
                .ok_or_else(|| ApiError::bad_request(format!("Device {n:?} does not exist or is not yours to use.")))
        })
        .collect()
}

/// Creates or replaces the application's profile of this name. Its credential and devices must
/// be ones the caller may use in PAM.
pub async fn save_profile(core: &Core, caller: &Caller, input: ProfileInput) -> ApiResult<(Profile, bool)> {
    require_change(caller)?;
    require_resource(caller, Resource::Pam)?;
    let kind = ProfileKind::parse(&input.kind)
        .ok_or_else(|| ApiError::not_found("Publishing profiles are apache, iis, bigip or was."))?;
    let name = input.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let name = name.ok_or_else(|| ApiError::bad_request("Parameter 'nome_perfil' is required."))?;
    if name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request("Parameter 'nome_perfil' must be at most 128 characters."));
    }
    let credential =
        input.credential.ok_or_else(|| ApiError::bad_request("Parameter 'codigo_credencial' is required."))?;
    let credential_id = id_param(&credential, "codigo_credencial")?;
    let found = core.store.find_credential(caller.authorization.id, &CredentialKey::Id(credential_id)).await;
    match found {
        Ok(f) if f.visible => {}
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(ApiError::bad_request(format!(
                "Credential {credential_id} does not exist or is not yours to use."
            )));
        }
        Err(e) => return Err(e.into()),
    }
    if input.devices.is_empty() || input.devices.len() > 100 {
        return Err(ApiError::bad_request("Parameter 'dispositivos' must list 1 to 100 devices."));
    }
    let mut devices: Vec<i64> = caller_devices(core, caller, &input.devices).await?.iter().map(|d| d.id).collect();
    devices.sort_unstable();
    devices.dedup();
    let was = kind == ProfileKind::Was;
    let trimmed = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let (key_db_path, label) = (trimmed(input.key_db_path), trimmed(input.label));
    if was && (key_db_path.is_none() || label.is_none()) {
        return Err(ApiError::bad_request("A WAS profile needs 'key_db_path', 'key_db_password' and 'label'."));
    }
    let application_id = caller.authorization.application_id;
    let row = profile_row(application_id, &name);
    let key_db_password = match input.key_db_password.filter(|p| !p.is_empty()) {
        Some(p) if was => Some(core.seal(&profile_aad(&row), p.as_bytes())),
        Some(_) => return Err(ApiError::bad_request("Only a WAS profile takes 'key_db_password'.")),
        None if was => {
            return Err(ApiError::bad_request("A WAS profile needs 'key_db_path', 'key_db_password' and 'label'."));
        }
        None => None,
    };
    let new = NewProfile {
        application_id,
        authorization_id: caller.authorization.id,
        kind,
        name,
        credential_id,
        devices,
        key_db_path: if was { key_db_path } else { None },
        key_db_password,
        label: if was { label } else { None },
    };
    Ok(core.store.upsert_publish_profile(&new, core.now()).await?)
}

pub struct PublishInput {
    pub certificate: Option<String>,
    pub profile: Option<String>,
    pub reason: Option<String>,
    /// A subset of the profile's devices; all of them when empty.
    pub devices: Vec<String>,
}

/// Publishes one of the caller's certificates with one of its profiles.
pub async fn publish(
    core: &Core,
    caller: &Caller,
    publisher: Option<&dyn Publisher>,
    input: PublishInput,
) -> ApiResult<Vec<Publication>> {
    require_change(caller)?;
    let certificate =
        input.certificate.ok_or_else(|| ApiError::bad_request("Parameter 'codigo_certificado' is required."))?;
    let profile =
        input.profile.ok_or_else(|| ApiError::bad_request("Parameter 'codigo_perfil_publicacao' is required."))?;
    let reason = input.reason.map(|r| r.trim().chars().take(255).collect::<String>()).filter(|r| !r.is_empty());
    let reason = reason.ok_or_else(|| ApiError::bad_request("Parameter 'motivo' is required."))?;
    let application_id = caller.authorization.application_id;
    let certificate = by_id(core, application_id, id_param(&certificate, "codigo_certificado")?).await?;
    let profile_id = id_param(&profile, "codigo_perfil_publicacao")?;
    let (profile, _) = core
        .store
        .publish_profile(Some(application_id), profile_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Publishing profile not found."))?;
    let devices = if input.devices.is_empty() {
        profile.devices.clone()
    } else {
        let chosen = caller_devices(core, caller, &input.devices).await?;
        if let Some(d) = chosen.iter().find(|d| !profile.devices.contains(&d.id)) {
            return Err(ApiError::bad_request(format!("Device {} is not in the publishing profile.", d.hostname)));
        }
        chosen.iter().map(|d| d.id).collect()
    };
    let publisher = publisher.ok_or_else(|| {
        ApiError::bad_request("Publishing needs a publisher: this server has no certificate_publish_command set.")
    })?;
    publish_to(core, publisher, &certificate, profile_id, &devices, &reason).await
}

/// Hands `certificate` to `publisher` for each of `devices` of the profile and records each.
async fn publish_to(
    core: &Core,
    publisher: &dyn Publisher,
    certificate: &Certificate,
    profile_id: i64,
    devices: &[i64],
    reason: &str,
) -> ApiResult<Vec<Publication>> {
    let (profile, sealed_db_password) = core
        .store
        .publish_profile(None, profile_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Publishing profile not found."))?;
    let material = material(core, certificate).await?;
    let key_db_password = match &sealed_db_password {
        Some(sealed) => {
            let row = profile_row(profile.application_id, &profile.name);
            let bytes = core.unseal(&profile_aad(&row), sealed).await?;
            Some(Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|e| ApiError::internal(&e))?))
        }
        None => None,
    };
    // The credential as the profile's maker sees it now: unlinked since, it is refused.
    let credential = core
        .store
        .find_credential(profile.authorization_id, &CredentialKey::Id(profile.credential_id))
        .await
        .ok()
        .filter(|f| f.visible);
    let login = match &credential {
        Some(found) => Ok((
            found.credential.username.clone(),
            current_password(core, profile.authorization_id, &found.credential).await,
        )),
        None => Err("the profile's credential is gone or no longer visible to it".to_owned()),
    };
    let mut outcomes = Vec::with_capacity(devices.len());
    for &device_id in devices {
        let device = core.store.device(device_id).await;
        let hostname = device.as_ref().map(|d| d.hostname.clone()).unwrap_or_else(|_| device_id.to_string());
        // The publisher reaches the device for cofre: only where `target_networks` allows.
        let refused = match &device {
            Ok(d) => core.targets.refuses_any(&[&d.ip, &d.hostname], 0).await,
            Err(_) => None,
        }
        .map(|refused| format!("cofre may not publish to this device: {refused}"));
        let result = match (&device, &login, refused) {
            (_, _, Some(why)) => Err(why),
            (Err(_), _, _) => Err("the device no longer exists".to_owned()),
            (_, Err(why), _) => Err(why.clone()),
            (_, Ok((_, Err(e))), _) => Err(format!("the credential cannot be read: {}", e.message)),
            (Ok(device), Ok((username, Ok(password))), None) => {
                let job = PublishJob {
                    profile_kind: profile.kind,
                    profile_name: profile.name.clone(),
                    device_id,
                    hostname: device.hostname.clone(),
                    ip: device.ip.clone(),
                    username: username.clone(),
                    password: password.clone(),
                    certificate_id: certificate.id,
                    serial: certificate.serial.clone(),
                    material: material.clone(),
                    key_db_path: profile.key_db_path.clone(),
                    key_db_password: key_db_password.clone(),
                    label: profile.label.clone(),
                };
                publisher.publish(&job).await
            }
        };
        let record = NewPublication {
            certificate_id: certificate.id,
            profile_id,
            device_id,
            hostname: &hostname,
            error: result.as_ref().err().map(String::as_str),
            reason: Some(reason),
        };
        outcomes.push(core.store.insert_publication(&record, core.now()).await?);
    }
    Ok(outcomes)
}

/// Certificate, chain and private key in PEM: what a web server installs.
async fn material(core: &Core, certificate: &Certificate) -> ApiResult<Zeroizing<String>> {
    let (_, secrets) = core
        .store
        .certificate_with_secrets(Some(certificate.application_id), certificate.id)
        .await?
        .ok_or_else(|| ApiError::not_found("Certificate not found."))?;
    let sealed = secrets
        .sealed_key
        .ok_or_else(|| ApiError::bad_request("This certificate has no private key in cofre to publish with it."))?;
    let der = core.unseal(&key_aad(TABLE, &certificate.uid), &sealed).await?;
    let key = pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()));
    let key = Zeroizing::new(key);
    Ok(Zeroizing::new(format!("{}{}{}", certificate.certificate_pem, certificate.chain_pem, key.as_str())))
}

/// After an automatic renewal: the replacement goes wherever the old certificate is installed,
/// the devices where a publication of it succeeded (a later failure left it in place).
pub async fn republish(
    core: &Core,
    publisher: &dyn Publisher,
    old: i64,
    new: &Certificate,
) -> ApiResult<Vec<Publication>> {
    let mut installed: Vec<(i64, i64)> = core
        .store
        .publications(old)
        .await?
        .iter()
        .filter(|p| p.succeeded)
        .map(|p| (p.profile_id, p.device_id))
        .collect();
    installed.sort_unstable();
    installed.dedup();
    let mut outcomes = Vec::new();
    for chunk in installed.chunk_by(|a, b| a.0 == b.0) {
        let devices: Vec<i64> = chunk.iter().map(|(_, device)| *device).collect();
        let reason = format!("automatic renewal of certificate {old}");
        outcomes.extend(publish_to(core, publisher, new, chunk[0].0, &devices, &reason).await?);
    }
    Ok(outcomes)
}

/// The publications of one of the caller's certificates.
pub async fn list(core: &Core, caller: &Caller, certificate_id: i64) -> ApiResult<Vec<Publication>> {
    require_read(caller)?;
    by_id(core, caller.authorization.application_id, certificate_id).await?;
    Ok(core.store.publications(certificate_id).await?)
}
