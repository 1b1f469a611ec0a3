//! DevOps Secret Manager (§10): pipelines register their application and get fresh credentials,
//! store and fetch secrets (sealed, versioned), post variables through a mapping, provision pods,
//! and have renewable secrets re-issued on schedule.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::domain::authorization::{Caller, Resource};
use crate::domain::dsm::{DsmApp, DsmSecret};
use crate::domain::dsm::{Entry, EntryKind};
use crate::error::{ApiError, ApiResult, OrNotFound, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::store::change::Change;

const MIN_RENEW_MINUTES: i64 = 10;
/// A year: longer intervals are refused, so `now + minutes * 60` can never overflow.
const MAX_RENEW_MINUTES: i64 = 366 * 24 * 60;

/// When a secret renewed every `minutes` is next due.
pub(super) fn next_renewal(now: i64, minutes: Option<i64>) -> Option<i64> {
    minutes.map(|m| now.saturating_add(m.clamp(MIN_RENEW_MINUTES, MAX_RENEW_MINUTES) * 60))
}

pub fn not_informed(name: &str) -> ApiError {
    ApiError::business(codes::PARAMETER_NOT_INFORMED, &format!("Parameter '{name}' was not informed!"))
}

pub(super) fn data_aad(uid: &str) -> Aad<'_> {
    Aad::new("dsm_secrets", uid, "data")
}

pub(super) fn version_aad(row: &str) -> Aad<'_> {
    Aad::new("dsm_secret_versions", row, "data")
}

/// The DSM application of the calling authorization.
async fn caller_app(core: &Core, caller: &Caller) -> ApiResult<DsmApp> {
    let id = caller.authorization.dsm_application_id.ok_or_else(|| {
        ApiError::bad_request(
            "This authorization belongs to no DSM application: register one with POST /iso/dapp/application.",
        )
        .with_reason("no DSM application")
    })?;
    Ok(core.store.dsm_app(id).await?)
}

/// A secret as served: its stored fields and its data opened into flat string maps.
pub struct SecretView {
    pub secret: DsmSecret,
    pub data: Vec<Map<String, Value>>,
}

fn parse_expiration(value: &str) -> Option<i64> {
    if value.trim().is_empty() {
        return None;
    }
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(value.trim(), format).ok().map(|t| t.assume_utc().unix_timestamp())
}

async fn open(core: &Core, secret: DsmSecret) -> ApiResult<SecretView> {
    let entries = open_entries(core, &secret).await?;
    let now = core.now();
    let ttl = secret.next_renewal_at.map(|at| (at - now).max(0).to_string());
    let data = entries
        .iter()
        .map(|entry| {
            let mut map: Map<String, Value> =
                entry.values.iter().map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String))).collect();
            if entry.kind == EntryKind::AccessKey || (entry.kind == EntryKind::Credential && ttl.is_some()) {
                map.insert("TTL".into(), ttl.clone().map_or(Value::Null, Value::String));
            }
            map
        })
        .collect();
    Ok(SecretView { secret, data })
}

pub(super) async fn open_entries(core: &Core, secret: &DsmSecret) -> ApiResult<Vec<Entry>> {
    let bytes = core.unseal(&data_aad(&secret.uid), &secret.data).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(&e))
}

pub(super) fn seal_entries(core: &Core, uid: &str, entries: &[Entry]) -> ApiResult<Vec<u8>> {
    let json = Zeroizing::new(serde_json::to_string(entries).map_err(|e| ApiError::internal(&e))?);
    Ok(core.seal(&data_aad(uid), json.as_bytes()))
}

/// The application block of `GET /iso/dapp/application`: unexpired secrets only.
pub async fn application(core: &Core, caller: &Caller) -> ApiResult<(DsmApp, Vec<SecretView>)> {
    require_resource(caller, Resource::Dsm)?;
    let app = caller_app(core, caller).await?;
    let secrets = served_secrets(core, &app).await?;
    Ok((app, secrets))
}

async fn served_secrets(core: &Core, app: &DsmApp) -> ApiResult<Vec<SecretView>> {
    let now = core.now();
    let mut out = Vec::new();
    for secret in core.store.dsm_secrets(app.id).await? {
        if parse_expiration(&secret.expiration_date).is_none_or(|t| t > now) {
            out.push(open(core, secret).await?);
        }
    }
    Ok(out)
}

pub async fn list_secrets(core: &Core, caller: &Caller) -> ApiResult<Vec<SecretView>> {
    application(core, caller).await.map(|(_, secrets)| secrets)
}

pub async fn get_secret(core: &Core, caller: &Caller, identity: &str) -> ApiResult<SecretView> {
    require_resource(caller, Resource::Dsm)?;
    let app = caller_app(core, caller).await?;
    let secret = core
        .store
        .dsm_secret(app.id, identity)
        .await
        .or_not_found(|| ApiError::business(codes::DSM_SECRET_NOT_FOUND, "Secret not found"))?;
    if parse_expiration(&secret.expiration_date).is_some_and(|t| t <= core.now()) {
        return Err(ApiError::business(codes::DSM_SECRET_EXPIRED, "Secret expired"));
    }
    open(core, secret).await
}

pub struct SecretInput {
    pub identity: String,
    pub name: Option<String>,
    pub engine: Option<String>,
    pub description: Option<String>,
    pub expiration_date: Option<String>,
    pub entries: Vec<Entry>,
    /// The shortest of the renew_* times given, in minutes.
    pub renew_minutes: Option<i64>,
}

/// Creates or updates (as a new version) a secret of the caller's application.
pub async fn put_secret(
    core: &Core,
    caller: &Caller,
    input: SecretInput,
) -> ApiResult<(bool, DsmApp, Vec<SecretView>)> {
    require_write(caller, Resource::Dsm)?;
    let app = caller_app(core, caller).await?;
    let created = store_secrets(core, &app, vec![input]).await?.contains(&true);
    let secrets = served_secrets(core, &app).await?;
    Ok((created, app, secrets))
}

/// Checks what a write may not contain, before anything is read or written.
fn check_input(input: &SecretInput) -> ApiResult<()> {
    let identity = input.identity.trim();
    if identity.is_empty() || identity.len() > 512 || identity.chars().any(char::is_control) {
        return Err(ApiError::bad_request("Parameter 'identity' must have 1 to 512 printable characters."));
    }
    if let Some(date) = input.expiration_date.as_deref().filter(|d| !d.trim().is_empty()) {
        if parse_expiration(date).is_none() {
            return Err(ApiError::bad_request("Parameter 'expiration_date' must be YYYY-MM-DD HH:MM:SS."));
        }
    }
    if input.renew_minutes.is_some_and(|m| !(MIN_RENEW_MINUTES..=MAX_RENEW_MINUTES).contains(&m)) {
        return Err(ApiError::bad_request(format!(
            "renew_* times are from {MIN_RENEW_MINUTES} to {MAX_RENEW_MINUTES} minutes (a year)."
        )));
    }
    Ok(())
}

/// The data a secret is about to replace, sealed again for its version history.
pub(super) async fn archived(core: &Core, secret: &DsmSecret) -> ApiResult<(i64, Vec<u8>)> {
    let row = format!("{}:{}", secret.uid, secret.version);
    let old = core.unseal(&data_aad(&secret.uid), &secret.data).await?;
    Ok((secret.version, core.seal(&version_aad(&row), &old)))
}

/// Creates or updates (as new versions) secrets of an application, all in one change. Writes
/// carry no precondition, so they never fail for concurrency: the change locks the secrets it
/// updates, so concurrent writes of one secret apply one after the other, in any process, and
/// each becomes a version; a first write of a secret that a concurrent one created meanwhile
/// updates what that one created. Returns, per input, whether it created its secret.
async fn store_secrets(core: &Core, app: &DsmApp, inputs: Vec<SecretInput>) -> ApiResult<Vec<bool>> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    for input in &inputs {
        check_input(input)?;
    }
    // One look-up per engine named, not per secret.
    let mut engines: Vec<&str> = inputs.iter().filter_map(|i| i.engine.as_deref()).collect();
    engines.sort_unstable();
    engines.dedup();
    for engine in engines {
        if !core.store.engine_exists(engine).await? {
            return Err(ApiError::bad_request(format!(
                "Unknown engine '{engine}': use Generic, Kubernetes, GitLab, GitHub, Jenkins, AWS, Azure or GCP."
            )));
        }
    }
    let identities: Vec<&str> = inputs.iter().map(|i| i.identity.trim()).collect();
    let now = core.now();
    let mut change = core.store.begin("write_dsm_secrets").await?;
    let existing = change.lock_dsm_secrets(app.id, &identities).await?;
    // New secrets in the order of their identities: two changes inserting the same ones wait
    // for each other in one order, never each for the other.
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&i| identities[i]);
    let mut created = vec![false; inputs.len()];
    for i in order {
        let (input, identity) = (&inputs[i], identities[i]);
        if let Some(current) = existing.iter().find(|s| s.identity == identity) {
            update_locked(core, &mut change, current.clone(), input, now).await?;
            continue;
        }
        let new = new_secret(core, app, identity, input, now)?;
        if change.insert_dsm_secret(&new, now).await? {
            created[i] = true;
            continue;
        }
        // Created meanwhile by a concurrent write, now committed: update it.
        let [current] = <[_; 1]>::try_from(change.lock_dsm_secrets(app.id, &[identity]).await?)
            .map_err(|_| ApiError::internal(&"a DSM secret neither inserted nor found"))?;
        update_locked(core, &mut change, current, input, now).await?;
    }
    change.commit().await?;
    Ok(created)
}

/// Writes `input` over `secret`, read locked in `change`, as its next version; only sealing
/// and opening besides the write (see `Change`).
async fn update_locked(
    core: &Core,
    change: &mut Change,
    mut secret: DsmSecret,
    input: &SecretInput,
    now: i64,
) -> ApiResult<()> {
    let previous = archived(core, &secret).await?;
    for (slot, given) in [
        (&mut secret.name, &input.name),
        (&mut secret.engine, &input.engine),
        (&mut secret.description, &input.description),
        (&mut secret.expiration_date, &input.expiration_date),
    ] {
        if let Some(value) = given {
            slot.clone_from(value);
        }
    }
    if input.renew_minutes.is_some() {
        secret.renew_minutes = input.renew_minutes;
    }
    secret.next_renewal_at = next_renewal(now, secret.renew_minutes);
    secret.version += 1;
    secret.data = seal_entries(core, &secret.uid, &input.entries)?;
    change.update_dsm_secret(&secret, &previous, now).await?;
    Ok(())
}

fn new_secret(core: &Core, app: &DsmApp, identity: &str, input: &SecretInput, now: i64) -> ApiResult<DsmSecret> {
    let uid = uuid::Uuid::new_v4().to_string();
    let secret = DsmSecret {
        id: 0,
        data: seal_entries(core, &uid, &input.entries)?,
        uid,
        dsm_application_id: app.id,
        name: input.name.clone().unwrap_or_else(|| identity.to_owned()),
        identity: identity.to_owned(),
        engine: input.engine.clone().unwrap_or_else(|| "Generic".into()),
        description: input.description.clone().unwrap_or_default(),
        expiration_date: input.expiration_date.clone().unwrap_or_default(),
        version: 1,
        renew_minutes: input.renew_minutes,
        next_renewal_at: next_renewal(now, input.renew_minutes),
    };
    Ok(secret)
}

/// `POST /iso/cicd/variables`: the mapped variables become secrets of the calling application,
/// all or none. A name mapped twice keeps its last mapping.
pub async fn post_variables(core: &Core, caller: &Caller, mapped: Vec<(String, String, Entry)>) -> ApiResult<usize> {
    require_write(caller, Resource::Dsm)?;
    let app = caller_app(core, caller).await?;
    let count = mapped.len();
    let mut inputs: Vec<SecretInput> = Vec::with_capacity(count);
    for (identity, engine, entry) in mapped {
        inputs.retain(|i| i.identity.trim() != identity.trim());
        inputs.push(SecretInput {
            identity,
            name: None,
            engine: Some(engine),
            description: None,
            expiration_date: None,
            entries: vec![entry],
            renew_minutes: None,
        });
    }
    store_secrets(core, &app, inputs).await?;
    Ok(count)
}

/// Records a pod provisioned with the application's secrets.
pub async fn provision(
    core: &Core,
    caller: &Caller,
    pod: &str,
    deploy: &str,
    namespace: &str,
) -> ApiResult<(DsmApp, Vec<SecretView>)> {
    require_write(caller, Resource::Dsm)?;
    let app = caller_app(core, caller).await?;
    core.store.upsert_provision(app.id, pod, deploy, namespace, core.now()).await?;
    let secrets = served_secrets(core, &app).await?;
    Ok((app, secrets))
}

pub async fn deprovision(core: &Core, caller: &Caller, pod: &str, deploy: &str, namespace: &str) -> ApiResult<()> {
    require_write(caller, Resource::Dsm)?;
    let app = caller_app(core, caller).await?;
    if core.store.delete_provision(app.id, pod, deploy, namespace).await? == 0 {
        return Err(ApiError::business(codes::DSM_PROVISION_NOT_FOUND, "Provision not found"));
    }
    Ok(())
}

/// `DELETE /iso/dapp/application/authorization`: the calling authorization stops working.
pub async fn revoke_own_authorization(core: &Core, caller: &Caller) -> ApiResult<()> {
    require_resource(caller, Resource::Dsm)?;
    core.store.set_authorization_enabled(caller.authorization.id, false, core.now()).await?;
    Ok(())
}
